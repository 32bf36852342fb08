"""Shards of alert evaluation (issue 16). PURE: which shard an alert belongs to.

An alert (rule, agreement, customer, objective) belongs to the shard of its service:
the shards of partitioned scoring (`worker.scoring.shards`), so a service's results and its
alerts land on the same shard. The service is the one the catalogue
gives the objective for that customer (a per-customer template's instance for its customer);
an alert the catalogue no longer knows keeps the service stored with it, and a source's
data-missing alert has the empty service, whose shard holds them all.

The service is the key because it is what a message groups on: one message per channel,
event, rule and service (`rules.group`), so every alert of one message is evaluated in one
shard and sharding never splits or merges a message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from worker.scoring.shards import Shard

AlertOwner = tuple[str, str, str]  # (agreement, customer, objective)


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
