"""Pure domain model of technology transfer (科技成果转化).

No I/O, no asyncio, no clock reads: dates come in with commands. Aggregates
subclass ``eventsourcing.domain.Aggregate`` and change state only through
``@event`` methods.
"""
