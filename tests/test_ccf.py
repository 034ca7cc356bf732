"""Care Coordination Fee: hand-computed examples of each rate model, and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import CONFIGS, make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import load_config
from totalcare_payments.inputs.checks import accounting_of
from totalcare_payments.periods import parse_month_range
from totalcare_payments.program import program_from_frames

PRACTICES = pd.DataFrame(
    {
        "practice_id": ["A", "B", "C"],
        "practice_name": ["Alpha Clinic", "Beta Family Medicine", "Gamma Health"],
        "tier": ["Advanced", "Developing", "Established"],
        "baseline_pmpm": [400.0, 400.0, 400.0],
        "baseline_risk": [1.0, 1.0, 1.0],
    }
)
ATTRIBUTION = pd.DataFrame(
    {
        "member_id": ["a1", "a2", "a3", "b1", "b2", "c1", "a1"],
        "practice_id": ["A", "A", "A", "B", "B", "C", "A"],
        "year_month": ["2026-03"] * 6 + ["2026-04"],
    }
)
# a3 has no score: it gets the default score 1.0. "zz" is not attributed: excluded.
SCORES = pd.DataFrame(
    {
        "member_id": ["a1", "a2", "b1", "b2", "c1", "zz"],
        "mara_px_total": [1.20, 0.90, 0.50, 0.70, 2.00, 3.00],
        "mara_cx_total": [9.0, 9.0, 9.0, 9.0, 9.0, 9.0],  # other vendor columns are ignored
    }
)
MARCH = parse_month_range("2026-03")


def _batch(config, attribution=ATTRIBUTION, scores=SCORES, practices=PRACTICES, months=MARCH):
    data = program_from_frames(config, practices, attribution, scores)
    return compute_ccf(data, config, months), data


def _by_practice(lines: pd.DataFrame) -> dict[str, tuple]:
    return {
        r.practice_id: (
            r.attributed_members,
            r.avg_risk_score,
            r.pmpm_rate_cents,
            r.ccf_amount_cents,
        )
        for r in lines.itertuples()
    }


def test_bands_with_tier_multipliers_hand_computed():
    batch, data = _batch(load_config(CONFIGS / "bluekc_medical_home.toml"))
    # A: (1.20 + 0.90 + 1.00 default) / 3 = 1.0333 -> band [1.00, 1.25) $5.00 x Advanced 1.20
    #    = $6.00 PMPM; 3 members x $6.00 = $18.00
    # B: (0.50 + 0.70) / 2 = 0.60 -> band [0, 0.85) $2.50 x Developing 0.90 = $2.25; 2 x = $4.50
    # C: 2.00 -> band [1.60, ...) $10.00 x Established 1.00 = $10.00; 1 x = $10.00
    assert _by_practice(batch.lines) == {
        "A": (3, 1.0333, 600, 1800),
        "B": (2, 0.6, 225, 450),
        "C": (1, 2.0, 1000, 1000),
    }
    assert batch.total_cents == 1800 + 450 + 1000
    assert batch.members_defaulted == 1
    accounting = accounting_of(data.tables(), batch.uses)
    assert accounting["attribution"] == {
        "read": 7,
        "used": 6,
        "excluded": {"OUTSIDE_PERIOD": 1},
        "rejected": {},
    }
    assert accounting["risk_scores"]["excluded"] == {"NOT_ATTRIBUTED": 1}


def test_linear_rate_clamped_and_rounded_half_up():
    config = make_config(
        {
            "ccf": {
                "rate_model": "linear",
                "bands": None,
                "linear": {"base_pmpm": 4.00, "floor_pmpm": 3.00, "ceiling_pmpm": 8.00},
            }
        }
    )
    batch, _ = _batch(config)
    # A: 4.00 x 1.0333 = 4.1332, x 1.20 = 4.95984 -> $4.96; 3 x 4.96 = $14.88
    # B: 4.00 x 0.60 = 2.40 -> floor 3.00, x 0.90 = $2.70; 2 x 2.70 = $5.40
    # C: 4.00 x 2.00 = 8.00 (ceiling 8.00), x 1.00 = $8.00
    assert _by_practice(batch.lines) == {
        "A": (3, 1.0333, 496, 1488),
        "B": (2, 0.6, 270, 540),
        "C": (1, 2.0, 800, 800),
    }


def test_member_tiers_cpc_plus_quartiles():
    batch, _ = _batch(load_config(CONFIGS / "cpc_plus_track1.toml"))
    # March scores, sorted: 0.5, 0.7, 0.9, 1.0 (a3 default), 1.2, 2.0.
    # Quartile cut points (linear interpolation): q25 = 0.7 + 0.25 x 0.2 = 0.75,
    # q50 = (0.9 + 1.0) / 2 = 0.95, q75 = 1.0 + 0.75 x 0.2 = 1.15.
    # Tiers: 0.5, 0.7 -> $6; 0.9 -> $8.50; 1.0 -> $16; 1.2, 2.0 -> $30.
    # A: 30 + 8.50 + 16 = $54.50 (avg $18.17); B: 6 + 6 = $12.00; C: $30.00
    assert _by_practice(batch.lines) == {
        "A": (3, 1.0333, 1817, 5450),
        "B": (2, 0.6, 600, 1200),
        "C": (1, 2.0, 3000, 3000),
    }


def test_normalization_makes_population_mean_one():
    config = make_config({"risk": {"normalize": True}})
    batch, _ = _batch(config)
    # population mean of the 6 member-months: (1.2+0.9+1.0+0.5+0.7+2.0)/6 = 1.05
    # A: 1.0333.../1.05 = 0.98413 -> band [0.85,1.00) $3.50 x 1.2 = $4.20; 3 x = $12.60
    # B: 0.60/1.05 = 0.57143 -> $2.50 x 0.9 = $2.25; C: 2.0/1.05 = 1.90476 -> $10.00
    lines = _by_practice(batch.lines)
    assert lines["A"] == (3, 0.9841, 420, 1260)
    assert lines["B"] == (2, 0.5714, 225, 450)
    assert lines["C"] == (1, 1.9048, 1000, 1000)
    weights = batch.lines["attributed_members"]
    assert abs((batch.lines["avg_risk_score"] * weights).sum() / weights.sum() - 1.0) < 1e-3


def test_several_months_and_control_totals():
    batch, _ = _batch(
        load_config(CONFIGS / "bluekc_medical_home.toml"),
        months=parse_month_range("2026-03..2026-04"),
    )
    # April: only a1 (1.20) at A -> band $5.00 x 1.2 = $6.00
    april = batch.lines[batch.lines["year_month"] == "2026-04"]
    assert april[["practice_id", "ccf_amount_cents"]].values.tolist() == [["A", 600]]
    totals = batch.control_totals.set_index(["scope", "key"])
    assert totals.loc[("batch", "all"), "ccf_amount_cents"] == 3250 + 600
    assert totals.loc[("month", "2026-04"), "member_months"] == 1
    assert totals.loc[("tier", "Advanced"), "ccf_amount_cents"] == 1800 + 600


# ---- property tests -------------------------------------------------------------------------

member_rows = st.lists(
    st.tuples(
        st.integers(0, 40),  # member
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(["2026-01", "2026-02", "2026-03"]),
        st.floats(0.05, 6.0, allow_nan=False),
    ),
    min_size=1,
    max_size=120,
)


def _random_program(rows):
    frame = pd.DataFrame(rows, columns=["member", "practice_id", "year_month", "score"])
    frame = frame.drop_duplicates(["member", "year_month"])  # one practice per member-month
    frame["member_id"] = "m" + frame["member"].astype(str)
    scores = frame.drop_duplicates("member_id")[["member_id", "score"]].rename(
        columns={"score": "mara_px_total"}
    )
    return frame[["member_id", "practice_id", "year_month"]], scores


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(rows=member_rows, model=st.sampled_from(["bands", "linear", "member_tiers"]))
def test_fees_never_negative_and_totals_tie(rows, model):
    attribution, scores = _random_program(rows)
    changes = {
        "linear": {"ccf": {"rate_model": "linear", "linear": {"base_pmpm": 5.0}}},
        "member_tiers": {
            "ccf": {
                "rate_model": "member_tiers",
                "member_tiers": {"quantiles": [0.25, 0.5, 0.75], "pmpm": [6.0, 8.5, 16.0, 30.0]},
            }
        },
        "bands": {},
    }[model]
    months = sorted(attribution["year_month"].unique())
    batch, _ = _batch(
        make_config(changes), attribution, scores, months=parse_month_range(",".join(months))
    )
    lines = batch.lines
    assert (lines["ccf_amount_cents"] >= 0).all()
    assert (lines["pmpm_rate_cents"] >= 0).all()
    assert lines["attributed_members"].sum() == len(attribution)
    totals = batch.control_totals.set_index(["scope", "key"])
    assert totals.loc[("batch", "all"), "ccf_amount_cents"] == lines["ccf_amount_cents"].sum()
    assert totals.loc[totals.index.get_level_values(0) == "tier", "ccf_amount_cents"].sum() == (
        lines["ccf_amount_cents"].sum()
    )
    if model == "bands":
        assert (
            lines["ccf_amount_cents"] == lines["attributed_members"] * lines["pmpm_rate_cents"]
        ).all()


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(rows=member_rows, seed=st.integers(0, 2**32 - 1))
def test_reordering_input_rows_changes_nothing(rows, seed):
    attribution, scores = _random_program(rows)
    months = parse_month_range(",".join(sorted(attribution["year_month"].unique())))
    config = make_config()
    first, _ = _batch(config, attribution, scores, months=months)
    rng = np.random.default_rng(seed)
    shuffled_attr = attribution.iloc[rng.permutation(len(attribution))]
    shuffled_scores = scores.iloc[rng.permutation(len(scores))]
    shuffled_practices = PRACTICES.iloc[rng.permutation(len(PRACTICES))]
    second, _ = _batch(config, shuffled_attr, shuffled_scores, shuffled_practices, months=months)
    pd.testing.assert_frame_equal(first.lines, second.lines)


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(
    rows=member_rows,
    model=st.sampled_from(["bands", "member_tiers"]),
    normalize=st.booleans(),
)
def test_ccf_is_additive_over_months(rows, model, normalize):
    """A batch of several months is, line by line, each month's batch run alone."""
    attribution, scores = _random_program(rows)
    changes: dict = {"risk": {"normalize": normalize}}
    if model == "member_tiers":
        changes["ccf"] = {
            "rate_model": "member_tiers",
            "member_tiers": {"quantiles": [0.25, 0.5, 0.75], "pmpm": [6.0, 8.5, 16.0, 30.0]},
        }
    config = make_config(changes)
    months = sorted(attribution["year_month"].unique())
    together, _ = _batch(config, attribution, scores, months=parse_month_range(",".join(months)))
    alone = [
        _batch(config, attribution, scores, months=parse_month_range(month))[0] for month in months
    ]
    pd.testing.assert_frame_equal(
        together.lines, pd.concat([b.lines for b in alone], ignore_index=True)
    )
    assert together.total_cents == sum(b.total_cents for b in alone)
