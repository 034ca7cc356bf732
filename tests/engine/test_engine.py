"""One result: the program in one piece, partitioned by member (several bucket counts, one
and two worker processes) and as Dask tasks on a two-worker LocalCluster write the same
bytes, for every shipped preset and for the terms that need the program's global
statistics (percentile stop-loss, normalized scores, member tiers, CCF counted as cost)
and segments."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import DEFAULT_CONFIG, SAMPLE, make_config
from hypothesis import given, settings
from hypothesis import strategies as st

from totalcare_payments.ccf import compute_ccf
from totalcare_payments.config import ProgramConfig, preset, preset_names, preset_text
from totalcare_payments.engine import EngineOptions
from totalcare_payments.engine.buckets import id_buckets
from totalcare_payments.engine.run import engine_program, partitioned_ccf, partitioned_settlement
from totalcare_payments.errors import InputError
from totalcare_payments.generate import generate_program, write_program
from totalcare_payments.jobs import run_budget, run_ccf, run_settlement
from totalcare_payments.periods import year_periods
from totalcare_payments.program import load_program
from totalcare_payments.savings.year import compute_settlement

YEAR = 2026
MONTHS = [int(p) for p in year_periods(YEAR)]

LOCAL = {
    "one bucket": EngineOptions("local", workers=1, buckets=1),
    "five buckets": EngineOptions("local", workers=1, buckets=5),
    "eleven buckets": EngineOptions("local", workers=1, buckets=11),
    "two workers": EngineOptions("local", workers=2, buckets=3),
}


def _config(name: str, changes: dict) -> ProgramConfig:
    """A shipped preset with nested ``changes`` merged in."""
    return make_config(changes, base=DEFAULT_CONFIG.parent / f"{name}.toml")


PERCENTILE = {"kind": "percentile", "percentile": 0.99, "amount": None}
MEMBER_TIERS = tomllib.loads(preset_text("cpc_plus_track1"))["ccf"]
VARIANTS = {
    "percentile stop-loss, normalized, CCF as cost": (
        "bluekc_medical_home",
        {
            "risk": {"normalize": True},
            "settlement": {"stop_loss": PERCENTILE, "ccf_counts_as_cost": True},
        },
    ),
    "member tiers, normalized, CCF as cost, percentile": (
        "bluekc_medical_home",
        {
            "risk": {"normalize": True},
            "ccf": {
                **MEMBER_TIERS,
                "tier_multipliers": {"Developing": 0.9, "Established": 1.0, "Advanced": 1.1},
            },
            "settlement": {"stop_loss": PERCENTILE, "ccf_counts_as_cost": True},
        },
    ),
}


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generated program of 20,000 members, and one of 20,000 with four segments and
    baselines per practice and segment (built from its own year)."""
    root = tmp_path_factory.mktemp("engine")
    plain = root / "plain"
    write_program(generate_program(20_000, seed=3), plain)
    segmented = root / "segmented"
    shares = {"aged_nondual": 0.6, "aged_dual": 0.2, "disabled": 0.15, "esrd": 0.05}
    write_program(generate_program(20_000, seed=5, segments=shares), segmented)
    config = preset("bluekc_medical_home")
    run_budget(config, {YEAR: segmented}, segmented / "practices.parquet", root / "budget")
    (segmented / "baselines.csv").write_bytes((root / "budget" / "baselines.csv").read_bytes())
    return {"plain": plain, "segmented": segmented}


def outputs(config: ProgramConfig, data: Path, out: Path, engine: EngineOptions | None) -> dict:
    """Every output file's bytes of the year's CCF batches and settlement (but run.json,
    the run's time and host)."""
    written: dict[str, bytes] = {}
    if config.ccf is not None:
        run_ccf(config, data, MONTHS, out / "ccf", engine=engine)
    if config.settlement is not None:
        run_settlement(config, YEAR, out / "settle", data=data, engine=engine)
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.name != "run.json":
            written[str(path.relative_to(out))] = path.read_bytes()
    return written


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"files that differ: {different}"


def test_a_partitioned_year_writes_the_bytes_of_the_program_in_one_piece(
    programs: dict[str, Path], tmp_path: Path
) -> None:
    config = preset("bluekc_medical_home")
    whole = outputs(config, programs["plain"], tmp_path / "memory", EngineOptions("memory"))
    parts = outputs(config, programs["plain"], tmp_path / "local", LOCAL["five buckets"])
    assert "settle/settlement.csv" in whole and "ccf/ccf_payments.csv" in whole
    _same(whole, parts)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as local:
        yield local.scheduler_address


def _cases() -> list[tuple[str, str, dict, str]]:
    cases = [(name, name, {}, "plain") for name in preset_names()]
    cases += [(label, name, changes, "plain") for label, (name, changes) in VARIANTS.items()]
    cases.append(
        ("segments, normalized", "bluekc_medical_home", {"risk": {"normalize": True}}, "segmented")
    )
    return cases


@pytest.mark.slow
@pytest.mark.parametrize(
    ("label", "name", "changes", "program"), _cases(), ids=[c[0] for c in _cases()]
)
def test_every_engine_writes_the_same_bytes(
    label: str,
    name: str,
    changes: dict,
    program: str,
    programs: dict[str, Path],
    cluster: str,
    tmp_path: Path,
) -> None:
    config = _config(name, changes)
    data = programs[program]
    engines = {**LOCAL, "dask": EngineOptions("dask", scheduler=cluster, buckets=4)}
    if config.risk is None:  # a summary-only program (Medicare's tracks): the same refusal
        messages = set()
        for engine in [EngineOptions("memory"), *engines.values()]:
            with pytest.raises(InputError) as caught:
                outputs(config, data, tmp_path / str(len(messages)) / "x", engine)
            messages.add(str(caught.value))
        assert len(messages) == 1
        return
    whole = outputs(config, data, tmp_path / "memory", EngineOptions("memory"))
    assert whole
    for engine_name, engine in engines.items():
        _same(whole, outputs(config, data, tmp_path / engine_name.replace(" ", "-"), engine))


# ----- the combined result does not depend on the bucket count -----


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small")
    write_program(generate_program(3_000, seed=17), folder)
    return folder


def _whole(folder: Path, config: ProgramConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    program = load_program(folder, config, with_claims=True, with_quality=True)
    return (
        compute_ccf(program, config, MONTHS).lines,
        compute_settlement(program, config, YEAR).practices,
    )


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(buckets=st.integers(min_value=1, max_value=24), variant=st.sampled_from(sorted(VARIANTS)))
def test_the_result_does_not_depend_on_the_bucket_count(
    small: Path, buckets: int, variant: str
) -> None:
    config = _config(*VARIANTS[variant])
    lines, practices = _whole(small, config)
    options = EngineOptions("local", workers=1, buckets=buckets)
    ccf_run = engine_program(config, small, MONTHS, options, settle=False)
    settle_run = engine_program(config, small, MONTHS, options, settle=True)
    assert ccf_run is not None and settle_run is not None
    assert len(ccf_run.buckets) == buckets
    pd.testing.assert_frame_equal(partitioned_ccf(ccf_run).lines, lines)
    pd.testing.assert_frame_equal(partitioned_settlement(settle_run, YEAR).practices, practices)


# ----- bad rows keep their row numbers; every row is accounted for -----


def _planted(folder: Path) -> Path:
    """A program whose claims have rows the checks reject, one of them a claim id repeated
    by another member (in another bucket), and whose attribution repeats a member-month."""
    tables = generate_program(4_000, seed=23)
    claims = tables["claims"].to_pandas()
    other = claims.index[claims["member_id"] != claims.loc[10, "member_id"]][50]
    claims.loc[other, "claim_id"] = claims.loc[10, "claim_id"]  # another member's claim id
    claims.loc[other, "paid_amount"] = abs(claims.loc[other, "paid_amount"])
    claims.loc[10, "paid_amount"] = abs(claims.loc[10, "paid_amount"])
    claims.loc[300, "paid_amount"] = float("inf")
    claims.loc[900, "member_id"] = None
    attribution = tables["attribution"].to_pandas()
    attribution = pd.concat([attribution, attribution.iloc[[40]]], ignore_index=True)
    tables = {
        **tables,
        "claims": pa.Table.from_pandas(claims, schema=tables["claims"].schema),
        "attribution": pa.Table.from_pandas(attribution, schema=tables["attribution"].schema),
    }
    folder.mkdir(parents=True)
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=1_000)
    return folder


def test_rejected_rows_and_the_accounting_are_those_of_the_whole_file(tmp_path: Path) -> None:
    data = _planted(tmp_path / "data")
    config = preset("bluekc_medical_home")
    whole = outputs(config, data, tmp_path / "memory", EngineOptions("memory"))
    parts = outputs(config, data, tmp_path / "local", EngineOptions("local", workers=1, buckets=6))
    _same(whole, parts)
    rejects = pd.read_csv(tmp_path / "local" / "settle" / "rejects.csv")
    # rows count from 1 after the header: the frame's row 10 is the file's row 11
    claims = rejects[rejects["table"] == "claims"].set_index("row")["reason"].to_dict()
    assert claims[301] == "NON_FINITE" and claims[901] == "NULL_KEY"
    assert "DUPLICATE_CLAIM_ID" in claims.values()  # the repeat of another member's claim id
    attribution = rejects[rejects["table"] == "attribution"]
    assert list(attribution["reason"]) == ["DUPLICATE_MEMBER_MONTH"]


def test_a_member_is_in_one_bucket_however_its_id_is_written() -> None:
    as_numbers = id_buckets(pa.array([100, 2_000_000_001, None]), 13)
    as_text = id_buckets(pa.array(["100", " 2000000001 ", None]), 13)
    with_zeros = id_buckets(pa.array(["0100", "02000000001", ""]).dictionary_encode(), 13)
    as_floats = id_buckets(pa.array([100.0, 2_000_000_001.0, None]), 13)
    assert list(as_numbers[:2]) == list(as_text[:2]) == list(with_zeros[:2]) == list(as_floats[:2])
    folded = id_buckets(pa.array(["m00a7", "M00A7"]), 13, ("uppercase",))
    assert folded[0] == folded[1]
    spread = np.bincount(id_buckets(pa.array(np.arange(100_000)), 8), minlength=8)
    assert spread.min() > 0.9 * 100_000 / 8  # a hash, not a range


# ----- the command line -----


def test_the_command_line_runs_partitioned_and_leaves_no_work_behind(
    programs: dict[str, Path], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("a file of the user's")
    runner = CliRunner()
    common = ["settle", "--year", "2026", "--data", str(programs["plain"])]
    whole = runner.invoke(app, [*common, "--out", str(tmp_path / "a"), "--engine", "memory"])
    parts = runner.invoke(
        app,
        [
            *common,
            "--out",
            str(tmp_path / "b"),
            "--engine",
            "local",
            "--workers",
            "1",
            "--buckets",
            "3",
            "--work-dir",
            str(work),
        ],
    )
    assert whole.exit_code == 0 and parts.exit_code == 0, parts.output
    for name in ("settlement.csv", "manifest.json", "rejects.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert [p.name for p in work.iterdir()] == ["mine.txt"]  # the buckets are gone


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--engine", "spark"], "--engine must be one of"),
        (["--engine", "local", "--workers", "0"], "--workers must be at least 1"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --engine dask"),
        (["--engine", "local", "--memory-limit", "lots"], "--memory-limit takes a size"),
    ],
)
def test_engine_options_that_cannot_work_are_refused(
    options: list[str], message: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    result = CliRunner().invoke(
        app,
        [
            "ccf",
            "--month",
            "2026-03",
            "--data",
            "sample_data",
            "--out",
            str(tmp_path / "o"),
            *options,
        ],
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_effective_dated_practices_run_in_one_piece_with_the_same_bytes(tmp_path: Path) -> None:
    """A practice whose tier changes in June (two dated rows): --engine local runs the
    program in one piece (the tier in force is looked up month by month) and writes the
    bytes of --engine memory, CCF and settlement."""
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    feed = tmp_path / "feed"
    feed.mkdir()
    for name in ("attribution", "risk_scores", "claims", "quality"):
        (feed / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    practices = pd.read_csv(SAMPLE / "practices.csv", dtype=str)
    before, after = practices.iloc[[0]].copy(), practices.iloc[[0]].copy()
    before["effective_to"], after["effective_from"], after["tier"] = "2026-05", "2026-06", "Advanced"
    rest = practices.iloc[1:]
    pd.concat([before, after, rest]).to_csv(feed / "practices.csv", index=False)
    runner = CliRunner()
    for command, file in (
        (["ccf", "--months", "2026-01..2026-12"], "ccf_payments.csv"),
        (["settle", "--year", "2026"], "settlement.csv"),
    ):
        outs = []
        for engine in ("memory", "local"):
            out = tmp_path / f"{command[0]}-{engine}"
            result = runner.invoke(
                app, [*command, "--data", str(feed), "--engine", engine, "--out", str(out)]
            )
            assert result.exit_code == 0, result.output
            outs.append((out / file).read_bytes())
        assert outs[0] == outs[1]
    lines = pd.read_csv(tmp_path / "ccf-memory" / "ccf_payments.csv", dtype=str)
    p1 = lines[lines["practice_id"] == "P0001"]
    assert set(p1.loc[p1["year_month"] < "2026-06", "tier"]) == {"Established"}
    assert set(p1.loc[p1["year_month"] >= "2026-06", "tier"]) == {"Advanced"}


def test_a_ledger_batch_refuses_the_partitioned_engine(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from totalcare_payments.cli.app import app

    result = CliRunner().invoke(
        app,
        ["ccf", "--month", "2026-03", "--data", str(SAMPLE), "--ledger",
         str(tmp_path / "l.sqlite"), "--engine", "local", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2, result.output
    assert "do not go with --ledger" in " ".join(result.output.split())
    assert not (tmp_path / "l.sqlite").exists()
