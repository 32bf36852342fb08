"""The configuration loader (SPEC section 3): merging, validation and `file:line: path: message`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from worker.config import load_catalogue
from worker.domain.errors import ConfigError
from worker.domain.model import VALUE_DOMAINS, AgreementKind, Contacts, MissingData, ObjectiveType, Supplier
from worker.runtime import Runtime
from worker.settings import Settings
from worker.storage.engine import make_engine


def shown(options: object) -> dict[str, object]:
    """The fields of an entry's options (a dataclass) that are set, by name."""
    assert dataclasses.is_dataclass(options)
    found = ((spec.name, getattr(options, spec.name)) for spec in dataclasses.fields(options))
    return {key: value for key, value in found if value is not None}

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
EXAMPLE = REPO / "config" / "example"
GOLDEN = HERE / "golden" / "trust-2026-10" / "config"
SUPPLIERS_GOLDEN = HERE / "golden" / "suppliers-2026-10" / "config"

# A small valid trust; tests add or replace files to break one thing at a time.
BASE = {
    "calendars.yaml": """\
        calendars:
          - id: office
            hours:
              mon-fri: ["08:00-18:00"]
            holidays: england-and-wales
          - id: always
            hours: 24x7
        """,
    "services.yaml": """\
        services:
          - id: epr
            name: Electronic Patient Record
            value: [decisions/internal]
            signals:
              up: {source: drop}
          - id: desk
            name: Service desk
        """,
    "customers.yaml": """\
        customers:
          - id: acute
            name: Acute Services Directorate
            kind: directorate
        """,
    "agreements.yaml": """\
        agreements:
          - id: core
            name: Core SLA
            customers: [acute]
            objectives:
              - {service: epr, type: availability, target: 99.5, calendar: always}
        """,
    "sources.yaml": """\
        sources:
          - {id: drop, kind: file_drop, path: var/incoming}
        """,
}


def write(directory: Path, files: dict[str, str | None]) -> Path:
    """Write `files` (dedented) into `directory`; a None body leaves that file out."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        if body is not None:
            (directory / name).write_text(textwrap.dedent(body), encoding="utf-8")
    return directory


def load(tmp_path: Path, **replace: str | None):
    """Load BASE with some files replaced (`agreements_yaml=...`) or added."""
    files = dict(BASE)
    files.update({name.replace("_yaml", ".yaml"): body for name, body in replace.items()})
    return load_catalogue(write(tmp_path / "config", files))


def problems(tmp_path: Path, **replace: str | None) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, **replace)
    return refused.value.problems


def objective_problems(tmp_path: Path, objective: str) -> list[str]:
    """Problems of an agreement holding one objective, written as a flow mapping on line 6."""
    return problems(
        tmp_path,
        agreements_yaml=f"""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                objectives:
                  - {objective}
            """,
    )


def only_objective(tmp_path: Path, objective: str):
    catalogue = load(
        tmp_path,
        agreements_yaml=f"""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                objectives:
                  - {objective}
            """,
    )
    (result,) = catalogue.agreements["core"].objectives
    return result


# --- the shipped configurations ---------------------------------------------------------------


def test_example_trust_loads_cleanly_and_covers_the_portfolio():
    catalogue = load_catalogue(EXAMPLE)

    assert len(catalogue.services) >= 12
    assert {q for s in catalogue.services.values() for q in s.value} == set(VALUE_DOMAINS)
    assert all(s.summary and s.purpose for s in catalogue.services.values())
    kinds = {c.kind for c in catalogue.customers.values()}
    assert {"local-authority", "primary-care", "nhs-organisation"} <= kinds
    assert len(catalogue.customers) >= 5
    assert len(catalogue.agreements) == 5  # this year's three and last year's two
    assert any(len(a.customers) > 1 for a in catalogue.agreements.values())
    types = {o.type for a in catalogue.agreements.values() for o in a.objectives}
    assert types == set(ObjectiveType)
    assert {"office", "extended", "always"} <= set(catalogue.calendars)
    assert shown(catalogue.sources["drop"].options) == {"path": "var/incoming"}


def test_example_signals_need_no_server_other_than_the_file_drop():
    catalogue = load_catalogue(EXAMPLE)

    used = {sig.source for s in catalogue.services.values() for sig in s.signals.values()}
    assert used == {"drop"}
    assert catalogue.sources["probes"].kind == "http_probe"


SPEC_EXAMPLE = """\
calendars:
  - id: office-hours
    timezone: Europe/London            # default Europe/London
    hours:                              # wall-clock ranges, local time; days: mon..sun, mon-fri, sat-sun
      mon-fri: ["08:00-18:00"]
      sat: ["09:00-12:30"]
    holidays: england-and-wales         # or scotland, northern-ireland, none (default none)
    closed: [2026-12-24]                # extra whole days closed
  - id: always
    hours: 24x7

services:
  - id: epr
    name: Electronic Patient Record
    summary: One shared clinical record for every patient seen by the trust.   # plain words
    purpose: Clinicians see results, letters and medicines in one place.       # why customers use it
    value: [decisions/internal, decisions/external, smarter/internal]         # Boston Box, section 9
    owner: EPR Programme
    signals:                            # where its measurements come from (section 5)
      up: {source: prom, query: 'probe_success{service="epr"}', staleness: 5m}
      latency_ms: {source: prom, query: 'epr_login_seconds * 1000'}
  - {id: service-desk, name: IT service desk}

customers:
  - id: acute
    name: Acute Services Directorate
    kind: directorate  # directorate | nhs-organisation | primary-care | local-authority | public | other
    pays: true                          # is this customer the bill payer?
    contacts:
      reports: [governance.acute@nhs.net]
      alerts: [acute.it@nhs.net]
  - {id: community, name: Community Services Directorate, kind: directorate}

agreements:
  - id: core-2026
    name: Core clinical systems SLA 2026/27
    customers: [acute, community]       # a shared SLA lists several customers
    timezone: Europe/London             # periods are calendar months in this zone
    effective: {from: 2026-04-01, to: 2027-03-31}
    review_due: 2027-01-31
    objectives:
      - id: epr-availability            # unique within the agreement; default "<service>-<type>[-<priority>]"
        service: epr
        type: availability              # availability | latency | events | incident_response | incident_resolution
        target: 99.5                    # percent
        warning: 99.8                   # optional: below this (and not below target) is amber
        calendar: always
        missing_data: ignore            # ignore | down | up   (availability only)
        maintenance_notice: 5d          # planned work announced at least this early is excluded
      - {service: epr, type: latency, threshold_ms: 2000, target: 95, calendar: office-hours}
      - {service: service-desk, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: office-hours}

maintenance:                            # also ingestible from CSV (section 5)
  - {service: epr, start: 2026-10-11T22:00:00+01:00, end: 2026-10-12T02:00:00+01:00,
     announced: 2026-10-01T09:00:00+01:00, reason: EPR upgrade 24.3}

sources:
  - {id: prom, kind: prometheus, url: http://prometheus:9090, step: 60s}
  - {id: probes, kind: http_probe, interval: 60s}
  - {id: itsm, kind: servicenow, url: https://example.service-now.com, user: sla, password_env: SNOW_PASSWORD}
  - {id: drop, kind: file_drop, path: var/incoming}

channels:                               # alert notifications (section 7)
  - {id: ops, kind: email, to: [itops@nhs.net], severities: [page, ticket]}
  - {id: teams, kind: teams, url_env: TEAMS_WEBHOOK_URL}
  - {id: am, kind: alertmanager, url: http://alertmanager:9093}
  - {id: hook, kind: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET}
"""


def test_spec_section_3_example_loads_as_one_file(tmp_path):
    """The SPEC's own example (plus the two ids it refers to without defining) is valid."""
    (tmp_path / "trust.yaml").write_text(SPEC_EXAMPLE, encoding="utf-8")

    catalogue = load_catalogue(tmp_path)

    objectives = catalogue.agreements["core-2026"].objectives
    assert [o.id for o in objectives] == [
        "epr-availability",
        "epr-latency",
        "service-desk-incident_resolution-P2",
    ]
    assert catalogue.calendars["office-hours"].closed == frozenset({date(2026, 12, 24)})
    assert catalogue.services["epr"].signals["up"].query == 'probe_success{service="epr"}'
    assert catalogue.maintenance[0].announced_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert set(catalogue.channels) == {"ops", "teams", "am", "hook"}


def test_golden_trust_loads_and_maps_to_model_values():
    catalogue = load_catalogue(GOLDEN)

    office = catalogue.calendars["office"]
    assert office.hours == (((480, 1080),),) * 5 + ((), ())
    assert office.holidays == "england-and-wales"
    assert office.closed == frozenset({date(2026, 12, 24)})
    assert office.timezone == "Europe/London"
    assert catalogue.calendars["always"].always is True
    assert catalogue.calendars["extended"].hours[5] == ((540, 750),)

    core = catalogue.agreements["core-2026"]
    assert core.customers == ("acute", "community")
    assert (core.effective_from, core.effective_to) == (date(2026, 4, 1), date(2027, 3, 31))
    assert core.review_due == date(2027, 1, 31)
    objectives = {o.id: o for o in core.objectives}
    epr = objectives["epr-availability"]
    assert (epr.target, epr.warning, epr.calendar) == (99.5, 99.8, "always")
    assert epr.maintenance_notice_s == 5 * 86400
    assert objectives["pacs-availability"].missing_data is MissingData.DOWN
    assert objectives["epr-latency"].threshold_ms == 2000
    p2 = objectives["desk-resolve-p2"]
    assert (p2.type, p2.priority, p2.within_s) == (ObjectiveType.INCIDENT_RESOLUTION, "P2", 8 * 3600)
    assert objectives["desk-respond-p2"].within_s == 30 * 60

    partners = catalogue.agreements["partners-2026"]
    assert partners.effective_from == date(2026, 10, 15)
    assert {o.id: o for o in partners.objectives}["email-availability"].missing_data is MissingData.UP
    assert catalogue.services["email"].staleness_s == 600
    assert catalogue.services["epr"].staleness_s == 300
    assert catalogue.maintenance[0].start_at == datetime(2026, 10, 11, 21, 0, tzinfo=UTC)


# --- merging ----------------------------------------------------------------------------------


def test_sections_may_be_split_over_files_and_lists_are_concatenated(tmp_path):
    catalogue = load(
        tmp_path,
        more_yaml="""\
            services:
              - {id: pacs, name: PACS}
            customers:
              - {id: community, name: Community Services}
            """,
    )

    assert set(catalogue.services) == {"epr", "desk", "pacs"}
    assert set(catalogue.customers) == {"acute", "community"}


def test_files_are_read_in_name_order(tmp_path):
    directory = write(
        tmp_path,
        {
            "b.yaml": "customers:\n  - {id: second, name: B}\n",
            "a.yaml": "customers:\n  - {id: first, name: A}\n",
        },
    )

    assert list(load_catalogue(directory).customers) == ["first", "second"]


def test_same_id_in_two_files_is_refused_naming_both_places(tmp_path):
    found = problems(tmp_path, zz_extra_yaml="services:\n  - {id: other, name: X}\n  - {id: epr, name: Again}\n")

    assert found == [
        "zz_extra.yaml:3: services.1.id: service id 'epr' is already used at services.yaml:2 (services.0.id)"
    ]


def test_same_id_in_different_sections_is_fine(tmp_path):
    catalogue = load(tmp_path, more_yaml="customers:\n  - {id: epr, name: The EPR team}\n")

    assert "epr" in catalogue.customers and "epr" in catalogue.services


def test_empty_file_adds_nothing(tmp_path):
    assert load(tmp_path, empty_yaml="# nothing here yet\n").services.keys() == {"epr", "desk"}


def test_empty_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_catalogue(tmp_path)

    assert refused.value.problems == [f"{tmp_path}: no configuration files (*.yaml or *.yml) in this directory"]


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_catalogue(tmp_path / "nowhere")

    assert "does not exist" in refused.value.problems[0]


def test_yml_file_is_read_like_a_yaml_file(tmp_path):
    write(tmp_path, {**BASE, "extra.yml": "customers:\n  - {id: gpfed, name: GP Federation}\n"})

    assert load_catalogue(tmp_path).customers.keys() == {"acute", "gpfed"}


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    found = problems(tmp_path, broken_yaml="services:\n  - id: x\n    name: [unclosed\n")

    assert len(found) == 1
    assert found[0].startswith("broken.yaml:4: YAML syntax error: while parsing a flow sequence (from line 3)")


def test_unknown_reference_is_not_blamed_on_a_file_that_could_not_be_parsed(tmp_path):
    found = problems(tmp_path, services_yaml="services:\n  - {id: epr, name: [EPR\n")

    assert len(found) == 1 and found[0].startswith("services.yaml:")


# --- unknown keys, required fields, references ------------------------------------------------


def test_unknown_key_is_refused_with_file_line_and_path(tmp_path):
    found = problems(
        tmp_path,
        customers_yaml="""\
            customers:
              - id: acute
                name: Acute Services Directorate
                knd: directorate
            """,
    )

    assert found == ["customers.yaml:4: customers.0.knd: unknown field; did you mean 'kind'?"]


def test_unknown_section_is_refused(tmp_path):
    found = problems(tmp_path, more_yaml="calender: []\n")

    assert found == ["more.yaml:1: calender: unknown section; did you mean 'calendars'?"]


def test_key_written_twice_in_one_mapping_is_refused(tmp_path):
    found = problems(tmp_path, customers_yaml="customers:\n  - id: acute\n    name: A\n    name: B\n")

    assert found == ["customers.yaml:4: customers.0.name: appears twice in this mapping (first on line 3)"]


def test_missing_required_field_is_reported_on_the_line_of_its_mapping(tmp_path):
    found = problems(tmp_path, customers_yaml="customers:\n  - id: acute\n    kind: directorate\n")

    assert found == ["customers.yaml:2: customers.0.name: is required"]


def test_required_field_left_empty_is_reported_on_its_own_line(tmp_path):
    found = problems(tmp_path, customers_yaml="customers:\n  - id: acute\n    kind: directorate\n    name:\n")

    assert found == ["customers.yaml:4: customers.0.name: is empty, but it is required"]


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (
            "{service: eppr, type: availability, target: 99, calendar: always}",
            "agreements.yaml:6: agreements.0.objectives.0.service: "
            "no service with id 'eppr' is configured; did you mean 'epr'?",
        ),
        (
            "{service: epr, type: availability, target: 99, calendar: nights}",
            "agreements.yaml:6: agreements.0.objectives.0.calendar: no calendar with id 'nights' is configured",
        ),
    ],
)
def test_reference_to_an_unknown_id_is_refused(tmp_path, objective, expected):
    assert objective_problems(tmp_path, objective) == [expected]


def test_agreement_customer_must_be_configured(tmp_path):
    found = problems(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute, comunity]
                objectives:
                  - {service: epr, type: availability, target: 99.5, calendar: always}
            """,
    )

    assert found == ["agreements.yaml:4: agreements.0.customers.1: no customer with id 'comunity' is configured"]


def test_signal_must_name_a_configured_source(tmp_path):
    found = problems(
        tmp_path, services_yaml="services:\n  - id: epr\n    name: EPR\n    signals:\n      up: {source: prom}\n"
    )

    assert found == ["services.yaml:5: services.0.signals.up.source: no source with id 'prom' is configured"]


def test_customer_in_no_agreement_is_fine(tmp_path):
    catalogue = load(tmp_path, more_yaml="customers:\n  - {id: council, name: County Council, kind: local-authority}\n")

    assert catalogue.customers["council"].kind == "local-authority"


# --- all problems at once ---------------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_file_line_path_message_form(tmp_path):
    found = problems(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                objectives:
                  - service: epr
                    type: availability
                    target: 120
                    calendar: always
                  - {service: epr, type: latency, target: 95, calendar: office}
            """,
        customers_yaml="""\
            customers:
              - id: acute
                name: Acute
                pays: perhaps
                contacts: {reports: [governance at example.nhs.uk]}
            """,
    )

    assert found == [
        "agreements.yaml:8: agreements.0.objectives.0.target: must be between 0 and 100, not 120",
        "agreements.yaml:10: agreements.0.objectives.1.threshold_ms: is required for a latency objective: "
        "the slowest acceptable time in milliseconds",
        "customers.yaml:4: customers.0.pays: must be true or false, not 'perhaps'",
        "customers.yaml:5: customers.0.contacts.reports.0: 'governance at example.nhs.uk' is not an email address",
    ]


def test_config_error_message_has_one_line_per_problem(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, more_yaml="services:\n  - {id: a}\n  - {id: b}\n")

    assert str(refused.value).splitlines() == refused.value.problems
    assert len(refused.value.problems) == 2


# --- timestamps, dates and durations ----------------------------------------------------------


@pytest.mark.parametrize("start", ["2026-10-11T22:00:00", "'2026-10-11T22:00:00'", "2026-10-11 22:00:00"])
def test_timestamp_without_utc_offset_is_refused(tmp_path, start):
    found = problems(
        tmp_path,
        maintenance_yaml=f"maintenance:\n  - {{service: epr, start: {start}, end: 2026-10-12T02:00:00+01:00}}\n",
    )

    (problem,) = found
    # The hint's wording belongs to the time parser; here: one line, at its place, and naming
    # the offset in force on that (summer) date.
    assert problem.startswith(
        f"maintenance.yaml:2: maintenance.0.start: timestamp {start.strip(chr(39))} has no UTC offset (add "
    )
    assert "+01:00" in problem


@pytest.mark.parametrize("start", ["2026-10-11T22:00:00+01:00", "'2026-10-11T22:00:00+01:00'", "2026-10-11T21:00:00Z"])
def test_timestamp_with_offset_is_read_quoted_or_not_and_kept_in_utc(tmp_path, start):
    catalogue = load(
        tmp_path,
        maintenance_yaml=(
            f"maintenance:\n  - {{service: epr, start: {start}, end: 2026-10-12T02:00:00+01:00, reason: Upgrade}}\n"
        ),
    )

    (window,) = catalogue.maintenance
    assert window.start_at == datetime(2026, 10, 11, 21, 0, tzinfo=UTC)
    assert window.end_at == datetime(2026, 10, 12, 1, 0, tzinfo=UTC)
    assert (window.reason, window.emergency, window.announced_at) == ("Upgrade", False, None)


def test_maintenance_must_end_after_it_starts(tmp_path):
    found = problems(
        tmp_path,
        maintenance_yaml="maintenance:\n  - {service: epr, start: 2026-10-11T22:00:00Z, end: 2026-10-11T21:00:00Z}\n",
    )

    assert found == ["maintenance.yaml:2: maintenance.0.end: must be after start"]


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("30s", 30), ("5m", 300), ("8h", 28800), ("5d", 432000), ("PT8H", 28800), ("P1DT2H", 93600)],
)
def test_durations_are_stored_in_seconds(tmp_path, written, seconds):
    objective = only_objective(
        tmp_path,
        f"{{service: desk, type: incident_resolution, priority: P2, within: {written}, target: 90, calendar: office}}",
    )

    assert objective.within_s == seconds


def test_duration_without_unit_is_refused(tmp_path):
    found = objective_problems(
        tmp_path, "{service: epr, type: availability, target: 99, calendar: always, maintenance_notice: 300}"
    )

    assert found == [
        "agreements.yaml:6: agreements.0.objectives.0.maintenance_notice: "
        "a duration needs a unit (30s, 5m, 8h, 5d or PT8H), got 300"
    ]


def test_effective_dates_are_local_dates_quoted_or_not(tmp_path):
    catalogue = load(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                effective: {from: 2026-04-01, to: '2027-03-31'}
                review_due: 2027-01-31
                objectives:
                  - {service: epr, type: availability, target: 99.5, calendar: always}
            """,
    )

    core = catalogue.agreements["core"]
    assert (core.effective_from, core.effective_to, core.review_due) == (
        date(2026, 4, 1),
        date(2027, 3, 31),
        date(2027, 1, 31),
    )
    assert core.timezone == "Europe/London"


def test_effective_to_before_from_is_refused(tmp_path):
    found = problems(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                effective:
                  from: 2026-04-01
                  to: 2026-03-31
                objectives:
                  - {service: epr, type: availability, target: 99.5, calendar: always}
            """,
    )

    assert found == ["agreements.yaml:7: agreements.0.effective.to: must not be before from (2026-04-01)"]


# --- objectives: type-specific fields ---------------------------------------------------------


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (
            "{service: epr, type: latency, target: 95, calendar: office}",
            "threshold_ms: is required for a latency objective: the slowest acceptable time in milliseconds",
        ),
        (
            "{service: epr, type: latency, threshold_ms: 0, target: 95, calendar: office}",
            "threshold_ms: must be greater than 0, not 0",
        ),
        (
            "{service: epr, type: availability, threshold_ms: 2000, target: 95, calendar: office}",
            "threshold_ms: applies to latency objectives only",
        ),
        (
            "{service: epr, type: events, missing_data: down, target: 95, calendar: office}",
            "missing_data: applies to availability objectives only",
        ),
        (
            "{service: epr, type: availability, missing_data: sometimes, target: 95, calendar: office}",
            "missing_data: must be one of ignore, down, up, not 'sometimes'",
        ),
        (
            "{service: desk, type: incident_response, within: 30m, target: 95, calendar: office}",
            "priority: is required for an incident_response objective: the incident priority, P1 to P5",
        ),
        (
            "{service: desk, type: incident_resolution, priority: P6, within: 8h, target: 95, calendar: office}",
            "priority: must be one of P1, P2, P3, P4, P5, not 'P6'",
        ),
        (
            "{service: desk, type: incident_resolution, priority: P2, target: 95, calendar: office}",
            "within: is required for an incident_resolution objective: the time allowed, such as 8h",
        ),
        (
            "{service: desk, type: incident_resolution, priority: P2, within: 0s, target: 95, calendar: office}",
            "within: must be longer than 0, not '0s'",
        ),
        (
            "{service: epr, type: availability, within: 8h, target: 95, calendar: office}",
            "within: applies to incident_response and incident_resolution objectives only",
        ),
        (
            "{service: desk, type: incident_response, priority: P1, within: 15m, maintenance_notice: 5d, "
            "target: 95, calendar: always}",
            "maintenance_notice: does not apply to incident objectives: maintenance does not pause an incident's clock",
        ),
        (
            "{service: epr, type: uptime, target: 95, calendar: office}",
            "type: must be one of availability, latency, events, incident_response, incident_resolution, not 'uptime'",
        ),
        (
            "{service: epr, type: availability, target: 99.5, warning: 99, calendar: office}",
            "warning: must not be below the target (99.5): amber is the band between target and warning",
        ),
        (
            "{service: epr, type: availability, target: ninety, calendar: office}",
            "target: must be a number, not 'ninety'",
        ),
    ],
)
def test_each_objective_type_has_its_own_fields(tmp_path, objective, expected):
    assert objective_problems(tmp_path, objective) == [f"agreements.yaml:6: agreements.0.objectives.0.{expected}"]


def test_objective_id_defaults_to_service_type_and_priority(tmp_path):
    objective = only_objective(
        tmp_path, "{service: desk, type: incident_resolution, priority: P2, within: 8h, target: 90, calendar: office}"
    )

    assert objective.id == "desk-incident_resolution-P2"
    assert (objective.priority, objective.within_s, objective.maintenance_notice_s) == ("P2", 28800, 0.0)


def test_objective_defaults(tmp_path):
    objective = only_objective(tmp_path, "{service: epr, type: availability, target: 99, calendar: always}")

    assert objective.id == "epr-availability"
    assert objective.missing_data is MissingData.IGNORE
    assert (objective.warning, objective.threshold_ms, objective.priority, objective.within_s) == (None,) * 4


def test_two_objectives_with_the_same_id_in_one_agreement_are_refused(tmp_path):
    found = problems(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                objectives:
                  - {service: epr, type: latency, threshold_ms: 1000, target: 95, calendar: always}
                  - {service: epr, type: latency, threshold_ms: 3000, target: 99, calendar: always}
            """,
    )

    assert found == [
        "agreements.yaml:7: agreements.0.objectives.1.id: objective id 'epr-latency' is already used by "
        "agreements.0.objectives.0 (line 6); give each objective its own id"
    ]


def test_same_objective_id_in_two_agreements_is_fine(tmp_path):
    catalogue = load(
        tmp_path,
        more_yaml="""\
            agreements:
              - id: other
                name: Other SLA
                customers: [acute]
                objectives:
                  - {service: epr, type: availability, target: 99, calendar: office}
            """,
    )

    assert catalogue.agreements["other"].objectives[0].id == catalogue.agreements["core"].objectives[0].id


def test_agreement_needs_customers_and_objectives(tmp_path):
    found = problems(
        tmp_path,
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: []
                objectives: []
            """,
    )

    assert found == [
        "agreements.yaml:4: agreements.0.customers: must list at least one item",
        "agreements.yaml:5: agreements.0.objectives: must list at least one objective",
    ]


# --- calendars --------------------------------------------------------------------------------


def calendar(tmp_path: Path, body: str):
    return load(
        tmp_path, more_yaml="calendars:\n  - id: test\n" + textwrap.indent(textwrap.dedent(body), "    ")
    ).calendars["test"]


def calendar_problems(tmp_path: Path, body: str) -> list[str]:
    return problems(tmp_path, more_yaml="calendars:\n  - id: test\n" + textwrap.indent(textwrap.dedent(body), "    "))


def test_calendar_hours_become_minutes_per_weekday(tmp_path):
    result = calendar(
        tmp_path,
        """\
        hours:
          mon-fri: ["08:00-12:00", "13:00-18:00"]
          wed: ["18:00-24:00"]
          sat-sun: 09:00-12:30
        """,
    )

    assert result.hours == (
        ((480, 720), (780, 1080)),
        ((480, 720), (780, 1080)),
        ((480, 720), (780, 1440)),  # touching ranges are joined
        ((480, 720), (780, 1080)),
        ((480, 720), (780, 1080)),
        ((540, 750),),
        ((540, 750),),
    )
    assert (result.always, result.timezone, result.holidays, result.closed) == (
        False,
        "Europe/London",
        "none",
        frozenset(),
    )


def test_calendar_24x7_is_always_open(tmp_path):
    result = calendar(tmp_path, "hours: 24x7\ntimezone: Europe/Belfast\n")

    assert result.always is True and result.timezone == "Europe/Belfast"


def test_closed_days_may_be_written_quoted_or_not(tmp_path):
    result = calendar(tmp_path, "hours: {mon-fri: ['08:00-18:00']}\nclosed: [2026-12-24, '2026-12-31']\n")

    assert result.closed == frozenset({date(2026, 12, 24), date(2026, 12, 31)})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "hours: {mon-fri: ['08:00-18:00', '17:00-19:00']}",
            "more.yaml:3: calendars.0.hours.mon-fri.1: 17:00-19:00 overlaps 08:00-18:00 (line 3) "
            "on mon, tue, wed, thu, fri",
        ),
        (
            "hours: {sun: ['22:00-06:00']}",
            "more.yaml:3: calendars.0.hours.sun.0: '22:00-06:00' ends before it starts; for service past midnight "
            'split it, such as "22:00-24:00" on one day and "00:00-06:00" on the next',
        ),
        (
            "hours: {mon: ['24:00-24:00']}",
            "more.yaml:3: calendars.0.hours.mon.0: '24:00-24:00' is not a time of day "
            "(use 00:00 to 23:59, and 24:00 only as an end)",
        ),
        (
            "hours: {fri-mon: ['08:00-18:00']}",
            "more.yaml:3: calendars.0.hours.fri-mon: 'fri-mon': a range of days runs in week order from mon to sun, "
            "such as mon-fri or sat-sun",
        ),
        (
            "hours: {weekdays: ['08:00-18:00']}",
            "more.yaml:3: calendars.0.hours.weekdays: 'weekdays' is not a day: use mon, tue, wed, thu, fri, sat, sun "
            "or a range such as mon-fri",
        ),
        (
            "hours: {mon: ['8am-6pm']}",
            "more.yaml:3: calendars.0.hours.mon.0: '8am-6pm' is not a range of times such as \"08:00-18:00\"",
        ),
        (
            "hours: always",
            'more.yaml:3: calendars.0.hours: must be 24x7 or days with times, such as mon-fri: ["08:00-18:00"]',
        ),
        (
            "hours: {mon: ['08:00-18:00']}\ntimezone: Europe/Londn",
            "more.yaml:4: calendars.0.timezone: 'Europe/Londn' is not a known time zone; "
            "use a name such as Europe/London",
        ),
        (
            "hours: {mon: ['08:00-18:00']}\nholidays: wales",
            "more.yaml:4: calendars.0.holidays: must be one of england-and-wales, scotland, northern-ireland, none, "
            "not 'wales'",
        ),
        (
            "hours: 24x7\nclosed: [2026-12-25]",
            "more.yaml:4: calendars.0.closed: does not apply to a 24x7 calendar, which is always open; "
            'write the hours as mon-sun: ["00:00-24:00"] instead',
        ),
        (
            "hours: {mon: ['08:00-18:00']}\nclosed: [2026-02-30]",
            "more.yaml:4: calendars.0.closed.0: expected a date YYYY-MM-DD, got '2026-02-30'",
        ),
    ],
)
def test_bad_calendar_is_refused_with_a_clear_reason(tmp_path, body, expected):
    assert calendar_problems(tmp_path, body) == [expected]


# --- services and customers -------------------------------------------------------------------


def test_service_fields_signals_and_probe(tmp_path):
    catalogue = load(
        tmp_path,
        services_yaml="""\
            services:
              - id: epr
                name: Electronic Patient Record
                summary: One record.
                purpose: Care in one place.
                owner: EPR Programme
                value: [decisions/internal, smarter/external]
                probe: {url: "https://epr.example.nhs.uk/health", contains: OK}
                signals:
                  up: {source: probes, staleness: 2m}
                  latency_ms: {source: drop, query: ignored-by-file-drop}
              - {id: desk, name: Service desk}
            """,
        more_yaml="sources:\n  - {id: probes, kind: http_probe}\n",
    )

    epr = catalogue.services["epr"]
    assert (epr.summary, epr.purpose, epr.owner) == ("One record.", "Care in one place.", "EPR Programme")
    assert epr.value == ("decisions/internal", "smarter/external")
    assert epr.signals["up"].source == "probes" and epr.signals["up"].staleness_s == 120
    assert epr.signals["latency_ms"].staleness_s == 300
    assert (epr.probe.url, epr.probe.expect_status, epr.probe.contains, epr.probe.timeout_s) == (
        "https://epr.example.nhs.uk/health",
        200,
        "OK",
        10.0,
    )
    assert catalogue.services["desk"].signals == {}


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        (
            "{id: epr, name: EPR, value: [smart/internal]}",
            "value.0: must be one of decisions/internal, decisions/external, smarter/internal, "
            "smarter/external, not 'smart/internal'; did you mean 'smarter/internal'?",
        ),
        (
            "{id: epr, name: EPR, signals: {uptime: {source: drop}}}",
            "signals.uptime: unknown signal; expected one of: up, latency_ms, good, total",
        ),
        (
            "{id: epr, name: EPR, signals: {up: {source: itsm}}}",
            "signals.up.source: 'itsm' is a servicenow source: it provides incidents, not measurements",
        ),
        (
            "{id: epr, name: EPR, signals: {up: {source: prom}}}",
            "signals.up.query: is required: 'prom' is a prometheus source, so say which query gives up",
        ),
        (
            "{id: epr, name: EPR, signals: {up: {source: probes}}}",
            "signals.up.source: 'probes' is an http_probe source, but this service has no probe to run",
        ),
        (
            "{id: epr, name: EPR, probe: {url: 'ftp://epr'}}",
            "probe.url: 'ftp://epr' is not a web address starting with http:// or https://",
        ),
        (
            "{id: 'e p r', name: EPR}",
            "id: 'e p r' cannot be used as an id: use letters, digits, '-', '_' or '.', without spaces",
        ),
    ],
)
def test_bad_service_is_refused_with_a_clear_reason(tmp_path, service, expected):
    found = problems(
        tmp_path,
        services_yaml=f"services:\n  - {service}\n  - {{id: desk, name: Desk}}\n",
        agreements_yaml="""\
            agreements:
              - id: core
                name: Core SLA
                customers: [acute]
                objectives:
                  - {service: desk, type: incident_response, priority: P1, within: 15m, target: 95, calendar: always}
            """,
        more_yaml="""\
            sources:
              - {id: itsm, kind: servicenow, url: "https://example.service-now.com", token_env: SNOW_TOKEN}
              - {id: prom, kind: prometheus, url: "http://prometheus:9090"}
              - {id: probes, kind: http_probe}
            """,
    )

    assert found == [f"services.yaml:2: services.0.{expected}"]


def test_plain_words_stay_as_written(tmp_path):
    catalogue = load(tmp_path, more_yaml="services:\n  - {id: yes-service, name: yes, summary: 2026-01-01}\n")

    service = catalogue.services["yes-service"]
    assert (service.name, service.summary) == ("yes", "2026-01-01")


def test_customer_defaults_and_contacts(tmp_path):
    catalogue = load(
        tmp_path,
        customers_yaml="""\
            customers:
              - id: acute
                name: Acute
              - id: council
                name: County Council
                kind: local-authority
                pays: true
                contacts:
                  reports: [ict.contracts@example.gov.uk]
                  alerts: [ict.oncall@example.gov.uk]
            """,
    )

    acute, council = catalogue.customers["acute"], catalogue.customers["council"]
    assert (acute.kind, acute.pays, acute.contacts.reports, acute.contacts.alerts) == ("other", False, (), ())
    assert council.pays is True
    assert council.contacts.reports == ("ict.contracts@example.gov.uk",)
    assert council.contacts.alerts == ("ict.oncall@example.gov.uk",)


# --- sources and channels ---------------------------------------------------------------------


def test_source_options_are_stored_with_defaults_and_durations_in_seconds(tmp_path):
    catalogue = load(
        tmp_path,
        more_yaml="""\
            sources:
              - {id: prom, kind: prometheus, url: "http://prometheus:9090", step: 2m, token_env: PROM_TOKEN}
              - {id: probes, kind: http_probe, concurrency: 4}
              - id: itsm
                kind: servicenow
                url: https://example.service-now.com
                user: sla
                password_env: SNOW_PASSWORD
                field_map: {opened_at: sys_created_on}
            """,
    )

    assert shown(catalogue.sources["prom"].options) == {
        "url": "http://prometheus:9090",
        "step_s": 120.0,
        "timeout_s": 30.0,
        "verify_tls": True,
        "token_env": "PROM_TOKEN",
    }
    assert shown(catalogue.sources["probes"].options) == {"interval_s": 60.0, "concurrency": 4}
    assert shown(catalogue.sources["itsm"].options) == {
        "url": "https://example.service-now.com",
        "user": "sla",
        "password_env": "SNOW_PASSWORD",
        "table": "incident",
        "field_map": {"opened_at": "sys_created_on"},
        "timeout_s": 30.0,
        "verify_tls": True,
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{id: itsm, kind: servicenow, url: 'https://x.service-now.com', user: sla, password: hunter2}",
            [
                "sources.1.password_env: is required with user: give the name of the environment variable that "
                "holds the password",
                "sources.1.password: secrets are never written in the configuration: set the password in an "
                "environment variable and give its name in password_env",
            ],
        ),
        (
            "{id: prom, kind: prometheus, url: 'http://p:9090', token: abc}",
            [
                "sources.1.token: secrets are never written in the configuration: set the token in an environment "
                "variable and give its name in token_env"
            ],
        ),
        ("{id: files, kind: file_drop}", ["sources.1.path: is required"]),
        ("{id: prom, kind: prometheus}", ["sources.1.url: is required"]),
        (
            "{id: probes, kind: http_probe, interval: 60}",
            ["sources.1.interval: a duration needs a unit (30s, 5m, 8h, 5d or PT8H), got 60"],
        ),
        (
            "{id: q, kind: kafka, topic: x}",
            ["sources.1.kind: must be one of prometheus, http_probe, servicenow, file_drop, not 'kafka'"],
        ),
        (
            "{id: files, kind: file_drop, path: x, step: 60s}",
            ["sources.1.step: unknown field; expected one of: id, kind, path"],
        ),
    ],
)
def test_bad_source_is_refused_with_a_clear_reason(tmp_path, source, expected):
    found = problems(
        tmp_path, sources_yaml=f"sources:\n  - {{id: drop, kind: file_drop, path: var/incoming}}\n  - {source}\n"
    )

    assert found == [f"sources.yaml:3: {line}" for line in expected]


def test_channel_options_and_filters(tmp_path):
    catalogue = load(
        tmp_path,
        more_yaml="""\
            channels:
              - {id: ops, kind: email, to: [itops@example.nhs.uk]}
              - {id: hook, kind: webhook, url_env: HOOK_URL, secret_env: HOOK_SECRET, severities: [page],
                 customers: [acute], services: [epr], repeat_interval: 1h}
              - {id: teams, kind: teams, url: "https://example.webhook.office.com/x"}
              - {id: am, kind: alertmanager, url: "http://alertmanager:9093"}
              - {id: contacts, kind: email, include_customer_contacts: true}
            """,
    )

    channels = catalogue.channels
    assert shown(channels["ops"].options) | shown(channels["ops"].filters) == {
        "to": ("itops@example.nhs.uk",),
        "include_customer_contacts": False,
        "severities": ("page", "ticket"),
        "repeat_interval_s": 14400.0,
    }
    assert shown(channels["hook"].options) | shown(channels["hook"].filters) == {
        "url_env": "HOOK_URL",
        "secret_env": "HOOK_SECRET",
        "severities": ("page",),
        "repeat_interval_s": 3600.0,
        "customers": ("acute",),
        "services": ("epr",),
    }
    assert channels["teams"].options.url == "https://example.webhook.office.com/x"
    assert channels["am"].kind == "alertmanager"
    assert channels["contacts"].options.include_customer_contacts is True


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("{id: ops, kind: email}", "to: is required: list the addresses, or set include_customer_contacts: true"),
        ("{id: ops, kind: email, to: [itops]}", "to.0: 'itops' is not an email address"),
        (
            "{id: hook, kind: webhook}",
            "url: is required: give url, or url_env with the name of an environment variable that holds it",
        ),
        ("{id: hook, kind: teams, url: 'https://x', url_env: TEAMS}", "url_env: give url or url_env, not both"),
        (
            "{id: am, kind: alertmanager, url: 'http://am:9093', severities: [critical]}",
            "severities.0: must be one of page, ticket, not 'critical'",
        ),
        (
            "{id: am, kind: alertmanager, url: 'http://am:9093', services: [pax]}",
            "services.0: no service with id 'pax' is configured",
        ),
        (
            "{id: hook, kind: webhook, url_env: HOOK, secret: abc}",
            "secret: secrets are never written in the "
            "configuration: set the secret in an environment variable and give its name in secret_env",
        ),
        ("{id: sms, kind: pager}", "kind: must be one of email, webhook, teams, alertmanager, not 'pager'"),
    ],
)
def test_bad_channel_is_refused_with_a_clear_reason(tmp_path, channel, expected):
    assert problems(tmp_path, channels_yaml=f"channels:\n  - {channel}\n") == [
        f"channels.yaml:2: channels.0.{expected}"
    ]


# --- suppliers and underpinning contracts (SPEC 9.2) ------------------------------------------

SUPPLIERS = """\
    suppliers:
      - id: carrier
        name: North Network Services Ltd
        contacts: {reports: [contracts@trust.nhs.uk]}
    contracts:
      - id: wan-2026
        supplier: carrier
        effective: {from: 2026-04-01, to: 2028-03-31}
        review_due: 2028-01-31
        objectives:
          - {service: epr, type: availability, target: 99.9, calendar: always}
    """


def contract_problems(tmp_path: Path, contract: str) -> list[str]:
    """Problems of one contract, written as a flow mapping on line 4 of suppliers.yaml."""
    return problems(
        tmp_path,
        suppliers_yaml=f"""\
            suppliers:
              - {{id: carrier, name: North Network Services Ltd}}
            contracts:
              - {contract}
            """,
    )


def test_a_contract_is_an_agreement_of_kind_contract_with_its_supplier_as_customer(tmp_path):
    catalogue = load(tmp_path, suppliers_yaml=SUPPLIERS)

    assert catalogue.suppliers == {
        "carrier": Supplier("carrier", "North Network Services Ltd", Contacts(reports=("contracts@trust.nhs.uk",)))
    }
    wan = catalogue.agreements["wan-2026"]
    assert (wan.kind, wan.customers, wan.supplier, wan.timezone) == (
        AgreementKind.CONTRACT,
        ("carrier",),
        "carrier",
        "Europe/London",
    )
    assert (wan.effective_from, wan.effective_to, wan.review_due) == (
        date(2026, 4, 1),
        date(2028, 3, 31),
        date(2028, 1, 31),
    )
    (objective,) = wan.objectives
    assert (objective.id, objective.target, objective.missing_data) == ("epr-availability", 99.9, MissingData.IGNORE)
    assert catalogue.contracts == {"wan-2026": wan}
    assert catalogue.customer_agreements.keys() == {"core"}
    assert catalogue.agreements["core"].kind is AgreementKind.AGREEMENT
    assert "carrier" not in catalogue.customers


def test_a_service_may_name_the_supplier_who_delivers_it(tmp_path):
    services = textwrap.dedent(BASE["services.yaml"]).replace("    name: Service desk\n", "    name: Service desk\n    supplier: carrier\n")
    catalogue = load(tmp_path, services_yaml=services, suppliers_yaml=SUPPLIERS)

    assert catalogue.services["desk"].supplier == "carrier"
    assert catalogue.services["epr"].supplier is None


def test_the_golden_suppliers_case_loads_two_suppliers_and_their_contracts():
    catalogue = load_catalogue(SUPPLIERS_GOLDEN)

    assert {s.id: s.name for s in catalogue.suppliers.values()} == {
        "hostco": "Hosted Records Ltd",
        "carrier": "North Network Services Ltd",
    }
    assert catalogue.suppliers["carrier"].contacts == Contacts()
    assert {c.id: c.customers for c in catalogue.contracts.values()} == {
        "epr-hosting-2026": ("hostco",),
        "wifi-2026": ("carrier",),
    }
    wifi = catalogue.agreements["wifi-2026"]
    assert (wifi.effective_from, wifi.effective_to, wifi.review_due) == (date(2026, 10, 15), None, None)
    assert catalogue.services["epr"].supplier == "hostco"
    assert catalogue.services["wifi"].supplier == "carrier"
    assert catalogue.services["pacs"].supplier is None
    assert catalogue.customers.keys() == {"acute", "community", "gpfed", "council"}


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        ("{id: wan, objectives: [{service: epr, type: availability, target: 99, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.supplier: is required"),
        ("{id: wan, supplier: carier, objectives: [{service: epr, type: availability, target: 99, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.supplier: no supplier with id 'carier' is configured; did you mean 'carrier'?"),
        ("{id: wan, supplier: carrier}", "suppliers.yaml:4: contracts.0.objectives: is required"),
        ("{id: wan, supplier: carrier, objectives: [{service: epr, type: availability, target: 120, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.objectives.0.target: must be between 0 and 100, not 120"),
        ("{id: wan, supplier: carrier, objectives: [{service: epr, type: latency, target: 95, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.objectives.0.threshold_ms: is required for a latency objective: "
         "the slowest acceptable time in milliseconds"),
        ("{id: wan, supplier: carrier, customers: [acute], "
         "objectives: [{service: epr, type: availability, target: 99, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.customers: unknown field; expected one of: "
         "id, supplier, effective, review_due, objectives"),
        ("{id: wan, supplier: carrier, effective: {from: 2026-04-01, to: 2026-03-01}, "
         "objectives: [{service: epr, type: availability, target: 99, calendar: always}]}",
         "suppliers.yaml:4: contracts.0.effective.to: must not be before from (2026-04-01)"),
    ],
)
def test_a_bad_contract_is_refused_like_a_bad_agreement(tmp_path, contract, expected):
    assert contract_problems(tmp_path, contract) == [expected]


def test_a_contract_id_may_not_be_an_agreement_id(tmp_path):
    found = contract_problems(
        tmp_path, "{id: core, supplier: carrier, objectives: [{service: epr, type: availability, target: 99, calendar: always}]}"
    )

    assert found == [
        "suppliers.yaml:4: contracts.0.id: contract id 'core' is already used by the agreement at agreements.yaml:2 "
        "(agreements.0.id): results are listed by agreement or contract id"
    ]


def test_a_supplier_id_may_not_be_a_customer_id(tmp_path):
    found = problems(tmp_path, suppliers_yaml="suppliers:\n  - {id: acute, name: Acute Hosting Ltd}\n")

    assert found == [
        "suppliers.yaml:2: suppliers.0.id: supplier id 'acute' is already used by the customer at customers.yaml:2 "
        "(customers.0.id): results are listed by customer or supplier id"
    ]


@pytest.mark.parametrize(
    ("supplier", "expected"),
    [
        ("{id: carrier}", "suppliers.0.name: is required"),
        ("{id: carrier, name: Carrier, contacts: {alerts: [noc@carrier.example]}}",
         "suppliers.0.contacts.alerts: a supplier gets reports only; alerts go to the channels (section 7)"),
        ("{id: carrier, name: Carrier, contacts: {reports: [carrier]}}",
         "suppliers.0.contacts.reports.0: 'carrier' is not an email address"),
        ("{id: carrier, name: Carrier, phone: '0113 496 0000'}",
         "suppliers.0.phone: unknown field; expected one of: id, name, contacts"),
    ],
)
def test_a_bad_supplier_is_refused(tmp_path, supplier, expected):
    assert problems(tmp_path, suppliers_yaml=f"suppliers:\n  - {supplier}\n") == [f"suppliers.yaml:2: {expected}"]


def test_a_service_naming_an_unknown_supplier_is_refused(tmp_path):
    services = textwrap.dedent(BASE["services.yaml"]).replace("    name: Service desk\n", "    name: Service desk\n    supplier: hostco\n")

    assert problems(tmp_path, services_yaml=services) == [
        "services.yaml:9: services.1.supplier: no supplier with id 'hostco' is configured"
    ]


# --- `.yml` files, through the real command -----------------------------------------------------


def check_config(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "check-config", str(directory)],
        capture_output=True, text=True, env=env, cwd=directory.parent, timeout=120,
    )


def test_check_config_reads_a_yml_file_like_a_yaml_file(tmp_path):
    files = {**BASE, "customers.yaml": None, "customers.yml": BASE["customers.yaml"]}
    directory = write(tmp_path / "config", files)

    done = check_config(directory)

    assert done.returncode == 0, done.stderr
    assert "2 services, 1 customers, 1 agreements" in done.stdout


def test_check_config_reports_yaml_errors_of_yml_and_yaml_files_together(tmp_path):
    files = {**BASE, "broken.yaml": "services:\n  - id: [unclosed\n", "also-broken.yml": "customers: {\n"}
    directory = write(tmp_path / "config", files)

    done = check_config(directory)

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith("broken.yaml:") and "YAML syntax error" in line for line in lines), done.stderr
    assert any(line.startswith("also-broken.yml:") and "YAML syntax error" in line for line in lines), done.stderr


def test_the_worker_reloads_the_catalogue_when_a_yml_file_changes(tmp_path):
    directory = write(tmp_path / "config", {**BASE, "customers.yaml": None, "customers.yml": BASE["customers.yaml"]})
    engine = make_engine(f"sqlite:///{tmp_path / 'sla.sqlite'}")
    try:
        held = Runtime(Settings(config_dir=directory, _env_file=None), engine)
        assert held.catalogue.customers.keys() == {"acute"}

        edited = directory / "customers.yml"
        edited.write_text(textwrap.dedent(BASE["customers.yaml"]) + "  - {id: gpfed, name: GP Federation}\n")
        later = edited.stat().st_mtime_ns + 1_000_000_000
        os.utime(edited, ns=(later, later))  # a changed time, however coarse the file system's clock

        assert held.catalogue.customers.keys() == {"acute", "gpfed"}
    finally:
        engine.dispose()
