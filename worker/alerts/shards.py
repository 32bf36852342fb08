"""Shards of alert evaluation (issue 16). PURE: which shard an alert belongs to.

An alert (rule, agreement, customer, objective) belongs to the shard of its service:
`crc32(service id) % shards`, the same function partitioned scoring uses, so a service's
results and its alerts land on the same shard number. The service is the one the catalogue
gives the objective for that customer (a per-customer template's instance for its customer);
an alert the catalogue no longer knows keeps the service stored with it, and a source's
data-missing alert has the empty service, whose crc32 is 0: shard 0 holds them all.

The service is the key because it is what a message groups on: one message per channel,
event, rule and service (`rules.group`), so every alert of one message is evaluated in one
shard and sharding never splits or merges a message.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_SHARDS = 16  # setting SLA_SCORING_SHARDS

AlertOwner = tuple[str, str, str]  # (agreement, customer, objective)


def shard_of(service_id: str, shards: int) -> int:
    """The shard of `service_id` among `shards`: stable across processes and versions."""
    return zlib.crc32(service_id.encode()) % shards


def shard_count(settings: object) -> int:
    """The number of shards every worker agrees on (setting SLA_SCORING_SHARDS, default 16)."""
    return max(1, int(getattr(settings, "scoring_shards", DEFAULT_SHARDS)))


@dataclass(frozen=True)
class Shard:
    """Shard `number` of `count`."""

    number: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.number < self.count:
            raise ValueError(f"shard {self.number} is not one of 0..{self.count - 1}")

    def holds(self, service_id: str) -> bool:
        return shard_of(service_id, self.count) == self.number


def services_by_alert(contexts: Iterable[tuple[str, Iterable[str], str, str]]) -> dict[AlertOwner, str]:
    """(agreement, customer, objective) → its service, from (agreement, customers, objective,
    service) of every objective context in the catalogue."""
    found: dict[AlertOwner, str] = {}
    for agreement, customers, objective, service in contexts:
        for customer in customers:
            found[(agreement, customer, objective)] = service
    return found


def owns(shard: Shard | None, services: Mapping[AlertOwner, str], key: AlertOwner, stored_service: str) -> bool:
    """Does `shard` (None: every shard at once) evaluate the alerts of `key`? By the
    catalogue's service for it, else by the service stored with it."""
    return shard is None or shard.holds(services.get(key, stored_service))
