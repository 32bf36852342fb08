"""The pure core stays pure: no database, broker, network or clock in domain, scoring or inputs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parents[1] / "worker"
PURE_PACKAGES = ("domain", "scoring", "inputs")
FORBIDDEN_MODULES = (
    "sqlalchemy", "alembic", "psycopg", "celery", "kombu", "redis", "httpx", "requests", "smtplib",
    "socket", "prometheus_client", "worker.storage", "worker.pipeline", "worker.cli", "worker.settings",
)
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("time", "monotonic")}
PURE_FILES = sorted(p for package in PURE_PACKAGES for p in (WORKER / package).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(WORKER)))
def test_pure_core_imports_no_io_library(path: Path):
    modules = imported_modules(ast.parse(path.read_text()))
    bad = sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_MODULES))
    assert not bad


@pytest.mark.parametrize("path", PURE_FILES, ids=lambda p: str(p.relative_to(WORKER)))
def test_pure_core_never_reads_the_clock(path: Path):
    calls = {
        (node.func.value.id, node.func.attr)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
    }
    assert not calls & CLOCK_CALLS
