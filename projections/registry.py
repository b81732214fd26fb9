"""Every projection of the read side, in the order the runner applies them."""

from __future__ import annotations

from projections.base import TableProjection
from projections.contracts import ContractsProjection
from projections.distribution import DistributionProjection
from projections.receivables import ReceivablesProjection
from projections.transfer import TransferProjection


def all_projections() -> list[TableProjection]:
    """Fresh instances of every statistics projection (``ttledger project`` runs these)."""
    return [
        ContractsProjection(),
        ReceivablesProjection(),
        TransferProjection(),
        DistributionProjection(),
    ]


def projection_names() -> list[str]:
    return [p.name for p in all_projections()]
