"""Reports delivered once (SPEC 8): generated once per (kind, customer, period), kept, and sent
idempotently.

Kinds: `customer` (a customer's report), `board`, and `supplier` (a supplier's scorecard,
SPEC 9.2: `customer` is then the supplier id, and it goes to the supplier's `contacts.reports`).

Generate: the model is built from stored data (gather.py, then customer/, board/ or supplier/
build.py), laid out (their view.py) and rendered to files — report.html (charts beside it),
email.html (charts by cid:), report.txt, report.pdf, results.csv, charts/*.png, subject.txt —
written to a new folder `SLA_REPORTS_DIR/<period>/<customer|board|supplier-ID>-<hash>` and recorded in the `reports`
table with their content hash. A report made from final results is kept: later runs reuse its files. A
report made while the period is still open (period to date) is remade on the next run, and is
never sent.

Send (claim, then act — healthchecks' sendreports pattern):
1. claim: `UPDATE reports SET status='sending' WHERE id=? AND status IN ('pending','failed')`
   (or a `sending` claim older than STALE_CLAIM_S, whose process died) — committed before
   anything is sent; only the run whose UPDATE changed the row sends;
2. send with a Message-ID derived from (kind, customer, period, send generation);
3. record `sent` (or `failed` with the error: the next run claims it again).

The monthly run fans out one task per report (worker/reports/monthly_delivery.py).

A second run finds the row `sent` and sends nothing; `--resend` starts a new generation
(a new Message-ID) and sends again. The one remaining window is a crash after the SMTP server
accepted the message and before `sent` was committed: the stale claim is retried and the
message goes again — with the same Message-ID, so a mail system that drops duplicates by
Message-ID (Exchange does) delivers it once. Delivery is therefore at least once, and
exactly once whenever the process survives its own send.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from worker.domain.errors import PermanentError, TransientError
from worker.domain.model import DEFAULT_TIMEZONE, Catalogue
from worker.render import results_csv
from worker.reports import gather
from worker.reports.board.build import build_board_report
from worker.reports.board.view import board_document
from worker.reports.customer.build import build_customer_report
from worker.reports.customer.view import customer_document
from worker.reports.document import Document
from worker.reports.mailer import Mailer
from worker.reports.supplier.build import build_supplier_report, supplier_contracts
from worker.reports.supplier.view import supplier_document
from worker.scoring.periods import period_bounds
from worker.storage import reports as report_store
from worker.storage.engine import read_only

log = logging.getLogger(__name__)

STALE_CLAIM_S = 15 * 60.0  # a claim older than this belongs to a process that died mid-send
BOARD = ""  # the customer column of the board report


@dataclass(frozen=True)
class Outcome:
    """What happened to one report in one run."""

    kind: str
    customer: str
    period: str
    directory: Path | None
    generated: bool = False  # made in this run (False: the kept one was reused)
    final: bool = True
    sent_to: tuple[str, ...] = ()  # addressed in this run
    where: str = ""  # where the message went (smtp://… or the .eml file)
    status: str = ""  # the row's status after this run
    error: str | None = None
    note: str = ""

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def name(self) -> str:
        return folder_name(self.kind, self.customer)

    def describe(self) -> str:
        made = "generated" if self.generated else "kept"
        text = f"{self.period} {self.name}: {made} {self.directory}" if self.directory else f"{self.period} {self.name}:"
        if self.error:
            return f"{text}; NOT SENT: {self.error}"
        if self.sent_to:
            return f"{text}; sent to {', '.join(self.sent_to)} ({self.where})"
        return f"{text}; {self.note}" if self.note else text


def folder_name(kind: str, customer: str) -> str:
    """`acute`, `board`, `supplier-hostco`: how a report is named in folders, files and output."""
    return "board" if kind == "board" else f"supplier-{customer}" if kind == "supplier" else customer


# ------------------------------------------------------------------ generating


@dataclass(frozen=True)
class Rendered:
    document: Document
    files: dict[str, bytes]
    final: bool

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()


def render_document(document: Document, issued: date, csv_text: str) -> dict[str, bytes]:
    from worker.reports.charts import render_charts
    from worker.reports.render_html import render_html
    from worker.reports.render_pdf import render_pdf
    from worker.reports.render_text import render_text

    charts = render_charts(document.charts)
    files = {f"charts/{name}.png": data for name, data in charts.items()}
    files["report.html"] = render_html(document, charts, lambda name: f"charts/{name}.png").encode()
    files["email.html"] = render_html(document, charts, lambda name: f"cid:{name}@report").encode()
    files["report.txt"] = render_text(document).encode()
    files["report.pdf"] = render_pdf(document, charts, issued)
    files["results.csv"] = csv_text.encode()
    files["subject.txt"] = document.subject.encode()
    return files


def render_customer(engine: Engine, catalogue: Catalogue, customer: str, period: str, now: datetime) -> Rendered:
    with read_only(engine) as conn:
        inputs = gather.customer_inputs(conn, catalogue, customer, period, now.timestamp())
    report = build_customer_report(catalogue, inputs)
    document = customer_document(report)
    return Rendered(document, render_document(document, report.issued, results_csv(report.results)), report.final)


def render_board(engine: Engine, catalogue: Catalogue, period: str, now: datetime) -> Rendered:
    with read_only(engine) as conn:
        results = gather.board_results(conn, period)
    report = build_board_report(catalogue, period, results, now.timestamp())
    document = board_document(report)
    return Rendered(document, render_document(document, report.issued, results_csv(report.results)), report.final)


def render_supplier(engine: Engine, catalogue: Catalogue, supplier: str, period: str, now: datetime) -> Rendered:
    services = sorted({o.service for c in supplier_contracts(catalogue, supplier, period) for o in c.objectives})
    with read_only(engine) as conn:
        results = gather.supplier_results_range(conn, supplier, period)
        customer_results = gather.service_results(conn, period, services)
    report = build_supplier_report(catalogue, supplier, period, results, customer_results, now.timestamp())
    document = supplier_document(report)
    return Rendered(document, render_document(document, report.issued, results_csv(report.results)), report.final)


def _render(engine: Engine, catalogue: Catalogue, kind: str, customer: str, period: str, now: datetime) -> Rendered:
    if kind == "board":
        return render_board(engine, catalogue, period, now)
    if kind == "supplier":
        return render_supplier(engine, catalogue, customer, period, now)
    return render_customer(engine, catalogue, customer, period, now)


def write_folder(root: Path, relative: str, files: dict[str, bytes], *, replace: bool = False) -> Path:
    """Write the files into root/relative at once (a temporary folder renamed into place);
    a folder already there (same hash) is kept, unless `replace` (a `--out` copy, whose name
    has no hash) asks for it to give way. The folder stays inside `root` (a path that resolves
    outside it is refused) and nothing in it is readable by other users: the kept reports and
    their `--out` copies alike, whatever the umask or the files already there."""
    target = root / relative
    if not target.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"report folder {relative!r} is outside the reports folder")
    if target.is_dir() and not replace:
        return target
    target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=".writing-"))  # mode 0700
    try:
        for name, data in files.items():
            path = temporary / name
            path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "wb") as out:
                out.write(data)
        if replace and target.is_dir():
            shutil.rmtree(target)
        os.rename(temporary, target)
    except OSError:
        shutil.rmtree(temporary, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def _recipients(catalogue: Catalogue, kind: str, customer: str) -> tuple[str, ...]:
    """A customer's or a supplier's `contacts.reports`; nobody for the board report."""
    if kind == "customer" and customer in catalogue.customers:
        return tuple(catalogue.customers[customer].contacts.reports)
    if kind == "supplier" and customer in catalogue.suppliers:
        return tuple(catalogue.suppliers[customer].contacts.reports)
    return ()


def produce(
    engine: Engine, catalogue: Catalogue, reports_dir: Path, kind: str, customer: str, period: str, now: datetime
) -> tuple[report_store.StoredReport, bool]:
    """The stored report for (kind, customer, period), generated now unless a final one is
    kept already. Returns the row and whether it was generated in this call."""
    with read_only(engine) as conn:
        existing = report_store.find_report(conn, kind, customer, period)
    if existing and existing.final and (reports_dir / existing.directory).is_dir():
        return existing, False
    rendered = _render(engine, catalogue, kind, customer, period, now)
    sha = rendered.sha256
    relative = f"{period}/{folder_name(kind, customer)}-{sha[:12]}"
    write_folder(reports_dir, relative, rendered.files)
    status = report_store.PENDING if _recipients(catalogue, kind, customer) else report_store.FILED
    with engine.begin() as conn:
        if existing is not None:
            report_store.replace_content(
                conn, existing.id, final=rendered.final, content_sha256=sha, directory=relative,
                files=sorted(rendered.files), created_at=now,
            )
            stored = report_store.get_report(conn, existing.id)
            assert stored is not None
        else:
            stored, inserted = report_store.insert_report(
                conn, kind=kind, customer=customer, period=period, final=rendered.final, content_sha256=sha,
                directory=relative, files=sorted(rendered.files), status=status, created_at=now,
            )
            if not inserted and stored.directory != relative:
                # Another process stored its own copy first: that one is the report.
                shutil.rmtree(reports_dir / relative, ignore_errors=True)
                return stored, False
    if existing is not None and existing.directory != relative:
        shutil.rmtree(reports_dir / existing.directory, ignore_errors=True)
    return stored, True


# ------------------------------------------------------------------ sending


def message_id(stored: report_store.StoredReport, sender: str) -> str:
    """The same for every attempt of one send generation, so a resend after a crash is
    recognisable as the same message."""
    domain = sender.rsplit("@", 1)[1].strip(" >") if "@" in sender else "sla-worker.invalid"
    return f"<sla-report.{stored.kind}.{stored.customer or 'board'}.{stored.period}.g{stored.generation}@{domain}>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def build_message(
    stored: report_store.StoredReport, folder: Path, recipients: Sequence[str], sender: str, now: datetime
) -> EmailMessage:
    """multipart/mixed: [related: [alternative: text, html], chart images by cid], PDF, CSV."""
    name = folder_name(stored.kind, stored.customer)
    message = EmailMessage()
    message["Subject"] = _one_line((folder / "subject.txt").read_text(encoding="utf-8"))
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id(stored, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no automatic replies
    message["X-Auto-Response-Suppress"] = "All"  # Exchange/Outlook: no out-of-office replies
    message.set_content((folder / "report.txt").read_text(encoding="utf-8"))
    message.add_alternative((folder / "email.html").read_text(encoding="utf-8"), subtype="html")
    _text, html_part = message.iter_parts()  # multipart/alternative: the text, then the HTML
    for path in sorted((folder / "charts").glob("*.png")):
        html_part.add_related(path.read_bytes(), "image", "png", cid=f"<{path.stem}@report>", filename=path.name)
    what = {"board": "board-report", "supplier": "scorecard"}.get(stored.kind, "service-report")
    stem = f"{stored.period}-{name}-{what}"
    message.add_attachment((folder / "report.pdf").read_bytes(), "application", "pdf", filename=f"{stem}.pdf")
    message.add_attachment(
        (folder / "results.csv").read_text(encoding="utf-8"), subtype="csv", filename=f"{stored.period}-{name}-results.csv"
    )
    return message


def send(
    engine: Engine,
    catalogue: Catalogue,
    reports_dir: Path,
    mailer: Mailer,
    sender: str,
    stored: report_store.StoredReport,
    now: datetime,
    *,
    resend: bool = False,
    claim_timeout_s: float = STALE_CLAIM_S,
    finishing: Callable[[Connection], None] | None = None,
) -> Outcome:
    """Send one stored report to its customer's `contacts.reports`, at most once per send
    generation (see the module's docstring). A `sending` claim older than `claim_timeout_s`
    (setting SLA_REPORT_CLAIM_TIMEOUT) belongs to a process that died: it is taken over.
    `finishing` runs in the transaction that records the report's outcome (filed, sent or
    failed), so what it reads and writes commits with that outcome (the monthly fan-out
    decides there whether this was the period's last customer report)."""
    done = finishing or (lambda _conn: None)
    folder = reports_dir / stored.directory
    base = Outcome(stored.kind, stored.customer, stored.period, folder, final=stored.final)
    recipients = _recipients(catalogue, stored.kind, stored.customer)
    if not recipients:
        with engine.begin() as conn:
            report_store.set_filed(conn, stored.id, True)
            done(conn)
        reason = "board report: filed, not emailed" if stored.kind == "board" else "no contacts.reports: filed, not emailed"
        return replace(base, status=report_store.FILED, note=reason)
    if not stored.final:
        return replace(base, status=stored.status, note="period to date: not sent until the period is final")
    with engine.begin() as conn:
        report_store.set_filed(conn, stored.id, False)
        if resend and not report_store.new_generation(conn, stored.id):
            return replace(base, status=report_store.SENDING, note="a send is in progress: not sent again")
        claimed = report_store.claim_send(conn, stored.id, now, claim_timeout_s)
    if claimed is None:
        with read_only(engine) as conn:
            current = report_store.get_report(conn, stored.id)
        status = current.status if current else "?"
        note = f"already sent {current.sent_at:%Y-%m-%d %H:%M} UTC" if current and status == report_store.SENT and current.sent_at else f"not sent ({status})"
        return replace(base, status=status, note=note)
    try:
        message = build_message(claimed, folder, recipients, sender, now)
        with engine.begin() as conn:
            report_store.record_attempt(conn, claimed.id, str(message["Message-ID"]), recipients)
        where = mailer.send(message)
    except (TransientError, PermanentError, OSError) as error:
        text = str(error) or type(error).__name__
        with engine.begin() as conn:
            report_store.mark_failed(conn, claimed.id, claimed.generation, text)
            done(conn)
        log.warning("report %s %s %s not sent: %s", stored.kind, stored.customer or "board", stored.period, text)
        return replace(base, status=report_store.FAILED, error=text)
    except BaseException as error:
        with engine.begin() as conn:
            report_store.mark_failed(conn, claimed.id, claimed.generation, f"{type(error).__name__}: {error}")
        raise
    with engine.begin() as conn:
        report_store.mark_sent(conn, claimed.id, claimed.generation, now)
        done(conn)
    return replace(base, status=report_store.SENT, sent_to=recipients, where=where)


# ------------------------------------------------------------------ use cases


def period_is_final(catalogue: Catalogue, period: str, now: datetime, grace_s: float) -> bool:
    zones = {a.timezone for a in catalogue.agreements.values()} or {DEFAULT_TIMEZONE}
    return now.timestamp() >= max(period_bounds(period, z)[1] for z in zones) + grace_s


def run_reports(
    engine: Engine,
    catalogue: Catalogue,
    reports_dir: Path,
    period: str,
    now: datetime,
    *,
    customers: Sequence[str] | None = None,
    board: bool = True,
    suppliers: Sequence[str] | None = (),
    mailer: Mailer | None = None,
    sender: str = "sla-worker@localhost",
    resend: bool = False,
    out: Path | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    claim_timeout_s: float = STALE_CLAIM_S,
) -> list[Outcome]:
    """Generate (or reuse) the reports of `period` — the customers given (default: every
    customer with results in the period), the board report, and the scorecards of the
    suppliers given (None: every supplier with contract results in the period) — send them
    when a mailer is given, and copy their files to `out` when given."""
    with read_only(engine) as conn:
        if customers is None:
            customers = gather.customers_with_results(conn, catalogue, period)
        if suppliers is None:
            suppliers = gather.suppliers_with_results(conn, catalogue, period)
    wanted = (
        [("customer", c) for c in customers] + ([("board", BOARD)] if board else []) + [("supplier", s) for s in suppliers]
    )
    outcomes = []
    for number, (kind, customer) in enumerate(wanted, 1):
        progress(f"report {period} {folder_name(kind, customer)} ({number}/{len(wanted)}) …")
        stored, generated = produce(engine, catalogue, reports_dir, kind, customer, period, now)
        folder = reports_dir / stored.directory
        if mailer is not None:
            outcome = send(engine, catalogue, reports_dir, mailer, sender, stored, now, resend=resend, claim_timeout_s=claim_timeout_s)
        else:
            outcome = Outcome(kind, customer, period, folder, final=stored.final, status=stored.status,
                              note="" if stored.final else "period to date (not final)")
        outcome = replace(outcome, generated=generated, directory=folder)
        if out is not None:  # written as the kept files are, not copied with their modes and the umask
            files = {name: (folder / name).read_bytes() for name in stored.files}
            target = write_folder(out, f"{period}-{folder_name(kind, customer)}", files, replace=True)
            outcome = replace(outcome, note=(outcome.note + "; " if outcome.note else "") + f"copied to {target}")
        outcomes.append(outcome)
    return outcomes


def write_history(
    engine: Engine,
    catalogue: Catalogue,
    reports_dir: Path,
    periods: Sequence[str],
    now: datetime,
    progress: Callable[[str], None] = lambda _m: None,
    workers: int | None = None,
) -> list[Outcome]:
    """Customer and board reports for each of `periods` (the demo's year), generated and
    kept, not sent. Drawing charts and PDFs is CPU-bound: with several cores the reports are
    made in parallel processes (each with its own database engine)."""
    jobs: list[tuple[str, str, str]] = []
    for period in periods:
        with read_only(engine) as conn:
            customers = gather.customers_with_results(conn, catalogue, period)
        jobs += [("customer", c, period) for c in customers] + [("board", BOARD, period)]
    workers = workers or min(os.cpu_count() or 1, 4)
    outcomes: list[Outcome] = []
    if workers <= 1 or len(jobs) < 4:
        for number, (kind, customer, period) in enumerate(jobs, 1):
            progress(f"report {period} {customer or 'board'} ({number}/{len(jobs)}) …")
            stored, generated = produce(engine, catalogue, reports_dir, kind, customer, period, now)
            outcomes.append(_kept(stored, generated, reports_dir))
        return outcomes
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # no forked copies of engines or locks
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(url, catalogue)) as pool:
        futures = [pool.submit(_produce_in_worker, reports_dir, kind, customer, period, now) for kind, customer, period in jobs]
        for number, future in enumerate(futures, 1):
            stored, generated = future.result()
            progress(f"report {stored.period} {stored.customer or 'board'} ({number}/{len(jobs)})")
            outcomes.append(_kept(stored, generated, reports_dir))
    return outcomes


def _kept(stored: report_store.StoredReport, generated: bool, reports_dir: Path) -> Outcome:
    return Outcome(
        stored.kind, stored.customer, stored.period, reports_dir / stored.directory, generated=generated,
        final=stored.final, status=stored.status,
    )


_worker_state: dict[str, object] = {}


def _init_worker(url: str, catalogue: Catalogue) -> None:
    from worker.storage.engine import make_engine

    _worker_state["engine"] = make_engine(url)
    _worker_state["catalogue"] = catalogue


def _produce_in_worker(
    reports_dir: Path, kind: str, customer: str, period: str, now: datetime
) -> tuple[report_store.StoredReport, bool]:
    engine = _worker_state["engine"]
    catalogue = _worker_state["catalogue"]
    assert isinstance(engine, Engine) and isinstance(catalogue, Catalogue)
    return produce(engine, catalogue, reports_dir, kind, customer, period, now)
