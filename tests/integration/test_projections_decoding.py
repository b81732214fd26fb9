"""The read side's fast decoder gives the same domain events as the store's mapper."""

from __future__ import annotations

from ledger.serialisation import default_mapper
from ledger.store import EventStore
from projections.decoding import fast_mapper
from tests.integration.test_statistics_dataset import build


async def test_fast_mapper_decodes_every_event_equal_to_default_mapper(fresh_dsn: str) -> None:
    store = await EventStore.connect(fresh_dsn)
    try:
        await build(store)
        entries = await store.read(0, 100_000)
    finally:
        await store.close()
    assert len(entries) > 60
    topics = set()
    for entry in entries:
        stored = entry.stored_event()
        slow = default_mapper().to_domain_event(stored)
        fast = fast_mapper().to_domain_event(stored)
        direct = fast_mapper().decode_entry(entry)
        assert type(fast) is type(slow) is type(direct)
        assert vars(fast) == vars(slow) == vars(direct), entry.topic
        topics.add(entry.topic)
    assert {"domain.award:IncomeDistribution.Allocated", "domain.contract:TechnologyContract.Drafted",
            "domain.distribution:DistributionPolicy.VersionAdopted"} <= topics
    # Encoding is the store's own.
    event = default_mapper().to_domain_event(entries[0].stored_event())
    assert fast_mapper().to_stored_event(event).state == entries[0].state
