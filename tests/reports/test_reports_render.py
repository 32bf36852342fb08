"""The reports as people see them: the HTML rendered by headless Chromium and the PDF by
pdftoppm, into PNG files (kept under $SLA_TEST_RENDER_DIR when set, to look at). Skipped with
the reason when the renderer is missing, except in CI (SLA_TEST_REQUIRE_RENDERERS=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Engine

from worker.domain.model import Catalogue
from worker.reports import delivery

PERIOD = "2026-10"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def folders(golden_engine: Engine, golden_catalogue: Catalogue, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    reports = tmp_path_factory.mktemp("rendered")
    outcomes = delivery.run_reports(golden_engine, golden_catalogue, reports, PERIOD, NOW, customers=["acute"], board=True)
    return {o.name: o.directory for o in outcomes if o.directory}


def keep(path: Path) -> None:
    target = os.environ.get("SLA_TEST_RENDER_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def assert_drawn(png: Path, min_width: int) -> None:
    """A real picture: big enough, and not one flat colour."""
    with Image.open(png) as image:
        assert image.width >= min_width
        colours = image.convert("RGB").resize((64, 64)).getcolors(64 * 64)
        assert colours is not None and len(colours) > 8


@pytest.mark.parametrize("name", ["acute", "board"])
def test_html_report_renders_in_headless_chromium(folders: dict[str, Path], tmp_path: Path, name: str, find_renderer):
    chromium = find_renderer("chromium")
    png = tmp_path / f"report-{name}-html.png"
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=800,4000",
                (folders[name] / "report.html").as_uri(),
            ],
            capture_output=True, text=True, timeout=120,
        )
    assert png.exists(), done.stderr[-2000:]
    assert_drawn(png, 800)
    keep(png)


@pytest.mark.parametrize("name", ["acute", "board"])
def test_pdf_report_renders_with_pdftoppm(folders: dict[str, Path], tmp_path: Path, name: str, find_renderer):
    pdftoppm = find_renderer("pdftoppm")
    subprocess.run([pdftoppm, "-r", "70", "-png", str(folders[name] / "report.pdf"), str(tmp_path / f"report-{name}-pdf")], check=True, timeout=120)
    pages = sorted(tmp_path.glob(f"report-{name}-pdf*.png"))
    assert pages, "no page rendered"
    for page in pages:
        assert_drawn(page, 500)  # A4 at 70 dpi is 579 pixels wide
        keep(page)
