"""PostgreSQL sink: real types, raw JSON kept byte for byte, foreign tables refused, NULs survive.

Needs ``ZENDESK_EXPORT_TEST_POSTGRES`` (skipped otherwise, except the tests that need no server).
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import replace

import orjson
import psycopg
import pytest

from zendesk_export.exporter.sinks import (
    TABLES,
    Column,
    ForeignOutputError,
    Kind,
    MissingDependencyError,
    PostgresSink,
    SinkError,
    StreamState,
)
from zendesk_export.exporter.sinks._columns import TICKET_COLUMNS
from zendesk_export.exporter.sinks.postgres import POSTGRES_TYPES, SCHEMA_VERSION, split_schema

from ._pages import make_ticket, page
from .conftest import SinkCase

PG_TYPE_NAMES = {"BIGINT": "bigint", "TEXT": "text", "BOOLEAN": "boolean", "TIMESTAMPTZ": "timestamp with time zone"}
PG_TYPE_NAMES["JSONB"] = "jsonb"


def _execute(case: SinkCase, sql: str) -> None:
    with psycopg.connect(case.dsn or "", autocommit=True) as conn:
        conn.execute(sql)


def test_columns_have_postgres_types(pg: SinkCase) -> None:
    PostgresSink(pg.dsn or "", schema=pg.schema or "").close()
    rows = pg.query(
        "SELECT column_name || ' ' || data_type FROM information_schema.columns"
        f" WHERE table_schema = '{pg.schema}' AND table_name = 'tickets' ORDER BY ordinal_position"
    )
    expected = [f"{c.name} {PG_TYPE_NAMES[POSTGRES_TYPES[c.kind]]}" for c in TICKET_COLUMNS] + ["raw_json json"]
    assert rows == expected


def test_typed_values_and_raw_json_as_received(pg: SinkCase) -> None:
    ticket = make_ticket(1, 1700000000)
    with pg.open() as sink:
        sink.write(page([ticket]))
    assert pg.query("SELECT raw_json FROM tickets") == [orjson.dumps(ticket).decode()]
    assert pg.query("SELECT created_at = '2024-02-15 16:24:04+00' FROM tickets") == [True]
    assert pg.query("SELECT satisfaction_rating->>'score' FROM tickets") == ["unoffered"]
    assert pg.query("SELECT jsonb_array_length(tags) FROM tickets") == [3]
    assert pg.query("SELECT custom_fields FROM tickets") == [ticket["custom_fields"]]
    assert pg.query("SELECT via FROM tickets") == [ticket["via"]]


def test_text_beyond_ascii_reaches_every_column_type(pg: SinkCase) -> None:
    ticket = make_ticket(1, 1, subject="Größe 🚀", tags=["ünïcode", "日本"], via={"channel": "web", "note": "é"})
    with pg.open() as sink:
        sink.write(page([ticket]))
    assert pg.query("SELECT subject FROM tickets") == ["Größe 🚀"]
    assert pg.query("SELECT tags->>1 FROM tickets") == ["日本"]
    assert pg.query("SELECT via->>'note' FROM tickets") == ["é"]
    assert pg.latest() == {1: ticket}


def test_large_rows_are_compressed_with_lz4_where_the_server_has_it(pg: SinkCase) -> None:
    """A row over PostgreSQL's TOAST threshold gets its widest values compressed; lz4 costs a fraction of pglz."""
    try:
        _execute(pg, "SET default_toast_compression = 'lz4'")
    except psycopg.Error:
        pytest.skip("this PostgreSQL has no lz4")
    with pg.open() as sink:
        sink.write(page([make_ticket(1, 1, description="a long e-mail body " * 200)]))
    # upper case: SinkCase.query reads "raw_json" as text, which would be a new, uncompressed value
    assert pg.query("SELECT pg_column_compression(RAW_JSON) FROM tickets") == ["lz4"]


def test_commits_do_not_wait_for_the_disk_and_other_sessions_keep_their_setting(pg: SinkCase) -> None:
    """The sink's session alone commits asynchronously: a server crash can lose whole last pages with their
    checkpoint, never one without the other (module doc); everyone else's commits are as durable as before."""
    with pg.open() as sink:
        sink.write(page([make_ticket(1, 1)]))
        assert sink._conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        with psycopg.connect(pg.dsn or "") as other:
            assert other.execute("SHOW synchronous_commit").fetchone() == ("on",)
    assert pg.query("SELECT id FROM tickets") == [1]


def test_nul_characters_do_not_fail_the_page(pg: SinkCase) -> None:
    """E-mail bodies can contain NUL, which PostgreSQL text and jsonb reject; raw_json keeps it."""
    ticket = make_ticket(1, 1, description="before\x00after", tags=["a\x00b"])
    with pg.open() as sink:
        sink.write(page([ticket]))
    assert pg.query("SELECT description FROM tickets") == ["beforeafter"]
    assert pg.query("SELECT tags->>0 FROM tickets") == ["a\ufffdb"]
    assert pg.latest()[1] == ticket


def test_a_whole_account_tables_values_reach_their_types_nuls_and_all(pg: SinkCase,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-account tables' new rows go by binary COPY too, which takes this page whole (a failed COPY
    falls back to an upsert a row at a time): an integer, JSON lists, a timestamp and a text with a NUL in it
    each reach their typed column (the NUL removed from text, U+FFFD inside jsonb), raw_json as received."""
    organization = {"id": 7, "name": "Acme\x00 Inc", "domain_names": ["acme.test", "a\x00b"], "tags": [],
                    "shared_tickets": True, "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-03T00:00:00Z"}
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        copied: list[bool] = []
        insert_new = sink._tables._insert_new
        monkeypatch.setattr(sink._tables, "_insert_new", lambda *args: copied.append(insert_new(*args)) or copied[-1])
        result = sink.write_stream(TABLES["organizations"], [organization],
                                   StreamState("organizations", "time", "1", "http://x"))
    assert (result.new, copied) == (1, [True])
    assert pg.query("SELECT id || ' ' || name || ' ' || (domain_names->>1) || ' ' || jsonb_array_length(tags) "
                    "|| ' ' || extract(epoch FROM created_at)::bigint || ' ' || (deleted_at IS NULL) "
                    "FROM organizations") == ["7 Acme Inc a\ufffdb 0 1704164645 true"]
    assert pg.query("SELECT raw_json FROM organizations") == [orjson.dumps(organization).decode()]


def test_tables_made_by_someone_else_are_refused_untouched(pg: SinkCase) -> None:
    _execute(pg, f'CREATE SCHEMA "{pg.schema}"; CREATE TABLE "{pg.schema}".tickets (id int, note text)')
    with pytest.raises(ForeignOutputError, match=r"has tables \(tickets\) not made by zendesk-export"):
        pg.open()
    assert pg.query("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()") == [1]


def test_a_schema_version_it_does_not_know_is_refused(pg: SinkCase) -> None:
    pg.open().close()
    _execute(pg, f"UPDATE \"{pg.schema}\".zendesk_export_meta SET value = '{SCHEMA_VERSION + 1}'")
    with pytest.raises(ForeignOutputError, match="has version 3"):
        pg.open()


def test_other_tables_in_the_schema_are_left_alone(pg: SinkCase) -> None:
    _execute(pg, f'CREATE SCHEMA "{pg.schema}"; CREATE TABLE "{pg.schema}".unrelated (x int)')
    with pg.open() as sink:
        sink.write(page([make_ticket(1, 1)]))
    assert pg.query("SELECT count(*) FROM unrelated") == [0]


def test_a_database_error_while_writing_is_a_sink_error(pg: SinkCase) -> None:
    with pg.open() as sink:
        _execute(pg, f'DROP TABLE "{pg.schema}".checkpoint')
        with pytest.raises(SinkError, match="PostgreSQL: relation .* does not exist"):
            sink.write(page([make_ticket(1, 1)]))
    assert pg.query("SELECT count(*) FROM tickets") == [0], "the page's rows were rolled back"


def test_an_error_of_ours_mid_page_rolls_the_page_back(pg: SinkCase, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not only database errors: anything raised inside a page's transaction (an interrupt, a bug) undoes it,
    and the sink writes the next page as usual."""
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        sink.write(page([make_ticket(1, 1)], 1))

        def interrupted(*args: object) -> None:
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(sink, "_save_checkpoint", interrupted)
            with pytest.raises(KeyboardInterrupt):
                sink.write(page([make_ticket(1, 2), make_ticket(2, 2)], 2))
        assert pg.query("SELECT id || ' ' || generated_timestamp FROM tickets ORDER BY id") == ["1 1"]
        assert sink.load_checkpoint().position == "1"  # type: ignore[union-attr]
        result = sink.write(page([make_ticket(1, 2), make_ticket(2, 2)], 2))
    assert (result.new, result.updated) == (1, 1)
    assert pg.query('SELECT "position" FROM checkpoint') == ["2"]


def test_schema_comes_from_the_url_and_the_rest_reaches_libpq() -> None:
    assert split_schema("postgresql://u@h:5432/db?schema=zx&sslmode=disable") == (
        "postgresql://u@h:5432/db?sslmode=disable",
        "zx",
    )
    assert split_schema("postgres://h/db") == ("postgres://h/db", "public")


def test_unreachable_server_is_a_sink_error() -> None:
    with pytest.raises(SinkError, match="cannot connect to PostgreSQL"):
        PostgresSink(f"postgresql://nobody@127.0.0.1:1/db_{uuid.uuid4().hex}?connect_timeout=2")


def test_missing_psycopg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'zendesk-export\[postgres\]'"):
        PostgresSink("postgresql://127.0.0.1/db")


def test_tables_of_schema_1_resume_and_keep_their_columns(pg: SinkCase) -> None:
    """Tables written when the write-only request fields still had (always NULL) columns keep working."""
    pg.open().close()
    table = f'"{pg.schema}".tickets'
    _execute(pg, f"ALTER TABLE {table} ADD COLUMN via_id BIGINT, ADD COLUMN collaborators JSONB")
    _execute(pg, f"UPDATE \"{pg.schema}\".zendesk_export_meta SET value = '1'")
    with pg.open() as sink:
        sink.write(page([make_ticket(1, 100)], 1))
    with pg.open() as sink:
        assert sink.load_checkpoint().position == "1"  # type: ignore[union-attr]
        result = sink.write(page([make_ticket(1, 200), make_ticket(2, 200)], 2))
    assert (result.new, result.updated) == (1, 1)
    assert pg.query("SELECT id || ' ' || generated_timestamp || ' ' || (via_id IS NULL) FROM tickets ORDER BY id") == [
        "1 200 true",
        "2 200 true",
    ]


def test_pages_of_new_tickets_are_written_without_reading_stored_versions(
    pg: SinkCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first export's pages skip the query of the stored versions (a tenth of a page's time); a page that
    brings a stored ticket again is written against them, and so is the next one, until a page finds none."""
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        reads: list[list[object]] = []
        read_stored = sink._stored

        def counted(cur: object, tickets: list[dict[str, object]]) -> object:
            reads.append([t["id"] for t in tickets])
            return read_stored(cur, tickets)

        monkeypatch.setattr(sink, "_stored", counted)
        results = [sink.write(page(tickets, n)) for n, tickets in enumerate([
            [make_ticket(1, 10), make_ticket(2, 10)],
            [make_ticket(3, 20)],
            [make_ticket(4, 30), make_ticket(1, 30)],  # 1 again: written against the stored versions
            [make_ticket(5, 40)],  # read too: the page before found one; this one finds none
            [make_ticket(6, 50)],
        ])]
    assert reads == [[4, 1], [5]]
    assert [(r.new, r.updated) for r in results] == [(2, 0), (1, 0), (1, 1), (1, 0), (1, 0)]
    assert pg.query("SELECT id || ' ' || generated_timestamp FROM tickets ORDER BY id") == [
        "1 30", "2 10", "3 20", "4 30", "5 40", "6 50"]


def test_a_resumed_export_reads_stored_versions_from_its_first_page(pg: SinkCase,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with pg.open() as sink:
        sink.write(page([make_ticket(1, 10)], 1))
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        all_new = sink._write_all_new
        tried: list[object] = []
        monkeypatch.setattr(sink, "_write_all_new", lambda *args: tried.append(args) or all_new(*args))
        result = sink.write(page([make_ticket(1, 20), make_ticket(2, 20)], 2))
    assert not tried, "tickets were stored when it opened: no page is written as all new"
    assert (result.new, result.updated) == (1, 1)


@pytest.mark.parametrize("hook", ["_write_all_new", "_stored"])
@pytest.mark.parametrize(("ours", "theirs", "kept"), [(100, 200, 200), (300, 200, 300)])
def test_a_new_ticket_another_writer_inserts_meanwhile_keeps_the_newest(
    pg: SinkCase, monkeypatch: pytest.MonkeyPatch, hook: str, ours: int, theirs: int, kept: int
) -> None:
    """Two exports into one schema: a ticket this page found absent, written by the other one before this page
    is, is merged by the newest-wins rule (the new-rows COPY would have failed on the key), never doubled.
    Either before the page's COPY of all its tickets as new (``_write_all_new``: the tables held no ticket
    this page, or the last, found stored) or between the read of the stored versions and the COPY (``_stored``:
    the page brings ticket 9 again, which this export wrote on its page before)."""
    with pg.open() as ours_sink, pg.open() as theirs_sink:
        assert isinstance(ours_sink, PostgresSink)
        earlier = [make_ticket(9, 50)] if hook == "_stored" else []
        if earlier:
            ours_sink.write(page(earlier, "earlier"))
        original = getattr(ours_sink, hook)

        def other_writer_meanwhile(cur: object, tickets: list[dict[str, object]], *rest: object) -> object:
            if hook == "_write_all_new":
                theirs_sink.write(page([make_ticket(1, theirs)], "theirs"))
            found = original(cur, tickets, *rest)
            if hook == "_stored":
                theirs_sink.write(page([make_ticket(1, theirs)], "theirs"))
            return found

        monkeypatch.setattr(ours_sink, hook, other_writer_meanwhile)
        again = [make_ticket(9, 60)] if earlier else []
        result = ours_sink.write(page([make_ticket(1, ours), make_ticket(2, ours), *again], "ours"))
    assert pg.query("SELECT id || ' ' || generated_timestamp FROM tickets ORDER BY id") == [
        f"1 {kept}", f"2 {ours}", *(["9 60"] if earlier else [])]
    assert pg.query('SELECT "position" FROM checkpoint') == ["ours"]
    if hook == "_stored":  # as this page saw them: 1 and 2 new, 9 newer
        assert (result.new, result.updated, result.unchanged) == (2, 1, 0)
    else:  # 1 was stored by then: this page's version is older, or newer
        assert (result.new, result.updated, result.unchanged) == (1, int(ours > theirs), int(ours < theirs))


@pytest.mark.parametrize(("ours", "theirs", "kept"), [("2024-01-01", "2024-02-01", "2024-02-01"),
                                                      ("2024-03-01", "2024-02-01", "2024-03-01")])
def test_a_new_stream_row_another_writer_inserts_meanwhile_keeps_the_newest(
    pg: SinkCase, monkeypatch: pytest.MonkeyPatch, ours: str, theirs: str, kept: str
) -> None:
    """The whole-account tables' bulk insert of new rows meets the same race as the tickets': a row this page
    found absent, written by another export first, makes the insert fail on the key; the page is upserted
    instead, by the newest-wins rule, never doubled."""
    groups = TABLES["groups"]

    def group(group_id: int, day: str) -> dict[str, object]:
        return {"id": group_id, "name": f"g{group_id} {day}", "updated_at": f"{day}T00:00:00Z"}

    def state(position: str) -> StreamState:
        return StreamState("groups", "time", position, "http://127.0.0.1:1")

    with pg.open() as ours_sink, pg.open() as theirs_sink:
        assert isinstance(ours_sink, PostgresSink)
        ours_sink.write_stream(groups, [group(9, "2023-01-01")], state("first"))  # the table exists before the race
        tables = ours_sink._tables
        read_stored = tables._stored

        def stored_then_other_writer(cur: object, table: object, objects: list[dict[str, object]]) -> object:
            found = read_stored(cur, table, objects)  # type: ignore[arg-type]
            theirs_sink.write_stream(groups, [group(1, theirs)], state("theirs"))
            return found

        monkeypatch.setattr(tables, "_stored", stored_then_other_writer)
        result = ours_sink.write_stream(groups, [group(1, ours), group(2, ours)], state("ours"))
    assert result.new == 2  # as this page saw them
    assert pg.query("SELECT id || ' ' || name FROM groups ORDER BY id") == [
        f"1 g1 {kept}", f"2 g2 {ours}", "9 g9 2023-01-01"]


def test_a_table_named_as_the_staging_table_in_the_search_path_is_left_alone(pg: SinkCase) -> None:
    """The staging table is the session's own, made again when custom-field columns are added: a table of the
    same name that the user has in ``public`` is neither dropped nor written."""
    with psycopg.connect(pg.dsn or "", autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.zendesk_export_stage (note TEXT)")
        conn.execute("INSERT INTO public.zendesk_export_stage VALUES ('theirs')")
        try:
            with pg.open() as sink:
                assert isinstance(sink, PostgresSink)
                tickets = replace(TABLES["tickets"], enrich=lambda ticket: {**ticket, "plan": "gold"})
                sink.add_columns(tickets, [Column("plan", Kind.TEXT, ("plan",))])
                sink.use_table(tickets)
                sink.write(page([make_ticket(1, 100)], 1))
                sink.write(page([make_ticket(1, 200)], 2))  # the merge path, through the staging table
            notes = [row[0] for row in conn.execute("SELECT note FROM public.zendesk_export_stage")]
        finally:
            conn.execute("DROP TABLE IF EXISTS public.zendesk_export_stage")
    assert notes == ["theirs"]
    assert pg.query("SELECT id || ' ' || generated_timestamp || ' ' || plan FROM tickets") == ["1 200 gold"]


def test_rows_prepared_before_the_table_gained_columns_are_made_again(pg: SinkCase) -> None:
    """``prepare`` runs ahead of the write (on the thread that fetched the page); a preparation made before
    ``use_table`` bound new columns lacks them, so the write makes the rows anew and fills the columns."""
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        ticket = make_ticket(1, 100)
        early = sink.prepare([ticket])
        tickets = replace(TABLES["tickets"], enrich=lambda ticket: {**ticket, "plan": "gold"})
        sink.add_columns(tickets, [Column("plan", Kind.TEXT, ("plan",))])
        sink.use_table(tickets)
        sink.write(replace(page([ticket], 1), prepared=early))
    assert pg.query("SELECT id || ' ' || plan FROM tickets") == ["1 gold"]


def test_json_values_reach_their_columns_through_the_bytes_dumper(pg: SinkCase) -> None:
    """The sink COPYs JSON values as bytes with psycopg's own ``bytes`` dumper on its connection (C code, not
    the DB-API ``Binary`` one that psycopg picks by type name); the values arrive whole, and other connections
    keep psycopg's choice."""
    ticket = make_ticket(1, 100, via={"channel": "web", "source": {"from": {"name": "Zoë"}}}, tags=["a", "b"])
    bytea, binary = psycopg.postgres.types["bytea"].oid, psycopg.pq.Format.BINARY
    with pg.open() as sink:
        assert isinstance(sink, PostgresSink)
        adapters = sink._conn.adapters
        assert adapters.get_dumper_by_oid(bytea, binary) is adapters.get_dumper(bytes, psycopg.adapt.PyFormat.BINARY)
        sink.write(page([ticket], 1))
    assert pg.query("SELECT via::text || ' ' || tags::text FROM tickets") == [
        '{"source": {"from": {"name": "Zoë"}}, "channel": "web"} ["a", "b"]']
    with psycopg.connect(pg.dsn or "") as other:
        assert other.adapters.get_dumper_by_oid(bytea, binary).__module__ == "psycopg.dbapi20"
