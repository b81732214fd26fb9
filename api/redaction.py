"""What a regulator's token sees of people: shares, counts and amounts, never names.

Inventors (成果完成人) are named in achievements, distribution lines
(``inventor:<name>``), award payments and notices, share awards and
self-implementation awards. For a regulator every view replaces each name by
a stand-in numbered in the order of the record's own inventor team
(``#1``, ``#2``, ...), so amounts still add up per person and the team size
shows, but nobody is identified. ID numbers (``person_id``) and objectors'
names are dropped.

The event feed carries events verbatim (their hashes cover the exact bytes),
so it cannot be redacted: it is open to admin tokens only.
"""

from __future__ import annotations

from collections.abc import Iterable

INVENTOR_PREFIX = "inventor:"
REDACTED = "(redacted)"


class Pseudonyms:
    """Stable stand-ins for names within one view: the first name seen is ``#1``."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names: dict[str, str] = {}
        for name in names:
            self(name)

    def __call__(self, name: str) -> str:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = f"#{len(self._names) + 1}"
        return found

    def key(self, key: str) -> str:
        """A distribution line key: ``inventor:<name>`` becomes ``inventor:#n``; others stay."""
        if key.startswith(INVENTOR_PREFIX):
            return INVENTOR_PREFIX + self(key[len(INVENTOR_PREFIX):])
        return key


class Names:
    """Identity: what every other role sees."""

    def __call__(self, name: str) -> str:
        return name

    def key(self, key: str) -> str:
        return key


def names_for(redact: bool, team: Iterable[str] = ()) -> Pseudonyms | Names:
    return Pseudonyms(team) if redact else Names()


INVENTOR_ACCOUNT = "distribution_payable:inventor:"
INVENTORS_ACCOUNT = "distribution_payable:inventor:*"


def merge_inventor_accounts(balances: dict[str, int]) -> tuple[dict[str, int], int]:
    """Balances with every inventor's payable account summed into one; and how many were merged."""
    merged: dict[str, int] = {}
    count = 0
    for account, amount in balances.items():
        if account.startswith(INVENTOR_ACCOUNT):
            count += 1
            merged[INVENTORS_ACCOUNT] = merged.get(INVENTORS_ACCOUNT, 0) + amount
        else:
            merged[account] = amount
    return dict(sorted(merged.items())), count
