"""Error kinds. Bad user data is a refusal with a place and a reason, never a retry."""

from __future__ import annotations


class SlaWorkerError(Exception):
    """Base of every error sla-worker raises on purpose."""


class ConfigError(SlaWorkerError):
    """Invalid configuration, refused as a whole: one `file:line: path.to.field: message` each."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class InvalidValue(SlaWorkerError, ValueError):
    """A single value (timestamp, duration, number) that cannot be accepted; the message says why."""


class TransientError(SlaWorkerError):
    """An outside system failed in a way that may pass (timeout, 5xx, connection lost): retry."""


class PermanentError(SlaWorkerError):
    """An outside system refused for good (4xx, bad credentials): record it, do not retry."""


class SamplesDeleted(SlaWorkerError):
    """A period reaches back before what sample retention has deleted: it cannot be scored
    again, and its stored results stand."""
