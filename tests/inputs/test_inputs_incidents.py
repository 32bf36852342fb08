"""Incidents CSV (SPEC section 5)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from worker.domain.model import Incident
from worker.inputs.common import Refusal
from worker.inputs.incidents import parse_incidents

GOLDEN = Path("/work/shared/golden/trust-2026-10")
SERVICES = ["epr", "servicedesk"]
CUSTOMERS = ["acute", "community"]
HEADER = "id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold"
OPENED = "2026-10-05T09:10:00+01:00"


def csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def row(id_="INC1", service="epr", customer="", priority="P2", opened=OPENED, responded="", resolved="", on_hold=""):
    return f"{id_},{service},{customer},{priority},{opened},{responded},{resolved},{on_hold}"


def parse(*rows: str):
    return parse_incidents(csv(*rows), SERVICES, CUSTOMERS)


def test_spec_example_row_becomes_an_incident():
    result = parse(
        "INC0012,epr,,P2,2026-10-05T09:10:00+01:00,2026-10-05T09:40:00+01:00,2026-10-05T15:00:00+01:00,"
        "2026-10-05T11:00:00+01:00/2026-10-05T12:00:00+01:00"
    )
    assert result.refusals == [] and result.accepted == 1
    assert result.incidents == [
        Incident(
            id="INC0012",
            service="epr",
            priority="P2",
            opened_at=utc("2026-10-05T09:10:00+01:00"),
            customer=None,
            responded_at=utc("2026-10-05T09:40:00+01:00"),
            resolved_at=utc("2026-10-05T15:00:00+01:00"),
            on_hold=((utc("2026-10-05T11:00:00+01:00"), utc("2026-10-05T12:00:00+01:00")),),
        )
    ]
    assert result.incidents[0].opened_at.tzinfo == UTC


def test_empty_customer_means_every_customer_and_a_named_one_is_kept():
    result = parse(row("A"), row("B", customer="acute"))
    assert [i.customer for i in result.incidents] == [None, "acute"]


def test_unknown_customer_and_service_are_refused():
    result = parse(row("A", customer="acutee"), row("B", service="pas"), row("C", service=""))
    assert result.incidents == []
    assert result.refusals == [
        Refusal(2, 'unknown customer "acutee"'),
        Refusal(3, 'unknown service "pas"'),
        Refusal(4, "service is empty"),
    ]


@pytest.mark.parametrize(("text", "priority"), [("P1", "P1"), ("P5", "P5"), ("p3", "P3"), (" P2 ", "P2")])
def test_priorities_p1_to_p5_are_accepted_in_either_case(text, priority):
    assert parse(row(priority=text)).incidents[0].priority == priority


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P6", 'priority "P6" must be P1, P2, P3, P4 or P5'),
        ("P0", 'priority "P0" must be P1, P2, P3, P4 or P5'),
        ("2", 'priority "2" must be P1, P2, P3, P4 or P5'),
        ("urgent", 'priority "urgent" must be P1, P2, P3, P4 or P5'),
        ("", "priority is empty (expected P1, P2, P3, P4 or P5)"),
    ],
)
def test_any_other_priority_is_refused(text, reason):
    assert parse(row(priority=text)).refusals == [Refusal(2, reason)]


def test_opened_at_is_required_with_an_offset():
    result = parse(row("A", opened=""), row("B", opened="2026-10-05T09:10:00"), row("C"))
    assert [i.id for i in result.incidents] == ["C"]
    assert result.refusals == [
        Refusal(2, "opened_at is empty"),
        Refusal(3, 'opened_at "2026-10-05T09:10:00" has no UTC offset (add +01:00: UK summer time on that date)'),
    ]


def test_responded_and_resolved_are_optional():
    incident = parse(row()).incidents[0]
    assert incident.responded_at is None and incident.resolved_at is None and incident.on_hold == ()


def test_responded_or_resolved_before_opened_is_refused():
    result = parse(
        row("A", responded="2026-10-05T09:00:00+01:00"),
        row("B", resolved="2026-10-05T08:00:00Z"),
        row("C", responded="2026-10-05T08:10:00Z"),  # the same instant as opened_at: accepted
    )
    assert [i.id for i in result.incidents] == ["C"]
    assert result.refusals == [
        Refusal(2, f'responded_at "2026-10-05T09:00:00+01:00" is before opened_at "{OPENED}"'),
        Refusal(3, f'resolved_at "2026-10-05T08:00:00Z" is before opened_at "{OPENED}"'),
    ]


def test_responded_at_without_offset_is_refused():
    assert parse(row(responded="2026-10-05T10:00:00")).refusals == [
        Refusal(2, 'responded_at "2026-10-05T10:00:00" has no UTC offset (add +01:00: UK summer time on that date)')
    ]


def test_on_hold_holds_several_intervals_separated_by_semicolons():
    hold = "2026-10-05T11:00:00+01:00/2026-10-05T12:00:00+01:00; 2026-10-06T10:00:00Z/2026-10-06T11:30:00Z;"
    incident = parse(row(on_hold=f'"{hold}"')).incidents[0]
    assert incident.on_hold == (
        (utc("2026-10-05T11:00:00+01:00"), utc("2026-10-05T12:00:00+01:00")),
        (utc("2026-10-06T10:00:00Z"), utc("2026-10-06T11:30:00Z")),
    )


@pytest.mark.parametrize(
    ("hold", "reason"),
    [
        ("2026-10-05T11:00:00+01:00", 'on_hold interval "2026-10-05T11:00:00+01:00" must be start/end, two timestamps with a / between'),
        ("2026-10-05T11:00:00Z/", 'on_hold interval "2026-10-05T11:00:00Z/" must be start/end, two timestamps with a / between'),
        ("a/b/c", 'on_hold interval "a/b/c" must be start/end, two timestamps with a / between'),
        ("2026-10-05T11:00:00/2026-10-05T12:00:00Z",
         ('on_hold start "2026-10-05T11:00:00" has no UTC offset (add +01:00: UK summer time on that date) '
         '(in on_hold interval "2026-10-05T11:00:00/2026-10-05T12:00:00Z")')),
        ("2026-10-05T11:00:00Z/soon",
         ('on_hold end "soon" is not a date and time such as 2026-10-01T09:00:00+01:00 '
         '(in on_hold interval "2026-10-05T11:00:00Z/soon")')),
        ("2026-10-05T12:00:00Z/2026-10-05T11:00:00Z",
         'on_hold interval "2026-10-05T12:00:00Z/2026-10-05T11:00:00Z" ends before it starts'),
        ("2026-10-05T12:00:00Z/2026-10-05T13:00:00+01:00",
         'on_hold interval "2026-10-05T12:00:00Z/2026-10-05T13:00:00+01:00" ends before it starts'),
    ],
)
def test_malformed_on_hold_interval_refuses_the_row_with_the_reason(hold, reason):
    result = parse(row(on_hold=hold), row("OK"))
    assert result.refusals == [Refusal(2, reason)] and [i.id for i in result.incidents] == ["OK"]


def test_a_later_row_with_the_same_id_replaces_the_earlier_one_in_first_seen_order():
    result = parse(
        row("A", priority="P3"),
        row("B"),
        row("A", priority="P1", resolved="2026-10-05T12:00:00+01:00"),
    )
    assert [(i.id, i.priority) for i in result.incidents] == [("A", "P1"), ("B", "P2")]
    assert result.incidents[0].resolved_at == utc("2026-10-05T12:00:00+01:00")
    assert result.accepted == 3 and result.refusals == []


def test_a_refused_later_row_does_not_replace_the_earlier_one():
    result = parse(row("A", priority="P3"), row("A", priority="P9"))
    assert [(i.id, i.priority) for i in result.incidents] == [("A", "P3")]
    assert result.accepted == 1 and [r.line for r in result.refusals] == [3]


def test_empty_id_is_refused():
    assert parse(row("")).refusals == [Refusal(2, "id is empty")]


def test_formula_like_id_is_kept_as_plain_text():
    result = parse(row('"=cmd|\' /C calc\'!A0"'), row("+SUM(A1)"))
    assert [i.id for i in result.incidents] == ["=cmd|' /C calc'!A0", "+SUM(A1)"]


def test_a_wrong_header_refuses_the_whole_file():
    result = parse_incidents(b"id,service,priority,opened_at\nA,epr,P1,2026-10-05T09:10:00Z\n", SERVICES, CUSTOMERS)
    assert result.incidents == [] and result.accepted == 0
    assert result.refusals == [
        Refusal(
            1,
            "header refused: missing columns customer, responded_at, resolved_at, on_hold; expected the columns "
            "id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold",
        )
    ]


def test_a_row_with_a_missing_trailing_field_is_refused():
    result = parse("INC1,epr,,P2," + OPENED + ",,")
    assert result.refusals == [
        Refusal(2, "has 7 fields, expected 8 (id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold)")
    ]


def test_windows_1252_row_is_refused_and_the_rest_kept():
    data = csv(row("A"), row("B")).replace(b"\nB,", b"\nB\x96,")
    result = parse_incidents(data, SERVICES, CUSTOMERS)
    assert [i.id for i in result.incidents] == ["A"]
    assert result.refusals == [Refusal(3, "not UTF-8 text (byte 0x96 at column 2); save the file as UTF-8")]


def test_golden_incidents_file_parses_without_refusals():
    config = GOLDEN / "config"
    services = [s["id"] for s in yaml.safe_load((config / "services.yaml").read_text())["services"]]
    customers = [c["id"] for c in yaml.safe_load((config / "customers.yaml").read_text())["customers"]]
    result = parse_incidents((GOLDEN / "incidents.csv").read_bytes(), services, customers)
    assert result.refusals == []
    assert result.accepted == 13 and len(result.incidents) == 13
    by_id = {i.id: i for i in result.incidents}
    assert by_id["INC1001"].customer is None and by_id["INC1003"].customer == "acute"
    assert by_id["INC1004"].on_hold == ((utc("2026-10-09T08:00:00+01:00"), utc("2026-10-09T11:00:00+01:00")),)
    assert by_id["INC1007"].resolved_at is None and by_id["INC1013"].responded_at is None
    assert by_id["INC1005"].resolved_at == utc("2026-10-25T04:00:00+00:00")
