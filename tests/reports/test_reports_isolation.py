"""A customer's report holds its own customer's data only (SPEC 8): every output — HTML (disk
and email), text, PDF text, CSV and the .eml as sent — is searched for every other
customer's id, name, contact addresses, scoped incidents and figures. And a customer name
with HTML in it is escaped everywhere HTML is made."""

from __future__ import annotations

import email
import email.policy
import io
import re
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import Engine

from worker.domain.model import Catalogue, Contacts
from worker.reports import delivery
from worker.reports.mailer import OutboxMailer
from worker.scoring.results import floor2

PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CUSTOMERS = ("acute", "community", "gpfed", "council")
SCOPED_INCIDENTS = {"acute": "INC1003", "community": "INC1004", "gpfed": "INC1010", "council": "INC1011"}


def texts_of(folder: Path, eml: Path) -> dict[str, str]:
    """Every output of one report as text."""
    pdf = " ".join(page.extract_text() for page in PdfReader(io.BytesIO((folder / "report.pdf").read_bytes())).pages)
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    parts = [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload(decode=True)
            parts.append(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(payload)).pages))
        elif part.get_content_maintype() == "text":
            parts.append(part.get_content())
        parts.append(str(part.get_filename() or ""))
    return {
        "report.html": (folder / "report.html").read_text(),
        "email.html": (folder / "email.html").read_text(),
        "report.txt": (folder / "report.txt").read_text(),
        "results.csv": (folder / "results.csv").read_text(),
        "report.pdf": " ".join(pdf.split()),
        "eml": "\n".join(parts),
    }


@pytest.fixture(scope="module")
def outputs(golden_engine: Engine, golden_catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory):
    reports = tmp_path_factory.mktemp("reports")
    outbox = tmp_path_factory.mktemp("outbox")
    found = {}
    for customer in CUSTOMERS:
        (outcome,) = delivery.run_reports(
            golden_engine, golden_catalogue, reports, PERIOD, NOW, customers=[customer], board=False,
            mailer=OutboxMailer(outbox), sender="sla@trust.example.nhs.uk",
        )
        assert outcome.sent_to == golden_catalogue.customers[customer].contacts.reports
        (eml,) = [p for p in outbox.glob("*.eml") if f".{customer}." in p.name]
        found[customer] = texts_of(outcome.directory, eml)
    return found


def shown_values(expected: list[dict], customer: str) -> set[str]:
    return {f"{floor2(r['value'])}%" for r in expected if r["customer"] == customer and r["value"] is not None}


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_a_customers_report_holds_no_id_name_address_incident_or_figure_of_another(
    outputs, golden_catalogue: Catalogue, golden_expected: list[dict], customer: str
):
    mine = shown_values(golden_expected, customer)
    for other in CUSTOMERS:
        if other == customer:
            continue
        who = golden_catalogue.customers[other]
        words = [who.name, *who.contacts.reports, *who.contacts.alerts, SCOPED_INCIDENTS[other]]
        # Figures the other customer has and this one does not (a shared figure is legitimately both's).
        figures = shown_values(golden_expected, other) - mine
        for name, text in outputs[customer].items():
            assert not re.search(rf"(?<![\w-]){re.escape(other)}(?![\w-])", text), f"{other!r} in {customer}'s {name}"
            for word in words:
                assert word not in text, f"{word!r} of {other} in {customer}'s {name}"
            for figure in figures:
                assert figure not in text, f"{other}'s figure {figure} in {customer}'s {name}"


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_a_customers_report_shows_its_own_name_figures_and_scoped_incidents(
    outputs, golden_catalogue: Catalogue, golden_expected: list[dict], customer: str
):
    texts = outputs[customer]
    for figure in shown_values(golden_expected, customer):
        for name in ("report.html", "report.txt", "report.pdf"):
            assert figure in texts[name], f"{figure} missing from {name}"
    assert golden_catalogue.customers[customer].name in texts["report.pdf"]
    assert all(line.split(",")[2] == customer for line in texts["results.csv"].splitlines()[1:])


def test_a_customer_name_with_html_in_it_is_escaped_everywhere(
    seeded_engine: Engine, golden_catalogue: Catalogue, tmp_path: Path
):
    golden_engine = seeded_engine
    nasty = '<script>alert("x")</script> <b>Acute</b> & "Co"'
    acute = replace(golden_catalogue.customers["acute"], name=nasty, contacts=Contacts(reports=("gov@example.nhs.uk",)))
    catalogue = replace(golden_catalogue, customers={**golden_catalogue.customers, "acute": acute})
    (outcome,) = delivery.run_reports(
        golden_engine, catalogue, tmp_path / "reports", PERIOD, NOW, customers=["acute"], board=False,
        mailer=OutboxMailer(tmp_path / "outbox"), sender="sla@trust.example.nhs.uk",
    )
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    texts = texts_of(outcome.directory, eml)
    for name in ("report.html", "email.html"):
        assert "<script>" not in texts[name] and "<b>Acute</b>" not in texts[name]
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in texts[name]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert nasty in message["Subject"]  # a header is plain text, not HTML
    assert nasty in " ".join(texts["report.txt"].split())
    # the board lists every customer: escaped there too
    board = delivery.render_board(golden_engine, catalogue, PERIOD, NOW)
    assert b"<script>" not in board.files["report.html"] and b"&lt;script&gt;" in board.files["report.html"]
