"""Issue 8 ("Bad input"): property-based fuzzing of the configuration loader (SPEC section 3,
docs/configuration.md).

Whatever is in the directory, `load_catalogue` returns a Catalogue or raises ConfigError, and
every problem is one line `file:line: path.to.field: message`, or one of the documented short
forms: `file:line: message` (YAML syntax errors and file-level problems) and `DIR: message`.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from worker.config import load_catalogue
from worker.domain.errors import ConfigError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "trust-2026-10" / "config"
GOLDEN_FILES = sorted(p.name for p in GOLDEN.glob("*.yaml"))

FULL = re.compile(r"^[^:]+:\d+: \S+: .+$")
FILE_LEVEL = re.compile(r"^[^:]+:\d+: (YAML syntax error: .+|is not UTF-8 text|a configuration file is .+)$")
YML = re.compile(r"^[^:/]+\.yml: rename to .+$")


def check_directory(directory: Path) -> None:
    try:
        load_catalogue(directory)
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert "\n" not in problem and "\r" not in problem, problem
            assert (
                FULL.match(problem)
                or FILE_LEVEL.match(problem)
                or YML.match(problem)
                or problem.startswith(f"{directory}: ")
            ), problem


def golden_copy(tmp: str) -> Path:
    directory = Path(tmp) / "config"
    shutil.copytree(GOLDEN, directory)
    directory.chmod(0o755)  # the golden files are read-only
    for path in directory.iterdir():
        path.chmod(0o644)
    return directory


TOKENS = st.sampled_from(
    [
        "services:",
        "agreements:",
        "calendars:",
        "customers:",
        "maintenance:",
        "sources:",
        "channels:",
        "- ",
        "  ",
        "    ",
        "id:",
        " epr",
        "target:",
        " 120",
        " -1",
        " .nan",
        " .inf",
        " 1e309",
        " -0",
        " null",
        " ~",
        " []",
        " {}",
        " [",
        " {",
        " '",
        ' "',
        " &a",
        " *a",
        " <<: *a",
        "<<:",
        " !!python/object:os.system",
        " !!binary",
        " !!timestamp x",
        "---",
        "...",
        " 2026-02-30",
        " 2026-10-01T00:00:00",
        " yes",
        " 5m",
        " 300",
        " PT8H",
        "? ",
        ":",
        ",",
        "#",
        "\t",
        "%YAML 1.1",
        "password: x",
        " =cmd|' /C calc'!A0",
        "my key:",
        " key with: colon",
        '"a\\nb":',
        " |",
        " >",
        "\\u0000",
        "\u2028",
        "é",
    ]
)
yamlish = st.lists(st.lists(TOKENS, max_size=6).map("".join), max_size=15).map("\n".join)


@settings(max_examples=120, deadline=None)
@given(text=st.one_of(yamlish, st.text(max_size=200)), alongside=st.booleans())
def test_random_yamlish_text_is_refused_only_with_config_errors(text: str, alongside: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = golden_copy(tmp) if alongside else Path(tmp)
        (directory / "zz_fuzz.yaml").write_text(text, encoding="utf-8")
        check_directory(directory)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_file_is_refused_only_with_config_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = golden_copy(tmp)
        (directory / "aa_bytes.yaml").write_bytes(data)
        check_directory(directory)


@st.composite
def mutation(draw, lines: list[str]):
    kind = draw(st.sampled_from(["delete", "duplicate", "insert", "replace_value", "indent", "truncate", "swap"]))
    if not lines:
        return lines
    i = draw(st.integers(0, len(lines) - 1))
    line = lines[i]
    if kind == "delete":
        return lines[:i] + lines[i + 1 :]
    if kind == "duplicate":
        return lines[: i + 1] + [line] + lines[i + 1 :]
    if kind == "insert":
        return lines[:i] + [draw(st.lists(TOKENS, max_size=5).map("".join))] + lines[i:]
    if kind == "replace_value" and ":" in line:
        key = line.split(":", 1)[0]
        return lines[:i] + [key + ":" + draw(TOKENS)] + lines[i + 1 :]
    if kind == "indent":
        return lines[:i] + [draw(st.sampled_from(["", " ", "  ", "\t"])) + line.lstrip()] + lines[i + 1 :]
    if kind == "truncate":
        return lines[:i] + [line[: draw(st.integers(0, len(line)))]]
    j = draw(st.integers(0, len(lines) - 1))
    out = list(lines)
    out[i], out[j] = out[j], out[i]
    return out


@st.composite
def mutated_golden(draw):
    name = draw(st.sampled_from(GOLDEN_FILES))
    lines = (GOLDEN / name).read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 3))):
        lines = draw(mutation(lines))
    return name, "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(mutated_golden())
def test_mutated_golden_config_is_refused_only_with_config_errors(case) -> None:
    name, text = case
    with tempfile.TemporaryDirectory() as tmp:
        directory = golden_copy(tmp)
        (directory / name).write_text(text, encoding="utf-8")
        check_directory(directory)


def test_golden_config_loads() -> None:
    load_catalogue(GOLDEN)


def test_directory_problems_are_short_form(tmp_path: Path) -> None:
    check_directory(tmp_path / "missing")
    check_directory(tmp_path)
    (tmp_path / "a.yml").write_text("services: []\n")
    check_directory(tmp_path)


def test_control_character_is_one_line_at_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("services: []\ncustomers: \x1f\n", encoding="utf-8")
    try:
        load_catalogue(tmp_path)
    except ConfigError as exc:
        assert exc.problems == [
            "a.yaml:2: YAML syntax error: character #x001f is not allowed (special characters are not allowed)"
        ]
    else:  # pragma: no cover
        raise AssertionError("not refused")


def test_key_with_spaces_or_colon_stays_one_path_token(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text('services:my key: 1\n"x\\ny": 2\n', encoding="utf-8")
    try:
        load_catalogue(tmp_path)
    except ConfigError as exc:
        assert all(FULL.match(p) and "\n" not in p for p in exc.problems), exc.problems
        assert any(p.startswith("a.yaml:1: 'services:my\\x20key': unknown section") for p in exc.problems), exc.problems
    else:  # pragma: no cover
        raise AssertionError("not refused")


def test_explicit_tag_that_pyyaml_cannot_construct_is_refused(tmp_path: Path) -> None:
    golden = golden_copy(str(tmp_path))
    path = golden / "agreements.yaml"
    path.write_text(path.read_text().replace("- id: core-2026", "- id: !!timestamp x"))
    try:
        load_catalogue(golden)
    except ConfigError as exc:
        assert "agreements.yaml:2: agreements.0.id: cannot read 'x'" in exc.problems
    else:  # pragma: no cover
        raise AssertionError("not refused")
