"""Helpers for the alert tests: a small catalogue, stored results and burn rates, and a real
HTTP receiver on loopback that records every request (and can be told to be down)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import Engine

from worker.config import load_catalogue
from worker.domain.model import Catalogue, ObjectiveType, Result, Status
from worker.storage.burn_rates import StoredBurnRate, upsert_burn_rates
from worker.storage.results import upsert_results

CONFIG = """
calendars:
  - {id: always, hours: 24x7}
services:
  - {id: epr, name: Electronic Patient Record}
  - {id: pas, name: Patient Administration}
customers:
  - {id: acute, name: Acute Services, contacts: {alerts: [acute.it@nhs.net]}}
  - {id: community, name: Community Services}
agreements:
  - id: core
    name: Core clinical systems
    customers: [acute, community]
    effective: {from: 2026-04-01, to: 2027-03-31}
    objectives:
      - {id: epr-availability, service: epr, type: availability, target: 99.5, calendar: always}
      - {id: pas-availability, service: pas, type: availability, target: 99.5, calendar: always}
channels:
  - {id: hook, kind: webhook, url_env: TEST_HOOK_URL, secret_env: TEST_HOOK_SECRET, repeat_interval: 4h}
"""


def catalogue(tmp_path: Path, extra: str = "") -> Catalogue:
    directory = tmp_path / "config"
    directory.mkdir(exist_ok=True)
    (directory / "all.yaml").write_text(CONFIG + extra)
    return load_catalogue(directory)


def store_scores(engine: Engine, now: datetime, burn: float, bad: float = 0.0, customers=("acute", "community"), objective="epr-availability", period: str = "2026-10") -> None:
    """Period-to-date results and fully counted burn-rate windows for `objective`."""
    total = 1_000_000.0
    budget = 0.005 * total
    service = objective.split("-")[0]
    results = [
        Result(
            period, "core", c, service, objective, ObjectiveType.AVAILABILITY, 99.5, None, 100 * (total - bad) / total,
            Status.GREEN, total - bad, bad, total, "seconds", 1.0, 1 - bad / budget, False,
        )
        for c in customers
    ]
    lengths = {"5m": 300, "30m": 1800, "1h": 3600, "6h": 21600, "3d": 259200}
    rates = [
        StoredBurnRate("core", c, objective, w, 0.0, 0.0, float(n), burn, now) for c in customers for w, n in lengths.items()
    ]
    with engine.begin() as conn:
        upsert_results(conn, results, computed_at=now)
        upsert_burn_rates(conn, rates)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 recording each POST (headers and JSON body). With
    `delay_s` it answers that long after recording (a crash test aims at that moment)."""

    requests: list[dict] = field(default_factory=list)
    down: bool = False
    delay_s: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "body": json.loads(raw)})
                time.sleep(receiver.delay_s)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def keys(self) -> list[str]:
        return [r["headers"]["Idempotency-Key"] for r in self.requests]
