"""The admin web page in a real browser (headless Chromium driven by Selenium) against a real server: the journal
shows a client's requests live, a fault added in the page fires, the clock moves, a wrong token sees only the
login form. Plus the page's HTTP contract (cookie, headers, no token echoed) with a plain client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from zendesk_export.testing import ZendeskServer

UI = "/__admin/ui"
# Seconds a condition may take to appear (the page polls every second). Never a timing assertion: a ceiling for a
# browser that shares two cores with CI's other test workers.
WAIT = 60
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium not installed (Debian: apt-get install chromium chromium-driver; .ci/run does)")


# -- the HTTP contract, with a plain client -------------------------------------------------------------------
def test_token_in_the_address_becomes_an_httponly_cookie_and_leaves_the_address(zendesk_server: ZendeskServer) -> None:
    token = zendesk_server.running.admin_token
    with httpx.Client(base_url=zendesk_server.url) as browser:
        answer = browser.get(UI, params={"token": token})
        assert answer.status_code == 303
        assert answer.headers["location"] == UI
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/__admin" in cookie
        assert token not in cookie
        page = browser.get(UI)
    assert page.status_code == 200
    assert 'data-account="example"' in page.text
    assert token not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_the_cookie_reads_the_admin_api_but_changes_need_the_pages_header(zendesk_server: ZendeskServer) -> None:
    with httpx.Client(base_url=zendesk_server.url) as browser:
        browser.post(UI + "/login", data={"token": zendesk_server.running.admin_token})
        assert browser.get("/__admin/clock").status_code == 200
        # a form another site posts carries the cookie but cannot add a header
        assert browser.post("/__admin/reset").status_code == 401
        assert browser.post("/__admin/reset", headers={"X-Admin-UI": "1"}).status_code == 200


@pytest.mark.parametrize("credentials", [{"params": {"token": "not-the-admin-token"}},
                                         {"cookies": {"zendesk_export_admin": "forged"}}, {}])
def test_without_the_token_the_page_is_the_login_form(zendesk_server: ZendeskServer,
                                                      credentials: dict[str, dict[str, str]]) -> None:
    with httpx.Client(base_url=zendesk_server.url, cookies=credentials.get("cookies")) as browser:
        page = browser.get(UI, params=credentials.get("params"))
        data = browser.get("/__admin/requests")
    assert page.status_code == 401
    assert 'name="token"' in page.text and "journal" not in page.text
    assert "set-cookie" not in page.headers
    assert data.status_code == 401


def test_the_token_is_never_journalled(zendesk_server: ZendeskServer) -> None:
    token = zendesk_server.running.admin_token
    httpx.get(zendesk_server.url + UI, params={"token": token})
    with zendesk_server.client() as client:
        client.get("/api/v2/users")
    journal = httpx.get(zendesk_server.url + "/__admin/requests",
                        headers={"Authorization": f"Bearer {token}"}).text
    assert "/api/v2/users" in journal
    assert token not in journal


def test_the_assets_are_served_and_nothing_else(zendesk_server: ZendeskServer) -> None:
    script = httpx.get(zendesk_server.url + UI + "/assets/ui.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(zendesk_server.url + UI + "/assets/..%2Fui.py").status_code == 404


def test_rate_limit_buckets_show_what_is_left(zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.set_rate_limit(enabled=True)
    with zendesk_server.client() as client:
        client.get("/api/v2/incremental/tickets", params={"start_time": 0})
    buckets = {b["name"]: b for b in zendesk_server.admin.rate_limits()["buckets"]}
    assert buckets["incremental"]["remaining"] in (9, 10)  # 10 if the minute turned in between


# -- in the browser -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chrome() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    # The login form's token is a password field: a password manager would fill in the token it saved for the
    # session's other server (same host, another port) in front of the one typed.
    options.add_experimental_option("prefs", {"credentials_enable_service": False,
                                              "profile.password_manager_enabled": False})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def leave_the_page(chrome: WebDriver) -> None:
    """A blank tab with no cookies. The previous test's page goes first: still polling, it would meet the
    missing cookie with its 401 and send the browser to its own login form, in the middle of the next test's
    navigation. Then every cookie of every port goes (the servers share the host, so their cookies are one
    jar)."""
    chrome.get("about:blank")
    chrome.execute_cdp_cmd("Network.clearBrowserCookies", {})


@pytest.fixture
def page(chrome: WebDriver, zendesk_server: ZendeskServer) -> WebDriver:
    """The browser, logged in with the token in the address, on the page (the form: its own test)."""
    leave_the_page(chrome)
    chrome.get(zendesk_server.url + UI + "?" + urlencode({"token": zendesk_server.running.admin_token}))
    try:
        wait_for(chrome, lambda d: d.find_element(By.ID, "journal"))
    except TimeoutException:
        raise AssertionError(f"no journal after logging in: at {chrome.current_url}, cookies {chrome.get_cookies()}, "
                             f"the page says {chrome.find_element(By.TAG_NAME, 'body').text[:300]!r}") from None
    return chrome


def wait_for(driver: WebDriver, condition: Any) -> Any:
    return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)


def journal_rows(driver: WebDriver) -> list[list[str]]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#journal tbody tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


@needs_chromium
def test_a_clients_request_appears_in_the_journal_table(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        assert client.get("/api/v2/tickets/4242").status_code == 404
    row = wait_for(page, lambda d: next((r for r in journal_rows(d) if r[4] == "/api/v2/tickets/4242"), None))
    assert row[3] == "GET" and row[5] == "404"


@needs_chromium
def test_the_journal_filter_keeps_matching_rows(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    with zendesk_server.client() as client:
        client.get("/api/v2/users")
        client.get("/api/v2/users/me")
    wait_for(page, lambda d: len(journal_rows(d)) == 2)
    page.find_element(By.ID, "journal-filter").send_keys("users/me")
    wait_for(page, lambda d: [r[4] for r in journal_rows(d)] == ["/api/v2/users/me"])


@needs_chromium
def test_a_fault_added_in_the_page_fires_on_the_next_request(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    path = page.find_element(By.ID, "fault-path")
    path.clear()
    path.send_keys("/api/v2/users")
    Select(page.find_element(By.ID, "fault-method")).select_by_visible_text("GET")
    value = page.find_element(By.ID, "fault-value")
    value.clear()
    value.send_keys("502")
    page.find_element(By.ID, "fault-add").click()
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#faults tbody tr")) == 1)
    with zendesk_server.client() as client:
        assert client.get("/api/v2/users").status_code == 502  # the next one…
        assert client.get("/api/v2/users").status_code == 200  # …only ("the next 1")
    row = wait_for(page, lambda d: next((r for r in journal_rows(d) if r[5] == "502"), None))
    assert row[7].startswith("status 502")


@needs_chromium
def test_a_fault_removed_in_the_page_stops_firing(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.set_faults([{"match": {"path": "/api/v2/users"}, "action": {"status": 503}}])
    wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, "#faults .remove-fault")).click()
    wait_for(page, lambda d: not d.find_elements(By.CSS_SELECTOR, "#faults tbody tr"))
    assert zendesk_server.admin.faults() == []
    with zendesk_server.client() as client:
        assert client.get("/api/v2/users").status_code == 200


@needs_chromium
def test_the_advance_button_moves_the_clock(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.freeze(1_700_000_000)
    wait_for(page, lambda d: d.find_element(By.ID, "clock-time").text == "2023-11-14 22:13:20 UTC")
    seconds = page.find_element(By.ID, "advance-seconds")
    seconds.clear()
    seconds.send_keys("3600")
    page.find_element(By.ID, "advance").click()
    wait_for(page, lambda d: d.find_element(By.ID, "clock-time").text == "2023-11-14 23:13:20 UTC")
    assert zendesk_server.admin.clock() == {"now": 1_700_003_600, "frozen": True}


@needs_chromium
def test_the_freeze_button_stops_the_clock(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    wait_for(page, lambda d: d.find_element(By.ID, "clock-frozen").text == "running")
    before = zendesk_server.admin.clock()["now"]
    page.find_element(By.ID, "freeze").click()
    wait_for(page, lambda d: d.find_element(By.ID, "clock-frozen").text == "frozen")
    frozen = zendesk_server.admin.clock()
    assert frozen["frozen"] is True
    assert frozen["now"] >= before  # frozen where the clock had got to, never a step back


@needs_chromium
def test_the_page_shows_the_buckets_remaining_counts(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    zendesk_server.admin.set_rate_limit(enabled=True, incremental=5)
    zendesk_server.admin.freeze(1_700_000_040)  # the start of a minute: no window ends during the test
    with zendesk_server.client() as client:
        for _ in range(2):
            client.get("/api/v2/incremental/tickets", params={"start_time": 0})
    remaining = "#buckets tr[data-bucket=incremental] td.remaining"
    wait_for(page, lambda d: d.find_element(By.CSS_SELECTOR, remaining).text == "3")


@needs_chromium
def test_the_login_form_lets_the_token_in_and_takes_it_out_of_the_page(chrome: WebDriver,
                                                                       zendesk_server: ZendeskServer) -> None:
    leave_the_page(chrome)
    chrome.get(zendesk_server.url + UI)
    field = chrome.find_element(By.NAME, "token")
    field.clear()
    field.send_keys(zendesk_server.running.admin_token)
    assert field.get_attribute("value") == zendesk_server.running.admin_token, "the browser typed something else"
    chrome.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for(chrome, lambda d: d.find_element(By.ID, "journal"))
    assert chrome.current_url == zendesk_server.url + UI
    assert zendesk_server.running.admin_token not in chrome.page_source


@needs_chromium
def test_a_wrong_token_gets_the_login_page_not_the_data(chrome: WebDriver, zendesk_server: ZendeskServer) -> None:
    leave_the_page(chrome)
    chrome.get(zendesk_server.url + UI + "?token=not-the-admin-token")
    assert chrome.find_element(By.ID, "login-message").text == "That is not this server's admin token."
    assert chrome.find_elements(By.ID, "journal") == []
    assert chrome.get_cookies() == []


@needs_chromium
def test_watching_the_page_adds_nothing_to_the_journal(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    """The page's own loads and polls (and no /favicon.ico) stay out of the journal it shows."""
    wait_for(page, lambda d: d.find_element(By.ID, "journal-count").text == "0 of 0")
    page.refresh()
    wait_for(page, lambda d: d.find_element(By.ID, "journal-count").text == "0 of 0")
    assert zendesk_server.admin.requests() == []


def test_the_page_for_an_unknown_account_is_zendesks_404(zendesk_server: ZendeskServer) -> None:
    with httpx.Client(base_url=zendesk_server.url) as browser:
        browser.post(UI + "/login", data={"token": zendesk_server.running.admin_token})
        page = browser.get(UI, params={"account": "nosuch"})
    assert page.status_code == 404
    assert page.json()["error"]["title"] == "No help desk at nosuch.zendesk.com"


@needs_chromium
def test_the_account_list_holds_the_default_account(page: WebDriver) -> None:
    account = Select(page.find_element(By.ID, "account"))
    assert account.first_selected_option.text == "example"
    assert "example" in [option.text for option in account.options]


@needs_chromium
def test_remove_takes_out_the_rule_of_its_row_only(page: WebDriver, zendesk_server: ZendeskServer) -> None:
    first = {"match": {"path": "/api/v2/users"}, "action": {"status": 503}}
    second = {"match": {"path": "/api/v2/groups"}, "action": {"status": 500}, "times": 2}
    zendesk_server.admin.set_faults([first, second])
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#faults .remove-fault")) == 2)
    page.find_elements(By.CSS_SELECTOR, "#faults .remove-fault")[1].click()
    wait_for(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#faults tbody tr")) == 1)
    assert [(r["match"], r["action"]) for r in zendesk_server.admin.faults()] == [(first["match"], first["action"])]


@pytest.fixture
def second_account(zendesk_server: ZendeskServer) -> Iterator[str]:
    zendesk_server.admin.create_account("uibee", "admin@bee.test", token="bee-token-0123456789")
    try:
        yield "uibee"
    finally:
        zendesk_server.admin.delete_account("uibee")


@needs_chromium
def test_each_account_has_its_own_page_and_journal(page: WebDriver, zendesk_server: ZendeskServer,
                                                   second_account: str) -> None:
    with httpx.Client(base_url=zendesk_server.url, auth=("admin@bee.test/token", "bee-token-0123456789")) as bee:
        assert bee.get("/api/v2/users/me", headers={"Host": "uibee.localhost"}).status_code == 200
    page.refresh()  # the list of accounts is read when the page loads
    account = wait_for(page, lambda d: (s := Select(d.find_element(By.ID, "account"))) and len(s.options) == 2 and s)
    assert sorted(option.text for option in account.options) == ["example", "uibee"]
    account.select_by_visible_text("uibee")
    wait_for(page, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-account") == "uibee")
    row = wait_for(page, lambda d: next(iter(journal_rows(d)), None))
    assert row[2] == "uibee.localhost" and row[4] == "/api/v2/users/me"
    assert len(journal_rows(page)) == 1  # the default account's requests are on its own page
