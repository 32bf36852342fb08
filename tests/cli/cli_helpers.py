"""Running the real `sla-worker` command from a directory that is not the checkout, with its
settings given only through SLA_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example"


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update({"SLA_CONFIG_DIR": str(EXAMPLE), "C_FORCE_ROOT": "1", **settings})
    return env


def sla_worker(cwd: Path, *args: str, timeout: float = 120, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *args], cwd=cwd, env=environment(**settings),
        capture_output=True, text=True, timeout=timeout,
    )


def plain(done: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr as lines, asserting it is a plain message, not a traceback."""
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()
