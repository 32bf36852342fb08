"""worker/alerts/rules.py is pure (STYLE): it imports no I/O library and never reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "worker" / "alerts" / "rules.py"
FORBIDDEN = (
    "sqlalchemy", "alembic", "psycopg", "celery", "kombu", "redis", "httpx", "requests", "smtplib", "socket",
    "prometheus_client", "worker.storage", "worker.pipeline", "worker.cli", "worker.settings", "os", "time",
)


def test_alert_rules_import_no_io_library():
    tree = ast.parse(RULES.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN))


def test_alert_rules_never_read_the_clock():
    calls = {
        (n.func.value.id, n.func.attr)
        for n in ast.walk(ast.parse(RULES.read_text()))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)
    }
    assert not calls & {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}
