"""Maintenance CSV (SPEC section 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from worker.domain.model import MaintenanceWindow
from worker.inputs.common import Refusal
from worker.inputs.maintenance import parse_maintenance

GOLDEN = Path("/work/shared/golden/trust-2026-10")
SERVICES = ["epr", "email"]
HEADER = "service,start,end,announced,reason,emergency"
START, END = "2026-10-11T22:00:00+01:00", "2026-10-12T02:00:00+01:00"


def csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def row(service="epr", start=START, end=END, announced="2026-10-01T09:00:00+01:00", reason="EPR upgrade 24.3", emergency=""):
    return f"{service},{start},{end},{announced},{reason},{emergency}"


def parse(*rows: str):
    return parse_maintenance(csv(*rows), SERVICES)


def test_a_row_becomes_a_maintenance_window_in_utc():
    result = parse(row())
    assert result.refusals == [] and result.accepted == 1
    assert result.windows == [
        MaintenanceWindow(
            service="epr",
            start_at=utc(START),
            end_at=utc(END),
            announced_at=utc("2026-10-01T09:00:00+01:00"),
            reason="EPR upgrade 24.3",
            emergency=False,
        )
    ]


@pytest.mark.parametrize(
    ("text", "emergency"),
    [("true", True), ("TRUE", True), ("Yes", True), ("1", True), ("false", False), ("No", False), ("0", False),
     ("", False), (" yes ", True)],
)
def test_emergency_is_true_false_yes_no_one_zero_or_empty(text, emergency):
    result = parse(row(emergency=text))
    assert result.refusals == [] and result.windows[0].emergency is emergency


@pytest.mark.parametrize("text", ["maybe", "y", "2", "t"])
def test_any_other_emergency_is_refused(text):
    assert parse(row(emergency=text)).refusals == [
        Refusal(2, f'emergency "{text}" must be true or false (or yes/no, 1/0, or empty for false)')
    ]


def test_announced_is_optional():
    assert parse(row(announced="")).windows[0].announced_at is None


def test_announced_after_start_is_accepted_as_not_announced_in_time():
    assert parse(row(announced="2026-10-12T00:00:00+01:00")).refusals == []


def test_end_must_be_after_start():
    result = parse(row(end=START), row(end="2026-10-11T20:00:00Z"), row())
    assert result.accepted == 1
    assert result.refusals == [
        Refusal(2, f'end "{START}" is not after start "{START}"'),
        Refusal(3, f'end "2026-10-11T20:00:00Z" is not after start "{START}"'),
    ]


def test_timestamps_need_an_offset_and_start_and_end_are_required():
    result = parse(row(start="2026-10-11T22:00:00"), row(end=""), row(announced="2026-10-01"))
    assert result.refusals == [
        Refusal(2, 'start "2026-10-11T22:00:00" has no UTC offset (add +01:00: UK summer time on that date)'),
        Refusal(3, "end is empty"),
        Refusal(4, 'announced "2026-10-01" has no UTC offset (add +01:00: UK summer time on that date)'),
    ]


def test_unknown_service_is_refused_and_good_rows_are_kept():
    result = parse(row(service="eprr"), row(service="email"))
    assert [w.service for w in result.windows] == ["email"]
    assert result.refusals == [Refusal(2, 'unknown service "eprr"')]


def test_reason_may_hold_commas_quotes_and_formula_like_text():
    result = parse(row(reason='"Upgrade, with ""downtime"""'), row(reason='"=HYPERLINK(""x"")"'),
                   row(reason=""))
    assert result.refusals == []
    assert [w.reason for w in result.windows] == ['Upgrade, with "downtime"', '=HYPERLINK("x")', ""]


def test_identical_rows_are_both_kept():
    assert parse(row(), row()).accepted == 2


def test_a_wrong_header_refuses_the_whole_file():
    result = parse_maintenance(b"service,from,to\nepr,a,b\n", SERVICES)
    assert result.windows == [] and [r.line for r in result.refusals] == [1]
    assert "service,start,end,announced,reason,emergency" in result.refusals[0].reason


def test_golden_maintenance_file_parses_without_refusals():
    services = [s["id"] for s in yaml.safe_load((GOLDEN / "config" / "services.yaml").read_text())["services"]]
    result = parse_maintenance((GOLDEN / "maintenance.csv").read_bytes(), services)
    assert result.refusals == [] and result.accepted == 2
    portal, email = result.windows
    assert portal.service == "portal" and portal.emergency is True and portal.reason == "Certificate failure"
    assert email.start_at == utc("2026-10-28T12:00:00Z") and email.emergency is False
