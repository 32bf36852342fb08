"""The `prometheus` source: every service signal whose `source` is this one is a PromQL
`query`, read with `query_range` from where the last run got to up to now.

- The range is the step grid: instants that are multiples of `step` (epoch-aligned), from the
  stream's position (or `--since`, or DEFAULT_LOOKBACK_S back when the stream was never
  collected) to now rounded down to the step. Each point Prometheus returns becomes one
  sample at its instant, so a repeated run asks for the same instants and the storage's
  upsert keeps one sample each.
- Ranges longer than Prometheus' limit (MAX_POINTS points per series) are split into chunks.
- The next run starts one step after the last point returned. A series that returned nothing
  (or stopped returning) is looked at again for at most LATE_S back, so late data is picked
  up and a series that does not exist does not grow a query without end.
- The query must return at most one series (aggregate it: `min(...)`, `sum(...)`); more is
  an error for that signal, since there is no right way to choose.
- Values are checked as SPEC 5 says (`up` 0 or 1 — the query is expected to produce that;
  others finite and ≥ 0); bad ones are refused and counted, the good ones kept.
- A query that fails (bad PromQL, HTTP error) fails that signal only. Prometheus that cannot
  be reached, or that times out MAX_TIMEOUTS_IN_ROW queries in a row, fails the remaining
  signals of the run at once: an outage costs seconds, not one timeout per signal.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import numpy as np

from worker import http
from worker.config import fields as read
from worker.domain.errors import PermanentError, TransientError
from worker.domain.model import Catalogue, Signal, Source, SourceKind
from worker.sources.base import (
    Fetched,
    SourcePlugin,
    check_values,
    format_instant,
    instant_position,
    sample_streams,
    stream_name,
)

MAX_POINTS = 11_000
DEFAULT_LOOKBACK_S = 86_400.0
LATE_S = 3_600.0
MAX_TIMEOUTS_IN_ROW = 3


KIND = SourceKind.PROMETHEUS


@dataclass(frozen=True, kw_only=True)
class Options:
    url: str = read.option(read.url)
    step_s: float = read.option(read.positive_duration, 60.0, key="step")
    timeout_s: float = read.option(read.positive_duration, http.DEFAULT_TIMEOUT_S, key="timeout")
    verify_tls: bool = read.option(read.boolean, True)
    user: str | None = read.option(read.name, None)
    password_env: str | None = read.option(read.env_name, None)
    token_env: str | None = read.option(read.env_name, None)


def misfit(source_id: str, signal: Signal, *, query: bool, probe: bool) -> tuple[str, str] | None:
    """Every signal is a PromQL query: without one there is nothing to ask."""
    if query:
        return None
    return "query", f"is required: {source_id!r} is a prometheus source, so say which query gives {signal.value}"


class PrometheusCollector:
    def __init__(self, source: Source[Options], catalogue: Catalogue):
        self.source = source
        self.url = source.options.url.rstrip("/")
        self.step_s = source.options.step_s
        self.timeout_s = source.options.timeout_s
        self.verify_tls = source.options.verify_tls
        self.streams = [(svc, sig, q) for svc, sig, q in sample_streams(catalogue, source.id) if q]

    def fetch(self, positions: Mapping[str, str | None], now: datetime, since: datetime | None) -> Iterator[Fetched]:
        if not self.streams:
            return
        try:
            auth = http.auth_from_env(self.source.options)
        except PermanentError as error:
            for service, signal, _ in self.streams:
                yield Fetched.failed(stream_name(service, signal), str(error))
            return
        end = math.floor(now.timestamp() / self.step_s) * self.step_s
        timeouts = 0
        stop: str | None = None
        with http.client(timeout_s=self.timeout_s, verify_tls=self.verify_tls, auth=auth) as client:
            for service, signal, query in self.streams:
                stream = stream_name(service, signal)
                if stop is not None:
                    yield Fetched.failed(stream, stop)
                    continue
                start = self._start(positions.get(stream), end, since)
                try:
                    fetched = self._fetch_stream(client, service, signal, str(query), start, end)
                except httpx.ConnectError as error:
                    stop = f"Prometheus at {http.safe_url(self.url)} cannot be reached: {http.describe_error(error)}"
                    yield Fetched.failed(stream, stop)
                    continue
                except httpx.TimeoutException as error:
                    timeouts += 1
                    message = f"query timed out after {self.timeout_s:g} s: {http.describe_error(error)}"
                    if timeouts >= MAX_TIMEOUTS_IN_ROW:
                        stop = f"not queried: {timeouts} queries in a row timed out (last: {message})"
                    yield Fetched.failed(stream, message)
                    continue
                except httpx.HTTPError as error:
                    yield Fetched.failed(stream, http.describe_error(error))
                    continue
                except (TransientError, PermanentError) as error:
                    yield Fetched.failed(stream, str(error))
                    continue
                timeouts = 0
                yield fetched

    def _start(self, position: str | None, end: float, since: datetime | None) -> float:
        """The first instant to ask for, on the step grid."""
        if since is not None:
            start = since.timestamp()
        else:
            stored = instant_position(position)
            start = stored if stored is not None else end - DEFAULT_LOOKBACK_S
        return math.ceil(start / self.step_s) * self.step_s

    def _fetch_stream(
        self, client: httpx.Client, service: str, signal: str, query: str, start: float, end: float
    ) -> Fetched:
        stream = stream_name(service, signal)
        times: list[np.ndarray] = []
        values: list[np.ndarray] = []
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(chunk_start + (MAX_POINTS - 1) * self.step_s, end)
            at_s, value = self._query_range(client, query, chunk_start, chunk_end)
            times.append(at_s)
            values.append(value)
            chunk_start = chunk_end + self.step_s
        at_s = np.concatenate(times) if times else np.empty(0)
        value = np.concatenate(values) if values else np.empty(0)
        last = float(at_s.max()) if len(at_s) else None
        next_start = max(start, end + self.step_s - LATE_S)
        if last is not None:
            next_start = max(next_start, last + self.step_s)
        fetched = Fetched(stream=stream, service=service, signal=signal, position=format_instant(next_start))
        good, reasons = check_values(signal, value)
        at_ms = np.round(at_s * 1000.0).astype(np.int64)
        refused = int((~good).sum())
        if refused:
            fetched.refused = refused
            fetched.reasons = [f"{format_instant(at_s[i])}: {reason}" for i, reason in reasons]
        fetched.at_ms, fetched.value = at_ms[good], value[good]
        return fetched

    def _query_range(self, client: httpx.Client, query: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """One `query_range` call → (instants in epoch s, values) of the single series."""
        response = client.post(
            f"{self.url}/api/v1/query_range",
            data={"query": query, "start": _number(start), "end": _number(end), "step": _number(self.step_s)},
        )
        body = _json(response)
        if response.status_code >= 400 or body.get("status") != "success":
            problem = body.get("error") if isinstance(body, dict) else None
            if problem:
                kind = body.get("errorType", "error")
                error_class = TransientError if http.is_transient_status(response.status_code) else PermanentError
                raise error_class(f"Prometheus refused the query ({kind}): {problem}")
            raise http.error_for_status(response, "Prometheus")
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            raise PermanentError(f"query returned a {data.get('resultType')}, not a range of values")
        series = data.get("result") or []
        if len(series) > 1:
            shown = ", ".join(_labels(s.get("metric", {})) for s in series[:3])
            raise PermanentError(
                f"query returned {len(series)} series ({shown}{' …' if len(series) > 3 else ''}); "
                "it must return one: aggregate it, e.g. min(...) or sum(...)"
            )
        if not series:
            return np.empty(0), np.empty(0)
        points = series[0].get("values") or []
        at_s = np.fromiter((float(p[0]) for p in points), dtype=np.float64, count=len(points))
        value = np.fromiter((float(p[1]) for p in points), dtype=np.float64, count=len(points))
        return at_s, value


def _number(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        if response.status_code >= 400:
            raise http.error_for_status(response, "Prometheus") from None
        raise PermanentError(f"Prometheus answered HTTP {response.status_code} without JSON: is the url right?") from None
    return body if isinstance(body, dict) else {}


def _labels(metric: Mapping[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


def collector(source: Source[Options], catalogue: Catalogue) -> PrometheusCollector:
    return PrometheusCollector(source, catalogue)


PLUGIN = SourcePlugin(KIND, Options, collector, check=read.check_credentials, misfit=misfit)
