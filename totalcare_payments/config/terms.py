"""The program's terms, read from TOML and validated once at load.

One pydantic model per section of the config file; the TOML keys, these field
names, the output columns and the docs use the same words. Unknown keys, wrong
types and impossible values (negative fees, bands out of order, sharing rates
that could pass the program's ``max_share_rate``) fail at load with the key's
path and the reason.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from ..errors import ConfigError

Rate = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProgramTerms(_Section):
    """Who runs the program and its overall limits."""

    name: str
    max_share_rate: Rate = Field(
        description="Highest share of savings any practice can earn (0.50 = 50%)."
    )
    tiers: list[str] = Field(
        default=["Developing", "Established", "Advanced"],
        min_length=1,
        description="Practice performance tiers; every practice's tier must be one of these.",
    )
    segments: list[str] = Field(
        default_factory=list,
        description=(
            "The member segments the program prices apart (attribution's segment column: "
            "Medicare's esrd, disabled, aged_dual, aged_nondual; a plan's commercial_group, "
            "individual, medicare_advantage, ...). A segment not listed stops the run "
            "(UNKNOWN_SEGMENT); empty = whatever segments the files carry."
        ),
    )

    @model_validator(mode="after")
    def _distinct_segments(self) -> ProgramTerms:
        if any(not s.strip() or s != s.strip() for s in self.segments):
            raise ValueError("program.segments: a segment name is empty or has blanks around it")
        repeated = sorted({s for s in self.segments if self.segments.count(s) > 1})
        if repeated:
            raise ValueError(f"program.segments lists {repeated} more than once")
        return self


class RiskTerms(_Section):
    """How the vendor's member risk file is read and turned into average clinical risk."""

    member_id_column: str = "member_id"
    score_column: str = Field(description="The vendor score used, e.g. a prospective total score.")
    missing_score: Literal["default", "reject"] = Field(
        default="default",
        description="Members with no score get default_score (counted and reported) or fail the run.",
    )
    default_score: Positive = 1.0
    normalize: bool = Field(
        default=False,
        description=(
            "Rescale scores so the member-month-weighted mean over the period's whole "
            "attributed population is 1.0 (the month for a CCF batch, the year for a settlement)."
        ),
    )
    score_decimals: Annotated[int, Field(ge=1, le=8)] = Field(
        default=4, description="avg_risk_score is rounded half-up to this many places before use."
    )
    max_score: Positive = Field(
        default=100.0, description="Scores above this are out of range (a vendor file error)."
    )


class RateBand(_Section):
    min_avg_risk: NonNegative
    pmpm: NonNegative


class LinearRate(_Section):
    base_pmpm: NonNegative
    floor_pmpm: NonNegative = 0.0
    ceiling_pmpm: NonNegative | None = None

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> LinearRate:
        if self.ceiling_pmpm is not None and self.ceiling_pmpm < self.floor_pmpm:
            raise ValueError("ceiling_pmpm is below floor_pmpm")
        return self


class MemberTiers(_Section):
    """CPC+ style: each member's fee by the quantile of their own score in the month's population."""

    quantiles: list[Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(
        description="Cut points between member risk tiers, e.g. [0.25, 0.5, 0.75] for quartiles."
    )
    pmpm: list[NonNegative] = Field(
        description="Fee per member per month of each tier, lowest first."
    )

    @model_validator(mode="after")
    def _shape(self) -> MemberTiers:
        if sorted(self.quantiles) != list(self.quantiles) or len(set(self.quantiles)) != len(
            self.quantiles
        ):
            raise ValueError("quantiles must be strictly increasing")
        if len(self.pmpm) != len(self.quantiles) + 1:
            raise ValueError(
                f"pmpm needs one fee per tier: {len(self.quantiles) + 1} for "
                f"{len(self.quantiles)} quantile cut points, got {len(self.pmpm)}"
            )
        return self


class CcfTerms(_Section):
    """Care Coordination Fee: the monthly PMPM rate model."""

    rate_model: Literal["bands", "linear", "member_tiers"]
    bands: list[RateBand] | None = None
    linear: LinearRate | None = None
    member_tiers: MemberTiers | None = None
    tier_multipliers: dict[str, NonNegative] = Field(default_factory=dict)
    retro_months: Annotated[int, Field(ge=0, le=36)] = Field(
        default=0,
        description=(
            "The ledger's retroactive window: a batch posted for month M recomputes every "
            "month from M - retro_months to M from M's inputs and pays, per practice and "
            "month, the difference from everything posted for it before; differences in "
            "earlier months are reported, not paid."
        ),
    )

    @model_validator(mode="after")
    def _model_has_its_terms(self) -> CcfTerms:
        if getattr(self, self.rate_model) is None:
            raise ValueError(
                f"rate_model is '{self.rate_model}' but [ccf.{self.rate_model}] is missing"
            )
        if self.bands is not None:
            if not self.bands:
                raise ValueError("bands is empty")
            lows = [b.min_avg_risk for b in self.bands]
            if lows[0] != 0.0:
                raise ValueError("the first band must start at min_avg_risk = 0")
            if any(b <= a for a, b in itertools.pairwise(lows)):
                raise ValueError("bands are out of order: min_avg_risk must strictly increase")
        return self


class StopLoss(_Section):
    """Per-member annual cost truncation."""

    kind: Literal["none", "fixed", "percentile"] = "none"
    amount: Positive | None = None
    percentile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None

    @model_validator(mode="after")
    def _has_threshold(self) -> StopLoss:
        if self.kind == "fixed" and self.amount is None:
            raise ValueError("kind 'fixed' needs amount")
        if self.kind == "percentile" and self.percentile is None:
            raise ValueError("kind 'percentile' needs percentile (0.99 for the 99th)")
        return self


class MsrBand(_Section):
    """One band of a minimum-savings-rate table, linear between its ends."""

    min_population: NonNegative
    max_population: NonNegative
    msr_at_min: Rate
    msr_at_max: Rate

    @model_validator(mode="after")
    def _ordered(self) -> MsrBand:
        if self.max_population < self.min_population:
            raise ValueError("max_population is below min_population")
        return self


class MsrTerms(_Section):
    """Minimum savings rate: fixed, a table by population size (person-years), each
    practice's own, or each practice's choice between fixed rates and the table."""

    kind: Literal["fixed", "table", "assigned", "choice"] = Field(
        default="fixed",
        description=(
            "fixed: one rate for all; table: by population size; assigned: each practice's "
            "own rate, from the msr column of a practice-level summary; choice: each "
            "practice chose one of the fixed rates in choices (its msr column) or the table "
            "(a blank msr), and practices smaller than table_below_population get the table "
            "whatever they chose."
        ),
    )
    rate: Rate = 0.0
    table: list[MsrBand] | None = None
    choices: list[Rate] = Field(
        default_factory=list,
        description="kind 'choice': the fixed rates a practice may choose, e.g. 0 to 2% in 0.5% steps.",
    )
    table_below_population: NonNegative | None = Field(
        default=None,
        description=(
            "kind 'choice': practices with a population (person-years) below this get the "
            "table's rate, whatever they chose (Medicare: 5,000 assigned beneficiaries)."
        ),
    )
    sharing: Literal["first_dollar", "net"] = Field(
        default="first_dollar",
        description="Share all savings once the MSR is met, or only the savings above the MSR.",
    )

    @model_validator(mode="after")
    def _table(self) -> MsrTerms:
        if self.kind in ("table", "choice"):
            if not self.table:
                raise ValueError(f"kind '{self.kind}' needs [[settlement.msr.table]] bands")
            for a, b in zip(self.table, self.table[1:], strict=False):
                if b.min_population < a.max_population:
                    raise ValueError("msr table bands overlap or are out of order")
        if self.kind == "choice" and not self.choices:
            raise ValueError("kind 'choice' needs the fixed rates a practice may choose (choices)")
        return self


StandardSharing = Literal["sliding_scale", "full_rate"]


class QualityTerms(_Section):
    """How quality decides the share: the standard (met_quality_gate and min_score) and an
    optional alternative standard (met_alternative_quality) for practices that miss it."""

    gate: bool = Field(
        default=True, description="No share when the practice's met_quality_gate is false."
    )
    min_score: Rate = Field(default=0.0, description="No share when quality_score is below this.")
    standard_sharing: StandardSharing = Field(
        default="sliding_scale",
        description=(
            "The share of a practice that meets the quality standard. sliding_scale: "
            "savings_share_rate + quality_share_rate x quality_score; full_rate: the tier's "
            "full rate, savings_share_rate + quality_share_rate (the score only gates it)."
        ),
    )
    standard_sharing_by_year: dict[str, StandardSharing] = Field(
        default_factory=dict, description="Overrides standard_sharing for the years listed."
    )
    alternative_sharing: Literal["none", "sliding_scale"] = Field(
        default="none",
        description=(
            "The share of a practice that misses the quality standard but meets the "
            "alternative one (met_alternative_quality). none: nothing; sliding_scale: "
            "savings_share_rate + quality_share_rate x quality_score."
        ),
    )

    def standard_sharing_for(self, year: int) -> StandardSharing:
        return self.standard_sharing_by_year.get(str(year), self.standard_sharing)


class SharingTerms(_Section):
    """share_rate = savings_share_rate[tier] + quality_share_rate[tier] x quality_score, capped."""

    savings_share_rate: dict[str, Rate] = Field(default_factory=dict)
    quality_share_rate: dict[str, Rate] = Field(default_factory=dict)
    below_msr_share: Rate = Field(
        default=0.0,
        description=(
            "Reduced sharing below the MSR: a practice flagged reduced_share_eligible whose "
            "savings are positive but below its MSR shares all of them at this fraction of "
            "its share_rate (0.5 = half the rate); 0: nothing below the MSR."
        ),
    )


class LossTerms(_Section):
    """Two-sided risk: losses past the minimum loss rate are billed."""

    enabled: bool = False
    min_loss_rate: Rate | Literal["msr"] = Field(
        default=0.0, description='A rate, or "msr" for the same rate as the practice\'s MSR.'
    )
    loss_rate: Rate | Literal["one_minus_share_rate", "one_minus_rate_times_quality"] = Field(
        default=0.0,
        description=(
            "Share of a loss the practice owes: a flat rate; one_minus_share_rate: 1 - its "
            "share_rate; one_minus_rate_times_quality: 1 - (savings_share_rate + "
            "quality_share_rate x quality_score), the sliding-scale rate whatever the practice "
            "shares, counted as 0 when it met neither quality standard. Both formulas are kept "
            "within [loss_rate_floor, loss_rate_ceiling]."
        ),
    )
    loss_rate_floor: Rate = 0.0
    loss_rate_ceiling: Rate = 1.0
    loss_limit: Rate = Field(
        default=1.0, description="Most a practice can owe, as a share of budget."
    )
    loss_limit_by_tier: dict[str, Rate] = Field(
        default_factory=dict, description="Overrides loss_limit for the tiers listed."
    )
    revenue_loss_limit: Rate | None = Field(
        default=None,
        description=(
            "Most a practice can owe as a share of its revenue (the summary's revenue column, "
            "e.g. its providers' fee-for-service revenue): the loss limit is then the lower of "
            "this x revenue and loss_limit x budget. A practice without a revenue figure is "
            "held to loss_limit x budget only. None: no revenue-based limit."
        ),
    )
    revenue_loss_limit_by_tier: dict[str, Rate] = Field(
        default_factory=dict, description="Overrides revenue_loss_limit for the tiers listed."
    )
    relief_share: Rate = Field(
        default=0.0,
        description=(
            "Relief for extreme and uncontrollable circumstances: the share of each practice's "
            "shared loss (after the loss limit and any pro-rating for a termination) that is "
            "forgiven (1.0 = all of it). A practice's own relief_share column overrides it; "
            "its loss_adjustment (dollars, negative) applies after it."
        ),
    )
    relief_share_by_year: dict[str, Rate] = Field(
        default_factory=dict, description="Overrides relief_share for the years listed."
    )

    @model_validator(mode="after")
    def _floor(self) -> LossTerms:
        if self.loss_rate_ceiling < self.loss_rate_floor:
            raise ValueError("loss_rate_ceiling is below loss_rate_floor")
        return self

    def relief_share_for(self, year: int) -> float:
        return self.relief_share_by_year.get(str(year), self.relief_share)


class TerminationTerms(_Section):
    """A practice whose participation ended during the year (the summary's terminated_month)."""

    earns_savings: bool = Field(
        default=False,
        description="Whether a practice that ended its participation during the year shares savings.",
    )
    losses_waived_through_month: Annotated[int, Field(ge=0, le=12)] = Field(
        default=0,
        description=(
            "A practice whose participation ended in or before this month owes no shared "
            "losses (6: ended by June 30); one that ended later owes its shared losses x "
            "terminated_month / 12 (the months it took part, the month it ended included)."
        ),
    )


class CompletionTerms(_Section):
    """How the settlement's completion factor is chosen: the fixed ``completion_factor``,
    or estimated from the claims' own paid dates by the chain ladder."""

    method: Literal["fixed", "chain_ladder"] = Field(
        default="fixed",
        description=(
            'The completion factor: "fixed" uses settlement.completion_factor as written; '
            '"chain_ladder" estimates it from the claims\' paid dates (claims need a '
            "paid_date column): a volume-weighted chain ladder of the incurred-month x "
            "paid-lag triangle of every claim paid by the end of the runout, and the "
            "factor = the year's estimated ultimate / the year's claims paid by then "
            "(docs/methodology.md, Completion factor). settlement.completion_factor is "
            "then not used, and claims paid after the runout are excluded (PAID_AFTER_RUNOUT)."
        ),
    )
    runout_months: Annotated[int, Field(ge=0, le=36)] = Field(
        default=3,
        description=(
            "Chain ladder: the months of payments after the year's end that the settlement "
            "counts (3: claims paid by March 31 of the next year)."
        ),
    )


class SettlementTerms(_Section):
    """Year-end shared savings: every step of the waterfall."""

    baseline_year: int = Field(ge=1990, le=2200)
    annual_trend: Annotated[float, Field(ge=-0.5, le=1.0)] = 0.0
    risk_ratio_min: Positive | None = None
    risk_ratio_max: Positive | None = None
    stop_loss: StopLoss = StopLoss()
    completion_factor: Annotated[float, Field(ge=1.0, le=2.0)] = Field(
        default=1.0,
        description=(
            "The gross-up of claims paid for claims incurred but not yet paid (IBNR), as a "
            'fixed number; used when completion.method is "fixed" (the default).'
        ),
    )
    completion: CompletionTerms = CompletionTerms()
    ccf_counts_as_cost: bool = False
    msr: MsrTerms = MsrTerms()
    quality: QualityTerms = QualityTerms()
    sharing: SharingTerms
    payment_reduction: Rate = Field(
        default=0.0, description="Share withheld from earned savings (Medicare's 2% sequestration)."
    )
    payment_reduction_by_year: dict[str, Rate] = Field(
        default_factory=dict, description="Overrides payment_reduction for the years listed."
    )
    annual_trend_by_segment: dict[str, Annotated[float, Field(ge=-0.5, le=1.0)]] = Field(
        default_factory=dict,
        description=(
            "Overrides annual_trend for the segments listed, when the settlement budgets "
            "each segment from a baselines table (CMS's update factor by enrollment type)."
        ),
    )
    payment_limit: Rate = Field(
        default=1.0, description="Most a practice can earn, as a share of its budget."
    )
    losses: LossTerms = LossTerms()
    termination: TerminationTerms = TerminationTerms()

    @model_validator(mode="after")
    def _risk_bounds(self) -> SettlementTerms:
        if (
            self.risk_ratio_min is not None
            and self.risk_ratio_max is not None
            and self.risk_ratio_max < self.risk_ratio_min
        ):
            raise ValueError("risk_ratio_max is below risk_ratio_min")
        return self

    def payment_reduction_for(self, year: int) -> float:
        return self.payment_reduction_by_year.get(str(year), self.payment_reduction)


class BudgetTerms(_Section):
    """Budgets from history (``totalcare budget``): each practice's baseline per-capita cost
    and risk built from baseline years of member-level data. Stop-loss and completion are
    [settlement]'s; the settlement's ``baseline_year`` is the last baseline year."""

    year_weights: dict[str, NonNegative] = Field(
        default_factory=dict,
        description='Weight of each baseline year, e.g. {"2023" = 0.1, "2024" = 0.3, "2025" = 0.6}; '
        "scaled to sum to 1; empty = equal weights.",
    )
    annual_trend: Annotated[float, Field(ge=-0.5, le=1.0)] = Field(
        default=0.0,
        description="Yearly trend bringing each baseline year to the last: (1 + rate) ^ years.",
    )
    trend_factors: dict[str, Positive] = Field(
        default_factory=dict,
        description="Instead of annual_trend: the factor bringing each baseline year to the "
        "last, by year (the last is 1).",
    )
    trend_factors_by_segment: dict[str, dict[str, Positive]] = Field(
        default_factory=dict,
        description="Overrides trend_factors (or annual_trend) for the segments listed: by "
        'segment, the factor of each baseline year, e.g. {esrd = {"2023" = 1.09, "2024" = 1.04}}.',
    )
    reference_pmpm: Positive | None = Field(
        default=None,
        description="A reference population's cost PMPM at risk 1.0 to blend with (CMS's "
        "regional adjustment); none = no blend.",
    )
    blend_weight_below: Rate = Field(
        default=0.0, description="Blend weight when the practice spends below the reference."
    )
    blend_weight_above: Rate = Field(
        default=0.0, description="Blend weight when the practice spends above the reference."
    )
    blend_cap_pmpm: Positive | None = Field(
        default=None, description="Most the blend moves a baseline PMPM, either way (dollars)."
    )


IdNormalization = Literal["strip_leading_zeros", "uppercase"]


class ColumnFormat(_Section):
    """How one column of an input file is written, where it is not the contract's default.

    Declared per file and column (``[inputs.claims] claim_start_date = { format =
    "%m/%d/%Y" }``): a value is read by the declaration or rejected with the format it was
    expected in. Nothing is guessed: a value that two declared formats read differently is
    rejected as ambiguous.
    """

    format: str | list[str] | None = Field(
        default=None,
        description="Dates and months: the strptime format(s) the values are written in, e.g. "
        "'%m/%d/%Y', '%m/%d/%y', '%Y%m' or ['%Y-%m-%d', '%m/%d/%Y'] for a file that mixes two. "
        "Default: YYYY-MM-DD for dates, YYYY-MM for months.",
    )
    thousands: str | None = Field(
        default=None,
        description="Numbers: the thousands separator written in them, removed before reading "
        "('1,234.56' with thousands = ',').",
    )
    currency: str | None = Field(
        default=None,
        description="Numbers: a currency sign written before or after them, removed before "
        "reading ('$1,234.56' with currency = '$').",
    )
    percent: bool = Field(
        default=False,
        description="Numbers: the values are percentages (74.34 or '74.34%' means 0.7434).",
    )
    ids: list[IdNormalization] = Field(
        default_factory=list,
        description="Identifiers: how to normalize them before they are matched across files: "
        "'strip_leading_zeros' ('00100000000' is '100000000'), 'uppercase' ('p0001' is 'P0001').",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ColumnFormat:
        formats = [self.format] if isinstance(self.format, str) else list(self.format or [])
        if any(not f or "%" not in f for f in formats):
            raise ValueError(f"format {self.format!r} is not a strptime format such as '%m/%d/%Y'")
        if self.thousands is not None and self.thousands in ("", "."):
            raise ValueError("thousands must be a separator such as ',' or ' ' (not '.' or empty)")
        return self

    @property
    def formats(self) -> list[str]:
        return [self.format] if isinstance(self.format, str) else list(self.format or [])


#: The input files a program reads, by table name, as ``[inputs.<table>]`` sections name them.
INPUT_TABLES = ("practices", "baselines", "attribution", "risk_scores", "claims", "quality")


class InputFormats(_Section):
    """``[inputs.<table>]``: how each input file's columns are written, where they differ
    from the contract (dates, months, money, percentages, identifiers)."""

    practices: dict[str, ColumnFormat] = Field(default_factory=dict)
    baselines: dict[str, ColumnFormat] = Field(default_factory=dict)
    attribution: dict[str, ColumnFormat] = Field(default_factory=dict)
    risk_scores: dict[str, ColumnFormat] = Field(default_factory=dict)
    claims: dict[str, ColumnFormat] = Field(default_factory=dict)
    quality: dict[str, ColumnFormat] = Field(default_factory=dict)

    def of(self, table: str) -> dict[str, ColumnFormat]:
        """The declared formats of one table's columns (none for a table not listed)."""
        formats: dict[str, ColumnFormat] = getattr(self, table, {})
        return formats


class CheckTerms(_Section):
    """``[checks]``: the data-quality gates every run that reads member-level data passes
    before it pays anything. A gate that fails stops the run (exit 2) naming the file, what
    it saw and the limit; nothing is written.

    A limit looser than its default needs its reason, in ``[checks.relaxed]`` under the
    same key (``max_rejected_share = 0.02`` with ``[checks.relaxed] max_rejected_share =
    "vendor resends scores monthly"``); the manifest records it with the gate.
    """

    min_table_rows: Annotated[int, Field(ge=0)] = Field(
        default=1,
        description=(
            "The fewest rows each input table the run reads must have left after its "
            "checks: an empty or header-only file, or one whose every row was rejected, "
            "stops the run (EMPTY_TABLE)."
        ),
    )
    max_rejected_share: Rate = Field(
        default=0.001,
        description=(
            "The largest share of an input table's rows that may be rejected (0.001 = 0.1%); "
            "beyond it the file is not trusted to pay from (TOO_MANY_REJECTED). --strict "
            "allows no rejected row at all."
        ),
    )
    max_unscored_share: Rate = Field(
        default=0.05,
        description=(
            "The largest share of the run's attributed members that may have no risk score "
            "and be paid at risk.default_score (TOO_MANY_UNSCORED)."
        ),
    )
    min_members_in_risk_scores: Rate = Field(
        default=0.5,
        description=(
            "The smallest share of the run's attributed members whose member id the risk "
            "score file must have: below it the two files' ids do not match, and the "
            "message shows ids that almost match (MEMBER_IDS_NOT_MATCHED)."
        ),
    )
    min_members_in_claims: Rate = Field(
        default=0.5,
        description=(
            "The smallest share of the year's attributed members with at least one claim "
            "line, whatever its date: below it the files' ids do not match "
            "(MEMBER_IDS_NOT_MATCHED). Settlement only."
        ),
    )
    max_claims_outside_period_share: Rate = Field(
        default=0.10,
        description=(
            "The largest share of claim lines whose service month is outside the year "
            "settled: beyond it the extract is of the wrong year (CLAIMS_OUTSIDE_PERIOD). "
            "Settlement only."
        ),
    )
    max_months_without_claims: Annotated[int, Field(ge=0, le=12)] = Field(
        default=0,
        description=(
            "How many months of the year settled may have attributed member-months but "
            "no claim line at all (PERIOD_NOT_COVERED). Settlement only."
        ),
    )
    max_practices_without_claims: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description=(
            "How many practices with attributed member-months in the year may have no paid "
            "claims (net $0.00): such a practice would show its whole budget as savings "
            "(PRACTICE_WITHOUT_CLAIMS). Settlement only."
        ),
    )
    relaxed: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Why a limit is looser than its default, by the limit's key: required for "
            "every loosened limit, recorded in the manifest's gates."
        ),
    )

    @classmethod
    def gate_keys(cls) -> list[str]:
        """The keys of the gates' limits, in the order the gates run."""
        return [name for name in cls.model_fields if name != "relaxed"]

    def limit(self, key: str) -> float:
        value: float = getattr(self, key)
        return value

    def is_loosened(self, key: str) -> bool:
        """Whether a limit lets more through than its default (lower for ``min_``, higher
        for ``max_``)."""
        default = type(self).model_fields[key].default
        value = self.limit(key)
        return value < default if key.startswith("min_") else value > default

    @model_validator(mode="after")
    def _relaxed_with_reasons(self) -> CheckTerms:
        keys = self.gate_keys()
        for key, reason in self.relaxed.items():
            if key not in keys:
                raise ValueError(
                    f"checks.relaxed.{key}: not a gate's limit (the limits: {', '.join(keys)})"
                )
            if not reason.strip():
                raise ValueError(f"checks.relaxed.{key}: the reason is empty")
            if not self.is_loosened(key):
                raise ValueError(
                    f"checks.relaxed.{key} gives a reason, but checks.{key} = {self.limit(key):g} "
                    f"is not looser than its default {type(self).model_fields[key].default:g}"
                )
        for key in keys:
            if self.is_loosened(key) and key not in self.relaxed:
                raise ValueError(
                    f"checks.{key} = {self.limit(key):g} is looser than its default "
                    f"{type(self).model_fields[key].default:g}: say why in [checks.relaxed] "
                    f'{key} = "..." (the reason is recorded in the manifest)'
                )
        return self


class LedgerTerms(_Section):
    """Where the payment ledger is: a SQLite file or a PostgreSQL URL (``--ledger`` and the
    environment variable ``TOTALCARE_LEDGER`` come first)."""

    url: str | None = Field(
        default=None,
        description="A SQLite file (ledger.sqlite, sqlite:///path) or postgresql://user@host/db.",
    )


class ProgramConfig(_Section):
    """A whole program: a config file, or a shipped preset (``presets/*.toml``), is one of these."""

    program: ProgramTerms
    risk: RiskTerms | None = None
    ccf: CcfTerms | None = None
    settlement: SettlementTerms | None = None
    budget: BudgetTerms | None = None
    ledger: LedgerTerms = Field(default_factory=LedgerTerms)
    inputs: InputFormats = Field(
        default_factory=InputFormats,
        description="How the input files' columns are written, where not as the contract says.",
    )
    checks: CheckTerms = Field(
        default=CheckTerms(),
        description="The data-quality gates a run passes before it pays: limits, and why any is relaxed.",
    )
    _source: str = PrivateAttr(default="<in memory>")
    _sha256: str = PrivateAttr(default="")

    def remember_source(self, source: str, sha256: str) -> None:
        """Where the config was read from and the sha256 of its bytes (set by ``load_config``)."""
        self._source, self._sha256 = source, sha256

    @property
    def source(self) -> str:
        """The file or preset the config was read from (``<in memory>`` for one built in code)."""
        return self._source

    @property
    def sha256(self) -> str:
        """sha256 of the bytes the config was read from; of its canonical JSON when built in code."""
        return self._sha256 or hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    @model_validator(mode="after")
    def _consistent(self) -> ProgramConfig:
        tiers = set(self.program.tiers)
        named: dict[str, dict[str, float]] = {}
        if self.ccf is not None:
            named["ccf.tier_multipliers"] = self.ccf.tier_multipliers
        if self.settlement is not None:
            sharing = self.settlement.sharing
            named["settlement.sharing.savings_share_rate"] = sharing.savings_share_rate
            named["settlement.sharing.quality_share_rate"] = sharing.quality_share_rate
            losses = self.settlement.losses
            named["settlement.losses.loss_limit_by_tier"] = losses.loss_limit_by_tier
            named["settlement.losses.revenue_loss_limit_by_tier"] = (
                losses.revenue_loss_limit_by_tier
            )
        for key, table in named.items():
            unknown = sorted(set(table) - tiers)
            if unknown:
                raise ValueError(
                    f"{key} names tiers {unknown} that are not in program.tiers {sorted(tiers)}"
                )
        # every tier's own terms are written out: a tier left out is not paid a silent
        # default (a multiplier of 1.0, a share of 0%)
        per_tier = [k for k in named if not k.endswith("_by_tier")]
        for key in per_tier:
            missing = [tier for tier in self.program.tiers if tier not in named[key]]
            if missing:
                raise ValueError(
                    f"{key} has no value for tier(s) {', '.join(repr(t) for t in missing)}: "
                    f"every tier of program.tiers {list(self.program.tiers)} needs one"
                )
        listed = set(self.program.segments)
        by_segment: dict[str, set[str]] = {
            "settlement.annual_trend_by_segment": set(
                self.settlement.annual_trend_by_segment if self.settlement else ()
            ),
            "budget.trend_factors_by_segment": set(
                self.budget.trend_factors_by_segment if self.budget else ()
            ),
        }
        for key, names in by_segment.items():
            unknown = sorted(names - listed)
            if listed and unknown:
                raise ValueError(
                    f"{key} names segments {unknown} that are not in program.segments "
                    f"{sorted(listed)}"
                )
        cap = self.program.max_share_rate
        for tier in self.program.tiers:
            best = self.share_rate_ceiling(tier)
            if best > cap + 1e-12:
                raise ValueError(
                    f"tier '{tier}' could earn a share_rate of {best:.4f} "
                    f"(savings_share_rate + quality_share_rate), above program.max_share_rate {cap}"
                )
        return self

    def share_rate_ceiling(self, tier: str) -> float:
        if self.settlement is None:
            return 0.0
        sharing = self.settlement.sharing
        return sharing.savings_share_rate.get(tier, 0.0) + sharing.quality_share_rate.get(tier, 0.0)

    def require_ccf(self) -> tuple[RiskTerms, CcfTerms]:
        if self.risk is None or self.ccf is None:
            raise ConfigError(
                f"program '{self.program.name}' has no [risk] and [ccf] sections: "
                "it defines no Care Coordination Fee"
            )
        return self.risk, self.ccf

    def require_settlement(self) -> SettlementTerms:
        if self.settlement is None:
            raise ConfigError(
                f"program '{self.program.name}' has no [settlement] section: it defines no shared savings"
            )
        return self.settlement
