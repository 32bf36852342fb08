"""Helpers for the canary-secret and report-file tests (issue 8): the golden case scored;
every logger at DEBUG; everything a run produced, as text, to search for the canaries; and a
real HTTP server on loopback that plays an outside service (Prometheus, Teams, Alertmanager,
a webhook) and fails as it is told."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, MetaData, select

from worker.config import load_catalogue
from worker.domain.model import Catalogue
from worker.metrics.server import MetricsServer, make_registry
from worker.usecases.ingest import ingest
from worker.usecases.score import score_period

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10"

# Loggers that may be given a level of their own (worker/http.py quiets httpx): the canary
# tests open them to DEBUG as well, so a secret cannot hide behind a level. SQLAlchemy's echo
# stays at its own WARNING: it would log the values the database text is searched for anyway,
# and echoing the golden ingest row by row costs seconds.
CHATTY_LOGGERS = ("httpx", "httpcore", "celery", "kombu")


def log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every record at DEBUG, whatever level a library or the worker set."""
    caplog.set_level(logging.DEBUG)
    for name in CHATTY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record: formatted, and its raw arguments and traceback."""
    raw = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    return raw + "\n" + caplog.text


def _as_text(value: object) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def database_text(engine: Engine) -> str:
    """Every value of every row of every table, as text."""
    meta = MetaData()
    meta.reflect(engine)
    chunks = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                chunks.append(f"{table.name}: " + " | ".join(map(_as_text, row)))
    return "\n".join(chunks)


def files_text(*folders: Path) -> str:
    chunks = []
    for folder in folders:
        if folder.exists():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    chunks.append(f"{path}: " + path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(chunks)


def score_golden(engine: Engine, now: datetime) -> Catalogue:
    """The golden case (tests/golden/trust-2026-10) ingested and October scored: a realistic
    database to report on and to search."""
    golden = load_catalogue(GOLDEN / "config")
    for kind in ("maintenance", "incidents", "samples"):
        ingest(engine, golden, kind, (GOLDEN / f"{kind}.csv").read_bytes(), now)
    score_period(engine, golden, "2026-10", now, grace_s=6 * 3600.0)
    return golden


def scrape_metrics(engine: Engine, catalogue: Catalogue) -> str:
    """The metrics exposition, fetched over HTTP from a real endpoint on loopback."""
    server = MetricsServer("127.0.0.1:0", make_registry(engine, lambda: catalogue).collect).start()
    try:
        exposition = httpx.get(server.url, timeout=30).text
    finally:
        server.close()
    assert "sla_" in exposition
    return exposition


def leaks(canaries: Mapping[str, str], produced: Mapping[str, str]) -> list[tuple[str, str]]:
    """(secret, where) for every canary found in anything produced."""
    return [(what, where) for what, canary in canaries.items() for where, text in produced.items() if canary in text]


def leaked_lines(token: str, produced: Mapping[str, str]) -> list[str]:
    """The first lines holding the canaries' shared token: the assertion message of a leak."""
    return [line for text in produced.values() for line in text.splitlines() if token in line][:10]


# ------------------------------------------------------------------ a played outside service


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


HANG = 0  # a status that holds the request unanswered until the server stops: a client timeout


class PlayedServer:
    """A real HTTP server on 127.0.0.1 answering every request with `play(request)`, a
    (status, JSON or text body) pair, and recording the requests (headers included, so a
    test can see that the secret really was sent)."""

    def __init__(self, play: Callable[[Request], tuple[int, str]]):
        self.play = play
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> PlayedServer:
        played = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = Request(self.command, self.path, dict(self.headers), body)
                played.requests.append(request)
                status, text = played.play(request)
                if status == HANG:
                    played._stopping.wait(30)
                    return
                data = text.encode()
                self.send_response(status)
                kind = "application/json" if text.startswith(("{", "[")) else "text/plain; charset=utf-8"
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def failing(status: int, body: str = "") -> Callable[[Request], tuple[int, str]]:
    """A service that answers every request with `status`."""
    return lambda _request: (status, body or f"status {status}")
