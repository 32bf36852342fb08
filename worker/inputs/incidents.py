"""Incidents CSV (SPEC section 5) → `Incident` values. Pure.

`id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold`

- `id`: required, any text (a leading `=` or `+` is just text here; whoever writes CSV out
  escapes it).
- `service`: a catalogue id. `customer`: a catalogue id, or empty for every customer whose
  agreements cover the service.
- `priority`: `P1` … `P5`; `p1` … `p5` are accepted and written upper case.
- `opened_at`: required; `responded_at`, `resolved_at`: optional; all with a UTC offset, and
  neither of the last two before `opened_at`. (A resolution before the response is accepted:
  each clock is scored on its own.)
- `on_hold`: empty, or `start/end` intervals separated by `;` (spaces around them and an empty
  piece from a trailing `;` are ignored), each with offsets and end after start. They may lie
  partly outside the incident's life or overlap: scoring subtracts their union.
- A later row with the same id (within the file) replaces the earlier one: the result holds
  its last valid version, at the place the id was first seen. A refused row replaces nothing.
  `accepted` counts every valid row, the replaced ones too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from worker.domain.errors import InvalidValue
from worker.domain.model import PRIORITIES, Incident
from worker.inputs.common import (
    COLUMNS,
    Refusal,
    check_known,
    parse_optional_timestamp,
    parse_timestamp,
    read_rows,
    show,
)

INCIDENT_COLUMNS = COLUMNS["incidents"]


@dataclass(frozen=True)
class IncidentParse:
    incidents: list[Incident] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    accepted: int = 0


def parse_incidents(
    data: bytes | BinaryIO, services: Collection[str], customers: Collection[str]
) -> IncidentParse:
    """Read an incidents CSV file (bytes or binary stream). See the module docstring."""
    known_services, known_customers = frozenset(services), frozenset(customers)
    refusals: list[Refusal] = []
    latest: dict[str, Incident] = {}  # insertion order = first seen
    accepted = 0
    for item in read_rows(data, INCIDENT_COLUMNS):
        if isinstance(item, Refusal):
            refusals.append(item)
            continue
        try:
            incident = check_incident(item.fields, known_services, known_customers)
        except InvalidValue as exc:
            refusals.append(Refusal(item.line, str(exc)))
            continue
        latest[incident.id] = incident
        accepted += 1
    return IncidentParse(list(latest.values()), refusals, accepted)


def check_incident(fields: tuple[str, ...], services: frozenset[str], customers: frozenset[str]) -> Incident:
    """One row's fields in SPEC order → Incident, or InvalidValue with the reason."""
    id_, service, customer, priority, opened, responded, resolved, on_hold = fields
    if not id_:
        raise InvalidValue("id is empty")
    check_known("service", service, services)
    if customer:
        check_known("customer", customer, customers)
    priority_ = priority.upper()
    if priority_ not in PRIORITIES:
        if not priority:
            raise InvalidValue("priority is empty (expected P1, P2, P3, P4 or P5)")
        raise InvalidValue(f"priority {show(priority)} must be P1, P2, P3, P4 or P5")
    opened_at = parse_timestamp("opened_at", opened)
    responded_at = parse_optional_timestamp("responded_at", responded)
    resolved_at = parse_optional_timestamp("resolved_at", resolved)
    for column, text, at in (("responded_at", responded, responded_at), ("resolved_at", resolved, resolved_at)):
        if at is not None and at < opened_at:
            raise InvalidValue(f"{column} {show(text)} is before opened_at {show(opened)}")
    return Incident(
        id=id_,
        service=service,
        priority=priority_,
        opened_at=opened_at,
        customer=customer or None,
        responded_at=responded_at,
        resolved_at=resolved_at,
        on_hold=parse_on_hold(on_hold),
    )


def parse_on_hold(text: str) -> tuple[tuple[datetime, datetime], ...]:
    """`start/end;start/end` → ((start_at, end_at), …), in the order written."""
    intervals = []
    for piece in (part.strip() for part in text.split(";")):
        if not piece:
            continue
        ends = piece.split("/")
        if len(ends) != 2 or not ends[0].strip() or not ends[1].strip():
            raise InvalidValue(f"on_hold interval {show(piece)} must be start/end, two timestamps with a / between")
        try:
            start = parse_timestamp("on_hold start", ends[0].strip())
            end = parse_timestamp("on_hold end", ends[1].strip())
        except InvalidValue as exc:
            raise InvalidValue(f"{exc} (in on_hold interval {show(piece)})") from None
        if end <= start:
            raise InvalidValue(f"on_hold interval {show(piece)} ends before it starts")
        intervals.append((start, end))
    return tuple(intervals)
