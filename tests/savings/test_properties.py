"""Invariants of the member-level settlement, on random programs (hypothesis).

Each program has switchers, unattributed months, members without claims, fractions of a
cent, reversals dated in other months and practices, and a practice without quality
(``helpers.member_level_programs``).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from helpers import make_config, member_level_programs, stop_losses
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.money import mul_div_half_up, units_to_cents
from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.stop_loss import percentile_cents
from totalcare_payments.savings.waterfall import SETTLEMENT_COLUMNS
from totalcare_payments.savings.year import compute_settlement

MONEY = [c for c in SETTLEMENT_COLUMNS if c.endswith("_cents") and "pmpm" not in c]


def _settle(tables: dict[str, pd.DataFrame], settlement: dict):
    config = make_config({"settlement": settlement})
    data = program_from_frames(config, **tables)
    for table in data.tables():
        assert table.rejects.empty, table.rejects  # the strategy makes clean rows only
    return compute_settlement(data, config, 2026)


@settings(max_examples=60, deadline=None)
@given(
    tables=member_level_programs(),
    stop_loss=stop_losses,
    completion=st.integers(1000, 1200),
)
@pytest.mark.slow
def test_truncation_never_raises_a_practices_cost(tables, stop_loss, completion):
    terms = {"completion_factor": completion / 1000}
    with_stop_loss = _settle(tables, {**terms, "stop_loss": stop_loss}).practices
    without = _settle(tables, {**terms, "stop_loss": {"kind": "none"}}).practices
    assert (with_stop_loss["truncated_cents"] >= 0).all()
    assert (with_stop_loss["claims_paid_cents"] == without["claims_paid_cents"]).all()
    assert (with_stop_loss["actual_cost_cents"] <= without["actual_cost_cents"]).all()


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(tables=member_level_programs(), stop_loss=stop_losses, losses=st.booleans())
def test_control_totals_equal_the_sum_of_the_rows(tables, stop_loss, losses):
    terms: dict = {"stop_loss": stop_loss}
    if losses:
        terms["losses"] = {"enabled": True, "min_loss_rate": 0.01, "loss_rate": 0.5}
    settlement = _settle(tables, terms)
    rows, totals = settlement.practices, settlement.control_totals
    program = totals[totals["scope"] == "program"].iloc[0]
    for column in MONEY:
        assert program[column] == rows[column].sum(), column
        for scope in ("tier", "reason"):  # the tiers' and the reasons' rows add up too
            assert totals.loc[totals["scope"] == scope, column].sum() == program[column]
    assert program["member_months"] == rows["member_months"].sum()
    assert program["practices"] == len(rows)
    assert program["practices_paid"] == (rows["final_payment_cents"] > 0).sum()
    assert settlement.total_paid_cents == rows["final_payment_cents"].clip(lower=0).sum()


@settings(max_examples=60, deadline=None)
@given(
    tables=member_level_programs(),
    limit=st.integers(0, 100),
    reduction=st.integers(0, 100),
    sharing=st.sampled_from(["first_dollar", "net"]),
    msr=st.integers(0, 50),
    losses=st.booleans(),
)
@pytest.mark.slow
def test_a_payment_never_exceeds_the_payment_limit(tables, limit, reduction, sharing, msr, losses):
    terms: dict = {
        "payment_limit": limit / 100,
        "payment_reduction": reduction / 100,
        "msr": {"kind": "fixed", "rate": msr / 1000, "sharing": sharing, "table": None},
        "quality": {"gate": False},
    }
    if losses:
        terms["losses"] = {"enabled": True, "min_loss_rate": 0.0, "loss_rate": 0.6}
    rows = _settle(tables, terms).practices
    limit_cents = rows["payment_limit_amount_cents"]
    # limit = to_cents(payment_limit x budget): never above the budget's share, and >= 0
    assert (limit_cents >= 0).all()
    assert (rows["earned_cents"] <= limit_cents).all()
    assert (rows["final_payment_cents"] <= limit_cents).all()
    assert (rows["final_payment_cents"] == rows["earned_cents"] - rows["shared_loss_cents"]).all()
    capped = rows["reason"] == "CAPPED"
    assert (rows.loc[capped, "final_payment_cents"] == limit_cents[capped]).all()


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=40),
    percentile=st.integers(1, 999_999),
)
def test_the_percentile_threshold_is_exact(values, percentile):
    # h = (n - 1) x p, k = floor(h); x[k] + (h - k) x (x[k+1] - x[k]), in exact fractions,
    # then half-up to cents and at least 0
    x = sorted(values)
    p = Fraction(percentile, 10**6)
    h = (len(x) - 1) * p
    k = int(h)
    value = x[k] + (h - k) * (x[min(k + 1, len(x) - 1)] - x[k])  # units
    cents = Fraction(value, 100)
    expected = int(cents + Fraction(1, 2)) if cents >= 0 else -int(-cents + Fraction(1, 2))
    assert percentile_cents(np.array(values), percentile / 10**6) == max(expected, 0)
    # and it is numpy's linear interpolation, to the cent
    numpy_value = float(np.quantile(np.array(values, dtype=float), percentile / 10**6))
    assert (
        abs(percentile_cents(np.array(values), percentile / 10**6) - max(numpy_value, 0) / 100) <= 1
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_exact_integer_helpers(data):
    c = data.draw(st.integers(1, 2**53 - 1))
    b = data.draw(st.integers(0, c))
    a = data.draw(st.integers(0, 2**53 - 1))
    # round half-up of a x b / c, in exact integers
    assert int(mul_div_half_up(np.array([a]), np.array([b]), np.array([c]))[0]) == (
        2 * a * b + c
    ) // (2 * c)
    u = data.draw(st.integers(-(2**62), 2**62))
    # units to cents: half away from zero
    expected = (abs(u) + 50) // 100 * (1 if u >= 0 else -1)
    assert int(units_to_cents(u)) == expected
