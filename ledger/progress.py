"""A plain progress line for long CLI work: done/total, rate and time left.

Written to stderr with carriage returns on a terminal, as occasional log
lines otherwise, so CI logs stay readable.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, *, unit: str = "items", every_s: float = 0.5) -> None:
        self.label = label
        self.unit = unit
        self.every_s = every_s if sys.stderr.isatty() else 5.0
        self.started = time.monotonic()
        self._last = 0.0
        self.done = 0
        self.total = 0

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 and self.total >= self.done else 0.0
        pct = 100.0 * self.done / self.total if self.total else 100.0
        return (
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} ({pct:5.1f}%), "
            f"{rate:,.0f} {self.unit}/s, {left:,.0f}s left"
        )

    def update(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            end = "\r" if sys.stderr.isatty() else "\n"
            print(self.line(), end=end, file=sys.stderr, flush=True)

    def finish(self) -> None:
        print(self.line(), file=sys.stderr, flush=True)
