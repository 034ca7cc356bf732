"""The completion factor from the claims' own paid dates: the chain ladder.

A golden test on a published triangle (RAA, Mack 1993: the ``chainladder`` package's
shipped sample), a hand-worked small triangle through ``estimate_completion``, and the
settlement using the estimate when the config asks for it (and only then).
"""

from __future__ import annotations

import json
import shutil
import tomllib
import warnings
from pathlib import Path

import chainladder
import numpy as np
import pandas as pd
import pytest
from helpers import METHODOLOGY, SAMPLE, make_config, write_config
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.errors import ConfigError, InputError
from totalcare_payments.inputs.claims import check_claims
from totalcare_payments.jobs import run_settlement
from totalcare_payments.money import to_cents
from totalcare_payments.program import load_program
from totalcare_payments.reasons import Reason
from totalcare_payments.savings.completion import development_factors, estimate_completion
from totalcare_payments.savings.year import compute_settlement, performance_year, settle_year

# RAA (Reinsurance Association of America), accident years 1981-1990 at ages 12..120
# months, cumulative paid losses (thousands): Mack (1993), "Distribution-free calculation
# of the standard error of chain ladder reserve estimates", and the chainladder package.
RAA_PUBLISHED_AGE_TO_AGE = [2.999, 1.624, 1.271, 1.172, 1.113, 1.042, 1.033, 1.017, 1.009]
RAA_PUBLISHED_TO_ULTIMATE = [8.920, 2.974, 1.832, 1.441, 1.230, 1.105, 1.060, 1.026, 1.009]


def _raa() -> np.ndarray:
    with warnings.catch_warnings():  # the package's own pandas deprecation notices
        warnings.simplefilter("ignore")
        return np.asarray(chainladder.load_sample("raa").values, dtype=float)[0, 0]


def test_raa_cumulative_triangle_is_the_published_one() -> None:
    raa = _raa()
    assert raa.shape == (10, 10)
    assert raa[0].tolist() == [5012, 8269, 10907, 11805, 13539, 16181, 18009, 18608, 18662, 18834]
    assert raa[:, 0].tolist() == [5012, 106, 3410, 5655, 1092, 1513, 557, 1351, 3133, 2063]


def test_raa_age_to_age_and_to_ultimate_factors_are_the_published_ones() -> None:
    raa = _raa()
    # The first factor by hand: the volume-weighted sum of column 2 (24 months) over
    # column 1 (12 months), over the years observed at both (1981-1989):
    col1 = 5012 + 106 + 3410 + 5655 + 1092 + 1513 + 557 + 1351 + 3133
    col2 = 8269 + 4285 + 8992 + 11555 + 9565 + 6445 + 4020 + 6947 + 5395
    assert (col1, col2) == (21829, 65473)
    assert raa[:9, 0].sum() == col1 and raa[:9, 1].sum() == col2
    first = col2 / col1  # 65473 / 21829 = 2.99936...
    assert round(first, 3) == 2.999

    # The engine's development (the triangle's rows as incurred months, its columns as lags)
    age_to_age, to_ultimate = development_factors(raa, first_period=(1981 - 1970) * 12)
    assert age_to_age[0] == pytest.approx(first, rel=1e-12)
    assert np.round(age_to_age, 3).tolist() == RAA_PUBLISHED_AGE_TO_AGE
    assert np.round(to_ultimate[:-1], 3).tolist() == RAA_PUBLISHED_TO_ULTIMATE
    assert to_ultimate[-1] == 1.0  # no tail beyond the last age
    # each factor to ultimate is the product of the age-to-age factors from its lag on
    np.testing.assert_allclose(to_ultimate[:-1], np.cumprod(age_to_age[::-1])[::-1], rtol=1e-12)
    # every age-to-age factor is the volume-weighted ratio of its two columns
    for k in range(9):
        rows = ~np.isnan(raa[:, k + 1])
        assert age_to_age[k] == pytest.approx(raa[rows, k + 1].sum() / raa[rows, k].sum())


def _claims(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """Claims (service date, paid date, amount), one member, ids in order."""
    return pd.DataFrame(
        {
            "claim_id": [str(i + 1) for i in range(len(rows))],
            "member_id": ["M1"] * len(rows),
            "claim_start_date": [r[0] for r in rows],
            "paid_amount": [r[2] for r in rows],
            "paid_date": [r[1] for r in rows],
        }
    )


# A year (2026) with a 1-month runout: evaluation month 2027-01. Incurred 2025-11 and
# 2025-12 give development beyond the year's; every amount is paid at lags 0..2.
SMALL = [
    # 2025-11: 100 at lag 0, 50 at lag 1, 10 at lag 2  -> cumulative 100, 150, 160
    ("2025-11-03", "2025-11-20", 100.0),
    ("2025-11-10", "2025-12-05", 50.0),
    ("2025-11-12", "2026-01-15", 10.0),
    # 2025-12: 200 at lag 0, 100 at lag 1, 30 at lag 2 -> cumulative 200, 300, 330
    ("2025-12-01", "2025-12-30", 200.0),
    ("2025-12-02", "2026-01-02", 100.0),
    ("2025-12-03", "2026-02-02", 30.0),
    # 2026-11: 300 at lag 0, 150 at lag 1, 9 at lag 3 (after the runout: excluded)
    ("2026-11-04", "2026-11-30", 300.0),
    ("2026-11-05", "2026-12-01", 150.0),
    ("2026-11-06", "2027-02-01", 9.0),
    # 2026-12: 400 at lag 0 and 120 at lag 1 (observed at lag 1 by 2027-01)
    ("2026-12-07", "2026-12-08", 400.0),
    ("2026-12-09", "2027-01-10", 120.0),
]


def test_a_small_triangle_by_hand() -> None:
    claims = check_claims([(1, _claims(SMALL))])
    est = estimate_completion(claims, 2026, runout_months=1)
    assert est.evaluation_period == (2027 - 1970) * 12 + 0
    assert est.claims_after_runout == 1
    # lag 0 -> 1: months observed at lag 1 (2025-11, 2025-12, 2026-11, 2026-12):
    # (150 + 300 + 450 + 520) / (100 + 200 + 300 + 400) = 1420 / 1000
    assert est.age_to_age[0] == pytest.approx(1.42)
    # lag 1 -> 2: months observed at lag 2 (2025-11, 2025-12; 2026-11 is at lag 2 by
    # 2027-01 too: 450 at lag 1, 450 at lag 2): (160 + 330 + 450) / (150 + 300 + 450)
    assert est.age_to_age[1] == pytest.approx(940 / 900)
    # 2026-12 is observed at lag 1 (520 paid), 2026-11 at lag 2 (450); the months of
    # 2026 with nothing paid add nothing. Its factor to ultimate from lag 1: the
    # product of the age-to-age factors from lag 1 on.
    cdf_1 = float(np.prod(est.age_to_age[1:]))
    cdf_2 = float(np.prod(est.age_to_age[2:]))
    assert est.to_ultimate[1] == pytest.approx(cdf_1)
    expected = (520 * cdf_1 + 450 * cdf_2) / (520 + 450)
    assert est.factor == round(expected, 6)
    triangle = est.triangle()
    cell = triangle[(triangle["incurred_month"] == "2025-12") & (triangle["lag"] == 2)]
    assert cell[["paid_cents", "cumulative_paid_cents"]].to_numpy().tolist() == [[3000, 33000]]
    assert "2027-02" not in set(triangle["paid_month"])  # beyond the evaluation month
    factors = est.factors()
    year_row = factors[factors["lag"] == "year"].iloc[0]
    assert year_row["to_ultimate"] == est.factor
    assert year_row["paid_cents"] == 97000


def test_paid_before_service_is_rejected_and_an_empty_paid_date_too() -> None:
    frame = _claims([("2026-03-05", "2026-02-28", 10.0), ("2026-03-05", "2026-03-06", 5.0)])
    frame.loc[2] = ["3", "M1", "2026-03-05", 7.0, None]
    table = check_claims([(1, frame)])
    assert table.frame.index.tolist() == [2]
    assert sorted(table.rejects["reason"]) == [Reason.NULL_VALUE, Reason.PAID_BEFORE_SERVICE]
    assert "paid_period" in table.frame.columns


def test_claims_without_paid_dates_keep_the_columns_of_today() -> None:
    frame = _claims([("2026-03-05", "2026-03-06", 5.0)]).drop(columns="paid_date")
    table = check_claims([(1, frame)])
    assert list(table.frame.columns) == ["member_id", "period", "paid_amount"]


# The sample program's claims with paid dates: each claim paid 0 to 5 months after its
# service month (30%, 40%, 15%, 8%, 4%, 3%), deterministic for the seed.
def _sample_with_paid_dates(folder: Path) -> Path:
    data = folder / "data"
    shutil.copytree(SAMPLE, data)
    claims = pd.read_csv(data / "claims.csv", dtype={"claim_id": str, "member_id": str})
    rng = np.random.default_rng(18)
    lag = rng.choice(6, size=len(claims), p=[0.30, 0.40, 0.15, 0.08, 0.04, 0.03])
    month = pd.to_datetime(claims["claim_start_date"]).dt.to_period("M") + lag
    claims["paid_date"] = (month.dt.to_timestamp() + pd.Timedelta(days=14)).dt.strftime("%Y-%m-%d")
    claims.to_csv(data / "claims.csv", index=False)
    return data


CHAIN_LADDER = {"settlement": {"completion": {"method": "chain_ladder", "runout_months": 3}}}


@pytest.fixture(scope="module")
def paid_dates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sample_with_paid_dates(tmp_path_factory.mktemp("paid"))


def test_a_fixed_factor_with_paid_dates_settles_as_today(paid_dates: Path) -> None:
    config = make_config()
    settlement = compute_settlement(load_program(paid_dates, config, with_claims=True, with_quality=True), config, 2026)
    assert settlement.total_paid_cents == 3_641_858  # the sample's $36,418.58
    assert settlement.completion is None
    assert "completion_method" not in settlement.notes
    assert (settlement.practices["completion_factor"] == 1.015).all()


def test_the_settlement_uses_the_chain_ladder_estimate(paid_dates: Path, tmp_path: Path) -> None:
    config = make_config(CHAIN_LADDER)
    settlement, run = run_settlement(config, 2026, tmp_path / "out", data=paid_dates)
    est = settlement.completion
    assert est is not None and est.runout_months == 3
    rows = settlement.practices
    assert (rows["completion_factor"] == est.factor).all()
    assert est.factor != 1.015 and 1.0 < est.factor < 1.1
    net = (rows["claims_paid_cents"] - rows["truncated_cents"]).to_numpy()
    np.testing.assert_array_equal(rows["actual_cost_cents"], to_cents(net / 100 * est.factor))
    # the factor is the year's estimated ultimate over its paid to date
    year = next(r for r in est.factors().itertuples() if r.lag == "year")
    assert year.to_ultimate == est.factor
    # claims of the year paid after March 2027 are not counted, and are accounted for
    claims = run.manifest["inputs"]["claims"]
    assert claims["excluded"][Reason.PAID_AFTER_RUNOUT] == est.claims_after_runout > 0
    assert claims["read"] == claims["used"] + sum(claims["excluded"].values())
    notes = json.loads((tmp_path / "out" / "manifest.json").read_text())["notes"]
    assert notes["completion_method"] == "chain_ladder"
    assert notes["completion_factor"] == f"{est.factor:.6f}"
    assert notes["completion_evaluation_month"] == "2027-03"
    for stem in ("completion_triangle", "completion_factors"):
        assert (tmp_path / "out" / f"{stem}.csv").exists()
        assert f"{stem}.csv" in run.manifest["outputs"]
    triangle = pd.read_csv(tmp_path / "out" / "completion_triangle.csv")
    assert list(triangle.columns) == [
        "incurred_month", "lag", "paid_month", "paid", "cumulative_paid"
    ]
    assert triangle["paid_month"].max() == "2027-03"
    # a later runout counts more claims and needs less completion
    later = make_config({"settlement": {"completion": {"method": "chain_ladder", "runout_months": 6}}})
    program = load_program(paid_dates, later, with_claims=True, with_quality=True)
    longer = compute_settlement(program, later, 2026)
    assert longer.completion is not None and longer.completion.factor < est.factor
    assert longer.practices["claims_paid_cents"].sum() > rows["claims_paid_cents"].sum()


def test_the_command_prints_the_factor_and_its_method(paid_dates: Path, tmp_path: Path) -> None:
    config_path = write_config(tmp_path, make_config(CHAIN_LADDER))
    args = ["settle", "--year", "2026", "--data", str(paid_dates), "--config", str(config_path)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "completion method: chain_ladder" in result.output
    assert "completion factor: 1.0" in result.output


def test_chain_ladder_needs_paid_dates() -> None:
    config = make_config(CHAIN_LADDER)
    program = load_program(SAMPLE, config, with_claims=True)
    with pytest.raises(InputError) as error:
        compute_settlement(program, config, 2026)
    assert error.value.problems[0].reason == Reason.MISSING_COLUMN
    assert "paid_date" in str(error.value)


def test_a_scenario_cannot_change_the_runout(paid_dates: Path) -> None:
    config = make_config(CHAIN_LADDER)
    year = performance_year(load_program(paid_dates, config, with_claims=True, with_quality=True), config, 2026)
    other = make_config({"settlement": {"completion": {"method": "chain_ladder", "runout_months": 2}}})
    with pytest.raises(ConfigError):
        settle_year(year, [config, other])
    rows, _ = settle_year(year, [config, make_config()])  # a fixed factor beside it: fine
    assert set(rows.loc[rows["scenario"] == 1, "completion_factor"]) == {1.015}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # every claim of the year paid after the runout: nothing to complete
        ([("2026-06-01", "2027-06-01", 10.0)], "no claim of 2026 paid by 2027-01"),
        # nothing paid at lag 0 by any month: no factor from lag 0 to lag 1
        (
            [("2026-11-01", "2026-12-01", 10.0), ("2026-12-01", "2027-01-01", 10.0)],
            "nothing paid by lag 0",
        ),
    ],
)
def test_paid_dates_that_cannot_give_a_factor(rows: list, message: str) -> None:
    claims = check_claims([(1, _claims(rows))])
    with pytest.raises(InputError) as error:
        estimate_completion(claims, 2026, runout_months=1)
    assert error.value.problems[0].reason == Reason.NO_COMPLETION_ESTIMATE
    assert message in str(error.value)


def test_an_unusable_triangle_fails_the_settle_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data)
    claims = pd.read_csv(data / "claims.csv", dtype=str)
    claims["paid_date"] = "2028-01-15"  # every claim paid long after the runout
    claims.to_csv(data / "claims.csv", index=False)
    config_path = write_config(tmp_path, make_config(CHAIN_LADDER))
    args = ["settle", "--year", "2026", "--data", str(data), "--config", str(config_path)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "NO_COMPLETION_ESTIMATE" in result.output
    assert not (tmp_path / "out").exists()


def test_a_generated_program_with_paid_dates_settles_by_the_chain_ladder(tmp_path: Path) -> None:
    data = tmp_path / "generated"
    args = ["generate", "--members", "3000", "--seed", "11", "--paid-dates", "--out", str(data)]
    assert CliRunner().invoke(app, args).exit_code == 0
    config = make_config(CHAIN_LADDER)
    program = load_program(data, config, with_claims=True, with_quality=True)
    settlement = compute_settlement(program, config, 2026)
    est = settlement.completion
    assert est is not None
    # Three months of runout leave little unpaid of a book paid 95% within two months
    assert 1.0 < est.factor < 1.03
    assert (settlement.practices["completion_factor"] == est.factor).all()
    # the factors fall with the lag and reach 1 at the last
    assert (np.diff(est.to_ultimate) <= 1e-12).all() and est.to_ultimate[-1] == 1.0


def test_the_documented_config_reads_and_a_wrong_one_is_refused() -> None:
    text = METHODOLOGY.read_text()
    start = text.index("```toml\n[settlement.completion]") + len("```toml\n")
    snippet = tomllib.loads(text[start : text.index("```", start)])
    config = make_config({"settlement": snippet["settlement"]})
    completion = config.require_settlement().completion
    assert (completion.method, completion.runout_months) == ("chain_ladder", 3)
    assert make_config().require_settlement().completion.method == "fixed"
    with pytest.raises(Exception, match="method"):
        make_config({"settlement": {"completion": {"method": "bornhuetter"}}})
