"""The savings engine on real published Medicare Shared Savings Program settlements (issue 4).

The reference files are CMS's ACO Public Use Files, read where they live (never copied
into the project): ``$TOTALCARE_MSSP_DIR``, by default ``../shared/reference/mssp`` beside
the checkout. Without them the ``reference`` tests skip, except in CI (CI=true), where a
missing file fails. The presets, the golden rows and the CLI on a small hand-made file
run everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from totalcare_payments.cli.mssp import mssp_check
from totalcare_payments.config import load_config
from totalcare_payments.errors import InputError
from totalcare_payments.mssp import check as mssp_check_module
from totalcare_payments.mssp import puf
from totalcare_payments.savings.msr import minimum_savings_rate
from totalcare_payments.savings.summary import settle_summary

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(
    os.environ.get("TOTALCARE_MSSP_DIR", str(ROOT.parent / "shared" / "reference" / "mssp"))
)
PUF = {
    2013: "mssp_puf_2013.csv",
    2014: "mssp_puf_2014.csv",
    2018: "mssp_puf_2018.csv",
    2022: "mssp_puf_2022.csv",
    2023: "mssp_puf_2023.csv",
}
DERIVED = "mssp_all_years_2013_2021_derived.csv"


def reference_file(name: str) -> Path:
    """A reference file's path; skip (or, in CI, fail) when it is not there."""
    path = REFERENCE / name
    if not path.is_file():
        message = (
            f"MSSP reference file {path} not found: set TOTALCARE_MSSP_DIR to the folder "
            "with CMS's ACO Public Use Files (see ../shared/reference/mssp/README.md)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def raw_puf(year: int) -> pd.DataFrame:
    """The year's file read plainly, independent of the loader under test."""
    return pd.read_csv(reference_file(PUF[year]), encoding="utf-8-sig")


def dollars(text: pd.Series) -> pd.Series:
    return pd.to_numeric(text.astype(str).str.replace(r"[$,]", "", regex=True), errors="coerce")


def raw_current(year: int) -> pd.DataFrame:
    """A PY2022-or-later file read plainly (text), indexed by ACO, independent of the loader."""
    raw = pd.read_csv(
        reference_file(PUF[year]), dtype=str, keep_default_na=False, encoding="utf-8-sig"
    )
    return raw.set_index("ACO_ID")


def number(text: pd.Series) -> pd.Series:
    """'' -> 0; '-2320475' -> -2320475.0 (the dollar and count columns of PY2022-PY2023)."""
    return pd.to_numeric(text.replace("", "0"), errors="raise").astype(float)


def percent(text: pd.Series) -> pd.Series:
    """'6.46%' -> 0.0646 (the percent columns of PY2022-PY2023); '' -> NaN."""
    return pd.to_numeric(text.str.rstrip("%").replace("", None), errors="raise") / 100.0


# --------------------------------------------------------------------------------------
# Presets: the same config language as the Blue KC-style program
# --------------------------------------------------------------------------------------

PRESET_TERMS = {
    # file: (tiers, max share, payment limit, losses, loss rate, floor, ceiling, loss limit)
    "mssp_track1.toml": (["Track 1"], 0.50, 0.10, False, 0.0, 0.0, 1.0, 1.0),
    "mssp_track1_plus.toml": (["Track 1+"], 0.50, 0.10, True, 0.30, 0.0, 1.0, 0.04),
    "mssp_track2.toml": (["Track 2"], 0.60, 0.15, True, "one_minus_share_rate", 0.40, 0.60, 0.05),
    "mssp_track3.toml": (["Track 3"], 0.75, 0.20, True, "one_minus_share_rate", 0.40, 0.75, 0.15),
    "mssp_basic_a_b.toml": (["BASIC A", "BASIC B"], 0.40, 0.10, False, 0.0, 0.0, 1.0, 1.0),
    "mssp_basic_c_e.toml": (
        ["BASIC C", "BASIC D", "BASIC E"],
        0.50,
        0.10,
        True,
        0.30,
        0.0,
        1.0,
        0.04,
    ),
    "mssp_enhanced.toml": (
        ["ENHANCED"],
        0.75,
        0.20,
        True,
        "one_minus_rate_times_quality",
        0.40,
        0.75,
        0.15,
    ),
}
#: How each preset takes the MSR: the table (one-sided), the ACO's own rate, or its choice
#: of a fixed rate or the table (BASIC C-E, ENHANCED: 0-2% in 0.5% steps; the table below 5,000).
MSR_KIND = {
    "mssp_track1.toml": "table",
    "mssp_basic_a_b.toml": "table",
    "mssp_track1_plus.toml": "assigned",
    "mssp_track2.toml": "assigned",
    "mssp_track3.toml": "assigned",
    "mssp_basic_c_e.toml": "choice",
    "mssp_enhanced.toml": "choice",
}


@pytest.mark.parametrize("name", sorted(PRESET_TERMS))
def test_presets_load_with_the_published_terms(name: str) -> None:
    config = load_config(ROOT / "totalcare_payments" / "presets" / name)
    tiers, cap, limit, losses, rate, floor, ceiling, loss_limit = PRESET_TERMS[name]
    terms = config.require_settlement()
    assert config.program.tiers == tiers
    assert config.program.max_share_rate == cap
    assert terms.payment_limit == limit
    assert terms.msr.sharing == "first_dollar"
    assert terms.quality.gate
    for tier in tiers:  # share = max rate x quality score, nothing from savings alone
        assert terms.sharing.savings_share_rate[tier] == 0.0
        assert terms.sharing.quality_share_rate[tier] == cap
        assert puf.PRESETS[tier] == name.removesuffix('.toml')
    assert terms.losses.enabled is losses
    if losses:
        assert terms.losses.min_loss_rate == "msr"
        assert terms.losses.loss_rate == rate
        assert (terms.losses.loss_rate_floor, terms.losses.loss_rate_ceiling) == (floor, ceiling)
        assert terms.losses.loss_limit == loss_limit
    # sequestration: 2% in PY2013-PY2018 and from PY2021 on, none in PY2019-PY2020
    assert [terms.payment_reduction_for(y) for y in range(2013, 2024)] == [
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.0,
        0.0,
        0.02,
        0.02,
        0.02,
    ]
    assert terms.msr.kind == MSR_KIND[name]
    if terms.msr.kind == "choice":
        assert terms.msr.choices == [0.0, 0.005, 0.01, 0.015, 0.02]
        assert terms.msr.table_below_population == 5000
    # PY2021 on: the quality standard gates the track's full rate
    assert [terms.quality.standard_sharing_for(y) for y in (2019, 2020, 2021)] == [
        "sliding_scale",
        "sliding_scale",
        "full_rate",
    ]


def test_track1_msr_table_at_the_band_ends() -> None:
    terms = puf.preset_config("Track 1").require_settlement().msr
    population = np.array([3000, 4999, 5000, 5451, 12499.5, 49999, 50000, 60000, 250000])
    expected = np.array(
        [
            0.050,
            0.039,
            0.039,
            0.039 - 0.003 * 451 / 999,  # A1409 PY2018: MinSavPerc 0.037645646
            0.030 - 0.003 * 2499.5 / 4999,
            0.022,
            0.022,
            0.020,
            0.020,
        ]
    )
    np.testing.assert_allclose(minimum_savings_rate(terms, population), expected, atol=1e-12)


# --------------------------------------------------------------------------------------
# Golden rows: real ACOs, the arithmetic written out
# --------------------------------------------------------------------------------------


def test_golden_a1409_py2018_capped_at_ten_percent_of_benchmark() -> None:
    # A1409 (Balance ACO), PY2018 Track 1, as published: N_AB 5,451; ABtotBnchmk
    # $121,182,225; ABtotExp $83,501,144; QualScore 0.9081, Met_QPS 1; MinSavPerc
    # 0.037645646; EarnSaveLoss $12,118,223.
    summary = pd.DataFrame(
        [
            {
                "practice_id": "A1409",
                "tier": "Track 1",
                "population": 5451,
                "budget": 121_182_225.0,
                "actual_cost": 83_501_144.0,
                "quality_score": 0.9081,
                "met_quality_gate": True,
            }
        ]
    )
    row = settle_summary(summary, puf.preset_config("Track 1"), 2018).practices.iloc[0]

    savings = 121_182_225 - 83_501_144  # $37,681,081
    assert row["savings_cents"] == savings * 100
    msr = 0.039 - (0.039 - 0.036) * (5451 - 5000) / (5999 - 5000)
    assert row["msr"] == pytest.approx(0.037645646, abs=1e-9) == pytest.approx(msr)
    assert savings / 121_182_225 >= msr  # 31.1% >= 3.76%: first dollar
    share = 0.50 * 0.9081  # 0.45405
    assert row["share_rate"] == pytest.approx(share)
    before_limit = savings * share * (1 - 0.02)  # $16,766,912.93 after sequestration
    limit = 0.10 * 121_182_225  # $12,118,222.50
    assert before_limit > limit
    assert row["earned_before_limit_cents"] == round(before_limit * 100)
    assert row["final_payment_cents"] == round(limit * 100) == 1_211_822_250
    assert row["reason"] == "CAPPED"
    assert abs(row["final_payment_cents"] / 100 - 12_118_223) <= 1.0  # CMS's EarnSaveLoss


def test_golden_a3743_py2018_loss_at_the_ceiling_rate_less_disaster_relief() -> None:
    # A3743, PY2018 Track 3: missed the quality standard (Met_QPS 0, QualScore 0.4545),
    # MinSavPerc (= MLR) 0.01, ABtotBnchmk $86,448,539, ABtotExp $89,276,593, DisAdj -$2,797;
    # EarnSaveLoss -$2,118,244.
    summary = pd.DataFrame(
        [
            {
                "practice_id": "A3743",
                "tier": "Track 3",
                "population": 6003,
                "budget": 86_448_539.0,
                "actual_cost": 89_276_593.0,
                "quality_score": 0.4545,
                "met_quality_gate": False,
                "msr": 0.01,
                "loss_adjustment": -2797.0,
            }
        ]
    )
    row = settle_summary(summary, puf.preset_config("Track 3"), 2018).practices.iloc[0]

    loss = 89_276_593 - 86_448_539  # $2,828,054: 3.27% >= 1% MLR
    assert row["share_rate"] == 0.0  # quality standard missed
    assert row["loss_rate"] == 0.75  # 1 - 0, clipped to [0.40, 0.75]
    owed = loss * 0.75 - 2797  # $2,121,040.50 less relief
    assert row["shared_loss_cents"] == round(owed * 100) == 211_824_350
    assert row["final_payment_cents"] == -211_824_350
    assert abs(row["final_payment_cents"] / 100 - (-2_118_244)) <= 1.0


def _summary(**columns: object) -> pd.DataFrame:
    base = {
        "practice_id": ["X1"],
        "practice_name": ["X"],
        "tier": ["Track 2"],
        "population": [10_000.0],
        "budget": [100_000_000.0],
        "actual_cost": [140_000_000.0],
        "quality_score": [1.0],
        "met_quality_gate": [True],
        "msr": [0.02],
        "loss_adjustment": [0.0],
        "agreement_year": [1],
        "published_result": [0.0],
        "published_savings": [np.nan],
        "GenSaveLoss": [np.nan],
        "MinSavPerc": [0.02],
        "QualPerfShare": [0.6],
        "FinalShareRate": [np.nan],
        "quality_rounding": [0.0],
        "msr_rounding": [0.0],
    }
    base.update({k: [v] for k, v in columns.items()})
    frame = pd.DataFrame(base)
    frame["loss_limit"] = puf._loss_limits(
        frame["tier"].to_numpy(str), frame["agreement_year"].to_numpy(np.int64)
    )
    return frame


@pytest.mark.parametrize(
    ("tier", "agreement_year", "limit"),
    [
        ("Track 2", 1, 0.05),
        ("Track 2", 2, 0.075),
        ("Track 2", 3, 0.10),
        ("Track 2", 5, 0.10),
        ("BASIC C", 1, 0.01),
        ("BASIC D", 1, 0.02),
        ("BASIC E", 1, 0.04),
        ("Track 3", 1, 0.15),
    ],
)
def test_loss_limits_by_agreement_year_and_level(
    tier: str, agreement_year: int, limit: float
) -> None:
    # A 40% loss: every limit binds, so the loss owed is the limit x the benchmark.
    frame = _summary(tier=tier, agreement_year=agreement_year)
    result = mssp_check_module.settle_puf(frame, 2018).iloc[0]
    assert result["engine_shared_losses"] == pytest.approx(limit * 100_000_000)
    assert result["reason"] == "LOSS_CAPPED"


# --------------------------------------------------------------------------------------
# The command, on a small file in the PY2014 layout (runs without the reference files)
# --------------------------------------------------------------------------------------

PY2014_HEADER = (
    "ACO_Num,ACO_NAME,Start_Date,Track1,Track2,N_AB,Sav_rate,MinSavPerc,BnchmkMinExp,"
    "GenSaveLoss,EarnSaveLoss,QualScore,ABtotBnchmk,ABtotExp,QualPerfShare,FinalShareRate"
)
PY2014_ROWS = [  # real PY2014 rows (percent units, "P4R"), as published
    "A67373,Palm Beach Accountable Care Organization LLC,07/01/2012,1,0,34601,7.135345566,"
    "2.353985133,32173449,32173449,14455933,0.916964286,450902466,418729017,0.5,0.458482143",
    "A38665,Chinese Community Accountable Care Organization Inc.,04/01/2012,1,0,11219,"
    "1.405643597,2.926845369,1495426,0,0,0.865848214,106387253,104891827,0.5,0.432924107",
]


def app() -> typer.Typer:
    from totalcare_payments.cli import app as cli

    names = {c.name for c in cli.app.registered_commands}
    if "mssp-check" in names:
        return cli.app
    throwaway = typer.Typer(add_completion=False)
    throwaway.command("mssp-check")(mssp_check)

    @throwaway.command()
    def noop() -> None:  # a second command keeps "mssp-check" a subcommand
        """Nothing."""

    return throwaway


def write_py2014(folder: Path, rows: list[str]) -> Path:
    path = folder / "puf_2014.csv"
    path.write_text("\ufeff" + PY2014_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_cli_all_match(tmp_path: Path) -> None:
    puf = write_py2014(tmp_path, PY2014_ROWS)
    out = tmp_path / "cmp" / "py2014.csv"
    result = CliRunner().invoke(
        app(), ["mssp-check", str(puf), "--year", "2014", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 ACOs match CMS's EarnSaveLoss" in result.output
    comparison = pd.read_csv(out)
    assert list(comparison.columns) == mssp_check_module.COMPARISON_COLUMNS
    assert comparison["match"].all()
    first = comparison.set_index("aco_id").loc["A67373"]
    # 32,173,449 x 0.5 x 0.916964286 x 0.98 = 14,455,932.81 (CMS: 14,455,933)
    assert first["engine_result"] == pytest.approx(14_455_932.81, abs=0.005)
    assert first["msr"] == pytest.approx(0.02353985133, abs=1e-9)  # from the table


def test_cli_some_do_not_match(tmp_path: Path) -> None:
    rows = [PY2014_ROWS[0].replace(",14455933,", ",14455999,"), PY2014_ROWS[1]]
    puf = write_py2014(tmp_path, rows)
    out = tmp_path / "py2014.csv"
    result = CliRunner().invoke(app(), ["mssp-check", str(puf), "-y", "2014", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "1 of 2 ACOs match" in result.output
    assert "A67373" in result.output
    assert not pd.read_csv(out).set_index("aco_id").loc["A67373", "match"]


@pytest.mark.parametrize(
    ("make", "year", "expected"),
    [
        (lambda d: d / "missing.csv", 2014, "file not found"),
        (lambda d: d, 2014, "a folder"),
        (lambda d: write_py2014(d, PY2014_ROWS), 2018, "looks like the PY2014 file"),
        (lambda d: write_py2014(d, PY2014_ROWS), 2019, "cannot check PY2019"),
        (lambda d: write_py2014(d, []), 2014, "no ACO rows"),
        (
            lambda d: write_py2014(d, [PY2014_ROWS[0].replace("450902466", "n/a")]),
            2014,
            "NOT_A_NUMBER",
        ),
        (  # expenditures that do not add up to the published savings: wrong layout
            lambda d: write_py2014(d, [PY2014_ROWS[0].replace("418729017", "418729999")]),
            2014,
            "UNEXPECTED_LAYOUT",
        ),
    ],
)
def test_cli_bad_file_exits_2_without_traceback(
    tmp_path: Path, make, year: int, expected: str
) -> None:
    puf = make(tmp_path)
    result = CliRunner().invoke(
        app(), ["mssp-check", str(puf), "--year", str(year), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, InputError)


def test_cli_help_speaks_to_an_analyst() -> None:
    result = CliRunner().invoke(app(), ["mssp-check", "--help"])
    assert result.exit_code == 0
    assert "EarnSaveLoss" in result.output
    assert "--year" in result.output


# --------------------------------------------------------------------------------------
# Acceptance on the published files (issue 4)
# --------------------------------------------------------------------------------------


def engine_vs(year: int, published: pd.Series) -> pd.DataFrame:
    """The engine's result per ACO (loader + presets) beside an independently read value."""
    comparison = mssp_check_module.settle_puf(puf.read_puf(reference_file(PUF[year]), year), year)
    engine = comparison.set_index("aco_id")["engine_result"]
    return pd.DataFrame({"engine": engine, "published": published}).dropna(subset=["engine"])


@pytest.mark.reference
def test_py2014_all_333_acos_within_one_dollar() -> None:
    raw = raw_puf(2014)
    both = engine_vs(2014, raw.set_index("ACO_Num")["EarnSaveLoss"].astype(float))
    assert len(both) == 333
    error = (both["engine"] - both["published"]).abs()
    assert (error <= 1.0).all(), error.sort_values().tail()
    assert (both["published"] > 0).sum() > 50  # real payments, not only zeros


@pytest.mark.reference
def test_py2018_all_548_acos_within_quality_rounding() -> None:
    raw = raw_puf(2018).set_index("ACO_ID")
    both = engine_vs(2018, raw["EarnSaveLoss"].astype(float))
    assert len(both) == 548
    allowed = 1.0 + raw["GenSaveLoss"].abs() * raw["QualPerfShare"] * 0.00005
    error = (both["engine"] - both["published"]).abs()
    assert (error <= allowed.reindex(both.index) + 1e-9).all(), (error - allowed).max()
    losses = both["published"] < 0  # savings and losses both checked
    assert losses.sum() == 11 and (both["engine"][losses] < 0).all()
    assert (both["published"] > 0).sum() > 100


@pytest.mark.reference
def test_py2013_all_220_acos_within_one_dollar() -> None:
    raw = raw_puf(2013).set_index("ACO Identifier")
    # The PY2013 header is shifted: these two labels hold shared savings and shared losses.
    published = dollars(raw["Shared Losses ($)"]).fillna(0) + pd.to_numeric(
        raw["Total number of assigned beneficiaries"], errors="coerce"
    ).fillna(0)
    both = engine_vs(2013, published)
    assert len(both) == 220
    error = (both["engine"] - both["published"]).abs()
    assert (error <= 1.0).all(), error.sort_values().tail()
    assert (both["published"] < 0).sum() == 1  # the one Track 2 ACO that owed


@pytest.mark.reference
@pytest.mark.parametrize(("year", "count"), [(2018, 452), (2014, 330), (2013, 215)])
def test_msr_table_reproduces_minsavperc_for_track1_with_3000_or_more(
    year: int, count: int
) -> None:
    raw = raw_puf(year)
    if year == 2018:
        n, msr, track1 = raw["N_AB"], raw["MinSavPerc"], raw["Current_Track_1"] == 1
    elif year == 2014:
        n, msr, track1 = raw["N_AB"], raw["MinSavPerc"] / 100.0, raw["Track2"] == 0
    else:  # shifted header: this label holds assigned beneficiaries; the MSR is a fraction
        n = raw["Total assigned beneficiary person years"]
        msr = dollars(raw["Minimum Savings Rate (%)"].str.rstrip("%"))
        track1 = raw["Track 2 ACO"] == 0
    rows = track1 & (n >= 3000)
    assert rows.sum() == count
    terms = load_config(ROOT / "totalcare_payments" / "presets" / "mssp_track1.toml").require_settlement().msr
    table = minimum_savings_rate(terms, n[rows].to_numpy(float))
    np.testing.assert_allclose(table, msr[rows].to_numpy(float), rtol=0, atol=1e-6)


@pytest.mark.reference
@pytest.mark.parametrize("year", [2013, 2014, 2018])
def test_check_puf_counts(year: int) -> None:
    check = mssp_check_module.check_puf(reference_file(PUF[year]), year)
    assert check.all_match and check.matched == {2013: 220, 2014: 333, 2018: 548}[year]
    assert check.msr_table_matched == len(check.msr_table) > 0
    assert check.largest_differences(3)["difference"].abs().is_monotonic_decreasing


@pytest.mark.reference
@pytest.mark.parametrize(
    ("year", "rows", "unmatched"),
    [
        (2016, 432, set()),
        (2017, 472, set()),
        (2018, 548, set()),
        # A1498, A2021: CMS's relief is half the derived file's DisAdj; A2392: revenue-based
        # loss limit (RevLossLimit = 1; participant revenue is not published).
        (2019, 475, {"A1498", "A2021", "A2392"}),
        (2020, 513, set()),
        # Every PY2021 loss forgiven in full (COVID-19: the presets' relief_share 1.0), so the
        # three BASIC C ACOs held to the revenue-based loss limit match too.
        (2021, 475, set()),
    ],
)
def test_derived_years(year: int, rows: int, unmatched: set[str]) -> None:
    check = mssp_check_module.check_puf(reference_file(DERIVED), year)
    assert check.rows == rows
    c = check.comparison
    assert set(c.loc[~c["match"], "aco_id"]) == unmatched
    assert check.msr_table_matched == len(check.msr_table)


@pytest.mark.reference
def test_cli_on_the_published_py2018_file(tmp_path: Path) -> None:
    out = tmp_path / "py2018.csv"
    result = CliRunner().invoke(
        app(), ["mssp-check", str(reference_file(PUF[2018])), "--year", "2018", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "548 of 548 ACOs match CMS's EarnSaveLoss" in result.output
    assert "452 of 452" in result.output
    assert len(pd.read_csv(out)) == 548


# --------------------------------------------------------------------------------------
# PY2022 on: BASIC levels A-E and ENHANCED (issue 17). Golden rows, arithmetic written out
# --------------------------------------------------------------------------------------


def settle_one(year: int, **row: object) -> pd.Series:
    """One ACO settled with its track's preset, as ``settle_puf`` does."""
    summary = pd.DataFrame([{"practice_id": "X", **row}])
    return settle_summary(summary, puf.preset_config(str(row["tier"])), year).practices.iloc[0]


def test_basic_a_b_msr_table_below_3000_beneficiaries() -> None:
    terms = puf.preset_config("BASIC A").require_settlement().msr
    population = np.array([400, 500, 640, 999, 1000, 1708, 2434, 2999, 3000, 7207])
    expected = [
        0.122,  # below the first band: its 12.2% holds
        0.122,
        0.122 - 0.035 * 140 / 499,  # 500-999: 12.2% -> 8.7%
        0.087,
        0.087,  # 1,000-2,999: 8.7% -> 5.0%
        0.087 - 0.037 * 708 / 1999,  # A2142 PY2023: 7.3895% (MinSavPerc 7.39%)
        0.087 - 0.037 * 1434 / 1999,  # A1737 PY2022: 6.0458% (6.05%)
        0.050,
        0.050,
        0.034 - 0.002 * 207 / 999,  # A1540 PY2022: 3.3586% (3.36%)
    ]
    np.testing.assert_allclose(minimum_savings_rate(terms, population), expected, atol=1e-12)


def test_two_sided_msr_is_the_choice_or_the_table_below_5000() -> None:
    terms = puf.preset_config("ENHANCED").require_settlement().msr
    population = np.array([21867, 6000, 1401, 4690])
    chosen = np.array([0.01, np.nan, 0.02, 0.015])
    got = minimum_savings_rate(terms, population, chosen)
    expected = [
        0.01,  # chose 1%
        0.036,  # chose the table: 6,000 -> 3.6%
        0.087 - 0.037 * 401 / 1999,  # A3539 PY2023 (chose 2% in PY2022): 7.9578% (7.96%)
        0.050 - 0.011 * 1690 / 1999,  # A4627 PY2023 (1.5% in PY2022): 4.0700% (4.07%)
    ]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_golden_a1540_py2022_basic_b_full_rate_then_sequestration() -> None:
    # A1540, PY2022 BASIC B (CMS's own reconciliation report is a reference file): N_AB
    # 7,207; ABtotBnchmk $98,947,417; BnchmkMinExp $7,354,963; QualScore 73.26%, Met_QPS 1;
    # MinSavPerc 3.36%; EarnSaveLoss $2,883,146.
    row = settle_one(
        2022,
        tier="BASIC B",
        population=7207,
        budget=98_947_417.0,
        actual_cost=98_947_417.0 - 7_354_963.0,
        quality_score=0.7326,
        met_quality_gate=True,
    )
    savings = 7_354_963
    msr = 0.034 - 0.002 * (7207 - 7000) / (7999 - 7000)  # 3.3586%
    assert row["msr"] == pytest.approx(msr)
    assert savings / 98_947_417 >= msr  # 7.43%: first dollar
    assert row["share_rate"] == 0.40  # the standard met: the full 40%, not 40% x 73.26%
    earned = savings * 0.40 * (1 - 0.02)  # sequestration first: $2,883,145.4960
    assert earned < 0.10 * 98_947_417  # under the payment limit, $9,894,741.70
    assert row["final_payment_cents"] == round(earned * 100) == 288_314_550
    assert abs(row["final_payment_cents"] / 100 - 2_883_146) <= 1.0


def test_golden_a1080_py2022_terminated_mid_year_pays_nothing() -> None:
    # A1080, PY2022 BASIC C, Impact_Mid_Year_Termination 1: N_AB 5,795, MinSavPerc 1.00%
    # (its choice), ABtotBnchmk $63,162,418, BnchmkMinExp $2,180,440, QualScore 79.15%.
    # CMS first published $1,068,416, then corrected EarnSaveLoss to $0.
    row = settle_one(
        2022,
        tier="BASIC C",
        population=5795,
        budget=63_162_418.0,
        actual_cost=63_162_418.0 - 2_180_440.0,
        quality_score=0.7915,
        met_quality_gate=True,
        msr=0.01,
        terminated_month=puf.UNKNOWN_TERMINATION_MONTH,
    )
    assert row["meets_msr"]  # 3.45% >= 1%
    # what it would have earned: 2,180,440 x 0.50 x 0.98 = 1,068,415.60 (CMS's first figure)
    assert row["earned_before_limit_cents"] == round(2_180_440 * 0.50 * 0.98 * 100)
    assert row["final_payment_cents"] == 0
    assert row["reason"] == "TERMINATED"


def test_golden_a1539_py2023_enhanced_loss_rate_from_quality_less_relief() -> None:
    # A1539, PY2023 ENHANCED: N_AB 21,867, MinSavPerc 1.00% (= MLR), ABtotBnchmk
    # $242,995,775, BnchmkMinExp -$8,354,010, QualScore 78.09%, Met_QPS 1, FinalLossRate
    # 41.43%, DisAdj -$2,566,990; EarnSaveLoss -$894,285.
    row = settle_one(
        2023,
        tier="ENHANCED",
        population=21867,
        budget=242_995_775.0,
        actual_cost=242_995_775.0 + 8_354_010.0,
        quality_score=0.7809,
        met_quality_gate=True,
        msr=0.01,
        loss_adjustment=-2_566_990.0,
    )
    loss_rate = 1 - 0.75 * 0.7809  # 41.4325%, within [40%, 75%]; not 1 - 75% -> 40%
    assert row["loss_rate"] == pytest.approx(loss_rate)
    shared = 8_354_010 * loss_rate  # $3,461,275.19
    assert shared < 0.15 * 242_995_775  # under the loss limit, $36,449,366.25
    assert row["relief_share"] == 0.0  # PY2023: the ACO's own relief, DisAdj
    assert row["shared_loss_cents"] == round((shared - 2_566_990) * 100) == 89_428_519
    assert abs(row["final_payment_cents"] / 100 - (-894_285)) <= 1.0


def test_golden_a1539_py2022_loss_relieved_in_full() -> None:
    # A1539, PY2022 ENHANCED: N_AB 23,249, MinSavPerc 1.00%, ABtotBnchmk $236,275,356,
    # BnchmkMinExp -$13,280,553, QualScore 70.63%; DisAdj -$6,245,512; EarnSaveLoss $0.
    row = settle_one(
        2022,
        tier="ENHANCED",
        population=23249,
        budget=236_275_356.0,
        actual_cost=236_275_356.0 + 13_280_553.0,
        quality_score=0.7063,
        met_quality_gate=True,
        msr=0.01,
    )
    shared = 13_280_553 * (1 - 0.75 * 0.7063)  # 47.0275% -> $6,245,512.06 (= -DisAdj)
    assert row["relief_cents"] == round(shared * 100)  # COVID-19: relief_share 1.0 in PY2022
    assert row["shared_loss_cents"] == 0 and row["reason"] == "LOSS"


def test_basic_c_e_loss_limit_is_the_lower_of_revenue_and_benchmark_shares() -> None:
    # A 10% loss on a $100M benchmark: 30% of it is $3M. Level C's limit: the lower of 2% of
    # its participants' revenue and 1% of the benchmark; without a revenue figure, 1%.
    common = {"tier": "BASIC C", "population": 10_000, "budget": 100e6, "actual_cost": 110e6}
    common |= {"quality_score": 0.9, "met_quality_gate": True, "msr": 0.0}
    with_revenue = settle_one(2023, **common, revenue=20e6)  # 2% x $20M = $400,000
    without = settle_one(2023, **common)  # 1% x $100M = $1,000,000
    assert with_revenue["shared_loss_cents"] == 400_000 * 100
    assert without["shared_loss_cents"] == 1_000_000 * 100
    level_e = settle_one(2023, **{**common, "tier": "BASIC E"}, revenue=20e6)
    assert level_e["shared_loss_cents"] == 1_600_000 * 100  # min(8% x $20M, 4% x $100M)


def test_percent_columns_by_one_rule() -> None:
    values = pd.Series(["6.46%", "6.46", " 77.05 ", "100.00%", "-", "", "1,234.5"])
    expected = [0.0646, 0.0646, 0.7705, 1.0, np.nan, np.nan, 12.345]
    np.testing.assert_allclose(puf._percent(values).to_numpy(), expected, rtol=1e-12)


CURRENT_HEADER = (
    "ACO_ID,ACO_Name,Current_Start_Date,Current_Track,Risk_Model,N_AB,Sav_rate,MinSavPerc,"
    "BnchmkMinExp,GenSaveLoss,DisAdj,Impact_Mid_Year_Termination,EarnSaveLoss,Met_QPS,"
    "Met_AltQPS,QualScore,ABtotBnchmk,ABtotExp,FinalShareRate,FinalLossRate"
)
CURRENT_ROWS = [  # real PY2023 rows (A1001 ENHANCED, A2142 BASIC B), percents as "77.05"
    "A1001,Palm Beach Accountable Care Organization,07/01/2019,EN,Two-Sided,78364,9.09,2.00,"
    "99899684,99899684,0,0,73426268,1,-,89.91,1098668352,998768668,75.00,40.00",
    "A2142,An ACO,01/01/2022,B,One-Sided,1708,11.10,7.39,2564089,2564089,,0,1005123,1,-,"
    "80.62,23106044,20541955,40.00,",
]


def write_current(folder: Path, rows: list[str]) -> Path:
    path = folder / "puf_2024.csv"
    path.write_text(CURRENT_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_later_years_file_with_cms_names_needs_no_code(tmp_path: Path) -> None:
    # The PY2024 format (percents without "%") and a year no reader names: read by CMS's
    # column names. 99,899,684 x 0.75 x 0.98 = 73,426,267.74; 2,564,089 x 0.40 x 0.98 =
    # 1,005,122.89 (MSR 8.7% - 3.7% x 708 / 1,999 = 7.39%: 11.10% meets it).
    path = write_current(tmp_path, CURRENT_ROWS)
    out = tmp_path / "py2024.csv"
    result = CliRunner().invoke(app(), ["mssp-check", str(path), "--year", "2024", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 of 2 ACOs match CMS's EarnSaveLoss (all match)" in result.output
    comparison = pd.read_csv(out).set_index("aco_id")
    assert comparison["track"].to_dict() == {"A1001": "ENHANCED", "A2142": "BASIC B"}
    assert comparison.loc["A1001", "engine_result"] == pytest.approx(73_426_267.74)
    assert comparison.loc["A2142", "engine_result"] == pytest.approx(1_005_122.89)
    assert comparison.loc["A2142", "msr"] == pytest.approx(0.087 - 0.037 * 708 / 1999)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda row: row.replace(",EN,", ",F,"), "TRACK_LABEL"),  # no such track
        (lambda row: row.replace(",EN,Two-Sided,", ",EN,One-Sided,"), "TRACK_LABEL"),
        (lambda row: row.replace(",2.00,99899684", ",,99899684"), "NOT_A_NUMBER"),  # no MSR
    ],
)
def test_current_layout_bad_values_exit_2(tmp_path: Path, change, expected: str) -> None:
    path = write_current(tmp_path, [change(CURRENT_ROWS[0]), CURRENT_ROWS[1]])
    result = CliRunner().invoke(
        app(), ["mssp-check", str(path), "--year", "2024", "-o", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("label", ["E", "BASIC E", "Level E", "basic level e"])
def test_track_labels(label: str) -> None:
    raw = pd.DataFrame({"Current_Track": [label, "EN", "ENHANCED"], "Risk_Model": "Two-Sided"})
    tracks = puf._track_from_label(raw, Path("x.csv")).tolist()
    assert tracks == ["BASIC E", "ENHANCED", "ENHANCED"]


# --------------------------------------------------------------------------------------
# Acceptance on the PY2022 and PY2023 files (issue 17)
# --------------------------------------------------------------------------------------

#: BASIC loss rows of PY2023 held to the revenue-based loss limit (participants' revenue is
#: not in the PUF): the engine bills the benchmark-limited loss, CMS less.
REVENUE_LIMITED = {2022: set(), 2023: {"A1241", "A4627", "A5293"}}


def current_comparison(year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = raw_current(year)
    comparison = mssp_check_module.settle_puf(puf.read_puf(reference_file(PUF[year]), year), year)
    return raw, comparison.set_index("aco_id").loc[raw.index]


@pytest.mark.reference
@pytest.mark.parametrize(
    ("year", "savings", "paid", "zeros", "losses"),
    [(2022, 304, 303, 179, 0), (2023, 313, 313, 120, 20)],
)
def test_current_years_every_row(
    year: int, savings: int, paid: int, zeros: int, losses: int
) -> None:
    raw, c = current_comparison(year)
    published = number(raw["EarnSaveLoss"])
    engine = c["engine_result"]
    gross = number(raw["GenSaveLoss"])
    # every ACO met the quality standard, so sharing rates are exact (40%, 50%, 75%)
    assert (raw["Met_QPS"] == "1").all()
    # every savings row (savings past the MSR) to $1
    qualified = gross > 0
    assert qualified.sum() == savings and (published > 0).sum() == paid
    assert ((engine - published)[qualified].abs() <= 1.0).all()
    if year == 2022:  # A1080: savings past its MSR, terminated mid-year, paid 0
        assert set(raw.index[qualified & (published == 0)]) == {"A1080"}
        assert engine["A1080"] == 0 and c.loc["A1080", "reason"] == "TERMINATED"
    # every zero row exactly: below the MSR, no savings, or a loss relieved in full
    zero = published == 0
    assert zero.sum() == zeros and (engine[zero] == 0).all()
    # the loss rows: $1 plus the rounding of QualScore (2 decimals of a percent) where the
    # ENHANCED loss rate is computed from it; the revenue-limited rows named, nothing else
    loss = published < 0
    assert loss.sum() == losses
    enhanced = (raw["Current_Track"] == "EN") & loss
    allowed = 1.0 + np.where(enhanced, gross.abs() * 0.75 * 0.00005, 0.0)
    off = loss & ((engine - published).abs() > allowed + 1e-9)
    assert set(raw.index[off]) == REVENUE_LIMITED[year]
    assert (engine[off] < published[off]).all()  # the engine bills more, as the limit would
    named = c["not_reproducible"].fillna("")
    assert set(raw.index[named != ""]) == REVENUE_LIMITED[year]
    assert set(named[named != ""]) <= {"REVENUE_NOT_PUBLISHED"}


@pytest.mark.reference
@pytest.mark.parametrize(("year", "one_sided", "small"), [(2022, 198, 5), (2023, 151, 13)])
def test_msr_table_reproduces_minsavperc_for_every_one_sided_aco(
    year: int, one_sided: int, small: int
) -> None:
    raw = raw_current(year)
    n, published = number(raw["N_AB"]), percent(raw["MinSavPerc"])
    terms = load_config(ROOT / "totalcare_payments" / "presets" / "mssp_basic_a_b.toml")
    table = minimum_savings_rate(terms.require_settlement().msr, n.to_numpy(float))
    within = np.abs(table - published.to_numpy(float)) <= 0.00005 + 1e-9  # 2 decimals of a %
    rows = (raw["Risk_Model"] == "One-Sided").to_numpy()
    assert rows.sum() == one_sided and within[rows].all()
    # two-sided ACOs below 5,000 beneficiaries: the table, whatever they chose
    forced = (raw["Risk_Model"] == "Two-Sided").to_numpy() & (n < 5000).to_numpy()
    assert forced.sum() == small and within[forced].all()
    check = mssp_check_module.check_puf(reference_file(PUF[year]), year)
    assert check.msr_table_matched == len(check.msr_table)
    assert check.msr_table["track"].isin(["BASIC A", "BASIC B"]).sum() == one_sided


@pytest.mark.reference
@pytest.mark.parametrize("year", [2022, 2023])
def test_share_and_loss_rates_reproduce_the_published_ones(year: int) -> None:
    raw, c = current_comparison(year)
    share = percent(raw["FinalShareRate"])
    assert ((c["share_rate"] - share).abs() <= 0.00005 + 1e-9).all()
    if "FinalLossRate" in raw.columns:  # PY2023 on; the engine's loss rate on loss rows
        loss = c["loss_rate"] > 0
        assert loss.sum() == 20
        published = percent(raw["FinalLossRate"])[loss]
        assert ((c["loss_rate"][loss] - published).abs() <= 0.00005 + 1e-9).all()


@pytest.mark.reference
def test_py2022_relief_is_the_limited_loss() -> None:
    # PY2022's DisAdj is minus the loss CMS computed after the loss limit: the engine's relief
    # (relief_share 1.0) is that loss. A1070 (BASIC D) was held to its revenue-based limit,
    # so its DisAdj is below the engine's loss.
    raw = raw_current(2022)
    frame = puf.read_puf(reference_file(PUF[2022]), 2022)
    relief = pd.concat(
        settle_summary(rows, puf.preset_config(str(tier)), 2022).practices
        for tier, rows in frame.groupby("tier")
    ).set_index("practice_id")["relief_cents"]
    losses = raw.index[number(raw["DisAdj"]) < 0]
    assert len(losses) == 15
    gap = (relief[losses] / 100 + number(raw["DisAdj"])[losses]).abs()
    assert set(losses[gap > 1.0]) == {"A1070"}
    assert relief["A1070"] / 100 > -number(raw["DisAdj"])["A1070"]


@pytest.mark.reference
@pytest.mark.parametrize(("year", "matched"), [(2022, 482), (2023, 450)])
def test_check_puf_counts_current_years(year: int, matched: int) -> None:
    check = mssp_check_module.check_puf(reference_file(PUF[year]), year)
    assert check.matched == matched and check.all_match
    assert set(check.not_reproducible["aco_id"]) == REVENUE_LIMITED[year]
    assert check.max_matched_difference <= 1.0


@pytest.mark.reference
def test_cli_on_the_published_py2023_file(tmp_path: Path) -> None:
    out = tmp_path / "py2023.csv"
    result = CliRunner().invoke(
        app(), ["mssp-check", str(reference_file(PUF[2023])), "--year", "2023", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "450 of 453 ACOs match CMS's EarnSaveLoss (all the others match)" in result.output
    assert "REVENUE_NOT_PUBLISHED" in result.output and "A1241, A4627, A5293" in result.output
    assert "197 of 197" in result.output  # the MSR table
    assert len(pd.read_csv(out)) == 453
