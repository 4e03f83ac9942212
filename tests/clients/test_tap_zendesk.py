"""The Singer tap ``tap-zendesk`` (from PyPI, in a virtualenv of its own, unmodified) discovers and syncs every
stream it knows from our server, and ends with as many records per stream as the server holds."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.clients.venvs import client_venv

pytestmark = [pytest.mark.clients, pytest.mark.slow]

REDIRECT = Path(__file__).parent / "redirect"


def tap(venv: Path, server: Any, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    config = cwd / "config.json"
    config.write_text(json.dumps({
        "subdomain": "example", "email": server.email, "api_token": server.token,
        "access_token": "demo-oauth-token", "start_date": "2000-01-01T00:00:00Z", "request_timeout": 60}))
    env = {**os.environ, "PYTHONPATH": str(REDIRECT), "ZENDESK_EXPORT_REDIRECT": server.url}
    return subprocess.run([str(venv / "bin" / "tap-zendesk"), "--config", str(config), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def select_all(catalog: dict[str, Any]) -> dict[str, Any]:
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    return catalog


def test_tap_zendesk_discovers_and_syncs_every_stream(zendesk_server, tmp_path):
    """Discovery finds every stream; a sync of all of them, from the start, ends with the server's counts."""
    venv = client_venv("tap-zendesk", "tap-zendesk==2.8.2")
    zendesk_server.admin.seed(tickets=60, random_seed=3)
    zendesk_server.admin.advance(120)
    discovered = tap(venv, zendesk_server, "--discover", cwd=tmp_path)
    assert discovered.returncode == 0, discovered.stderr[-3000:]
    catalog = select_all(json.loads(discovered.stdout))
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    synced = tap(venv, zendesk_server, "--catalog", str(tmp_path / "catalog.json"), cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr[-3000:]
    records = Counter(m["stream"] for m in map(json.loads, synced.stdout.splitlines()) if m["type"] == "RECORD")
    streams = sorted(s["tap_stream_id"] for s in catalog["streams"])
    assert {s: records.get(s, 0) for s in streams} == server_counts(zendesk_server)


def server_counts(server: Any) -> dict[str, int]:
    """What the server holds per stream, read through its offset lists (the tap reads cursor pages and exports)."""
    with server.client() as http:
        def count(path: str, **params: Any) -> int:
            response = http.get(path, params=params)
            response.raise_for_status()
            return int(response.json()["count"])

        tickets = http.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()["tickets"]
        live = [t["id"] for t in tickets if t["status"] != "deleted"]
        audits = [a for i in live for a in http.get(f"/api/v2/tickets/{i}/audits.json").json()["audits"]]
        events = http.get("/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).json()
        return {
            "tickets": len(tickets), "ticket_audits": len(audits),
            "ticket_comments": sum(e["type"] == "Comment" for a in audits for e in a["events"]),
            "ticket_metrics": count("/api/v2/ticket_metrics.json"),
            "ticket_metric_events": len(events["ticket_metric_events"]),
            **{name: count(f"/api/v2/{name}.json") for name in (
                "users", "organizations", "groups", "group_memberships", "macros", "tags", "ticket_fields",
                "ticket_forms", "satisfaction_ratings")},
            "sla_policies": count("/api/v2/slas/policies.json"),
            "talk_phone_numbers": count("/api/v2/channels/voice/phone_numbers.json"),
        }
