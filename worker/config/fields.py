"""Converters: one YAML value → one Python value, or `Refused` with a message in plain words
(`must be between 0 and 100, not 120`), written for the service manager who edits the files.

Every bounded value (a percentage, a positive number or duration, a status code) goes through
one converter, `bounded`. `option` declares a field of a source's or channel's `Options` with
its converter, so that each kind's module is the one home of its options (`read_options`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor

from worker.config.places import At, Checker, Fields, Problem, Refused, fields_of, nested, suggest
from worker.domain.errors import InvalidValue
from worker.domain.model import DEFAULT_TIMEZONE
from worker.domain.time import parse_date, parse_duration, parse_instant

T = TypeVar("T")
N = TypeVar("N", int, float)

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ODS_RE = re.compile(r"^[A-Z0-9]{3,6}$")


def scalar(at: At) -> Any:
    """The value YAML gives a scalar (str, int, float, bool, date, datetime)."""
    if not isinstance(at.node, yaml.ScalarNode):
        raise Refused("must be a single value, not a list or mapping")
    try:
        return SafeConstructor().construct_object(at.node)
    except ValueError:
        return at.node.value  # looks like a date but is not one (2026-02-30): judged as text
    except (yaml.YAMLError, AttributeError, TypeError):  # e.g. `!!timestamp x` fails inside PyYAML
        raise Refused(f"cannot read {at.node.value!r}") from None


def text(at: At) -> str:
    """Any single value, as the text written (so `name: yes` stays "yes", not True)."""
    scalar(at)
    return str(at.node.value)


def name(at: At) -> str:
    written = text(at).strip()
    if not written:
        raise Refused("must not be empty")
    return written


def ident(at: At) -> str:
    written = text(at)
    if not _ID_RE.match(written):
        raise Refused(f"{written!r} cannot be used as an id: use letters, digits, '-', '_' or '.', without spaces")
    return written


def boolean(at: At) -> bool:
    value = scalar(at)
    if not isinstance(value, bool):
        raise Refused(f"must be true or false, not {at.node.value!r}")
    return value


def number(at: At) -> float:
    value = scalar(at)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        quoted = isinstance(value, str) and _looks_numeric(value)
        raise Refused(f"must be a number, not {at.node.value!r}" + (" (write numbers without quotes)" if quoted else ""))
    return float(value)


def _looks_numeric(written: str) -> bool:
    try:
        return math.isfinite(float(written))
    except ValueError:
        return False


def whole(message: str) -> Callable[[At], int]:
    """A whole number; anything else is refused with `message` ({written}: the text written)."""

    def convert(at: At) -> int:
        value = scalar(at)
        if isinstance(value, bool) or not isinstance(value, int):
            raise Refused(message.format(written=at.node.value))
        return value

    return convert


def duration(at: At) -> float:
    value = scalar(at)
    try:
        return parse_duration(value if isinstance(value, (int, float)) and not isinstance(value, bool) else at.node.value)
    except InvalidValue as exc:
        raise Refused(str(exc)) from None


def bounded(
    read: Callable[[At], N], message: str, *, above: float | None = None, least: float | None = None,
    most: float | None = None,
) -> Callable[[At], N]:
    """`read`, then the value must be greater than `above`, at least `least` and at most `most`;
    otherwise refused with `message` ({written}: the text written). The one bounded converter."""

    def convert(at: At) -> N:
        value = read(at)
        if (
            (above is not None and value <= above)
            or (least is not None and value < least)
            or (most is not None and value > most)
        ):
            raise Refused(message.format(written=at.node.value))
        return value

    return convert


_WHOLE_POSITIVE = "must be a whole number greater than 0, not {written!r}"
_STATUS = "must be an HTTP status code between 100 and 599, not {written!r}"

positive_number = bounded(number, "must be greater than 0, not {written}", above=0)
percent = bounded(number, "must be between 0 and 100, not {written}", least=0, most=100)
positive_int = bounded(whole(_WHOLE_POSITIVE), _WHOLE_POSITIVE, above=0)
http_status = bounded(whole(_STATUS), _STATUS, least=100, most=599)
positive_duration = bounded(duration, "must be longer than 0, not {written!r}", above=0)


def a_date(at: At) -> date:
    value = scalar(at)
    if isinstance(value, datetime):
        raise Refused(f"must be a date YYYY-MM-DD, not a timestamp {at.node.value!r}")
    try:
        return value if isinstance(value, date) else parse_date(at.node.value)
    except InvalidValue as exc:
        raise Refused(str(exc)) from None


def instant(at: At) -> datetime:
    """A timestamp with a UTC offset. YAML turns an unquoted one into a datetime (aware or
    naive); a naive one is re-read from its text so the message shows what was written."""
    value = scalar(at)
    try:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return parse_instant(value)
        return parse_instant(at.node.value)
    except InvalidValue as exc:
        raise Refused(str(exc)) from None


def timezone(at: At) -> str:
    zone = text(at).strip()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(f"{zone!r} is not a known time zone; use a name such as {DEFAULT_TIMEZONE}") from None
    return zone


def email(at: At) -> str:
    written = text(at).strip()
    if not _EMAIL_RE.match(written):
        raise Refused(f"{written!r} is not an email address")
    return written


def ods_code(at: At) -> str:
    """An NHS Organisation Data Service code as ODS issues them: 3 to 6 capital letters and
    digits (practice A81001, trust RX1, ICB QHM, site RX1RA). Only the shape is checked: the
    worker has no copy of the ODS register."""
    written = text(at).strip()
    if not _ODS_RE.match(written):
        hint = " (write it in capitals)" if _ODS_RE.match(written.upper()) else ""
        raise Refused(
            f"{written!r} is not an ODS code: 3 to 6 capital letters and digits, such as A81001 or RX1{hint}"
        )
    return written


def url(at: At) -> str:
    written = text(at).strip()
    parts = urlsplit(written)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Refused(f"{written!r} is not a web address starting with http:// or https://")
    return written


def env_name(at: At) -> str:
    written = text(at).strip()
    if not _ENV_RE.match(written):
        raise Refused(f"{written!r} is not the name of an environment variable (such as SNOW_PASSWORD)")
    return written


def choice(choices: Iterable[str]) -> Callable[[At], str]:
    options = tuple(choices)

    def convert(at: At) -> str:
        written = text(at).strip()
        if written not in options:
            raise Refused(f"must be one of {', '.join(options)}, not {written!r}{suggest(written, options)}")
        return written

    return convert


def list_of(convert: Callable[[At], T], *, non_empty: bool = False, unique: bool = False) -> Callable[[At], list[T]]:
    """A YAML list whose items are converted one by one; each bad item is reported at its line."""

    def convert_list(at: At) -> list[T]:
        if not isinstance(at.node, yaml.SequenceNode):
            raise Refused("must be a list, such as [a, b] or one `- item` per line")
        if non_empty and not at.node.value:
            raise Refused("must list at least one item")
        values: list[T] = []
        placed: list[Problem] = []
        first_seen: dict[object, int] = {}
        for index, item in enumerate(at.node.value):
            item_at = at.child(item, index)
            try:
                value = convert(item_at)
            except Refused as refused:
                placed.extend(refused.place(item_at))
                continue
            if unique and value in first_seen:
                twice = f"{item_at.node.value!r} is listed twice (first as item {first_seen[value]})"
                placed.append(Problem(item_at.file, item_at.line, item_at.path, twice))
                continue
            if unique:
                first_seen[value] = index
            values.append(value)
        if placed:
            raise Refused(placed=placed)
        return values

    return convert_list


def _text_map(ck: Checker, at: At) -> dict[str, str]:
    fields = fields_of(ck, at)
    if fields is None:
        return {}
    result = {}
    for key in list(fields.keys):
        value = fields.get(key, name, required=True)
        if value is not None:
            result[key] = value
    return result


text_map = nested(_text_map)  # a mapping of names to texts (ServiceNow field_map)


# --------------------------------------------------------------------------------------------
# Kind-specific options of sources and channels


def option(convert: Callable[[At], object], default: object = dataclasses.MISSING, *, key: str | None = None) -> Any:
    """A field of a kind's `Options`, read from the YAML key `key` (default: the field's name)
    with `convert`; required when it has no default. A list is stored as a tuple."""
    return dataclasses.field(default=default, metadata={"convert": convert, "key": key})


def read_options(fields: Fields, options: type[Any]) -> dict[str, object]:
    """The kind-specific fields of one entry, read as the kind's `Options` declares them: the
    values read (by field name; a refused or absent one is left out, its refusal recorded)."""
    values: dict[str, object] = {}
    assert dataclasses.is_dataclass(options)
    for spec in dataclasses.fields(options):
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        value = fields.get(spec.metadata["key"] or spec.name, spec.metadata["convert"], required=required)
        if value is not None:
            values[spec.name] = tuple(value) if isinstance(value, list) else value
    return values


def check_credentials(fields: Fields, values: Mapping[str, object]) -> None:
    """A user name is useless without its password, and a password without its user."""
    if fields.present("user") and not fields.present("password_env"):
        fields.refuse(
            "password_env", "is required with user: give the name of the environment variable that holds the password"
        )
    if fields.present("password_env") and not fields.present("user"):
        fields.refuse("user", "is required with password_env")


def check_one_url(fields: Fields, values: Mapping[str, object]) -> None:
    """Webhook, Teams and Alertmanager addresses may hold secrets (a key in the path, basic-auth
    credentials): they may come from the environment instead."""
    if fields.present("url") and fields.present("url_env"):
        fields.refuse("url_env", "give url or url_env, not both")
    elif not fields.present("url") and not fields.present("url_env"):
        fields.refuse("url", "is required: give url, or url_env with the name of an environment variable that holds it")
