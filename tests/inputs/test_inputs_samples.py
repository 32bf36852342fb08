"""Samples CSV (SPEC section 5): row rules, file rules, and the fast path against the slow one."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from worker.inputs import samples as samples_module
from worker.inputs.common import Refusal
from worker.inputs.samples import SampleParse, parse_samples, parse_samples_slow

GOLDEN = Path("/work/shared/golden/trust-2026-10")
SERVICES = ["epr", "pacs", "email", "portal", "wifi", "servicedesk", "e"]
HEADER = "timestamp,service,signal,value"


def csv(*rows: str, header: str = HEADER, end: str = "\n") -> bytes:
    return (end.join([header, *rows]) + end).encode()


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def rows_of(result: SampleParse) -> list[tuple[int, str, str, int, float]]:
    return [
        (int(line), str(service), str(signal), int(at), float(value))
        for line, service, signal, at, value in zip(
            result.lines, result.service, result.signal, result.at_ms, result.value
        )
    ]


@pytest.fixture(params=["fast", "slow"])
def parse(request):
    """Every behaviour holds for both readings."""
    return parse_samples if request.param == "fast" else parse_samples_slow


def test_valid_rows_become_numpy_columns_in_file_order(parse):
    result = parse(csv("2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:00:00Z,epr,latency_ms,812.5",
                       "2026-10-01T00:00:00Z,wifi,total,10", "2026-10-01T00:00:00Z,wifi,good,9"), SERVICES)
    assert result.refusals == [] and result.accepted == 4 and len(result) == 4
    assert rows_of(result) == [
        (2, "epr", "up", ms("2026-10-01T00:00:00+00:00"), 1.0),
        (3, "epr", "latency_ms", ms("2026-10-01T00:00:00+00:00"), 812.5),
        (4, "wifi", "total", ms("2026-10-01T00:00:00+00:00"), 10.0),
        (5, "wifi", "good", ms("2026-10-01T00:00:00+00:00"), 9.0),
    ]
    assert result.at_ms.dtype == np.int64 and result.value.dtype == np.float64
    assert result.lines.dtype == np.int64 and result.service.dtype == object and result.signal.dtype == object


def test_row_without_utc_offset_is_refused_and_good_rows_are_kept(parse):
    result = parse(csv("2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:01:00,epr,up,1", "2026-10-01T00:02:00Z,epr,up,0"),
                   SERVICES)
    assert [r[0] for r in rows_of(result)] == [2, 4]
    assert result.accepted == 2
    assert result.refusals == [Refusal(3, 'timestamp "2026-10-01T00:01:00" has no UTC offset (add +01:00: UK summer time on that date)')]


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-10-01T01:00:00+01:00", "2026-10-01T00:00:00+00:00"),
        ("2026-09-30T19:00:00-05:00", "2026-10-01T00:00:00+00:00"),
        ("2026-10-01 00:00:00Z", "2026-10-01T00:00:00+00:00"),
        ("2026-10-01T00:00Z", "2026-10-01T00:00:00+00:00"),
        ("20261001T000000Z", "2026-10-01T00:00:00+00:00"),
        ("2026-10-01T05:30:00+05:30", "2026-10-01T00:00:00+00:00"),
    ],
)
def test_every_iso_form_with_an_offset_is_turned_into_utc(parse, text, utc):
    result = parse(csv(f"{text},epr,up,1"), SERVICES)
    assert result.refusals == [] and int(result.at_ms[0]) == ms(utc)


@pytest.mark.parametrize(
    ("text", "millis"),
    [(".123Z", 123), (".5Z", 500), (".123456Z", 123), (".999999+01:00", 999), (".1239Z", 123)],
)
def test_sub_second_timestamps_keep_millisecond_precision(parse, text, millis):
    result = parse(csv(f"2026-10-01T00:00:00{text},epr,up,1"), SERVICES)
    expected = ms("2026-10-01T00:00:00+00:00") + millis - (3_600_000 if "+01:00" in text else 0)
    assert result.refusals == [] and int(result.at_ms[0]) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1999-12-31T23:59:59Z", 'timestamp "1999-12-31T23:59:59Z" is before 2000-01-01; check the year'),
        ("2000-01-01T00:30:00+01:00", 'timestamp "2000-01-01T00:30:00+01:00" is before 2000-01-01; check the year'),
        ("2100-01-01T00:00:00.001Z", 'timestamp "2100-01-01T00:00:00.001Z" is after 2100-01-01; check the year'),
        ("2100-01-01T00:00:00.0001Z", 'timestamp "2100-01-01T00:00:00.0001Z" is after 2100-01-01; check the year'),
        ("9999-01-01T00:00:00Z", 'timestamp "9999-01-01T00:00:00Z" is after 2100-01-01; check the year'),
    ],
)
def test_far_past_and_far_future_timestamps_are_refused(parse, text, reason):
    result = parse(csv(f"{text},epr,up,1", "2026-10-01T00:00:00Z,epr,up,1"), SERVICES)
    assert result.refusals == [Refusal(2, reason)] and result.accepted == 1


def test_first_and_last_instants_of_the_range_are_accepted(parse):
    result = parse(csv("2000-01-01T00:00:00Z,epr,up,1", "2100-01-01T00:00:00Z,epr,up,1"), SERVICES)
    assert result.refusals == [] and result.accepted == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "timestamp is empty"),
        ("yesterday", 'timestamp "yesterday" is not a date and time such as 2026-10-01T09:00:00+01:00'),
        ("2026-02-30T00:00:00Z", 'timestamp "2026-02-30T00:00:00Z" is not a valid date and time (day is out of range for month)'),
        ("2026-10-01T24:00:00Z", 'timestamp "2026-10-01T24:00:00Z" is not a valid date and time (hour must be in 0..23)'),
        ("2026-10-01", 'timestamp "2026-10-01" has no UTC offset (add +01:00: UK summer time on that date)'),
    ],
)
def test_timestamp_that_is_not_a_date_and_time_is_refused(parse, text, reason):
    result = parse(csv(f"{text},epr,up,1"), SERVICES)
    assert result.refusals == [Refusal(2, reason)] and result.accepted == 0


def test_unknown_service_is_refused(parse):
    result = parse(csv("2026-10-01T00:00:00Z,eprr,up,1", "2026-10-01T00:00:00Z,,up,1", "2026-10-01T00:00:00Z,EPR,up,1"),
                   SERVICES)
    assert result.refusals == [
        Refusal(2, 'unknown service "eprr"'),
        Refusal(3, "service is empty"),
        Refusal(4, 'unknown service "EPR"'),
    ]


def test_unknown_signal_is_refused(parse):
    result = parse(csv("2026-10-01T00:00:00Z,epr,uptime,1", "2026-10-01T00:00:00Z,epr,,1"), SERVICES)
    assert result.refusals == [
        Refusal(2, 'unknown signal "uptime" (expected up, latency_ms, good or total)'),
        Refusal(3, "signal is empty"),
    ]


@pytest.mark.parametrize(
    ("service", "signal", "reason"),
    [
        ("servicedesk", "latency_msx", 'unknown signal "latency_msx" (expected up, latency_ms, good or total)'),
        ("servicedeskx", "latency_ms", 'unknown service "servicedeskx"'),
        ("ep", "up", 'unknown service "ep"'),
        ("epr", "u", 'unknown signal "u" (expected up, latency_ms, good or total)'),
    ],
)
def test_names_that_only_start_like_known_ones_are_refused(parse, service, signal, reason):
    result = parse(csv(f"2026-10-01T00:00:00Z,{service},{signal},1"), ["epr", "servicedesk", "e"])
    assert result.refusals == [Refusal(2, reason)]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("NaN", 'value "NaN" is not a finite number'),
        ("inf", 'value "inf" is not a finite number'),
        ("-Infinity", 'value "-Infinity" is not a finite number'),
        ("1e400", 'value "1e400" is not a finite number'),
        ("abc", 'value "abc" is not a number'),
        ("1_000", 'value "1_000" is not a number'),
        ("0x10", 'value "0x10" is not a number'),
        ("", "value is empty"),
    ],
)
def test_value_must_be_a_finite_number(parse, value, reason):
    result = parse(csv(f"2026-10-01T00:00:00Z,epr,latency_ms,{value}"), SERVICES)
    assert result.refusals == [Refusal(2, reason)]


@pytest.mark.parametrize(("value", "expected"), [("1e3", 1000.0), (".5", 0.5), ("5.", 5.0), ("0.1", 0.1), ("007", 7.0),
                                                 ("+2", 2.0), ("123456789012.345", 123456789012.345),
                                                 ("0.30000000000000004", 0.30000000000000004)])
def test_decimal_forms_are_read_exactly_as_python_reads_them(parse, value, expected):
    result = parse(csv(f"2026-10-01T00:00:00Z,epr,latency_ms,{value}"), SERVICES)
    assert result.refusals == [] and float(result.value[0]) == expected


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("1", True), ("1.0", True), ("0.00", True), ("2", False),
                                          ("0.5", False), ("-1", False)])
def test_up_must_be_0_or_1(parse, value, ok):
    result = parse(csv(f"2026-10-01T00:00:00Z,epr,up,{value}"), SERVICES)
    if ok:
        assert result.refusals == [] and result.accepted == 1
    else:
        assert result.refusals == [Refusal(2, f'signal "up" must be 0 or 1, got {value}')]


@pytest.mark.parametrize("signal", ["latency_ms", "good", "total"])
def test_negative_latency_and_counts_are_refused(parse, signal):
    result = parse(csv(f"2026-10-01T00:00:00Z,wifi,{signal},-3", f"2026-10-01T00:01:00Z,wifi,{signal},0"), SERVICES)
    assert result.refusals == [Refusal(2, f"{signal} must be 0 or more, got -3")] and result.accepted == 1


def test_counts_need_not_be_whole_numbers(parse):
    result = parse(csv("2026-10-01T00:00:00Z,wifi,total,10.5", "2026-10-01T00:00:00Z,wifi,good,9.25"), SERVICES)
    assert result.refusals == [] and list(result.value) == [10.5, 9.25]


def test_good_above_total_refuses_the_good_row_quoting_both_values(parse):
    result = parse(
        csv("2026-10-01T00:00:00Z,wifi,good,12", "2026-10-01T00:00:00Z,wifi,total,10", "2026-10-01T00:01:00Z,wifi,good,12"),
        SERVICES,
    )
    assert result.refusals == [
        Refusal(2, 'good 12 is more than total 10 for service "wifi" at 2026-10-01T00:00:00Z (total on line 3)')
    ]
    assert [r[:3] for r in rows_of(result)] == [(3, "wifi", "total"), (4, "wifi", "good")]
    assert result.accepted == 2


def test_good_equal_to_total_is_accepted(parse):
    result = parse(csv("2026-10-01T00:00:00Z,wifi,total,10", "2026-10-01T00:00:00Z,wifi,good,10"), SERVICES)
    assert result.refusals == [] and result.accepted == 2


def test_good_and_total_are_paired_by_instant_not_by_text(parse):
    result = parse(csv("2026-10-01T01:00:00+01:00,wifi,total,10", "2026-10-01T00:00:00Z,wifi,good,11",
                       "2026-10-01T00:00:00Z,epr,good,11"), SERVICES)
    assert [r.line for r in result.refusals] == [3]  # epr has no total in this file: not checked here


def test_good_is_checked_against_the_total_that_is_kept(parse):
    result = parse(
        csv("2026-10-01T00:00:00Z,wifi,total,5", "2026-10-01T00:00:00Z,wifi,good,8", "2026-10-01T00:00:00Z,wifi,total,9"),
        SERVICES,
    )
    assert result.refusals == [] and result.accepted == 3
    assert [r[0] for r in rows_of(result)] == [3, 4]


def test_same_service_signal_and_instant_twice_the_later_line_wins(parse):
    result = parse(
        csv("2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:01:00Z,epr,up,1", "2026-10-01T01:00:00+01:00,epr,up,0"),
        SERVICES,
    )
    assert result.accepted == 3 and result.refusals == []
    assert rows_of(result) == [
        (3, "epr", "up", ms("2026-10-01T00:01:00+00:00"), 1.0),
        (4, "epr", "up", ms("2026-10-01T00:00:00+00:00"), 0.0),
    ]


def test_refused_later_line_does_not_replace_an_earlier_valid_one(parse):
    result = parse(csv("2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:00:00Z,epr,up,7"), SERVICES)
    assert [r[0] for r in rows_of(result)] == [2] and result.accepted == 1 and len(result.refusals) == 1


def test_missing_header_refuses_the_whole_file(parse):
    result = parse(b"2026-10-01T00:00:00Z,epr,up,1\n", SERVICES)
    assert result.accepted == 0 and len(result) == 0
    assert [r.line for r in result.refusals] == [1] and "timestamp,service,signal,value" in result.refusals[0].reason


def test_columns_in_another_order_are_read_by_name(parse):
    result = parse(csv("up,1,epr,2026-10-01T00:00:00Z", header="signal,value,service,timestamp"), SERVICES)
    assert rows_of(result) == [(2, "epr", "up", ms("2026-10-01T00:00:00+00:00"), 1.0)]


def test_bom_crlf_and_quoted_fields_are_read(parse):
    data = b"\xef\xbb\xbf" + csv('"2026-10-01T00:00:00Z","epr","up","1"', "2026-10-01T00:01:00Z,epr,up,0", end="\r\n")
    result = parse(data, SERVICES)
    assert result.refusals == [] and [r[0] for r in rows_of(result)] == [2, 3]


def test_windows_1252_row_is_refused_and_the_rest_stored(parse):
    data = csv("2026-10-01T00:00:00Z,epr,up,1").replace(b"\n2026", b"\n2026-10-01T00:00:30Z,epr\x92,up,1\n2026")
    result = parse(data, SERVICES)
    assert result.accepted == 1 and result.lines.tolist() == [3]
    assert result.refusals == [Refusal(2, "not UTF-8 text (byte 0x92 at column 25); save the file as UTF-8")]


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(parse):
    result = parse(csv("", "2026-10-01T00:00:00Z,epr,up,1", ",,,", "2026-10-01T00:01:00Z,epr,up,1", "", ""), SERVICES)
    assert result.refusals == [] and result.lines.tolist() == [3, 5]


def test_accepted_plus_refused_is_every_non_blank_row(parse):
    rows = ["2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:00:00Z,epr,up,1", "2026-10-01T00:00:00Z,epr,up,5", "x",
            "2026-10-01T00:00:00Z,wifi,total,1", "2026-10-01T00:00:00Z,wifi,good,2", ""]
    result = parse(csv(*rows), SERVICES)
    assert result.accepted + len(result.refusals) == 6


def test_no_services_means_every_row_is_refused(parse):
    result = parse(csv("2026-10-01T00:00:00Z,epr,up,1"), [])
    assert result.accepted == 0 and result.refusals == [Refusal(2, 'unknown service "epr"')]


def test_a_binary_stream_is_read_like_bytes(parse):
    data = csv("2026-10-01T00:00:00Z,epr,up,1")
    assert rows_of(parse(io.BytesIO(data), SERVICES)) == rows_of(parse(data, SERVICES))


def test_formula_like_text_is_only_text(parse):
    result = parse(csv("=cmd|' /C calc'!A0,epr,up,1", "2026-10-01T00:00:00Z,=1+1,up,1"), SERVICES)
    assert [r.line for r in result.refusals] == [2, 3]


def golden_services() -> list[str]:
    return [s["id"] for s in yaml.safe_load((GOLDEN / "config" / "services.yaml").read_text())["services"]]


def test_golden_samples_file_parses_without_refusals():
    data = (GOLDEN / "samples.csv").read_bytes()
    result = parse_samples(data, golden_services())
    assert result.refusals == []
    assert result.accepted == 251_064 and len(result) == 251_064
    assert set(result.service) == {"epr", "pacs", "email", "portal", "wifi"}
    assert int(result.at_ms[0]) == ms("2026-09-30T22:00:00+00:00")
    slow = parse_samples_slow(data, golden_services())
    assert same(result, slow)


# --------------------------------------------------------------------------- fast == slow


def same(a: SampleParse, b: SampleParse) -> bool:
    return (
        a.refusals == b.refusals
        and a.accepted == b.accepted
        and a.service.tolist() == b.service.tolist()
        and a.signal.tolist() == b.signal.tolist()
        and np.array_equal(a.at_ms, b.at_ms)
        and np.array_equal(a.value.view(np.int64), b.value.view(np.int64))  # bit for bit
        and np.array_equal(a.lines, b.lines)
        and a.at_ms.dtype == b.at_ms.dtype == np.int64
        and a.value.dtype == b.value.dtype == np.float64
        and a.lines.dtype == b.lines.dtype == np.int64
    )


@contextlib.contextmanager
def block_bytes(size: int) -> Iterator[None]:
    saved = samples_module._BLOCK_BYTES
    samples_module._BLOCK_BYTES = size
    try:
        yield
    finally:
        samples_module._BLOCK_BYTES = saved


same_instant = st.sampled_from(  # one instant written four ways: rows that collide
    ["2026-10-01T00:00:00Z", "2026-10-01T01:00:00+01:00", "2026-10-01T00:00:00.000Z", "2026-09-30T19:00:00-05:00"]
)
varied_timestamps = st.builds(
    lambda day, hour, minute, second, fraction, zone, sep: f"2026-10-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}",
    st.integers(1, 2),
    st.integers(0, 23),
    st.sampled_from([0, 1, 59]),
    st.sampled_from([0, 30, 59]),
    st.sampled_from(["", "", ".5", ".123", ".123456", ".1239", ".0"]),
    st.sampled_from(["Z", "Z", "+01:00", "-05:00", "+00:00", "-00:00", "+23:59", "+05:30"]),
    st.sampled_from(["T", "T", " "]),
)
good_timestamps = st.one_of(same_instant, varied_timestamps)
odd_timestamps = st.sampled_from([
    "2026-10-01T00:00:00", "2026-10-01", "2026-10-01T00:00:00z", "2026-02-29T00:00:00Z", "2028-02-29T00:00:00Z",
    "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-10-01T24:00:00Z", "2026-10-01T00:60:00Z",
    "2026-10-01T00:00:60Z", "2026-10-01T00:00:00+24:00", "2026-10-01T00:00:00+01:60", "2026-10-01T00:00:00+0100",
    "2026-10-01T00:00:00+01", "2026-10-01T00:00:00.Z", "2026-10-01T00:00:00.1234567Z", "2026-10-01T00:00:00,5Z",
    "20261001T000000Z", "2026-10-01x00:00:00Z", "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z",
    "2000-01-01T00:59:59+01:00", "2100-01-01T00:00:00Z", "2100-01-01T00:00:00.0004Z", "2100-01-01T00:00:00.001Z",
    "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", " 2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z ", "",
    "２０２６-10-01T00:00:00Z", "2026-10-01T00:00:00+01:00:30", "2026-W40-1T00:00Z",
])
good_values = st.one_of(
    st.sampled_from(["0", "1", "1.0", "0.0", "10", "250", "1.5", "0.25", "999999999999999", "12345678901234.5",
                     "0.000000000000001", "00012", "3.14159265358979"]),
    st.integers(0, 10**15 - 1).map(str),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**6), st.integers(0, 10**8)),
)
odd_values = st.sampled_from([
    "-1", "-0", "+1", "1e3", ".5", "5.", "NaN", "inf", "-inf", "1_0", "0x1", "", " 1", "1 ", "2", "0.5",
    "1234567890123456", "1.234567890123456", "12345678901234567890", "1..2", "1.2.3", ".", "1e400", "１",
    "0.30000000000000004",
])
services = st.sampled_from(["epr", "epr", "wifi", "pacs", "eprr", "", " epr", "EPR", "épr", "servicedesk", "e", "ep", "servicedeskx"])
signals = st.sampled_from(["up", "latency_ms", "good", "total", "good", "total", "UP", "uptime", "", "latency_msx", "u"])


@st.composite
def clean_line(draw) -> str:
    """A row the fast path should take: valid, in the common forms."""
    signal = draw(st.sampled_from(["up", "latency_ms", "good", "total"]))
    value = draw(st.sampled_from(["0", "1", "1.0"])) if signal == "up" else draw(good_values)
    service = draw(st.sampled_from(["epr", "wifi", "pacs", "servicedesk", "e"]))
    return f"{draw(good_timestamps)},{service},{signal},{value}"


@st.composite
def one_fault_line(draw) -> str:
    """A clean row with exactly one field swapped for an odd one: the fast path's edges."""
    fields = draw(clean_line()).split(",")
    place = draw(st.integers(0, 3))
    fields[place] = draw([odd_timestamps, services, signals, odd_values][place])
    return ",".join(fields)


@st.composite
def careful_line(draw) -> str:
    """A valid row the fast path leaves to the careful one (quoted, spaced, non-ASCII …)."""
    timestamp, service, signal, value = draw(clean_line()).split(",")
    changes = draw(st.sets(st.integers(0, 4), min_size=1, max_size=3))
    if 0 in changes:
        service = "épr"
    if 3 in changes:
        value = f"{value}e0"
    if 1 in changes:
        value = f'"{value}"'
    if 2 in changes:
        timestamp = f" {timestamp}"
    if 4 in changes:
        service = f'"{service}\n"'  # a line break inside quotes: the row spans two lines
    return f"{timestamp},{service},{signal},{value}"


@st.composite
def sample_line(draw) -> str:
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        return draw(clean_line())
    if kind == 2:
        return draw(one_fault_line())
    if kind == 3:
        return draw(careful_line())
    timestamp = draw(st.one_of(good_timestamps, good_timestamps, good_timestamps, odd_timestamps))
    value = draw(st.one_of(good_values, good_values, odd_values))
    line = f"{timestamp},{draw(services)},{draw(signals)},{value}"
    shape = draw(st.integers(0, 30))
    if shape == 0:
        return ""
    if shape == 1:
        return ",,,"
    if shape == 2:
        return line + ",extra"
    if shape == 3:
        return line.rsplit(",", 1)[0]
    if shape == 4:
        return line.replace(",", ',"', 1) + '"'  # a quoted service
    if shape == 5:
        return line.replace(",", ',"', 1).replace(",", '\n",', 1)  # a line break inside quotes
    if shape == 6:
        return line + ',"unclosed'
    if shape == 7:
        return line.replace("T", "\x92", 1)
    if shape == 8:
        return line.replace(",", "\x00,", 1)
    if shape == 9:
        return line.replace("e", 'e"', 1)  # a stray quote mid-field
    if shape == 10:
        return line + ("x" * 10_001)
    if shape == 11:
        return "   "
    return line


@st.composite
def sample_file(draw) -> bytes:
    lines = draw(st.lists(sample_line(), max_size=60))
    ending = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = HEADER + ending + ending.join(lines) + draw(st.sampled_from([ending, "", ending * 2]))
    if draw(st.integers(0, 20)) == 0:
        text = text.replace("\n", "\r", 1)  # a lone CR somewhere
    data = text.encode("utf-8", "surrogateescape") if "\x92" not in text else text.replace("\x92", "\udc92").encode(
        "utf-8", "surrogateescape"
    )
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sample_file(), st.sampled_from([1, 7, 40, 100, 200, 8 << 20]))
def test_fast_path_gives_exactly_what_the_slow_path_gives(data, block):
    known = [*SERVICES, "épr"]  # valid rows the fast path never takes
    with block_bytes(block):
        fast = parse_samples(data, known)
    slow = parse_samples_slow(data, known)
    assert same(fast, slow), (fast.refusals, slow.refusals, rows_of(fast), rows_of(slow))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(good_timestamps, st.sampled_from(["up", "latency_ms", "good", "total"]), good_values),
                min_size=1, max_size=40))
def test_fast_path_reads_valid_rows_as_python_does(rows):
    lines = [f"{ts},wifi,{signal},{value if signal != 'up' else int(float(value) > 0)}" for ts, signal, value in rows]
    result = parse_samples(csv(*lines), SERVICES)
    slow = parse_samples_slow(csv(*lines), SERVICES)
    assert same(result, slow)
    for line, at, value in zip(result.lines, result.at_ms, result.value):
        ts, _, _, text = lines[line - 2].split(",")
        expected_ms = (datetime.fromisoformat(ts) - datetime(1970, 1, 1, tzinfo=UTC)) // np.timedelta64(1, "ms").item()
        assert int(at) == expected_ms and float(value) == float(text)


def test_quoted_record_running_over_a_block_boundary_is_read_once():
    rows = ["2026-10-01T00:00:00Z,epr,up,1", '2026-10-01T00:01:00Z,"epr', '",up,1', "2026-10-01T00:02:00Z,epr,up,1",
            '2026-10-01T00:03:00Z,epr,up,"1"']
    data = csv(*rows)
    for size in (1, 5, 30, 40, 60, 1 << 20):
        with block_bytes(size):
            assert same(parse_samples(data, SERVICES), parse_samples_slow(data, SERVICES))


def test_rows_the_fast_path_leaves_keep_file_order_around_quoted_ones():
    # no row here is one the fast path even tries (non-ASCII): the careful path reads them
    # all, the quoted one first
    data = csv("2026-10-01T01:00:00+01:00,épr,up,1", '2026-10-01T00:00:00Z,épr,up,"0"')
    for size in (1, 1 << 20):
        with block_bytes(size):
            result = parse_samples(data, [*SERVICES, "épr"])
        assert same(result, parse_samples_slow(data, [*SERVICES, "épr"]))
        assert result.lines.tolist() == [3] and result.value.tolist() == [0.0] and result.accepted == 2


@pytest.mark.parametrize("service", ["a b", "épr", "epr\x1f", "x,y", 'q"t', "e" * 70])
def test_unusual_catalogue_ids_are_read_the_same_by_both_paths(service):
    rows = ["2026-10-01T00:00:00Z,epr,up,1", f"2026-10-01T00:00:00Z,{service},up,1", f'2026-10-01T00:01:00Z,"{service}",up,1']
    data = csv(*rows)
    assert same(parse_samples(data, [service, "epr"]), parse_samples_slow(data, [service, "epr"]))
