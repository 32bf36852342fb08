"""The one place that creates HTTP clients (STYLE: one chokepoint per outside protocol).

Every outside HTTP call sla-worker makes (Prometheus, ServiceNow, probes) goes through a client
made here, so the rules hold everywhere:

- Timeouts always: a client never waits for ever (`timeout_s`, default 30 s).
- TLS certificates are verified unless a source says `verify_tls: false`. An internal CA is
  trusted by pointing `SSL_CERT_FILE` (or `SSL_CERT_DIR`) at it, as httpx reads them.
- Credentials come from environment variables named in the configuration (`token_env`, or
  `user` with `password_env`), read when a client is made, never at import time. A variable
  that is not set is a `PermanentError` naming the variable, not its value.
- Secrets never reach a message: errors are described by `describe_error`, which names the
  kind of failure and the address (scheme, host and port: a URL from `url_env` carries its
  key in the path, the query or the user information), and never the headers. httpx's own
  log line of each request shows that address only, at whatever level httpx is logged.
- Redirects are not followed (a probe compares the status it got; an API that redirects is
  misconfigured).
- Retries (`send_with_retries`) only on 429 and 5xx, honouring `Retry-After`, bounded in
  attempts and in total waiting time.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Callable, Generator, Mapping
from datetime import datetime, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from worker.domain.errors import PermanentError, TransientError


class _AddressOnly(logging.Filter):
    """httpx logs every request's full URL ("HTTP Request: POST https://…/webhookb2/<key>…"):
    a webhook or Teams URL from `url_env` carries its key there. The record keeps the address
    only, so that turning httpx's logging up for a diagnosis cannot show a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(address(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


# One line per request at INFO would drown the log (probes); warnings and errors still show.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpx").addFilter(_AddressOnly())

DEFAULT_TIMEOUT_S = 30.0
USER_AGENT = "sla-worker"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_ATTEMPTS = 5
MAX_WAIT_S = 60.0  # the longest single wait, whatever Retry-After asks for
MAX_TOTAL_WAIT_S = 300.0  # the longest total waiting of one request with its retries


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`; the token never appears in repr()."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(<hidden>)"


class Credentials(Protocol):
    """Where a source's credentials are: the names of environment variables, never secrets
    (a source's `Options` has these fields)."""

    @property
    def token_env(self) -> str | None: ...

    @property
    def user(self) -> str | None: ...

    @property
    def password_env(self) -> str | None: ...


def auth_from_env(credentials: Credentials, environ: Mapping[str, str] | None = None) -> httpx.Auth | None:
    """The credentials a source's options name: `token_env` (bearer token) or `user` with
    `password_env` (basic). None when the options name none."""
    env = os.environ if environ is None else environ
    if credentials.token_env:
        return BearerAuth(_secret(env, credentials.token_env, "the API token"))
    user, password_env = credentials.user, credentials.password_env
    if user and password_env:
        return httpx.BasicAuth(user, _secret(env, password_env, f"the password of {user}"))
    return None


def _secret(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name)
    if not value:
        raise PermanentError(f"environment variable {name} is not set (it should hold {what})")
    return value


def client(
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    verify_tls: bool = True,
    auth: httpx.Auth | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """A new synchronous client; the caller closes it (`with http.client(...) as c:`)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s),
        verify=verify_tls,
        auth=auth,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
    )


def async_client(*, timeout_s: float = DEFAULT_TIMEOUT_S, max_connections: int = 100) -> httpx.AsyncClient:
    """A new asynchronous client for many concurrent requests (probes). TLS is always
    verified: a probe exists to notice a broken certificate. No connection is kept alive
    between requests: each probe measures a fresh connection, as a user's browser would."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        verify=True,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=0),
    )


def safe_url(url: str | httpx.URL) -> str:
    """An address fit for a message: without user information (`user:password@`)."""
    parts = urlsplit(str(url))
    if parts.username is None and parts.password is None:
        return str(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def address(url: str | httpx.URL) -> str:
    """Where a request went, fit for any message: scheme, host and port, nothing that may be
    a secret (user information, path, query)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # IPv6
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def describe_error(error: BaseException) -> str:
    """A one-line description of a failed request without secrets: what went wrong, where."""
    request = getattr(error, "_request", None)
    where = f" ({request.method} {address(request.url)})" if request is not None else ""
    if isinstance(error, httpx.TimeoutException):
        return f"timed out{where}"
    if isinstance(error, httpx.ConnectError):
        text = str(error)
        if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "TLS" in text:
            return f"TLS error: {_first_line(text)}{where}"
        return f"cannot connect: {_first_line(text) or 'connection refused'}{where}"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"connection broken: {_first_line(str(error))}{where}"
    if isinstance(error, httpx.HTTPError):
        return f"{type(error).__name__}: {_first_line(str(error))}{where}"
    return f"{type(error).__name__}: {_first_line(str(error))}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def is_transient_status(status: int) -> bool:
    return status in RETRY_STATUSES or 500 <= status <= 599


def error_for_status(response: httpx.Response, service: str) -> TransientError | PermanentError:
    """The error kind of an unsuccessful response: 429 and 5xx pass (transient), any other
    4xx will not (permanent). The message names the service and the status, not the body."""
    status = response.status_code
    if status in (401, 403):
        return PermanentError(f"{service} refused the credentials (HTTP {status} {response.reason_phrase})")
    message = f"{service} answered HTTP {status} {response.reason_phrase}"
    return TransientError(message) if is_transient_status(status) else PermanentError(message)


def retry_after_s(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def send_with_retries(
    http_client: httpx.Client,
    method: str,
    url: str,
    *,
    service: str,
    attempts: int = DEFAULT_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs: Any,
) -> httpx.Response:
    """Send a request; on 429 or 5xx, or a timeout or lost connection, wait and try again
    (`Retry-After` when given, else 1, 2, 4 … s; each wait at most MAX_WAIT_S, all waits
    together at most MAX_TOTAL_WAIT_S). Returns the first 2xx/3xx response; raises
    TransientError when the attempts run out, PermanentError at once on any other 4xx."""
    waited, delay = 0.0, 0.0
    last: TransientError | None = None
    for attempt in range(attempts):
        if attempt:
            wait = min(MAX_WAIT_S, delay)
            if waited + wait > MAX_TOTAL_WAIT_S:
                break
            sleep(wait)
            waited += wait
        try:
            response = http_client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as error:
            last = TransientError(f"{service}: {describe_error(error)}")
            delay = float(2**attempt)
            continue
        if response.status_code < 400:
            return response
        failure = error_for_status(response, service)
        if isinstance(failure, PermanentError):
            raise failure
        last = failure
        asked = retry_after_s(response)
        delay = asked if asked is not None else float(2**attempt)
    assert last is not None
    raise TransientError(f"{last} (gave up after {attempt + 1} attempts)")
