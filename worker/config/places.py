"""Where a value was written and what is wrong with it: the places and problems every reader of
the configuration (and of the beat schedule) reports as `file:line: path.to.field: message`.

`Fields` reads one YAML mapping field by field and refuses whatever no reader asked for: that is
how typos are caught. Problems are collected, never raised, so the user fixes them in one go.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from yaml.constructor import SafeConstructor

T = TypeVar("T")

SECRET_KEYS = ("password", "token", "secret")
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(frozen=True)
class At:
    """A YAML node and where it was written, so that any problem can name file, line and path."""

    node: yaml.Node
    file: str
    path: str

    @property
    def line(self) -> int:
        return int(self.node.start_mark.line) + 1

    def child(self, node: yaml.Node, key: str | int) -> At:
        key = path_key(key)
        return At(node, self.file, f"{self.path}.{key}" if self.path else key)

    def beside(self, key: str) -> At:
        """The place of a key that is missing from this mapping: the mapping's own line."""
        return At(self.node, self.file, f"{self.path}.{key}" if self.path else key)


def path_key(key: str | int) -> str:
    """A key as one token of a problem's path: a key with spaces, colons or control
    characters (a typo such as `my key:`) is quoted, so the problem stays one parseable line."""
    text = str(key)
    if text and not any(ch.isspace() or ch == ":" or not ch.isprintable() for ch in text):
        return text
    return repr(text).replace(" ", "\\x20")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{place}: {self.path}: {self.message}" if self.path else f"{place}: {self.message}"


class Refused(Exception):
    """Raised by a converter: either a message about the value being read, or problems that
    already carry their own place (several items of a list, fields of a nested mapping)."""

    def __init__(self, message: str = "", placed: Iterable[Problem] = ()):
        super().__init__(message)
        self.message = message
        self.placed = list(placed)

    def place(self, at: At) -> list[Problem]:
        if self.placed:
            return self.placed
        return [Problem(at.file, at.line, at.path, self.message)]


class Checker:
    """Collects problems instead of stopping at the first, so the user fixes them in one go."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def refuse(self, at: At, message: str) -> None:
        self.problems.append(Problem(at.file, at.line, at.path, message))

    def record(self, at: At, refused: Refused) -> None:
        self.problems.extend(refused.place(at))

    def mark(self) -> int:
        return len(self.problems)

    def clean_since(self, mark: int) -> bool:
        return len(self.problems) == mark


def is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Fields:
    """Reads one YAML mapping field by field. It remembers which keys were asked for, so that
    whatever is left over is refused as unknown: that is how typos are caught."""

    def __init__(self, ck: Checker, at: At, noun: str = "field"):
        self.ck = ck
        self.at = at
        self.noun = noun
        self.keys: dict[str, At] = {}
        self.values: dict[str, At] = {}
        self.asked: list[str] = []
        self.ignore_unknown = False
        self._index()

    def _index(self) -> None:
        node = self.at.node
        assert isinstance(node, yaml.MappingNode)
        seen: dict[str, At] = {}
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

    def value_at(self, key: str) -> At | None:
        """The place of a key's value, or None when the key is absent or left empty."""
        if key not in self.asked:
            self.asked.append(key)
        at = self.values.get(key)
        return None if at is None or is_null(at.node) else at

    def present(self, key: str) -> bool:
        return self.value_at(key) is not None

    def get(self, key: str, convert: Callable[[At], T], default: Any = None, *, required: bool = False) -> Any:
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
        except Refused as refused:
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
        if key in SECRET_KEYS and f"{key}_env" in self.asked:
            return (
                f"secrets are never written in the configuration: set the {key} in an environment "
                f"variable and give its name in {key}_env"
            )
        hint = suggest(key, self.asked)
        if hint:
            return f"unknown {self.noun}{hint}"
        return f"unknown {self.noun}; expected one of: {', '.join(self.asked)}"


def fields_of(ck: Checker, at: At, noun: str = "field") -> Fields | None:
    """The mapping at `at`, read field by field; anything else is refused."""
    if isinstance(at.node, yaml.MappingNode):
        return Fields(ck, at, noun)
    ck.refuse(at, "must be a set of `name: value` fields")
    return None


def nested(read: Callable[[Checker, At], T]) -> Callable[[At], T]:
    """Turn a reader that reports several placed problems into a converter of one field."""

    def convert(at: At) -> T:
        ck = Checker()
        value = read(ck, at)
        if ck.problems:
            raise Refused(placed=ck.problems)
        return value

    return convert
