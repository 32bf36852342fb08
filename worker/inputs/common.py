"""What the three input files (SPEC section 5) share: reading CSV bytes into rows, refusals,
and the field checks every file uses (timestamps, free text, quoting values in messages).

Pure: bytes in, values out. No database, no clock.

Reading rules (the SPEC is silent on these; they are decided here and tested):

- The file must be UTF-8. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is accepted. A line
  that is not valid UTF-8 (typically Windows-1252 from Excel's plain "CSV", e.g. a curly
  apostrophe, byte 0x92) is refused with the byte and its column; other lines go on. A UTF-16
  file is refused as a whole.
- Line 1 must be the header. Names are compared without surrounding spaces and without case;
  the columns may come in any order, but every expected column must be there and no other. A
  missing or wrong header refuses the whole file (one refusal, line 1, listing the expected
  columns).
- Fields follow RFC 4180 as Python's `csv` module reads it (quotes, doubled quotes, commas and
  line breaks inside quotes). A record's line number is the line it starts on.
- Surrounding spaces of every field are removed. A line that is empty, or has only empty
  fields (`,,,` as spreadsheets leave behind), is skipped, wherever it is: it is neither
  accepted nor refused.
- A row with the wrong number of fields, or a field longer than 10,000 characters, is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from worker.domain.errors import InvalidValue
from worker.domain.time import offset_hint

MAX_FIELD_CHARS = 10_000
SHOWN_CHARS = 60
BOM = b"\xef\xbb\xbf"

COLUMNS: dict[str, tuple[str, ...]] = {
    "samples": ("timestamp", "service", "signal", "value"),
    "incidents": ("id", "service", "customer", "priority", "opened_at", "responded_at", "resolved_at", "on_hold"),
    "maintenance": ("service", "start", "end", "announced", "reason", "emergency"),
}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2100, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
EARLIEST_MS = (EARLIEST_AT - EPOCH) // _ONE_MS
LATEST_MS = (LATEST_AT - EPOCH) // _ONE_MS


@dataclass(frozen=True)
class Refusal:
    """One refused row (or, with line 1, a refused header: the whole file)."""

    line: int
    reason: str

    def describe(self, file: str) -> str:
        return f"{file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Row:
    """One data row: its line number and its fields, stripped, in the SPEC's column order."""

    line: int
    fields: tuple[str, ...]


# --------------------------------------------------------------------------- messages


def show(value: str, limit: int = SHOWN_CHARS) -> str:
    """A value quoted for a refusal message: cut to `limit` characters, control characters
    written as escapes so that one refusal stays on one line."""
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        text = "".join(
            {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch)
            for ch in text
        )
    return f'"{text}"'


def format_ms(at_ms: int) -> str:
    """Epoch milliseconds → `2026-10-01T00:00:00Z` (with `.123` when there are milliseconds)."""
    at = EPOCH + timedelta(milliseconds=int(at_ms))
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if at.microsecond:
        text += f".{at.microsecond // 1000:03d}"
    return text + "Z"


def format_number(value: float) -> str:
    """12.0 → `12`, 0.5 → `0.5`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --------------------------------------------------------------------------- field checks


def parse_timestamp(column: str, text: str) -> datetime:
    """An ISO 8601 timestamp with a UTC offset or `Z`, between 2000-01-01 and 2100-01-01 (UTC),
    → aware UTC datetime. Raises InvalidValue with a reason naming the column and the value."""
    if not text:
        raise InvalidValue(f"{column} is empty")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        detail = str(exc)
        if detail.startswith("Invalid isoformat string"):
            raise InvalidValue(
                f"{column} {show(text)} is not a date and time such as 2026-10-01T09:00:00+01:00"
            ) from None
        raise InvalidValue(f"{column} {show(text)} is not a valid date and time ({detail})") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(f"{column} {show(text)} has no UTC offset ({offset_hint(value)})")
    value = value.astimezone(UTC)
    if value < EARLIEST_AT:
        raise InvalidValue(f"{column} {show(text)} is before 2000-01-01; check the year")
    if value > LATEST_AT:
        raise InvalidValue(f"{column} {show(text)} is after 2100-01-01; check the year")
    return value


def to_ms(at: datetime) -> int:
    """Aware datetime → integer epoch milliseconds (sub-millisecond digits are dropped)."""
    return (at - EPOCH) // _ONE_MS


def parse_optional_timestamp(column: str, text: str) -> datetime | None:
    return parse_timestamp(column, text) if text else None


def check_known(column: str, text: str, known: frozenset[str] | set[str]) -> str:
    if not text:
        raise InvalidValue(f"{column} is empty")
    if text not in known:
        raise InvalidValue(f"unknown {column} {show(text)}")
    return text


# --------------------------------------------------------------------------- reading


def as_bytes(data: bytes | bytearray | memoryview | BinaryIO) -> bytes:
    """The whole file as bytes, from bytes or a binary stream."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if hasattr(data, "read"):
        content = data.read()
        if isinstance(content, str):
            raise TypeError("open the file in binary mode ('rb'): the reader checks the encoding itself")
        return bytes(content)
    raise TypeError(f"expected bytes or a binary stream, got {type(data).__name__}")


def decode(data: bytes) -> str:
    """Bytes → text. A leading BOM is dropped; bytes that are not UTF-8 become lone surrogates
    (U+DC80…U+DCFF) so that the rows they sit on can be refused one by one."""
    data = data.removeprefix(BOM)
    return data.decode("utf-8", "surrogateescape")


class _Tap:
    """A line iterator that remembers the lines handed out since the last `take()`."""

    __slots__ = ("_lines", "taken")

    def __init__(self, lines: Iterable[str]):
        self._lines = iter(lines)
        self.taken: list[str] = []

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def take(self) -> list[str]:
        taken, self.taken = self.taken, []
        return taken


@dataclass(frozen=True)
class Record:
    """One CSV record as the csv module reads it, before any checks."""

    line: int
    fields: list[str] | None  # None when the csv module itself failed (`error`)
    raw: list[str]  # the physical lines it came from
    error: str | None = None


def iter_records(lines: Iterable[str], first_line: int = 1) -> Iterator[Record]:
    """Physical lines (with their line ends) → CSV records, each with the line it starts on."""
    tap = _Tap(lines)
    reader = csv.reader(tap)
    line = first_line
    while True:
        error = None
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            fields, error = None, str(exc)
        raw = tap.take()
        if not raw:  # pragma: no cover - the csv module always reads a line before a record
            return
        yield Record(line, fields, raw, error)
        line += len(raw)


def physical_lines(text: str) -> Iterator[str]:
    """Lines as the csv module expects them: split at \\n, \\r\\n or \\r, ends kept."""
    return iter(io.StringIO(text, newline=""))


def _bad_byte(raw: list[str], line: int) -> str | None:
    """The encoding reason for a record holding bytes that were not UTF-8, else None."""
    for offset, text in enumerate(raw):
        for column, ch in enumerate(text, start=1):
            if "\udc80" <= ch <= "\udcff":
                where = f"column {column}" if offset == 0 else f"line {line + offset}, column {column}"
                return f"not UTF-8 text (byte 0x{ord(ch) - 0xDC00:02x} at {where}); save the file as UTF-8"
    return None


def header_order(record: Record | None, columns: Sequence[str]) -> tuple[int, ...] | str:
    """Map the SPEC's columns to their places in the file's header, or say why the header is
    refused (the reason, as a str)."""
    expected = ",".join(columns)
    if record is None:
        return f"the file is empty; line 1 must be the header {expected}"
    if record.error is not None:
        return f"the header cannot be read as CSV ({record.error}); line 1 must be {expected}"
    bad = _bad_byte(record.raw, record.line)
    if bad:
        return bad
    assert record.fields is not None
    names = [name.strip().lower() for name in record.fields]
    if not any(names):
        return f"line 1 is empty; it must be the header {expected}"
    if semicolon_kind(record.raw[0]) is not None or (len(names) == 1 and ";" in names[0]):
        return semicolon_reason(expected)
    other = [kind for kind, cols in COLUMNS.items() if set(cols) == set(names) and set(cols) != set(columns)]
    if other:
        return f"these are the columns of a{'n' if other[0][0] in 'aeiou' else ''} {other[0]} file; expected {expected}"
    if not set(names) & set(columns):
        return f"missing header: line 1 must name the columns {expected} (it reads {show(','.join(record.fields))})"
    problems = []
    if "" in names:
        problems.append(f"column {names.index('') + 1} of the header has no name")
    twice = sorted({name for name in names if name and names.count(name) > 1})
    if twice:
        problems.append(", ".join(show(name) for name in twice) + " named more than once")
    missing = [name for name in columns if name not in names]
    if missing:
        problems.append(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unknown = [name for name in names if name and name not in columns]
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(show(n) for n in unknown)}")
    if problems:
        return f"header refused: {'; '.join(problems)}; expected the columns {expected}"
    return tuple(names.index(name) for name in columns)


def check_record(record: Record, order: tuple[int, ...], columns: Sequence[str]) -> Row | Refusal | None:
    """A data record → its Row (fields stripped, in SPEC order), a Refusal, or None for a
    blank line."""
    if record.error is not None:
        if "field larger than field limit" in record.error:
            return Refusal(record.line, f"a field is longer than the limit of {MAX_FIELD_CHARS:,} characters")
        return Refusal(record.line, f"the line cannot be read as CSV ({record.error})")
    bad = _bad_byte(record.raw, record.line)
    if bad:
        return Refusal(record.line, bad)
    assert record.fields is not None
    fields = [field.strip() for field in record.fields]
    if not any(fields):
        return None
    if len(fields) != len(columns):
        reason = f"has {_plural(len(fields), 'field')}, expected {len(columns)} ({','.join(columns)})"
        if len(fields) == 1 and ";" in fields[0]:
            reason += "; separate the values with commas, not semicolons"
        if len(record.raw) > 1:
            reason += (
                f"; this row runs on to line {record.line + len(record.raw) - 1} because of a quote (\")"
                " that is not closed"
            )
        return Refusal(record.line, reason)
    for place, name in zip(order, columns):
        if len(fields[place]) > MAX_FIELD_CHARS:
            return Refusal(
                record.line,
                f"{name} is {len(fields[place]):,} characters long; the limit is {MAX_FIELD_CHARS:,}",
            )
    return Row(record.line, tuple(fields[place] for place in order))


def read_rows(data: bytes | bytearray | memoryview | BinaryIO, columns: Sequence[str]) -> Iterator[Row | Refusal]:
    """Read a CSV file (bytes or binary stream) with the given header columns.

    Yields a `Row` for every data row that is well-formed CSV, and a `Refusal` for every row
    that is not (with its line number). A refused header yields one Refusal for line 1 and
    nothing else: the whole file is refused. Rows come in file order."""
    raw = as_bytes(data)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield Refusal(1, "the file is UTF-16 text; save it as CSV UTF-8")
        return
    records = iter_records(physical_lines(decode(raw)))
    order = header_order(next(records, None), columns)
    if isinstance(order, str):
        yield Refusal(1, order)
        return
    for record in records:
        result = check_record(record, order, columns)
        if result is not None:
            yield result


def semicolon_reason(expected: str) -> str:
    """The one reason given for a whole file separated by `;` (Excel's CSV where the decimal
    mark is a comma): said once for the file, not once per row."""
    return (
        "the values are separated by semicolons (;) but the separator must be a comma (,): "
        f"save the file as CSV with commas; line 1 must be {expected}"
    )


def semicolon_kind(header_line: str) -> str | None:
    """The kind of file whose header this is once read with `;` as the separator, else None."""
    line = header_line.lstrip("\ufeff").rstrip("\r\n")
    if ";" not in line:
        return None
    names = {name.strip().strip('"').strip().lower() for name in line.split(";")}
    return next((kind for kind, columns in COLUMNS.items() if names == set(columns)), None)


def unknown_header_reason(header_line: str) -> str:
    """Why a dropped file's first line names no kind of input file."""
    kind = semicolon_kind(header_line)
    if kind is not None:
        return semicolon_reason(",".join(COLUMNS[kind]))
    return "not a samples, incidents or maintenance file: unrecognised header"


def detect_kind(header_line: str) -> str | None:
    """'samples', 'incidents' or 'maintenance' from a file's first line, None if it is none of
    them. Column order, case and surrounding spaces do not matter, as when reading."""
    line = header_line.lstrip("\ufeff").rstrip("\r\n")
    try:
        fields = next(csv.reader([line]), [])
    except csv.Error:
        return None
    names = {name.strip().lower() for name in fields}
    if len(names) != len(fields):
        return None
    for kind, columns in COLUMNS.items():
        if names == set(columns):
            return kind
    return None
