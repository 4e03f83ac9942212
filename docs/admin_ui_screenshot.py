"""Take docs/admin-ui.png: a seeded server, a client's requests with a fault and a rate limit met, the admin page in
headless Chromium. Run from the repository: ``python docs/admin_ui_screenshot.py`` (needs Debian's chromium and
chromium-driver, and the test extra for selenium)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from zendesk_export.testing import ZendeskServer

OUT = Path(__file__).with_name("admin-ui.png")


def traffic(server: ZendeskServer) -> None:
    """A client's morning: an export that meets a 503 and the rate limit, a few reads, a miss."""
    server.admin.seed(tickets=2500, random_seed=7)
    server.admin.set_rate_limit(enabled=True, incremental=5)
    server.admin.freeze(1_764_583_210)
    server.admin.set_faults([
        {"match": {"method": "GET", "path": "/api/v2/incremental/*"}, "action": {"status": 503}, "every": 3,
         "times": 1},
        {"match": {"path": "/api/v2/users/*"}, "action": {"latency_ms": 250}, "every": 2},
    ])
    with server.client() as client:
        client.get("/api/v2/users/me")
        for _ in range(7):
            client.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})
        client.get("/api/v2/tickets/999999.json")
        client.get("/api/v2/users/1")
        client.get("/api/v2/users/2")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1300,1010", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        server = ZendeskServer.start(Path(tmp) / "zendesk.db")
        driver = browser()
        try:
            traffic(server)
            driver.get(f"{server.url}/__admin/ui?token={server.running.admin_token}")
            WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#journal tbody tr")) >= 11)
            driver.save_screenshot(str(OUT))
        finally:
            driver.quit()
            server.stop()
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
