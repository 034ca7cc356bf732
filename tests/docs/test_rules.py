"""Every example of docs/methodology.md, recomputed by the engine.

Each test builds the example's program, runs the engine and checks the page's figures
(``doc_example``); the arithmetic is in the comments, so a figure that follows neither the
page nor the comment fails here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from helpers import CONFIGS, MONTHS_2026, attribution_rows, cents_text, doc_example, make_config

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import MsrTerms
from totalcare_payments.inputs.checks import accounting_of
from totalcare_payments.money import to_cents, units_to_cents
from totalcare_payments.periods import parse_month_range
from totalcare_payments.program import program_from_frames
from totalcare_payments.savings.msr import msr_from_table
from totalcare_payments.savings.summary import settle_summary
from totalcare_payments.savings.waterfall import risk_adjusted_budget, row_terms
from totalcare_payments.savings.year import compute_settlement

# Member-level examples: stop-loss $10,000, fixed MSR 2%, completion factor 1.0.
TERMS = {
    "completion_factor": 1.0,
    "stop_loss": {"kind": "fixed", "amount": 10000.0},
    "msr": {"kind": "fixed", "rate": 0.02, "table": None},
}
CLAIM_COLUMNS = ["claim_id", "member_id", "claim_start_date", "paid_amount"]


def _practices(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "practice_id": ids,
            "practice_name": [f"Practice {i}" for i in ids],
            "tier": "Established",
            "baseline_pmpm": 1000.0,
            "baseline_risk": 1.0,
        }
    )


def _settle(attribution: list[dict], claims: list[tuple], changes: dict | None = None, **kw):
    config = make_config({"settlement": {**TERMS, **(changes or {})}})
    members = sorted({row["member_id"] for row in attribution})
    practices = kw.get("practices", sorted({row["practice_id"] for row in attribution}))
    quality = kw.get(
        "quality",
        pd.DataFrame(
            {
                "practice_id": practices,
                "year": 2026,
                "quality_score": 0.6,
                "met_quality_gate": True,
            }
        ),
    )
    data = program_from_frames(
        config,
        _practices(practices),
        pd.DataFrame(attribution),
        pd.DataFrame({"member_id": members, "mara_px_total": 1.0}),
        pd.DataFrame(claims, columns=CLAIM_COLUMNS),
        quality,
    )
    settlement = compute_settlement(data, config, 2026)
    return settlement, data, settlement.practices.set_index("practice_id")


def test_rounding():
    doc = doc_example("rounding")
    for x in ("0.125", "-0.125", "1.005", "2.675"):
        assert cents_text(int(to_cents(float(x)))) == doc[f"to_cents({x})"]
    # 1.005 x 100 is 100.49999999999999 in binary: rounding it alone would give 100 cents
    assert 1.005 * 100 < 100.5
    for units in (50, -150):
        assert cents_text(int(units_to_cents(units))) == doc[f"units_to_cents({units})"]


def test_member_tiers():
    doc = doc_example("member-tiers")
    config = make_config(
        {"ccf": {"tier_multipliers": {"Established": 1.05}}}, base=CONFIGS / "cpc_plus_track1.toml"
    )
    members = [f"m{i}" for i in range(1, 10)]
    data = program_from_frames(
        config,
        _practices(["A"]),
        pd.DataFrame({"member_id": members, "practice_id": "A", "year_month": "2026-03"}),
        pd.DataFrame({"member_id": members, "mara_px_total": np.arange(1.0, 10.0)}),
    )
    line = compute_ccf(data, config, parse_month_range("2026-03")).lines.iloc[0]
    # cut points: h = (9 - 1) x 0.25, 0.5, 0.75 = 2, 4, 6 -> the scores 3, 5 and 7
    assert np.quantile(np.arange(1.0, 10.0), [0.25, 0.5, 0.75]).tolist() == [3.0, 5.0, 7.0]
    assert doc["cut points"] == "3, 5, 7"
    # on a cut point, the higher tier: {1, 2} $6, {3, 4} $8.50, {5, 6} $16, {7, 8, 9} $30
    assert [doc[f"members at ${fee}"] for fee in ("6.00", "8.50", "16.00", "30.00")] == [
        "2",
        "2",
        "2",
        "3",
    ]
    # each fee rounded: 8.50 x 1.05 = 8.925 -> 8.93
    assert doc["fee at $8.50"] == cents_text(int(to_cents(8.50 * 1.05))) == "8.93"
    # 2 x 6.30 + 2 x 8.93 + 2 x 16.80 + 3 x 31.50 = 12.60 + 17.86 + 33.60 + 94.50 = 158.56
    assert line.ccf_amount_cents == 1260 + 1786 + 3360 + 9450
    assert doc["ccf_amount"] == cents_text(line.ccf_amount_cents)
    # 158.56 / 9 = 17.6178 -> 17.62
    assert doc["pmpm_rate"] == cents_text(line.pmpm_rate_cents) == "17.62"


def test_subcent_claims():
    doc = doc_example("subcent-claims")
    attribution = attribution_rows("m1", "A", MONTHS_2026) + attribution_rows(
        "m2", "B", MONTHS_2026
    )
    claims = [
        ("c1", "m1", "2026-01-10", 10.0049),
        ("c2", "m1", "2026-02-10", 10.0049),
        ("c3", "m1", "2026-03-10", 10.0049),
        ("c4", "m1", "2026-04-10", 12.34567),  # a fifth decimal: rejected
        ("c5", "m2", "2026-05-10", 20.0025),
        ("c6", "m2", "2026-06-10", 20.0025),
    ]
    _, data, rows = _settle(attribution, claims)
    # A: 3 x 100,049 units = 300,147 units = 30.0147 -> 30.01 (line by line: 3 x 10.00)
    assert rows.loc["A", "claims_paid_cents"] == 3001
    # B: 2 x 200,025 = 400,050 units = 40.005 -> half-up 40.01
    assert rows.loc["B", "claims_paid_cents"] == 4001
    assert doc["A claims_paid"] == cents_text(rows.loc["A", "claims_paid_cents"])
    assert doc["B claims_paid"] == cents_text(rows.loc["B", "claims_paid_cents"])
    assert data.claims is not None
    assert data.claims.rejects["reason"].tolist() == ["TOO_MANY_DECIMALS"]
    assert doc["rejected lines"] == "1"


def test_reversals():
    doc = doc_example("reversals")
    attribution = attribution_rows("m1", "A", MONTHS_2026[:6]) + attribution_rows(
        "m1", "B", MONTHS_2026[6:11]
    )
    claims = [
        ("c1", "m1", "2026-06-20", 500.00),  # June: A
        ("c1", "m1", "2026-07-02", -500.00),  # its reversal, July: B
        ("c2", "m1", "2026-11-10", 300.00),  # November: B
        ("c2", "m1", "2026-12-05", -300.00),  # its reversal, December: attributed nowhere
        ("c3", "m1", "2026-03-01", 200.00),  # March: A
    ]
    settlement, data, rows = _settle(attribution, claims)
    # A: 500 + 200 = 700.00; B: -500 + 300 = -200.00; the December reversal is dropped
    assert rows.loc["A", "claims_paid_cents"] == 70000
    assert rows.loc["B", "claims_paid_cents"] == -20000
    assert doc["A claims_paid"] == cents_text(rows.loc["A", "claims_paid_cents"])
    assert doc["B claims_paid"] == cents_text(rows.loc["B", "claims_paid_cents"])
    excluded = accounting_of(data.tables(), settlement.uses)["claims"]["excluded"]
    assert excluded == {"NOT_ATTRIBUTED": 1}
    assert doc["claims excluded, not attributed"] == "1"
    assert settlement.notes["claims_not_attributed_amount"] == "-300.00"
    assert doc["claims_not_attributed_amount"] == "-300.00"


def _stop_loss_split_program():
    attribution = (
        attribution_rows("m1", "A", MONTHS_2026[:6])
        + attribution_rows("m1", "B", MONTHS_2026[6:])
        + attribution_rows("m2", "A", MONTHS_2026[:4])
        + attribution_rows("m2", "B", MONTHS_2026[4:8])
        + attribution_rows("m2", "C", MONTHS_2026[8:])
    )
    claims = [
        ("c1", "m1", "2026-02-11", 9000.00),  # A
        ("c2", "m1", "2026-08-05", 3000.00),  # B
        ("c3", "m2", "2026-01-10", 8000.00),  # A
        ("c4", "m2", "2025-12-15", 1000.00),  # outside the year
        ("c4", "m2", "2026-06-01", -1000.00),  # its reversal, June: B
        ("c5", "m2", "2026-10-01", 6000.00),  # C
    ]
    return attribution, claims


def test_stop_loss_split_over_positive_parts():
    doc = doc_example("stop-loss-split")
    settlement, _, rows = _settle(*_stop_loss_split_program())
    # m1: 12,000 - 10,000 = 2,000 over; m2: 8,000 - 1,000 + 6,000 = 13,000, 3,000 over
    assert doc["m1 excess"] == "2000.00" and doc["m2 excess"] == "3000.00"
    # m2's positive parts: A 8,000, C 6,000 (B's -1,000 takes nothing), in units:
    # A 30,000,000 x 80,000,000 / 140,000,000 = 17,142,857.14 -> 17,142,857 (1,714.2857)
    # C 30,000,000 x 60,000,000 / 140,000,000 = 12,857,142.86 -> 12,857,143 (1,285.7143)
    assert doc["m2's share at A"] == "1714.2857"
    assert doc["m2's share at B"] == "0.0000"
    assert doc["m2's share at C"] == "1285.7143"
    # A: m1's 2,000 x 9,000 / 12,000 = 1,500.0000 + 1,714.2857 = 3,214.2857 -> 3,214.29
    # B: m1's 2,000 x 3,000 / 12,000 = 500.00; C: 1,285.7143 -> 1,285.71
    assert rows["truncated_cents"].to_dict() == {"A": 321429, "B": 50000, "C": 128571}
    for practice in "ABC":
        assert doc[f"{practice} truncated"] == cents_text(rows.loc[practice, "truncated_cents"])
    # the signed split would have given B 500.00 + (-1,000 x 3,000 / 13,000 = -230.77)
    assert round(500 - 1000 * 3000 / 13000, 2) == 269.23
    # actual cost: A 17,000 - 3,214.29 = 13,785.71; B 3,000 - 1,000 - 500 = 1,500.00
    assert doc["A actual_cost"] == cents_text(rows.loc["A", "actual_cost_cents"]) == "13785.71"
    assert doc["B actual_cost"] == cents_text(rows.loc["B", "actual_cost_cents"]) == "1500.00"
    assert settlement.notes["members_truncated"] == int(doc["members_truncated"]) == 2


def test_stop_loss_edges():
    doc = doc_example("stop-loss-edges")
    # a member at exactly 10,000.00: 6,521.21 + 2,502.26 + 976.53, in float 10,000.000000000002
    assert 6521.21 + 2502.26 + 976.53 > 10000.0
    at_limit = [
        ("c1", "m1", "2026-03-01", 6521.21),
        ("c2", "m1", "2026-03-02", 2502.26),
        ("c3", "m1", "2026-03-03", 976.53),
    ]
    settlement, _, rows = _settle(attribution_rows("m1", "A", MONTHS_2026), at_limit)
    assert rows.loc["A", "truncated_cents"] == 0
    assert doc["truncated, a member at exactly 10,000.00"] == "0.00"
    assert settlement.notes["members_truncated"] == int(doc["members_truncated"]) == 0
    # 5,000.005 at A and 5,000.005 at B: 100 units over, 50 units each, each -> $0.01
    attribution = attribution_rows("m1", "A", MONTHS_2026[:6]) + attribution_rows(
        "m1", "B", MONTHS_2026[6:]
    )
    split = [("c1", "m1", "2026-02-01", 5000.005), ("c2", "m1", "2026-09-01", 5000.005)]
    _, _, rows = _settle(attribution, split)
    assert rows["truncated_cents"].to_dict() == {"A": 1, "B": 1}
    assert doc["A truncated, an excess of 0.01 split equally"] == "0.01"
    assert doc["B truncated, the same member"] == "0.01"


def test_percentile_stop_loss():
    doc = doc_example("percentile-stop-loss")
    attribution = [row for m in range(1, 6) for row in attribution_rows(f"m{m}", "A", MONTHS_2026)]
    claims = [  # m1 has no claims
        ("c2", "m2", "2026-01-05", 1000.01),
        ("c3", "m3", "2026-02-05", 2000.00),
        ("c4", "m4", "2026-03-05", 4000.03),
        ("c5", "m5", "2026-04-05", 10000.00),
    ]
    changes = {"stop_loss": {"kind": "percentile", "percentile": 0.9}}
    settlement, _, rows = _settle(attribution, claims, changes)
    # h = (5 - 1) x 0.9 = 3.6: 4,000.03 + 0.6 x 5,999.97 = 7,600.012 -> 7,600.01
    assert settlement.notes["stop_loss_threshold"] == doc["stop_loss_threshold"] == "7600.01"
    # leaving m1 out: h = 3 x 0.9 = 2.7: 4,000.03 + 0.7 x 5,999.97 = 8,200.009
    assert round(4000.03 + 0.7 * 5999.97, 2) == 8200.01
    # m5: 10,000.00 - 7,600.01 = 2,399.99
    assert doc["truncated"] == cents_text(rows.loc["A", "truncated_cents"]) == "2399.99"
    assert settlement.notes["members_truncated"] == int(doc["members_truncated"]) == 1


def test_msr_table():
    doc = doc_example("msr-table")
    bands = [(100, 1000, 0.06, 0.04), (1000, 5000, 0.039, 0.03), (6000, 10000, 0.025, 0.02)]
    terms = MsrTerms.model_validate(
        {
            "kind": "table",
            "table": [
                {"min_population": a, "max_population": b, "msr_at_min": c, "msr_at_max": d}
                for a, b, c, d in bands
            ],
        }
    )
    populations = [50, 550, 1000, 3000, 5500, 20000]
    got = msr_from_table(terms, np.array(populations, dtype=float))
    # 50: 6%; 550: 6% - 2% x 450/900 = 5%; 1000: 3.9% (the later band); 3000: 3.9% - 0.9% x
    # 2000/4000 = 3.45%; 5500: 3% (the lower band's end); 20000: 2%
    expected = [0.06, 0.05, 0.039, 0.0345, 0.03, 0.02]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)
    for population, value in zip(populations, expected, strict=True):
        assert float(doc[f"msr at {population}"]) == value


def _summary(rows: list[dict], changes: dict | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{"tier": "Established", "quality_score": 0.6, "met_quality_gate": True, **r} for r in rows]
    )
    frame.insert(0, "practice_id", [f"P{i}" for i in range(len(frame))])
    config = make_config(
        {"settlement": {"msr": {"kind": "fixed", "rate": 0.02, "table": None}, **(changes or {})}}
    )
    return settle_summary(frame, config, 2026).practices


def test_net_sharing():
    doc = doc_example("net-sharing")
    row = _summary(
        [{"budget": 123_456.78, "actual_cost": 118_456.78}],
        {"msr": {"kind": "fixed", "rate": 0.02, "sharing": "net"}},
    ).iloc[0]
    assert doc["savings"] == cents_text(row.savings_cents) == "5000.00"
    # msr x budget = 0.02 x 123,456.78 = 2,469.1356 -> 2,469.14, then subtracted
    assert doc["msr x budget"] == "2469.14"
    assert doc["qualifying_savings"] == cents_text(row.qualifying_savings_cents) == "2530.86"
    # share 0.25 + 0.25 x 0.6 = 0.40: 2,530.86 x 0.40 = 1,012.344 -> 1,012.34
    assert doc["earned"] == cents_text(row.earned_cents) == "1012.34"
    # the other reading: (5,000 - 2,469.1356) x 0.40 = 1,012.34576 -> 1,012.35
    assert int(to_cents((5000 - 2469.1356) * 0.40)) == 101235


def test_risk_ratio_clamped_then_rounded():
    doc = doc_example("risk-ratio")
    config = make_config({"settlement": {"risk_ratio_min": 0.9000005, "risk_ratio_max": 1.0300004}})
    rows = pd.DataFrame(
        {
            "avg_risk_score": [1.0603, 0.85],
            "baseline_risk": [0.9597, 1.0],
            "baseline_pmpm_cents": [100000, 100000],
            "member_months": [12, 12],
        }
    )
    out = risk_adjusted_budget(rows, row_terms(config, pd.Series(["Established"] * 2), 2026))
    # 1.0603 / 0.9597 = 1.104824..., clamped to 1.0300004, rounded to 6 places: 1.030000
    # 0.85 clamped to 0.9000005, rounded half-up: 0.900001
    assert out["risk_ratio"].tolist() == [1.03, 0.900001]
    assert float(doc["risk_ratio, bound 1.0300004"]) == 1.03
    assert float(doc["risk_ratio, bound 0.9000005"]) == 0.900001
    # 1,000.00 x 0.900001 x 1.04 = 936.00104 -> 936.00
    assert doc["budget_pmpm at 0.900001"] == cents_text(out["budget_pmpm_cents"].iloc[1])


def test_reason_precedence():
    doc = doc_example("reasons")
    zero_share = {
        "savings_share_rate": {"Developing": 0.0},
        "quality_share_rate": {"Developing": 0.0},
    }
    out = _summary(
        [
            {"budget": 1_000_000, "actual_cost": 985_000, "met_quality_gate": False},  # 1.5%
            {"budget": 1_000_000, "actual_cost": 950_000, "met_quality_gate": False},  # 5%
            {"budget": 1_000_000, "actual_cost": 950_000, "tier": "Developing"},
            {"budget": 1_000_000, "actual_cost": 950_000},
        ],
        {"sharing": zero_share},
    )
    assert out["reason"].tolist() == [
        doc["1.5% savings, gate missed"],
        doc["5% savings, gate missed"],
        doc["5% savings, a tier whose share rates are 0"],
        doc["5% savings, share 0.40"],
    ]
    # 50,000.00 x (0.25 + 0.25 x 0.6) = 20,000.00; the others nothing
    assert out["final_payment_cents"].tolist() == [0, 0, 0, 2_000_000]


def test_missing_quality_and_members():
    doc = doc_example("missing-rows")
    attribution = (
        attribution_rows("a1", "A", MONTHS_2026)
        + attribution_rows("b1", "B", MONTHS_2026)
        + attribution_rows("c1", "C", MONTHS_2026[:1])
    )
    claims = [("x1", "a1", "2026-02-01", 100.0)]
    quality = pd.DataFrame(
        {
            "practice_id": ["A", "C", "D"],
            "year": 2026,
            "quality_score": 0.8,
            "met_quality_gate": True,
        }
    )
    settlement, data, rows = _settle(
        attribution, claims, practices=["A", "B", "C", "D"], quality=quality
    )
    assert str(rows.loc["B", "quality_score"]) == doc["B quality_score"]
    assert str(rows.loc["B", "met_quality_gate"]) == doc["B met_quality_gate"]
    assert rows.loc["B", "reason"] == doc["B reason"] == "QUALITY_GATE"
    assert ", ".join(rows.index) == doc["settlement rows"]
    assert settlement.notes["practices_without_members"] == int(doc["practices_without_members"])
    assert settlement.notes["practices_without_quality"] == 1
    config = make_config({"settlement": TERMS})
    march = compute_ccf(data, config, parse_month_range("2026-03")).lines
    assert ", ".join(march["practice_id"]) == doc["CCF lines in March"]
