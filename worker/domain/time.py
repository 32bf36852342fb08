"""Parsing of instants, dates and durations as SPEC section 3 writes them. Pure."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from worker.domain.errors import InvalidValue
from worker.domain.model import DEFAULT_TIMEZONE

_SIMPLE_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: object) -> float:
    """`30s`, `5m`, `8h`, `5d` or ISO 8601 (`PT8H`, `P1DT2H`) → seconds (≥ 0)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise InvalidValue(f"expected a duration such as 30s, 5m, 8h, 5d or PT8H, got {text!r}")
    if isinstance(text, (int, float)):
        raise InvalidValue(f"a duration needs a unit (30s, 5m, 8h, 5d or PT8H), got {text!r}")
    match = _SIMPLE_DURATION.match(text)
    if match:
        return float(match.group(1)) * _UNIT_S[match.group(2)]
    match = _ISO_DURATION.match(text.strip().upper())
    if match and text.strip().upper() not in ("P", "PT") and not text.strip().upper().endswith("T"):
        parts = {k: float(v) for k, v in match.groupdict().items() if v}
        if parts:
            return (
                parts.get("w", 0) * 604800
                + parts.get("d", 0) * 86400
                + parts.get("h", 0) * 3600
                + parts.get("m", 0) * 60
                + parts.get("s", 0)
            )
    raise InvalidValue(f"expected a duration such as 30s, 5m, 8h, 5d or PT8H, got {text!r}")


def parse_instant(text: object) -> datetime:
    """An ISO 8601 timestamp that carries a UTC offset or `Z` → aware datetime in UTC.

    A timestamp without an offset is refused: guessing the zone would shift a whole hour
    twice a year."""
    if isinstance(text, datetime):
        value = text
    elif isinstance(text, str):
        stripped = text.strip()
        if not stripped:
            raise InvalidValue("timestamp is empty")
        try:
            value = datetime.fromisoformat(stripped)
        except ValueError:
            raise InvalidValue(f"not an ISO 8601 timestamp: {text!r}") from None
    else:
        raise InvalidValue(f"expected a timestamp with a UTC offset, got {text!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"timestamp {text!s} has no UTC offset ({offset_hint(value)})")
    return value.astimezone(timezone.utc)


def offset_hint(naive: datetime) -> str:
    """What to add to a timestamp written without an offset: the UK offset in force at that
    wall-clock time (people here write UK time), so the hint never suggests the wrong hour —
    `+01:00` in summer, `Z` in winter, both where the clocks change within that hour. Only a
    hint: the timestamp is still refused, guessing would shift an hour twice a year."""
    zone = ZoneInfo(DEFAULT_TIMEZONE)  # the UK's
    wall = naive.replace(tzinfo=None)
    offsets = {wall.replace(tzinfo=zone, fold=fold).utcoffset() for fold in (0, 1)}
    if len(offsets) > 1:
        return "add +01:00 or Z: the UK clocks change at that hour on that date"
    [offset] = offsets
    if not offset:
        return "add Z or +00:00: UK winter time on that date"
    return f"add {format_offset(offset)}: UK summer time on that date"


def format_offset(offset: timedelta) -> str:
    """timedelta(hours=1) → `+01:00`."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def parse_date(text: object) -> date:
    """A local calendar date `YYYY-MM-DD`."""
    if isinstance(text, datetime):
        raise InvalidValue(f"expected a date YYYY-MM-DD, got a timestamp {text!s}")
    if isinstance(text, date):
        return text
    if isinstance(text, str):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise InvalidValue(f"expected a date YYYY-MM-DD, got {text!r}")


def epoch_s(at: datetime) -> float:
    """Aware datetime → float seconds since the Unix epoch."""
    return at.timestamp()


def from_epoch_s(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def format_duration(seconds: float) -> str:
    """Plain words for people: `1 h 56 m`, `45 s`."""
    delta = timedelta(seconds=round(seconds))
    days, rest = divmod(int(delta.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} m" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{secs} s"
