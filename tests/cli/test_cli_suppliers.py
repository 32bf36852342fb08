"""Suppliers and their contracts at the command line (SPEC 9.2): check-config counts them
apart from the customers' agreements, and `results --customer` takes a supplier's id."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from cli_helpers import ROOT, sla_worker

from worker.domain.model import AgreementKind, ObjectiveType, Result, Status
from worker.storage import results as result_store
from worker.storage.engine import make_engine
from worker.storage.migrate import upgrade

CASE = ROOT / "tests" / "golden" / "suppliers-2026-10"


def test_check_config_counts_contracts_and_suppliers_apart_from_agreements(tmp_path: Path):
    done = sla_worker(tmp_path, "check-config", str(CASE / "config"))

    assert done.returncode == 0, done.stderr
    assert "4 customers, 2 agreements with 11 objectives, 2 suppliers, 2 contracts with 3 objectives" in done.stdout


def test_results_for_a_supplier_list_its_contract_results_only(tmp_path: Path, database_url: str):
    upgrade(database_url)
    rows = json.loads((CASE / "expected" / "2026-10.json").read_text())
    engine = make_engine(database_url)
    with engine.begin() as conn:
        result_store.upsert_results(
            conn,
            [Result(**{**r, "type": ObjectiveType(r["type"]), "status": Status(r["status"]), "kind": AgreementKind(r["kind"])}) for r in rows],
            computed_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
        )
    engine.dispose()

    done = sla_worker(
        tmp_path, "results", "--period", "2026-10", "--customer", "hostco", "--format", "json",
        SLA_DATABASE_URL=database_url, SLA_CONFIG_DIR=str(CASE / "config"),
    )

    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert [(r["objective"], r["kind"]) for r in listed] == [
        ("epr-hosting-availability", "contract"), ("epr-hosting-response", "contract")
    ]
