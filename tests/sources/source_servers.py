"""Real servers on loopback for the source tests: an HTTP(S) server for probes (asyncio, many
connections at once), a ServiceNow-shaped Table API, and a real Prometheus process.

Every wait is bounded in time; every server is stopped by the fixture that started it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import Engine

from worker.storage import samples as sample_store
from worker.storage.engine import read_only

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(text, encoding="utf-8")
    return directory


def stored_samples(engine: Engine) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Every stored series: (service, signal) → [(at_ms, value), …] in time order."""
    with read_only(engine) as conn:
        names = sample_store.service_ids(conn)
        found = sample_store.load_service_samples(conn, list(names), list(sample_store.SIGNAL_CODES.values()), 0, 2**62)
    return {
        (names[key], sample_store.SIGNAL_NAMES[code]): list(zip(at.tolist(), value.tolist()))
        for (key, code), (at, value) in found.items()
        if len(at)
    }


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


# --- TLS --------------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


# --- probes: an asyncio HTTP server ------------------------------------------------------------


class ProbeTargets:
    """A loopback HTTP server (optionally HTTPS) answering by path:

    - `/ok`            200 "All systems OK"
    - `/slow/<s>`      200 "All systems OK" after <s> seconds
    - `/hang`          reads the request and never answers
    - `/status/<n>`    status n, body "status n"
    - `/maintenance`   200 "Down for maintenance"
    Served by asyncio on its own thread, so hundreds of probes can be connected at once."""

    def __init__(self, tls: tuple[Path, Path] | None = None):
        self.port = free_port()
        self.scheme = "https" if tls else "http"
        self._ssl: ssl.SSLContext | None = None
        if tls:
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(str(tls[0]), str(tls[1]))
        self.requests = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> ProbeTargets:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("probe target server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, ssl=self._ssl, backlog=1024
            )
            self._started.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.requests += 1
            path = head.split(b" ", 2)[1].decode()
            status, body = 200, "All systems OK"
            if path.startswith("/slow/"):
                await asyncio.sleep(float(path.rsplit("/", 1)[1]))
            elif path == "/hang":
                await asyncio.sleep(3600)
            elif path.startswith("/status/"):
                status = int(path.rsplit("/", 1)[1])
                body = f"status {status}"
            elif path == "/maintenance":
                body = "Down for maintenance"
            data = body.encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass


# --- ServiceNow Table API ----------------------------------------------------------------------


@dataclass
class TableApi:
    """A ServiceNow-shaped Table API on loopback, fed from the fixture's records.

    `GET /api/now/table/<table>` with `sysparm_query` (`field>=value`, `field>value`,
    `ORDERBYfield`, joined with `^`), `sysparm_fields` (dot-walked `ref.field` resolved through
    the fixture's referenced tables), `sysparm_limit`, `sysparm_offset`,
    `sysparm_display_value=false`. Basic authentication. `failures` is a queue of
    (status, headers) answered instead of the next requests (429 with Retry-After, 503 …)."""

    user: str = "sla.integration"
    password: str = "snow-test-password"
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    @classmethod
    def from_fixture(cls, name: str = "servicenow_incidents.json") -> TableApi:
        return cls(tables=json.loads((FIXTURES / name).read_text(encoding="utf-8")))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def update(self, number: str, **values: str) -> None:
        for record in self.tables["incident"]:
            if record["number"] == number:
                record.update(values)
                return
        raise KeyError(number)

    def __enter__(self) -> TableApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, headers, body = api.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def answer(self, path: str, authorization: str) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.requests.append({"path": parts.path, "params": params, "at": time.monotonic()})
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if authorization != expected:
            return 401, {}, {"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}
        if self.failures:
            status, headers = self.failures.pop(0)
            return status, headers, {"error": {"message": "Too many requests" if status == 429 else "Server error"}, "status": "failure"}
        prefix = "/api/now/table/"
        if not parts.path.startswith(prefix) or parts.path[len(prefix):] not in self.tables:
            return 400, {}, {"error": {"message": "Invalid table"}, "status": "failure"}
        rows = list(self.tables[parts.path[len(prefix):]])
        order: list[str] = []
        for term in filter(None, params.get("sysparm_query", "").split("^")):
            if term.startswith("ORDERBY"):
                order.append(term[len("ORDERBY"):])
            elif ">=" in term:
                name, value = term.split(">=", 1)
                rows = [r for r in rows if str(self._value(r, name)) >= value]
            elif ">" in term:
                name, value = term.split(">", 1)
                rows = [r for r in rows if str(self._value(r, name)) > value]
            else:
                return 400, {}, {"error": {"message": f"unsupported query term {term}"}, "status": "failure"}
        rows.sort(key=lambda r: tuple(str(self._value(r, name)) for name in order))
        offset = int(params.get("sysparm_offset", "0"))
        limit = int(params.get("sysparm_limit", "10000"))
        page = rows[offset : offset + limit]
        fields = [f for f in params.get("sysparm_fields", "").split(",") if f]
        if fields:
            # Like ServiceNow: a field the table does not have is left out of the answer.
            page = [{f: self._value(r, f) for f in fields if self._has(r, f)} for r in page]
        return 200, {"X-Total-Count": str(len(rows))}, {"result": page}

    def _has(self, record: dict[str, Any], name: str) -> bool:
        return name.split(".", 1)[0] in record

    def _value(self, record: dict[str, Any], name: str) -> Any:
        """A field's raw value; `ref.field` follows a reference into the referenced table."""
        head, _, rest = name.partition(".")
        value = record.get(head, "")
        if isinstance(value, dict):  # a reference: {"link": …, "value": sys_id}
            if not rest:
                return value.get("value", "")
            table = value["link"].rsplit("/", 2)[-2]
            target = next((r for r in self.tables.get(table, []) if r["sys_id"] == value["value"]), None)
            return "" if target is None else self._value(target, rest)
        return value if not rest else ""


# --- Prometheus ---------------------------------------------------------------------------------


def prometheus_binaries() -> tuple[str, str] | None:
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    return (prom, tool) if prom and tool else None


@dataclass
class Prometheus:
    """A real Prometheus on a free loopback port, its own TSDB in `directory`, filled from
    OpenMetrics text with `promtool tsdb create-blocks-from openmetrics`, optionally behind
    basic auth (`--web.config.file`)."""

    directory: Path
    web_config: str | None = None
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def load(self, openmetrics: str) -> None:
        binaries = prometheus_binaries()
        assert binaries is not None
        data = self.directory / "data"
        source = self.directory / "input.om"
        source.write_text(openmetrics, encoding="utf-8")
        done = subprocess.run(
            [binaries[1], "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", str(source), str(data)],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr + done.stdout

    def start(self) -> None:
        binaries = prometheus_binaries()
        assert binaries is not None
        config = self.directory / "prometheus.yml"
        config.write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n", encoding="utf-8")
        args = [
            binaries[0],
            f"--config.file={config}",
            f"--storage.tsdb.path={self.directory / 'data'}",
            "--storage.tsdb.retention.time=10y",
            f"--web.listen-address=127.0.0.1:{self.port or free_port()}",
        ]
        self.port = int(args[-1].rsplit(":", 1)[1])
        auth = None
        if self.web_config:
            web = self.directory / "web.yml"
            web.write_text(self.web_config, encoding="utf-8")
            args.append(f"--web.config.file={web}")
        log = open(self.directory / "prometheus.log", "ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        log.close()

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"prometheus exited: {(self.directory / 'prometheus.log').read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1, auth=auth).status_code in (200, 401)
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "prometheus to be ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def require_prometheus_env() -> bool:
    return bool(os.environ.get("SLA_TEST_REQUIRE_PROMETHEUS"))
