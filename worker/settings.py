"""Settings from the environment (and an optional `.env`), never from the YAML catalogue
(SPEC 2). Invalid settings fail loudly at start-up, naming the variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from worker.alerts.rules import MIN_COUNTED_RATIO, MIN_EVENTS
from worker.domain.errors import ConfigError, InvalidValue
from worker.domain.time import parse_duration
from worker.scoring.shards import DEFAULT_SHARDS, SLOTS
from worker.usecases.retention import DEFAULT_RETENTION_S

# The default beat schedule, installed with the package (SPEC 2): a worker started from any
# directory runs it. The checkout's top-level `schedules/` is a link to this folder.
PACKAGED_SCHEDULES_DIR = Path(__file__).resolve().parent / "default_schedule"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLA_", env_file=".env", extra="ignore", frozen=True)

    config_dir: Path = Path("config/example")
    database_url: str = "sqlite:///var/sla.sqlite"
    broker_url: str = "sqla+sqlite:///var/broker.sqlite"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "sla-worker@localhost"
    metrics_addr: str = "127.0.0.1:9464"
    # The objective families per (agreement, customer, objective), as SPEC 10 lists them, or
    # once per (agreement, objective) holding the worst of its customers (docs/metrics.md).
    metrics_series: Literal["per_customer", "per_agreement"] = "per_customer"
    reports_dir: Path = Path("var/reports")
    schedules_dir: Path = PACKAGED_SCHEDULES_DIR  # SLA_SCHEDULES_DIR replaces it
    worker_concurrency: int = 2
    grafana_url: str | None = None  # links in alert messages to the customer dashboard
    # Low-traffic guard of the burn-rate alerts: the least data a window needs to count.
    alert_min_events: float = MIN_EVENTS  # samples, events or incidents in the window
    alert_min_counted_ratio: float = MIN_COUNTED_RATIO  # availability: counted seconds / window length
    late_data_grace_s: float = Field(default=6 * 3600.0, validation_alias="SLA_LATE_DATA_GRACE")
    # A send claimed by a process that died (SIGKILL, power loss) is taken over, and sent again
    # with the same Idempotency-Key / Message-ID, once its claim is this old. Longer than any
    # real send takes; short enough that a page is not held up for long after a crash.
    notification_claim_timeout_s: float = Field(default=300.0, validation_alias="SLA_NOTIFICATION_CLAIM_TIMEOUT")
    report_claim_timeout_s: float = Field(default=900.0, validation_alias="SLA_REPORT_CLAIM_TIMEOUT")
    # Samples older than this are deleted by the daily `sla.apply_retention` (results and tally
    # sheets are kept for ever): docs/deploy.md says how much disk that needs.
    samples_retention_s: float = Field(default=DEFAULT_RETENTION_S, validation_alias="SLA_SAMPLES_RETENTION")
    # Scoring is cut into this many shards of services, scored by different worker processes at
    # once (issue 16; docs/design.md, Shards). Any value is safe beside any other: locks are taken
    # per slot of services, not per shard number.
    scoring_shards: int = Field(default=DEFAULT_SHARDS, ge=1, le=SLOTS)

    @field_validator(
        "late_data_grace_s", "notification_claim_timeout_s", "report_claim_timeout_s", "samples_retention_s", mode="before"
    )
    @classmethod
    def _duration(cls, value: object) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except InvalidValue as error:
            raise ValueError(str(error)) from None


def load_settings(**overrides: object) -> Settings:
    """Read the environment; `overrides` (from command-line flags) win over it."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise ConfigError(
            [f"environment: SLA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()]
        ) from None
    given = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=given) if given else settings
