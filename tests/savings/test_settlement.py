"""Year-end settlement: hand-computed golden examples of every waterfall step, and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import MONTHS_2026, SAMPLE, attribution_rows, make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import MsrTerms
from totalcare_payments.errors import InputError
from totalcare_payments.inputs.checks import accounting_of
from totalcare_payments.periods import year_periods
from totalcare_payments.program import load_program, program_from_frames
from totalcare_payments.savings.msr import msr_from_table
from totalcare_payments.savings.summary import settle_summary
from totalcare_payments.savings.year import compute_settlement

# A small program whose arithmetic fits in a comment. Terms: trend 4% a year from 2025,
# risk ratio capped at 1.03, stop-loss $10,000, fixed MSR 2%, payment limit 15%,
# share = 0.25 + 0.25 x quality_score, quality gate on, completion factor 1.0.
TERMS = {
    "settlement": {
        "completion_factor": 1.0,
        "payment_limit": 0.15,
        "stop_loss": {"kind": "fixed", "amount": 10000.0},
        "msr": {"kind": "fixed", "rate": 0.02, "table": None},
    }
}
PRACTICES = pd.DataFrame(
    {
        "practice_id": ["A", "B"],
        "practice_name": ["Alpha Clinic", "Beta Family Medicine"],
        "tier": ["Advanced", "Established"],
        "baseline_pmpm": [1000.0, 1000.0],
        "baseline_risk": [1.0, 1.0],
    }
)
# m1 at A all year; m2 at A Jan-Jun, then B Jul-Dec (a switcher); m3 at B all year.
ATTRIBUTION = pd.DataFrame(
    attribution_rows("m1", "A", MONTHS_2026)
    + attribution_rows("m2", "A", MONTHS_2026[:6])
    + attribution_rows("m2", "B", MONTHS_2026[6:])
    + attribution_rows("m3", "B", MONTHS_2026)
)
SCORES = pd.DataFrame({"member_id": ["m1", "m2", "m3"], "mara_px_total": [1.0, 1.2, 0.8]})
CLAIMS = pd.DataFrame(
    [
        ("c1", "m1", "2026-01-15", 5000.00),
        ("c2", "m1", "2026-03-02", 3000.00),
        ("c2", "m1", "2026-03-02", -3000.00),  # reversal of c2: nets to zero
        ("c3", "m1", "2026-04-20", 2000.00),
        ("c4", "m2", "2026-02-11", 9000.00),  # m2 at A
        ("c5", "m2", "2026-08-05", 3000.00),  # m2 at B
        ("c6", "m3", "2026-04-01", 16000.00),
        ("c7", "m3", "2025-12-30", 700.00),  # outside the year: excluded
        ("c8", "m4", "2026-05-05", 250.00),  # m4 is attributed nowhere: excluded
    ],
    columns=["claim_id", "member_id", "claim_start_date", "paid_amount"],
)
QUALITY = pd.DataFrame(
    {
        "practice_id": ["A", "B"],
        "year": [2026, 2026],
        "quality_score": [0.8, 0.9],
        "met_quality_gate": [True, False],
    }
)


def _settle(changes: dict | None = None, claims: pd.DataFrame = CLAIMS):
    config = make_config({**TERMS, **(changes or {})} if changes else TERMS)
    data = program_from_frames(config, PRACTICES, ATTRIBUTION, SCORES, claims, QUALITY)
    return compute_settlement(data, config, 2026), data, config


def test_member_level_waterfall_hand_computed():
    settlement, data, _ = _settle()
    a, b = (row for _, row in settlement.practices.iterrows())
    # 1. member months: A = m1 12 + m2 6 = 18; B = m2 6 + m3 12 = 18
    assert (a.member_months, b.member_months) == (18, 18)
    # avg risk A = (12 x 1.0 + 6 x 1.2) / 18 = 1.06667 -> 1.0667; B = (6 x 1.2 + 12 x 0.8) / 18 = 0.9333
    assert (a.avg_risk_score, b.avg_risk_score) == (1.0667, 0.9333)
    # 2. risk ratio: A 1.0667 capped at 1.03; B 0.9333
    assert (a.risk_ratio, b.risk_ratio) == (1.03, 0.9333)
    # 3. budget_pmpm: A 1000 x 1.03 x 1.04 = 1071.20; B 1000 x 0.9333 x 1.04 = 970.632 -> 970.63
    assert a.trend_factor == 1.04
    assert (a.budget_pmpm_cents, b.budget_pmpm_cents) == (107120, 97063)
    # 4. budget: A 1071.20 x 18 = 19,281.60; B 970.63 x 18 = 17,471.34
    assert (a.budget_cents, b.budget_cents) == (1928160, 1747134)
    # 5. claims: A = m1 (5000 + 3000 - 3000 + 2000) + m2 at A 9000 = 16,000
    #    B = m2 at B 3000 + m3 16000 = 19,000
    assert (a.claims_paid_cents, b.claims_paid_cents) == (1600000, 1900000)
    #    stop-loss $10,000: m2's year 12,000 -> 2,000 over, taken 9/12 from A (1,500), 3/12
    #    from B (500); m3's 16,000 -> 6,000 over, all from B. m1's 7,000 is under.
    assert (a.truncated_cents, b.truncated_cents) == (150000, 650000)
    #    actual cost: A 16,000 - 1,500 = 14,500; B 19,000 - 6,500 = 12,500
    assert (a.actual_cost_cents, b.actual_cost_cents) == (1450000, 1250000)
    # 6. savings: A 19,281.60 - 14,500 = 4,781.60 (24.80%); B 17,471.34 - 12,500 = 4,971.34
    assert (a.savings_cents, b.savings_cents) == (478160, 497134)
    assert a.savings_rate == pytest.approx(4781.60 / 19281.60)
    # 7-10. A: meets the 2% MSR; share 0.25 + 0.25 x 0.8 = 0.45; 4,781.60 x 0.45 = 2,151.72,
    #    under the limit 15% x 19,281.60 = 2,892.24 -> PAID 2,151.72
    assert a.share_rate == pytest.approx(0.45)
    assert (a.payment_limit_amount_cents, a.earned_cents, a.final_payment_cents) == (
        289224,
        215172,
        215172,
    )
    assert a.reason == "PAID"
    #    B missed the quality gate: share 0, payment 0
    assert (b.share_rate, b.final_payment_cents, b.reason) == (0.0, 0, "QUALITY_GATE")
    # accounting: c7 outside the year, c8 not attributed
    claims = accounting_of(data.tables(), settlement.uses)["claims"]
    assert claims["excluded"] == {"NOT_ATTRIBUTED": 1, "OUTSIDE_PERIOD": 1}
    assert settlement.notes["members_truncated"] == 2


def test_completion_factor_grosses_up_claims():
    settlement, _, _ = _settle({"settlement": {**TERMS["settlement"], "completion_factor": 1.02}})
    a = settlement.practices.iloc[0]
    # A: (16,000 - 1,500) x 1.02 = 14,790.00
    assert a.actual_cost_cents == 1479000


def test_percentile_stop_loss_and_no_stop_loss():
    none, _, _ = _settle({"settlement": {**TERMS["settlement"], "stop_loss": {"kind": "none"}}})
    assert none.practices["truncated_cents"].tolist() == [0, 0]
    pct, _, _ = _settle(
        {
            "settlement": {
                **TERMS["settlement"],
                "stop_loss": {"kind": "percentile", "percentile": 0.5},
            }
        }
    )
    # annual costs 7,000 (m1), 12,000 (m2), 16,000 (m3): median 12,000 -> only m3 over, by 4,000
    assert pct.notes["stop_loss_threshold"] == "12000.00"  # the value used, as decimal text
    assert pct.practices["truncated_cents"].tolist() == [0, 400000]


def test_ccf_counted_as_cost_ties_to_the_ccf_batch():
    settlement, _, config = _settle(
        {"settlement": {**TERMS["settlement"], "ccf_counts_as_cost": True}}
    )
    fresh = program_from_frames(config, PRACTICES, ATTRIBUTION, SCORES)
    ccf = compute_ccf(fresh, config, list(year_periods(2026))).lines
    by_practice = ccf.groupby("practice_id")["ccf_amount_cents"].sum()
    frame = settlement.practices.set_index("practice_id")
    assert frame["ccf_cost_cents"].to_dict() == by_practice.to_dict()
    expected = np.array([1450000, 1250000]) + by_practice.to_numpy()
    assert (frame["actual_cost_cents"].to_numpy() == expected).all()


# ---- practice-level summaries: steps 5 to 12 ------------------------------------------------

SUMMARY_TERMS = {
    "settlement": {
        "msr": {"kind": "fixed", "rate": 0.02, "table": None},
        "payment_limit": 0.10,
    }
}


def _summary(rows: list[dict], changes: dict | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"tier": "Established", "quality_score": 0.6, "met_quality_gate": True, **r} for r in rows]
    )
    frame.insert(0, "practice_id", [f"P{i}" for i in range(len(frame))])
    merged = {"settlement": {**SUMMARY_TERMS["settlement"], **(changes or {})}}
    return settle_summary(frame, make_config(merged), 2026).practices


def test_summary_msr_below_and_above_first_dollar():
    out = _summary(
        [
            {"budget": 1_000_000, "actual_cost": 985_000},  # 1.5% < 2% MSR
            {"budget": 1_000_000, "actual_cost": 950_000},  # 5%: share 0.25 + 0.25 x 0.6 = 0.40
        ]
    )
    assert out["reason"].tolist() == ["BELOW_MSR", "PAID"]
    # first dollar: all 50,000 x 0.40 = 20,000.00
    assert out["final_payment_cents"].tolist() == [0, 2_000_000]


def test_summary_net_sharing_shares_only_above_the_msr():
    out = _summary(
        [{"budget": 1_000_000, "actual_cost": 950_000}],
        {"msr": {"kind": "fixed", "rate": 0.02, "sharing": "net"}},
    )
    # (50,000 - 2% x 1,000,000) x 0.40 = 30,000 x 0.40 = 12,000.00
    assert out.loc[0, "qualifying_savings_cents"] == 3_000_000
    assert out.loc[0, "final_payment_cents"] == 1_200_000


def test_summary_quality_zero_earns_half_of_the_fifty_percent():
    # the program's own example: $100k of savings, quality score 0 -> $25k
    out = _summary([{"budget": 2_000_000, "actual_cost": 1_900_000, "quality_score": 0.0}])
    assert out.loc[0, "final_payment_cents"] == 2_500_000


def test_summary_quality_gate_and_minimum_score():
    out = _summary(
        [
            {"budget": 1_000_000, "actual_cost": 950_000, "met_quality_gate": False},
            {"budget": 1_000_000, "actual_cost": 950_000, "quality_score": 0.3},
        ],
        {"quality": {"gate": True, "min_score": 0.5}},
    )
    assert out["reason"].tolist() == ["QUALITY_GATE", "QUALITY_GATE"]
    assert out["final_payment_cents"].tolist() == [0, 0]


def test_summary_payment_limit_caps():
    out = _summary([{"budget": 1_000_000, "actual_cost": 700_000, "quality_score": 1.0}])
    # 300,000 x 0.50 = 150,000 -> limited to 10% x 1,000,000 = 100,000.00
    assert out.loc[0, "earned_before_limit_cents"] == 15_000_000
    assert (out.loc[0, "final_payment_cents"], out.loc[0, "reason"]) == (10_000_000, "CAPPED")


def test_summary_payment_reduction():
    out = _summary([{"budget": 1_000_000, "actual_cost": 950_000}], {"payment_reduction": 0.02})
    # 50,000 x 0.40 x (1 - 0.02) = 19,600.00
    assert out.loc[0, "final_payment_cents"] == 1_960_000


LOSSES = {
    "enabled": True,
    "min_loss_rate": 0.02,
    "loss_rate": "one_minus_share_rate",
    "loss_rate_floor": 0.4,
    "loss_rate_ceiling": 0.6,
    "loss_limit": 0.05,
}


def test_summary_two_sided_losses():
    out = _summary(
        [
            {"budget": 1_000_000, "actual_cost": 1_030_000},  # 3% loss
            {"budget": 1_000_000, "actual_cost": 1_100_000},  # 10% loss
            {"budget": 1_000_000, "actual_cost": 1_015_000},  # 1.5%: inside the MLR
            {"budget": 1_000_000, "actual_cost": 1_030_000, "loss_adjustment": -2_000},
        ],
        {"losses": LOSSES},
    )
    # loss rate = 1 - share 0.40 = 0.60 (within [0.4, 0.6])
    # 30,000 x 0.60 = 18,000 owed; 100,000 x 0.60 = 60,000 -> loss limit 5% = 50,000
    assert out["reason"].tolist() == ["LOSS", "LOSS_CAPPED", "NO_SAVINGS", "LOSS"]
    assert out["shared_loss_cents"].tolist() == [1_800_000, 5_000_000, 0, 1_600_000]
    assert out["final_payment_cents"].tolist() == [-1_800_000, -5_000_000, 0, -1_600_000]


# ---- terms of Medicare-like programs, general to any program --------------------------------
# (the summary rows: tier Established, share 0.25 + 0.25 x quality_score, quality 0.6 and the
# standard met unless a row says otherwise; MSR 2%; payment limit 10%)

MET, GAP = {"budget": 1_000_000, "actual_cost": 950_000}, {"met_quality_gate": False}


def test_full_rate_when_the_quality_standard_is_met():
    out = _summary([MET, {**MET, **GAP}], {"quality": {"standard_sharing": "full_rate"}})
    # the score only gates the tier's full rate, 0.25 + 0.25 = 0.50: 50,000 x 0.50 = 25,000.00
    assert out["share_rate"].tolist() == [0.50, 0.0]
    assert out["final_payment_cents"].tolist() == [2_500_000, 0]
    assert out["reason"].tolist() == ["PAID", "QUALITY_GATE"]


def test_standard_sharing_by_year_overrides_it():
    by_year = {"standard_sharing": "full_rate", "standard_sharing_by_year": {"2026": "sliding_scale"}}
    out = _summary([MET], {"quality": by_year})
    assert out.loc[0, "share_rate"] == pytest.approx(0.25 + 0.25 * 0.6)  # 2026 is listed


def test_alternative_quality_standard_shares_on_the_sliding_scale():
    rows = [
        {**MET, **GAP, "met_alternative_quality": True},
        {**MET, **GAP, "met_alternative_quality": False},
        {**MET, "met_alternative_quality": False},
    ]
    quality = {"standard_sharing": "full_rate", "alternative_sharing": "sliding_scale"}
    out = _summary(rows, {"quality": quality})
    # only the alternative: 0.25 + 0.25 x 0.6 = 0.40 -> 50,000 x 0.40 = 20,000.00;
    # neither: nothing; the standard: the full 0.50 -> 25,000.00
    assert out["share_rate"].tolist() == pytest.approx([0.40, 0.0, 0.50])
    assert out["final_payment_cents"].tolist() == [2_000_000, 0, 2_500_000]
    assert out["reason"].tolist() == ["PAID", "QUALITY_GATE", "PAID"]
    assert out["met_alternative_quality"].tolist() == [True, False, False]
    # without alternative_sharing the alternative standard earns nothing
    alone = _summary(rows[:1], {"quality": {"standard_sharing": "full_rate"}})
    assert alone.loc[0, "reason"] == "QUALITY_GATE"


LOSS_3PCT = {"budget": 1_000_000, "actual_cost": 1_030_000}  # a 3% loss, past the 2% MLR


def test_loss_rate_one_minus_rate_times_quality():
    losses = {**LOSSES, "loss_rate": "one_minus_rate_times_quality"}
    losses.update(loss_rate_floor=0.55, loss_rate_ceiling=0.75)
    rows = [
        LOSS_3PCT,  # 1 - (0.25 + 0.25 x 0.6) = 0.60
        {**LOSS_3PCT, "quality_score": 0.0},  # 1 - 0.25 = 0.75, the ceiling
        {**LOSS_3PCT, "quality_score": 1.0},  # 1 - 0.50 = 0.50 -> the 0.55 floor
        {**LOSS_3PCT, **GAP},  # neither standard met: the rate counts as 0 -> 0.75 ceiling
    ]
    out = _summary(rows, {"quality": {"standard_sharing": "full_rate"}, "losses": losses})
    assert out["loss_rate"].tolist() == pytest.approx([0.60, 0.75, 0.55, 0.75])
    # 30,000 x rate
    assert out["shared_loss_cents"].tolist() == [1_800_000, 2_250_000, 1_650_000, 2_250_000]
    # one_minus_share_rate uses the full 0.50 the practice would share: 1 - 0.50 = 0.50, not 0.60
    paid = _summary(rows[:1], {"quality": {"standard_sharing": "full_rate"}, "losses": LOSSES})
    assert paid.loc[0, "loss_rate"] == pytest.approx(0.50)


FLAT = {**LOSSES, "loss_rate": 0.30, "loss_limit": 0.02}  # 30% of losses, at most 2% of budget


def test_revenue_loss_limit_is_the_lower_of_revenue_and_budget_shares():
    loss_10pct = {"budget": 1_000_000, "actual_cost": 1_100_000}  # 100,000 x 0.30 = 30,000
    rows = [
        {**loss_10pct, "revenue": 250_000},  # 4% x 250,000 = 10,000 < 2% x 1,000,000 = 20,000
        {**loss_10pct, "revenue": 1_000_000},  # 40,000 > 20,000: the budget's limit
        loss_10pct,  # no revenue figure: the budget's limit only
        {**LOSS_3PCT, "revenue": 10_000_000},  # 30,000 x 0.30 = 9,000 under both
    ]
    frame_rows = [{"revenue": np.nan, **r} for r in rows]
    out = _summary(frame_rows, {"losses": {**FLAT, "revenue_loss_limit": 0.04}})
    assert out["loss_limit_amount_cents"].tolist() == [1_000_000, 2_000_000, 2_000_000, 2_000_000]
    assert out["shared_loss_cents"].tolist() == [1_000_000, 2_000_000, 2_000_000, 900_000]
    assert out["reason"].tolist() == ["LOSS_CAPPED", "LOSS_CAPPED", "LOSS_CAPPED", "LOSS"]


def test_loss_limits_by_tier():
    rows = [
        {"budget": 1_000_000, "actual_cost": 1_100_000, "tier": "Advanced", "revenue": 400_000},
        {"budget": 1_000_000, "actual_cost": 1_100_000, "tier": "Developing", "revenue": 400_000},
        {"budget": 1_000_000, "actual_cost": 1_100_000, "tier": "Established", "revenue": 400_000},
    ]
    losses = {
        **FLAT,
        "loss_limit_by_tier": {"Advanced": 0.01},
        "revenue_loss_limit_by_tier": {"Developing": 0.02},
    }
    out = _summary(rows, {"losses": losses})
    # Advanced: 1% x 1,000,000 = 10,000; Developing: min(2% x 400,000 = 8,000, 20,000);
    # Established: no revenue limit, 2% x 1,000,000 = 20,000
    assert out["loss_limit_amount_cents"].tolist() == [1_000_000, 800_000, 2_000_000]
    assert out["shared_loss_cents"].tolist() == [1_000_000, 800_000, 2_000_000]


def test_relief_share_after_the_loss_limit_then_the_loss_adjustment():
    loss_20pct = {"budget": 1_000_000, "actual_cost": 1_200_000}  # 60,000 -> limit 50,000
    rows = [
        LOSS_3PCT,  # 30,000 x 0.30 = 9,000; 25% relieved = 2,250 -> 6,750
        loss_20pct,  # 200,000 x 0.30 = 60,000 -> 5% limit 50,000; 25% = 12,500 -> 37,500
        {**LOSS_3PCT, "loss_adjustment": -1_000},  # 9,000 - 2,250 - 1,000 = 5,750
        {**LOSS_3PCT, "relief_share": 1.0},  # its own share: all 9,000 forgiven
    ]
    frame_rows = [{"relief_share": np.nan, "loss_adjustment": 0.0, **r} for r in rows]
    losses = {**LOSSES, "loss_rate": 0.30, "relief_share": 0.25}
    out = _summary(frame_rows, {"losses": losses})
    assert out["relief_cents"].tolist() == [225_000, 1_250_000, 225_000, 900_000]
    assert out["shared_loss_cents"].tolist() == [675_000, 3_750_000, 575_000, 0]
    assert out["relief_share"].tolist() == [0.25, 0.25, 0.25, 1.0]
    # by year: 2026 forgiven in full
    yearly = _summary(rows[:1], {"losses": {**losses, "relief_share_by_year": {"2026": 1.0}}})
    assert yearly.loc[0, "shared_loss_cents"] == 0


def test_termination_no_savings_and_losses_by_months():
    rows = [
        {**MET, "terminated_month": 9},  # savings 50,000 x 0.40 = 20,000, forfeited
        {"budget": 1_000_000, "actual_cost": 1_100_000, "terminated_month": 9},
        {"budget": 1_000_000, "actual_cost": 1_100_000, "terminated_month": 6},
        {"budget": 1_000_000, "actual_cost": 1_100_000, "terminated_month": 0},
    ]
    changes = {
        "losses": {**LOSSES, "loss_rate": 0.30},
        "termination": {"losses_waived_through_month": 6},
    }
    out = _summary(rows, changes)
    # 100,000 x 0.30 = 30,000 (under the 5% limit): ended in September owes 30,000 x 9/12 =
    # 22,500; ended by June 30 owes nothing; in the program all year owes 30,000
    assert out["earned_before_limit_cents"].tolist()[0] == 2_000_000
    assert out["final_payment_cents"].tolist() == [0, -2_250_000, 0, -3_000_000]
    assert out["reason"].tolist() == ["TERMINATED", "LOSS", "LOSS", "LOSS"]
    assert out["terminated_month"].tolist() == [9, 9, 6, 0]
    kept = _summary(rows[:1], {**changes, "termination": {"earns_savings": True}})
    assert (kept.loc[0, "final_payment_cents"], kept.loc[0, "reason"]) == (2_000_000, "PAID")


def test_reduced_share_below_the_msr_for_eligible_practices():
    below = {"budget": 1_000_000, "actual_cost": 985_000}  # 1.5% savings < 2% MSR
    rows = [
        {**below, "reduced_share_eligible": True},
        {**below, "reduced_share_eligible": False},
        {**MET, "reduced_share_eligible": True},
        {**below, **GAP, "reduced_share_eligible": True},
        {**LOSS_3PCT, "reduced_share_eligible": True},
    ]
    out = _summary(rows, {"sharing": {"below_msr_share": 0.5}})
    # 15,000 x 0.40 x 0.5 = 3,000.00; not eligible: nothing; above the MSR: the full 0.40 on
    # 50,000 = 20,000.00; quality missed: nothing; a loss: nothing to share
    assert out["share_rate"].tolist() == pytest.approx([0.20, 0.40, 0.40, 0.0, 0.40])
    assert out["final_payment_cents"].tolist() == [300_000, 0, 2_000_000, 0, 0]
    assert out["reason"].tolist() == [
        "PAID_BELOW_MSR",
        "BELOW_MSR",
        "PAID",
        "QUALITY_GATE",
        "NO_SAVINGS",
    ]
    assert _summary(rows[:1]).loc[0, "reason"] == "BELOW_MSR"  # below_msr_share 0: off


MSR_CHOICE = {
    "kind": "choice",
    "choices": [0.0, 0.01, 0.02],
    "table_below_population": 5000,
    "table": [
        {"min_population": 0, "max_population": 10_000, "msr_at_min": 0.05, "msr_at_max": 0.03}
    ],
}


def test_msr_choice_fixed_or_table_and_the_table_below_a_population():
    rows = [
        {**MET, "population": 8000, "msr": 0.01},  # chose 1%
        {**MET, "population": 8000, "msr": np.nan},  # chose the table: 5% - 2% x 0.8 = 3.4%
        {**MET, "population": 3000, "msr": 0.0},  # below 5,000: the table, 5% - 2% x 0.3 = 4.4%
    ]
    out = _summary(rows, {"msr": MSR_CHOICE})
    assert out["msr"].tolist() == pytest.approx([0.01, 0.034, 0.044])
    assert out["reason"].tolist() == ["PAID", "PAID", "PAID"]  # 5% savings meets all three
    with pytest.raises(InputError, match=r"one of 0, 0\.01, 0\.02"):
        _summary([{**MET, "population": 8000, "msr": 0.03}], {"msr": MSR_CHOICE})


def test_msr_table_interpolates_within_bands():
    table = MsrTerms.model_validate(
        {
            "kind": "table",
            "table": [
                {
                    "min_population": 3000,
                    "max_population": 4999,
                    "msr_at_min": 0.05,
                    "msr_at_max": 0.039,
                },
                {
                    "min_population": 5000,
                    "max_population": 5999,
                    "msr_at_min": 0.039,
                    "msr_at_max": 0.036,
                },
                {
                    "min_population": 60000,
                    "max_population": 60000,
                    "msr_at_min": 0.02,
                    "msr_at_max": 0.02,
                },
            ],
        }
    )
    got = msr_from_table(table, np.array([1000, 3000, 4000, 5500, 7000, 90000]))
    # 4000: 5% - 1.1% x (1000 / 1999) = 4.44972%; 5500: 3.9% - 0.3% x 500/999 = 3.74985%
    expected = [0.05, 0.05, 0.05 - 0.011 * 1000 / 1999, 0.039 - 0.003 * 500 / 999, 0.036, 0.02]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


# ---- properties -------------------------------------------------------------------------------

summary_rows = st.lists(
    st.fixed_dictionaries(
        {
            "budget": st.floats(1_000, 5e7),
            "cost_ratio": st.floats(0.5, 1.5),
            "quality_score": st.floats(0, 1),
            "met_quality_gate": st.booleans(),
            "member_months": st.integers(12, 500_000),
        }
    ),
    min_size=1,
    max_size=30,
)
terms = st.fixed_dictionaries(
    {
        "msr": st.fixed_dictionaries(
            {
                "kind": st.just("fixed"),
                "rate": st.floats(0, 0.1),
                "sharing": st.sampled_from(["first_dollar", "net"]),
            }
        ),
        "payment_limit": st.floats(0.01, 1.0),
        "payment_reduction": st.floats(0, 0.1),
    }
)


def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["actual_cost"] = (frame["budget"] * frame.pop("cost_ratio")).round(2)
    frame["budget"] = frame["budget"].round(2)
    frame.insert(0, "practice_id", [f"P{i:03d}" for i in range(len(frame))])
    frame["tier"] = "Advanced"
    return frame


@pytest.mark.slow
@settings(max_examples=80, deadline=None)
@given(rows=summary_rows, changes=terms)
def test_earned_within_share_cap_and_payment_limit(rows, changes):
    config = make_config({"settlement": changes})
    out = settle_summary(_frame(rows), config, 2026).practices
    savings = out["savings_cents"].to_numpy()
    earned = out["earned_cents"].to_numpy()
    assert (earned >= 0).all()
    assert (earned <= config.program.max_share_rate * np.maximum(savings, 0) + 0.5).all()
    assert (earned <= out["payment_limit_amount_cents"].to_numpy()).all()
    below = out["savings_rate"].to_numpy() < out["msr"].to_numpy()
    assert (earned[below] == 0).all()
    assert (out["final_payment_cents"] == earned - out["shared_loss_cents"]).all()


@pytest.mark.slow
@settings(max_examples=80, deadline=None)
@given(rows=summary_rows, changes=terms, extra=st.floats(0, 5e6), losses=st.booleans())
def test_raising_actual_cost_never_raises_the_payment(rows, changes, extra, losses):
    if losses:
        changes = {**changes, "losses": LOSSES}
    config = make_config({"settlement": changes})
    frame = _frame(rows)
    before = settle_summary(frame, config, 2026).practices["final_payment_cents"].to_numpy()
    frame["actual_cost"] = frame["actual_cost"] + round(extra, 2)
    after = settle_summary(frame, config, 2026).practices["final_payment_cents"].to_numpy()
    assert (after <= before).all()


@pytest.fixture(scope="module")
def sample_frames():
    return {
        name: pd.read_csv(SAMPLE / f"{name}.csv")
        for name in ("practices", "attribution", "risk_scores", "claims", "quality")
    }


@settings(max_examples=15, deadline=None)
@given(threshold=st.floats(500, 300_000), completion=st.floats(1.0, 1.2))
def test_truncation_never_raises_actual_cost(sample_frames, threshold, completion):
    def actual(stop_loss: dict) -> np.ndarray:
        config = make_config(
            {"settlement": {"stop_loss": stop_loss, "completion_factor": completion}}
        )
        data = program_from_frames(config, **sample_frames)
        return compute_settlement(data, config, 2026).practices["actual_cost_cents"].to_numpy()

    truncated = actual({"kind": "fixed", "amount": threshold})
    untruncated = actual({"kind": "none"})
    assert (truncated <= untruncated).all()


def test_sample_program_loads_from_csv_with_every_row_accounted_for():
    config = make_config()
    data = load_program(SAMPLE, config, with_claims=True, with_quality=True)
    settlement = compute_settlement(data, config, 2026)
    for acct in accounting_of(data.tables(), settlement.uses).values():
        assert acct["read"] == acct["used"] + sum(acct["excluded"].values()) + sum(
            acct["rejected"].values()
        )
        assert acct["rejected"] == {}


def test_settle_from_a_practice_summary_file(tmp_path):
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    out = tmp_path / "summary-settlement"
    result = CliRunner().invoke(
        app,
        [
            "settle",
            "--year",
            "2026",
            "--summary",
            str(SAMPLE / "practice_summary.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    settled = pd.read_csv(out / "settlement.csv", dtype=str).set_index("practice_id")
    # default terms: MSR table by population = member_months / 12; share 0.25 + 0.25 x quality
    # A101: 1,200 person-years -> MSR 4% - 1.5% x 200/4,000 = 3.925%; savings 300,000 = 5%
    #       -> 300,000 x (0.25 + 0.25 x 0.80) = 135,000.00 (limit 600,000)
    # A102: 500 -> MSR 6% - 2% x 500/1,000 = 5%; savings 48,000 = 2% -> BELOW_MSR
    # A103: 2,000 -> MSR 3.625%; 1,500,000 = 15% -> x 0.425 = 637,500.00 (limit 1,000,000)
    # A104: 7.5% savings, but the quality gate was missed -> QUALITY_GATE
    assert settled["final_payment"].to_dict() == {
        "A101": "135000.00",
        "A102": "0.00",
        "A103": "637500.00",
        "A104": "0.00",
    }
    assert settled["reason"].tolist() == ["PAID", "BELOW_MSR", "PAID", "QUALITY_GATE"]
    assert settled.loc["A101", "msr"] == "0.03925"


# ---- money summed exactly, truncation over positive parts, the threshold used, reasons -------


def _one_practice(claims: list[tuple], changes: dict | None = None, months=MONTHS_2026):
    """Practice A, members m1..mN all year at A (N = the members named in claims)."""
    members = sorted({c[1] for c in claims})
    attribution = pd.DataFrame([r for m in members for r in attribution_rows(m, "A", months)])
    config = make_config({"settlement": {**TERMS["settlement"], **(changes or {})}})
    data = program_from_frames(
        config,
        PRACTICES.iloc[[0]],
        attribution,
        pd.DataFrame({"member_id": members, "mara_px_total": 1.0}),
        pd.DataFrame(claims, columns=CLAIMS.columns),
        QUALITY.iloc[[0]],
    )
    settlement = compute_settlement(data, config, 2026)
    return settlement, settlement.practices.iloc[0]


def test_claims_are_summed_exactly_and_rounded_once_per_practice():
    # 0.1 ten thousand times: a float sum gives 1,000.0000000001588; in units it is
    # 10,000 x 1,000 = 10,000,000 units = 1,000.00 exactly. Plus two lines of 0.0025:
    # 50 units = half a cent, rounded once for the practice: half-up, 1,000.01.
    claims = [(f"c{i}", "m1", "2026-05-01", 0.1) for i in range(10_000)]
    claims += [("d1", "m1", "2026-06-01", 0.0025), ("d2", "m1", "2026-06-02", 0.0025)]
    _, row = _one_practice(claims)
    assert sum(0.1 for _ in range(10_000)) != 1000.0
    assert row.claims_paid_cents == 100_001


def test_a_member_exactly_at_the_stop_loss_is_not_truncated():
    # 6,521.21 + 2,502.26 + 976.53 = 10,000.00 exactly: not above the $10,000 stop-loss
    # (in binary floating point the sum is 10,000.000000000002, which counted as truncated)
    claims = [
        ("c1", "m1", "2026-03-01", 6521.21),
        ("c2", "m1", "2026-03-02", 2502.26),
        ("c3", "m1", "2026-03-03", 976.53),
        ("c4", "m2", "2026-03-04", 10_000.01),  # one cent over: truncated by 0.01
    ]
    settlement, row = _one_practice(claims)
    assert settlement.notes["members_truncated"] == 1
    assert row.truncated_cents == 1


def test_truncation_is_split_over_positive_parts_only():
    # m1 at A Jan-Jun, B Jul-Dec. A: 15,000.00 (March); B: only a reversal of -3,000.00
    # (July) whose payment was in December 2025. The year: 12,000.00, 2,000.00 over $10,000.
    # A's part is the only positive one: A takes all 2,000.00, B none. (Split over the signed
    # parts, B would take 2,000 x -3,000 / 12,000 = -500.00: its cost raised by 500.00.)
    attribution = pd.DataFrame(
        attribution_rows("m1", "A", MONTHS_2026[:6]) + attribution_rows("m1", "B", MONTHS_2026[6:])
    )
    claims = pd.DataFrame(
        [
            ("c1", "m1", "2026-03-10", 15_000.00),
            ("c2", "m1", "2025-12-20", 3_000.00),
            ("c2", "m1", "2026-07-02", -3_000.00),
        ],
        columns=CLAIMS.columns,
    )
    config = make_config(TERMS)
    data = program_from_frames(config, PRACTICES, attribution, SCORES.iloc[[0]], claims, QUALITY)
    rows = compute_settlement(data, config, 2026).practices.set_index("practice_id")
    assert rows["claims_paid_cents"].to_dict() == {"A": 1_500_000, "B": -300_000}
    assert rows["truncated_cents"].to_dict() == {"A": 200_000, "B": 0}
    # actual cost: A 15,000 - 2,000 = 13,000.00; B -3,000.00, not raised
    assert rows["actual_cost_cents"].to_dict() == {"A": 1_300_000, "B": -300_000}


def test_split_shares_are_rounded_to_units_and_practices_to_cents():
    # m1: A 1,000.00 (Jan-Apr), B 1,000.00 (May-Aug), C 1,000.01 (Sep-Dec): 3,000.01, 1,000.01
    # over a $2,000 stop-loss. In units the excess is 10,000,100, the positive total
    # 30,000,100: A and B 10,000,100 x 10,000,000 / 30,000,100 = 3,333,355.55 -> 3,333,356
    # each (333.3356 -> 333.34), C 10,000,100 x 10,000,100 / 30,000,100 = 3,333,388.89
    # -> 3,333,389 (333.3389 -> 333.34). The shares add to 10,000,101 units, the cents to
    # 1,000.02: rounding each practice once moves a total by at most half a cent each.
    attribution = pd.DataFrame(
        attribution_rows("m1", "A", MONTHS_2026[:4])
        + attribution_rows("m1", "B", MONTHS_2026[4:8])
        + attribution_rows("m1", "C", MONTHS_2026[8:])
    )
    practices = pd.concat(
        [PRACTICES, PRACTICES.iloc[[0]].assign(practice_id="C", practice_name="C")]
    )
    claims = pd.DataFrame(
        [
            ("c1", "m1", "2026-02-01", 1000.00),
            ("c2", "m1", "2026-06-01", 1000.00),
            ("c3", "m1", "2026-10-01", 1000.01),
        ],
        columns=CLAIMS.columns,
    )
    config = make_config(
        {"settlement": {**TERMS["settlement"], "stop_loss": {"kind": "fixed", "amount": 2000.0}}}
    )
    data = program_from_frames(config, practices, attribution, SCORES.iloc[[0]], claims)
    rows = compute_settlement(data, config, 2026).practices.set_index("practice_id")
    assert rows["truncated_cents"].to_dict() == {"A": 33_334, "B": 33_334, "C": 33_334}


def test_the_displayed_threshold_is_the_one_used():
    # a percentile at 0.5 of m1's 0.00 (no claims) and m2's 0.25: 0.125, half-up 0.13
    # (Python's round(0.125, 2) gives 0.12). m2 is truncated by 0.25 - 0.13 = 0.12.
    claims = [("c1", "m2", "2026-01-05", 0.25)]
    members = pd.DataFrame(
        attribution_rows("m1", "A", MONTHS_2026) + attribution_rows("m2", "A", MONTHS_2026)
    )
    config = make_config(
        {
            "settlement": {
                **TERMS["settlement"],
                "stop_loss": {"kind": "percentile", "percentile": 0.5},
            }
        }
    )
    data = program_from_frames(
        config,
        PRACTICES.iloc[[0]],
        members,
        pd.DataFrame({"member_id": ["m1", "m2"], "mara_px_total": 1.0}),
        pd.DataFrame(claims, columns=CLAIMS.columns),
    )
    settlement = compute_settlement(data, config, 2026)
    assert round(0.125, 2) == 0.12
    assert settlement.notes["stop_loss_threshold"] == "0.13"
    assert settlement.practices.loc[0, "truncated_cents"] == 12


def test_a_zero_share_rate_has_its_own_reason():
    zero = {"Developing": 0.0, "Established": 0.0, "Advanced": 0.0}
    out = _summary(
        [{"budget": 1_000_000, "actual_cost": 950_000}],
        {"sharing": {"savings_share_rate": zero, "quality_share_rate": zero}},
    )
    # 5% savings meet the 2% MSR and the gate, but 50,000 x 0 = 0: NO_SHARE_RATE, not PAID
    assert (out.loc[0, "meets_msr"], out.loc[0, "reason"]) == (True, "NO_SHARE_RATE")
    assert out.loc[0, "final_payment_cents"] == 0
    # the same when the whole share is withheld: 50,000 x 0.40 x (1 - 1.0) = 0
    out = _summary([{"budget": 1_000_000, "actual_cost": 950_000}], {"payment_reduction": 1.0})
    assert (out.loc[0, "share_rate"], out.loc[0, "reason"]) == (0.4, "NO_SHARE_RATE")


def test_claims_too_large_to_sum_exactly_fail_the_run():
    from totalcare_payments.errors import InputError

    # 400 lines of $1,000,000,000 (the largest amount a line may have) add up to $400 billion:
    # 4 x 10**15 units, the most that is summed exactly with room to spare
    claims = [(f"c{i}", "m1", "2026-01-05", 1e9) for i in range(400)]
    with pytest.raises(InputError, match="cannot be summed to the cent") as caught:
        _one_practice(claims)
    assert caught.value.problems[0].reason == "OUT_OF_RANGE"


def test_a_year_without_quality_rows_gives_every_practice_score_0_and_no_gate():
    # the quality file has rows of 2025 only: every practice is missing for 2026, so each
    # has quality_score 0 and missed the gate; A's savings meet the MSR: QUALITY_GATE
    config = make_config(TERMS)
    last_year = QUALITY.assign(year=2025)
    data = program_from_frames(config, PRACTICES, ATTRIBUTION, SCORES, CLAIMS, last_year)
    settlement = compute_settlement(data, config, 2026)
    rows = settlement.practices
    assert rows["quality_score"].tolist() == [0.0, 0.0]
    assert rows["met_quality_gate"].tolist() == [False, False]
    assert rows["reason"].tolist() == ["QUALITY_GATE", "QUALITY_GATE"]
    assert settlement.notes["practices_without_quality"] == 2
