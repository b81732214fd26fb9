"""Small aggregates used by the store's tests (not part of the domain)."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event


class Counter(Aggregate):
    @event("Started")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.payload = ""

    @event("Incremented")
    def increment(self, by: int = 1, payload: str = "") -> None:
        self.count += by
        self.payload = payload
