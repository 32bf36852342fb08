"""Files → merged entries with their places → validated `Catalogue`.

Reading order matters for the messages, not for the result: ids are indexed across all files
first, so a reference to an entry that is itself invalid is not reported a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from worker.config import agreements, calendars, customers, customers_csv, instances, integrations, services
from worker.config.context import ENTRY_NAME, Context
from worker.config.places import At, Checker, Fields, Problem, Refused, is_null
from worker.domain.errors import ConfigError
from worker.domain.model import Catalogue

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
_ID_SECTIONS = tuple(s for s in SECTIONS if s != "maintenance")
# Ids that share one namespace although they are written in different sections: results are
# keyed by agreement or contract id, and listed by customer or supplier id (SPEC 9.2).
_SHARED_IDS = (
    ("contracts", "agreements", "results are listed by agreement or contract id"),
    ("suppliers", "customers", "results are listed by customer or supplier id"),
)


@dataclass
class _Merged:
    """The entries of every section across all files, each with its own place."""

    entries: dict[str, list[At]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
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


def watched_files(directory: Path) -> list[Path]:
    """Every file the loader reads: the YAML files and customers.csv when there is one."""
    found = config_files(directory)
    csv_file = customers_csv.csv_path(directory)
    return found + [csv_file] if csv_file is not None else found


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


def compose(path: Path) -> yaml.Node | None:
    """Parse one file to a node tree (None for an empty file); a file that cannot be read or
    parsed is refused (`Refused` with its problem placed at `file:line`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise Refused(placed=[Problem(path.name, 1, "", "is not UTF-8 text")]) from None
    except OSError as exc:
        raise Refused(placed=[Problem(path.name, None, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
        return node
    except yaml.MarkedYAMLError as exc:
        line, message = _syntax_error(exc)
    except yaml.reader.ReaderError as exc:  # a control character: one line, at its own line
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        message = f"YAML syntax error: character #x{exc.character:04x} is not allowed ({exc.reason})"
    except yaml.YAMLError as exc:
        line, message = 1, f"YAML syntax error: {' '.join(str(exc).split())}"
    raise Refused(placed=[Problem(path.name, line, "", message)])


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


def _sections_of(ck: Checker, root: At, merged: _Merged) -> None:
    """Add one file's sections to `merged`; list indexes stay those of the file."""
    if not isinstance(root.node, yaml.MappingNode):
        ck.refuse(root, "a configuration file is a set of sections such as `services:` and `agreements:`")
        merged.complete = False
        return
    fields = Fields(ck, root, noun="section")
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


def _merge(files: list[Path], ck: Checker, csv_file: Path | None = None) -> _Merged:
    """The YAML files in order, then customers.csv's rows after the YAML's customers."""
    merged = _Merged()
    for path in files:
        try:
            node = compose(path)
        except Refused as refused:
            ck.problems.extend(refused.placed)
            merged.complete = False
            continue
        if node is not None:  # an empty file, or one with only comments, adds nothing
            _sections_of(ck, At(node, path.name, ""), merged)
    if csv_file is not None:
        try:
            rows, bad_rows = customers_csv.read_rows(csv_file)
            merged.entries["customers"].extend(rows)
            ck.problems.extend(bad_rows)
        except Refused as refused:
            ck.problems.extend(refused.placed)
            merged.complete = False  # its customers' ids are unknown: references to them are not blamed
    return merged


def _index_ids(ck: Checker, merged: _Merged) -> dict[str, dict[str, At]]:
    """Every id written, per section; an id used twice is refused naming both places."""
    known: dict[str, dict[str, At]] = {section: {} for section in SECTIONS}
    for section in _ID_SECTIONS:
        for entry in merged.entries[section]:
            id_at = _raw_id(entry)
            if id_at is None:
                continue
            first = known[section].setdefault(id_at.node.value, id_at)
            if first is not id_at:
                ck.refuse(
                    id_at,
                    f"{ENTRY_NAME[section]} id {id_at.node.value!r} is already used at "
                    f"{first.file}:{first.line} ({first.path})",
                )
    for section, other, why in _SHARED_IDS:
        for entry_id, id_at in known[section].items():
            if entry_id in known[other]:
                first = known[other][entry_id]
                ck.refuse(
                    id_at,
                    f"{ENTRY_NAME[section]} id {entry_id!r} is already used by the {ENTRY_NAME[other]} at "
                    f"{first.file}:{first.line} ({first.path}): {why}",
                )
    return known


def _raw_id(entry: At) -> At | None:
    if not isinstance(entry.node, yaml.MappingNode):
        return None
    for key_node, value_node in entry.node.value:
        if (
            getattr(key_node, "value", None) == "id"
            and isinstance(value_node, yaml.ScalarNode)
            and not is_null(value_node)
        ):
            return entry.child(value_node, "id")
    return None


def _build(ck: Checker, merged: _Merged) -> Catalogue:
    ctx = Context(known=_index_ids(ck, merged), complete=merged.complete)

    def each(section: str, read: Callable[[Context, Checker, At], T | None]) -> list[T]:
        return [value for value in (read(ctx, ck, at) for at in merged.entries[section]) if value is not None]

    def by_id(values: list[Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for value in values:
            result.setdefault(value.id, value)  # a duplicate was refused already
        return result

    ctx.sources = by_id(each("sources", integrations.source))
    catalogue = Catalogue(
        calendars=by_id(each("calendars", calendars.calendar)),
        services=by_id(each("services", services.service)),
        customers=by_id(each("customers", customers.customer)),
        agreements=by_id(each("agreements", agreements.agreement) + each("contracts", agreements.contract)),
        maintenance=tuple(each("maintenance", agreements.maintenance)),
        sources=ctx.sources,
        channels=by_id(each("channels", integrations.channel)),
        suppliers=by_id(each("suppliers", customers.supplier)),
    )
    return instances.expand(ck, ctx, catalogue)


def load_catalogue(directory: str | Path) -> Catalogue:
    """Read, merge and validate every `*.yaml` and `*.yml` file of `directory`, and its
    `customers.csv` when there is one.

    Raises ConfigError listing every problem, one `file:line: path.to.field: message` each,
    sorted by file and line; nothing of an invalid directory is ever used."""
    ck = Checker()
    merged = _merge(_config_files(Path(directory)), ck, customers_csv.csv_path(Path(directory)))
    catalogue = _build(ck, merged)
    if ck.problems:
        ordered = sorted(ck.problems, key=lambda p: (p.file, p.line or 0))
        raise ConfigError([str(problem) for problem in ordered])
    return catalogue
