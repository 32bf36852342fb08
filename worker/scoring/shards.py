"""Shards: which worker process scores which services (issue 16). Pure: no I/O, no clock.

A service belongs to one of `SLOTS` lock slots, `crc32(service id) % SLOTS` (crc32: the same
number in every process, machine and Python version, unlike the salted `hash()`), and a slot to
shard `slot % count`. So a shard is a set of slots whatever the count, and every objective of a
service (its sample objectives, its incident objectives) is scored in the service's shard:
tally sheets and results of two shards never overlap.

Scoring locks slots, not shard numbers (worker/storage/locks.py): two transactions that touch
the same service always want its slot, even when they were started with different shard
counts (`sla-worker score` run with the default beside workers set to 32, or a rolling change
of SLA_SCORING_SHARDS). The count decides only how the work is cut, never whether it is safe.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

SLOTS = 256
"""Lock slots; the most shards worth having (more would leave some shards empty)."""
DEFAULT_SHARDS = 16


@lru_cache(maxsize=65536)  # asked for every objective of every run: the catalogue's ids, a few thousand
def slot_of(service: str) -> int:
    """The lock slot of a service id."""
    return zlib.crc32(service.encode("utf-8")) % SLOTS


def shard_of(service: str, count: int) -> int:
    """The shard (0 … count − 1) that scores `service` when the work is cut in `count`."""
    return slot_of(service) % _checked(count)


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count`: the services whose slot is `index` modulo `count`."""

    index: int
    count: int

    def __post_init__(self) -> None:
        _checked(self.count)
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} is not between 0 and {self.count - 1}")

    @property
    def slots(self) -> tuple[int, ...]:
        """Its lock slots, ascending (every process takes slots in this one order: no deadlock)."""
        return tuple(range(self.index, SLOTS, self.count))

    def holds(self, service: str) -> bool:
        return slot_of(service) % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def all_shards(count: int) -> tuple[Shard, ...]:
    """Every shard of `count`, in index order: together they hold every service once."""
    return tuple(Shard(index, count) for index in range(_checked(count)))


def _checked(count: int) -> int:
    if not 1 <= count <= SLOTS:
        raise ValueError(f"the shard count must be between 1 and {SLOTS}, not {count}")
    return count


def pending_batches(parts: Sequence[Shard], pending: Collection[str], services: int) -> list[tuple[Shard, ...]]:
    """The shards of `parts` that hold a pending service, grouped in order into batches of
    about `services` pending services (a batch closes once it has that many; the last may
    have fewer). A pending run scores a batch in one transaction: a few statements for many
    shards when little is pending (the usual run, every few minutes), while a large backlog
    still splits into batches that several processes share."""
    found: list[tuple[Shard, ...]] = []
    batch: list[Shard] = []
    count = 0
    for part in parts:
        held = sum(1 for service in pending if part.holds(service))
        if not held:
            continue
        batch.append(part)
        count += held
        if count >= services:
            found.append(tuple(batch))
            batch, count = [], 0
    if batch:
        found.append(tuple(batch))
    return found
