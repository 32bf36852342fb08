"""The metrics endpoint (SPEC 10): `GET /metrics` at SLA_METRICS_ADDR (default 127.0.0.1:9464).

`serve(settings)` runs it in the foreground (`sla-worker metrics serve`; `sla-worker run`
starts that command beside the worker). Each scrape reads the database through
`StoredStateCollector`; nothing is cached between scrapes but the configuration (and the
label sets made from it), which is reloaded when a YAML file changes. SLA_METRICS_SERIES
chooses per-customer series (the default) or per-agreement aggregates. The endpoint has no authentication: it binds to loopback
unless told otherwise (docs/deploy.md, "Security notes").
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import Engine

from worker.domain.errors import ConfigError
from worker.domain.model import Catalogue
from worker.metrics.collector import StoredStateCollector, utc_now
from worker.metrics.exposition import CONTENT_TYPE, render
from worker.metrics.objectives import PER_CUSTOMER
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.engine import make_engine

log = logging.getLogger(__name__)

_INDEX = b"sla-worker metrics: see /metrics\n"


def parse_addr(addr: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` (all addresses) → (host, port)."""
    host, sep, port = addr.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError([f"environment: SLA_METRICS_ADDR: expected HOST:PORT, got {addr!r}"])
    host = host.strip("[]")
    return host or "0.0.0.0", int(port)


def make_registry(
    engine: Engine,
    catalogue: Callable[[], Catalogue],
    clock: Callable[[], datetime] = utc_now,
    series: str = PER_CUSTOMER,
) -> CollectorRegistry:
    """A registry holding only the stored-state collector (no process or platform metrics:
    the endpoint serves the SPEC 10 families and nothing else); `series` is
    SLA_METRICS_SERIES."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredStateCollector(engine, catalogue, clock, series))
    return registry


def metrics_app(collect: Callable[[], Iterable[Metric]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI app: `/metrics` renders what `collect` returns (gzip when asked for), `/` says
    where to look, anything else is 404. A scrape that cannot read the database answers 503,
    which Prometheus records as `up == 0`."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "GET, HEAD")])
            return [b"method not allowed\n"]
        if path == "/":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [_INDEX]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: see /metrics\n"]
        try:
            body = render(collect())
        except Exception:
            log.exception("metrics scrape failed")
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"metrics unavailable: reading stored state failed (see the endpoint's log)\n"]
        headers = [("Content-Type", CONTENT_TYPE)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            # Level 1: a tenth of the default's time on a 6 MB scrape, nearly the same size.
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Scrapes every 15-30 s would flood the log; errors are logged by the app."""


class MetricsServer:
    """An endpoint listening in a background thread (tests, benchmarks); `serve` runs one in
    the foreground."""

    def __init__(self, addr: str, collect: Callable[[], Iterable[Metric]]):
        host, port = parse_addr(addr)
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        server_class = type("Server", (_Server,), {"address_family": family})
        self._httpd: WSGIServer = make_server(host, port, metrics_app(collect), server_class, handler_class=_QuietHandler)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self._httpd.server_address[:2]
        text = host.decode() if isinstance(host, bytes) else str(host)
        return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def start(self) -> MetricsServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-endpoint", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(10)
        self._httpd.server_close()


def endpoint(
    settings: Settings, engine: Engine | None = None, clock: Callable[[], datetime] = utc_now
) -> MetricsServer:
    """The endpoint for `settings`, bound but not yet serving. The configuration is loaded
    now (so a bad one fails at start) and reloaded whenever a YAML file changes."""
    engine = engine or make_engine(settings.database_url)
    runtime = Runtime(settings, engine)
    lock = threading.Lock()

    def catalogue() -> Catalogue:
        with lock:
            return runtime.catalogue

    catalogue()
    registry = make_registry(engine, catalogue, clock, settings.metrics_series)
    return MetricsServer(settings.metrics_addr, registry.collect)


def serve(settings: Settings, engine: Engine | None = None, ready: Callable[[str], None] | None = None) -> None:
    """Serve the endpoint in the foreground until interrupted; `ready` is told the address."""
    server = endpoint(settings, engine)
    if ready is not None:
        ready(server.address)
    try:
        server.serve_forever()
    finally:
        server.close()
