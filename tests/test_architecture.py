"""The layers of sla-worker and what each may not import, followed all the way down.

One table states the rules (STYLE: a pure scoring core with no I/O and no clock; a thin shell
around it). Imports are read from the source with `ast` — `import a.b`, `from a import b` where
`b` is a module, imports inside functions — and followed through every worker module reached,
so a core module that imports a harmless-looking worker module which imports SQLAlchemy breaks
the rule as surely as importing SQLAlchemy itself. Importing a module also runs its packages'
`__init__` files: those are followed too. Outside libraries are not followed, only named.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Libraries that talk to the world (database, broker, network, mail, files of other formats)
# or to the process's environment and clock.
IO_LIBRARIES = (
    "sqlalchemy", "alembic", "psycopg", "celery", "kombu", "redis", "httpx", "requests", "smtplib", "socket",
    "prometheus_client", "fpdf", "matplotlib", "jinja2", "os", "time",
)
# The shell: processes, the broker, the command line.
SHELL = ("worker.cli", "worker.tasks", "worker.celeryapp", "worker.beat", "worker.runtime", "celery", "kombu")
CLOCK_CALLS = {
    ("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("datetime", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "perf_counter"),
}

# The pure core: the vocabulary, parsing of inputs, scoring, the alert rules, and report
# building (every report module except those that read the database, render or send).
PURE_CORE = (
    "worker.domain.*", "worker.inputs.*", "worker.scoring.*", "worker.alerts.rules",
    "worker.reports.*",
)
NOT_PURE_REPORTS = (
    "worker.reports.*gather*", "worker.reports.*delivery*", "worker.reports.*mailer*",
    "worker.reports.*render*", "worker.reports.*charts*",
)


@dataclass(frozen=True)
class Layer:
    name: str
    members: tuple[str, ...]  # module name patterns (a pattern also matches its submodules)
    may_not_import: tuple[str, ...]  # library or worker module patterns, reached at any depth
    except_members: tuple[str, ...] = ()
    only_within: bool = False  # the worker modules it reaches must be members too
    reads_no_clock: bool = False


LAYERS = (
    Layer(
        "pure core", PURE_CORE, IO_LIBRARIES + SHELL + ("worker.settings",), except_members=NOT_PURE_REPORTS,
        only_within=True, reads_no_clock=True,
    ),
    Layer(
        "storage", ("worker.storage.*",),
        SHELL + ("httpx", "requests", "smtplib", "redis", "prometheus_client", "fpdf", "matplotlib", "jinja2",
                 "worker.usecases", "worker.metrics", "worker.sources", "worker.collect",
                 "worker.config", "worker.alerts.channels", "worker.alerts.delivery", "worker.alerts.evaluate",
                 *NOT_PURE_REPORTS),
    ),
    Layer(
        "use cases", ("worker.usecases.*", "worker.alerts.evaluate", "worker.metrics.burn_rates"),
        SHELL, reads_no_clock=True,
    ),
    Layer("integrations", ("worker.sources.*", "worker.alerts.channels.*"), SHELL),
)


# ---------------------------------------------------------------- reading imports


def module_files(root: Path, package: str = "worker") -> dict[str, Path]:
    """Every module of `package` under `root` by dotted name (a package by its own name)."""
    found = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    """What module `name` imports anywhere in its source, as dotted names: `from a import b`
    gives `a.b` when that is a module of ours, else `a`; relative imports are resolved."""
    path = modules[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
    return found


def with_packages(name: str, modules: dict[str, Path]) -> list[str]:
    """`a.b.c` and the packages importing it runs first (`a`, `a.b`), those of ours only."""
    parts = name.split(".")
    return [m for m in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if m in modules]


def reached(start: str, modules: dict[str, Path]) -> dict[str, tuple[str, ...]]:
    """Every module `start` imports at any depth (worker modules followed, libraries only
    named), each with the chain of imports that reaches it first."""
    chains: dict[str, tuple[str, ...]] = {start: (start,)}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for imported in sorted(imports_of(current, modules)):
            for module in with_packages(imported, modules) or [imported]:
                if module not in chains:
                    chains[module] = chains[current] + (module,)
                    if module in modules:
                        queue.append(module)
    return chains


def clock_reads(path: Path) -> set[str]:
    """`datetime.now()`, `time.time()` and the like called in the file (also `datetime.datetime.now()`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if (owner_name, node.func.attr) in CLOCK_CALLS:
                found.add(f"{owner_name}.{node.func.attr}() at line {node.lineno}")
    return found


def matches(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(name, p) or fnmatchcase(name, p + ".*") or fnmatchcase(name + ".*", p) for p in patterns)


def in_layer(name: str, layer: Layer) -> bool:
    return matches(name, layer.members) and not matches(name, layer.except_members)


def violations(layer: Layer, module: str, modules: dict[str, Path]) -> list[str]:
    """What `module` (a member of `layer`) reaches that the layer's rules forbid, with how."""
    found = []
    for target, chain in reached(module, modules).items():
        how = " → ".join(chain)
        if matches(target, layer.may_not_import):
            found.append(f"imports {target}: {how}")
        elif layer.only_within and target in modules and target != module:
            is_package_of_member = modules[target].name == "__init__.py" and not in_layer(target, layer)
            if not in_layer(target, layer) and not is_package_of_member:
                found.append(f"imports {target}, outside the {layer.name}: {how}")
        if layer.reads_no_clock and target in modules and in_layer(target, layer):
            found += [f"reads the clock: {read} in {target}" for read in sorted(clock_reads(modules[target]))]
    return sorted(set(found))


@cache
def worker_modules() -> dict[str, Path]:
    return module_files(ROOT)


def layer_cases() -> list[tuple[Layer, str]]:
    modules = worker_modules()
    return [(layer, name) for layer in LAYERS for name in sorted(modules) if in_layer(name, layer)]


# ---------------------------------------------------------------- the rules


@pytest.mark.parametrize("layer, module", layer_cases(), ids=lambda v: v.name if isinstance(v, Layer) else v)
def test_each_module_keeps_to_its_layers_import_rules_all_the_way_down(layer: Layer, module: str):
    assert violations(layer, module, worker_modules()) == []


def test_every_layer_has_members_so_no_rule_checks_nothing():
    modules = worker_modules()
    assert all(any(in_layer(name, layer) for name in modules) for layer in LAYERS)


def test_the_core_includes_report_building_but_not_report_reading_or_rendering():
    core = LAYERS[0]
    assert in_layer("worker.reports.words", core) and in_layer("worker.reports.evidence", core)
    assert not in_layer("worker.reports.gather", core) and not in_layer("worker.reports.render_pdf", core)
    assert not in_layer("worker.reports.delivery", core) and not in_layer("worker.reports.charts", core)


# ---------------------------------------------------------------- the checker itself


def fake_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return module_files(tmp_path)


def test_a_forbidden_library_two_worker_imports_down_is_found_with_its_chain(tmp_path: Path):
    modules = fake_package(tmp_path, {
        "worker/__init__.py": "",
        "worker/scoring/__init__.py": "",
        "worker/scoring/pure.py": "from worker.scoring import helper\n",
        "worker/scoring/helper.py": "def load():\n    import worker.storage.db\n",
        "worker/storage/__init__.py": "",
        "worker/storage/db.py": "from sqlalchemy import select\n",
    })
    found = violations(LAYERS[0], "worker.scoring.pure", modules)
    assert "imports sqlalchemy: worker.scoring.pure → worker.scoring.helper → worker.storage.db → sqlalchemy" in found
    assert any(v.startswith("imports worker.storage.db, outside the pure core") for v in found)


def test_a_package_init_that_imports_the_world_is_found(tmp_path: Path):
    modules = fake_package(tmp_path, {
        "worker/__init__.py": "",
        "worker/domain/__init__.py": "import celery\n",
        "worker/domain/model.py": "X = 1\n",
        "worker/scoring/__init__.py": "",
        "worker/scoring/pure.py": "from worker.domain.model import X\n",
    })
    assert violations(LAYERS[0], "worker.scoring.pure", modules) == [
        "imports celery: worker.scoring.pure → worker.domain → celery"
    ]


def test_relative_imports_and_clock_reads_in_the_core_are_found(tmp_path: Path):
    modules = fake_package(tmp_path, {
        "worker/__init__.py": "",
        "worker/scoring/__init__.py": "",
        "worker/scoring/pure.py": "from . import clocky\n",
        "worker/scoring/clocky.py": "import datetime\n\ndef f():\n    return datetime.datetime.now()\n",
    })
    assert violations(LAYERS[0], "worker.scoring.pure", modules) == [
        "reads the clock: datetime.now() at line 4 in worker.scoring.clocky"
    ]
