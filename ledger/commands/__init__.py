"""Commands and their handlers, one module per aggregate family.

A command is a pydantic model (the API validates request bodies with the
same model); a handler is a small async function taking the command and a
unit of work, in the cosmicpython style. ``HANDLERS`` maps each command type
to its handler so the bus, the API and the demo loader share one table.
"""

from __future__ import annotations

from ledger.commands import achievement, contract, distribution, equity, institution
from ledger.commands.base import HANDLERS, Command, handler

__all__ = ["HANDLERS", "Command", "achievement", "contract", "distribution", "equity", "handler", "institution"]
