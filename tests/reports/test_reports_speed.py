"""Practices of one shared agreement (issue 16): each report carries its own site link's
figures, the shared objectives' chart is drawn once per worker process for all of them, and
what is kept from one report for the next (charts, parsed fonts and images, measured texts)
changes no byte of any file: a report made after others is the one made in a fresh process."""

from __future__ import annotations

import io
import textwrap
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.model import AgreementKind, Catalogue, ObjectiveType, Result, Status
from worker.reports import charts, render_pdf
from worker.reports.customer.model import customer_agreements
from worker.reports.delivery import Rendered, render_customer
from worker.reports.document import Document, Paragraph, Section
from worker.scoring.periods import periods_back
from worker.storage import results as result_store

PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CONFIG = """\
    calendars:
      - {id: always, hours: 24x7}
    sources:
      - {id: drop, kind: file_drop, path: var/incoming}
    customers:
      - {id: gp1, name: Riverside Practice, kind: primary-care, ods_code: A81001}
      - {id: gp2, name: Hill Practice, kind: primary-care, ods_code: A81002}
    services:
      - {id: epr, name: Electronic Patient Record, signals: {up: {source: drop}}}
      - {id: site-link, name: Site link, per_customer: true, signals: {up: {source: drop}}}
    agreements:
      - id: practices
        name: Practice SLA
        customers: [gp1, gp2]
        effective: {from: 2025-01-01, to: 2027-12-31}
        objectives:
          - {id: link-up, service: site-link, type: availability, target: 99.0, calendar: always}
          - {id: epr-up, service: epr, type: availability, target: 99.5, calendar: always}
    """
LINK = {"gp1": 99.62, "gp2": 97.31}  # each practice's own site link this month
EPR = 99.87  # the shared record system, the same for both


@pytest.fixture
def catalogue(tmp_path: Path) -> Catalogue:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "region.yaml").write_text(textwrap.dedent(CONFIG))
    return load_catalogue(folder)


def result(catalogue: Catalogue, customer: str, objective: str, period: str, value: float) -> Result:
    found = next(o for a in customer_agreements(catalogue, customer, PERIOD) for o in a.objectives if o.id == objective)
    status = Status.GREEN if value >= found.target else Status.RED
    return Result(
        period, "practices", customer, found.service, objective, ObjectiveType.AVAILABILITY, found.target, None,
        value, status, value, 100 - value, 100.0, "percent", 1.0, None, True, AgreementKind.AGREEMENT,
    )


def twelve_months(engine: Engine, catalogue: Catalogue) -> None:
    """Twelve months of results: the link's differ by practice, the record system's do not."""
    rows = []
    for number, period in enumerate(periods_back(PERIOD, 12)):
        last = period == PERIOD
        for customer, link in LINK.items():
            rows.append(result(catalogue, customer, "link-up", period, link if last else 99.0 + number / 20))
            rows.append(result(catalogue, customer, "epr-up", period, EPR if last else 99.5 + number / 30))
    with engine.begin() as conn:
        result_store.upsert_results(conn, rows, computed_at=NOW)


def fresh_process() -> None:
    """Forget what one report keeps for the next, as a newly started worker process has."""
    charts._drawn.clear()
    render_pdf._parsed_fonts.clear()
    render_pdf._image_infos.clear()
    render_pdf._measured.clear()
    render_pdf._widths.clear()
    render_pdf._measured_cells.clear()
    render_pdf._reduced.clear()


@pytest.fixture
def draws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the charts actually drawn (not taken from the process's cache)."""
    drawn: list[str] = []
    draw = charts._draw

    def counted(chart: charts.ChartSpec) -> bytes:
        drawn.append(chart.name)
        return draw(chart)

    monkeypatch.setattr(charts, "_draw", counted)
    return drawn


def render(engine: Engine, catalogue: Catalogue, customer: str) -> Rendered:
    return render_customer(engine, catalogue, customer, PERIOD, NOW)


def test_practices_of_one_agreement_show_their_own_link_and_share_the_rest(engine: Engine, catalogue: Catalogue, draws: list[str]):
    twelve_months(engine, catalogue)
    fresh_process()
    first, second = render(engine, catalogue, "gp1"), render(engine, catalogue, "gp2")

    texts = {c: r.files["report.txt"].decode() for c, r in (("gp1", first), ("gp2", second))}
    assert "99.62%" in texts["gp1"] and "97.31%" not in texts["gp1"]
    assert "97.31%" in texts["gp2"] and "99.62%" not in texts["gp2"]
    assert all("99.87%" in text for text in texts.values())
    assert "Riverside Practice" in texts["gp1"] and "Hill Practice" in texts["gp2"]

    assert first.files["charts/trend-epr.png"] == second.files["charts/trend-epr.png"]
    assert first.files["charts/trend-site-link.gp1.png"] != second.files["charts/trend-site-link.gp2.png"]
    assert sorted(draws) == ["trend-epr", "trend-site-link.gp1", "trend-site-link.gp2"]  # the shared chart once


def test_a_report_made_after_others_is_byte_for_byte_the_one_a_fresh_process_makes(engine: Engine, catalogue: Catalogue):
    twelve_months(engine, catalogue)
    fresh_process()
    render(engine, catalogue, "gp1")
    after_another = render(engine, catalogue, "gp2").files
    fresh_process()
    alone = render(engine, catalogue, "gp2").files
    assert sorted(after_another) == sorted(alone)
    assert [name for name in sorted(alone) if after_another[name] != alone[name]] == []


def test_a_character_outside_the_usual_ones_is_drawn_from_the_whole_font():
    """The fonts are cut once per process to the characters reports use; a document with
    another character (Ω) is subset from the whole font file, the same bytes as ever."""
    document = Document(
        kind="customer", title="IT service report", subtitle="Ωmega Practice", subject="Ωmega", period=PERIOD,
        meta=(), summary=(), banner="", sections=(Section("Ω", (Paragraph("Resistance in Ω, and ≥ 99.5%."),)),),
        footer=(),
    )
    fresh_process()
    cold = render_pdf.render_pdf(document, {}, date(2026, 11, 1))
    warm = render_pdf.render_pdf(document, {}, date(2026, 11, 1))
    assert warm == cold
    assert "Resistance in Ω" in " ".join(page.extract_text() for page in PdfReader(io.BytesIO(warm)).pages)
