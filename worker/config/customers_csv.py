"""`customers.csv` → one mapping node per row, so that a row is read and checked by the same
reader as a YAML customer (`customers.customer`) and its ids join the YAML's in one index.

A region with 1,500 GP practices keeps them in a spreadsheet, not in hand-written YAML. Each
cell becomes a node placed at its row's line with the column as its path, so a problem reads
`customers.csv:14: kind: must be one of …`. The header is required and checked first: a
missing, unknown or repeated column is refused, and the rows are then not read (which cell is
which is not known), so the header's problems are listed alone.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from worker.config.customers import CSV_FILE
from worker.config.places import At, Problem, Refused, suggest

COLUMNS = ("id", "name", "kind", "ods_code", "pays", "reports", "alerts")
_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_MAP = "tag:yaml.org,2002:map"


def csv_path(directory: Path) -> Path | None:
    """The directory's customers.csv, if it has one."""
    path = directory / CSV_FILE
    return path if path.is_file() else None


def read_rows(path: Path) -> tuple[list[At], list[Problem]]:
    """Every well-formed data row as a mapping of its columns (an empty cell is an absent
    field), and the rows refused for their cell count; raises `Refused` when the file itself
    cannot be read (encoding, CSV syntax, header)."""
    try:
        content = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is fine
    except UnicodeDecodeError:
        raise Refused(placed=[Problem(CSV_FILE, 1, "", "is not UTF-8 text (save it as CSV UTF-8)")]) from None
    except OSError as exc:
        raise Refused(placed=[Problem(CSV_FILE, None, "", f"cannot be read: {exc.strerror}")]) from None
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        lines = _numbered(reader)
    except csv.Error as exc:
        raise Refused(placed=[Problem(CSV_FILE, reader.line_num, "", f"CSV syntax error: {exc}")]) from None
    if not lines:
        raise Refused(placed=[Problem(CSV_FILE, 1, "", f"is empty: it needs the header line {','.join(COLUMNS)}")])
    header_line, header = lines[0]
    problems = _header_problems(header_line, header)
    if problems:
        raise Refused(placed=problems)
    columns = [cell.strip() for cell in header]
    rows: list[At] = []
    for line, cells in lines[1:]:
        if len(cells) != len(columns):
            problems.append(
                Problem(CSV_FILE, line, "", f"has {len(cells)} cells, but the header has {len(columns)} columns")
            )
            continue
        rows.append(At(_mapping(line, columns, cells), CSV_FILE, ""))
    return rows, problems


def _numbered(reader: Any) -> list[tuple[int, list[str]]]:
    """Rows with the line each starts on (a quoted cell may span lines); blank lines skipped."""
    found = []
    ended = 0
    for cells in reader:
        start, ended = ended + 1, reader.line_num
        if any(cell.strip() for cell in cells):
            found.append((start, cells))
    return found


def _header_problems(line: int, header: list[str]) -> list[Problem]:
    names = [cell.strip() for cell in header]
    problems = []
    seen: set[str] = set()
    for written in names:
        if written in seen:
            problems.append(Problem(CSV_FILE, line, written, "this column appears twice in the header"))
        elif written not in COLUMNS:
            hint = suggest(written, COLUMNS) or f"; the columns are {','.join(COLUMNS)}"
            problems.append(Problem(CSV_FILE, line, written or "''", f"unknown column{hint}"))
        seen.add(written)
    for column in COLUMNS:
        if column not in seen:
            problems.append(
                Problem(CSV_FILE, line, column, f"column missing from the header (the columns are {','.join(COLUMNS)})")
            )
    return problems


def _mapping(line: int, columns: list[str], cells: list[str]) -> yaml.MappingNode:
    mark = yaml.Mark(CSV_FILE, 0, line - 1, 0, None, 0)
    pairs = []
    for column, cell in zip(columns, cells, strict=True):
        value = cell.strip()
        key = yaml.ScalarNode(_STR, column, mark, mark)
        pairs.append((key, yaml.ScalarNode(_STR if value else _NULL, value, mark, mark)))
    return yaml.MappingNode(_MAP, pairs, mark, mark)
