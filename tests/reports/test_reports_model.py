"""Report models and their rendering, from the golden case: the figures of the expected
results (rounded down), the right statuses, the evidence behind them (outages, data gaps,
maintenance ledger, breached incidents) — in the model, the HTML, the text and the PDF."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime, timezone

import numpy as np
import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from worker.domain.model import Catalogue, MaintenanceWindow, ObjectiveType, Result, Status
from worker.reports import evidence, gather
from worker.reports.board.build import build_board_report
from worker.reports.customer.build import build_customer_report
from worker.reports.delivery import render_board, render_customer
from worker.reports.portfolio import portfolio, portfolio_json, portfolio_table
from worker.reports.words import calendar_words, measure_words, percent, review_words
from worker.scoring.intervals import Intervals
from worker.scoring.results import floor2
from worker.storage.engine import read_only

CUSTOMERS = ("acute", "community", "gpfed", "council")
PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def customer_report(engine: Engine, catalogue: Catalogue, customer: str):
    with read_only(engine) as conn:
        inputs = gather.customer_inputs(conn, catalogue, customer, PERIOD, NOW.timestamp())
    return build_customer_report(catalogue, inputs)


def shown(value: float) -> str:
    return f"{floor2(value)}%"


# ------------------------------------------------------------------ the golden customer reports


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_customer_report_shows_the_expected_results_rounded_down_with_their_statuses(
    golden_engine: Engine, golden_catalogue: Catalogue, golden_expected: list[dict], customer: str
):
    report = customer_report(golden_engine, golden_catalogue, customer)
    expected = {r["objective"]: r for r in golden_expected if r["customer"] == customer}
    assert {row.objective.id for row in report.rows} == set(expected)
    for row in report.rows:
        want = expected[row.objective.id]
        assert row.result.value == pytest.approx(want["value"], rel=1e-9)
        assert row.result.status.value == want["status"]
    assert report.final
    counts = report.counts
    assert counts[Status.RED] == sum(r["status"] == "red" for r in expected.values())
    assert counts[Status.GREEN] == sum(r["status"] == "green" for r in expected.values())


def test_a_value_just_below_target_is_shown_below_target(golden_engine: Engine, golden_catalogue: Catalogue):
    report = customer_report(golden_engine, golden_catalogue, "acute")
    epr = next(row for row in report.rows if row.objective.id == "epr-availability")
    # 99.4880… against 99.5: rounded to nearest it would read 99.49, up it would read 99.5.
    assert percent(epr.result.value) == "99.48%"
    assert epr.result.status is Status.RED


def test_incident_table_matches_the_results_and_lists_only_this_customers_breaches(
    golden_engine: Engine, golden_catalogue: Catalogue, golden_expected: list[dict]
):
    for customer in CUSTOMERS:
        report = customer_report(golden_engine, golden_catalogue, customer)
        expected = {r["objective"]: r for r in golden_expected if r["customer"] == customer}
        for row in report.incidents:
            want = expected[row.objective.id]
            assert (row.met, row.met + row.breached) == (want["good"], want["total"])
        breached = {b.id for b in report.breached}
        assert sum(r.breached for r in report.incidents) == len(report.breached)
        # customer-scoped incidents stay with their customer
        assert ("INC1004" in breached) is False or customer == "community"
        assert "INC1003" not in breached or customer == "acute"
        assert "INC1010" not in breached or customer == "gpfed"
        assert "INC1011" not in breached or customer == "council"
    acute = customer_report(golden_engine, golden_catalogue, "acute")
    assert {b.id for b in acute.breached} == {"INC1002", "INC1003", "INC1005", "INC1008"}


def test_no_data_gaps_are_reported_with_the_policy_of_the_agreement(golden_engine: Engine, golden_catalogue: Catalogue):
    report = customer_report(golden_engine, golden_catalogue, "acute")
    pacs = [g for g in report.gaps if g.service == "pacs"]
    assert pacs and pacs[0].policy == "down"
    assert round(pacs[0].counted_s) == 116 * 60
    text = render_customer(golden_engine, golden_catalogue, "acute", PERIOD, NOW).files["report.txt"].decode()
    flat = " ".join(text.split())
    assert (
        "Picture Archiving and Communication System had no data for 1 h 56 m on 21 October (09:04–11:00); "
        "counted as down under this agreement." in flat
    )
    assert "left out of the figures under this agreement" in flat  # EPR ignores missing data


def test_maintenance_ledger_says_what_was_excluded_and_why(golden_engine: Engine, golden_catalogue: Catalogue):
    acute = customer_report(golden_engine, golden_catalogue, "acute")
    by_service = {m.service: m for m in acute.maintenance}
    assert by_service["epr"].excluded is True
    assert "announced 10 days ahead (5 days' notice required): excluded" in by_service["epr"].reasons[0]
    assert by_service["pacs"].excluded is False and "short notice" in by_service["pacs"].reasons[0]
    partners = customer_report(golden_engine, golden_catalogue, "gpfed")
    by_service = {m.service: m for m in partners.maintenance}
    assert "portal" not in by_service  # its emergency work (7 October) was before the agreement began
    assert by_service["email"].excluded is True


def test_largest_outages_come_from_down_samples_inside_counted_time(golden_engine: Engine, golden_catalogue: Catalogue):
    report = customer_report(golden_engine, golden_catalogue, "acute")
    assert report.outages
    assert all(o.counted_s > 0 and o.end_s > o.start_s for o in report.outages)
    assert [o.counted_s for o in report.outages] == sorted((o.counted_s for o in report.outages), reverse=True)
    epr = next(row.result for row in report.rows if row.objective.id == "epr-availability")
    down_epr = sum(o.counted_s for o in report.outages if o.service == "epr")
    assert down_epr == pytest.approx(epr.bad, abs=1.0)  # missing data ignored: bad is the down time


def test_board_report_has_matrix_box_worst_objectives_and_reviews(
    golden_engine: Engine, golden_catalogue: Catalogue, golden_expected: list[dict]
):
    with read_only(golden_engine) as conn:
        results = gather.board_results(conn, PERIOD)
    board = build_board_report(golden_catalogue, PERIOD, results, NOW.timestamp())
    assert [c.id for c in board.customers] == list(CUSTOMERS)
    epr = next(row for row in board.matrix if row.service == "epr")
    assert epr.cells == (Status.RED, Status.RED, None, None)
    assert sum(board.counts.values()) == len(golden_expected)
    assert board.worst and all(w.result.status is not Status.GREEN for w in board.worst)
    assert board.worst[0].result.error_budget_remaining == min(w.result.error_budget_remaining for w in board.worst)
    placed = {s.service for items in board.box.quadrants.values() for s in items}
    assert placed == {"epr", "pacs", "email", "portal", "wifi", "servicedesk"}


def test_pdf_text_contains_the_figures_and_statuses(golden_engine: Engine, golden_catalogue: Catalogue, golden_expected: list[dict]):
    rendered = render_customer(golden_engine, golden_catalogue, "council", PERIOD, NOW)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(rendered.files["report.pdf"])).pages)
    flat = " ".join(text.split())
    for row in (r for r in golden_expected if r["customer"] == "council"):
        assert shown(row["value"]) in flat, row["objective"]
    assert "RED" in flat and "GREEN" in flat
    assert "Moorshire County Council Adult Social Care" in flat
    html = rendered.files["report.html"].decode()
    for row in (r for r in golden_expected if r["customer"] == "council"):
        assert shown(row["value"]) in html


def test_board_pdf_and_html_render(golden_engine: Engine, golden_catalogue: Catalogue):
    rendered = render_board(golden_engine, golden_catalogue, PERIOD, NOW)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(rendered.files["report.pdf"])).pages)
    assert "Objectives most at risk" in text and "Annual review assistant" in text
    assert rendered.files["report.pdf"] == render_board(golden_engine, golden_catalogue, PERIOD, NOW).files["report.pdf"]


# ------------------------------------------------------------------ pure pieces


def test_down_and_gap_runs_merge_consecutive_samples_and_keep_counted_time_only():
    at = np.arange(0.0, 600.0, 60.0)  # samples every minute, 0 … 540
    value = np.array([1, 0, 0, 0, 1, 1, 1, 0, 1, 1], dtype=float)
    counted = Intervals.of([(0.0, 420.0)])
    runs = evidence.down_runs(at, value, 300.0, (0.0, 600.0), counted)
    assert [(r.start_s, r.end_s, r.counted_s) for r in runs] == [(60.0, 240.0, 180.0)]  # 420-480 is outside
    gaps = evidence.gap_runs(np.array([0.0, 60.0, 500.0]), 100.0, (0.0, 700.0), Intervals.of([(0.0, 700.0)]))
    assert [(g.start_s, g.end_s) for g in gaps] == [(160.0, 500.0), (600.0, 700.0)]


def _window(days_ahead: float | None, emergency: bool = False) -> MaintenanceWindow:
    start = datetime(2026, 10, 20, 12, tzinfo=timezone.utc)
    announced = None if days_ahead is None else datetime.fromtimestamp(start.timestamp() - days_ahead * 86400, tz=timezone.utc)
    return MaintenanceWindow("pacs", start, start.replace(hour=14), announced, "Storage fix", emergency)


@pytest.mark.parametrize(
    ("days", "emergency", "excluded", "words"),
    [
        (10, False, True, "announced 10 days ahead (5 days' notice required): excluded"),
        (2, False, False, "short notice, announced 2 days ahead (5 days' notice required): counted in the figures"),
        (10, True, False, "emergency work: counted in the figures"),
        (None, False, False, "never announced: counted in the figures"),
    ],
)
def test_maintenance_decision_words(days, emergency, excluded, words):
    assert evidence.decide(_window(days, emergency), 5 * 86400) == (excluded, words)


def test_words_for_calendars_measures_and_reviews(golden_catalogue: Catalogue):
    assert calendar_words(golden_catalogue.calendars["always"]) == "24/7"
    assert calendar_words(golden_catalogue.calendars["extended"]) == "Mon–Fri 07:00–20:00, Sat 09:00–12:30, not bank holidays"
    objective = golden_catalogue.agreements["core-2026"].objectives[4]
    assert measure_words(objective, golden_catalogue.calendars["office"]).startswith("P2 incidents resolved within 8 h")
    assert review_words(date(2027, 1, 31), date(2026, 11, 1)) == ("next review 31 January 2027", 91)
    assert review_words(date(2027, 1, 30), date(2026, 11, 1))[0] == "review due in 90 days (30 January 2027)"
    assert review_words(date(2026, 10, 30), date(2026, 11, 1))[0].startswith("review overdue by 2 days")


def _result(period: str, value: float, status: Status, budget: float, customer: str = "acute") -> Result:
    return Result(period, "core-2026", customer, "epr", "epr-availability", ObjectiveType.AVAILABILITY, 99.5, None,
                  value, status, value, 100 - value, 100.0, "seconds", 1.0, budget, True)


def test_annual_review_assistant_flags_wide_margins_and_repeated_misses(golden_catalogue: Catalogue):
    from worker.scoring.periods import periods_back

    months = periods_back(PERIOD, 12)
    steady = [_result(p, 99.99, Status.GREEN, 0.98) for p in months]
    shaky = [_result(p, 99.0 if i % 4 == 0 else 99.9, Status.RED if i % 4 == 0 else Status.GREEN, -1.0 if i % 4 == 0 else 0.8, "community") for i, p in enumerate(months)]
    board = build_board_report(golden_catalogue, PERIOD, steady + shaky, NOW.timestamp())
    assert [(h.objective.id, h.customers) for h in board.raise_targets] == [("epr-availability", ("Acute Services Directorate",))]
    assert [(h.months_missed, h.customers) for h in board.attention] == [(3, ("Community Services Directorate",))]


def test_direction_of_travel_compares_the_values_as_shown(golden_catalogue: Catalogue):
    from worker.reports.customer.model import CustomerInputs

    results = [
        _result("2026-08", 99.70, Status.GREEN, 0.4),
        _result("2026-09", 99.801, Status.GREEN, 0.6),
        _result("2026-10", 99.809, Status.GREEN, 0.6),
    ]
    catalogue = replace(
        golden_catalogue,
        agreements={"core-2026": replace(golden_catalogue.agreements["core-2026"], objectives=golden_catalogue.agreements["core-2026"].objectives[:1])},
    )
    report = build_customer_report(catalogue, CustomerInputs("acute", PERIOD, results, (), (), {}, NOW.timestamp()))
    (row,) = report.rows
    assert row.direction == "same"  # 99.80 and 99.80 as shown
    assert [m.value for m in row.previous] == [99.70, 99.801]


def test_portfolio_lists_services_quadrants_and_receivers(golden_catalogue: Catalogue):
    import json

    entries = portfolio(golden_catalogue, date(2026, 11, 1))
    data = json.loads(portfolio_json(entries))
    assert [list(e) for e in data][0] == ["service", "name", "summary", "purpose", "value", "customers"]
    epr = next(e for e in data if e["service"] == "epr")
    assert epr["value"] == ["decisions/internal", "decisions/external", "smarter/internal"]
    assert [(c["customer"], c["agreement"]) for c in epr["customers"]] == [("acute", "core-2026"), ("community", "core-2026")]
    mine = portfolio(golden_catalogue, date(2026, 11, 1), customer="gpfed")
    assert {e.service for e in mine} == {"email", "portal", "wifi", "servicedesk"}
    assert all(r.customer == "gpfed" for e in mine for r in e.customers)
    table = portfolio_table(entries)
    assert "THE BOSTON BOX" in table and "Received by:" in table and "Electronic Patient Record (epr)" in table


def test_an_ended_agreement_is_not_in_the_portfolio(golden_catalogue: Catalogue):
    ended = replace(golden_catalogue.agreements["core-2026"], effective_to=date(2026, 10, 31))
    catalogue = replace(golden_catalogue, agreements={**golden_catalogue.agreements, "core-2026": ended})
    epr = next(e for e in portfolio(catalogue, date(2026, 11, 1)) if e.service == "epr")
    assert epr.customers == ()
