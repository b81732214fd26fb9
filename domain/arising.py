"""The day a due item arose (应收形成日): one answer for the aggregate, the books and the statistics.

An item is owed, and so receivable, from the day the event that created it
happened: the contract's effective date, the use-first-pay-later conversion,
the royalty report, the minimum-royalty top-up, the milestone reached, or the
end that kept it. The journal debits the receivable on that day
(ledger/posting_rules.py), the receivables statistic counts the item from that
day (projections/receivables.py), and the aggregate lets money settle an item
only from that day (rule ``settles_what_had_arisen``), so the three never
disagree on a date.

Royalty reports and minimum top-ups recorded before the events carried their
day (``arose_on``, ``topped_up_on``) were booked at the item's due date; they
keep that date, so an old log's journal reproduces exactly.
"""

from __future__ import annotations

from datetime import date
from typing import Any


def arose_on(event: Any, due_on: date) -> date:
    """When the items an event creates arose; ``due_on`` is the item's due date (the old basis)."""
    name = type(event).__name__
    if name == "TookEffect":
        return event.effective_on  # type: ignore[no-any-return]
    if name == "ConvertedToPaid":
        return event.converted_on  # type: ignore[no-any-return]
    if name == "MilestoneReached":
        return event.reached_on  # type: ignore[no-any-return]
    if name == "EndSettled":
        return event.ended_on  # type: ignore[no-any-return]
    if name == "RoyaltyReported":
        return getattr(event, "arose_on", None) or due_on
    if name == "MinimumRoyaltyToppedUp":
        return getattr(event, "topped_up_on", None) or due_on
    raise TypeError(f"{name} creates no due item")
