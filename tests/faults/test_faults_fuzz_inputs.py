"""Issue 8 ("Bad input"): property-based fuzzing of the three CSV readers (SPEC section 5,
docs/inputs.md).

Properties:
- any bytes: no reader raises; every refusal has a line ≥ 1 and a non-empty one-line reason;
- good rows mixed with known-bad rows (naive/far dates, NaN/inf/1e309, Windows-1252 bytes,
  huge fields, formula-looking text, wrong field counts) and blank lines: exactly the bad
  lines are refused, accepted + refused = non-blank data rows, the good rows come out exactly
  (the later line wins where the key repeats);
- through `ingest` on a real database the stored samples are exactly the good rows;
- text that a spreadsheet would run as a formula never reaches a CSV for people unescaped.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from worker.config import load_catalogue
from worker.inputs import parse_incidents, parse_maintenance, parse_samples
from worker.inputs.common import EARLIEST_MS, LATEST_MS
from worker.inputs.samples import parse_samples_slow
from worker.render import safe_cell
from worker.storage import sample_codec, tables
from worker.storage.samples import SIGNAL_NAMES
from worker.usecases.ingest import ingest

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10" / "config"
SERVICES = ("epr", "pacs", "email")
CUSTOMERS = ("acute", "community")
FORMULAS = ("=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", '=HYPERLINK("http://x")', "\t=1", "\r=1")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADERS = {
    "samples": b"timestamp,service,signal,value",
    "incidents": b"id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold",
    "maintenance": b"service,start,end,announced,reason,emergency",
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None)


def parse(kind: str, data: bytes):
    if kind == "samples":
        return parse_samples(data, SERVICES)
    if kind == "incidents":
        return parse_incidents(data, SERVICES, CUSTOMERS)
    return parse_maintenance(data, SERVICES)


def check_refusals(refusals) -> None:
    for refusal in refusals:
        assert refusal.line >= 1
        assert refusal.reason.strip()
        assert "\n" not in refusal.reason and "\r" not in refusal.reason


# --------------------------------------------------------------------------- any bytes


@FAST
@given(
    kind=st.sampled_from(sorted(HEADERS)),
    with_header=st.booleans(),
    bom=st.booleans(),
    body=st.binary(max_size=600),
)
def test_any_bytes_never_raise(kind: str, with_header: bool, bom: bool, body: bytes) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + (HEADERS[kind] + b"\n" if with_header else b"") + body
    result = parse(kind, data)
    check_refusals(result.refusals)
    if kind == "samples":
        slow = parse_samples_slow(data, SERVICES)
        assert [(r.line, r.reason) for r in slow.refusals] == [(r.line, r.reason) for r in result.refusals]
        assert slow.accepted == result.accepted


@FAST
@given(
    kind=st.sampled_from(sorted(HEADERS)),
    lines=st.lists(
        st.lists(
            st.one_of(
                st.text(max_size=12),
                st.sampled_from(
                    ["NaN", "inf", "-0", "1e309", "-1e309", "2026-10-01T00:00:00", "\x92", '"', "epr", "P1"]
                ),
            ),
            max_size=9,
        ).map(lambda fields: ",".join(fields)),
        max_size=12,
    ),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1"]),
)
def test_any_text_rows_never_raise(kind: str, lines: list[str], encoding: str) -> None:
    data = HEADERS[kind] + b"\n" + "\n".join(lines).encode(encoding, "replace")
    result = parse(kind, data)
    check_refusals(result.refusals)


# --------------------------------------------------------------------------- building files


def stamp(at_ms: int, offset_min: int, micro: int) -> str:
    """`at_ms` (+ `micro` µs below the millisecond) written with a UTC offset."""
    at = (EPOCH + timedelta(milliseconds=at_ms, microseconds=micro)).astimezone(timezone(timedelta(minutes=offset_min)))
    text = at.isoformat()
    return text.replace("+00:00", "Z") if offset_min == 0 and micro % 2 else text


instants = st.integers(EARLIEST_MS + 31 * 86400_000, LATEST_MS - 14 * 3600_000 - 400 * 86400_000)
offsets = st.sampled_from([0, 60, -300, 330, 840, -720])
micros = st.integers(0, 999)


TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)


def text_value():
    return st.one_of(TEXT, st.sampled_from(FORMULAS))


def csv_line(fields: list[str], pad: bool) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([f" {f} " if pad and '"' not in f else f for f in fields])
    return out.getvalue().encode("utf-8")


@st.composite
def good_sample(draw):
    at = draw(instants)
    signal = draw(st.sampled_from(["up", "latency_ms", "total"]))
    if signal == "up":
        text = draw(st.sampled_from(["0", "1", "1.0", "-0", "0e0", "+1"]))
    else:
        value = draw(
            st.one_of(st.floats(0, 1e300, allow_nan=False, allow_infinity=False), st.integers(0, 10**6).map(float))
        )
        text = draw(
            st.sampled_from([repr(value), format(value, "g") if float(format(value, "g")) == value else repr(value)])
        )
        text = draw(st.sampled_from([text, "-0"])) if value == 0 else text
    service = draw(st.sampled_from(SERVICES))
    fields = [stamp(at, draw(offsets), draw(micros)), service, signal, text]
    return fields, (service, signal, at, float(text))


@st.composite
def good_incident(draw):
    opened = draw(instants)
    later = st.one_of(st.none(), st.integers(0, 400 * 86400_000).map(lambda d: opened + d))
    responded, resolved = draw(later), draw(later)
    hold = draw(st.one_of(st.none(), st.tuples(st.integers(0, 10**9), st.integers(1, 10**9))))
    id_ = draw(text_value()).strip()
    if not id_:
        id_ = "INC" + str(draw(st.integers(0, 99)))
    service, customer = draw(st.sampled_from(SERVICES)), draw(st.sampled_from(("",) + CUSTOMERS))
    priority = draw(st.sampled_from(["P1", "p2", "P3", "p4", "P5"]))
    hold_text = "" if hold is None else f"{stamp(opened + hold[0], 60, 0)}/{stamp(opened + hold[0] + hold[1], 0, 0)}"
    ts = lambda ms: "" if ms is None else stamp(ms, draw(offsets), 0)  # noqa: E731
    fields = [id_, service, customer, priority, ts(opened), ts(responded), ts(resolved), hold_text]
    at = lambda ms: None if ms is None else EPOCH + timedelta(milliseconds=ms)  # noqa: E731
    on_hold = () if hold is None else ((at(opened + hold[0]), at(opened + hold[0] + hold[1])),)
    expected = (id_, service, customer or None, priority.upper(), at(opened), at(responded), at(resolved), on_hold)
    return fields, expected


@st.composite
def good_window(draw):
    start = draw(instants)
    end = start + draw(st.integers(1, 30 * 86400_000))
    announced = draw(st.one_of(st.none(), st.integers(-30 * 86400_000, 0).map(lambda d: start + d)))
    reason = draw(text_value()).strip()
    flag = draw(st.sampled_from(["", "true", "False", "YES", "no", "1", "0"]))
    service = draw(st.sampled_from(SERVICES))
    at = lambda ms: None if ms is None else EPOCH + timedelta(milliseconds=ms)  # noqa: E731
    fields = [
        service,
        stamp(start, draw(offsets), 0),
        stamp(end, 0, 0),
        "" if announced is None else stamp(announced, 60, 0),
        reason,
        flag,
    ]
    return fields, (service, at(start), at(end), at(announced), reason, flag.lower() in ("true", "yes", "1"))


GOOD = {"samples": good_sample(), "incidents": good_incident(), "maintenance": good_window()}

HUGE = "x" * 10_001
GOOD_TEMPLATES = {
    "samples": ["2026-10-01T00:00:00Z", "epr", "latency_ms", "12"],
    "incidents": ["INC1", "epr", "", "P2", "2026-10-05T09:10:00+01:00", "", "2026-10-05T15:00:00+01:00", ""],
    "maintenance": ["epr", "2026-10-11T22:00:00+01:00", "2026-10-12T02:00:00+01:00", "", "upgrade", ""],
}
# (column to spoil, bad text): every one is refused on its own line
BAD_VALUES = {
    "samples": [
        (0, "2026-10-01T00:00:00"),
        (0, "2150-01-01T00:00:00Z"),
        (0, "1999-12-31T23:59:59Z"),
        (0, "0001-01-01T00:00:00+00:00"),
        (0, "9999-12-31T23:59:59Z"),
        (0, "2026-02-30T00:00:00Z"),
        (0, ""),
        (1, "=cmd|' /C calc'!A0"),
        (1, "EPR"),
        (1, HUGE),
        (2, "UP"),
        (2, "@SUM(A1)"),
        (3, "NaN"),
        (3, "nan"),
        (3, "inf"),
        (3, "-inf"),
        (3, "Infinity"),
        (3, "1e309"),
        (3, "-1e309"),
        (3, "-1"),
        (3, "1_000"),
        (3, "0x1"),
        (3, ""),
        (3, "+cmd"),
        (3, "-2+3"),
    ],
    "incidents": [
        (0, ""),
        (0, HUGE),
        (1, "nope"),
        (2, "=cmd|' /C calc'!A0"),
        (3, "P6"),
        (3, ""),
        (4, "2026-10-05T09:10:00"),
        (4, "2150-01-01T00:00:00Z"),
        (4, "1970-01-01T00:00:00Z"),
        (4, "NaN"),
        (6, "2026-10-05T09:00:00+01:00"),
        (6, "inf"),
        (7, "2026-10-05T11:00:00+01:00"),
        (7, "2026-10-05T11:00:00Z/2026-10-05T10:00:00Z"),
        (7, "2026-10-05T11:00:00/2026-10-05T12:00:00"),
        (5, "-0"),
    ],
    "maintenance": [
        (0, "=cmd|' /C calc'!A0"),
        (1, "2026-10-11T22:00:00"),
        (2, "2026-10-11T21:00:00Z"),
        (2, "9999-01-01T00:00:00Z"),
        (1, "1e309"),
        (3, "NaN"),
        (3, "2026-10-01"),
        (5, "maybe"),
        (5, "-0"),
        (4, HUGE),
        (1, "-inf"),
    ],
}


@st.composite
def bad_row(draw, kind: str):
    choice = draw(st.integers(0, len(BAD_VALUES[kind]) + 3))
    fields = list(GOOD_TEMPLATES[kind])
    if choice < len(BAD_VALUES[kind]):
        column, text = BAD_VALUES[kind][choice]
        fields[column] = text
        return csv_line(fields, False)
    if choice == len(BAD_VALUES[kind]):  # a Windows-1252 curly apostrophe in a text field
        fields[1 if kind != "maintenance" else 4] = "it’s"
        return csv_line(fields, False).replace("’".encode(), b"\x92")
    if choice == len(BAD_VALUES[kind]) + 1:
        return csv_line(fields[:-1], False)
    if choice == len(BAD_VALUES[kind]) + 2:
        return csv_line(fields + ["extra"], False)
    return ";".join(fields).encode()


BLANKS = (b"", b"   ", b",,,", b" , ,")


@st.composite
def mixed_file(draw, kind: str, max_rows: int = 25):
    """(file bytes, [(line, expected) of good rows], [lines of bad rows], data rows)."""
    plan = draw(st.lists(st.sampled_from(["good", "good", "bad", "blank"]), max_size=max_rows))
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    parts, goods, bads, line = [HEADERS[kind]], [], [], 1
    for what in plan:
        line += 1
        if what == "blank":
            parts.append(draw(st.sampled_from(BLANKS)))
        elif what == "bad":
            parts.append(draw(bad_row(kind)))
            bads.append(line)
        else:
            fields, expected = draw(GOOD[kind])
            parts.append(csv_line(fields, draw(st.booleans())))
            goods.append((line, expected))
    data = eol.join(parts) + draw(st.sampled_from([b"", eol]))
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, goods, bads


def later_wins(goods, key):
    kept: dict = {}
    for line, expected in goods:
        kept[key(expected)] = (line, expected)
    return kept


@FAST
@given(mixed_file("samples"))
def test_samples_keep_every_good_row_and_refuse_every_bad_one(case) -> None:
    data, goods, bads = case
    for result in (parse_samples(data, SERVICES), parse_samples_slow(data, SERVICES)):
        check_refusals(result.refusals)
        assert [r.line for r in result.refusals] == bads, result.refusals
        assert result.accepted == len(goods)
        assert result.accepted + len(result.refusals) == len(goods) + len(bads)
        kept = sorted(later_wins(goods, lambda e: e[:3]).values())
        got = list(
            zip(
                result.lines.tolist(),
                result.service.tolist(),
                result.signal.tolist(),
                result.at_ms.tolist(),
                result.value.tolist(),
            )
        )
        assert got == [(line, *expected) for line, expected in kept]


@FAST
@given(mixed_file("incidents"))
def test_incidents_keep_every_good_row_and_refuse_every_bad_one(case) -> None:
    data, goods, bads = case
    result = parse_incidents(data, SERVICES, CUSTOMERS)
    check_refusals(result.refusals)
    assert [r.line for r in result.refusals] == bads, result.refusals
    assert result.accepted == len(goods)
    first_seen = list(dict.fromkeys(e[0] for _, e in goods))
    latest = {e[0]: e for _, e in goods}
    got = [
        (i.id, i.service, i.customer, i.priority, i.opened_at, i.responded_at, i.resolved_at, i.on_hold)
        for i in result.incidents
    ]
    assert got == [latest[i] for i in first_seen]
    for incident in result.incidents:
        assert not str(safe_cell(incident.id)).startswith(FORMULA_START)


@FAST
@given(mixed_file("maintenance"))
def test_maintenance_keeps_every_good_row_and_refuses_every_bad_one(case) -> None:
    data, goods, bads = case
    result = parse_maintenance(data, SERVICES)
    check_refusals(result.refusals)
    assert [r.line for r in result.refusals] == bads, result.refusals
    assert result.accepted == len(goods)
    got = [(w.service, w.start_at, w.end_at, w.announced_at, w.reason, w.emergency) for w in result.windows]
    assert got == [e for _, e in goods]
    for window in result.windows:
        assert not str(safe_cell(window.reason)).startswith(FORMULA_START)


# --------------------------------------------------------------------------- special cases


def test_windows_1252_row_is_refused_with_line_and_column_and_other_rows_kept() -> None:
    data = (
        "service,start,end,announced,reason,emergency\n"
        "epr,2026-10-11T22:00:00+01:00,2026-10-12T02:00:00+01:00,,Bob’s upgrade,\n"
        "pacs,2026-10-11T22:00:00+01:00,2026-10-12T02:00:00+01:00,,plain,no\n"
    ).encode("cp1252")
    result = parse_maintenance(data, SERVICES)
    assert [w.service for w in result.windows] == ["pacs"]
    assert [(r.line, r.reason) for r in result.refusals] == [
        (2, "not UTF-8 text (byte 0x92 at column 61); save the file as UTF-8")
    ]


def test_field_beyond_the_csv_module_limit_is_refused_and_the_next_row_kept() -> None:
    data = (
        b"timestamp,service,signal,value\n"
        + b"2026-10-01T00:00:00Z,epr,up,"
        + b"1" * 200_000
        + b"\n"
        + b"2026-10-01T00:01:00Z,epr,up,1\n"
    )
    for result in (parse_samples(data, SERVICES), parse_samples_slow(data, SERVICES)):
        check_refusals(result.refusals)
        assert [r.line for r in result.refusals] == [2]
        assert result.lines.tolist() == [3]


def test_negative_zero_is_zero_not_refused() -> None:
    data = b"timestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,latency_ms,-0\n2026-10-01T00:00:00Z,epr,up,-0.0\n"
    result = parse_samples(data, SERVICES)
    assert result.refusals == [] and result.value.tolist() == [0.0, 0.0]


@given(st.one_of(st.sampled_from(FORMULAS), st.text(max_size=30)))
@settings(max_examples=200, deadline=None)
def test_safe_cell_never_starts_a_formula(text: str) -> None:
    cell = safe_cell(text)
    assert not cell.startswith(FORMULA_START)
    assert cell in (text, "'" + text)


# A lone CR inside a cell is not quoted by csv.writer(lineterminator="\n") (Python 3.11), so
# the round trip below excludes it; results_csv only writes config ids, numbers and enums,
# which cannot hold one (see the report of issue 8).
@given(st.one_of(st.sampled_from(FORMULAS[:-1]), st.text(max_size=30).filter(lambda t: "\r" not in t)))
@settings(max_examples=200, deadline=None)
def test_safe_cell_written_to_csv_never_starts_a_formula(text: str) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([safe_cell(text)])
    (cell,) = next(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert not cell.startswith(FORMULA_START)
    assert cell in (text, "'" + text)


# --------------------------------------------------------------------------- through the database

_CATALOGUE = None


def catalogue():
    global _CATALOGUE
    if _CATALOGUE is None:
        _CATALOGUE = load_catalogue(GOLDEN)
    return _CATALOGUE


def stored_samples(engine) -> dict:
    s, v = tables.sample_days, tables.services
    with engine.connect() as conn:
        rows = conn.execute(select(v.c.id, s.c.signal, s.c.block).join(v, v.c.key == s.c.service_key)).all()
    stored = {}
    for sid, sig, block in rows:
        at_ms, values = sample_codec.decode(block)
        stored.update({(sid, SIGNAL_NAMES[int(sig)], at): value for at, value in zip(at_ms.tolist(), values.tolist())})
    return stored


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=mixed_file("samples", 15), second=mixed_file("samples", 15))
def test_ingested_samples_are_exactly_the_good_rows(engine, first, second) -> None:
    assert set(SERVICES) <= set(catalogue().services)
    with engine.begin() as conn:
        conn.execute(tables.sample_days.delete())
    now = datetime(2026, 11, 1, tzinfo=UTC)
    expected: dict = {}
    for data, goods, bads in (first, second):
        report = ingest(engine, catalogue(), "samples", data, now)
        assert [r.line for r in report.refusals] == bads
        assert report.accepted == len(goods)
        for _, (service, signal, at, value) in goods:
            expected[(service, signal, at)] = value
        got = stored_samples(engine)
        assert got.keys() == expected.keys()
        assert all(got[k] == expected[k] or (math.isnan(got[k]) and math.isnan(expected[k])) for k in got)
