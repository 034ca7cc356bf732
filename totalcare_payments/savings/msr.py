"""Minimum savings rate (MSR): the savings rate a practice must reach before it shares savings.

Savings of small populations are noisy, so the MSR guards against paying out random
variation. A fixed rate, or a table by population size (person-years) in the form the
Medicare Shared Savings Program uses (42 CFR 425.604(b)): within a band the rate falls
linearly from ``msr_at_min`` at ``min_population`` to ``msr_at_max`` at
``max_population``; between bands, and past the last, the band's ``msr_at_max`` holds;
below the first band, its ``msr_at_min``. Or each practice's own rate (``assigned``), or
its choice (``choice``): one of the fixed ``choices``, or the table (a blank rate), the
table being forced below ``table_below_population``.
"""

from __future__ import annotations

import numpy as np

from ..config import MsrTerms


def msr_from_table(terms: MsrTerms, population: np.ndarray) -> np.ndarray:
    """Interpolated MSR of each population size."""
    assert terms.table is not None
    n = np.asarray(population, dtype=np.float64)
    lo = np.array([b.min_population for b in terms.table])
    hi = np.array([b.max_population for b in terms.table])
    at_lo = np.array([b.msr_at_min for b in terms.table])
    at_hi = np.array([b.msr_at_max for b in terms.table])
    band = np.clip(np.searchsorted(lo, n, side="right") - 1, 0, len(lo) - 1)
    width = hi[band] - lo[band]
    pos = np.where(
        width > 0, (np.clip(n, lo[band], hi[band]) - lo[band]) / np.where(width > 0, width, 1), 1.0
    )
    return at_lo[band] - (at_lo[band] - at_hi[band]) * pos


def minimum_savings_rate(
    terms: MsrTerms, population: np.ndarray, assigned: np.ndarray | None = None
) -> np.ndarray:
    """Each practice's MSR under the config's rule (``assigned``: the summary's msr column,
    each practice's own rate for kind 'assigned', its chosen fixed rate or NaN for the
    table for kind 'choice')."""
    population = np.asarray(population, dtype=np.float64)
    if terms.kind == "fixed":
        return np.full(len(population), terms.rate)
    if terms.kind == "table":
        return msr_from_table(terms, population)
    if terms.kind == "choice":
        chosen = np.full(len(population), np.nan) if assigned is None else assigned
        chosen = np.asarray(chosen, dtype=np.float64)
        if terms.table_below_population is not None:
            chosen = np.where(population < terms.table_below_population, np.nan, chosen)
        return np.where(np.isnan(chosen), msr_from_table(terms, population), chosen)
    if assigned is None:
        raise ValueError("msr kind 'assigned' needs an msr column in the practice summary")
    return np.asarray(assigned, dtype=np.float64)
