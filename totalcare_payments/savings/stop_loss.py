"""Stop-loss truncation: each member's annual cost counts only up to a threshold.

The threshold is a fixed amount, or a percentile of all attributed members' annual
costs (members with no claims included). When a member moved between practices, the
truncated amount is taken from each practice in proportion to its part of that
member's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attribution import NO_PRACTICE
from ..config import StopLoss
from .costs import MemberCosts


def stop_loss_threshold(
    stop_loss: StopLoss, annual_cost: np.ndarray, attributed: np.ndarray
) -> float:
    """The per-member annual threshold in dollars (inf when there is no stop-loss)."""
    if stop_loss.kind == "fixed":
        assert stop_loss.amount is not None
        return float(stop_loss.amount)
    if stop_loss.kind == "percentile":
        assert stop_loss.percentile is not None
        population = annual_cost[attributed]
        return float(np.quantile(population, stop_loss.percentile)) if len(population) else np.inf
    return float("inf")



@dataclass(frozen=True)
class PracticeCosts:
    claims_paid: np.ndarray  # per practice, dollars
    truncated: np.ndarray  # per practice, dollars removed by stop-loss
    threshold: float
    members_truncated: int



def practice_costs(costs: MemberCosts, threshold: float) -> PracticeCosts:
    """Claims and truncation per practice, truncation shared in proportion to each practice's part."""
    annual = costs.annual_cost()
    over = np.flatnonzero(annual > threshold)  # only these members' cells are truncated
    fraction = (annual[over] - threshold) / annual[over]
    cells = costs.grid[over]
    truncated_cells = costs.cost[over] * fraction[:, None]
    on = cells != NO_PRACTICE
    return PracticeCosts(
        claims_paid=costs.claims_by_practice,
        truncated=np.bincount(cells[on], weights=truncated_cells[on], minlength=costs.n_practices),
        threshold=threshold,
        members_truncated=len(over),
    )
