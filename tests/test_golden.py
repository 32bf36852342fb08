"""Every golden case goes through the real command line (ingest → score → results) on every
database engine and must match the independently computed expected results."""

from __future__ import annotations

import filecmp
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
INPUTS = ("samples", "incidents", "maintenance")


def sla_worker(*args: str, database_url: str, config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    command = [sys.executable, "-m", "worker.cli", args[0], *args[1:], "--config", str(config), "--db", database_url]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def close(got: object, expected: object) -> bool:
    """Numbers within a relative 1e-9 (absolute 1e-6 near zero); everything else exact."""
    if isinstance(expected, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6)
    return got == expected and type(got) is type(expected)


def expected_keys_in_order(got: dict, expected: dict) -> list[str]:
    """The output's keys that the expected result holds, in the output's order: a key the
    expected file does not hold (`kind` in a case written before contracts) is not compared."""
    return [key for key in got if key in expected]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case_through_the_command_line_matches_expected_results(case: Path, database_url: str, tmp_path: Path):
    done = sla_worker("db", "upgrade", database_url=database_url, config=case / "config", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for kind in INPUTS:
        if (case / f"{kind}.csv").exists():
            done = sla_worker("ingest", kind, str(case / f"{kind}.csv"), database_url=database_url, config=case / "config", cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            assert ", refused 0" in done.stdout
    for expected_file in sorted((case / "expected").glob("*.json")):
        period = expected_file.stem
        done = sla_worker("score", "--period", period, database_url=database_url, config=case / "config", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        done = sla_worker("results", "--period", period, "--format", "json", database_url=database_url, config=case / "config", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        got, expected = json.loads(done.stdout), json.loads(expected_file.read_text())
        assert [(r["agreement"], r["customer"], r["objective"]) for r in got] == [
            (r["agreement"], r["customer"], r["objective"]) for r in expected
        ]
        assert [expected_keys_in_order(g, e) for g, e in zip(got, expected)] == [list(e) for e in expected], (
            "every expected key present, in the expected order"
        )
        mismatches = [
            f"{e['agreement']}/{e['customer']}/{e['objective']}.{key}: got {g[key]!r}, expected {e[key]!r}"
            for g, e in zip(got, expected)
            for key in e
            if not close(g[key], e[key])
        ]
        assert not mismatches, "\n".join(mismatches)


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/golden beside the project to compare with")
def test_golden_copies_are_identical_to_the_shared_cases():
    comparison = filecmp.dircmp(SHARED, GOLDEN)
    differences: list[str] = []

    def walk(c: filecmp.dircmp, prefix: str) -> None:
        differences.extend(prefix + n for n in c.left_only + c.right_only + c.diff_files + c.funny_files)
        for name, sub in c.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(comparison, "")
    assert not differences
