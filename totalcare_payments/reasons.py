"""Reason codes: the one list of why a row, a file or a payment is what it is.

Every check, output file, console message, document and test names reasons through
this Enum; a code's text is its name, so files and messages carry plain strings
(``Reason.PAID == "PAID"``). Each code has a kind and a meaning:

* ``rejected``: an input row whose content is wrong (written to ``rejects.csv``);
* ``excluded``: a valid input row outside the run (counted in the manifest);
* ``input``: a whole file, column or the program as a whole cannot give a payment;
* ``outcome``: why a practice's settlement payment is what it is (``settlement.csv``);
* ``reference``: a published Medicare file that does not read as its year's layout;
* ``adjustment``: why a ledger batch pays a member-month again, less or more than was
  posted before (``roster.csv``; the retroactive window of ``ccf.retro_months``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

ReasonKind = Literal["rejected", "excluded", "input", "outcome", "reference", "adjustment"]


class Reason(StrEnum):
    """A reason code; ``kind`` and ``meaning`` say what it stands for."""

    # rows rejected for their content
    WRONG_DATATYPE = "WRONG_DATATYPE"
    NULL_KEY = "NULL_KEY"
    NULL_VALUE = "NULL_VALUE"
    NON_FINITE = "NON_FINITE"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    TOO_MANY_DECIMALS = "TOO_MANY_DECIMALS"
    DUPLICATE_KEY = "DUPLICATE_KEY"
    DUPLICATE_CLAIM_ID = "DUPLICATE_CLAIM_ID"
    DUPLICATE_MEMBER_MONTH = "DUPLICATE_MEMBER_MONTH"
    CONFLICTING_ATTRIBUTION = "CONFLICTING_ATTRIBUTION"
    UNKNOWN_PRACTICE = "UNKNOWN_PRACTICE"
    UNKNOWN_TIER = "UNKNOWN_TIER"
    UNKNOWN_SEGMENT = "UNKNOWN_SEGMENT"
    PAID_BEFORE_SERVICE = "PAID_BEFORE_SERVICE"
    OVERLAPPING_DATES = "OVERLAPPING_DATES"
    # valid rows outside the run
    OUTSIDE_PERIOD = "OUTSIDE_PERIOD"
    NOT_ATTRIBUTED = "NOT_ATTRIBUTED"
    PAID_AFTER_RUNOUT = "PAID_AFTER_RUNOUT"
    # whole files and the program
    MISSING_FILE = "MISSING_FILE"
    TWO_FORMATS = "TWO_FORMATS"
    MIXED_SCHEMAS = "MIXED_SCHEMAS"
    MISSING_COLUMN = "MISSING_COLUMN"
    UNREADABLE = "UNREADABLE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    INVALID = "INVALID"
    MISSING_SCORE = "MISSING_SCORE"
    MONTH_NOT_IN_DATA = "MONTH_NOT_IN_DATA"
    NO_MEMBER_MONTHS = "NO_MEMBER_MONTHS"
    NO_COMPLETION_ESTIMATE = "NO_COMPLETION_ESTIMATE"
    NO_BASELINE = "NO_BASELINE"
    # data-quality gates ([checks]): the inputs as a whole cannot be trusted to pay from
    EMPTY_TABLE = "EMPTY_TABLE"
    TOO_MANY_REJECTED = "TOO_MANY_REJECTED"
    TOO_MANY_UNSCORED = "TOO_MANY_UNSCORED"
    MEMBER_IDS_NOT_MATCHED = "MEMBER_IDS_NOT_MATCHED"
    CLAIMS_OUTSIDE_PERIOD = "CLAIMS_OUTSIDE_PERIOD"
    PERIOD_NOT_COVERED = "PERIOD_NOT_COVERED"
    PRACTICE_WITHOUT_CLAIMS = "PRACTICE_WITHOUT_CLAIMS"
    # settlement outcomes
    PAID = "PAID"
    CAPPED = "CAPPED"
    BELOW_MSR = "BELOW_MSR"
    NO_SAVINGS = "NO_SAVINGS"
    QUALITY_GATE = "QUALITY_GATE"
    NO_SHARE_RATE = "NO_SHARE_RATE"
    LOSS = "LOSS"
    LOSS_CAPPED = "LOSS_CAPPED"
    TERMINATED = "TERMINATED"
    PAID_BELOW_MSR = "PAID_BELOW_MSR"
    # published Medicare files
    UNSUPPORTED_YEAR = "UNSUPPORTED_YEAR"
    UNEXPECTED_LAYOUT = "UNEXPECTED_LAYOUT"
    TRACK_FLAGS = "TRACK_FLAGS"
    TRACK_LABEL = "TRACK_LABEL"
    NOT_A_NUMBER = "NOT_A_NUMBER"
    NON_POSITIVE_BENCHMARK = "NON_POSITIVE_BENCHMARK"
    DUPLICATE_ID = "DUPLICATE_ID"
    REVENUE_NOT_PUBLISHED = "REVENUE_NOT_PUBLISHED"
    # ledger adjustments: why a member-month is paid again, less or more
    ADDED = "ADDED"
    # (TERMINATED, above, also names a member-month whose member left the program)
    MOVED_IN = "MOVED_IN"
    MOVED_OUT = "MOVED_OUT"
    SCORE_CHANGED = "SCORE_CHANGED"
    RATE_CHANGED = "RATE_CHANGED"
    TIER_CHANGED = "TIER_CHANGED"
    VOIDED = "VOIDED"

    @property
    def kind(self) -> ReasonKind:
        return _DESCRIPTIONS[self][0]

    @property
    def meaning(self) -> str:
        return _DESCRIPTIONS[self][1]


def roster_reasons() -> dict[Reason, str]:
    """Why a ledger batch pays a member-month again (``roster.csv``, ``payment_lines.csv``),
    with each code's meaning there: the ``adjustment`` codes, and TERMINATED (in a
    settlement, an outcome) for a member-month whose member is attributed nowhere now."""
    codes = {reason: reason.meaning for reason in reasons_of("adjustment")}
    codes[Reason.TERMINATED] = (
        "a member-month paid before that the latest inputs attribute to no practice"
    )
    order = [Reason.ADDED, Reason.TERMINATED]
    return {r: codes[r] for r in order} | {r: m for r, m in codes.items() if r not in order}


def reasons_of(kind: ReasonKind) -> list[Reason]:
    """The codes of one kind, in the Enum's order."""
    return [reason for reason in Reason if reason.kind == kind]


_DESCRIPTIONS: dict[Reason, tuple[ReasonKind, str]] = {
    Reason.WRONG_DATATYPE: ("rejected", "a value that is not of the column's type"),
    Reason.NULL_KEY: ("rejected", "an empty identifier"),
    Reason.NULL_VALUE: ("rejected", "an empty required value"),
    Reason.NON_FINITE: ("rejected", "a number that is NaN or infinite"),
    Reason.OUT_OF_RANGE: ("rejected", "a number or date outside the column's bounds"),
    Reason.TOO_MANY_DECIMALS: (
        "rejected",
        "an amount finer than a hundredth of a cent (a fifth or sixth decimal place)",
    ),
    Reason.DUPLICATE_KEY: ("rejected", "a second row for the same key"),
    Reason.DUPLICATE_CLAIM_ID: (
        "rejected",
        "a claim_id repeated with the same amount sign (one payment and one reversal allowed)",
    ),
    Reason.DUPLICATE_MEMBER_MONTH: ("rejected", "a member-month repeated at the same practice"),
    Reason.CONFLICTING_ATTRIBUTION: (
        "rejected",
        "a member attributed to two or more practices in one month (every row of it)",
    ),
    Reason.UNKNOWN_PRACTICE: ("rejected", "a practice_id that is not in practices"),
    Reason.UNKNOWN_TIER: ("rejected", "a tier that is not one of the config's program.tiers"),
    Reason.UNKNOWN_SEGMENT: (
        "rejected",
        "a segment that is not one of the config's program.segments",
    ),
    Reason.PAID_BEFORE_SERVICE: (
        "rejected",
        "a claim whose paid_date is in a month before its claim_start_date's",
    ),
    Reason.OVERLAPPING_DATES: (
        "rejected",
        "a practice whose effective-dated rows overlap (two rows in force in one month), "
        "every row of it",
    ),
    Reason.OUTSIDE_PERIOD: ("excluded", "a row of a month or year outside the run"),
    Reason.PAID_AFTER_RUNOUT: (
        "excluded",
        "a claim paid after the settlement's runout (the chain-ladder completion factor)",
    ),
    Reason.NOT_ATTRIBUTED: (
        "excluded",
        "a row of a member or practice not attributed in the run's months",
    ),
    Reason.MISSING_FILE: ("input", "an input file that is not there"),
    Reason.TWO_FORMATS: (
        "input",
        "a table found in the data folder as both .parquet and .csv (or claims also as a "
        "claims/ folder): which one is right?",
    ),
    Reason.MIXED_SCHEMAS: (
        "input",
        "a file of a folder read as one table whose columns or column types differ from the "
        "first file's",
    ),
    Reason.MISSING_COLUMN: ("input", "a required column that the file does not have"),
    Reason.UNREADABLE: ("input", "a file that cannot be read as its format"),
    Reason.UNSUPPORTED_FORMAT: ("input", "a file that is neither Parquet nor CSV"),
    Reason.INVALID: ("input", "a request that cannot be carried out as given"),
    Reason.MISSING_SCORE: (
        "input",
        "attributed members without a risk score, where the config rejects missing scores",
    ),
    Reason.MONTH_NOT_IN_DATA: ("input", "a month to pay that the attribution file does not cover"),
    Reason.NO_MEMBER_MONTHS: ("input", "a year to settle without attributed member-months"),
    Reason.NO_COMPLETION_ESTIMATE: (
        "input",
        "claims whose paid dates cannot give a chain-ladder completion factor (a lag with "
        "nothing paid before it, or nothing paid in the year)",
    ),
    Reason.NO_BASELINE: (
        "input",
        "a practice and segment with member-months in the year settled and no row in the "
        "baselines table to budget them from",
    ),
    Reason.EMPTY_TABLE: (
        "input",
        "an input table with fewer rows left after its checks than checks.min_table_rows "
        "(an empty or header-only file, or one whose every row was rejected)",
    ),
    Reason.TOO_MANY_REJECTED: (
        "input",
        "an input table with a larger share of rejected rows than checks.max_rejected_share",
    ),
    Reason.TOO_MANY_UNSCORED: (
        "input",
        "a larger share of the run's attributed members without a risk score than "
        "checks.max_unscored_share",
    ),
    Reason.MEMBER_IDS_NOT_MATCHED: (
        "input",
        "a smaller share of the run's attributed members found in the risk scores or the "
        "claims than checks.min_members_in_risk_scores or checks.min_members_in_claims: "
        "the files' member ids do not match (the message shows ids that almost match)",
    ),
    Reason.CLAIMS_OUTSIDE_PERIOD: (
        "input",
        "a larger share of claim lines with a service month outside the year settled than "
        "checks.max_claims_outside_period_share (a claims extract of the wrong year)",
    ),
    Reason.PERIOD_NOT_COVERED: (
        "input",
        "more months of the year with attributed member-months but no claim lines than "
        "checks.max_months_without_claims",
    ),
    Reason.PRACTICE_WITHOUT_CLAIMS: (
        "input",
        "more practices with attributed member-months but no paid claims in the year than "
        "checks.max_practices_without_claims",
    ),
    Reason.PAID: ("outcome", "savings met the MSR and the share was paid"),
    Reason.CAPPED: ("outcome", "paid, limited by the performance payment limit"),
    Reason.BELOW_MSR: ("outcome", "savings, but the savings rate is below the MSR"),
    Reason.NO_SAVINGS: ("outcome", "no savings (and no loss past the minimum loss rate)"),
    Reason.QUALITY_GATE: ("outcome", "savings met the MSR, but the quality standard was missed"),
    Reason.NO_SHARE_RATE: (
        "outcome",
        "savings met the MSR and the quality standard, but the share rate (after any "
        "payment reduction) is 0",
    ),
    Reason.LOSS: ("outcome", "loss past the minimum loss rate, billed at the loss rate"),
    Reason.LOSS_CAPPED: ("outcome", "loss billed, limited by the loss limit"),
    Reason.TERMINATED: (
        "outcome",
        "savings met the MSR and the quality standard, but the practice's participation "
        "ended during the year: no shared savings",
    ),
    Reason.PAID_BELOW_MSR: (
        "outcome",
        "savings below the MSR, shared at the reduced rate (below_msr_share) of an "
        "eligible practice",
    ),
    Reason.UNSUPPORTED_YEAR: ("reference", "a performance year without a reader of its layout"),
    Reason.UNEXPECTED_LAYOUT: ("reference", "a file whose columns do not add up as its year's do"),
    Reason.TRACK_FLAGS: ("reference", "an ACO whose track flags name no track or several"),
    Reason.TRACK_LABEL: (
        "reference",
        "an ACO whose track label names no known track, or disagrees with its risk model",
    ),
    Reason.NOT_A_NUMBER: ("reference", "a value of a numeric column that is not a number"),
    Reason.NON_POSITIVE_BENCHMARK: ("reference", "a benchmark that is zero or negative"),
    Reason.DUPLICATE_ID: ("reference", "an ACO id that appears twice"),
    Reason.REVENUE_NOT_PUBLISHED: (
        "reference",
        "a loss CMS billed below the engine's, as a revenue-based loss limit would: the "
        "revenue it is a share of is not in the file, so the row cannot be reproduced from it",
    ),
    Reason.ADDED: (
        "adjustment",
        "a member-month the latest inputs attribute to the practice that was not paid before",
    ),
    Reason.MOVED_IN: (
        "adjustment",
        "a member-month paid before to another practice that the latest inputs attribute here",
    ),
    Reason.MOVED_OUT: (
        "adjustment",
        "a member-month paid before here that the latest inputs attribute to another practice",
    ),
    Reason.SCORE_CHANGED: (
        "adjustment",
        "a member-month whose risk score in the latest inputs differs from the one paid on",
    ),
    Reason.RATE_CHANGED: (
        "adjustment",
        "a member-month whose rate changed with the practice's average risk (other members' "
        "changes) or the terms",
    ),
    Reason.TIER_CHANGED: (
        "adjustment",
        "a member-month whose practice's tier in force that month changed",
    ),
    Reason.VOIDED: ("adjustment", "a reversal of a line of a voided batch"),
}
