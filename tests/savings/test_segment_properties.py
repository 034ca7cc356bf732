"""Invariants of a budget per segment, on random programs whose members change segment from
month to month (hypothesis; ``helpers.segmented_programs``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import make_config, member_level_programs, segmented_programs
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.year import compute_settlement

pytestmark = pytest.mark.slow

UNCAPPED = {"risk_ratio_max": None, "stop_loss": {"kind": "none"}}


def _settle(tables: dict[str, pd.DataFrame], settlement: dict | None = None):
    config = make_config({"settlement": settlement} if settlement else None)
    data = program_from_frames(config, **tables)
    for table in data.tables():
        assert table.rejects.empty, table.rejects  # the strategy makes clean rows only
    return compute_settlement(data, config, 2026)


@settings(max_examples=60, deadline=None)
@given(tables=segmented_programs(), order=st.permutations(["x", "y", "z"]))
def test_the_budget_does_not_depend_on_the_segments_names(tables, order) -> None:
    """Renaming the segments (and so their order) renames the audit rows, nothing else."""
    names = dict(zip(["s1", "s2", "s3"], order, strict=True))
    renamed = {
        **tables,
        "attribution": tables["attribution"].assign(
            segment=tables["attribution"]["segment"].map(names)
        ),
        "baselines": tables["baselines"].assign(segment=tables["baselines"]["segment"].map(names)),
    }
    a, b = _settle(tables), _settle(renamed)
    for column in ("budget_cents", "final_payment_cents", "actual_cost_cents", "reason"):
        assert a.practices[column].tolist() == b.practices[column].tolist()
    left = a.segments.assign(segment=a.segments["segment"].map(names))
    right = b.segments
    merged = left.merge(right, on=["practice_id", "segment"], suffixes=("", "_renamed"))
    assert len(merged) == len(left) == len(right)
    assert (merged["budget_cents"] == merged["budget_cents_renamed"]).all()


@settings(max_examples=60, deadline=None)
@given(tables=segmented_programs(), split=st.data())
def test_splitting_a_segment_in_two_of_the_same_baseline_changes_only_rounding(
    tables, split
) -> None:
    """s1's member-months split at random into s1a and s1b, both with s1's baselines. Without
    a cap the budget is linear in risk, so it moves only by the rounding of each part: its
    average risk to 4 places (at most 0.00005 / baseline_risk of the ratio), the ratio to 6
    places (5e-7) and the budget PMPM to the cent, per member-month, for each of the two."""
    attribution = tables["attribution"]
    halves = split.draw(
        st.lists(
            st.sampled_from(["s1a", "s1b"]), min_size=len(attribution), max_size=len(attribution)
        )
    )
    in_s1 = attribution["segment"] == "s1"
    parts = attribution.assign(segment=attribution["segment"].where(~in_s1, pd.Series(halves)))
    baselines = tables["baselines"]
    s1 = baselines[baselines["segment"] == "s1"]
    split_baselines = pd.concat(
        [
            baselines[baselines["segment"] != "s1"],
            s1.assign(segment="s1a"),
            s1.assign(segment="s1b"),
        ]
    )
    whole = _settle(tables, UNCAPPED)
    halved = _settle({**tables, "attribution": parts, "baselines": split_baselines}, UNCAPPED)
    segments = whole.segments.set_index(["practice_id", "segment"])
    for row in whole.practices.itertuples():
        moved = abs(
            row.budget_cents
            - halved.practices.set_index("practice_id").loc[row.practice_id, "budget_cents"]
        )
        key = (row.practice_id, "s1")
        if key not in segments.index:
            assert moved == 0
            continue
        s = segments.loc[key]
        per_month_dollars = (
            s["baseline_pmpm_cents"]
            / 100
            * s["trend_factor"]
            * (0.00005 / s["baseline_risk"] + 5e-7)
            + 0.005
        )
        assert moved <= 2 * s["member_months"] * per_month_dollars * 100 + 1e-6


@settings(max_examples=40, deadline=None)
@given(tables=member_level_programs())
def test_one_segment_with_the_practices_baselines_is_the_practice_level_settlement(tables) -> None:
    practices = tables["practices"]
    baselines = practices[["practice_id", "baseline_pmpm", "baseline_risk"]].assign(segment="all")
    plain = _settle(tables)
    with_baselines = _settle({**tables, "baselines": baselines})
    pd.testing.assert_frame_equal(plain.practices, with_baselines.practices)
    assert np.array_equal(
        with_baselines.segments["budget_cents"].to_numpy(),
        plain.practices["budget_cents"].to_numpy(),
    )
