"""Per-customer service instances (issue 16): a service written once with `per_customer: true`
becomes one service per customer of its agreements, each scored for its own customer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_config import load, problems

from worker.domain.model import Probe, SignalSource

TEMPLATE = """\
    services:
      - id: epr
        name: Electronic Patient Record
        signals:
          up: {source: drop}
      - id: desk
        name: Service desk
      - id: site-link
        name: Site link
        per_customer: true
        signals:
          up: {source: prom, query: 'probe_success{job="links", practice="{customer.ods_code}"}', staleness: 10m}
          latency_ms: {source: prom, query: 'link_rtt_ms{site="{customer}"}'}
    """
CUSTOMERS = """\
    customers:
      - {id: acute, name: Acute Services Directorate, kind: directorate}
      - {id: gp1, name: Riverside Practice, kind: primary-care, ods_code: A81001}
      - {id: gp2, name: Hill Practice, kind: primary-care, ods_code: A81002}
    """
AGREEMENTS = """\
    agreements:
      - id: core
        name: Core SLA
        customers: [acute]
        objectives:
          - {service: epr, type: availability, target: 99.5, calendar: always}
      - id: links
        name: Practice links
        customers: [gp1, gp2]
        objectives:
          - {id: link-up, service: site-link, type: availability, target: 99, calendar: always}
    """
SOURCES = """\
    sources:
      - {id: drop, kind: file_drop, path: var/incoming}
      - {id: prom, kind: prometheus, url: http://prometheus:9090}
    """


FILES = {"services_yaml": TEMPLATE, "customers_yaml": CUSTOMERS, "agreements_yaml": AGREEMENTS, "sources_yaml": SOURCES}


def templated(tmp_path: Path, **replace: str | None):
    return load(tmp_path, **{**FILES, **replace})


def templated_problems(tmp_path: Path, **replace: str | None) -> list[str]:
    return problems(tmp_path, **{**FILES, **replace})


def test_a_template_becomes_one_service_per_customer_with_its_placeholders_filled(tmp_path):
    catalogue = templated(tmp_path)

    assert [s for s in catalogue.services if s.startswith("site-link")] == ["site-link", "site-link.gp1", "site-link.gp2"]
    gp1 = catalogue.services["site-link.gp1"]
    assert (gp1.name, gp1.template, gp1.customer, gp1.per_customer) == ("Site link (Riverside Practice)", "site-link", "gp1", False)
    assert gp1.signals["up"] == SignalSource("prom", 'probe_success{job="links", practice="A81001"}', 600.0)
    assert gp1.signals["latency_ms"].query == 'link_rtt_ms{site="gp1"}'
    assert catalogue.services["site-link"].per_customer


def test_a_template_with_a_probe_gets_each_customers_url(tmp_path):
    services = TEMPLATE.replace(
        "per_customer: true\n", "per_customer: true\n        probe: {url: 'https://{customer.ods_code}.links.nhs.uk/health'}\n"
    ).replace("up: {source: prom, query: 'probe_success{job=\"links\", practice=\"{customer.ods_code}\"}', staleness: 10m}", "up: {source: probes}")
    catalogue = templated(tmp_path, services_yaml=services, sources_yaml=SOURCES.rstrip(" ") + "      - {id: probes, kind: http_probe}\n")

    assert catalogue.services["site-link.gp2"].probe == Probe(url="https://A81002.links.nhs.uk/health")


def test_an_objective_on_a_template_is_scored_per_customer_against_its_own_instance(tmp_path):
    from worker.scoring.score import contexts

    catalogue = templated(tmp_path)
    found = [(c.agreement.id, c.agreement.customers, c.objective.id, c.service.id, c.key) for c in contexts(catalogue, [])]

    assert found == [
        ("core", ("acute",), "epr-availability", "epr", ("core", "epr-availability")),
        ("links", ("gp1",), "link-up", "site-link.gp1", ("links", "link-up@gp1")),
        ("links", ("gp2",), "link-up", "site-link.gp2", ("links", "link-up@gp2")),
    ]


def test_a_template_no_agreement_uses_makes_no_instance(tmp_path):
    catalogue = templated(tmp_path, agreements_yaml=AGREEMENTS.split("      - id: links")[0])

    assert [s for s in catalogue.services if s.startswith("site-link")] == ["site-link"]


def test_the_ods_code_placeholder_for_a_customer_without_one_is_refused_naming_both(tmp_path):
    found = templated_problems(tmp_path, customers_yaml=CUSTOMERS.replace(", ods_code: A81002", ""))

    assert found == [
        "services.yaml:12: services.2.signals.up.query: customer 'gp2' (agreement 'links') has no ods_code, which "
        "service 'site-link' needs for {customer.ods_code}"
    ]


def test_an_unknown_placeholder_is_refused(tmp_path):
    found = templated_problems(tmp_path, services_yaml=TEMPLATE.replace('site="{customer}"', 'site="{customer.name}"'))

    assert found == [
        "services.yaml:13: services.2.signals.latency_ms.query: unknown placeholder {customer.name}: a per-customer "
        "service may use {customer} and {customer.ods_code}"
    ]


def test_a_placeholder_in_a_service_that_is_not_per_customer_is_refused(tmp_path):
    found = templated_problems(tmp_path, services_yaml=TEMPLATE.replace("        per_customer: true\n", ""))

    assert found == [
        "services.yaml:11: services.2.signals.up.query: {customer.ods_code} is a placeholder of per-customer "
        "services: add `per_customer: true`",
        "services.yaml:12: services.2.signals.latency_ms.query: {customer} is a placeholder of per-customer "
        "services: add `per_customer: true`",
    ]


def test_per_customer_must_be_true_or_false(tmp_path):
    found = templated_problems(tmp_path, services_yaml=TEMPLATE.replace("per_customer: true", "per_customer: maybe"))

    assert found == ["services.yaml:10: services.2.per_customer: must be true or false, not 'maybe'"]


def test_an_instance_id_taken_by_a_written_service_is_refused(tmp_path):
    services = TEMPLATE.rstrip(" ") + "      - {id: site-link.gp1, name: Hand-written link}\n"

    found = templated_problems(tmp_path, services_yaml=services)

    assert found == [
        "services.yaml:8: services.2.id: the instance of this per-customer service for customer 'gp1' would be "
        "'site-link.gp1', which is already the id of another service"
    ]


# --- end to end, through the real commands ---------------------------------------------------------

CONFIG = """\
    calendars:
      - {id: always, hours: 24x7}
    sources:
      - {id: drop, kind: file_drop, path: var/incoming}
    services:
      - id: site-link
        name: Site link
        per_customer: true
        signals:
          up: {source: drop, staleness: 10m}
    customers:
      - {id: gp1, name: Riverside Practice, kind: primary-care, ods_code: A81001}
      - {id: gp2, name: Hill Practice, kind: primary-care, ods_code: A81002}
    agreements:
      - id: links
        name: Practice links
        customers: [gp1, gp2, gp3]
        objectives:
          - {id: link-up, service: site-link, type: availability, target: 99, calendar: always}
    """


def sla_worker(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    base = ("--config", str(tmp_path / "config"), "--db", f"sqlite:///{tmp_path / 'sla.sqlite'}")
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", *base, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )


def october_samples(service: str, down_days: int) -> list[str]:
    """An `up` sample every 5 minutes of October 2026 (UTC), down for the first `down_days` days."""
    start = datetime(2026, 10, 1, tzinfo=UTC) - timedelta(hours=1)  # Europe/London is UTC+1 then
    rows = []
    for step in range(31 * 24 * 12 + 24):
        at = start + timedelta(minutes=5 * step)
        rows.append(f"{at:%Y-%m-%dT%H:%M:%SZ},{service},up,{0 if at < start + timedelta(days=down_days) else 1}")
    return rows


def test_each_customer_of_a_shared_agreement_is_scored_from_its_own_link(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "all.yaml").write_text(textwrap.dedent(CONFIG))
    (config / "customers.csv").write_text("id,name,kind,ods_code,pays,reports,alerts\ngp3,Valley Practice,primary-care,,,,\n")
    samples = tmp_path / "samples.csv"
    rows = october_samples("site-link.gp1", down_days=0) + october_samples("site-link.gp2", down_days=1)
    samples.write_text("timestamp,service,signal,value\n" + "\n".join(rows) + "\n")

    for step in (("check-config", str(config)), ("db", "upgrade"), ("ingest", "samples", str(samples)), ("score", "--period", "2026-10")):
        done = sla_worker(tmp_path, *step)
        assert done.returncode == 0, (step, done.stderr)
    listed = sla_worker(tmp_path, "results", "--period", "2026-10", "--format", "json")
    assert listed.returncode == 0, listed.stderr

    results = {r["customer"]: r for r in json.loads(listed.stdout)}
    assert sorted(results) == ["gp1", "gp2", "gp3"]
    assert {(r["agreement"], r["objective"]) for r in results.values()} == {("links", "link-up")}
    assert {c: r["service"] for c, r in results.items()} == {
        "gp1": "site-link.gp1", "gp2": "site-link.gp2", "gp3": "site-link.gp3"
    }
    assert results["gp1"]["value"] == pytest.approx(100.0)
    assert results["gp2"]["value"] == pytest.approx(100.0 * 30 / 31, abs=0.01)  # one day of 31 down
    assert results["gp3"]["value"] is None  # no samples for its link: no data, not someone else's figure
