"""Results as text for people and scripts: JSON (SPEC 6, exact), a table and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from worker.domain.model import AgreementKind, Result
from worker.scoring.results import floor2

RESULT_FIELDS = (
    "period", "agreement", "customer", "service", "objective", "type", "target", "warning", "value",
    "status", "good", "bad", "total", "unit", "coverage", "error_budget_remaining", "final", "kind",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def results_json(results: Sequence[Result]) -> str:
    return json.dumps([r.as_json() for r in results], indent=1)


def safe_cell(value: object) -> object:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def results_csv(results: Sequence[Result]) -> str:
    out = io.StringIO()
    # CRLF line ends (RFC 4180): the csv module then quotes any cell holding \r or \n, so no
    # cell can start a new spreadsheet row (and with it a formula).
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_FIELDS)
    for result in results:
        row = result.as_json()
        writer.writerow(["" if row[f] is None else safe_cell(row[f]) for f in RESULT_FIELDS])
    return out.getvalue()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{floor2(value)}%"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{floor2(100 * value)}%"


def results_table(results: Sequence[Result]) -> str:
    """Aligned columns; values rounded down to two decimals as reports show them."""
    header = (
        "agreement", "customer", "objective", "target", "value", "status", "budget left", "coverage", "final", "kind",
    )
    rows = [
        (
            r.agreement, r.customer, r.objective, f"{r.target:g}%", percent(r.value), r.status.value,
            ratio(r.error_budget_remaining), ratio(r.coverage), "yes" if r.final else "so far",
            AgreementKind(r.kind).value,
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in (header, *rows)]
    return "\n".join(lines)
