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
        "one_minus_share_rate",
        0.40,
        0.75,
        0.15,
    ),
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
    # sequestration: 2% in PY2013-PY2018 and PY2021, none in PY2019-PY2020
    assert [terms.payment_reduction_for(y) for y in range(2013, 2022)] == [
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.0,
        0.0,
        0.02,
    ]
    one_sided = not losses
    assert terms.msr.kind == ("table" if one_sided else "assigned")


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
        # BASIC C ACOs with a revenue-based loss limit (RevLossLimit = 1), all losses of PY2021
        # forgiven (COVID-19 relief = the loss CMS computed): not reproducible from the PUF.
        (2021, 475, {"A1515", "A2820", "A4627"}),
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
