"""Suppliers and underpinning contracts in the reports (SPEC 9.2), on the golden case
suppliers-2026-10 ingested and scored through the pipeline: the customer report marks an
objective missed while the service's supplier missed its contract too, the board report has a
supplier section, and a supplier's scorecard shows its own figures and of the trust's customers
counts only — sent once to the supplier's `contacts.reports`."""

from __future__ import annotations

import email
import email.policy
import html
import io
import json
import os
import re
from pathlib import Path

import pytest
from conftest import NOW, PERIOD, SUPPLIERS
from pypdf import PdfReader
from sqlalchemy import Engine

from worker import cli
from worker.domain.model import Catalogue, Status
from worker.reports import delivery, monthly_delivery
from worker.reports.delivery import Rendered
from worker.reports.words import percent
from worker.storage import reports as report_store
from worker.storage.engine import read_only

SUPPLIER_PART = "the supplier's part: Hosted Records Ltd missed its 99.9 % contract"


def flat(text: str) -> str:
    return " ".join(text.split())


def texts(report: Rendered) -> dict[str, str]:
    """The words of the HTML, text and PDF renderings (tags removed, whitespace folded)."""
    pdf = PdfReader(io.BytesIO(report.files["report.pdf"]))
    return {
        "report.html": flat(html.unescape(re.sub(r"<[^>]+>", " ", report.files["report.html"].decode()))),
        "email.html": flat(html.unescape(re.sub(r"<[^>]+>", " ", report.files["email.html"].decode()))),
        "report.txt": flat(report.files["report.txt"].decode()),
        "report.pdf": flat(" ".join(page.extract_text() for page in pdf.pages)),
    }


@pytest.fixture(scope="module")
def expected() -> list[dict]:
    return json.loads((SUPPLIERS / "expected" / f"{PERIOD}.json").read_text())


@pytest.fixture(scope="module")
def acute(suppliers_engine: Engine, suppliers_catalogue: Catalogue) -> Rendered:
    return delivery.render_customer(suppliers_engine, suppliers_catalogue, "acute", PERIOD, NOW)


@pytest.fixture(scope="module")
def board(suppliers_engine: Engine, suppliers_catalogue: Catalogue) -> Rendered:
    return delivery.render_board(suppliers_engine, suppliers_catalogue, PERIOD, NOW)


@pytest.fixture(scope="module")
def hostco(suppliers_engine: Engine, suppliers_catalogue: Catalogue) -> Rendered:
    return delivery.render_supplier(suppliers_engine, suppliers_catalogue, "hostco", PERIOD, NOW)


# ------------------------------------------------------------------ the customer report


def test_the_acute_report_marks_epr_availability_missed_while_hosted_records_missed_its_contract(
    suppliers_engine: Engine, suppliers_catalogue: Catalogue, acute: Rendered
):
    from worker.reports import gather
    from worker.reports.customer.build import build_customer_report

    with read_only(suppliers_engine) as conn:
        inputs = gather.customer_inputs(conn, suppliers_catalogue, "acute", PERIOD, NOW.timestamp())
    report = build_customer_report(suppliers_catalogue, inputs)
    marked = {row.objective.id: row.supplier_part for row in report.rows if row.supplier_part}
    assert list(marked) == ["epr-availability"]
    epr = next(row for row in report.rows if row.objective.id == "epr-availability")
    assert epr.result.status is Status.RED and percent(epr.result.value) == "99.48%" and epr.result.target == 99.5
    assert marked["epr-availability"].supplier == "Hosted Records Ltd" and marked["epr-availability"].targets == (99.9,)
    for name, text in texts(acute).items():
        assert SUPPLIER_PART in text, name
        assert "Electronic Patient Record, availability (99.48% against 99.5%): " + SUPPLIER_PART in text, name
        # Under the objective and in the sentence below the table (the text table wraps the
        # first in its column, so only the sentence reads whole there).
        assert text.count("the supplier's part") == (1 if name == "report.txt" else 2), name
        # Only the supplier's name and the contract's target: not its figures (the contract's
        # latency value) nor the other supplier.
        assert "99.52%" not in text and "North Network" not in text, name


def test_wifi_is_not_marked_for_the_carrier_where_the_customers_wifi_objective_is_green(
    suppliers_engine: Engine, suppliers_catalogue: Catalogue, expected: list[dict]
):
    for customer in ("council", "gpfed"):
        rendered = delivery.render_customer(suppliers_engine, suppliers_catalogue, customer, PERIOD, NOW)
        wifi = next(r for r in expected if r["customer"] == customer and r["objective"] == "wifi-success")
        assert wifi["status"] == "green"
        for name, text in texts(rendered).items():
            assert "the supplier's part" not in text and "North Network Services Ltd" not in text, name
            assert percent(wifi["value"]) in text, name  # 99.25%: scored as in trust-2026-10
        stored = rendered.files["results.csv"].decode()
        assert "carrier" not in stored and "hostco" not in stored and "contract" not in stored


def test_the_customer_report_csv_holds_the_customers_results_only(acute: Rendered):
    csv_text = acute.files["results.csv"].decode()
    assert "epr-hosting" not in csv_text and "hostco" not in csv_text
    assert csv_text.count("\n") == 1 + 6  # the header and acute's six results


# ------------------------------------------------------------------ the board report


def test_the_board_has_a_supplier_section_with_both_contracts_and_their_statuses(
    suppliers_engine: Engine, suppliers_catalogue: Catalogue, board: Rendered
):
    from worker.reports import gather
    from worker.reports.board.build import build_board_report

    with read_only(suppliers_engine) as conn:
        results = gather.board_results(conn, PERIOD)
    report = build_board_report(suppliers_catalogue, PERIOD, results, NOW.timestamp())
    found = {
        (c.contract.id, c.objective.id): (c.result.status if c.result else None, percent(c.result.value) if c.result else None)
        for c in report.contracts
    }
    assert found == {
        ("epr-hosting-2026", "epr-hosting-availability"): (Status.RED, "99.48%"),
        ("epr-hosting-2026", "epr-hosting-response"): (Status.GREEN, "99.52%"),
        ("wifi-2026", "wifi-success"): (Status.RED, "98.94%"),
    }
    for c in report.contracts:
        assert len(c.statuses) == 12 and c.statuses[-1] is c.result.status and set(c.statuses[:-1]) == {None}
    wifi = next(c for c in report.contracts if c.contract.id == "wifi-2026")
    assert wifi.in_effect[-1] and not any(wifi.in_effect[:-1])  # from 15 October only
    for name, text in texts(board).items():
        start = text.lower().index("suppliers and underpinning contracts")  # the text report's titles are upper case
        section = text[start : text.lower().index("annual review assistant")]
        assert "Hosted Records Ltd" in section and "North Network Services Ltd" in section, name
        # Target, value and status of each row, in configuration order (the text table wraps
        # long cells onto further lines, so the figures are matched in order, not with their ids).
        assert re.search(r"99\.9% 99\.48% RED .*?97% 99\.52% GREEN .*?99\.5% 98\.94% RED", section), name
        if name != "report.txt":  # there a wrapped id is split between lines of other columns
            for word in ("epr-hosting-availability", "epr-hosting-response", "wifi-success", "wifi-2026"):
                assert word in section, (name, word)
            assert "next review 31 January 2029" in section and "no review date set" in section, name
        assert "Twelve months" in section, name


def test_the_board_still_counts_customers_results_only(board: Rendered):
    text = texts(board)["report.txt"]
    assert "22 results this month" in text


# ------------------------------------------------------------------ the supplier's scorecard


def test_the_hostco_scorecard_shows_its_two_contract_objectives_with_their_figures(hostco: Rendered):
    for name, text in texts(hostco).items():
        assert "SUPPLIER SCORECARD" in text and "Hosted Records Ltd" in text, name
        # Target, the two months before (in effect since April, not measured), value, status; in
        # order (the text table wraps long cells onto further lines: there the figures only).
        assert re.search(r"99\.9% not measured not measured 99\.48% RED .*?97% not measured not measured 99\.52% GREEN", text), name
        if name != "report.txt":
            assert re.search(r"Availability, 24/7 epr-hosting-availability 99\.9% not measured", text), name
            assert re.search(r"Response within 1\.5 s, 24/7 epr-hosting-response 97% not measured", text), name
        assert "epr-hosting-2026 1 April 2026 to 31 March 2029 next review 31 January 2029" in text, name
        assert "1 of the trust's 2 objectives to its customers on this service missed its target this month, for 2 of 2 customers" in text, name
        assert "wifi" not in text.lower() and "North Network" not in text, name
    assert hostco.files["subject.txt"].decode() == "Hosted Records Ltd: supplier scorecard for October 2026 (1 RED)"
    csv_lines = hostco.files["results.csv"].decode().splitlines()
    assert len(csv_lines) == 3 and all("hostco" in line and "epr-hosting" in line for line in csv_lines[1:])


def test_a_scorecard_shows_no_customers_name_id_or_figure(
    suppliers_engine: Engine, suppliers_catalogue: Catalogue, hostco: Rendered, expected: list[dict]
):
    carrier = delivery.render_supplier(suppliers_engine, suppliers_catalogue, "carrier", PERIOD, NOW)
    for supplier, rendered in (("hostco", hostco), ("carrier", carrier)):
        own = {percent(r["value"]) for r in expected if r["customer"] == supplier}
        customer_values = {percent(r["value"]) for r in expected if r["kind"] == "agreement"} - own
        assert customer_values  # e.g. acute's EPR latency, 98.63%; council's Wi-Fi, 99.25%
        customers = suppliers_catalogue.customers.values()
        words = {c.name for c in customers} | {c.id for c in customers} | {a for c in customers for a in c.contacts.reports}
        for name, text in {**texts(rendered), "results.csv": rendered.files["results.csv"].decode()}.items():
            lowered = text.lower()
            for word in words:
                assert not re.search(rf"\b{re.escape(word.lower())}\b", lowered), (supplier, name, word)
            for value in customer_values:
                assert value not in text, (supplier, name, value)
            for agreement in suppliers_catalogue.customer_agreements.values():
                assert agreement.name not in text and agreement.id not in text, (supplier, name, agreement.id)
    carrier_text = texts(carrier)["report.txt"]
    assert "98.94%" in carrier_text and "the trust met its one objective to its customers on this service" in carrier_text


def test_report_supplier_send_emails_the_contract_manager_once_and_a_second_run_sends_nothing(
    suppliers_seeded: Engine, database_url: str, tmp_path: Path, monkeypatch, capsys, smtp_factory
):
    server = smtp_factory()
    server.start()
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SLA_") and not n.startswith("SLA_TEST")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SLA_SMTP_PORT", str(server.port))
    monkeypatch.setenv("SLA_SMTP_STARTTLS", "false")
    monkeypatch.setenv("SLA_REPORTS_DIR", str(tmp_path / "reports"))
    args = [
        "report", "--period", PERIOD, "--supplier", "hostco", "--send", "--config", str(SUPPLIERS / "config"), "--db", database_url,
    ]
    assert cli.main(args) == cli.OK
    assert [to for _, to, _ in server.received.messages] == [("contracts@example.nhs.uk",)]
    message = email.message_from_bytes(server.received.messages[0][2], policy=email.policy.default)
    assert message["Subject"] == "Hosted Records Ltd: supplier scorecard for October 2026 (1 RED)"
    attachments = sorted(part.get_filename() for part in message.iter_attachments())
    assert attachments == ["2026-10-supplier-hostco-results.csv", "2026-10-supplier-hostco-scorecard.pdf"]
    assert "sent to contracts@example.nhs.uk" in capsys.readouterr().out

    assert cli.main(args) == cli.OK
    assert len(server.received.messages) == 1
    assert "already sent" in capsys.readouterr().out
    with read_only(suppliers_seeded) as conn:
        stored = report_store.find_report(conn, "supplier", "hostco", PERIOD)
        assert stored is not None and stored.status == report_store.SENT and stored.sends == 1
        assert report_store.sent_totals(conn)["supplier"] == 1
    # The carrier has no contacts.reports: its scorecard is made and filed, never emailed.
    assert cli.main([*args[:4], "carrier", *args[5:]]) == cli.OK
    assert len(server.received.messages) == 1
    assert "no contacts.reports: filed, not emailed" in capsys.readouterr().out


def test_the_monthly_run_sends_the_scorecard_of_a_supplier_with_contacts_once(
    suppliers_seeded: Engine, suppliers_catalogue: Catalogue, tmp_path: Path, smtp_factory
):
    from datetime import datetime, timezone

    from worker.reports.mailer import SmtpMailer

    server = smtp_factory()
    server.start()
    beat = datetime(2026, 11, 1, 7, 30, tzinfo=timezone.utc)
    mailer = SmtpMailer("127.0.0.1", server.port, starttls=False, timeout_s=5)
    reports = tmp_path / "monthly"
    first = monthly_delivery.send_due_reports(suppliers_seeded, suppliers_catalogue, reports, mailer, "sla@trust.example", beat, 6 * 3600.0)
    assert not [o for o in first if o.failed]
    assert {(o.kind, o.customer) for o in first if o.kind == "supplier"} == {("supplier", "hostco")}
    to_supplier = [to for _, to, _ in server.received.messages if to == ("contracts@example.nhs.uk",)]
    assert len(to_supplier) == 1
    count = len(server.received.messages)
    again = monthly_delivery.send_due_reports(suppliers_seeded, suppliers_catalogue, reports, mailer, "sla@trust.example", beat, 6 * 3600.0)
    assert len(server.received.messages) == count and not any(o.sent_to for o in again)


def test_report_refuses_an_unknown_supplier_listing_the_configured_ones(suppliers_engine: Engine, capsys):
    url = suppliers_engine.url.render_as_string(hide_password=False)
    code = cli.main(["report", "--period", PERIOD, "--supplier", "nobody", "--config", str(SUPPLIERS / "config"), "--db", url])
    assert code == cli.BAD
    err = capsys.readouterr().err
    assert "no supplier with id 'nobody' is configured (configured: hostco, carrier)" in err


def test_supplier_is_exclusive_with_customer_and_board(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "--period", PERIOD, "--supplier", "hostco", "--board"])
    assert exit_.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
