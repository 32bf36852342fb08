"""Samples CSV (`timestamp,service,signal,value`, SPEC section 5) → numpy columns. Pure.

Rules, row by row (the first problem found is the reason given):

- `timestamp`: ISO 8601 with a UTC offset or `Z` (a naive one is refused: guessing the zone
  would shift an hour twice a year), between 2000-01-01 and 2100-01-01 UTC. Sub-second digits
  are kept to the millisecond (further digits are dropped, not rounded).
- `service`: one of the catalogue's ids (exact, case-sensitive).
- `signal`: `up`, `latency_ms`, `good` or `total` (exact, lower case).
- `value`: a finite decimal number (`12`, `0.5`, `1e3`; not `NaN`, `inf`, `1_000`, `0x1`);
  `up` must be 0 or 1; `latency_ms`, `good` and `total` must be 0 or more. Counts need not be
  whole numbers (rates turned into counts often are not).

Rules across rows of the same file:

- good ≤ total: every `good` row is checked against the `total` kept for the same service and
  instant (the last valid `total` line, see below). A `good` above it is refused, with both
  values and the `total`'s line in the reason; the `total` row stays (it is plausible on its
  own, the good count is the impossible part). A file with only one of the pair is not
  checked here (the other may be stored already, or come later).
- The same (service, signal, instant) on several valid lines: the LATER line wins, and only it
  is in the result arrays. A refused line never replaces anything. `accepted` counts every
  valid row, the replaced ones too, so `accepted + len(refusals)` is the number of non-blank
  data rows.

Result arrays are in file order. Refusals are in line order.

Speed: `parse_samples` reads the common form (`2026-10-01T00:00:00Z` or with `+01:00` and/or
`.123`, a known service, a plain decimal value, no quotes, spaces or non-ASCII) a block of
lines at a time with numpy, and hands every other line to the same row checks as
`parse_samples_slow`, the obvious line-by-line reading that is the reference; a property test
keeps the two identical. Files whose header is not exactly `timestamp,service,signal,value`
in that order, or that end lines with a lone CR, are read by the slow path as a whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from worker.domain.errors import InvalidValue
from worker.domain.model import Signal
from worker.inputs.common import (
    BOM,
    COLUMNS,
    EARLIEST_MS,
    LATEST_MS,
    Record,
    Refusal,
    Row,
    as_bytes,
    check_known,
    check_record,
    format_ms,
    format_number,
    iter_records,
    parse_timestamp,
    read_rows,
    show,
    to_ms,
)

SAMPLE_COLUMNS = COLUMNS["samples"]
SIGNALS: tuple[str, ...] = tuple(signal.value for signal in Signal)  # plain strings in the parse's columns
_SIGNAL_INDEX = {name: index for index, name in enumerate(SIGNALS)}
_UP, _LATENCY, _GOOD, _TOTAL = (_SIGNAL_INDEX[s] for s in (Signal.UP, Signal.LATENCY_MS, Signal.GOOD, Signal.TOTAL))
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_AT_BITS = 42  # epoch ms up to 2100-01-01 (4.1e12) fit in 42 bits
assert LATEST_MS < 1 << _AT_BITS


@dataclass(frozen=True, eq=False)
class SampleParse:
    """Accepted samples as columns (one entry per kept row, file order) and the refusals."""

    service: np.ndarray  # object: service id (str)
    signal: np.ndarray  # object: 'up' | 'latency_ms' | 'good' | 'total'
    at_ms: np.ndarray  # int64: epoch milliseconds, UTC
    value: np.ndarray  # float64
    lines: np.ndarray  # int64: line number in the file
    refusals: list[Refusal] = field(default_factory=list)
    accepted: int = 0

    def __len__(self) -> int:
        return len(self.at_ms)


# --------------------------------------------------------------------------- one row


def check_sample(fields: tuple[str, ...], services: frozenset[str]) -> tuple[str, int, int, float]:
    """(timestamp, service, signal, value) texts → (service, signal index, at_ms, value), or
    InvalidValue with the reason."""
    timestamp, service, signal, text = fields
    at_ms = to_ms(parse_timestamp("timestamp", timestamp))
    check_known("service", service, services)
    if not signal:
        raise InvalidValue("signal is empty")
    sig = _SIGNAL_INDEX.get(signal)
    if sig is None:
        raise InvalidValue(f"unknown signal {show(signal)} (expected up, latency_ms, good or total)")
    value = _number(text)
    if sig == _UP and value not in (0.0, 1.0):
        raise InvalidValue(f'signal "up" must be 0 or 1, got {show(text)[1:-1]}')
    if value < 0:
        raise InvalidValue(f"{SIGNALS[sig]} must be 0 or more, got {show(text)[1:-1]}")
    return service, sig, at_ms, value


def _number(text: str) -> float:
    if not text:
        raise InvalidValue("value is empty")
    if _NUMBER.fullmatch(text):
        value = float(text)
    else:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if math.isfinite(value):
            raise InvalidValue(f"value {show(text)} is not a number")
    if not math.isfinite(value):
        raise InvalidValue(f"value {show(text)} is not a finite number")
    return value


def _good_above_total(good: float, total: float, total_line: int, service: str, at_ms: int) -> str:
    return (
        f"good {format_number(good)} is more than total {format_number(total)} for service "
        f"{show(service)} at {format_ms(at_ms)} (total on line {total_line})"
    )


# --------------------------------------------------------------------------- slow reference


def parse_samples_slow(data: bytes | BinaryIO, services: Collection[str]) -> SampleParse:
    """The obvious reading, row by row with the csv module: the reference for `parse_samples`."""
    known = frozenset(services)
    refusals: list[Refusal] = []
    valid: list[tuple[int, str, int, int, float]] = []  # line, service, signal, at_ms, value
    for item in read_rows(data, SAMPLE_COLUMNS):
        if isinstance(item, Refusal):
            refusals.append(item)
            continue
        try:
            service, sig, at_ms, value = check_sample(item.fields, known)
        except InvalidValue as exc:
            refusals.append(Refusal(item.line, str(exc)))
            continue
        valid.append((item.line, service, sig, at_ms, value))
    accepted = len(valid)
    totals: dict[tuple[str, int], tuple[float, int]] = {}
    for line, service, sig, at_ms, value in valid:
        if sig == _TOTAL:
            totals[(service, at_ms)] = (value, line)
    kept: dict[tuple[str, int, int], tuple[int, str, int, int, float]] = {}
    for row in valid:
        line, service, sig, at_ms, value = row
        if sig == _GOOD and (service, at_ms) in totals:
            total, total_line = totals[(service, at_ms)]
            if value > total:
                refusals.append(Refusal(line, _good_above_total(value, total, total_line, service, at_ms)))
                accepted -= 1
                continue
        kept.pop((service, sig, at_ms), None)
        kept[(service, sig, at_ms)] = row
    rows = sorted(kept.values())
    refusals.sort(key=lambda r: r.line)
    return SampleParse(
        service=np.array([r[1] for r in rows], dtype=object),
        signal=np.array([SIGNALS[r[2]] for r in rows], dtype=object),
        at_ms=np.array([r[3] for r in rows], dtype=np.int64),
        value=np.array([r[4] for r in rows], dtype=np.float64),
        lines=np.array([r[0] for r in rows], dtype=np.int64),
        refusals=refusals,
        accepted=accepted,
    )


# --------------------------------------------------------------------------- fast path

_BLOCK_BYTES = 8 << 20
_TS_WIDTH = 32
_VALUE_WIDTH = 15  # at most 15 characters: every digit sum stays below 2**53
_MAX_KEY_WIDTH = 64
_PAD = 128
_POW10_INT = 10 ** np.arange(19, dtype=np.int64)
_POW10_FLOAT = np.array([10.0**k for k in range(23)])
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


class _Catalogue:
    """The known services, numbered, and the `service,signal` byte keys the fast path matches."""

    def __init__(self, services: Collection[str]):
        self.known = frozenset(services)
        self.names = sorted(self.known)
        self.index = {name: i for i, name in enumerate(self.names)}
        if len(self.names) >= 1 << (62 - _AT_BITS - 2):
            raise ValueError("too many services")  # pragma: no cover
        keys: list[tuple[bytes, int, int]] = []
        for name in self.names:
            # ids the fast path could misread (non-ASCII, spaces or control characters at
            # the ends, CSV punctuation) are left to the slow path, which reads them right
            if not name or not name.isascii() or not name.isprintable() or name != name.strip():
                continue
            if "," in name or '"' in name:
                continue
            raw = name.encode("ascii")
            for sig, signal in enumerate(SIGNALS):
                key = raw + b"," + signal.encode()
                if len(key) <= _MAX_KEY_WIDTH:
                    keys.append((key, self.index[name], sig))
        keys.sort()
        self.width = max((len(k) for k, _, _ in keys), default=1)
        self.keys = np.array([k for k, _, _ in keys], dtype=f"S{self.width}")
        self.key_service = np.array([s for _, s, _ in keys], dtype=np.int64)
        self.key_signal = np.array([g for _, _, g in keys], dtype=np.int64)


@dataclass
class _Columns:
    """Valid rows gathered so far, as numbered columns."""

    service: list[np.ndarray] = field(default_factory=list)
    signal: list[np.ndarray] = field(default_factory=list)
    at_ms: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)

    def add(self, service: np.ndarray, signal: np.ndarray, at_ms: np.ndarray, value: np.ndarray, lines: np.ndarray) -> None:
        self.service.append(service)
        self.signal.append(signal)
        self.at_ms.append(at_ms)
        self.value.append(value)
        self.lines.append(lines)

    def joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The whole columns; the pieces are let go as they are joined."""

        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            whole: np.ndarray = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
            parts.clear()
            return whole

        return (
            cat(self.service, np.int64),
            cat(self.signal, np.int64),
            cat(self.at_ms, np.int64),
            cat(self.value, np.float64),
            cat(self.lines, np.int64),
        )


def parse_samples(data: bytes | BinaryIO, services: Collection[str]) -> SampleParse:
    """Read a samples CSV file (bytes or binary stream). See the module docstring for the rules.

    Gives exactly what `parse_samples_slow` gives, several times faster."""
    raw = as_bytes(data)
    body_start = raw.find(b"\n") + 1
    header = raw[len(BOM) if raw.startswith(BOM) else 0 : body_start or len(raw)]
    names = [name.strip().lower() for name in header.rstrip(b"\r\n").split(b",")]
    standard = names == [name.encode() for name in SAMPLE_COLUMNS]
    if not standard or body_start == 0 or raw.count(b"\r") != raw.count(b"\r\n"):
        return parse_samples_slow(raw, services)

    catalogue = _Catalogue(services)
    columns = _Columns()
    refusals: list[Refusal] = []
    pos, line = body_start, 2
    while pos < len(raw):
        end = raw.find(b"\n", min(pos + _BLOCK_BYTES, len(raw)) - 1)
        end = len(raw) if end < 0 else end + 1
        pos, line = _read_block(raw, pos, end, line, catalogue, columns, refusals)
    return _finish(columns, refusals, catalogue)


def _read_block(
    raw: bytes, start: int, end: int, first_line: int, catalogue: _Catalogue, out: _Columns, refusals: list[Refusal]
) -> tuple[int, int]:
    """Read the lines in raw[start:end] (which ends after a line end or at EOF). Returns where
    the next block starts, and its line number (a quoted field may carry a row past `end`)."""
    block = np.frombuffer(raw, dtype=np.uint8, count=end - start, offset=start)
    newlines = np.flatnonzero(block == 10)
    starts = np.concatenate(([0], newlines + 1))
    if starts[-1] == len(block):
        starts = starts[:-1]
    ends = np.append(newlines, len(block))[: len(starts)]  # exclusive, without the \n
    count = len(starts)
    lines = np.arange(first_line, first_line + count, dtype=np.int64)
    cr = (ends > starts) & (block[np.maximum(ends - 1, 0)] == 13)
    ends_text = ends - cr  # without the \r either

    # lines holding a quote, a NUL or a non-ASCII byte: few, so found by position
    odd_at = np.flatnonzero((block == 34) | (block == 0) | (block >= 128))
    has_odd = np.zeros(count, dtype=bool)
    has_quote = np.zeros(count, dtype=bool)
    if len(odd_at):
        odd_line = np.searchsorted(starts, odd_at, side="right") - 1
        has_odd[odd_line] = True
        has_quote[odd_line[block[odd_at] == 34]] = True
    comma_at = np.flatnonzero(block == 44)
    first_comma = np.searchsorted(comma_at, starts)
    commas_per_line = np.diff(first_comma, append=len(comma_at))

    taken = np.zeros(count, dtype=bool)  # lines already read as part of a quoted record
    slow_rows: list[tuple[int, int, int, int, float]] = []  # line, service, signal, at_ms, value
    next_start, next_line = end, first_line + count
    if has_quote.any():
        resume = 0
        for index in np.flatnonzero(has_quote).tolist():
            if index < resume:
                continue
            byte_start = start + int(starts[index])
            reader = _ByteLines(raw, byte_start)
            record = next(iter_records(reader, int(lines[index])))
            used = len(record.raw)
            taken[index : index + used] = True
            resume = index + used
            _slow_row(record, catalogue, slow_rows, refusals)
            if index + used > count:  # the quoted record ran past this block
                next_start, next_line = reader.pos, int(lines[index]) + used
                break

    candidate = ~taken & ~has_odd & (commas_per_line == 3)
    fast_ok = np.zeros(count, dtype=bool)
    if candidate.any():
        which = np.flatnonzero(candidate)
        k = first_comma[which]
        ok, service, signal, at_ms, value = _fast_rows(
            block, starts[which], comma_at[k], comma_at[k + 2], ends_text[which], catalogue
        )
        fast_ok[which[ok]] = True
        fast = (service[ok], signal[ok], at_ms[ok], value[ok], lines[which[ok]])
    else:
        fast = None

    for slow_index in np.flatnonzero(~fast_ok & ~taken).tolist():
        text = raw[start + int(starts[slow_index]) : start + int(ends[slow_index]) + 1].decode("utf-8", "surrogateescape")
        record = next(iter_records([text], int(lines[slow_index])))
        _slow_row(record, catalogue, slow_rows, refusals)

    if slow_rows:
        slow_rows.sort()  # quoted records were read first: back to line order
        slow = (
            np.array([r[1] for r in slow_rows], dtype=np.int64),
            np.array([r[2] for r in slow_rows], dtype=np.int64),
            np.array([r[3] for r in slow_rows], dtype=np.int64),
            np.array([r[4] for r in slow_rows], dtype=np.float64),
            np.array([r[0] for r in slow_rows], dtype=np.int64),
        )
        if fast is None:
            out.add(*slow)
        else:
            both = [np.concatenate((f, s)) for f, s in zip(fast, slow, strict=True)]
            order = np.argsort(both[4], kind="stable")
            out.add(*(column[order] for column in both))
    elif fast is not None:
        out.add(*fast)
    return next_start, next_line


class _ByteLines:
    """Physical lines of raw[pos:], decoded as the slow path decodes them; `pos` follows."""

    def __init__(self, raw: bytes, pos: int):
        self.raw, self.pos = raw, pos

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.raw):
            raise StopIteration
        end = self.raw.find(b"\n", self.pos)
        end = len(self.raw) if end < 0 else end + 1
        text = self.raw[self.pos : end].decode("utf-8", "surrogateescape")
        self.pos = end
        return text


def _slow_row(
    record: Record, catalogue: _Catalogue, rows: list[tuple[int, int, int, int, float]], refusals: list[Refusal]
) -> None:
    result = check_record(record, (0, 1, 2, 3), SAMPLE_COLUMNS)
    if result is None:
        return
    if isinstance(result, Refusal):
        refusals.append(result)
        return
    assert isinstance(result, Row)
    try:
        service, sig, at_ms, value = check_sample(result.fields, catalogue.known)
    except InvalidValue as exc:
        refusals.append(Refusal(result.line, str(exc)))
        return
    rows.append((result.line, catalogue.index[service], sig, at_ms, value))


_TS_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]  # YYYY-MM-DD?HH:MM:SS
_TS_SEPARATORS = [4, 7, 13, 16]
_TS_SEPARATOR_BYTES = np.array([45, 45, 58, 58], dtype=np.uint8)  # - - : :


def _horner(digits: np.ndarray) -> np.ndarray:
    """Rows of digit values (uint8) → the numbers they write, as int64. (Explicit loops over
    columns: numpy's matrix product of uint8 is slow and would start BLAS threads.)"""
    columns = np.ascontiguousarray(digits.T)
    number: np.ndarray = columns[0].astype(np.int64)
    for column in columns[1:]:
        number *= 10
        number += column
    return number


def _fast_rows(
    block: np.ndarray,
    starts: np.ndarray,
    comma0: np.ndarray,
    comma2: np.ndarray,
    ends: np.ndarray,
    catalogue: _Catalogue,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised reading of lines `timestamp,service,signal,value` that need no care. Returns
    `ok` (the rows proved valid) and their service index, signal index, at_ms and value; a
    row not ok is handed to the careful path, whatever its problem.

    Numbers are built from digits in int64, exactly."""
    padded = np.concatenate((np.zeros(_VALUE_WIDTH, dtype=np.uint8), block, np.zeros(_PAD, dtype=np.uint8)))
    shift = _VALUE_WIDTH  # index of block[0] in padded
    n = len(starts)
    rows = np.arange(n)

    # --- timestamp
    ts_len = comma0 - starts
    ts = sliding_window_view(padded, _TS_WIDTH)[starts + shift]
    digit_of = ts - np.uint8(48)  # wraps round for bytes below '0'
    is_digit = digit_of < 10
    ok = is_digit[:, _TS_DIGITS].all(axis=1)
    ok &= (ts[:, _TS_SEPARATORS] == _TS_SEPARATOR_BYTES).all(axis=1)
    ok &= (ts[:, 10] == 84) | (ts[:, 10] == 32)  # T or space
    year = _horner(digit_of[:, 0:4])
    month, day, hour, minute, second = (_horner(digit_of[:, at : at + 2]) for at in (5, 8, 11, 14, 17))
    has_fraction = ts[:, 19] == 46
    fraction_digit = is_digit[:, 20:27]
    fraction_len = np.where(fraction_digit.all(axis=1), 7, fraction_digit.argmin(axis=1))
    fraction_len = np.where(has_fraction, fraction_len, 0)
    ok &= ~has_fraction | ((fraction_len >= 1) & (fraction_len <= 6))
    first3 = np.where(np.arange(3) < fraction_len[:, None], digit_of[:, 20:23], 0)
    millis = _horner(first3)
    zone_at = np.minimum(np.where(has_fraction, 20 + fraction_len, 19), _TS_WIDTH - 6)
    zone_part = ts[rows[:, None], zone_at[:, None] + np.arange(6)]  # Z, or ±HH:MM
    zone = zone_part[:, 0]
    is_z = (zone == 90) & (ts_len == zone_at + 1)
    off_digits = zone_part[:, [1, 2, 4, 5]] - np.uint8(48)
    off_h, off_m = _horner(off_digits[:, 0:2]), _horner(off_digits[:, 2:4])
    is_offset = ((zone == 43) | (zone == 45)) & (ts_len == zone_at + 6) & (zone_part[:, 3] == 58)
    is_offset &= (off_digits < 10).all(axis=1) & (off_h <= 23) & (off_m <= 59)
    ok &= is_z | is_offset
    offset_ms = np.where(is_offset, (off_h * 60 + off_m) * 60_000, 0) * np.where(zone == 45, -1, 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    days_in_month = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    ok &= month_ok & (day >= 1) & (day <= days_in_month) & (hour <= 23) & (minute <= 59) & (second <= 59)
    # days since 1970-01-01 (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    at_ms = (((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + millis - offset_ms
    # strictly before LATEST_MS: 2100-01-01T00:00:00.0004Z is refused, but is LATEST_MS here
    ok &= (at_ms >= EARLIEST_MS) & (at_ms < LATEST_MS)
    del ts, digit_of, is_digit, zone_part

    # --- service,signal: one of the catalogue's byte keys
    key_len = comma2 - comma0 - 1
    width = catalogue.width
    key_window = sliding_window_view(padded, width)[comma0 + 1 + shift]
    keys = np.where(np.arange(width) < key_len[:, None], key_window, np.uint8(0))
    keys = np.ascontiguousarray(keys).view(f"S{width}").ravel()
    if len(catalogue.keys):
        found = np.minimum(np.searchsorted(catalogue.keys, keys), len(catalogue.keys) - 1)
        ok &= (catalogue.keys[found] == keys) & (key_len <= width)
        service = catalogue.key_service[found]
        signal = catalogue.key_signal[found]
    else:
        ok[:] = False
        service = signal = np.zeros(n, dtype=np.int64)
    del keys, key_window

    # --- value: digits with at most one inner '.', at most 15 characters. The window ends
    # with the value's last character; A = sum of digit * 10**(places to the right) counts
    # the dot as a place, so digits left of the dot are ten times too big: A = 10*L + R.
    value_len = ends - comma2 - 1
    text = sliding_window_view(padded, _VALUE_WIDTH)[ends + shift - _VALUE_WIDTH]
    inside = np.arange(_VALUE_WIDTH) >= (_VALUE_WIDTH - value_len)[:, None]
    digit_of = text - np.uint8(48)
    digit = inside & (digit_of < 10)
    dot = inside & (text == 46)
    n_digits = digit.sum(axis=1)
    n_dots = dot.sum(axis=1)
    right = _VALUE_WIDTH - 1 - dot.argmax(axis=1)  # characters right of the dot
    ok &= (value_len >= 1) & (value_len <= _VALUE_WIDTH) & (n_digits + n_dots == value_len)
    ok &= (n_dots == 0) | ((n_dots == 1) & (right >= 1) & (right <= value_len - 2))
    whole = _horner(np.where(digit, digit_of, np.uint8(0)))  # < 10**15, exact
    decimals = np.where(n_dots == 1, right, 0)
    below = whole % _POW10_INT[decimals]
    mantissa = (whole - below) // np.where(n_dots == 1, 10, 1) + below
    # an integer below 2**53 over an exact power of ten: one correctly rounded division,
    # the same double that float() gives for the text
    value = mantissa.astype(np.float64) / _POW10_FLOAT[decimals]
    ok &= (signal != _UP) | (value == 0.0) | (value == 1.0)
    return ok, service, signal, at_ms, value


def _finish(columns: _Columns, refusals: list[Refusal], catalogue: _Catalogue) -> SampleParse:
    service, signal, at_ms, value, lines = columns.joined()
    accepted = len(lines)

    # good ≤ total, against the last valid total of the same service and instant
    is_total = signal == _TOTAL
    if is_total.any() and (signal == _GOOD).any():
        t_key = (service[is_total] << _AT_BITS) | at_ms[is_total]
        t_value, t_line = value[is_total], lines[is_total]
        order = np.argsort(t_key, kind="stable")
        t_key, t_value, t_line = t_key[order], t_value[order], t_line[order]
        last = np.append(t_key[1:] != t_key[:-1], True)
        t_key, t_value, t_line = t_key[last], t_value[last], t_line[last]
        goods = np.flatnonzero(signal == _GOOD)
        g_key = (service[goods] << _AT_BITS) | at_ms[goods]
        found = np.minimum(np.searchsorted(t_key, g_key), len(t_key) - 1)
        above = (t_key[found] == g_key) & (value[goods] > t_value[found])
        if above.any():
            for g, t in zip(goods[above], found[above]):
                reason = _good_above_total(
                    float(value[g]), float(t_value[t]), int(t_line[t]), catalogue.names[service[g]], int(at_ms[g])
                )
                refusals.append(Refusal(int(lines[g]), reason))
            keep = np.ones(len(lines), dtype=bool)
            keep[goods[above]] = False
            service, signal, at_ms, value, lines = (c[keep] for c in (service, signal, at_ms, value, lines))
            accepted -= int(above.sum())

    # the later line wins for the same (service, signal, instant)
    key = (((service << 2) | signal) << _AT_BITS) | at_ms
    if len(key) > 1:
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        repeated = sorted_key[1:] == sorted_key[:-1]
        if repeated.any():
            keep = np.ones(len(key), dtype=bool)
            keep[order[:-1][repeated]] = False  # every entry followed by an equal key loses
            service, signal, at_ms, value, lines = (c[keep] for c in (service, signal, at_ms, value, lines))

    refusals.sort(key=lambda r: r.line)
    names = np.array(catalogue.names, dtype=object)
    return SampleParse(
        service=names[service] if len(names) else np.empty(0, dtype=object),
        signal=np.array(SIGNALS, dtype=object)[signal],
        at_ms=at_ms,
        value=value,
        lines=lines,
        refusals=refusals,
        accepted=accepted,
    )
