"""The `servicenow` source: incidents from the Table API (`GET /api/now/table/<table>`,
`table` default `incident`), incrementally on `sys_updated_on`.

- Which fields mean what is a field map (`field_map` in the source, merged over
  DEFAULT_FIELD_MAP): keys are sla-worker's names, values ServiceNow field names (dot-walking
  such as `business_service.name` works). Only those fields are asked for (`sysparm_fields`),
  as raw values (`sysparm_display_value=false`): date-times then come as UTC
  `YYYY-MM-DD HH:MM:SS`.
- service: matched to a catalogue service by id or by name (case-insensitive). An incident
  for a service that is not in the catalogue (or has none) is ignored, not refused: the
  instance holds the whole trust's incidents.
- customer: matched to a catalogue customer by id or name; empty means every customer whose
  agreements cover the service (SPEC 5); any other value is refused, with the value in the
  reason, so a wrong field map is noticed instead of mis-attributing incidents.
- priority `1`…`5` (also `1 - Critical` or `P1`) becomes P1…P5.
- Each incident is then checked exactly as a row of the incidents CSV (`check_incident`).
- Paging: `sysparm_limit` (`page_size`, default DEFAULT_PAGE_SIZE) and `sysparm_offset`,
  ordered by `sys_updated_on` then `sys_id`, each page asking again from the last
  `sys_updated_on` seen (the offset only skips the records already read at that very second).
  An incident updated while the pages are read moves to the end and is read there or on the
  next run; no other record shifts onto a page already read.
- The position is the last `sys_updated_on` read and the `sys_id`s read at that second; the
  next run starts at that second and skips those, so a repeated run stores nothing twice
  (ServiceNow times have one-second resolution: asking from the next second could miss a
  record updated later within the same second).
- 429 and 5xx are retried, honouring `Retry-After` (`worker.http.send_with_retries`); 401/403
  and other 4xx fail the run at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx

from worker import http
from worker.config import fields as read
from worker.domain.errors import InvalidValue, PermanentError, TransientError
from worker.domain.model import Catalogue, Incident, Signal, Source, SourceKind
from worker.inputs.incidents import check_incident
from worker.sources.base import Fetched, SourcePlugin, format_instant

STREAM = "incidents"
DEFAULT_PAGE_SIZE = 500
DEFAULT_LOOKBACK_S = 31 * 86_400.0
MAX_PAGES = 1_000  # per run: a huge back-fill is read over several runs
DEFAULT_FIELD_MAP: dict[str, str] = {
    "id": "number",
    "service": "business_service.name",
    "customer": "company.name",
    "priority": "priority",
    "opened_at": "opened_at",
    "responded_at": "u_responded_at",
    "resolved_at": "resolved_at",
    "updated_at": "sys_updated_on",
}
OPTIONAL_FIELDS = ("on_hold",)  # a field holding `start/end;start/end` (SPEC 5), if the instance has one
_PRIORITY = re.compile(r"^\s*[Pp]?([1-5])(?:\b|$)")
_SNOW_TIME = "%Y-%m-%d %H:%M:%S"


KIND = SourceKind.SERVICENOW


@dataclass(frozen=True, kw_only=True)
class Options:
    url: str = read.option(read.url)
    user: str | None = read.option(read.name, None)
    password_env: str | None = read.option(read.env_name, None)
    token_env: str | None = read.option(read.env_name, None)
    table: str = read.option(read.name, "incident")
    field_map: Mapping[str, str] | None = read.option(read.text_map, None)
    page_size: int | None = read.option(read.positive_int, None)  # None: DEFAULT_PAGE_SIZE
    timeout_s: float = read.option(read.positive_duration, http.DEFAULT_TIMEOUT_S, key="timeout")
    verify_tls: bool = read.option(read.boolean, True)


def misfit(source_id: str, signal: Signal, *, query: bool, probe: bool) -> tuple[str, str]:
    """ServiceNow gives incidents: no signal can come from it."""
    return "source", f"{source_id!r} is a servicenow source: it provides incidents, not measurements"


class ServiceNowCollector:
    def __init__(self, source: Source[Options], catalogue: Catalogue):
        self.source = source
        self.base = source.options.url.rstrip("/")
        self.table = source.options.table
        self.page_size = source.options.page_size or DEFAULT_PAGE_SIZE
        self.timeout_s = source.options.timeout_s
        self.verify_tls = source.options.verify_tls
        self.field_map_given = dict(source.options.field_map or {})
        self.services = _lookup((s.id, s.name) for s in catalogue.services.values())
        self.customers = _lookup((c.id, c.name) for c in catalogue.customers.values())
        self.service_ids = frozenset(catalogue.services)
        self.customer_ids = frozenset(catalogue.customers)

    def fetch(self, positions: Mapping[str, str | None], now: datetime, since: datetime | None) -> Iterator[Fetched]:
        try:
            yield self._fetch(positions.get(STREAM), now, since)
        except (TransientError, PermanentError) as error:
            yield Fetched.failed(STREAM, str(error))
        except httpx.HTTPError as error:
            yield Fetched.failed(STREAM, f"ServiceNow: {http.describe_error(error)}")

    def _fetch(self, position: str | None, now: datetime, since: datetime | None) -> Fetched:
        fields = field_map(self.field_map_given)
        auth = http.auth_from_env(self.source.options)
        start, seen_before = _cursor(position)
        if since is not None:
            start, seen_before = since.astimezone(timezone.utc).replace(microsecond=0), set()
        elif start is None:
            start = (now - timedelta(seconds=DEFAULT_LOOKBACK_S)).astimezone(timezone.utc).replace(microsecond=0)
        records: dict[str, dict[str, object]] = {}
        at, taken_at = start, 0  # the last sys_updated_on read, and how many records were read at it
        seen_at: set[str] = set(seen_before)
        wanted = sorted({*fields.values(), "sys_id"})
        url = f"{self.base}/api/now/table/{self.table}"
        with http.client(
            timeout_s=self.timeout_s, verify_tls=self.verify_tls, auth=auth, headers={"Accept": "application/json"}
        ) as client:
            for _ in range(MAX_PAGES):
                params = {
                    "sysparm_query": f"{fields['updated_at']}>={at.strftime(_SNOW_TIME)}"
                    f"^ORDERBY{fields['updated_at']}^ORDERBYsys_id",
                    "sysparm_fields": ",".join(wanted),
                    "sysparm_limit": str(self.page_size),
                    "sysparm_offset": str(taken_at),
                    "sysparm_display_value": "false",
                    "sysparm_exclude_reference_link": "true",
                    "sysparm_no_count": "true",
                }
                response = http.send_with_retries(client, "GET", url, service="ServiceNow", params=params)
                page = _result(response)
                for record in page:
                    sys_id = _text(record.get("sys_id"))
                    updated = _instant(_text(record.get(fields["updated_at"])))
                    if updated is None or not sys_id:
                        raise PermanentError(
                            f"ServiceNow returned a record without sys_id or {fields['updated_at']}: check field_map.updated_at"
                        )
                    if updated == at:
                        taken_at += 1
                    else:
                        at, taken_at, seen_at = updated, 1, set()
                    if updated == start and sys_id in seen_before:
                        continue  # stored by the previous run
                    seen_at.add(sys_id)
                    records[sys_id] = record
                if len(page) < self.page_size:
                    break
            # After MAX_PAGES the run stops with what it read: its position is consistent
            # (everything up to the last record read), so the next run goes on from there.
        fetched = Fetched(stream=STREAM, position=_position(at, seen_at))
        incidents: dict[str, Incident] = {}
        for record in records.values():
            incident = self._incident(record, fields, fetched)
            if incident is not None:
                incidents[incident.id] = incident
        fetched.incidents = list(incidents.values())
        return fetched

    def _incident(self, record: Mapping[str, object], fields: Mapping[str, str], fetched: Fetched) -> Incident | None:
        """One record → Incident; None when it is ignored (not our service) or refused."""
        number = _text(record.get(fields["id"])) or _text(record.get("sys_id"))
        service_text = _text(record.get(fields["service"]))
        service = self.services.get(service_text.casefold())
        if service is None:
            fetched.ignored += 1
            return None
        customer_text = _text(record.get(fields["customer"])) if "customer" in fields else ""
        customer = self.customers.get(customer_text.casefold(), "") if customer_text else ""
        if customer_text and not customer:
            fetched.refuse(
                f"{number}: customer {customer_text!r} ({fields['customer']}) is not a configured customer id or name"
            )
            return None
        priority_text = _text(record.get(fields["priority"]))
        match = _PRIORITY.match(priority_text)
        priority = f"P{match.group(1)}" if match else priority_text
        row = (
            number,
            service,
            customer,
            priority,
            _iso(_text(record.get(fields["opened_at"]))),
            _iso(_text(record.get(fields["responded_at"]))) if "responded_at" in fields else "",
            _iso(_text(record.get(fields["resolved_at"]))) if "resolved_at" in fields else "",
            _text(record.get(fields["on_hold"])) if "on_hold" in fields else "",
        )
        try:
            return check_incident(row, self.service_ids, self.customer_ids)
        except InvalidValue as error:
            fetched.refuse(f"{number}: {error}")
            return None


def field_map(given: Mapping[str, object]) -> dict[str, str]:
    """The defaults with the source's `field_map` over them. A field the instance does not
    have is simply absent from its answers (read as empty): mapping `customer` to a custom
    field that is empty for most incidents makes those count for every customer."""
    known = (*DEFAULT_FIELD_MAP, *OPTIONAL_FIELDS)
    unknown = sorted(k for k in given if k not in known)
    if unknown:
        raise PermanentError(f"field_map: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(known)}")
    merged = {**DEFAULT_FIELD_MAP, **{k: str(v).strip() for k, v in given.items()}}
    return {k: v for k, v in merged.items() if v}


def _lookup(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """casefolded id or name → id (an id wins over another entry's name)."""
    found: dict[str, str] = {}
    items = list(pairs)
    for entry_id, name in items:
        found.setdefault(name.casefold(), entry_id)
    for entry_id, _ in items:
        found[entry_id.casefold()] = entry_id
    return found


def _text(value: object) -> str:
    """A field's value as text; a reference written as {"value": …, "display_value": …} (if
    the instance sends one) gives its display value."""
    if isinstance(value, dict):
        value = value.get("display_value") or value.get("value")
    return "" if value is None else str(value).strip()


def _instant(text: str) -> datetime | None:
    """ServiceNow's UTC `YYYY-MM-DD HH:MM:SS` (or ISO with an offset) → aware datetime."""
    if not text:
        return None
    try:
        return datetime.strptime(text, _SNOW_TIME).replace(tzinfo=timezone.utc)
    except ValueError:
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(timezone.utc) if value.tzinfo else None


def _iso(text: str) -> str:
    """A date-time field as the CSV would write it (UTC, `Z`); text that is not a ServiceNow
    date-time is passed on as it is, for `check_incident` to refuse with its reason."""
    at = _instant(text)
    return format_instant(at.timestamp()) if at is not None else text


def _result(response: httpx.Response) -> list[dict[str, object]]:
    try:
        body = response.json()
    except ValueError:
        raise PermanentError(f"ServiceNow answered HTTP {response.status_code} without JSON: is the url right?") from None
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        raise PermanentError("ServiceNow answered without a `result` list: is this the Table API?")
    return [r for r in result if isinstance(r, dict)]


def _cursor(position: str | None) -> tuple[datetime | None, set[str]]:
    if not position:
        return None, set()
    try:
        stored = json.loads(position)
        at = _instant(stored["updated"])
        return at, set(stored.get("seen", []))
    except (ValueError, KeyError, TypeError):
        return None, set()


def _position(at: datetime, seen: set[str]) -> str:
    return json.dumps({"updated": format_instant(at.timestamp()), "seen": sorted(seen)}, separators=(",", ":"))


def collector(source: Source[Options], catalogue: Catalogue) -> ServiceNowCollector:
    return ServiceNowCollector(source, catalogue)


PLUGIN = SourcePlugin(KIND, Options, collector, check=read.check_credentials, misfit=misfit)
