"""Customers read from `customers.csv` beside the YAML, and ODS codes (issue 16, SPEC 3):
checked like YAML customers, every problem as `customers.csv:line: column: message`."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from test_config import BASE, check_config, load, problems, write

from worker.config import load_catalogue
from worker.domain.errors import ConfigError
from worker.domain.model import Contacts
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.engine import make_engine

HEADER = "id,name,kind,ods_code,pays,reports,alerts\n"


def csv_problems(tmp_path: Path, rows: str, header: str = HEADER, **replace: str | None) -> list[str]:
    return problems(tmp_path, **{"customers.csv": header + textwrap.dedent(rows)}, **replace)


def test_customers_are_read_from_the_csv_beside_the_yaml(tmp_path):
    catalogue = load(
        tmp_path,
        **{
            "customers.csv": HEADER
            + "a81001,Riverside Practice,primary-care,A81001,yes,pm@nhs.net; gp@nhs.net,\n"
            + 'rx1,"Hill Trust, Estates",nhs-organisation,RX1,0,,it@nhs.net\n'
            + "\n"  # a blank line is skipped
            + "misc,Misc,,,,,\n"
        },
    )

    assert list(catalogue.customers) == ["acute", "a81001", "rx1", "misc"]
    practice = catalogue.customers["a81001"]
    assert (practice.name, practice.kind, practice.ods_code, practice.pays) == (
        "Riverside Practice", "primary-care", "A81001", True
    )
    assert practice.contacts == Contacts(reports=("pm@nhs.net", "gp@nhs.net"), alerts=())
    trust = catalogue.customers["rx1"]
    assert (trust.name, trust.pays, trust.contacts.alerts) == ("Hill Trust, Estates", False, ("it@nhs.net",))
    misc = catalogue.customers["misc"]
    assert (misc.kind, misc.ods_code, misc.pays) == ("other", None, False)


def test_a_csv_customer_can_be_named_by_an_agreement(tmp_path):
    catalogue = load(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute, a81001]
                objectives:
                  - {service: epr, type: availability, target: 99.5, calendar: always}
            """,
        **{"customers.csv": HEADER + "a81001,Riverside Practice,primary-care,A81001,no,,\n"},
    )

    assert catalogue.agreements["core"].customers == ("acute", "a81001")


def test_pays_takes_a_spreadsheets_yes_and_no(tmp_path):
    rows = "".join(f"c{i},C {i},other,,{written},,\n" for i, written in enumerate(["true", "FALSE", "Yes", "no", "1", "0"]))
    catalogue = load(tmp_path, **{"customers.csv": HEADER + rows})

    assert [catalogue.customers[f"c{i}"].pays for i in range(6)] == [True, False, True, False, True, False]


def test_every_bad_cell_of_every_row_is_listed_with_its_line_and_column(tmp_path):
    found = csv_problems(
        tmp_path,
        """\
        ok,Fine,other,,,,
        bad id,,primary-cre,a81002,maybe,not-an-address;pm@nhs.net;pm@nhs.net,x@y
        """,
    )

    assert found == [
        "customers.csv:3: id: 'bad id' cannot be used as an id: use letters, digits, '-', '_' or '.', without spaces",
        "customers.csv:3: name: is empty, but it is required",
        "customers.csv:3: kind: must be one of directorate, nhs-organisation, primary-care, local-authority, public, "
        "other, not 'primary-cre'; did you mean 'primary-care'?",
        "customers.csv:3: ods_code: 'a81002' is not an ODS code: 3 to 6 capital letters and digits, such as A81001 "
        "or RX1 (write it in capitals)",
        "customers.csv:3: pays: must be true, false, yes, no, 1 or 0, not 'maybe'",
        "customers.csv:3: reports: 'not-an-address' is not an email address",
        "customers.csv:3: reports: 'pm@nhs.net' is listed twice",
        "customers.csv:3: alerts: 'x@y' is not an email address",
    ]


def test_an_id_in_both_the_csv_and_the_yaml_is_refused_naming_both_places(tmp_path):
    found = csv_problems(tmp_path, "gp1,GP One,primary-care,,,,\nacute,Acute again,other,,,,\ngp1,GP twice,other,,,,\n")

    assert found == [
        "customers.csv:3: id: customer id 'acute' is already used at customers.yaml:2 (customers.0.id)",
        "customers.csv:4: id: customer id 'gp1' is already used at customers.csv:2 (id)",
    ]


def test_a_csv_customer_id_may_not_be_a_supplier_id(tmp_path):
    found = csv_problems(tmp_path, "hostco,Host Co,other,,,,\n", more_yaml="suppliers:\n  - {id: hostco, name: HostCo}\n")

    assert found == [
        "more.yaml:2: suppliers.0.id: supplier id 'hostco' is already used by the customer at customers.csv:2 (id): "
        "results are listed by customer or supplier id"
    ]


def test_a_header_with_a_missing_an_unknown_or_a_repeated_column_is_refused_alone(tmp_path):
    found = csv_problems(tmp_path, "x,X,other,,,,,,\n", header="id,name,knd,ods_code,pays,reports,alerts,id,extra\n")

    assert found == [
        "customers.csv:1: knd: unknown column; did you mean 'kind'?",
        "customers.csv:1: id: this column appears twice in the header",
        "customers.csv:1: extra: unknown column; the columns are id,name,kind,ods_code,pays,reports,alerts",
        "customers.csv:1: kind: column missing from the header (the columns are id,name,kind,ods_code,pays,reports,"
        "alerts)",
    ]


def test_a_header_missing_a_column_is_refused_even_when_the_rows_match_it(tmp_path):
    found = csv_problems(tmp_path, "x,X,other,,,\n", header="id,name,kind,ods_code,pays,reports\n")

    assert found == [
        "customers.csv:1: alerts: column missing from the header (the columns are id,name,kind,ods_code,pays,"
        "reports,alerts)"
    ]


def test_columns_may_come_in_any_order(tmp_path):
    catalogue = load(tmp_path, **{"customers.csv": "name,id,alerts,reports,pays,ods_code,kind\nGP,gp,,,yes,A81001,public\n"})

    assert (catalogue.customers["gp"].name, catalogue.customers["gp"].kind) == ("GP", "public")


def test_a_row_with_too_few_or_too_many_cells_is_refused_on_its_line(tmp_path):
    found = csv_problems(tmp_path, "short,row\nok,OK,other,,,,\nlong,L,other,,,,,extra\n")

    assert found == [
        "customers.csv:2: has 2 cells, but the header has 7 columns",
        "customers.csv:4: has 8 cells, but the header has 7 columns",
    ]


def test_a_quoted_cell_over_two_lines_keeps_the_next_rows_lines_right(tmp_path):
    found = csv_problems(tmp_path, 'gp1,"Two\nlines",other,,,,\ngp2,G,nope,,,,\n')

    assert found == [
        "customers.csv:4: kind: must be one of directorate, nhs-organisation, primary-care, local-authority, "
        "public, other, not 'nope'"
    ]


def test_an_empty_or_non_utf8_csv_is_refused(tmp_path):
    assert csv_problems(tmp_path, "", header="") == [
        "customers.csv:1: is empty: it needs the header line id,name,kind,ods_code,pays,reports,alerts"
    ]
    directory = write(tmp_path / "other", BASE)
    (directory / "customers.csv").write_bytes(HEADER.encode() + "gp,Caf\xe9,other,,,,\n".encode("latin-1"))
    with pytest.raises(ConfigError) as refused:
        load_catalogue(directory)
    assert refused.value.problems == ["customers.csv:1: is not UTF-8 text (save it as CSV UTF-8)"]


def test_a_spreadsheets_byte_order_mark_is_fine(tmp_path):
    catalogue = load(tmp_path, **{"customers.csv": "\ufeff" + HEADER + "gp,GP,other,,,,\n"})

    assert "gp" in catalogue.customers


def test_csv_problems_are_listed_with_the_yaml_problems(tmp_path):
    found = csv_problems(tmp_path, "gp,GP,nope,,,,\n", customers_yaml="customers:\n  - {id: acute, name: A, knd: x}\n")

    assert found == [
        "customers.csv:2: kind: must be one of directorate, nhs-organisation, primary-care, local-authority, "
        "public, other, not 'nope'",
        "customers.yaml:2: customers.0.knd: unknown field; did you mean 'kind'?",
    ]


# --- ODS codes --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["A81001", "RX1", "RXN", "QHM", "RX1RA", "Y0001"])
def test_an_ods_code_of_3_to_6_capitals_and_digits_is_kept(tmp_path, code):
    catalogue = load(tmp_path, customers_yaml=f"customers:\n  - {{id: acute, name: A, ods_code: {code}}}\n")

    assert catalogue.customers["acute"].ods_code == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("rx1", " (write it in capitals)"),
        ("RX", ""),
        ("A810011", ""),
        ("RX-1", ""),
        ("'R X1'", ""),
    ],
)
def test_an_ods_code_of_another_shape_is_refused(tmp_path, code, why):
    found = problems(tmp_path, customers_yaml=f"customers:\n  - id: acute\n    name: A\n    ods_code: {code}\n")

    written = code.strip("'")
    assert found == [
        f"customers.yaml:4: customers.0.ods_code: {written!r} is not an ODS code: 3 to 6 capital letters and digits, "
        f"such as A81001 or RX1{why}"
    ]


def test_a_customer_without_an_ods_code_has_none(tmp_path):
    assert load(tmp_path).customers["acute"].ods_code is None


# --- through the real command, and the worker's reload ------------------------------------------


def test_check_config_reads_customers_csv_and_lists_its_problems(tmp_path):
    good = write(tmp_path / "good" / "config", {**BASE, "customers.csv": HEADER + "a81001,Riverside,primary-care,A81001,yes,,\n"})
    bad = write(tmp_path / "bad" / "config", {**BASE, "customers.csv": HEADER + "a81001,Riverside,gp,a81001,,,\n"})

    passed, refused = check_config(good), check_config(bad)

    assert passed.returncode == 0, passed.stderr
    assert "2 services, 2 customers, 1 agreements" in passed.stdout
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[:2] == [
        "customers.csv:2: kind: must be one of directorate, nhs-organisation, primary-care, local-authority, "
        "public, other, not 'gp'",
        "customers.csv:2: ods_code: 'a81001' is not an ODS code: 3 to 6 capital letters and digits, such as A81001 "
        "or RX1 (write it in capitals)",
    ]


def test_the_worker_reloads_the_catalogue_when_customers_csv_changes(tmp_path):
    directory = write(tmp_path / "config", BASE)
    engine = make_engine(f"sqlite:///{tmp_path / 'sla.sqlite'}")
    try:
        held = Runtime(Settings(config_dir=directory, _env_file=None), engine)
        assert held.catalogue.customers.keys() == {"acute"}

        added = directory / "customers.csv"
        added.write_text(HEADER + "gp,GP,primary-care,A81001,,,\n", encoding="utf-8")
        assert held.catalogue.customers.keys() == {"acute", "gp"}

        added.write_text(HEADER + "gp,GP,primary-care,A81001,,,\ngp2,GP 2,primary-care,,,,\n", encoding="utf-8")
        later = added.stat().st_mtime_ns + 1_000_000_000
        os.utime(added, ns=(later, later))  # a changed time, however coarse the file system's clock
        assert held.catalogue.customers.keys() == {"acute", "gp", "gp2"}
    finally:
        engine.dispose()
