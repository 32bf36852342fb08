"""Which shard scores which service (worker/scoring/shards.py): plain values in tables, no
database. The numbers are crc32's, so every process, machine and Python version agrees."""

from __future__ import annotations

import pytest

from worker.scoring.shards import DEFAULT_SHARDS, SLOTS, Shard, all_shards, pending_batches, shard_of, slot_of

SERVICES = ["epr", "pacs", "email", "portal", "wifi", "servicedesk", "site-link.a81001", "", "é-service"]


@pytest.mark.parametrize(
    ("service", "slot", "of_16", "of_10", "of_1"),
    [
        ("epr", 63, 15, 3, 0),
        ("pacs", 117, 5, 7, 0),
        ("email", 116, 4, 6, 0),
        ("portal", 240, 0, 0, 0),
        ("wifi", 75, 11, 5, 0),
        ("servicedesk", 235, 11, 5, 0),
        ("site-link.a81001", 77, 13, 7, 0),
        ("", 0, 0, 0, 0),
    ],
)
def test_a_service_has_the_same_slot_and_shard_in_every_process(service, slot, of_16, of_10, of_1):
    assert slot_of(service) == slot
    assert (shard_of(service, 16), shard_of(service, 10), shard_of(service, 1)) == (of_16, of_10, of_1)


@pytest.mark.parametrize("count", [1, 2, 3, 10, DEFAULT_SHARDS, 100, SLOTS])
def test_the_shards_of_any_count_hold_every_service_exactly_once(count):
    for service in SERVICES:
        assert [s.index for s in all_shards(count) if s.holds(service)] == [shard_of(service, count)]


@pytest.mark.parametrize("count", [1, 3, DEFAULT_SHARDS, SLOTS])
def test_the_shards_of_any_count_split_the_slots_between_them(count):
    slots = [slot for shard in all_shards(count) for slot in shard.slots]
    assert sorted(slots) == list(range(SLOTS))


@pytest.mark.parametrize("count", [1, 3, DEFAULT_SHARDS, SLOTS])
def test_a_shard_holds_a_service_exactly_when_it_holds_the_services_slot(count):
    """What makes the locks safe across counts: any two shards, of any counts, that hold one
    service both lock its slot."""
    for shard in all_shards(count):
        for service in SERVICES:
            assert shard.holds(service) == (slot_of(service) in shard.slots)


def test_a_shards_slots_ascend_so_every_process_locks_them_in_one_order():
    assert Shard(3, 16).slots == tuple(range(3, SLOTS, 16))
    assert list(Shard(3, 16).slots) == sorted(Shard(3, 16).slots)


@pytest.mark.parametrize(
    ("index", "count"),
    [(0, 0), (-1, 4), (4, 4), (0, SLOTS + 1)],
)
def test_a_shard_outside_its_count_is_refused(index, count):
    with pytest.raises(ValueError):
        Shard(index, count)


@pytest.mark.parametrize("count", [0, -3, SLOTS + 1])
def test_a_count_outside_one_to_the_slots_is_refused(count):
    with pytest.raises(ValueError):
        shard_of("epr", count)
    with pytest.raises(ValueError):
        all_shards(count)


def test_a_shard_reads_as_index_of_count():
    assert str(Shard(3, 16)) == "3/16"


def test_pending_shards_go_in_order_into_batches_that_close_at_the_size_asked():
    # Of 16: epr → 15, pacs → 5, email → 4, portal → 0, wifi and servicedesk → 11.
    pending = ["epr", "pacs", "email", "portal", "wifi", "servicedesk"]
    shards = all_shards(16)

    assert pending_batches(shards, pending, 400) == [tuple(shards[i] for i in (0, 4, 5, 11, 15))]
    assert pending_batches(shards, pending, 2) == [
        (shards[0], shards[4]),
        (shards[5], shards[11]),
        (shards[15],),
    ]
    assert pending_batches(shards, pending, 1) == [(shards[i],) for i in (0, 4, 5, 11, 15)]


def test_no_pending_service_makes_no_batch():
    assert pending_batches(all_shards(16), [], 400) == []
    assert pending_batches((Shard(3, 16),), ["epr"], 400) == []
