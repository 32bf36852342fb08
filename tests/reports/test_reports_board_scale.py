"""The board report at a regional shared service's size (issue 16): above MATRIX_MAX_CUSTOMERS
customers the customer × service matrix gives way to summaries (by kind, by agreement, the
customers most at risk, how many RED objectives each has) that agree with counts made here,
and every renderer finishes; a PDF table of any width or cell length never ends in a
traceback."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from conftest import GOLDEN, NOW, PERIOD, expected_results, renderer
from pypdf import PdfReader

from worker.config import load_catalogue
from worker.domain.model import AgreementKind, Catalogue, ObjectiveType, Result, Status
from worker.reports.board.build import build_board_report
from worker.reports.board.model import MATRIX_MAX_CUSTOMERS, WORST_CUSTOMERS, BoardReport
from worker.reports.board.view import board_document
from worker.reports.document import Cell, Column, Document, Paragraph, Section, Table
from worker.reports.render_html import render_html
from worker.reports.render_pdf import CUT, render_pdf
from worker.reports.render_text import render_text

PRACTICES = 300
TRUSTS = 5
AGREEMENT = "practices-2026"
OBJECTIVES = (  # (id, service, type, target)
    ("epr-availability", "epr", ObjectiveType.AVAILABILITY, 99.5),
    ("wifi-success", "wifi", ObjectiveType.EVENTS, 99.0),
    ("desk-resolve-p1", "servicedesk", ObjectiveType.INCIDENT_RESOLUTION, 95.0),
)


def regional_catalogue(folder: Path) -> Catalogue:
    """The golden trust plus 300 GP practices and 5 NHS organisations under one shared agreement."""
    shutil.copytree(GOLDEN / "config", folder)
    customers = (folder / "customers.yaml").read_text()
    for i in range(1, PRACTICES + 1):
        customers += f"- id: gp{i:03d}\n  name: Moorside Practice {i:03d}\n  kind: primary-care\n"
    for i in range(1, TRUSTS + 1):
        customers += f"- id: nhs{i}\n  name: Moorshire NHS Trust {i}\n  kind: nhs-organisation\n"
    (folder / "customers.yaml").write_text(customers)
    members = "".join(f"  - gp{i:03d}\n" for i in range(1, PRACTICES + 1)) + "".join(f"  - nhs{i}\n" for i in range(1, TRUSTS + 1))
    agreement = (
        f"- id: {AGREEMENT}\n  name: Regional practices SLA\n  customers:\n{members}"
        "  timezone: Europe/London\n  effective:\n    from: '2026-04-01'\n    to: '2027-03-31'\n  review_due: '2027-01-31'\n"
        "  objectives:\n"
        "  - id: epr-availability\n    service: epr\n    type: availability\n    target: 99.5\n    calendar: always\n"
        "  - id: wifi-success\n    service: wifi\n    type: events\n    target: 99.0\n    calendar: office\n"
        "  - id: desk-resolve-p1\n    service: servicedesk\n    type: incident_resolution\n    priority: P1\n"
        "    within: 4h\n    target: 95\n    calendar: always\n"
    )
    with (folder / "agreements.yaml").open("a") as out:
        out.write(agreement)
    return load_catalogue(folder)


def regional_results(catalogue: Catalogue) -> list[Result]:
    """The golden trust's October results and a seeded mix of statuses for every practice."""
    import json

    results = expected_results(json.loads((GOLDEN / "expected" / f"{PERIOD}.json").read_text()))
    pick = random.Random(16)
    members = catalogue.customer_agreements[AGREEMENT].customers
    for customer in members:
        for objective, service, kind, target in OBJECTIVES:
            status = pick.choices([Status.GREEN, Status.AMBER, Status.RED, Status.NO_DATA], [70, 8, 18, 4])[0]
            budget = None if status is Status.NO_DATA else round(pick.uniform(-3, -0.01) if status is Status.RED else pick.uniform(0, 1), 4)
            value = None if status is Status.NO_DATA else (target - 0.5 if status is Status.RED else target + 0.1)
            results.append(
                Result(PERIOD, AGREEMENT, customer, service, objective, kind, target, None, value, status,
                       0.0, 0.0, 0.0, "%", 1.0, budget, True, AgreementKind.AGREEMENT)
            )
    return results


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalogue, list[Result], BoardReport]:
    catalogue = regional_catalogue(tmp_path_factory.mktemp("regional") / "config")
    results = regional_results(catalogue)
    return catalogue, results, build_board_report(catalogue, PERIOD, results, NOW.timestamp())


def test_above_the_threshold_the_board_sums_customers_up_instead_of_drawing_a_matrix(regional):
    catalogue, results, report = regional
    assert len(report.customers) == 4 + PRACTICES + TRUSTS > MATRIX_MAX_CUSTOMERS
    assert report.summary is not None and report.matrix == ()
    assert report.services == len({r.service for r in results})


def test_the_counts_by_kind_of_customer_agree_with_the_results(regional):
    catalogue, results, report = regional
    kind_of = {c.id: c.kind for c in catalogue.customers.values()}
    expected = {}
    for kind in {kind_of[r.customer] for r in results}:
        mine = [r for r in results if kind_of[r.customer] == kind]
        expected[kind] = (
            len({r.customer for r in mine}),
            dict(Counter(r.status for r in mine)),
            len({r.customer for r in mine if r.status is Status.RED}),
        )
    found = {g.key: (g.customers, {s: n for s, n in g.counts.items() if n}, g.with_red) for g in report.summary.by_kind}
    assert found == expected
    assert report.summary.by_kind[0].key == "primary-care"  # the largest kind first


def test_the_counts_by_agreement_agree_with_the_results(regional):
    _, results, report = regional
    expected = {}
    for agreement in {r.agreement for r in results}:
        mine = [r for r in results if r.agreement == agreement]
        expected[agreement] = (
            len({r.customer for r in mine}),
            dict(Counter(r.status for r in mine)),
            len({r.customer for r in mine if r.status is Status.RED}),
        )
    found = {g.key: (g.customers, {s: n for s, n in g.counts.items() if n}, g.with_red) for g in report.summary.by_agreement}
    assert found == expected and set(found) == {"core-2026", "partners-2026", AGREEMENT}


def test_the_distribution_counts_each_customer_once_by_its_red_objectives(regional):
    _, results, report = regional
    red = Counter(r.customer for r in results if r.status is Status.RED)
    customers = {r.customer for r in results}
    bands = Counter(min(red.get(c, 0), 3) for c in customers)
    assert report.summary.distribution == (("0", bands[0]), ("1", bands[1]), ("2", bands[2]), ("3 or more", bands[3]))
    assert sum(n for _, n in report.summary.distribution) == len(customers)
    assert report.summary.with_red == len(red)


def test_the_customers_most_at_risk_have_the_most_red_objectives_then_the_least_budget(regional):
    _, results, report = regional
    by_customer: dict[str, list[Result]] = {}
    for r in results:
        by_customer.setdefault(r.customer, []).append(r)

    def key(customer: str) -> tuple[int, float]:
        items = by_customer[customer]
        budgets = [r.error_budget_remaining for r in items if r.error_budget_remaining is not None]
        return -sum(r.status is Status.RED for r in items), min(budgets, default=float("inf"))

    expected = sorted(by_customer, key=key)[:WORST_CUSTOMERS]
    assert [s.customer for s in report.summary.worst_customers] == expected
    assert all(s.red == -key(s.customer)[0] for s in report.summary.worst_customers)


def test_every_renderer_finishes_and_says_the_same_figures(regional, tmp_path):
    catalogue, results, report = regional
    document = board_document(report)
    html = render_html(document, {}, lambda name: f"charts/{name}.png")
    text = render_text(document)
    pdf = render_pdf(document, {}, report.issued)
    (tmp_path / "board.pdf").write_bytes(pdf)
    primary = next(g for g in report.summary.by_kind if g.key == "primary-care")
    line = next(x for x in text.splitlines() if x.startswith("Primary care"))
    assert line.split()[2:] == [str(primary.customers), *(str(primary.counts.get(s, 0)) for s in (Status.RED, Status.AMBER, Status.GREEN, Status.NO_DATA)), str(primary.with_red)]
    pdf_text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for output in (html, text, pdf_text):
        for words in ("By kind of customer", "By agreement", "RED objectives per customer", "Customers most at risk", "Regional practices SLA"):
            assert words in output
        assert report.summary.worst_customers[0].name in output
    assert "Part 1 of" not in pdf_text  # nothing needed splitting
    # a long list of customers sharing a figure is how many and the first three names
    assert re.search(r"\d+ customers: Moorside Practice \d+, Moorside Practice \d+, Moorside Practice \d+ and \d+ others", html)
    pages = renderer("pdftoppm")
    subprocess.run([pages, "-png", "-r", "60", "-f", "1", "-l", "3", str(tmp_path / "board.pdf"), str(tmp_path / "page")], check=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 3


def _document(*blocks) -> Document:
    return Document("board", "Wide tables", "", "Wide tables", PERIOD, (), (), "", (Section("A table", tuple(blocks)),), ())


def test_a_table_too_wide_for_the_page_is_drawn_in_parts_without_error():
    columns = (Column("Service", weight=2.0),) + tuple(Column(f"Moorside Practice {i:04d}", "center") for i in range(1500))
    rows = tuple((Cell(f"Service {s}", bold=True),) + tuple(Cell("NO DATA", Status.NO_DATA, "center", True) for _ in range(1500)) for s in range(3))
    pdf = render_pdf(_document(Paragraph("Every practice."), Table(columns, rows)), {}, NOW.date())
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Part 1 of" in text and "Moorside Practice 1499" in text
    assert "Not enough horizontal space" not in text


def test_a_cell_too_long_for_one_page_is_cut_and_says_so():
    names = ", ".join(f"Moorside Practice {i:04d}" for i in range(1500))
    table = Table((Column("Objective"), Column("Customers", weight=3.0)), ((Cell("EPR availability"), Cell(names)),))
    pdf = render_pdf(_document(table), {}, NOW.date())
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "cut: too long for one page" in text and CUT.startswith("…")
