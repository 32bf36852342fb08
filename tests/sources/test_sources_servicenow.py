"""The servicenow source against a ServiceNow-shaped Table API on loopback (paging, 429 with
Retry-After, updated records), fed from fixtures/servicenow_incidents.json, on every engine."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from source_servers import TableApi, write_config
from sqlalchemy import Engine

from worker import cli
from worker.collect import collect
from worker.config import load_catalogue
from worker.domain.model import Catalogue
from worker.storage.coordination import claim_changes
from worker.storage.engine import read_only
from worker.storage.incidents import load_incidents
from worker.storage.watermarks import get_watermark

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
PASSWORD_ENV = "SLA_TEST_SNOW_PASSWORD"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def config_text(url: str, extra: str = "") -> str:
    return f"""
sources:
  - {{id: itsm, kind: servicenow, url: "{url}", user: sla.integration, password_env: {PASSWORD_ENV}, page_size: 3{extra}}}
services:
  - {{id: epr, name: Electronic Patient Record}}
  - {{id: pacs, name: Picture Archiving and Communication System}}
  - {{id: servicedesk, name: IT Service Desk}}
  - {{id: email, name: Email and calendar}}
customers:
  - {{id: acute, name: Acute Services Directorate}}
  - {{id: community, name: Community Health Services}}
"""


@pytest.fixture
def catalogue(tmp_path: Path, table_api: TableApi, monkeypatch: pytest.MonkeyPatch) -> Catalogue:
    monkeypatch.setenv(PASSWORD_ENV, table_api.password)
    return load_catalogue(write_config(tmp_path / "config", config_text(table_api.url)))


def stored(engine: Engine) -> dict[str, tuple]:
    with read_only(engine) as conn:
        return {
            i.id: (i.service, i.customer, i.priority, i.opened_at, i.responded_at, i.resolved_at)
            for i in load_incidents(conn)
        }


def watermark(engine: Engine, stream: str = "incidents"):
    with read_only(engine) as conn:
        return get_watermark(conn, "itsm", stream)


def test_incidents_are_paged_mapped_checked_and_stored(engine: Engine, catalogue: Catalogue, table_api: TableApi):
    table_api.failures = [(429, {"Retry-After": "1"}), (503, {"Retry-After": "0"})]
    [report] = collect(engine, catalogue, NOW)

    assert [(s.stream, s.stored, s.refused, s.ignored, s.error) for s in report.streams] == [("incidents", 9, 2, 1, None)]
    assert stored(engine) == {
        "INC0010231": ("epr", None, "P1", utc("2026-10-05 08:12:44"), utc("2026-10-05 08:21:05"), utc("2026-10-05 11:40:00")),
        "INC0010232": ("pacs", "acute", "P2", utc("2026-10-06 14:02:10"), utc("2026-10-06 14:30:00"), utc("2026-10-06 19:15:00")),
        "INC0010240": ("servicedesk", None, "P3", utc("2026-10-12 09:05:00"), utc("2026-10-12 09:40:12"), None),
        "INC0010245": ("email", "community", "P4", utc("2026-10-13 16:20:00"), utc("2026-10-14 08:10:00"), utc("2026-10-15 12:00:00")),
        "INC0010255": ("pacs", None, "P5", utc("2026-10-17 11:00:00"), None, None),
        **{
            f"INC001026{i}": ("epr", "acute", "P3", utc(f"2026-10-18 0{i + 1}:00:00"), utc(f"2026-10-18 0{i + 1}:20:00"), None)
            for i in range(4)
        },
    }
    reasons = report.streams[0].reasons
    assert any(r.startswith("INC0010251: customer 'Example Hospitals NHS Foundation Trust'") for r in reasons)
    assert any(r.startswith("INC0010252: resolved_at") and "before opened_at" in r for r in reasons)

    # The 429 was honoured (Retry-After: 1) and the 503 retried; then pages of 3 from the last
    # sys_updated_on read, the offset skipping only the records already read at that second.
    first, second, *pages = table_api.requests
    assert second["at"] - first["at"] >= 0.95
    queries = [(r["params"]["sysparm_query"], r["params"]["sysparm_offset"]) for r in pages]
    assert queries == [
        ("sys_updated_on>=2026-09-19 12:00:00^ORDERBYsys_updated_on^ORDERBYsys_id", "0"),
        ("sys_updated_on>=2026-10-12 09:40:12^ORDERBYsys_updated_on^ORDERBYsys_id", "1"),
        ("sys_updated_on>=2026-10-15 12:00:09^ORDERBYsys_updated_on^ORDERBYsys_id", "1"),
        ("sys_updated_on>=2026-10-18 09:30:00^ORDERBYsys_updated_on^ORDERBYsys_id", "1"),
        ("sys_updated_on>=2026-10-18 09:30:00^ORDERBYsys_updated_on^ORDERBYsys_id", "4"),
    ]
    params = pages[-1]["params"]
    assert params["sysparm_limit"] == "3" and params["sysparm_display_value"] == "false"
    assert set(params["sysparm_fields"].split(",")) == {
        "sys_id", "number", "business_service.name", "company.name", "priority", "opened_at",
        "u_responded_at", "resolved_at", "sys_updated_on",
    }

    mark = watermark(engine)
    assert (mark.samples_stored, mark.rows_refused, mark.failures_in_row, mark.last_success_at) == (9, 2, 0, NOW)
    with read_only(engine) as conn:
        changes = {(c.kind, c.service): (c.first_s, c.last_s) for c in claim_changes(conn)}
    assert changes[("incidents", "servicedesk")] == (utc("2026-10-12 09:05:00").timestamp(), NOW.timestamp())
    assert changes[("incidents", "epr")] == (utc("2026-10-05 08:12:44").timestamp(), NOW.timestamp())


def test_a_repeated_run_stores_nothing_and_an_updated_incident_is_picked_up(
    engine: Engine, catalogue: Catalogue, table_api: TableApi
):
    collect(engine, catalogue, NOW)
    before = stored(engine)
    [again] = collect(engine, catalogue, NOW)
    assert [(s.stored, s.refused) for s in again.streams] == [(0, 0)]
    assert stored(engine) == before and watermark(engine).samples_stored == 9

    table_api.update("INC0010240", resolved_at="2026-10-20 10:00:00", sys_updated_on="2026-10-20 10:00:03", state="6")
    table_api.requests.clear()
    [later] = collect(engine, catalogue, NOW)
    assert [(s.stored, s.refused) for s in later.streams] == [(1, 0)]
    assert stored(engine)["INC0010240"][-1] == utc("2026-10-20 10:00:00")
    assert table_api.requests[0]["params"]["sysparm_query"].startswith("sys_updated_on>=2026-10-18 09:30:00")
    assert watermark(engine).samples_stored == 10


def test_since_back_fills_older_incidents(engine: Engine, catalogue: Catalogue):
    collect(engine, catalogue, NOW)
    assert "INC0009990" not in stored(engine)  # updated before the default look-back
    [report] = collect(engine, catalogue, NOW, since=datetime(2026, 8, 1, tzinfo=timezone.utc))
    assert report.streams[0].stored == 10
    assert stored(engine)["INC0009990"][:3] == ("epr", None, "P3")


def test_a_field_map_reads_other_fields(engine: Engine, tmp_path: Path, table_api: TableApi, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, table_api.password)
    extra = ", field_map: {customer: u_sla_customer, responded_at: sys_created_on}"
    catalogue = load_catalogue(write_config(tmp_path / "mapped", config_text(table_api.url, extra)))
    [report] = collect(engine, catalogue, NOW)
    # The instance has no u_sla_customer: every incident is for every customer, none refused for it.
    assert (report.streams[0].stored, report.streams[0].refused) == (10, 1)
    incident = stored(engine)["INC0010232"]
    assert incident[1] is None and incident[4] == incident[3]  # "responded" when created
    fields = table_api.requests[-1]["params"]["sysparm_fields"].split(",")
    assert "u_sla_customer" in fields and "company.name" not in fields


def test_failures_are_recorded_without_secrets_and_keep_the_position(
    engine: Engine, catalogue: Catalogue, table_api: TableApi, monkeypatch: pytest.MonkeyPatch
):
    collect(engine, catalogue, NOW)
    position = watermark(engine).position

    table_api.failures = [(503, {"Retry-After": "0"})] * 5
    [down] = collect(engine, catalogue, NOW)
    assert down.failed and "ServiceNow answered HTTP 503" in down.failed[0].error and "5 attempts" in down.failed[0].error

    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-42")
    [refused] = collect(engine, catalogue, NOW)
    assert "refused the credentials (HTTP 401" in refused.failed[0].error

    monkeypatch.delenv(PASSWORD_ENV)
    [missing] = collect(engine, catalogue, NOW)
    assert missing.failed[0].error == f"environment variable {PASSWORD_ENV} is not set (it should hold the password of sla.integration)"

    mark = watermark(engine)
    assert (mark.failures_in_row, mark.position, mark.samples_stored) == (3, position, 9)
    assert "not-the-password-42" not in (mark.last_error or "") and table_api.password not in (mark.last_error or "")


def test_the_collect_command_runs_one_source(engine: Engine, catalogue: Catalogue, tmp_path: Path, capsys, database_url: str):
    config = str(tmp_path / "config")
    since = "2026-09-19T12:00:00Z"  # the command runs at the real time: go back to the fixture's incidents
    code = cli.main(["collect", "--source", "itsm", "--since", since, "--config", config, "--db", database_url])
    out, err = capsys.readouterr()
    assert code == 1  # two incidents refused: partial
    assert "itsm: 1 streams, stored 9, refused 2, failed 0, ignored 1" in out
    assert "INC0010251: customer" in err

    assert cli.main(["collect", "--source", "nope", "--config", config, "--db", database_url]) == 2
    assert "no source with id 'nope'" in capsys.readouterr().err
    assert cli.main(["collect", "--since", "2026-10-01T00:00:00", "--config", config, "--db", database_url]) == 2
    assert "has no UTC offset" in capsys.readouterr().err
