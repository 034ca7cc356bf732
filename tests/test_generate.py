"""The synthetic program generator: shapes, types, rates and determinism at small sizes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from totalcare_payments.cli.app import app
from totalcare_payments.generate import (
    SEGMENT_CHANGE_RATE,
    TABLE_NAMES,
    TIERS,
    generate_program,
    parse_segments,
    write_program,
)

MEMBERS = 5_000
PER_PRACTICE = 50  # 100 practices, so practice-level rates are measurable


@pytest.fixture(scope="module")
def program() -> dict[str, pa.Table]:
    return generate_program(MEMBERS, seed=11, members_per_practice=PER_PRACTICE)


@pytest.fixture(scope="module")
def frames(program: dict[str, pa.Table]) -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in program.items()}


def _digests(paths: dict[str, Path]) -> dict[str, str]:
    return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()}


EXPECTED_SCHEMAS = {
    "practices": [
        ("practice_id", pa.string()),
        ("practice_name", pa.string()),
        ("tier", pa.string()),
        ("baseline_pmpm", pa.float64()),
        ("baseline_risk", pa.float64()),
    ],
    "attribution": [
        ("member_id", pa.int64()),
        ("practice_id", pa.string()),
        ("year_month", pa.string()),
    ],
    "risk_scores": [
        ("member_id", pa.int64()),
        ("mara_cx_total", pa.float64()),
        ("mara_px_total", pa.float64()),
        ("mara_px_medical", pa.float64()),
        ("mara_px_rx", pa.float64()),
    ],
    "claims": [
        ("claim_id", pa.int64()),
        ("member_id", pa.int64()),
        ("claim_start_date", pa.date32()),
        ("paid_amount", pa.float64()),
    ],
    "quality": [
        ("practice_id", pa.string()),
        ("year", pa.int32()),
        ("quality_score", pa.float64()),
        ("met_quality_gate", pa.bool_()),
    ],
}


def test_tables_have_the_input_columns_and_types(program: dict[str, pa.Table]) -> None:
    assert tuple(program) == TABLE_NAMES
    for name, fields in EXPECTED_SCHEMAS.items():
        assert [(f.name, f.type) for f in program[name].schema] == fields, name


def test_same_seed_gives_byte_identical_parquet(tmp_path: Path) -> None:
    def write(folder: str, seed: int) -> dict[str, str]:
        tables = generate_program(2_000, seed=seed, members_per_practice=200)
        return _digests(write_program(tables, tmp_path / folder))

    first, again, other = write("a", 5), write("b", 5), write("c", 6)
    assert first == again
    assert all(other[name] != first[name] for name in ("attribution", "claims", "risk_scores"))


def test_parquet_reads_back_as_plain_strings_and_files_are_named(
    program: dict[str, pa.Table], tmp_path: Path
) -> None:
    paths = write_program(program, tmp_path)
    assert {name: path.name for name, path in paths.items()} == {
        name: f"{name}.parquet" for name in TABLE_NAMES
    }
    attribution = pd.read_parquet(paths["attribution"])
    for column in ("practice_id", "year_month"):
        assert pd.api.types.is_string_dtype(attribution[column].dtype)
        assert not isinstance(attribution[column].dtype, pd.CategoricalDtype)
    assert attribution["year_month"].iloc[0] == "2026-01"


def test_csv_output_is_plain_text(tmp_path: Path) -> None:
    small = generate_program(300, seed=2, members_per_practice=100)
    paths = write_program(small, tmp_path, fmt="csv")
    assert {path.name for path in paths.values()} == {f"{name}.csv" for name in TABLE_NAMES}
    for name, path in paths.items():
        lines = path.read_text().splitlines()
        assert lines[0] == ",".join(f for f, _ in EXPECTED_SCHEMAS[name])
        assert len(lines) == small[name].num_rows + 1
        assert "e+" not in path.read_text() and "e-" not in path.read_text()
    claim = paths["claims"].read_text().splitlines()[1].split(",")
    assert len(claim[2]) == 10 and claim[2][4] == "-" and claim[2][7] == "-"  # YYYY-MM-DD
    assert len(claim[3].split(".")[1]) == 2  # cents
    gate = {line.split(",")[3] for line in paths["quality"].read_text().splitlines()[1:]}
    assert gate <= {"true", "false"}
    with pytest.raises(ValueError, match="fmt"):
        write_program(small, tmp_path, fmt="xlsx")


def test_practices(frames: dict[str, pd.DataFrame]) -> None:
    practices = frames["practices"]
    assert len(practices) == MEMBERS // PER_PRACTICE
    assert practices["practice_id"].is_unique
    assert practices["practice_id"].str.fullmatch(r"P\d{4}").all()
    assert practices["practice_name"].is_unique
    assert set(practices["tier"]) <= set(TIERS)
    shares = practices["tier"].value_counts(normalize=True)
    assert 0.15 < shares["Developing"] < 0.45 and 0.3 < shares["Established"] < 0.6
    assert practices["baseline_pmpm"].between(300, 550).all()
    assert practices["baseline_risk"].between(0.85, 1.2).all()
    assert (practices["baseline_pmpm"] == practices["baseline_pmpm"].round(2)).all()


def test_at_least_one_practice() -> None:
    tables = generate_program(10, members_per_practice=1000)
    assert tables["practices"].num_rows == 1
    assert tables["attribution"].column("practice_id").unique().to_pylist() == ["P0001"]
    with pytest.raises(ValueError, match="members"):
        generate_program(0)


def test_attribution_is_one_practice_per_member_month(frames: dict[str, pd.DataFrame]) -> None:
    attribution = frames["attribution"]
    assert not attribution.duplicated(["member_id", "year_month"]).any()
    assert set(attribution["year_month"]) == {f"2026-{m:02d}" for m in range(1, 13)}
    assert set(attribution["practice_id"]) <= set(frames["practices"]["practice_id"])
    assert attribution["member_id"].nunique() == MEMBERS
    sizes = attribution.groupby("practice_id")["member_id"].nunique()
    assert sizes.max() > 1.5 * sizes.min()  # panels are not all the same size


def test_churn_and_switching_rates(frames: dict[str, pd.DataFrame]) -> None:
    attribution = frames["attribution"]
    month = attribution["year_month"].str.slice(5, 7).astype(int)
    by_member = month.groupby(attribution["member_id"])
    span = by_member.max() - by_member.min() + 1
    assert (span == by_member.size()).all()  # contiguous spans
    partial = (by_member.size() < 12).mean()
    assert 0.09 < partial < 0.16
    switched = attribution.groupby("member_id")["practice_id"].nunique()
    assert switched.max() == 2
    assert 0.015 < (switched == 2).mean() < 0.045


def test_risk_scores(frames: dict[str, pd.DataFrame]) -> None:
    scores = frames["risk_scores"]
    assert scores["member_id"].is_unique
    missing = 1 - scores["member_id"].isin(frames["attribution"]["member_id"]).sum() / MEMBERS
    assert 0.01 < missing < 0.03
    assert abs(scores["mara_px_total"].mean() - 1.0) < 0.05
    assert abs(scores["mara_cx_total"].mean() - 1.0) < 0.05
    assert (scores["mara_px_total"] > 0).all()
    parts = scores["mara_px_medical"] + scores["mara_px_rx"]
    assert np.allclose(parts, scores["mara_px_total"], atol=2e-4)
    assert 0.7 < (scores["mara_px_medical"].sum() / scores["mara_px_total"].sum()) < 0.8
    score_columns = scores.columns.drop("member_id")
    assert (scores[score_columns] == scores[score_columns].round(4)).all().all()


def test_reversals_net_to_zero(frames: dict[str, pd.DataFrame]) -> None:
    claims = frames["claims"]
    reversals = claims[claims["paid_amount"] < 0]
    originals = claims[claims["paid_amount"] > 0]
    assert originals["claim_id"].is_unique and reversals["claim_id"].is_unique
    assert 0.01 < len(reversals) / len(originals) < 0.03
    pairs = reversals.merge(originals, on="claim_id", suffixes=("_rev", ""))
    assert len(pairs) == len(reversals)
    assert (pairs["member_id_rev"] == pairs["member_id"]).all()
    assert (pairs["claim_start_date_rev"] == pairs["claim_start_date"]).all()
    assert (pairs["paid_amount_rev"] + pairs["paid_amount"] == 0).all()


def test_claims_frequency_cost_and_timing(frames: dict[str, pd.DataFrame]) -> None:
    claims, attribution = frames["claims"], frames["attribution"]
    member_years = len(attribution) / 12
    lines = (claims["paid_amount"] > 0).sum()
    assert 11.0 < lines / member_years < 13.5
    pmpm = claims["paid_amount"].sum() / len(attribution)
    assert 300 < pmpm < 650
    assert (claims["paid_amount"] == claims["paid_amount"].round(2)).all()
    dates = pd.to_datetime(claims["claim_start_date"])
    assert (dates.dt.year == 2026).all()
    assert dates.is_monotonic_increasing  # ordered by service date, not by member
    assert not claims["member_id"].is_monotonic_increasing
    month = dates.dt.strftime("%Y-%m")
    key = claims["member_id"].astype(str) + "|" + month
    attributed = set(attribution["member_id"].astype(str) + "|" + attribution["year_month"])
    outside = 1 - key.isin(attributed).mean()
    assert 0.01 < outside < 0.035


def test_claim_count_rises_with_risk(frames: dict[str, pd.DataFrame]) -> None:
    scores, claims = frames["risk_scores"], frames["claims"]
    lines = claims[claims["paid_amount"] > 0].groupby("member_id").size()
    joined = scores.set_index("member_id").join(lines.rename("lines")).fillna({"lines": 0})
    high = joined["mara_px_total"] > joined["mara_px_total"].quantile(0.8)
    low = joined["mara_px_total"] < joined["mara_px_total"].quantile(0.2)
    assert joined.loc[high, "lines"].mean() > 1.5 * joined.loc[low, "lines"].mean()


def test_quality_one_row_per_practice(frames: dict[str, pd.DataFrame]) -> None:
    quality, practices = frames["quality"], frames["practices"]
    assert list(quality["practice_id"]) == list(practices["practice_id"])
    assert (quality["year"] == 2026).all()
    assert quality["quality_score"].between(0, 1).all()
    assert quality["quality_score"].between(0.6, 0.95).mean() > 0.75
    assert 0.02 <= (~quality["met_quality_gate"]).mean() <= 0.2


def test_year_is_an_argument() -> None:
    tables = generate_program(500, year=2024, members_per_practice=100)
    months = set(tables["attribution"].column("year_month").to_pylist())
    assert months == {f"2024-{m:02d}" for m in range(1, 13)}
    dates = pd.to_datetime(tables["claims"].column("claim_start_date").to_pandas())
    assert (dates.dt.year == 2024).all()
    assert set(tables["quality"].column("year").to_pylist()) == {2024}


def test_sample_data_is_what_its_readme_command_makes(tmp_path):
    """sample_data/README.md names the command that made the sample program."""
    sample = Path(__file__).resolve().parent.parent / "sample_data"
    args = [
        "generate",
        "--members",
        "600",
        "--seed",
        "84",
        "--members-per-practice",
        "100",
        "--format",
        "csv",
        "--out",
        str(tmp_path),
    ]
    assert " ".join(args[:-1]) in (sample / "README.md").read_text()
    assert CliRunner().invoke(app, args).exit_code == 0
    for name in ("practices", "attribution", "risk_scores", "claims", "quality"):
        assert (tmp_path / f"{name}.csv").read_bytes() == (sample / f"{name}.csv").read_bytes()


def test_paid_dates_are_an_added_column_and_change_nothing_else(tmp_path: Path) -> None:
    plain = generate_program(2_000, seed=5, members_per_practice=200)
    paid = generate_program(2_000, seed=5, members_per_practice=200, paid_dates=True)
    for name in TABLE_NAMES:
        if name != "claims":
            assert paid[name].equals(plain[name]), name
    assert paid["claims"].drop_columns(["paid_date"]).equals(plain["claims"])
    assert paid["claims"].schema.field("paid_date").type == pa.date32()
    claims = paid["claims"].to_pandas()
    lag_days = (pd.to_datetime(claims["paid_date"]) - pd.to_datetime(claims["claim_start_date"])).dt.days
    assert lag_days.between(0, 365).all()
    service = pd.to_datetime(claims["claim_start_date"]).dt.to_period("M")
    lag = (pd.to_datetime(claims["paid_date"]).dt.to_period("M") - service).map(lambda d: d.n)
    within = [float((lag <= k).mean()) for k in (0, 1, 2, 5)]
    assert 0.25 < within[0] < 0.45 and 0.75 < within[1] < 0.9 and within[2] > 0.9
    assert within[3] > 0.99
    # same seed, same bytes; without paid dates the files are those of before
    again = generate_program(2_000, seed=5, members_per_practice=200, paid_dates=True)
    assert _digests(write_program(paid, tmp_path / "a")) == _digests(
        write_program(again, tmp_path / "b")
    )


def test_segments_are_an_added_column_and_change_nothing_else(tmp_path: Path) -> None:
    shares = parse_segments("aged_nondual=0.6,aged_dual=0.2,disabled=0.15,esrd=0.05")
    assert shares == {"aged_nondual": 0.6, "aged_dual": 0.2, "disabled": 0.15, "esrd": 0.05}
    plain = generate_program(20_000, seed=5, members_per_practice=2_000)
    with_segments = generate_program(20_000, seed=5, members_per_practice=2_000, segments=shares)
    for name in TABLE_NAMES:
        if name != "attribution":
            assert with_segments[name].equals(plain[name]), name
    attribution = with_segments["attribution"]
    assert attribution.drop_columns(["segment"]).equals(plain["attribution"])
    assert attribution.schema.field("segment").type == pa.string()
    frame = attribution.to_pandas()
    # each member's first month's segment follows the shares (20,000 draws: within 1.5 points)
    first = frame.groupby("member_id")["segment"].first().value_counts(normalize=True)
    for name, share in shares.items():
        assert abs(first[name] - share) < 0.015, (name, first[name])
    # SEGMENT_CHANGE_RATE of the members move once, to another segment, in a later month
    per_member = frame.groupby("member_id")["segment"]
    moved = per_member.nunique()
    assert set(moved.unique()) <= {1, 2}
    assert abs((moved == 2).mean() - SEGMENT_CHANGE_RATE) < 0.006
    changes = (frame["segment"] != per_member.shift()) & frame["member_id"].duplicated()
    assert changes.sum() == (moved == 2).sum()  # one change per moving member, never back
    assert (frame.loc[changes, "year_month"] > "2026-01").all()
    # names alone: equal shares; the same seed gives the same bytes
    equal = generate_program(2_000, seed=5, segments=["a", "b"])
    again = generate_program(2_000, seed=5, segments={"a": 1.0, "b": 1.0})
    assert _digests(write_program(equal, tmp_path / "a")) == _digests(
        write_program(again, tmp_path / "b")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,,b", "without a name"),
        ("a,a", "named twice"),
        ("a=0.5,b", "every segment a share, or none"),
        ("a=x", "is not a number"),
        ("a=0,b=1", "positive number"),
    ],
)
def test_generate_segments_option_errors(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        parse_segments(text)
    result = CliRunner().invoke(
        app, ["generate", "--members", "10", "--segments", text, "--out", str(tmp_path / "g")]
    )
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "g").exists()


def test_a_program_written_in_blocks_is_whole_and_deterministic(tmp_path: Path) -> None:
    from totalcare_payments.generate import stream_program

    first, rows = stream_program(2_500, tmp_path / "a", block_members=1_000, seed=9)
    again, _ = stream_program(2_500, tmp_path / "b", block_members=1_000, seed=9)
    for name, path in first.items():
        assert path.read_bytes() == again[name].read_bytes(), name
    attribution = pq.read_table(first["attribution"]).to_pandas()
    claims = pq.read_table(first["claims"]).to_pandas()
    # three blocks (1,000 + 1,000 + 500 members): ids run on from block to block
    assert attribution["member_id"].nunique() == 2_500
    assert rows["attribution"] == len(attribution) and rows["claims"] == len(claims)
    assert set(claims["member_id"]) <= set(attribution["member_id"])
    payments = claims[claims["paid_amount"] >= 0]
    assert payments["claim_id"].is_unique  # a reversal repeats its payment's id only
    practices = pq.read_table(first["practices"]).to_pandas()
    assert len(practices) == 2  # 2,500 members at 1,000 a practice, spread over all blocks
    assert set(attribution["practice_id"]) == set(practices["practice_id"])
