"""Each customer's service catalogue, "Your IT services" (SPEC 9.1), written by the real
`sla-worker catalogue` command on the suppliers golden configuration: everything the annual
review needs about each of the customer's services, in plain words, in HTML and PDF — and
nothing of any other customer's. The board's portfolio is written the same way."""

from __future__ import annotations

import html
import io
import os
import re
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from worker.config import load_catalogue
from worker.domain.model import Calendar
from worker.reports.catalogue.build import build_customer_catalogue, current_agreements, hours_words

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "golden" / "suppliers-2026-10" / "config"
EXAMPLE = ROOT / "config" / "example"
CATALOGUE = load_catalogue(CONFIG)
OFFICE_HOURS = "Monday to Friday 08:00–18:00, not bank holidays"


def sla_worker(cwd: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update({"SLA_CONFIG_DIR": str(CONFIG), **settings})
    return subprocess.run([sys.executable, "-m", "worker.cli", "catalogue", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def html_text(path: Path) -> str:
    """The words of an HTML file, tags dropped and entities decoded, spaces normalised."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text())).split())


def pdf_text(path: Path) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(path.read_bytes())).pages).split())


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sla-worker catalogue --all`, into the default folder under SLA_REPORTS_DIR."""
    cwd = tmp_path_factory.mktemp("catalogue")
    done = sla_worker(cwd, "--all", SLA_REPORTS_DIR=str(cwd / "reports"))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return cwd / "reports" / "catalogue"


@pytest.fixture(scope="module")
def acute(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`sla-worker catalogue --customer acute --out DIR`: its HTML and PDF as text."""
    cwd = tmp_path_factory.mktemp("acute")
    done = sla_worker(cwd, "--customer", "acute", "--out", "out")
    assert done.returncode == 0, done.stderr
    folder = cwd / "out" / "acute"
    assert sorted(p.name for p in folder.iterdir()) == ["catalogue.html", "catalogue.pdf", "charts"]
    return {"html": html_text(folder / "catalogue.html"), "pdf": pdf_text(folder / "catalogue.pdf"),
            "raw": (folder / "catalogue.html").read_text(), "folder": str(folder)}


@pytest.mark.parametrize("form", ["html", "pdf"])
def test_the_acute_catalogue_describes_each_of_its_services_in_plain_words(acute, form):
    text = acute[form]
    assert "Your IT services" in text and "Acute Services Directorate" in text
    for service in ("epr", "pacs", "servicedesk"):
        s = CATALOGUE.services[service]
        for words in (s.name, s.summary, s.purpose, s.owner):
            assert words in text, (form, service, words)
    assert "EPR Programme, with the supplier Hosted Records Ltd" in text
    for axis in ("Information for better decisions", "Technology to work smarter", "Within the organisation",
                 "Outside the organisation"):
        assert axis in text, "the Boston Box of the customer's services, in words"
    assert OFFICE_HOURS in text and "24 hours a day, every day" in text
    assert "Wi-Fi" not in text and "Patient portal" not in text, "services acute does not receive"


@pytest.mark.parametrize("form", ["html", "pdf"])
def test_the_acute_catalogue_lists_every_objective_of_its_agreement_with_its_target_dates_and_review(acute, form):
    text = acute[form]
    for promise in (
        "Available at least 99.5% of the time", "At least 95% of responses within 2 s", "Available at least 99% of the time",
        "At least 95% of P1 incidents resolved within 4 hours", "At least 90% of P2 incidents resolved within 8 hours",
        "At least 95% of P2 incidents responded to within 30 minutes",
    ):
        assert promise in text, (form, promise)
    for target in ("99.5%", "95%", "99%", "90%"):
        assert target in text
    assert "Core clinical systems SLA 2026/27" in text
    assert "1 April 2026 to 31 March 2027" in text, "the agreement's effective dates"
    assert "31 January 2027" in text, "the review date"
    assert "Planned work with at least 5 days' notice is not counted" in text


def test_each_service_of_the_acute_catalogue_has_its_boston_box_drawn(acute):
    charts = Path(acute["folder"]) / "charts"
    assert sorted(p.name for p in charts.iterdir()) == ["box-epr.png", "box-pacs.png", "box-servicedesk.png"]
    epr = re.search(r'<img src="charts/box-epr.png"[^>]*alt="([^"]*)"', acute["raw"])
    assert epr and html.unescape(epr[1]) == (
        "Where the value of Electronic Patient Record lies (Boston Box): Information for better decisions, within the "
        "organisation; Information for better decisions, outside the organisation; Technology to work smarter, within "
        "the organisation."
    ), "the drawing says in words what it shows"
    for name in ("box-epr", "box-pacs", "box-servicedesk"):
        assert f'src="charts/{name}.png"' in acute["raw"]
        assert (charts / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = PdfReader(io.BytesIO((Path(acute["folder"]) / "catalogue.pdf").read_bytes()))
    assert sum(len(page.images) for page in pdf.pages) == 3, "one drawing per service in the PDF too"


@pytest.mark.parametrize("form", ["html", "pdf"])
def test_the_acute_catalogue_names_no_other_customer_and_no_contract_terms(acute, form):
    text = acute[form]
    for other in ("community", "gpfed", "council"):
        assert not re.search(rf"\b{other}\b", text, re.IGNORECASE), (form, other)
        assert CATALOGUE.customers[other].name not in text, (form, other)
    assert "Partner services SLA" not in text and "partners-2026" not in text
    # A supplier is named as who runs a service; what it owes the trust is not the customer's.
    for contract in CATALOGUE.contracts.values():
        assert contract.id not in text
    assert "99.9%" not in text and "1.5 s" not in text
    assert "North Network Services Ltd" not in text, "the supplier of a service acute does not receive"


def test_all_writes_one_catalogue_per_customer_and_the_board_portfolio(written):
    assert sorted(p.name for p in written.iterdir()) == sorted([*CATALOGUE.customers, "board"])
    for customer, known in CATALOGUE.customers.items():
        text = html_text(written / customer / "catalogue.html")
        assert known.name in text
        others = [c.name for c in CATALOGUE.customers.values() if c.id != customer]
        assert not any(name in text for name in others), customer
        assert not any(name in pdf_text(written / customer / "catalogue.pdf") for name in others), customer
    gpfed = html_text(written / "gpfed" / "catalogue.html")
    assert "Wi-Fi" in gpfed and "Infrastructure, with the supplier North Network Services Ltd" in gpfed
    assert "Monday to Friday 07:00–20:00, Saturday 09:00–12:30, not bank holidays" in gpfed
    assert "15 October 2026 to 14 October 2027" in gpfed and "31 August 2027" in gpfed
    board = html_text(written / "board" / "catalogue.html")
    assert "Service portfolio" in board
    assert all(s.name in board for s in CATALOGUE.services.values())
    assert all(c.name in board for c in CATALOGUE.customers.values())


def test_the_files_are_kept_like_the_reports_readable_by_the_owner_and_group_only(written):
    for path in (written / "acute").rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_an_unknown_customer_is_refused_with_exit_2_listing_the_configured_ids(tmp_path):
    done = sla_worker(tmp_path, "--customer", "nobody")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "nobody" in done.stderr and "acute, community, gpfed, council" in done.stderr
    assert not (tmp_path / "var").exists(), "nothing written"


def test_service_hours_are_written_out_in_words():
    office = CATALOGUE.calendars["office"]
    assert hours_words(office, date(2027, 1, 1)) == OFFICE_HOURS
    assert hours_words(office, date(2026, 12, 1)) == f"{OFFICE_HOURS}, also closed on 24 December 2026"
    assert hours_words(CATALOGUE.calendars["always"], date(2026, 12, 1)) == "24 hours a day, every day"
    weekend = Calendar("weekend", hours=((),) * 5 + (((540, 750),), ((600, 960),)), timezone="Europe/Dublin")
    assert hours_words(weekend, date(2026, 12, 1)) == "Saturday 09:00–12:30, Sunday 10:00–16:00 (Europe/Dublin time)"


def test_a_catalogue_holds_current_agreements_and_the_last_one_once_all_have_ended():
    example = load_catalogue(EXAMPLE)
    now = build_customer_catalogue(example, "gpfed", date(2026, 12, 1))
    assert [a.id for a in now.agreements] == ["partners-2026"], "the ended 2025 agreement is left out"
    later = current_agreements(example, date(2031, 1, 1), "gpfed")
    assert [a.id for a in later] == ["partners-2026"], "the last agreement, ended, rather than nothing"
