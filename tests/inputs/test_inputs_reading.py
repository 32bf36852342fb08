"""Reading CSV bytes: encoding, header, quoting, line numbers (worker.inputs.common)."""

from __future__ import annotations

import io

import pytest

from worker.inputs.common import COLUMNS, Refusal, Row, detect_kind, read_rows, semicolon_reason, show

SAMPLES = COLUMNS["samples"]


def read(data: bytes, columns=SAMPLES) -> tuple[list[Row], list[Refusal]]:
    items = list(read_rows(data, columns))
    return [i for i in items if isinstance(i, Row)], [i for i in items if isinstance(i, Refusal)]


def test_refusal_describes_itself_as_file_line_reason():
    assert Refusal(12, 'unknown service "eprr"').describe("drop/a.csv") == 'drop/a.csv:12: unknown service "eprr"'


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("timestamp,service,signal,value", "samples"),
        ("timestamp,service,signal,value\r\n", "samples"),
        ("\ufeffTimestamp, Service ,SIGNAL,value\n", "samples"),
        ("value,signal,service,timestamp", "samples"),
        ("id,service,customer,priority,opened_at,responded_at,resolved_at,on_hold", "incidents"),
        ("service,start,end,announced,reason,emergency", "maintenance"),
        ('"service","start","end","announced","reason","emergency"', "maintenance"),
        ("timestamp,service,signal", None),
        ("timestamp,service,signal,value,extra", None),
        ("timestamp,service,signal,value,value", None),
        ("2026-10-01T00:00:00Z,epr,up,1", None),
        ("", None),
    ],
)
def test_detect_kind_tells_the_three_files_apart_by_their_header(header, kind):
    assert detect_kind(header) == kind


def test_rows_come_with_their_line_numbers_in_spec_column_order():
    rows, refusals = read(b"service,value,timestamp,signal\nepr,1,2026-10-01T00:00:00Z,up\npacs,0,2026-10-01T00:01:00Z,up\n")
    assert refusals == []
    assert rows == [
        Row(2, ("2026-10-01T00:00:00Z", "epr", "up", "1")),
        Row(3, ("2026-10-01T00:01:00Z", "pacs", "up", "0")),
    ]


def test_header_names_ignore_case_and_surrounding_spaces():
    rows, refusals = read(b" Timestamp ,SERVICE,Signal, value\r\n2026-10-01T00:00:00Z,epr,up,1\r\n")
    assert refusals == [] and len(rows) == 1


def test_utf8_byte_order_mark_is_accepted():
    rows, refusals = read(b"\xef\xbb\xbftimestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,up,1\n")
    assert refusals == [] and rows[0].fields[0] == "2026-10-01T00:00:00Z"


def test_windows_1252_line_is_refused_naming_the_byte_and_other_lines_go_on():
    data = (
        b"timestamp,service,signal,value\n"
        b"2026-10-01T00:00:00Z,epr,up,1\n"
        b"2026-10-01T00:01:00Z,epr\x92s,up,1\n"  # a curly apostrophe from Excel's plain "CSV"
        b"2026-10-01T00:02:00Z,epr,up,1\n"
    )
    rows, refusals = read(data)
    assert [r.line for r in rows] == [2, 4]
    assert refusals == [Refusal(3, "not UTF-8 text (byte 0x92 at column 25); save the file as UTF-8")]


def test_valid_non_ascii_utf8_text_is_read():
    rows, refusals = read(
        "service,start,end,announced,reason,emergency\nepr,a,b,,Mise à jour – café,\n".encode(),
        COLUMNS["maintenance"],
    )
    assert refusals == [] and rows[0].fields[4] == "Mise à jour – café"


def test_utf16_file_is_refused_as_a_whole():
    rows, refusals = read("timestamp,service,signal,value\n".encode("utf-16"))
    assert rows == [] and refusals == [Refusal(1, "the file is UTF-16 text; save it as CSV UTF-8")]


def test_header_that_is_not_utf8_refuses_the_file():
    rows, refusals = read(b"timest\xe4mp,service,signal,value\n2026-10-01T00:00:00Z,epr,up,1\n")
    assert rows == [] and refusals[0].line == 1 and "not UTF-8" in refusals[0].reason


def test_missing_header_refuses_the_whole_file_listing_the_columns():
    rows, refusals = read(b"2026-10-01T00:00:00Z,epr,up,1\n2026-10-01T00:01:00Z,epr,up,1\n")
    assert rows == []
    assert refusals == [
        Refusal(
            1,
            "missing header: line 1 must name the columns timestamp,service,signal,value "
            '(it reads "2026-10-01T00:00:00Z,epr,up,1")',
        )
    ]


def test_header_with_a_missing_column_is_refused():
    rows, refusals = read(b"timestamp,service,value\n2026-10-01T00:00:00Z,epr,1\n")
    assert rows == []
    assert refusals == [
        Refusal(1, "header refused: missing column signal; expected the columns timestamp,service,signal,value")
    ]


def test_header_with_an_unknown_extra_column_is_refused():
    rows, refusals = read(b"timestamp,service,signal,value,comment\n2026-10-01T00:00:00Z,epr,up,1,x\n")
    assert rows == []
    assert refusals == [
        Refusal(1, 'header refused: unknown column "comment"; expected the columns timestamp,service,signal,value')
    ]


def test_header_with_a_column_twice_is_refused():
    _, refusals = read(b"timestamp,service,signal,value,value\n")
    assert refusals[0].line == 1 and '"value" named more than once' in refusals[0].reason


def test_header_of_another_kind_of_file_says_so():
    _, refusals = read(b"service,start,end,announced,reason,emergency\n")
    assert refusals == [
        Refusal(1, "these are the columns of a maintenance file; expected timestamp,service,signal,value")
    ]


def test_semicolon_separated_file_is_refused_with_a_hint():
    _, refusals = read(b"timestamp;service;signal;value\n2026-10-01T00:00:00Z;epr;up;1\n")
    assert refusals == [Refusal(1, semicolon_reason("timestamp,service,signal,value"))]
    assert "the separator must be a comma" in refusals[0].reason


def test_empty_file_is_refused():
    assert read(b"") == ([], [Refusal(1, "the file is empty; line 1 must be the header timestamp,service,signal,value")])


def test_file_with_only_a_header_has_no_rows_and_no_refusals():
    assert read(b"timestamp,service,signal,value\n") == ([], [])
    assert read(b"timestamp,service,signal,value") == ([], [])


def test_quoted_fields_may_hold_commas_quotes_and_line_breaks():
    data = (
        b"service,start,end,announced,reason,emergency\n"
        b'epr,a,b,,"Upgrade, phase 2",no\n'
        b'epr,a,b,,"The ""big"" one\nsecond line",no\n'
        b"epr,a,b,,after,no\n"
    )
    rows, refusals = read(data, COLUMNS["maintenance"])
    assert refusals == []
    assert [(r.line, r.fields[4]) for r in rows] == [
        (2, "Upgrade, phase 2"),
        (3, 'The "big" one\nsecond line'),
        (5, "after"),
    ]


def test_row_with_the_wrong_number_of_fields_is_refused():
    rows, refusals = read(
        b"timestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,up\n2026-10-01T00:00:00Z,epr,up,1,2\n"
        b"2026-10-01T00:00:00Z,epr,up,1\n"
    )
    assert [r.line for r in rows] == [4]
    assert refusals == [
        Refusal(2, "has 3 fields, expected 4 (timestamp,service,signal,value)"),
        Refusal(3, "has 5 fields, expected 4 (timestamp,service,signal,value)"),
    ]


def test_unclosed_quote_is_refused_with_the_lines_it_swallowed():
    rows, refusals = read(b'timestamp,service,signal,value\n2026-10-01T00:00:00Z,"epr,up,1\n2026-10-01T00:01:00Z,epr,up,1\n')
    assert rows == []
    assert refusals == [
        Refusal(
            2,
            "has 2 fields, expected 4 (timestamp,service,signal,value); this row runs on to line 3 "
            'because of a quote (") that is not closed',
        )
    ]


def test_field_longer_than_ten_thousand_characters_is_refused_and_others_kept():
    long = b"x" * 10_001
    just = b"y" * 10_000
    data = b"service,start,end,announced,reason,emergency\nepr,a,b,," + long + b",no\nepr,a,b,," + just + b",no\n"
    rows, refusals = read(data, COLUMNS["maintenance"])
    assert [r.line for r in rows] == [3]
    assert refusals == [Refusal(2, "reason is 10,001 characters long; the limit is 10,000")]


def test_field_beyond_the_csv_module_limit_is_refused_and_reading_goes_on():
    data = b"timestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,up," + b"1" * 200_000 + b"\n2026-10-01T00:01:00Z,epr,up,1\n"
    rows, refusals = read(data)
    assert [r.line for r in rows] == [3]
    assert refusals == [Refusal(2, "a field is longer than the limit of 10,000 characters")]


def test_blank_lines_and_empty_rows_are_skipped_anywhere():
    data = b"timestamp,service,signal,value\n\n2026-10-01T00:00:00Z,epr,up,1\n,,,\n   \n2026-10-01T00:01:00Z,epr,up,1\n\n\n"
    rows, refusals = read(data)
    assert refusals == [] and [r.line for r in rows] == [3, 6]


def test_fields_lose_their_surrounding_spaces():
    rows, _ = read(b"timestamp,service,signal,value\n 2026-10-01T00:00:00Z , epr,up ,1 \n")
    assert rows[0].fields == ("2026-10-01T00:00:00Z", "epr", "up", "1")


def test_crlf_and_lf_line_ends_both_work_and_count_one_line_each():
    rows, refusals = read(b"timestamp,service,signal,value\r\n2026-10-01T00:00:00Z,epr,up,1\r\n\r\n2026-10-01T00:01:00Z,epr,up,1\n")
    assert refusals == [] and [r.line for r in rows] == [2, 4]


def test_a_binary_stream_is_read_like_bytes():
    data = b"timestamp,service,signal,value\n2026-10-01T00:00:00Z,epr,up,1\n"
    assert read(io.BytesIO(data)) == read(data)  # type: ignore[arg-type]


def test_a_text_stream_is_a_programming_error():
    with pytest.raises(TypeError, match="binary mode"):
        list(read_rows(io.StringIO("timestamp,service,signal,value\n"), SAMPLES))  # type: ignore[arg-type]


def test_long_values_are_cut_in_messages_and_control_characters_escaped():
    assert show("x" * 100) == '"' + "x" * 59 + '…"'
    assert show("a\nb\x00") == '"a\\nb\\x00"'
