"""The compact form of one series' samples over one UTC day: a block of bytes (issue 15).

Pure numpy, no I/O. A block holds a header, the times and the values, each in the cheapest of
a few exact encodings, chosen per block from the data:

- times: *regular* (first instant and one step: nothing per sample, the usual collector or
  minute file), else the gaps between instants as unsigned integers of the smallest width
  that holds the largest gap (1, 2, 4 or 8 bytes);
- values: *runs* of one value (an `up` series is a handful of runs a day), *scaled integers*
  (value × 10^k is an integer for some k ≤ 6: whole milliseconds, counts, one-decimal
  figures) in the smallest signed width that holds them, or raw float64 compressed with zlib
  after a byte shuffle (measured values with many digits).

Every encoding is checked to give back exactly the float64 it was given (an integer is
accepted as scaled only when dividing it by 10^k gives the same double), so nothing SPEC 5
says about values changes. Decoding is `np.frombuffer`, `np.arange` or `np.repeat`: reading
a block costs a few microseconds plus a copy, which is why scoring a month is close to
Prometheus' time (docs/performance.md). Blocks are self-describing: a version byte leads, so a
later encoding can be added without rewriting stored data.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

DAY_MS = 86_400_000
VERSION = 1

_HEADER = struct.Struct("<BBBBIqq")  # version, time mode, value mode, value param, n, first, step/width
_TIME_REGULAR, _TIME_GAPS = 0, 1
_VALUE_RUNS, _VALUE_SCALED, _VALUE_ZLIB = 0, 1, 2
_WIDTHS = (1, 2, 4, 8)
_MAX_DECIMALS = 6
_ZLIB_LEVEL = 1  # level 6 saves ~4% more on measured values and costs ~3× the time


def day_of(at_ms: np.ndarray) -> np.ndarray:
    """The UTC day number (days since 1970-01-01) of each instant, as blocks are keyed."""
    return np.asarray(np.floor_divide(at_ms, DAY_MS), dtype=np.int64)


def encode(at_ms: np.ndarray, values: np.ndarray) -> bytes:
    """One block from samples sorted by strictly increasing `at_ms` (int64) with float64
    values."""
    n = len(at_ms)
    if n == 0:
        raise ValueError("a block holds at least one sample")
    first = int(at_ms[0])
    time_mode, time_param, time_payload = _encode_times(at_ms)
    value_mode, value_param, value_payload = _encode_values(values)
    header = _HEADER.pack(VERSION, time_mode, value_mode, value_param, n, first, time_param)
    return header + time_payload + value_payload


def decode(block: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """(at_ms int64 ascending, values float64) of one block."""
    version, time_mode, value_mode, value_param, n, first, time_param = _HEADER.unpack_from(block)
    if version != VERSION:
        raise ValueError(f"sample block version {version} is not known to this sla-worker (newer data?)")
    offset = _HEADER.size
    if time_mode == _TIME_REGULAR:
        at_ms = first + time_param * np.arange(n, dtype=np.int64)
    else:
        width = time_param
        gaps = np.frombuffer(block, dtype=f"<u{width}", count=n - 1, offset=offset)
        offset += width * (n - 1)
        at_ms = np.empty(n, dtype=np.int64)
        at_ms[0] = first
        np.cumsum(gaps, dtype=np.int64, out=at_ms[1:])
        at_ms[1:] += first
    return at_ms, _decode_values(block, offset, value_mode, value_param, n)


def merge(old: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The samples of both, sorted; at an instant in both the new value wins (SPEC 5)."""
    at_ms = np.concatenate((old[0], new[0]))
    values = np.concatenate((old[1], new[1]))
    order = np.argsort(at_ms, kind="stable")  # stable: at one instant the new sample comes last
    at_ms, values = at_ms[order], values[order]
    last = np.ones(len(at_ms), dtype=bool)
    last[:-1] = at_ms[1:] != at_ms[:-1]
    return at_ms[last], values[last]


# ---------------------------------------------------------------- times


def _encode_times(at_ms: np.ndarray) -> tuple[int, int, bytes]:
    if len(at_ms) == 1:
        return _TIME_REGULAR, 0, b""
    gaps = np.diff(at_ms)
    if (gaps == gaps[0]).all():
        return _TIME_REGULAR, int(gaps[0]), b""
    width = _unsigned_width(int(gaps.max()))
    return _TIME_GAPS, width, gaps.astype(f"<u{width}").tobytes()


def _unsigned_width(largest: int) -> int:
    return next(w for w in _WIDTHS if largest < 1 << (8 * w))


# ---------------------------------------------------------------- values


def _encode_values(values: np.ndarray) -> tuple[int, int, bytes]:
    """The smallest exact encoding: runs, scaled integers or zlib'd float64."""
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    runs_size = 4 + 12 * len(starts)
    scaled = _scaled(values)
    if scaled is not None and scaled[1].nbytes < runs_size:
        decimals, ints = scaled
        return _VALUE_SCALED, decimals * 16 + _WIDTHS.index(ints.itemsize), ints.tobytes()
    if scaled is not None or runs_size <= 8 * len(values) // 4:
        lengths = np.diff(np.r_[starts, len(values)]).astype("<u4")
        return _VALUE_RUNS, 0, struct.pack("<I", len(starts)) + values[starts].astype("<f8").tobytes() + lengths.tobytes()
    shuffled = np.ascontiguousarray(values.astype("<f8").view(np.uint8).reshape(-1, 8).T).tobytes()
    return _VALUE_ZLIB, 0, zlib.compress(shuffled, _ZLIB_LEVEL)


def _scaled(values: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(k, integers) with integers / 10^k == values exactly, k as small as possible; None when
    no k ≤ 6 does it within int64."""
    for decimals in range(_MAX_DECIMALS + 1):
        scale = 10.0**decimals
        scaled = np.rint(values * scale)
        if np.abs(scaled).max() >= 2.0**53:
            return None
        if (scaled / scale == values).all():
            ints = scaled.astype(np.int64)
            lo, hi = int(ints.min()), int(ints.max())
            width = next(w for w in _WIDTHS if -(1 << (8 * w - 1)) <= lo and hi < 1 << (8 * w - 1))
            return decimals, ints.astype(f"<i{width}")
    return None


def _decode_values(block: bytes | memoryview, offset: int, mode: int, param: int, n: int) -> np.ndarray:
    if mode == _VALUE_SCALED:
        decimals, width = divmod(param, 16)
        ints = np.frombuffer(block, dtype=f"<i{_WIDTHS[width]}", count=n, offset=offset)
        return ints / 10.0**decimals if decimals else ints.astype(np.float64)
    if mode == _VALUE_RUNS:
        (count,) = struct.unpack_from("<I", block, offset)
        run_values = np.frombuffer(block, dtype="<f8", count=count, offset=offset + 4)
        lengths = np.frombuffer(block, dtype="<u4", count=count, offset=offset + 4 + 8 * count)
        return np.repeat(run_values.astype(np.float64), lengths)
    if mode == _VALUE_ZLIB:
        shuffled = np.frombuffer(zlib.decompress(block[offset:]), dtype=np.uint8)
        return np.ascontiguousarray(shuffled.reshape(8, n).T).view("<f8").ravel().astype(np.float64)
    raise ValueError(f"unknown sample value encoding {mode}")
