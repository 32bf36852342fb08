"""Fixtures of the source tests: real servers on loopback (see source_servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from source_servers import TableApi, prometheus_binaries


@pytest.fixture
def table_api() -> Iterator[TableApi]:
    """A ServiceNow-shaped Table API fed from fixtures/servicenow_incidents.json."""
    with TableApi.from_fixture() as api:
        yield api


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why the Prometheus tests did not run, even without `-rs`."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "promtool" in str(getattr(r, "longrepr", ""))]
    if skipped and prometheus_binaries() is None:
        terminalreporter.write_line(
            f"{len(skipped)} Prometheus source test(s) skipped: the prometheus and promtool binaries are not "
            "installed (Debian: apt-get install prometheus; CI installs them and sets SLA_TEST_REQUIRE_PROMETHEUS)",
            yellow=True,
        )
