"""Each ACO of a Medicare PUF re-settled with its track's preset, against CMS's result.

``settle_puf`` settles ``puf.read_puf``'s frame track by track through
``settle_summary`` (the entry any program's practice summaries use) and compares with
``EarnSaveLoss`` row by row; ``table_msr_check`` compares the presets' MSR tables with
``MinSavPerc``; ``check_puf`` does both for a file (``totalcare mssp-check``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..money import cents_to_dollars
from ..reasons import Reason
from ..savings.msr import msr_from_table
from ..savings.summary import settle_summary
from .puf import (
    DOLLAR_TOLERANCE,
    MSR_TOLERANCE,
    PRESETS,
    preset_config,
    read_puf,
    uses_table,
)


def tolerance(frame: pd.DataFrame) -> np.ndarray:
    """Allowed |engine - CMS| per row: $1, plus what the published quality score's rounding
    can move the result.

    Where CMS published the quality score rounded (PY2018: 4 decimals, so off by up to
    ``quality_rounding`` = 0.00005), the sharing rate recomputed from it can be off by
    max rate x quality_rounding, and the result by |GenSaveLoss| x QualPerfShare x
    quality_rounding: issue 4's acceptance rule. Rows without QualPerfShare use the
    track preset's maximum rate.
    """
    gross = frame["GenSaveLoss"].abs().fillna(0.0).to_numpy(float)
    preset_rate = frame["tier"].map(
        {t: preset_config(t).program.max_share_rate for t in pd.unique(frame["tier"])}
    )
    rate = frame["QualPerfShare"].fillna(preset_rate).fillna(0.0).to_numpy(float)
    return DOLLAR_TOLERANCE + gross * rate * frame["quality_rounding"].to_numpy(float)

COMPARISON_COLUMNS = [
    "aco_id",
    "aco_name",
    "track",
    "beneficiaries",
    "benchmark",
    "expenditures",
    "savings",
    "savings_rate",
    "msr",
    "published_msr",
    "met_quality",
    "quality_score",
    "share_rate",
    "loss_rate",
    "engine_shared_savings",
    "engine_shared_losses",
    "engine_result",
    "published_result",
    "difference",
    "tolerance",
    "match",
    "not_reproducible",
    "reason",
]


def settle_puf(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """Settle every ACO of ``read_puf``'s frame with its track's preset; compare with CMS.

    One ``settle_summary`` call per track (the summary's ``loss_limit`` column carries
    each ACO's own limit); everything else is vectorized. Returns one row per ACO, in the
    file's order: the engine's waterfall (msr used, share rate, loss rate, shared savings
    and losses, in dollars), CMS's result, ``difference`` = engine - CMS, ``tolerance``,
    ``match`` and ``not_reproducible``: for a row that does not match, the reason the file
    cannot give CMS's figure, where there is one (``REVENUE_NOT_PUBLISHED``: CMS billed
    less than the engine's loss, as a revenue-based loss limit would, and the revenue is
    not in the file), else empty.
    """
    unknown = sorted(set(frame["tier"]) - set(PRESETS))
    if unknown:
        raise InputError(f"no MSSP preset for track(s) {unknown}")
    parts = []
    for tier, rows in frame.groupby("tier", sort=True):
        parts.append(settle_summary(rows, preset_config(str(tier)), year).practices)
    settled = pd.concat(parts, ignore_index=True).set_index("practice_id")
    settled = settled.loc[frame["practice_id"].to_numpy()]

    cents = settled["final_payment_cents"].to_numpy(np.int64)
    engine = cents_to_dollars(cents)
    published = frame["published_result"].to_numpy(float)
    difference = np.round(engine - published, 2)
    tol = tolerance(frame)
    match = np.abs(difference) <= tol + 1e-9
    # a loss CMS held below the engine's where the preset has a revenue-based loss limit and
    # the file has no revenue: the one figure the settlement needs that is not published
    tracks = pd.unique(frame["tier"])
    by_revenue = frame["tier"].map({t: _has_revenue_loss_limit(str(t)) for t in tracks})
    revenue = frame["revenue"] if "revenue" in frame.columns else pd.Series(np.nan, frame.index)
    revenue_unknown = by_revenue.to_numpy(bool) & revenue.isna().to_numpy(bool)
    billed = settled["shared_loss_cents"].to_numpy() > 0
    billed_less = billed & (published <= 0) & (published > engine + tol)
    not_reproducible = np.where(
        ~match & revenue_unknown & billed_less, Reason.REVENUE_NOT_PUBLISHED.value, ""
    )
    return pd.DataFrame(
        {
            "aco_id": frame["practice_id"].to_numpy(),
            "aco_name": frame["practice_name"].to_numpy(),
            "track": frame["tier"].to_numpy(),
            "beneficiaries": frame["population"].to_numpy(),
            "benchmark": cents_to_dollars(settled["budget_cents"].to_numpy()),
            "expenditures": cents_to_dollars(settled["actual_cost_cents"].to_numpy()),
            "savings": cents_to_dollars(settled["savings_cents"].to_numpy()),
            "savings_rate": settled["savings_rate"].to_numpy(),
            "msr": settled["msr"].to_numpy(),
            "published_msr": frame["MinSavPerc"].to_numpy(),
            "met_quality": frame["met_quality_gate"].to_numpy(bool),
            "quality_score": frame["quality_score"].to_numpy(),
            "share_rate": settled["share_rate"].to_numpy(),
            "loss_rate": settled["loss_rate"].to_numpy(),
            "engine_shared_savings": cents_to_dollars(settled["earned_cents"].to_numpy()),
            "engine_shared_losses": cents_to_dollars(settled["shared_loss_cents"].to_numpy()),
            "engine_result": engine,
            "published_result": published,
            "difference": difference,
            "tolerance": np.round(tol, 2),
            "match": match,
            "not_reproducible": not_reproducible,
            "reason": settled["reason"].to_numpy(),
        }
    )[COMPARISON_COLUMNS]



def _has_revenue_loss_limit(track: str) -> bool:
    losses = preset_config(track).require_settlement().losses
    if not losses.enabled:
        return False
    return losses.revenue_loss_limit is not None or track in losses.revenue_loss_limit_by_tier


def table_msr_check(frame: pd.DataFrame) -> pd.DataFrame:
    """The presets' MSR tables against CMS's MinSavPerc, for every ACO whose MSR the engine
    takes from its preset's table (``puf.uses_table``).

    That is every ACO of a track whose MSR is the table (Track 1, BASIC A-B) with at least
    the table's first band's beneficiaries, and every two-sided ACO (kind 'choice') that
    chose the table or has fewer beneficiaries than ``table_below_population``:
    aco_id, track, population, published_msr, table_msr (the engine's
    ``msr.msr_from_table`` on the preset), abs_error and ``tolerance`` (1e-6, or the
    rounding of the published MinSavPerc if coarser).
    """
    rows = frame[uses_table(frame)]
    table = np.full(len(rows), np.nan)
    for tier in pd.unique(rows["tier"]):
        mine = (rows["tier"] == tier).to_numpy()
        terms = preset_config(str(tier)).require_settlement().msr
        table[mine] = msr_from_table(terms, rows["population"].to_numpy(float)[mine])
    published = rows["MinSavPerc"].to_numpy(float)
    return pd.DataFrame(
        {
            "aco_id": rows["practice_id"].to_numpy(),
            "track": rows["tier"].to_numpy(),
            "population": rows["population"].to_numpy(),
            "published_msr": published,
            "table_msr": table,
            "abs_error": np.abs(table - published),
            "tolerance": np.maximum(MSR_TOLERANCE, rows["msr_rounding"].to_numpy(float) + 1e-12),
        }
    )


@dataclass(frozen=True)
class MsspCheck:
    """The engine against one year's published settlements."""

    path: Path
    year: int
    comparison: pd.DataFrame
    msr_table: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.comparison)

    @property
    def matched(self) -> int:
        return int(self.comparison["match"].sum())

    @property
    def not_reproducible(self) -> pd.DataFrame:
        """The rows that do not match and that the file cannot reproduce, with the reason."""
        c = self.comparison
        return c[(~c["match"] & c["not_reproducible"].ne("")).to_numpy()]

    @property
    def mismatched(self) -> int:
        """Rows that do not match for no reason the file gives."""
        return self.rows - self.matched - len(self.not_reproducible)

    @property
    def all_match(self) -> bool:
        """Every row matches, but those the file cannot reproduce (named, with the reason)."""
        return self.mismatched == 0

    @property
    def max_abs_difference(self) -> float:
        return float(self.comparison["difference"].abs().max()) if self.rows else 0.0

    @property
    def max_matched_difference(self) -> float:
        """The largest |difference| among the rows that match."""
        matched = self.comparison.loc[self.comparison["match"], "difference"]
        return float(matched.abs().max()) if len(matched) else 0.0

    @property
    def msr_table_matched(self) -> int:
        return int((self.msr_table["abs_error"] <= self.msr_table["tolerance"]).sum())

    def largest_differences(self, n: int = 10) -> pd.DataFrame:
        """Rows that do not match first (those the file cannot reproduce after the others),
        then the largest |difference|."""
        c = self.comparison
        explained = c["not_reproducible"].ne("").to_numpy()
        order = np.lexsort((-c["difference"].abs().to_numpy(), explained, c["match"].to_numpy()))
        return c.iloc[order[:n]]

    def by_track(self) -> pd.DataFrame:
        """ACOs, matches and totals (engine and CMS, dollars) per track."""
        c = self.comparison.assign(abs_difference=self.comparison["difference"].abs())
        grouped = c.groupby("track", sort=True)
        return pd.DataFrame(
            {
                "acos": grouped.size(),
                "matched": grouped["match"].sum().astype(int),
                "engine_total": grouped["engine_result"].sum(),
                "published_total": grouped["published_result"].sum(),
                "max_abs_difference": grouped["abs_difference"].max(),
            }
        ).reset_index()


def check_puf(path: str | Path, year: int) -> MsspCheck:
    """Read a year's PUF, settle every ACO with the engine and compare with CMS's results."""
    frame = read_puf(path, year)
    return MsspCheck(
        path=Path(path),
        year=year,
        comparison=settle_puf(frame, year),
        msr_table=table_msr_check(frame),
    )
