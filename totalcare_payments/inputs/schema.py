"""The input tables, declared once as data: file names, columns, kinds and reason codes.

Every check on input files is derived from these declarations (``inputs.py``),
and the README's input table documents the same names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

Kind = Literal["id", "text", "number", "year_month", "date", "year", "flag"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    # a number read as a whole count of 10**-decimals (claim amounts: hundredths of a
    # cent); a value finer than that is rejected (TOO_MANY_DECIMALS)
    decimals: int | None = None
    # a month or date is read into this column of the checked frame (its month)
    period_as: str = "period"


@dataclass(frozen=True)
class TableSpec:
    name: str
    stem: str  # conventional file name in a data folder, without extension
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()  # columns that identify a row; duplicates are rejected
    # whether the table may be given as a folder of Parquet files (``inputs.dataset``)
    folder: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def without(self, *names: str) -> TableSpec:
        """The same table read without these columns (a job that does not use them)."""
        return replace(self, columns=tuple(c for c in self.columns if c.name not in names))

    def columns_in(self, names: Iterable[str]) -> list[str]:
        """The spec's columns among ``names`` (a file's or a frame's), in the spec's order:
        what is read of a file, whoever reads it."""
        present = set(names)
        return [c.name for c in self.columns if c.name in present]


PRACTICES = TableSpec(
    name="practices",
    stem="practices",
    columns=(
        Column("practice_id", "id"),
        Column("practice_name", "text"),
        Column("tier", "text"),
        Column("baseline_pmpm", "number", required=False, min_value=0.0),
        Column("baseline_risk", "number", required=False, min_value=0.0),
        # effective-dated practices: the months a row is in force (empty: open-ended)
        Column("effective_from", "year_month", required=False, period_as="effective_from_period"),
        Column("effective_to", "year_month", required=False, period_as="effective_to_period"),
        # the payee, for accounts payable (payments.csv)
        Column("tax_id", "text", required=False),
        Column("npi", "text", required=False),
        Column("vendor_id", "text", required=False),
    ),
    unique=("practice_id", "effective_from"),  # effective_from: when the file has it
)

#: The payee columns a practices file may carry (written to a ledger batch's payments.csv).
PAYEE_COLUMNS = ("tax_id", "npi", "vendor_id")

#: The practices as the monthly CCF reads them: the settlement's baseline columns are not
#: read, so a problem in them never stops a month's fees.
PRACTICES_FOR_CCF = PRACTICES.without("baseline_pmpm", "baseline_risk")

ATTRIBUTION = TableSpec(
    name="attribution",
    stem="attribution",
    columns=(
        Column("member_id", "id"),
        Column("practice_id", "id"),
        Column("year_month", "year_month"),
        # optional: the member's segment in the month (Medicare's enrollment types, a plan's
        # lines of business), for budgets and settlements priced per segment
        Column("segment", "id", required=False),
    ),
)

#: Attribution as the monthly CCF reads it: the fee does not depend on the segment, so a
#: problem in that column never stops a month's fees.
ATTRIBUTION_FOR_CCF = ATTRIBUTION.without("segment")

CLAIMS = TableSpec(
    name="claims",
    stem="claims",
    columns=(
        Column("claim_id", "id"),
        Column("member_id", "id"),
        Column("claim_start_date", "date"),
        Column("paid_amount", "number", min_value=-1e9, max_value=1e9, decimals=4),
        # optional: the month a claim was paid, for the completion factor's chain ladder
        Column("paid_date", "date", required=False, period_as="paid_period"),
    ),
    folder=True,  # claims/2026-01.parquet, ...: one file per paid month is usual
)

#: Baselines per practice and segment (``totalcare budget`` writes them when the history
#: has more than one segment): a settlement that has them budgets each segment apart.
BASELINES = TableSpec(
    name="baselines",
    stem="baselines",
    columns=(
        Column("practice_id", "id"),
        Column("segment", "id"),
        Column("baseline_pmpm", "number", min_value=0.0),
        Column("baseline_risk", "number", min_value=0.0),
        Column("baseline_member_months", "number", required=False, min_value=0.0),
    ),
    unique=("practice_id", "segment"),
)

QUALITY = TableSpec(
    name="quality",
    stem="quality",
    columns=(
        Column("practice_id", "id"),
        Column("year", "year"),
        Column("quality_score", "number", min_value=0.0, max_value=1.0),
        Column("met_quality_gate", "flag"),
    ),
    unique=("practice_id", "year"),
)


def risk_scores_spec(member_id_column: str, score_column: str, max_score: float) -> TableSpec:
    """Risk files are vendor-shaped: the config names the two columns used; others are ignored."""
    return TableSpec(
        name="risk_scores",
        stem="risk_scores",
        columns=(
            Column(member_id_column, "id"),
            Column(score_column, "number", min_value=0.0, max_value=max_score),
        ),
        unique=(member_id_column,),
    )


# Practice-level summaries: actuaries' models and published settlements (e.g. Medicare's).
# A row needs a budget, or baseline_pmpm with member_months (and risk to adjust it).
PRACTICE_SUMMARY = TableSpec(
    name="practice_summary",
    stem="practice_summary",
    columns=(
        Column("practice_id", "id"),
        Column("practice_name", "text", required=False),
        Column("tier", "text", required=False),
        Column("member_months", "number", required=False, min_value=0.0),
        Column("population", "number", required=False, min_value=0.0),
        Column("budget", "number", required=False, min_value=0.0),
        Column("baseline_pmpm", "number", required=False, min_value=0.0),
        Column("avg_risk_score", "number", required=False, min_value=0.0),
        Column("baseline_risk", "number", required=False, min_value=0.0),
        Column("actual_cost", "number", min_value=0.0),
        Column("quality_score", "number", required=False, min_value=0.0, max_value=1.0),
        Column("met_quality_gate", "flag", required=False),
        Column("met_alternative_quality", "flag", required=False),
        Column("reduced_share_eligible", "flag", required=False),
        Column("msr", "number", required=False, min_value=0.0, max_value=1.0),
        Column("revenue", "number", required=False, min_value=0.0),
        Column("loss_limit", "number", required=False, min_value=0.0, max_value=1.0),
        Column("terminated_month", "number", required=False, min_value=0.0, max_value=12.0),
        Column("relief_share", "number", required=False, min_value=0.0, max_value=1.0),
        Column("loss_adjustment", "number", required=False),
    ),
    unique=("practice_id",),
)


def table_candidates(data_dir: Path, stem: str, *, folder: bool = False) -> list[Path]:
    """Where a data folder may hold a table: ``stem.parquet``, ``stem.csv`` and, for a
    table that may be a folder of Parquet files, ``stem/``."""
    found = [data_dir / f"{stem}{suffix}" for suffix in (".parquet", ".csv")]
    return [*found, data_dir / stem] if folder else found


def find_table(data_dir: Path, stem: str, *, folder: bool = False) -> Path:
    """The conventional file of a data folder: ``stem.parquet``, else ``stem.csv``, else
    (``folder``) the folder ``stem/``."""
    for candidate in table_candidates(data_dir, stem, folder=folder):
        if candidate.exists() if candidate.suffix else candidate.is_dir():
            return candidate
    return data_dir / f"{stem}.parquet"
