"""The `http_probe` source: the worker itself requests each service's `probe.url` every
`interval` and stores `up` and `latency_ms`, for the signals of the service that name this
source.

- `up` is 1 when the answer came within `probe.timeout` with status `expect_status` (redirects
  are not followed: a 302 is compared as it is) and, when `contains` is set, the body holds
  that text (the first MAX_BODY_BYTES are read); else 0 — timeout, refused connection, TLS
  error (certificates are always verified: a probe exists to notice a broken certificate),
  wrong status, missing text.
- `latency_ms` is the time from sending the request to the end of the body. It is stored
  whenever there was an answer, whatever its status, and on a timeout (then it is the time
  waited: the service was at least that slow); not when the connection failed, since nothing
  was measured.
- Samples are stamped at the start of their interval slot (instants that are multiples of
  `interval`), so two workers probing in the same slot store one sample. A service is due
  when its stored position (the next slot) has come; collection runs every minute, so an
  interval shorter than a minute acts as one minute.
- Probes run concurrently (asyncio, at most `concurrency` at a time, default
  DEFAULT_CONCURRENCY): 300 probes with a 10 s timeout finish within about 30 s even if every
  one of them times out.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx
import numpy as np

from worker import http
from worker.config import fields as read
from worker.domain.model import Catalogue, Probe, Signal, Source, SourceKind
from worker.sources.base import Fetched, SourcePlugin, format_instant, instant_position, sample_streams, stream_name

DEFAULT_CONCURRENCY = 100
MAX_BODY_BYTES = 1 << 20
_PROBED = (Signal.UP, Signal.LATENCY_MS)


@dataclass(frozen=True)
class ProbeResult:
    up: bool
    latency_ms: float | None
    reason: str | None  # why up is 0


KIND = SourceKind.HTTP_PROBE


@dataclass(frozen=True, kw_only=True)
class Options:
    interval_s: float = read.option(read.positive_duration, 60.0, key="interval")
    concurrency: int | None = read.option(read.positive_int, None)  # None: DEFAULT_CONCURRENCY


def misfit(source_id: str, signal: Signal, *, query: bool, probe: bool) -> tuple[str, str] | None:
    """A probe measures up and latency, and only of a service that has a probe to run."""
    if signal not in _PROBED:
        return "source", f"{source_id!r} is an http_probe source: it measures up and latency_ms only"
    if not probe:
        return "source", f"{source_id!r} is an http_probe source, but this service has no probe to run"
    return None


class ProbeCollector:
    def __init__(self, source: Source[Options], catalogue: Catalogue):
        self.source = source
        self.interval_s = source.options.interval_s
        self.concurrency = source.options.concurrency or DEFAULT_CONCURRENCY
        wanted: dict[str, list[str]] = {}
        for service, signal, _ in sample_streams(catalogue, source.id):
            if signal in _PROBED:
                wanted.setdefault(service, []).append(signal)
        self.targets = [
            (service, signals, catalogue.services[service].probe)
            for service, signals in wanted.items()
            if catalogue.services[service].probe is not None
        ]

    def fetch(self, positions: Mapping[str, str | None], now: datetime, since: datetime | None) -> Iterator[Fetched]:
        """Probe every service that is due; `since` does not apply (the past cannot be probed)."""
        slot_s = math.floor(now.timestamp() / self.interval_s) * self.interval_s
        due = [
            (service, signals, probe)
            for service, signals, probe in self.targets
            if any(_due(positions.get(stream_name(service, s)), slot_s) for s in signals)
        ]
        if not due:
            return
        results = asyncio.run(probe_all([probe for _, _, probe in due], self.concurrency))  # type: ignore[misc]
        at_ms = np.array([round(slot_s * 1000)], dtype=np.int64)
        position = format_instant(slot_s + self.interval_s)
        for (service, signals, _), result in zip(due, results):
            for signal in signals:
                fetched = Fetched(stream=stream_name(service, signal), service=service, signal=signal, position=position)
                value = float(result.up) if signal == Signal.UP.value else result.latency_ms
                if value is not None:
                    fetched.at_ms, fetched.value = at_ms, np.array([value], dtype=np.float64)
                if signal == Signal.UP.value and not result.up:
                    fetched.detail = f"down: {result.reason}"
                yield fetched


def _due(position: str | None, slot_s: float) -> bool:
    next_slot = instant_position(position)
    return next_slot is None or next_slot <= slot_s


async def probe_all(probes: list[Probe], concurrency: int) -> list[ProbeResult]:
    """Run the probes, at most `concurrency` at a time; results in the order given."""
    limit = asyncio.Semaphore(concurrency)
    longest = max(p.timeout_s for p in probes)
    async with http.async_client(timeout_s=longest, max_connections=concurrency) as client:

        async def one(probe: Probe) -> ProbeResult:
            async with limit:
                return await probe_once(client, probe)

        return list(await asyncio.gather(*(one(p) for p in probes)))


async def probe_once(client: httpx.AsyncClient, probe: Probe) -> ProbeResult:
    """One probe, bounded by `probe.timeout_s` from the request to the end of the body."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(probe.timeout_s):
            async with client.stream("GET", probe.url, timeout=probe.timeout_s) as response:
                body = await _read_some(response)
    except (TimeoutError, httpx.TimeoutException):
        waited = (time.perf_counter() - started) * 1000.0
        return ProbeResult(False, waited, f"no answer within {probe.timeout_s:g} s")
    except httpx.HTTPError as error:
        return ProbeResult(False, None, http.describe_error(error))
    latency_ms = (time.perf_counter() - started) * 1000.0
    if response.status_code != probe.expect_status:
        return ProbeResult(False, latency_ms, f"status {response.status_code}, expected {probe.expect_status}")
    if probe.contains and probe.contains not in body.decode(response.encoding or "utf-8", errors="replace"):
        return ProbeResult(False, latency_ms, f"the page does not contain {probe.contains!r}")
    return ProbeResult(True, latency_ms, None)


async def _read_some(response: httpx.Response) -> bytes:
    """The first MAX_BODY_BYTES of the body (a probe never reads a whole large download)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY_BYTES:
            break
    return b"".join(chunks)[:MAX_BODY_BYTES]


def collector(source: Source[Options], catalogue: Catalogue) -> ProbeCollector:
    return ProbeCollector(source, catalogue)


PLUGIN = SourcePlugin(KIND, Options, collector, misfit=misfit)
