"""Delivery: generated once, kept, sent once — to a real SMTP server on loopback, on every
database engine. Every idempotency promise is tested by doing the thing twice."""

from __future__ import annotations

import email
import email.policy
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from worker import cli
from worker.domain.errors import PermanentError
from worker.domain.model import Catalogue
from worker.reports import delivery
from worker.reports import monthly_delivery as fanout
from worker.reports.mailer import OutboxMailer, SmtpMailer
from worker.storage import reports as report_store
from worker.storage.engine import read_only
from worker.storage.tables import results as results_table

PERIOD = "2026-10"
BEAT = datetime(2026, 11, 1, 7, 30, tzinfo=timezone.utc)  # the monthly beat entry: 07:30 on the 1st
GRACE_S = 6 * 3600.0
SENDER = "sla-worker@trust.example.nhs.uk"
CUSTOMERS = ("acute", "community", "gpfed", "council")


def monthly(engine: Engine, catalogue: Catalogue, reports: Path, mailer, now: datetime = BEAT):
    return fanout.send_due_reports(engine, catalogue, reports, mailer, SENDER, now, GRACE_S)


def parsed(server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(data, policy=email.policy.default) for _, _, data in server.received.messages]


def smtp(server) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", server.port, starttls=False, timeout_s=5)


def rows(engine: Engine) -> dict[tuple[str, str], report_store.StoredReport]:
    with read_only(engine) as conn:
        return {(r.kind, r.customer): r for r in report_store.list_reports(conn, PERIOD)}


def test_the_monthly_run_emails_each_customer_once_and_a_second_run_sends_nothing(
    seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path
):
    first = monthly(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server))
    assert not [o for o in first if o.failed]
    messages = parsed(smtp_server)
    assert sorted(m["To"] for m in messages) == sorted(
        ", ".join(golden_catalogue.customers[c].contacts.reports) for c in CUSTOMERS
    )
    assert [to for _, to, _ in smtp_server.received.messages].count(("governance.acute@example.nhs.uk",)) == 1
    assert {(o.kind, o.customer) for o in first} == {("customer", c) for c in CUSTOMERS} | {("board", "")}
    stored = rows(seeded_engine)
    assert all(stored[("customer", c)].status == "sent" and stored[("customer", c)].sends == 1 for c in CUSTOMERS)
    assert stored[("board", "")].status == "filed"

    second = monthly(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server))
    assert len(smtp_server.received.messages) == 4
    assert all(not o.generated and not o.sent_to for o in second)
    with read_only(seeded_engine) as conn:
        assert report_store.sent_totals(conn) == {"customer": 4, "board": 0, "supplier": 0}


def test_resend_sends_again_with_a_new_message_id(seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path):
    monthly(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server))
    again = delivery.run_reports(
        seeded_engine, golden_catalogue, tmp_path, PERIOD, BEAT, customers=["acute"], board=False,
        mailer=smtp(smtp_server), sender=SENDER, resend=True,
    )
    assert again[0].sent_to == ("governance.acute@example.nhs.uk",) and not again[0].generated
    to_acute = [m for m in parsed(smtp_server) if m["To"] == "governance.acute@example.nhs.uk"]
    assert [m["Message-ID"] for m in to_acute] == [
        "<sla-report.customer.acute.2026-10.g1@trust.example.nhs.uk>",
        "<sla-report.customer.acute.2026-10.g2@trust.example.nhs.uk>",
    ]
    assert len(smtp_server.received.messages) == 5


def test_smtp_down_then_up_a_failed_send_is_retried_and_never_duplicated(
    seeded_engine: Engine, golden_catalogue: Catalogue, tmp_path: Path, smtp_factory
):
    server = smtp_factory()  # not started yet: the port refuses connections
    down = monthly(seeded_engine, golden_catalogue, tmp_path, smtp(server))
    assert sorted(o.customer for o in down if o.failed) == sorted(CUSTOMERS)
    stored = rows(seeded_engine)
    assert all(stored[("customer", c)].status == "failed" and stored[("customer", c)].last_error for c in CUSTOMERS)
    server.start()
    try:
        up = monthly(seeded_engine, golden_catalogue, tmp_path, smtp(server))
        assert not [o for o in up if o.failed]
        monthly(seeded_engine, golden_catalogue, tmp_path, smtp(server))
        assert sorted(m["To"] for m in parsed(server)) == sorted(
            ", ".join(golden_catalogue.customers[c].contacts.reports) for c in CUSTOMERS
        )
        assert {r.attempts for (kind, _), r in rows(seeded_engine).items() if kind == "customer"} == {2}
    finally:
        server.stop()


def test_two_runs_at_the_same_time_send_each_report_once(
    seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path
):
    errors: list[BaseException] = []

    def run() -> None:
        try:
            monthly(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(smtp_server.received.messages) == 4
    assert len({m["Message-ID"] for m in parsed(smtp_server)}) == 4


def test_a_claim_left_by_a_dead_process_is_taken_over_with_the_same_message_id(
    seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path
):
    stored, _ = delivery.produce(seeded_engine, golden_catalogue, tmp_path, "customer", "acute", PERIOD, BEAT)
    with seeded_engine.begin() as conn:  # a process claimed it and died before recording the outcome
        claimed = report_store.claim_send(conn, stored.id, BEAT, delivery.STALE_CLAIM_S)
        assert claimed is not None
    fresh = delivery.send(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server), SENDER, stored, BEAT + timedelta(minutes=1))
    assert not fresh.sent_to and fresh.status == "sending"  # a live claim is left alone
    later = BEAT + timedelta(seconds=delivery.STALE_CLAIM_S + 60)
    taken = delivery.send(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server), SENDER, stored, later)
    assert taken.sent_to and taken.status == "sent"
    assert [m["Message-ID"] for m in parsed(smtp_server)] == ["<sla-report.customer.acute.2026-10.g1@trust.example.nhs.uk>"]


def test_the_email_has_text_html_with_cid_charts_a_pdf_and_a_csv(
    seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path
):
    delivery.run_reports(
        seeded_engine, golden_catalogue, tmp_path, PERIOD, BEAT, customers=["gpfed"], board=False,
        mailer=smtp(smtp_server), sender=SENDER,
    )
    (message,) = parsed(smtp_server)
    assert message["Subject"].startswith("North Moor GP Federation: IT service report for October 2026")
    assert message["Auto-Submitted"] == "auto-generated" and message["From"] == SENDER
    types = [part.get_content_type() for part in message.walk()]
    # mixed [alternative [text, related [html, charts]], pdf, csv]
    assert types[:5] == ["multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html"]
    assert "text/html" in types and "application/pdf" in types and "text/csv" in types
    html = message.get_body(("html",)).get_content()
    cids = {part["Content-ID"].strip("<>") for part in message.walk() if part.get_content_type() == "image/png"}
    assert cids and all(f'src="cid:{cid}"' in html for cid in cids)
    assert "<script" not in html and 'style="' in html
    names = {part.get_filename() for part in message.iter_attachments()}
    assert names == {"2026-10-gpfed-service-report.pdf", "2026-10-gpfed-results.csv"}
    csv = next(p for p in message.iter_attachments() if p.get_content_type() == "text/csv").get_content()
    assert csv.splitlines()[0].startswith("period,agreement,customer") and ",gpfed," in csv


def test_a_report_is_generated_once_and_kept(seeded_engine: Engine, golden_catalogue: Catalogue, tmp_path: Path):
    first, made = delivery.produce(seeded_engine, golden_catalogue, tmp_path, "customer", "acute", PERIOD, BEAT)
    again, made_again = delivery.produce(seeded_engine, golden_catalogue, tmp_path, "customer", "acute", PERIOD, BEAT + timedelta(days=3))
    assert made and not made_again and again.id == first.id and again.content_sha256 == first.content_sha256
    folder = tmp_path / first.directory
    assert {"report.html", "email.html", "report.txt", "report.pdf", "results.csv", "subject.txt"} <= {
        p.name for p in folder.iterdir()
    }
    assert sorted(first.files) == sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_period_to_date_report_is_remade_and_never_sent(
    seeded_engine: Engine, golden_catalogue: Catalogue, smtp_server, tmp_path: Path
):
    with seeded_engine.begin() as conn:
        conn.execute(update(results_table).values(final=False))
    draft, _ = delivery.produce(seeded_engine, golden_catalogue, tmp_path, "customer", "acute", PERIOD, BEAT)
    assert not draft.final
    outcome = delivery.send(seeded_engine, golden_catalogue, tmp_path, smtp(smtp_server), SENDER, draft, BEAT)
    assert not outcome.sent_to and not smtp_server.received.messages
    _, remade = delivery.produce(seeded_engine, golden_catalogue, tmp_path, "customer", "acute", PERIOD, BEAT)
    assert remade


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_smtp_authentication_and_a_refused_login_is_a_failure(
    seeded_engine: Engine, golden_catalogue: Catalogue, tmp_path: Path, smtp_factory
):
    server = smtp_factory(users={"sla": "s3cret"})
    server.start()
    try:
        wrong = SmtpMailer("127.0.0.1", server.port, "sla", "nope", starttls=False, timeout_s=5)
        with pytest.raises(PermanentError) as refused:
            _send_one(seeded_engine, golden_catalogue, tmp_path, wrong, raise_errors=True)
        assert "nope" not in str(refused.value)
        right = SmtpMailer("127.0.0.1", server.port, "sla", "s3cret", starttls=False, timeout_s=5)
        assert _send_one(seeded_engine, golden_catalogue, tmp_path, right).sent_to
        assert server.received.logins == ["sla"] and len(server.received.messages) == 1
    finally:
        server.stop()


def _send_one(engine, catalogue, folder, mailer, raise_errors: bool = False):
    stored, _ = delivery.produce(engine, catalogue, folder, "customer", "acute", PERIOD, BEAT)
    outcome = delivery.send(engine, catalogue, folder, mailer, SENDER, stored, BEAT)
    if raise_errors and outcome.failed:
        raise PermanentError(outcome.error or "")
    return outcome


def test_credentials_are_not_sent_without_starttls_to_a_remote_server():
    mailer = SmtpMailer("smtp.example.invalid", 587, "user", "pw", starttls=False)
    with pytest.raises(PermanentError, match="without STARTTLS"):
        mailer.send(email.message.EmailMessage())


def test_without_smtp_settings_mail_goes_to_the_outbox_as_eml_files(
    seeded_engine: Engine, golden_catalogue: Catalogue, tmp_path: Path
):
    outbox = tmp_path / "var" / "outbox"
    monthly(seeded_engine, golden_catalogue, tmp_path / "reports", OutboxMailer(outbox))
    monthly(seeded_engine, golden_catalogue, tmp_path / "reports", OutboxMailer(outbox))
    files = sorted(p.name for p in outbox.glob("*.eml"))
    assert files == sorted(f"sla-report.customer.{c}.2026-10.g1_trust.example.nhs.uk.eml" for c in CUSTOMERS)
    message = email.message_from_bytes((outbox / files[0]).read_bytes(), policy=email.policy.default)
    assert message["To"] == "governance.acute@example.nhs.uk"


# ------------------------------------------------------------------ the command


def test_report_command_exits_3_while_the_smtp_server_is_down_and_sends_once_it_is_up(
    seeded_engine: Engine, database_url: str, golden_dir: Path, tmp_path: Path, monkeypatch, capsys, smtp_factory
):
    GOLDEN = golden_dir  # noqa: N806
    server = smtp_factory()
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("SLA_") and not n.startswith("SLA_TEST")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SLA_SMTP_PORT", str(server.port))
    monkeypatch.setenv("SLA_SMTP_STARTTLS", "false")
    monkeypatch.setenv("SLA_REPORTS_DIR", str(tmp_path / "reports"))
    args = ["report", "--period", PERIOD, "--customer", "council", "--send", "--config", str(GOLDEN / "config"), "--db", database_url]
    assert cli.main(args) == cli.UNREACHABLE  # server down: not sent, exit 3 (SPEC 11)
    assert "NOT SENT" in capsys.readouterr().err
    server.start()
    try:
        assert cli.main(args) == cli.OK
        assert cli.main(args) == cli.OK
        assert len(server.received.messages) == 1
        assert cli.main([*args, "--resend"]) == cli.OK
        assert len(server.received.messages) == 2
        out = capsys.readouterr().out
        assert "already sent" in out and "sent to ict.contracts@example.gov.uk" in out
    finally:
        server.stop()
    assert cli.main(["report", "--period", PERIOD, "--customer", "nobody", "--config", str(GOLDEN / "config"), "--db", database_url]) == cli.BAD
    assert cli.main(["report", "--period", "2099-01", "--send", "--config", str(GOLDEN / "config"), "--db", database_url]) == cli.BAD


def test_portfolio_command_prints_json_and_table(tmp_path: Path, monkeypatch, capsys, golden_dir: Path):
    import json

    GOLDEN = golden_dir  # noqa: N806

    monkeypatch.chdir(tmp_path)
    assert cli.main(["portfolio", "--format", "json", "--customer", "council", "--config", str(GOLDEN / "config")]) == cli.OK
    data = json.loads(capsys.readouterr().out)
    assert {e["service"] for e in data} == {"email", "portal", "wifi", "servicedesk"}
    assert {c["customer"] for e in data for c in e["customers"]} == {"council"}
    assert cli.main(["portfolio", "--config", str(GOLDEN / "config")]) == cli.OK
    assert "THE BOSTON BOX" in capsys.readouterr().out
    assert cli.main(["portfolio", "--customer", "nobody", "--config", str(GOLDEN / "config")]) == cli.BAD
