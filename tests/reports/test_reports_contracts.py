"""Suppliers' contract results (SPEC 9.2) are scored beside the customers' results, but they
are not customers' results: the board's counts, matrix and worst list and the portfolio's
receivers hold customers only."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import NOW, PERIOD

from worker.config import load_catalogue
from worker.domain.model import AgreementKind, ObjectiveType, Result, Status
from worker.reports.board.build import build_board_report
from worker.reports.portfolio import portfolio

CASE = Path(__file__).resolve().parents[1] / "golden" / "suppliers-2026-10"
SUPPLIERS = {"hostco", "carrier"}


def case_results() -> list[Result]:
    rows = json.loads((CASE / "expected" / f"{PERIOD}.json").read_text())
    return [
        Result(**{**r, "type": ObjectiveType(r["type"]), "status": Status(r["status"]), "kind": AgreementKind(r["kind"])})
        for r in rows
    ]


def test_the_board_counts_customers_results_and_leaves_the_suppliers_contracts_out():
    catalogue = load_catalogue(CASE / "config")
    results = case_results()
    board = build_board_report(catalogue, PERIOD, results, NOW.timestamp())

    agreement_results = [r for r in results if r.kind == AgreementKind.AGREEMENT]
    assert len(agreement_results) == 22 and len(results) == 25
    assert sum(board.counts.values()) == 22
    assert {c.id for c in board.customers}.isdisjoint(SUPPLIERS)
    assert not any(set(o.customers) & {"Hosted Records Ltd", "North Network Services Ltd", *SUPPLIERS} for o in board.worst)
    assert {o.agreement for o in board.worst}.isdisjoint(catalogue.contracts)
    assert {a.id for a in (*board.reviews, *board.next_reviews)}.isdisjoint(catalogue.contracts)


def test_the_portfolio_lists_customers_not_suppliers_as_receivers():
    catalogue = load_catalogue(CASE / "config")
    entries = portfolio(catalogue, NOW.date())
    receivers = {r.customer for e in entries for r in e.customers}
    assert receivers and receivers.isdisjoint(SUPPLIERS)
