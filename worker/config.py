"""Configuration directory → validated `Catalogue` (SPEC section 3).

Every `*.yaml` (and `*.yml`) file of the directory is read and merged; the whole directory is refused with
one `file:line: path.to.field: message` line per problem, all problems at once.

Validation walks PyYAML's composed node tree by hand instead of going through pydantic: every
value keeps its own line and column, and the messages are written for the service manager who
edits the files (`must be between 0 and 100, not 120`), not for a Python programmer.

Reading order matters for the messages, not for the result: ids are indexed across all files
first, so a reference to an entry that is itself invalid is not reported a second time.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor

from worker.domain.errors import ConfigError, InvalidValue
from worker.domain.model import (
    CUSTOMER_KINDS,
    DEFAULT_STALENESS_S,
    DEFAULT_TIMEZONE,
    HOLIDAY_SETS,
    PRIORITIES,
    VALUE_DOMAINS,
    Agreement,
    AgreementKind,
    Calendar,
    Catalogue,
    Channel,
    Contacts,
    Customer,
    MaintenanceWindow,
    MissingData,
    Objective,
    ObjectiveType,
    Probe,
    Service,
    Signal,
    SignalSource,
    Source,
    Supplier,
)
from worker.domain.time import parse_date, parse_duration, parse_instant

__all__ = ["CHANNEL_KINDS", "CONFIG_SUFFIXES", "SECTIONS", "SOURCE_KINDS", "config_files", "load_catalogue"]

T = TypeVar("T")

SECTIONS = (
    "calendars",
    "services",
    "customers",
    "agreements",
    "maintenance",
    "sources",
    "channels",
    "suppliers",
    "contracts",
)
CONFIG_SUFFIXES = (".yaml", ".yml")
_ENTRY_NAME = {
    "calendars": "calendar",
    "services": "service",
    "customers": "customer",
    "agreements": "agreement",
    "suppliers": "supplier",
    "contracts": "contract",
    "maintenance": "maintenance window",
    "sources": "source",
    "channels": "channel",
}
_ID_SECTIONS = tuple(s for s in SECTIONS if s != "maintenance")
# Ids that share one namespace although they are written in different sections: results are
# keyed by agreement or contract id, and listed by customer or supplier id (SPEC 9.2).
_SHARED_IDS = (
    ("contracts", "agreements", "results are listed by agreement or contract id"),
    ("suppliers", "customers", "results are listed by customer or supplier id"),
)
SOURCE_KINDS = ("prometheus", "http_probe", "servicenow", "file_drop")
CHANNEL_KINDS = ("email", "webhook", "teams", "alertmanager")
SEVERITIES = ("page", "ticket")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS_OPEN = "24x7"
DEFAULT_REPEAT_INTERVAL_S = 4 * 3600.0
_SECRET_KEYS = ("password", "token", "secret")

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RANGE_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_NULL_TAG = "tag:yaml.org,2002:null"
_NOT_FOR_ALWAYS = (
    f"does not apply to a {ALWAYS_OPEN} calendar, which is always open; "
    'write the hours as mon-sun: ["00:00-24:00"] instead'
)


# --------------------------------------------------------------------------------------------
# Places and problems


@dataclass(frozen=True)
class _At:
    """A YAML node and where it was written, so that any problem can name file, line and path."""

    node: yaml.Node
    file: str
    path: str

    @property
    def line(self) -> int:
        return self.node.start_mark.line + 1

    def child(self, node: yaml.Node, key: str | int) -> _At:
        key = _path_key(key)
        return _At(node, self.file, f"{self.path}.{key}" if self.path else key)

    def beside(self, key: str) -> _At:
        """The place of a key that is missing from this mapping: the mapping's own line."""
        return _At(self.node, self.file, f"{self.path}.{key}" if self.path else key)


def _path_key(key: str | int) -> str:
    """A key as one token of a problem's path: a key with spaces, colons or control
    characters (a typo such as `my key:`) is quoted, so the problem stays one parseable line."""
    text = str(key)
    if text and not any(ch.isspace() or ch == ":" or not ch.isprintable() for ch in text):
        return text
    return repr(text).replace(" ", "\\x20")


@dataclass(frozen=True)
class _Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{place}: {self.path}: {self.message}" if self.path else f"{place}: {self.message}"


class _Refused(Exception):
    """Raised by a converter: either a message about the value being read, or problems that
    already carry their own place (several items of a list, fields of a nested mapping)."""

    def __init__(self, message: str = "", placed: Iterable[_Problem] = ()):
        super().__init__(message)
        self.message = message
        self.placed = list(placed)

    def place(self, at: _At) -> list[_Problem]:
        if self.placed:
            return self.placed
        return [_Problem(at.file, at.line, at.path, self.message)]


class _Checker:
    """Collects problems instead of stopping at the first, so the user fixes them in one go."""

    def __init__(self) -> None:
        self.problems: list[_Problem] = []

    def refuse(self, at: _At, message: str) -> None:
        self.problems.append(_Problem(at.file, at.line, at.path, message))

    def record(self, at: _At, refused: _Refused) -> None:
        self.problems.extend(refused.place(at))

    def mark(self) -> int:
        return len(self.problems)

    def clean_since(self, mark: int) -> bool:
        return len(self.problems) == mark


# --------------------------------------------------------------------------------------------
# Reading one YAML mapping


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Fields:
    """Reads one YAML mapping field by field. It remembers which keys were asked for, so that
    whatever is left over is refused as unknown: that is how typos are caught."""

    def __init__(self, ck: _Checker, at: _At, noun: str = "field"):
        self.ck = ck
        self.at = at
        self.noun = noun
        self.keys: dict[str, _At] = {}
        self.values: dict[str, _At] = {}
        self.asked: list[str] = []
        self.ignore_unknown = False
        self._index()

    def _index(self) -> None:
        node = self.at.node
        assert isinstance(node, yaml.MappingNode)
        seen: dict[str, _At] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key_at = self.at.child(key_node, key_node.value)
                if key_node.value in seen:
                    self.ck.refuse(key_at, f"appears twice in this mapping (first on line {seen[key_node.value].line})")
                seen.setdefault(key_node.value, key_at)
        try:
            SafeConstructor().flatten_mapping(node)  # YAML merge keys (`<<: *defaults`)
        except yaml.YAMLError as exc:
            self.ck.refuse(self.at, f"YAML syntax error: cannot merge: {getattr(exc, 'problem', exc)}")
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.ck.refuse(self.at.child(key_node, "?"), "a key must be a plain name, not a list or mapping")
                continue
            key = key_node.value
            self.keys[key] = self.at.child(key_node, key)
            self.values[key] = self.at.child(value_node, key)

    def value_at(self, key: str) -> _At | None:
        """The place of a key's value, or None when the key is absent or left empty."""
        if key not in self.asked:
            self.asked.append(key)
        at = self.values.get(key)
        return None if at is None or _is_null(at.node) else at

    def present(self, key: str) -> bool:
        return self.value_at(key) is not None

    def get(self, key: str, convert: Callable[[_At], T], default: Any = None, *, required: bool = False) -> Any:
        """The converted value, or `default` when absent; a refusal is recorded, never raised."""
        at = self.value_at(key)
        if at is None:
            if required and key in self.keys:
                self.ck.refuse(self.keys[key], "is empty, but it is required")
            elif required:
                self.ck.refuse(self.at.beside(key), "is required")
            return default
        try:
            return convert(at)
        except _Refused as refused:
            self.ck.record(at, refused)
            return default

    def refuse(self, key: str, message: str) -> None:
        """Refuse a key's value (or the mapping, when the key is absent) with `message`."""
        self.ck.refuse(self.value_at(key) or self.at.beside(key), message)

    def done(self) -> None:
        """Refuse every key that no reader asked for."""
        if self.ignore_unknown:
            return
        for key, key_at in self.keys.items():
            if key not in self.asked:
                self.ck.refuse(key_at, self._unknown(key))

    def _unknown(self, key: str) -> str:
        if key in _SECRET_KEYS and f"{key}_env" in self.asked:
            return (
                f"secrets are never written in the configuration: set the {key} in an environment "
                f"variable and give its name in {key}_env"
            )
        hint = _suggest(key, self.asked)
        if hint:
            return f"unknown {self.noun}{hint}"
        return f"unknown {self.noun}; expected one of: {', '.join(self.asked)}"


def _fields(ck: _Checker, at: _At, noun: str = "field") -> _Fields | None:
    if isinstance(at.node, yaml.MappingNode):
        return _Fields(ck, at, noun)
    ck.refuse(at, "must be a set of `name: value` fields")
    return None


def _nested(read: Callable[[_Checker, _At], T]) -> Callable[[_At], T]:
    """Turn a reader that reports several placed problems into a converter of one field."""

    def convert(at: _At) -> T:
        ck = _Checker()
        value = read(ck, at)
        if ck.problems:
            raise _Refused(placed=ck.problems)
        return value

    return convert


# --------------------------------------------------------------------------------------------
# Converters: one YAML value → one Python value, or _Refused with a message in plain words


def _scalar(at: _At) -> Any:
    """The value YAML gives a scalar (str, int, float, bool, date, datetime)."""
    if not isinstance(at.node, yaml.ScalarNode):
        raise _Refused("must be a single value, not a list or mapping")
    try:
        return SafeConstructor().construct_object(at.node)
    except ValueError:
        return at.node.value  # looks like a date but is not one (2026-02-30): judged as text
    except (yaml.YAMLError, AttributeError, TypeError):  # e.g. `!!timestamp x` fails inside PyYAML
        raise _Refused(f"cannot read {at.node.value!r}") from None


def _text(at: _At) -> str:
    """Any single value, as the text written (so `name: yes` stays "yes", not True)."""
    _scalar(at)
    return str(at.node.value)


def _name(at: _At) -> str:
    text = _text(at).strip()
    if not text:
        raise _Refused("must not be empty")
    return text


def _id(at: _At) -> str:
    text = _text(at)
    if not _ID_RE.match(text):
        raise _Refused(f"{text!r} cannot be used as an id: use letters, digits, '-', '_' or '.', without spaces")
    return text


def _bool(at: _At) -> bool:
    value = _scalar(at)
    if not isinstance(value, bool):
        raise _Refused(f"must be true or false, not {at.node.value!r}")
    return value


def _number(at: _At) -> float:
    value = _scalar(at)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        quoted = isinstance(value, str) and _looks_numeric(value)
        raise _Refused(
            f"must be a number, not {at.node.value!r}" + (" (write numbers without quotes)" if quoted else "")
        )
    return float(value)


def _looks_numeric(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _positive_number(at: _At) -> float:
    value = _number(at)
    if value <= 0:
        raise _Refused(f"must be greater than 0, not {at.node.value}")
    return value


def _percent(at: _At) -> float:
    value = _number(at)
    if not 0 <= value <= 100:
        raise _Refused(f"must be between 0 and 100, not {at.node.value}")
    return value


def _positive_int(at: _At) -> int:
    value = _scalar(at)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Refused(f"must be a whole number greater than 0, not {at.node.value!r}")
    return value


def _http_status(at: _At) -> int:
    value = _scalar(at)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise _Refused(f"must be an HTTP status code between 100 and 599, not {at.node.value!r}")
    return value


def _duration(at: _At) -> float:
    value = _scalar(at)
    try:
        return parse_duration(
            value if isinstance(value, (int, float)) and not isinstance(value, bool) else at.node.value
        )
    except InvalidValue as exc:
        raise _Refused(str(exc)) from None


def _positive_duration(at: _At) -> float:
    seconds = _duration(at)
    if seconds <= 0:
        raise _Refused(f"must be longer than 0, not {at.node.value!r}")
    return seconds


def _date(at: _At) -> date:
    value = _scalar(at)
    if isinstance(value, datetime):
        raise _Refused(f"must be a date YYYY-MM-DD, not a timestamp {at.node.value!r}")
    try:
        return value if isinstance(value, date) else parse_date(at.node.value)
    except InvalidValue as exc:
        raise _Refused(str(exc)) from None


def _instant(at: _At) -> datetime:
    """A timestamp with a UTC offset. YAML turns an unquoted one into a datetime (aware or
    naive); a naive one is re-read from its text so the message shows what was written."""
    value = _scalar(at)
    try:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return parse_instant(value)
        return parse_instant(at.node.value)
    except InvalidValue as exc:
        raise _Refused(str(exc)) from None


def _timezone(at: _At) -> str:
    name = _text(at).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Refused(f"{name!r} is not a known time zone; use a name such as {DEFAULT_TIMEZONE}") from None
    return name


def _email(at: _At) -> str:
    text = _text(at).strip()
    if not _EMAIL_RE.match(text):
        raise _Refused(f"{text!r} is not an email address")
    return text


def _url(at: _At) -> str:
    text = _text(at).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _Refused(f"{text!r} is not a web address starting with http:// or https://")
    return text


def _env_name(at: _At) -> str:
    text = _text(at).strip()
    if not _ENV_RE.match(text):
        raise _Refused(f"{text!r} is not the name of an environment variable (such as SNOW_PASSWORD)")
    return text


def _choice(choices: Iterable[str]) -> Callable[[_At], str]:
    options = tuple(choices)

    def convert(at: _At) -> str:
        text = _text(at).strip()
        if text not in options:
            raise _Refused(f"must be one of {', '.join(options)}, not {text!r}{_suggest(text, options)}")
        return text

    return convert


def _list_of(convert: Callable[[_At], T], *, non_empty: bool = False, unique: bool = False) -> Callable[[_At], list[T]]:
    """A YAML list whose items are converted one by one; each bad item is reported at its line."""

    def convert_list(at: _At) -> list[T]:
        if not isinstance(at.node, yaml.SequenceNode):
            raise _Refused("must be a list, such as [a, b] or one `- item` per line")
        if non_empty and not at.node.value:
            raise _Refused("must list at least one item")
        values: list[T] = []
        placed: list[_Problem] = []
        first_seen: dict[object, int] = {}
        for index, item in enumerate(at.node.value):
            item_at = at.child(item, index)
            try:
                value = convert(item_at)
            except _Refused as refused:
                placed.extend(refused.place(item_at))
                continue
            if unique and value in first_seen:
                twice = f"{item_at.node.value!r} is listed twice (first as item {first_seen[value]})"
                placed.append(_Problem(item_at.file, item_at.line, item_at.path, twice))
                continue
            if unique:
                first_seen[value] = index
            values.append(value)
        if placed:
            raise _Refused(placed=placed)
        return values

    return convert_list


def _text_map(ck: _Checker, at: _At) -> dict[str, str]:
    """A mapping of names to texts (ServiceNow field_map)."""
    fields = _fields(ck, at)
    if fields is None:
        return {}
    result = {}
    for key in list(fields.keys):
        value = fields.get(key, _name, required=True)
        if value is not None:
            result[key] = value
    return result


# --------------------------------------------------------------------------------------------
# Calendars: weekly hours


def _day_span(text: str) -> tuple[int, ...]:
    """`mon` → (0,), `mon-fri` → (0, 1, 2, 3, 4): day names in week order, Monday first."""
    names = text.split("-")
    if len(names) > 2 or any(name not in DAYS for name in names):
        raise _Refused(f"{text!r} is not a day: use mon, tue, wed, thu, fri, sat, sun or a range such as mon-fri")
    first, last = DAYS.index(names[0]), DAYS.index(names[-1])
    if len(names) == 2 and first >= last:
        raise _Refused(f"{text!r}: a range of days runs in week order from mon to sun, such as mon-fri or sat-sun")
    return tuple(range(first, last + 1))


def _minutes(hours: str, minutes: str, *, is_end: bool) -> int:
    h, m = int(hours), int(minutes)
    if h == 24 and m == 0 and is_end:
        return 1440
    if h > 23 or m > 59:
        raise _Refused("is not a time of day (use 00:00 to 23:59, and 24:00 only as an end)")
    return h * 60 + m


def _time_range(at: _At) -> tuple[int, int]:
    """`"08:00-18:00"` → (480, 1080) minutes after local midnight; `24:00` is the next midnight."""
    text = _text(at).strip()
    match = _RANGE_RE.match(text)
    if not match:
        raise _Refused(f'{text!r} is not a range of times such as "08:00-18:00"')
    try:
        start = _minutes(match[1], match[2], is_end=False)
        end = _minutes(match[3], match[4], is_end=True)
    except _Refused as refused:
        raise _Refused(f"{text!r} {refused.message}") from None
    if end <= start:
        raise _Refused(
            f"{text!r} ends before it starts; for service past midnight split it, "
            f'such as "22:00-24:00" on one day and "00:00-06:00" on the next'
        )
    return start, end


def _day_ranges(at: _At) -> list[tuple[int, int, _At]]:
    """The ranges listed for one day key; a single range may be written without brackets."""
    if isinstance(at.node, yaml.ScalarNode):
        if _is_null(at.node):
            return []
        return [(*_time_range(at), at)]
    items = _list_of(lambda item: (*_time_range(item), item))(at)
    return [(start, end, item) for start, end, item in items]


def _weekly_hours(ck: _Checker, at: _At) -> tuple[tuple[tuple[int, int], ...], ...] | None:
    """`hours:` → 7 sorted tuples of (start_min, end_min), Monday first. A day may appear under
    several keys (`mon-fri` and `wed`); overlapping ranges are refused because they usually
    mean a typo, and ranges that touch are joined."""
    fields = _fields(ck, at)
    if fields is None:
        return None
    by_day: list[list[tuple[int, int, _At]]] = [[] for _ in DAYS]
    for key in list(fields.keys):
        fields.asked.append(key)
        try:
            days = _day_span(key)
        except _Refused as refused:
            ck.record(fields.keys[key], refused)
            continue
        try:
            ranges = _day_ranges(fields.values[key])
        except _Refused as refused:
            ck.record(fields.values[key], refused)
            continue
        for day in days:
            by_day[day].extend(ranges)
    if not fields.keys:
        ck.refuse(at, f'lists no days: write {ALWAYS_OPEN} or days with times, such as mon-fri: ["08:00-18:00"]')
    overlaps: dict[tuple[_At, _At], list[str]] = {}
    week = tuple(_join_day(ranges, DAYS[day], overlaps) for day, ranges in enumerate(by_day))
    for (later, earlier), on_days in overlaps.items():
        where = f"(line {earlier.line}) on {', '.join(on_days)}"
        ck.refuse(later, f"{later.node.value} overlaps {earlier.node.value} {where}")
    return week


def _join_day(
    ranges: list[tuple[int, int, _At]], day: str, overlaps: dict[tuple[_At, _At], list[str]]
) -> tuple[tuple[int, int], ...]:
    """One day's ranges sorted and joined; each overlap is noted once per pair, with its days."""
    joined: list[tuple[int, int]] = []
    previous: _At | None = None
    for start, end, at in sorted(ranges, key=lambda r: (r[0], r[1])):
        if joined and previous is not None and start < joined[-1][1]:
            overlaps.setdefault((at, previous), []).append(day)
            continue
        if joined and start == joined[-1][1]:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
        previous = at
    return tuple(joined)


def _hours(ck: _Checker, at: _At) -> tuple[tuple[tuple[int, int], ...], ...] | str | None:
    if isinstance(at.node, yaml.ScalarNode):
        if at.node.value == ALWAYS_OPEN:
            return ALWAYS_OPEN
        ck.refuse(at, f'must be {ALWAYS_OPEN} or days with times, such as mon-fri: ["08:00-18:00"]')
        return None
    return _weekly_hours(ck, at)


# --------------------------------------------------------------------------------------------
# Kind-specific options of sources and channels


@dataclass(frozen=True)
class _Option:
    """One kind-specific field of a source or channel."""

    convert: Callable[[_At], object]
    default: object = None
    required: bool = False


def _duration_option(default: float | None = None) -> _Option:
    """A duration option; it is stored in seconds under `<name>_s`."""
    return _Option(_positive_duration, default)


_SOURCE_OPTIONS: dict[str, dict[str, _Option]] = {
    "prometheus": {
        "url": _Option(_url, required=True),
        "step": _duration_option(60.0),
        "timeout": _duration_option(30.0),
        "verify_tls": _Option(_bool, True),
        "user": _Option(_name),
        "password_env": _Option(_env_name),
        "token_env": _Option(_env_name),
    },
    "http_probe": {
        "interval": _duration_option(60.0),
        "concurrency": _Option(_positive_int),
    },
    "servicenow": {
        "url": _Option(_url, required=True),
        "user": _Option(_name),
        "password_env": _Option(_env_name),
        "token_env": _Option(_env_name),
        "table": _Option(_name, "incident"),
        "field_map": _Option(_nested(_text_map)),
        "page_size": _Option(_positive_int),
        "timeout": _duration_option(30.0),
        "verify_tls": _Option(_bool, True),
    },
    "file_drop": {
        "path": _Option(_name, required=True),
    },
}

_CHANNEL_OPTIONS: dict[str, dict[str, _Option]] = {
    "email": {
        "to": _Option(_list_of(_email, non_empty=True, unique=True)),
        "include_customer_contacts": _Option(_bool, False),
    },
    "webhook": {"url": _Option(_url), "url_env": _Option(_env_name), "secret_env": _Option(_env_name)},
    "teams": {"url": _Option(_url), "url_env": _Option(_env_name)},
    "alertmanager": {"url": _Option(_url), "url_env": _Option(_env_name)},
}


def _read_options(fields: _Fields, table: dict[str, _Option]) -> dict[str, object]:
    """Kind-specific fields → `options`; durations are stored in seconds as `<name>_s`."""
    options: dict[str, object] = {}
    for key, option in table.items():
        value = fields.get(key, option.convert, option.default, required=option.required)
        if value is None:
            continue
        name = f"{key}_s" if option.convert is _positive_duration else key
        options[name] = tuple(value) if isinstance(value, list) else value
    return options


def _check_credentials(fields: _Fields) -> None:
    """A user name is useless without its password, and a password without its user."""
    if fields.present("user") and not fields.present("password_env"):
        fields.refuse(
            "password_env", "is required with user: give the name of the environment variable that holds the password"
        )
    if fields.present("password_env") and not fields.present("user"):
        fields.refuse("user", "is required with password_env")


def _check_one_url(fields: _Fields) -> None:
    """Webhook, Teams and Alertmanager addresses may hold secrets (a key in the path, basic-auth
    credentials): they may come from the environment instead."""
    if fields.present("url") and fields.present("url_env"):
        fields.refuse("url_env", "give url or url_env, not both")
    elif not fields.present("url") and not fields.present("url_env"):
        fields.refuse("url", "is required: give url, or url_env with the name of an environment variable that holds it")


# --------------------------------------------------------------------------------------------
# The catalogue reader


@dataclass
class _Reader:
    """Turns the merged entries into domain objects. `known` holds every id written anywhere
    (even in an entry that is itself invalid) so that a bad entry is reported once, not again
    by everything that refers to it; `complete` is False when a file could not be read at all,
    in which case unknown references are not reported (the id may be in that file)."""

    known: dict[str, dict[str, _At]]
    complete: bool = True
    sources: dict[str, Source] = field(default_factory=dict)

    def ref(self, section: str) -> Callable[[_At], str]:
        def convert(at: _At) -> str:
            text = _text(at).strip()
            if self.complete and text not in self.known[section]:
                what = _ENTRY_NAME[section]
                raise _Refused(f"no {what} with id {text!r} is configured{_suggest(text, self.known[section])}")
            return text

        return convert

    # calendars ---------------------------------------------------------------------------

    def calendar(self, ck: _Checker, at: _At) -> Calendar | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        calendar_id = fields.get("id", _id, required=True)
        zone = fields.get("timezone", _timezone, DEFAULT_TIMEZONE)
        hours = fields.get("hours", _nested(_hours), required=True)
        holidays = fields.get("holidays", _choice(HOLIDAY_SETS), "none")
        closed = fields.get("closed", _list_of(_date, unique=True), [])
        fields.done()
        if hours == ALWAYS_OPEN:
            for key in ("holidays", "closed"):
                if fields.present(key):
                    fields.refuse(key, _NOT_FOR_ALWAYS)
        if not ck.clean_since(mark):
            return None
        always = hours == ALWAYS_OPEN
        return Calendar(
            id=calendar_id,
            timezone=zone,
            always=always,
            hours=((),) * 7 if always else hours,
            holidays=holidays,
            closed=frozenset(closed),
        )

    # services ----------------------------------------------------------------------------

    def service(self, ck: _Checker, at: _At) -> Service | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        service_id = fields.get("id", _id, required=True)
        name = fields.get("name", _name, required=True)
        summary = fields.get("summary", _text, "")
        purpose = fields.get("purpose", _text, "")
        value = fields.get("value", _list_of(_choice(VALUE_DOMAINS), unique=True), [])
        owner = fields.get("owner", _text, "")
        supplier = fields.get("supplier", self.ref("suppliers"))
        probe = fields.get("probe", _nested(self.probe))
        has_probe = fields.present("probe")
        signals = fields.get("signals", _nested(partial(self.signals, has_probe=has_probe)), {})
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Service(
            id=service_id,
            name=name,
            summary=summary.strip(),
            purpose=purpose.strip(),
            value=tuple(value),
            owner=owner.strip(),
            signals=signals,
            probe=probe,
            supplier=supplier,
        )

    def signals(self, ck: _Checker, at: _At, *, has_probe: bool) -> dict[str, SignalSource]:
        fields = _fields(ck, at, noun="signal")
        if fields is None:
            return {}
        result = {}
        for signal in Signal:
            read = partial(self.signal_source, signal=signal, has_probe=has_probe)
            value = fields.get(signal.value, _nested(read))
            if value is not None:
                result[signal.value] = value
        fields.done()
        return result

    def signal_source(self, ck: _Checker, at: _At, *, signal: Signal, has_probe: bool) -> SignalSource | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        source = fields.get("source", self.ref("sources"), required=True)
        query = fields.get("query", _name)
        staleness_s = fields.get("staleness", _positive_duration, DEFAULT_STALENESS_S)
        fields.done()
        self._check_source_fits(fields, self.sources.get(source or ""), signal, has_probe)
        return SignalSource(source=source or "", query=query, staleness_s=staleness_s)

    def _check_source_fits(self, fields: _Fields, source: Source | None, signal: Signal, has_probe: bool) -> None:
        """Refuse pairings that can never deliver a measurement."""
        if source is None:
            return
        if source.kind == "servicenow":
            fields.refuse("source", f"{source.id!r} is a servicenow source: it provides incidents, not measurements")
        elif source.kind == "prometheus" and not fields.present("query"):
            fields.refuse(
                "query", f"is required: {source.id!r} is a prometheus source, so say which query gives {signal.value}"
            )
        elif source.kind == "http_probe":
            if signal not in (Signal.UP, Signal.LATENCY_MS):
                fields.refuse("source", f"{source.id!r} is an http_probe source: it measures up and latency_ms only")
            elif not has_probe:
                fields.refuse("source", f"{source.id!r} is an http_probe source, but this service has no probe to run")

    def probe(self, ck: _Checker, at: _At) -> Probe | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        url = fields.get("url", _url, required=True)
        expect_status = fields.get("expect_status", _http_status, 200)
        contains = fields.get("contains", _text)
        timeout_s = fields.get("timeout", _positive_duration, 10.0)
        fields.done()
        return Probe(url=url or "", expect_status=expect_status, contains=contains, timeout_s=timeout_s)

    # customers ---------------------------------------------------------------------------

    def customer(self, ck: _Checker, at: _At) -> Customer | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        customer_id = fields.get("id", _id, required=True)
        name = fields.get("name", _name, required=True)
        kind = fields.get("kind", _choice(CUSTOMER_KINDS), "other")
        pays = fields.get("pays", _bool, False)
        contacts = fields.get("contacts", _nested(self.contacts), Contacts())
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Customer(id=customer_id, name=name, kind=kind, pays=pays, contacts=contacts)

    def contacts(self, ck: _Checker, at: _At, *, alerts: bool = True) -> Contacts:
        """Who gets reports (and, for a customer, alerts); a supplier gets reports only."""
        fields = _fields(ck, at)
        if fields is None:
            return Contacts()
        emails = _list_of(_email, unique=True)
        reports = fields.get("reports", emails, [])
        alert_to = fields.get("alerts", emails, []) if alerts else []
        if not alerts and "alerts" in fields.keys:
            fields.refuse("alerts", "a supplier gets reports only; alerts go to the channels (section 7)")
        fields.done()
        return Contacts(reports=tuple(reports), alerts=tuple(alert_to))

    # suppliers and contracts (SPEC 9.2) ----------------------------------------------------

    def supplier(self, ck: _Checker, at: _At) -> Supplier | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        supplier_id = fields.get("id", _id, required=True)
        name = fields.get("name", _name, required=True)
        contacts = fields.get("contacts", _nested(partial(self.contacts, alerts=False)), Contacts())
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Supplier(id=supplier_id, name=name, contacts=contacts)

    def contract(self, ck: _Checker, at: _At) -> Agreement | None:
        """An underpinning contract, read as an agreement whose one customer is the supplier,
        so that it is scored, stored and listed exactly as an agreement (SPEC 9.2). Its
        periods are months in the default time zone, as its dates are local dates there."""
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        contract_id = fields.get("id", _id, required=True)
        supplier = fields.get("supplier", self.ref("suppliers"), required=True)
        effective = fields.get("effective", _nested(self.effective), (None, None))
        review_due = fields.get("review_due", _date)
        objectives = fields.get("objectives", _nested(self.objectives), required=True)
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Agreement(
            id=contract_id,
            name=contract_id,
            customers=(supplier,),
            objectives=tuple(objectives),
            timezone=DEFAULT_TIMEZONE,
            effective_from=effective[0],
            effective_to=effective[1],
            review_due=review_due,
            kind=AgreementKind.CONTRACT,
        )

    # agreements --------------------------------------------------------------------------

    def agreement(self, ck: _Checker, at: _At) -> Agreement | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        agreement_id = fields.get("id", _id, required=True)
        name = fields.get("name", _name, required=True)
        customers = fields.get("customers", _list_of(self.ref("customers"), non_empty=True, unique=True), required=True)
        zone = fields.get("timezone", _timezone, DEFAULT_TIMEZONE)
        effective = fields.get("effective", _nested(self.effective), (None, None))
        review_due = fields.get("review_due", _date)
        objectives = fields.get("objectives", _nested(self.objectives), required=True)
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Agreement(
            id=agreement_id,
            name=name,
            customers=tuple(customers),
            objectives=tuple(objectives),
            timezone=zone,
            effective_from=effective[0],
            effective_to=effective[1],
            review_due=review_due,
        )

    def effective(self, ck: _Checker, at: _At) -> tuple[date | None, date | None]:
        fields = _fields(ck, at)
        if fields is None:
            return (None, None)
        start = fields.get("from", _date)
        end = fields.get("to", _date)
        fields.done()
        if start and end and end < start:
            fields.refuse("to", f"must not be before from ({start.isoformat()})")
        return (start, end)

    def objectives(self, ck: _Checker, at: _At) -> list[Objective]:
        if not isinstance(at.node, yaml.SequenceNode):
            ck.refuse(at, "must be a list of objectives, one `- service: ...` per objective")
            return []
        if not at.node.value:
            ck.refuse(at, "must list at least one objective")
        result: list[Objective] = []
        first: dict[str, _At] = {}
        for index, node in enumerate(at.node.value):
            item_at = at.child(node, index)
            objective = self.objective(ck, item_at)
            if objective is None:
                continue
            if objective.id in first:
                ck.refuse(
                    self._id_place(item_at),
                    f"objective id {objective.id!r} is already used by {first[objective.id].path} "
                    f"(line {first[objective.id].line}); give each objective its own id",
                )
                continue
            first[objective.id] = item_at
            result.append(objective)
        return result

    @staticmethod
    def _id_place(item_at: _At) -> _At:
        for key_node, value_node in item_at.node.value:
            if getattr(key_node, "value", None) == "id":
                return item_at.child(value_node, "id")
        return item_at.beside("id")

    def objective(self, ck: _Checker, at: _At) -> Objective | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        objective_id = fields.get("id", _id)
        service = fields.get("service", self.ref("services"), required=True)
        kind = fields.get("type", _choice(t.value for t in ObjectiveType), required=True)
        target = fields.get("target", _percent, required=True)
        warning = fields.get("warning", _percent)
        calendar = fields.get("calendar", self.ref("calendars"), required=True)
        missing_data = fields.get("missing_data", _choice(m.value for m in MissingData), MissingData.IGNORE.value)
        notice_s = fields.get("maintenance_notice", _duration, 0.0)
        threshold_ms = fields.get("threshold_ms", _positive_number)
        priority = fields.get("priority", _choice(PRIORITIES))
        within_s = fields.get("within", _positive_duration)
        fields.done()
        if kind is not None:
            self._check_type_fields(fields, ObjectiveType(kind))
        if target is not None and warning is not None and warning < target:
            fields.refuse(
                "warning", f"must not be below the target ({target:g}): amber is the band between target and warning"
            )
        if not ck.clean_since(mark):
            return None
        default_id = f"{service}-{kind}" + (f"-{priority}" if priority else "")
        return Objective(
            id=objective_id or default_id,
            service=service,
            type=ObjectiveType(kind),
            target=target,
            calendar=calendar,
            warning=warning,
            missing_data=MissingData(missing_data),
            maintenance_notice_s=notice_s,
            threshold_ms=threshold_ms,
            priority=priority,
            within_s=within_s,
        )

    @staticmethod
    def _check_type_fields(fields: _Fields, kind: ObjectiveType) -> None:
        """Each objective type has its own fields; a field of another type is a mistake."""
        incident_types = "incident_response and incident_resolution"
        if kind is not ObjectiveType.AVAILABILITY and fields.present("missing_data"):
            fields.refuse("missing_data", "applies to availability objectives only")
        if kind.is_incident and fields.present("maintenance_notice"):
            fields.refuse(
                "maintenance_notice",
                "does not apply to incident objectives: maintenance does not pause an incident's clock",
            )
        if kind is ObjectiveType.LATENCY and not fields.present("threshold_ms"):
            fields.refuse(
                "threshold_ms", "is required for a latency objective: the slowest acceptable time in milliseconds"
            )
        if kind is not ObjectiveType.LATENCY and fields.present("threshold_ms"):
            fields.refuse("threshold_ms", "applies to latency objectives only")
        for key, meaning in (
            ("priority", "the incident priority, P1 to P5"),
            ("within", "the time allowed, such as 8h"),
        ):
            if kind.is_incident and not fields.present(key):
                fields.refuse(key, f"is required for an {kind.value} objective: {meaning}")
            if not kind.is_incident and fields.present(key):
                fields.refuse(key, f"applies to {incident_types} objectives only")

    # maintenance -------------------------------------------------------------------------

    def maintenance(self, ck: _Checker, at: _At) -> MaintenanceWindow | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        service = fields.get("service", self.ref("services"), required=True)
        start_at = fields.get("start", _instant, required=True)
        end_at = fields.get("end", _instant, required=True)
        announced_at = fields.get("announced", _instant)
        reason = fields.get("reason", _text, "")
        emergency = fields.get("emergency", _bool, False)
        fields.done()
        if start_at and end_at and end_at <= start_at:
            fields.refuse("end", "must be after start")
        if not ck.clean_since(mark):
            return None
        return MaintenanceWindow(
            service=service,
            start_at=start_at,
            end_at=end_at,
            announced_at=announced_at,
            reason=reason.strip(),
            emergency=emergency,
        )

    # sources and channels ----------------------------------------------------------------

    def source(self, ck: _Checker, at: _At) -> Source | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        source_id = fields.get("id", _id, required=True)
        kind = fields.get("kind", _choice(SOURCE_KINDS), required=True)
        if kind is None:
            fields.ignore_unknown = True  # the other fields depend on a kind we do not know
            return None
        options = _read_options(fields, _SOURCE_OPTIONS[kind])
        if kind in ("prometheus", "servicenow"):
            _check_credentials(fields)
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Source(id=source_id, kind=kind, options=options)

    def channel(self, ck: _Checker, at: _At) -> Channel | None:
        fields = _fields(ck, at)
        if fields is None:
            return None
        mark = ck.mark()
        channel_id = fields.get("id", _id, required=True)
        kind = fields.get("kind", _choice(CHANNEL_KINDS), required=True)
        if kind is None:
            fields.ignore_unknown = True
            return None
        options = _read_options(fields, _CHANNEL_OPTIONS[kind])
        options.update(self._channel_filters(fields))
        if kind == "email" and not fields.present("to") and not options.get("include_customer_contacts"):
            fields.refuse("to", "is required: list the addresses, or set include_customer_contacts: true")
        if kind in ("webhook", "teams", "alertmanager"):
            _check_one_url(fields)
        fields.done()
        if not ck.clean_since(mark):
            return None
        return Channel(id=channel_id, kind=kind, options=options)

    def _channel_filters(self, fields: _Fields) -> dict[str, object]:
        """Filters shared by every channel kind; `customers`/`services` absent means all."""
        options: dict[str, object] = {
            "severities": tuple(
                fields.get("severities", _list_of(_choice(SEVERITIES), non_empty=True, unique=True), SEVERITIES)
            ),
            "repeat_interval_s": fields.get("repeat_interval", _positive_duration, DEFAULT_REPEAT_INTERVAL_S),
        }
        for section in ("customers", "services"):
            ids = fields.get(section, _list_of(self.ref(section), non_empty=True, unique=True))
            if ids is not None:
                options[section] = tuple(ids)
        return options


# --------------------------------------------------------------------------------------------
# Files and merging


@dataclass
class _Merged:
    """The entries of every section across all files, each with its own place."""

    entries: dict[str, list[_At]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    complete: bool = True


def config_files(directory: Path) -> list[Path]:
    """Every `*.yaml` and `*.yml` file, sorted by name: a `.yml` file is read like any other
    (people and editors use both), so it is neither ignored nor able to hide a problem in
    another file. Hidden files (editor and macOS leftovers) are skipped. A directory that
    cannot be listed gives no files."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if p.suffix in CONFIG_SUFFIXES and not p.name.startswith(".") and p.is_file())


def _config_files(directory: Path) -> list[Path]:
    """The files to read, or the directory refused as a whole."""
    if not directory.exists():
        raise ConfigError([f"{directory}: the configuration directory does not exist"])
    if not directory.is_dir():
        raise ConfigError([f"{directory}: is not a directory"])
    files = config_files(directory)
    if not files:
        raise ConfigError([f"{directory}: no configuration files (*.yaml or *.yml) in this directory"])
    return files


def _compose(path: Path) -> yaml.Node | None:
    """Parse one file to a node tree (None for an empty file); a file that cannot be read or
    parsed is refused with `file:line: message`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _Refused(placed=[_Problem(path.name, 1, "", "is not UTF-8 text")]) from None
    except OSError as exc:
        raise _Refused(placed=[_Problem(path.name, None, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line, message = _syntax_error(exc)
    except yaml.reader.ReaderError as exc:  # a control character: one line, at its own line
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        message = f"YAML syntax error: character #x{exc.character:04x} is not allowed ({exc.reason})"
    except yaml.YAMLError as exc:
        line, message = 1, f"YAML syntax error: {' '.join(str(exc).split())}"
    raise _Refused(placed=[_Problem(path.name, line, "", message)])


def _syntax_error(exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    """PyYAML's problem as one line: `while parsing X (from line N), expected Y (column C)`."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    parts = []
    if exc.context:
        started = exc.context_mark
        where = f" (from line {started.line + 1})" if started and started.line + 1 != line else ""
        parts.append(f"{exc.context}{where}")
    if exc.problem:
        parts.append(exc.problem)
    column = f" (column {mark.column + 1})" if mark else ""
    return line, f"YAML syntax error: {', '.join(parts)}{column}"


def _sections_of(ck: _Checker, root: _At, merged: _Merged) -> None:
    """Add one file's sections to `merged`; list indexes stay those of the file."""
    if not isinstance(root.node, yaml.MappingNode):
        ck.refuse(root, "a configuration file is a set of sections such as `services:` and `agreements:`")
        merged.complete = False
        return
    fields = _Fields(ck, root, noun="section")
    for section in SECTIONS:
        at = fields.value_at(section)
        if at is None:
            continue
        if not isinstance(at.node, yaml.SequenceNode):
            ck.refuse(at, "must be a list of entries, each starting with `- `")
            merged.complete = False
            continue
        merged.entries[section].extend(at.child(node, i) for i, node in enumerate(at.node.value))
    fields.done()


def _merge(files: list[Path], ck: _Checker) -> _Merged:
    merged = _Merged()
    for path in files:
        try:
            node = _compose(path)
        except _Refused as refused:
            ck.problems.extend(refused.placed)
            merged.complete = False
            continue
        if node is not None:  # an empty file, or one with only comments, adds nothing
            _sections_of(ck, _At(node, path.name, ""), merged)
    return merged


def _index_ids(ck: _Checker, merged: _Merged) -> dict[str, dict[str, _At]]:
    """Every id written, per section; an id used twice is refused naming both places."""
    known: dict[str, dict[str, _At]] = {section: {} for section in SECTIONS}
    for section in _ID_SECTIONS:
        for entry in merged.entries[section]:
            id_at = _raw_id(entry)
            if id_at is None:
                continue
            first = known[section].setdefault(id_at.node.value, id_at)
            if first is not id_at:
                ck.refuse(
                    id_at,
                    f"{_ENTRY_NAME[section]} id {id_at.node.value!r} is already used at "
                    f"{first.file}:{first.line} ({first.path})",
                )
    for section, other, why in _SHARED_IDS:
        for entry_id, id_at in known[section].items():
            if entry_id in known[other]:
                first = known[other][entry_id]
                ck.refuse(
                    id_at,
                    f"{_ENTRY_NAME[section]} id {entry_id!r} is already used by the {_ENTRY_NAME[other]} at "
                    f"{first.file}:{first.line} ({first.path}): {why}",
                )
    return known


def _raw_id(entry: _At) -> _At | None:
    if not isinstance(entry.node, yaml.MappingNode):
        return None
    for key_node, value_node in entry.node.value:
        if (
            getattr(key_node, "value", None) == "id"
            and isinstance(value_node, yaml.ScalarNode)
            and not _is_null(value_node)
        ):
            return entry.child(value_node, "id")
    return None


def _build(ck: _Checker, merged: _Merged) -> Catalogue:
    reader = _Reader(known=_index_ids(ck, merged), complete=merged.complete)

    def each(section: str, read: Callable[[_Checker, _At], T | None]) -> list[T]:
        return [value for value in (read(ck, at) for at in merged.entries[section]) if value is not None]

    def by_id(values: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for value in values:
            result.setdefault(value.id, value)  # a duplicate was refused already
        return result

    reader.sources = by_id(each("sources", reader.source))
    return Catalogue(
        calendars=by_id(each("calendars", reader.calendar)),
        services=by_id(each("services", reader.service)),
        customers=by_id(each("customers", reader.customer)),
        agreements=by_id(each("agreements", reader.agreement) + each("contracts", reader.contract)),
        maintenance=tuple(each("maintenance", reader.maintenance)),
        sources=reader.sources,
        channels=by_id(each("channels", reader.channel)),
        suppliers=by_id(each("suppliers", reader.supplier)),
    )


def load_catalogue(directory: str | Path) -> Catalogue:
    """Read, merge and validate every `*.yaml` and `*.yml` file of `directory`.

    Raises ConfigError listing every problem, one `file:line: path.to.field: message` each,
    sorted by file and line; nothing of an invalid directory is ever used."""
    ck = _Checker()
    merged = _merge(_config_files(Path(directory)), ck)
    catalogue = _build(ck, merged)
    if ck.problems:
        ordered = sorted(ck.problems, key=lambda p: (p.file, p.line or 0))
        raise ConfigError([str(problem) for problem in ordered])
    return catalogue
