"""Maintenance CSV (SPEC section 5) → `MaintenanceWindow` values. Pure.

`service,start,end,announced,reason,emergency`

- `service`: a catalogue id.
- `start`, `end`: required, with a UTC offset, end after start.
- `announced`: optional (empty: never announced, so never excluded from counted time). It may
  be after `start`: the window is then simply not announced in time.
- `reason`: free text, may be empty (a leading `=` is just text here).
- `emergency`: `true`/`false`, `yes`/`no`, `1`/`0` in any case, or empty (false).
- Every valid row is a window of its own, in file order: the file has no id to tell a
  correction from a second window, so identical rows are kept as they are and the store
  decides what a repeat means.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import BinaryIO

from worker.domain.errors import InvalidValue
from worker.domain.model import MaintenanceWindow
from worker.inputs.common import (
    COLUMNS,
    Refusal,
    check_known,
    parse_optional_timestamp,
    parse_timestamp,
    read_rows,
    show,
)

MAINTENANCE_COLUMNS = COLUMNS["maintenance"]
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0", ""})


@dataclass(frozen=True)
class MaintenanceParse:
    windows: list[MaintenanceWindow] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    accepted: int = 0


def parse_maintenance(data: bytes | BinaryIO, services: Collection[str]) -> MaintenanceParse:
    """Read a maintenance CSV file (bytes or binary stream). See the module docstring."""
    known = frozenset(services)
    windows: list[MaintenanceWindow] = []
    refusals: list[Refusal] = []
    for item in read_rows(data, MAINTENANCE_COLUMNS):
        if isinstance(item, Refusal):
            refusals.append(item)
            continue
        try:
            windows.append(check_window(item.fields, known))
        except InvalidValue as exc:
            refusals.append(Refusal(item.line, str(exc)))
    return MaintenanceParse(windows, refusals, len(windows))


def check_window(fields: tuple[str, ...], services: frozenset[str]) -> MaintenanceWindow:
    """One row's fields in SPEC order → MaintenanceWindow, or InvalidValue with the reason."""
    service, start, end, announced, reason, emergency = fields
    check_known("service", service, services)
    start_at = parse_timestamp("start", start)
    end_at = parse_timestamp("end", end)
    if end_at <= start_at:
        raise InvalidValue(f"end {show(end)} is not after start {show(start)}")
    announced_at = parse_optional_timestamp("announced", announced)
    return MaintenanceWindow(
        service=service,
        start_at=start_at,
        end_at=end_at,
        announced_at=announced_at,
        reason=reason,
        emergency=parse_flag("emergency", emergency),
    )


def parse_flag(column: str, text: str) -> bool:
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise InvalidValue(f"{column} {show(text)} must be true or false (or yes/no, 1/0, or empty for false)")
