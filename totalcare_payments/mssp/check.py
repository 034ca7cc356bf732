"""The engine against CMS's published settlements: every ACO of a public use file settled
with the shipped track presets, and compared with what CMS paid or billed (``EarnSaveLoss``).

``settle_puf`` settles a file's rows (read by ``puf.read_puf``) track by track through the
same practice-level entry as any program (``savings.summary.settle_summary``);
``check_puf`` compares row by row within ``tolerance`` (whole dollars, plus what the
rounding of the published rates can move) and checks the MSR table against
``MinSavPerc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..money import cents_to_dollars
from ..savings.msr import minimum_savings_rate
from ..savings.summary import settle_summary
from .puf import DOLLAR_TOLERANCE, MSR_TOLERANCE, PRESETS, _uses_table, preset_config, read_puf


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
    "reason",
]



def settle_puf(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    """Settle every ACO of ``read_puf``'s frame with its track's preset; compare with CMS.

    One ``settle_summary`` call per track (the summary's ``loss_limit`` column carries
    each ACO's own limit); everything else is vectorized. Returns one row per ACO, in the file's order: the engine's waterfall
    (msr used, share rate, loss rate, shared savings and losses, in dollars), CMS's
    result, ``difference`` = engine - CMS, ``tolerance`` and ``match``.
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
            "match": np.abs(difference) <= tol + 1e-9,
            "reason": settled["reason"].to_numpy(),
        }
    )[COMPARISON_COLUMNS]



def table_msr_check(frame: pd.DataFrame, min_population: float = 3000.0) -> pd.DataFrame:
    """The presets' MSR tables against CMS's MinSavPerc, for ACOs within the tables' domain.

    Every ACO whose track's preset takes its MSR from a table (Track 1, BASIC A-B) and
    that has at least ``min_population`` beneficiaries: aco_id, track, population,
    published_msr, table_msr (the engine's ``msr.minimum_savings_rate``), abs_error and
    ``tolerance`` (1e-6, or the rounding of the published MinSavPerc if coarser).
    """
    kinds = _uses_table(frame["tier"].to_numpy(str))
    rows = frame[kinds & (frame["population"] >= min_population).to_numpy()]
    table = np.full(len(rows), np.nan)
    for tier in pd.unique(rows["tier"]):
        mine = (rows["tier"] == tier).to_numpy()
        terms = preset_config(str(tier)).require_settlement().msr
        table[mine] = minimum_savings_rate(terms, rows["population"].to_numpy(float)[mine])
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
    def mismatched(self) -> int:
        return self.rows - self.matched

    @property
    def all_match(self) -> bool:
        return self.mismatched == 0

    @property
    def max_abs_difference(self) -> float:
        return float(self.comparison["difference"].abs().max()) if self.rows else 0.0

    @property
    def msr_table_matched(self) -> int:
        return int((self.msr_table["abs_error"] <= self.msr_table["tolerance"]).sum())

    def largest_differences(self, n: int = 10) -> pd.DataFrame:
        """Rows that do not match first, then the largest |difference|."""
        c = self.comparison
        order = np.lexsort((-c["difference"].abs().to_numpy(), c["match"].to_numpy()))
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
