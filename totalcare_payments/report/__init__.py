"""A scenario study's documents: the HTML report with its charts, and the Excel workbook.

``DEFINITIONS`` says what every column the documents show means, under its public name
(money columns without ``_cents``): the workbook's Definitions sheet, the HTML tables'
column tooltips and the report's definitions of the scenario summary all come from it.
Its wording is that of docs/scenarios.md (the scenario summary), docs/methodology.md (the
settlement's steps) and the modules that compute the columns (``scenarios.settle``,
``scenarios.bootstrap``, ``savings.waterfall``); ``tests/report`` checks that it agrees
with the summary table of docs/scenarios.md.
"""

from __future__ import annotations

from ..config import SettlementTerms
from ..savings.waterfall import REASONS


def _described(field: str) -> str:
    """A settlement term's own description (``SettlementTerms``), as a clause."""
    text = SettlementTerms.model_fields[field].description or field
    return text[0].lower() + text[1:].rstrip(".")


#: Column (public name) -> what it means. Money is in dollars, rates are fractions.
DEFINITIONS: dict[str, str] = {
    # About
    "item": "what the row states: the program, the year, the inputs (with their sha256), "
    "the scenarios, the bootstrap and the tool",
    "value": "its value: a number where it is one, otherwise text",
    # Waterfall (report.charts.program_waterfall)
    "step": "a step of the program's settlement under the base terms, from the budget to "
    "the final payments; every amount is a sum over practices of a settlement column",
    "kind": "total: a running total; step: what a step adds (negative: takes away)",
    "amount": "the running total, or what the step adds to it (negative: takes away)",
    "what": "how the step's amount is computed",
    # Summary: one row per scenario, sums over practices (docs/scenarios.md)
    "scenario": "the scenario's name; 'base' is the config unchanged",
    "practices": "practices settled",
    "practices_paid": "practices with a payment (final payment > 0)",
    "practices_billed": "practices billed a shared loss (final payment < 0)",
    "member_months": "member months attributed to the practice in the year (Summary: summed "
    "over practices)",
    "budget": "budget_pmpm x member_months (with baselines per segment: the sum of the "
    "segments' budgets; Summary: the settlement's own total over practices)",
    "actual_cost": "(claims_paid - truncated) x completion_factor + CCF (when "
    "ccf_counts_as_cost): the settlement's cost, after stop-loss truncation (Summary: the "
    "settlement's own total over practices)",
    "savings": "budget - actual_cost (Summary: the settlement's own total over practices)",
    "total_paid": "shared-savings payments: the sum of the positive final payments",
    "shared_loss": "losses billed (two-sided terms): when -savings_rate reaches the MLR, "
    "loss x loss_rate up to loss_limit x budget, plus loss_adjustment (Summary: summed over "
    "practices)",
    "net_payment": "the sum of final payments (payments less losses billed)",
    "incurred_cost": "claims paid x completion factor, untruncated, no CCF: what the members' "
    "care cost",
    "ccf_paid": "the Care Coordination Fees paid in the year (the same in every scenario)",
    "payer_net_savings": "budget - incurred cost - net payments - CCF paid: what the payer "
    "keeps in cash; incurred cost is untruncated, so a stop-loss scenario moves it only "
    "through the payments it changes",
    "paid_vs_base": "total_paid minus the base's",
    "mean_payment": "the mean of the practices' final payments, rounded to the cent",
    "std_payment": "the standard deviation of the practices' final payments (over all "
    "practices, ddof 0), rounded to the cent",
    "min_payment": "the smallest of the practices' final payments",
    "max_payment": "the largest of the practices' final payments",
    "stop_loss_threshold": "the scenario's per-member threshold in dollars (empty: none)",
    "overrides": "what the scenario changes, as path=value; ...",
    # Tornado (scenarios.settle.tornado)
    "parameter": "the dotted config path moved to its low and its high value while every "
    "other term stays at the base",
    "base_value": "the parameter's value in the base config",
    "low": "the parameter's low value",
    "high": "the parameter's high value",
    "base_total_paid": "total paid (the sum of the positive final payments) under the base terms",
    "total_paid_low": "total paid with the parameter at its low value",
    "total_paid_high": "total paid with the parameter at its high value",
    "change_low": "total_paid_low minus base_total_paid",
    "change_high": "total_paid_high minus base_total_paid",
    "swing": "|total_paid_high - total_paid_low|; rows are sorted by it, largest first",
    # Chance (scenarios.bootstrap)
    "members": "attributed members of the practice: the bootstrap's resampling units",
    "p_pass_msr_if_no_savings": "the share of draws whose savings rate passes the MSR "
    "(savings > 0 and savings_rate >= msr) when the practice's true savings are zero "
    "(budget = expected cost): the chance that the payer pays for noise",
    "savings_rate_sd_if_no_savings": "the standard deviation of the draws' savings rates "
    "when the true savings are zero",
    "savings_rate_p95_if_no_savings": "the 95th percentile of the draws' savings rates when "
    "the true savings are zero",
    "p_meets_msr": "the share of draws under the actual budget that meet the MSR",
    "p_paid": "the share of draws under the actual budget with a payment",
    "payment_mean": "the mean of the draws' final payments under the actual budget",
    "payment_p5": "the 5th percentile of the draws' final payments under the actual budget",
    "payment_p50": "the median of the draws' final payments under the actual budget",
    "payment_p95": "the 95th percentile of the draws' final payments under the actual budget",
    # Practices: the settlement's columns, step by step (savings.waterfall)
    "practice_id": "the practice's id",
    "practice_name": "the practice's name",
    "tier": "the practice's performance tier",
    "population": "member_months / 12 (person-years)",
    "avg_risk_score": "the member-month weighted mean risk score",
    "baseline_risk": "the practice's baseline risk score (Segments: the segment's)",
    "risk_ratio": "avg_risk_score / baseline_risk, kept within [risk_ratio_min, risk_ratio_max]",
    "baseline_pmpm": "the practice's baseline cost per member month (Segments: the segment's)",
    "trend_factor": "(1 + annual_trend) ^ (year - baseline_year)",
    "budget_pmpm": "baseline_pmpm x risk_ratio x trend_factor",
    "claims_paid": "claims in the year charged to the practice of the member's month; "
    "reversals net",
    "truncated": "each member's annual cost above the stop-loss threshold, taken from each "
    "practice in proportion to its part of that member's cost",
    "completion_factor": "the gross-up of claims paid for claims incurred but not yet paid (IBNR)",
    "ccf_cost": "the year's CCF, when the terms count it as cost (ccf_counts_as_cost)",
    "savings_rate": "savings / budget",
    "msr": "the minimum savings rate: fixed, by population table, or assigned per practice",
    "meets_msr": "savings > 0 and savings_rate >= msr",
    "qualifying_savings": "the savings shared: first dollar, all savings once the MSR is met; "
    "net, only those above msr x budget",
    "quality_score": "the practice's quality score",
    "met_quality_gate": "whether the practice met the quality gate: no share when the gate is "
    "missed or quality_score is below quality.min_score",
    "met_alternative_quality": "whether a practice that missed the quality standard met the "
    "alternative one (shared on quality.alternative_sharing)",
    "share_rate": "savings_share_rate[tier] + quality_share_rate[tier] x quality_score, at "
    "most program.max_share_rate (the full rate where quality.standard_sharing says so)",
    "terminated_month": "the month (1-12) the practice's participation ended in the year; "
    "0 when it did not",
    "payment_reduction": _described("payment_reduction"),
    "earned_before_limit": "qualifying_savings x share_rate x (1 - payment_reduction)",
    "payment_limit_amount": f"payment_limit x budget: {_described('payment_limit')}",
    "earned": "earned_before_limit, at most payment_limit_amount",
    "mlr": "the minimum loss rate: a loss is shared when -savings_rate reaches it "
    "(two-sided terms)",
    "loss_rate": "the share of a loss billed: fixed, 1 - share_rate, or 1 - the sliding-scale "
    "rate, within [floor, ceiling]",
    "loss_limit_amount": "the most a shared loss can be: the lower of loss_limit x budget and "
    "revenue_loss_limit x revenue",
    "relief_share": "the share of the shared loss forgiven after the loss limit",
    "relief": "relief_share x the limited (and pro-rated) loss",
    "loss_adjustment": "relief on the shared loss (negative)",
    "final_payment": "earned - shared_loss (Chance: the actual payment, under the base terms)",
    "reason": "why the final payment is what it is: " + ", ".join(REASONS),
    # Segments: the base terms' budget per practice and segment (savings.waterfall)
    "segment": "the member segment (attribution's segment column): its members' months are "
    "budgeted from the segment's own baseline",
    "segment_share": "the segment's share of the practice's member months in the year",
    "baseline_member_months": "the segment's member months in the last baseline year",
    "risk_ratio_uncapped": "avg_risk_score / baseline_risk, before the bounds",
    "risk_ratio_capped": "whether [risk_ratio_min, risk_ratio_max] changed the ratio",
    # Definitions
    "sheet": "the sheet the column is on",
    "column": "the column's name, as in the sheet's first row",
    "unit": "dollars, a fraction (0.05 = 5%, shown as a percentage), a count, a number, "
    "true/false or text",
    "definition": "what the column holds",
}
