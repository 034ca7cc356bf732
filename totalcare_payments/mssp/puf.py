"""Medicare Shared Savings Program (MSSP): settle CMS's published ACO results with the engine.

CMS publishes every ACO's year-end settlement in the MSSP Public Use File (PUF): its
benchmark, expenditures, minimum savings rate, quality score and the shared savings paid
or losses billed (``EarnSaveLoss``). This module proves the savings engine on them:

* ``read_puf`` maps one year's file (as published, or the derived all-years file) onto
  the engine's practice-level summary (ACO = practice, N_AB = population, ABtotBnchmk =
  budget, ABtotExp = actual_cost, ...), keeping CMS's own results beside it;
* ``settle_puf`` settles each track's rows with its preset (``presets/mssp_*.toml``)
  through ``settlement.settle_summary``, the code path that settles any other program,
  and compares the result with CMS's row by row;
* ``check_puf`` does both and counts the matches (``totalcare mssp-check``).

All that is Medicare here is the column mapping below and the presets: the engine has no
Medicare special case. The one rule the config language cannot hold as a program term
(Track 2's loss limit by the ACO's agreement year) is applied as a ``loss_limit`` column
that overrides the preset's for those rows. From PY2022 on a file is read by CMS's column
names and track labels (``_read_current``), so a later year's file that keeps them needs
no code.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import ProgramConfig, SettlementTerms, preset
from ..errors import InputError, Problem
from ..reasons import Reason

#: The preset config of each track label (``tier`` in the summary).
PRESETS: dict[str, str] = {
    "Track 1": "mssp_track1",
    "Track 1+": "mssp_track1_plus",
    "Track 2": "mssp_track2",
    "Track 3": "mssp_track3",
    "BASIC A": "mssp_basic_a_b",
    "BASIC B": "mssp_basic_a_b",
    "BASIC C": "mssp_basic_c_e",
    "BASIC D": "mssp_basic_c_e",
    "BASIC E": "mssp_basic_c_e",
    "ENHANCED": "mssp_enhanced",
}

#: Years whose file is read as CMS published it (and checked on the reference files).
PUBLISHED_YEARS = (2013, 2014, 2018, 2022, 2023)
#: From this performance year on, a file is read by CMS's column names and track labels
#: (``Current_Track``: A..E, EN): any later year's file that keeps them is read too.
CURRENT_LAYOUT_FROM = 2022
#: Years read from the derived all-years file (mssp_all_years_2013_2021_derived.csv): those
#: with track flags and Met_QPS there. Its PY2013-PY2015 rows lack them or EarnSaveLoss.
DERIVED_YEARS = (2016, 2017, 2018, 2019, 2020, 2021)
#: Loss limits (share of the benchmark) that depend on more than the track: Track 2's, by
#: performance year of the agreement (1, 2, 3 and later), 42 CFR 425.606(g). (The BASIC
#: levels' limits are the preset's loss_limit_by_tier and revenue_loss_limit_by_tier.)
TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR = {1: 0.05, 2: 0.075, 3: 0.10}

#: Most |benchmark - expenditures - published gross savings| a well-read row shows ($).
LAYOUT_TOLERANCE = 2.0

#: The MSR table must reproduce CMS's MinSavPerc to this (where published to more decimals).
MSR_TOLERANCE = 1e-6

#: Engine results within this many dollars of CMS's count as a match (CMS pays whole dollars).
DOLLAR_TOLERANCE = 1.0

#: The summary columns ``read_puf`` returns (the engine's) and the published ones kept.
SUMMARY_COLUMNS = [
    "practice_id",
    "practice_name",
    "tier",
    "population",
    "budget",
    "actual_cost",
    "quality_score",
    "met_quality_gate",
    "met_alternative_quality",
    "msr",
    "revenue",
    "terminated_month",
    "loss_adjustment",
    "loss_limit",
    "agreement_year",
]
PUBLISHED_COLUMNS = [
    "published_result",
    "published_savings",
    "GenSaveLoss",
    "MinSavPerc",
    "QualPerfShare",
    "FinalShareRate",
    "quality_rounding",
    "msr_rounding",
]
#: Half a unit of the last published decimal (the most the published value can be off).
FOUR_DECIMALS = 0.5e-4


@cache
def preset_config(track: str) -> ProgramConfig:
    """The shipped preset (``presets/mssp_*.toml``) that settles a track's ACOs."""
    if track not in PRESETS:
        raise InputError(f"no MSSP preset for track '{track}' (known: {', '.join(PRESETS)})")
    return preset(PRESETS[track])


# ---------------------------------------------------------------------------------------
# Loading: one mapping per year's file, as published
# ---------------------------------------------------------------------------------------


def _number(values: pd.Series) -> pd.Series:
    """Numbers as published: '$1,234.50', '0.0234%', '' -> float (NaN when blank)."""
    text = values.astype("string").str.replace(r"[\s$,%]", "", regex=True)
    return pd.to_numeric(text.mask(text == ""), errors="coerce").astype("float64")


def _percent(values: pd.Series) -> pd.Series:
    """A column in percent units, whatever the year's format, by one rule: "6.46%", "6.46"
    and " 6.46 % " all mean 6.46% = 0.0646 (PY2014's plain numbers, PY2022-PY2023's strings
    with "%", PY2024's "77.05"); blank or "-" -> NaN."""
    text = values.astype("string").str.replace(r"[\s%,]", "", regex=True)
    number = pd.to_numeric(text.replace({"": pd.NA, "-": pd.NA}), errors="coerce")
    return number.astype("float64") / 100.0


def _require(raw: pd.DataFrame, columns: list[str], path: Path, year: int) -> None:
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        looks_like = [f"the PY{y} file" for y, key in _SIGNATURES.items() if key in raw.columns]
        if _CURRENT_SIGNATURE in raw.columns:
            looks_like.append(f"a PY{CURRENT_LAYOUT_FROM}-or-later file")
        hint = f" (it looks like {looks_like[0]})" if looks_like else ""
        raise InputError(
            Problem(
                table="mssp_puf",
                reason=Reason.MISSING_COLUMN,
                column=missing[0],
                message=f"{path} does not look like the PY{year} Public Use File{hint}: "
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing[:6])}"
                + (f" and {len(missing) - 6} more" if len(missing) > 6 else ""),
            ),
            path=str(path),
        )


#: A column only each published year's file has (to name the year of a wrong file).
_SIGNATURES = {2013: "ACO Identifier", 2014: "ACO_Num", 2018: "Current_Track_1_Plus"}
#: The column of the files read by CMS's names, PY2022 on.
_CURRENT_SIGNATURE = "Current_Track"


def _agreement_year(start_dates: pd.Series, year: int, fmt: str) -> np.ndarray:
    """Performance year within the current agreement (1, 2, 3, ...), from its start date."""
    start = pd.to_datetime(start_dates, format=fmt, errors="coerce").dt.year
    return (year - start.fillna(year) + 1).clip(lower=1).to_numpy(dtype=np.int64)


def _read_2013(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    # The PY2013 header lost its "Total expenditures ($)" label: from the 14th column on,
    # each label names the column to its right. True meaning of each physical column:
    benchmark = "Total benchmark expenditures ($)"
    expenditures = "Total savings/losses ($)"  # -> total expenditures
    savings = "Shared Savings ($)"  # -> total savings/losses
    earned = "Shared Losses ($)"  # -> shared savings paid
    losses = "Total number of assigned beneficiaries"  # -> shared losses (negative)
    person_years = "Total assigned beneficiary person years"  # -> assigned beneficiaries
    _require(
        raw,
        [
            "ACO Identifier",
            "ACO Name",
            "Track 2 ACO",
            "Quality Score",
            "Quality Performance Sharing Rate",
            "Final sharing rate",
            "Minimum Savings Rate (%)",
            benchmark,
            expenditures,
            savings,
            earned,
            losses,
            person_years,
        ],
        path,
        2013,
    )
    track2 = _number(raw["Track 2 ACO"]) == 1
    met = _number(raw["Quality Score"]) == 1
    msr = _number(raw["Minimum Savings Rate (%)"])  # a fraction despite its '%'
    tier = np.where(track2, "Track 2", "Track 1")
    return pd.DataFrame(
        {
            "practice_id": raw["ACO Identifier"].astype(str),
            "practice_name": raw["ACO Name"].astype(str),
            "tier": tier,
            "population": _number(raw[person_years]),
            "budget": _number(raw[benchmark]),
            "actual_cost": _number(raw[expenditures]),
            # PY2013 was pay-for-reporting for every ACO: full score when it reported.
            "quality_score": 1.0,
            "met_quality_gate": met.to_numpy(),
            "msr": _msr_column(tier, msr.to_numpy(float)),
            "loss_adjustment": 0.0,
            "agreement_year": 1,  # PY2013 was every ACO's first performance year
            "published_result": _number(raw[earned]).fillna(0.0) + _number(raw[losses]).fillna(0.0),
            "published_savings": _number(raw[savings]),
            "GenSaveLoss": np.nan,  # not published for PY2013
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["Quality Performance Sharing Rate"]),
            "FinalShareRate": _number(raw["Final sharing rate"]),
            "quality_rounding": 0.0,
            "msr_rounding": 0.0,
        }
    )


def _read_2014(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    _require(
        raw,
        [
            "ACO_Num",
            "ACO_NAME",
            "Start_Date",
            "Track2",
            "N_AB",
            "MinSavPerc",
            "BnchmkMinExp",
            "GenSaveLoss",
            "EarnSaveLoss",
            "QualScore",
            "ABtotBnchmk",
            "ABtotExp",
            "QualPerfShare",
            "FinalShareRate",
        ],
        path,
        2014,
    )
    track2 = _number(raw["Track2"]) == 1
    quality = raw["QualScore"].astype("string").str.strip()
    p4r = quality.str.upper().eq("P4R").fillna(False).to_numpy(bool)
    final_rate = _number(raw["FinalShareRate"])
    msr = _percent(raw["MinSavPerc"])  # percent units in PY2014
    tier = np.where(track2, "Track 2", "Track 1")
    return pd.DataFrame(
        {
            "practice_id": raw["ACO_Num"].astype(str),
            "practice_name": raw["ACO_NAME"].astype(str),
            "tier": tier,
            "population": _number(raw["N_AB"]),
            "budget": _number(raw["ABtotBnchmk"]),
            "actual_cost": _number(raw["ABtotExp"]),
            # "P4R": pay-for-reporting (first agreement year), a full score when reported.
            "quality_score": np.where(p4r, 1.0, _number(quality)),
            # No Met_QPS column in PY2014: a missed standard shows as a final rate of 0.
            "met_quality_gate": (final_rate > 0).to_numpy(),
            "msr": _msr_column(tier, msr.to_numpy(float)),
            "loss_adjustment": 0.0,
            # 2012-2013 starters were in their second performance year, 2014 starters their first.
            "agreement_year": _agreement_year(raw["Start_Date"], 2014, "%m/%d/%Y").clip(max=2),
            "published_result": _number(raw["EarnSaveLoss"]),
            "published_savings": _number(raw["BnchmkMinExp"]),
            "GenSaveLoss": _number(raw["GenSaveLoss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["QualPerfShare"]),
            "FinalShareRate": final_rate,
            "quality_rounding": 0.0,  # QualScore has 9 decimals
            "msr_rounding": 0.0,
        }
    )


_TRACK_FLAGS_2018 = {
    "Current_Track_1": "Track 1",
    "Current_Track_1_Plus": "Track 1+",
    "Current_Track_2": "Track 2",
    "Current_Track_3": "Track 3",
}


def _track_from_flags(raw: pd.DataFrame, flags: dict[str, str], path: Path) -> np.ndarray:
    on = [(_number(raw[c]) == 1).to_numpy() for c in flags]
    tier = np.select(on, list(flags.values()), default="")
    bad = np.sum(on, axis=0) != 1
    if bad.any():
        raise InputError(
            Problem(
                table="mssp_puf",
                reason=Reason.TRACK_FLAGS,
                message=f"{path}: each ACO needs exactly one of {', '.join(flags)} set to 1",
                rows=tuple(int(i) + 2 for i in raw.index[bad][:5]),  # file line numbers
                row_count=int(bad.sum()),
            ),
            path=str(path),
        )
    return tier


def _read_2018(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    _require(
        raw,
        [
            "ACO_ID",
            "ACO_Name",
            "Current_Start_Date",
            *_TRACK_FLAGS_2018,
            "N_AB",
            "MinSavPerc",
            "BnchmkMinExp",
            "GenSaveLoss",
            "DisAdj",
            "EarnSaveLoss",
            "Met_QPS",
            "QualScore",
            "ABtotBnchmk",
            "ABtotExp",
            "QualPerfShare",
            "FinalShareRate",
        ],
        path,
        2018,
    )
    tier = _track_from_flags(raw, _TRACK_FLAGS_2018, path)
    msr = _number(raw["MinSavPerc"])  # fractions in PY2018
    return pd.DataFrame(
        {
            "practice_id": raw["ACO_ID"].astype(str),
            "practice_name": raw["ACO_Name"].astype(str),
            "tier": tier,
            "population": _number(raw["N_AB"]),
            "budget": _number(raw["ABtotBnchmk"]),
            "actual_cost": _number(raw["ABtotExp"]),
            # QualScore (4 decimals) with the track's maximum rate, not the rounded FinalShareRate.
            "quality_score": _number(raw["QualScore"]),
            "met_quality_gate": (_number(raw["Met_QPS"]) == 1).to_numpy(),
            "msr": _msr_column(tier, msr.to_numpy(float)),
            "loss_adjustment": _number(raw["DisAdj"]).fillna(0.0),  # negative: relief on losses
            "agreement_year": _agreement_year(
                raw["Current_Start_Date"].astype("string").str.slice(0, 10), 2018, "%m/%d/%Y"
            ),
            "published_result": _number(raw["EarnSaveLoss"]),
            "published_savings": _number(raw["BnchmkMinExp"]),
            "GenSaveLoss": _number(raw["GenSaveLoss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(raw["QualPerfShare"]),
            "FinalShareRate": _number(raw["FinalShareRate"]),
            "quality_rounding": FOUR_DECIMALS,  # QualScore has 4 decimals
            "msr_rounding": 0.0,
        }
    )


_DERIVED_FLAGS = {
    "current_track_1": "Track 1",
    "current_track_1_plus": "Track 1+",
    "current_track_2": "Track 2",
    "current_track_3": "Track 3",
    "current_basic_a": "BASIC A",
    "current_basic_b": "BASIC B",
    "current_basic_c": "BASIC C",
    "current_basic_d": "BASIC D",
    "current_basic_e": "BASIC E",
    "current_enhanced": "ENHANCED",
}


def _read_derived(raw: pd.DataFrame, path: Path, year: int) -> pd.DataFrame:
    """One year of the third-party all-years merge (lower-cased PUF column names).

    Its percent columns were rescaled differently by year, so only the dollar columns,
    n_ab, qualscore, met_qps, the track flags and minsavperc where it is a fraction
    (PY2016 on) are used.
    """
    _require(
        raw,
        [
            "performance_year",
            "aco_id",
            "aco_name",
            "current_start_date",
            *_DERIVED_FLAGS,
            "n_ab",
            "minsavperc",
            "bnchmkminexp",
            "gensaveloss",
            "disadj",
            "earnsaveloss",
            "met_qps",
            "qualscore",
            "abtotbnchmk",
            "abtotexp",
            "maxsharerate",
            "finalsharerate",
        ],
        path,
        year,
    )
    rows = raw[(_number(raw["performance_year"]) == year).to_numpy()]
    if rows.empty:
        raise InputError(f"no rows for PY{year}", path=str(path))
    tier = _track_from_flags(rows, _DERIVED_FLAGS, path)
    rows = rows.reset_index(drop=True)
    met = (_number(rows["met_qps"]) == 1).to_numpy()
    quality = _number(rows["qualscore"])
    msr = _number(rows["minsavperc"])
    # PY2016-PY2017 rows have no ACO id in the merge: their (unique) name stands in.
    ids = rows["aco_id"].astype("string").fillna(rows["aco_name"].astype("string"))
    start = rows["current_start_date"].astype("string").str.split().str[0]
    return pd.DataFrame(
        {
            "practice_id": ids.astype(str).to_numpy(),
            "practice_name": rows["aco_name"].astype(str).to_numpy(),
            "tier": tier,
            "population": _number(rows["n_ab"]),
            "budget": _number(rows["abtotbnchmk"]),
            "actual_cost": _number(rows["abtotexp"]),
            "quality_score": quality,
            "met_quality_gate": met,
            "msr": _msr_column(tier, msr.to_numpy(float)),
            "loss_adjustment": _number(rows["disadj"]).fillna(0.0),
            "agreement_year": _agreement_year(start, year, "%m/%d/%Y"),
            "published_result": _number(rows["earnsaveloss"]),
            "published_savings": _number(rows["bnchmkminexp"]),
            "GenSaveLoss": _number(rows["gensaveloss"]),
            "MinSavPerc": msr,
            "QualPerfShare": _number(rows["maxsharerate"]),
            "FinalShareRate": _number(rows["finalsharerate"]),
            # the score's rounding cannot move a payment where it only gates the full rate
            "quality_rounding": np.where(_full_rate(tier, year), 0.0, FOUR_DECIMALS),
            "msr_rounding": FOUR_DECIMALS if year >= 2019 else 0.0,  # 4 decimals from PY2019
        }
    )


_CURRENT_COLUMNS = [
    "ACO_ID",
    "ACO_Name",
    "Current_Start_Date",
    "Current_Track",
    "Risk_Model",
    "N_AB",
    "MinSavPerc",
    "BnchmkMinExp",
    "GenSaveLoss",
    "DisAdj",
    "Impact_Mid_Year_Termination",
    "EarnSaveLoss",
    "Met_QPS",
    "QualScore",
    "ABtotBnchmk",
    "ABtotExp",
    "FinalShareRate",
]
#: Current_Track's labels (after an optional "BASIC" and "Level"), PY2022 on.
_TRACK_LABELS = {
    "A": "BASIC A",
    "B": "BASIC B",
    "C": "BASIC C",
    "D": "BASIC D",
    "E": "BASIC E",
    "EN": "ENHANCED",
    "ENHANCED": "ENHANCED",
}
#: Impact_Mid_Year_Termination (PY2022's Prorate_Shared_Losses until CMS renamed it) marks an
#: ACO that left after June 30; the PUF does not give the month. December stands in: no
#: shared savings, and losses (of which there are none among these ACOs) in full.
UNKNOWN_TERMINATION_MONTH = 12


def _read_current(raw: pd.DataFrame, path: Path, year: int) -> pd.DataFrame:
    """A PY2022-or-later PUF, by CMS's column names (docs/mssp.md: the BASIC/ENHANCED mapping).

    Percent columns by one rule (``_percent``), tracks from ``Current_Track``'s labels, the
    alternative quality standard from ``Met_AltQPS`` where the year has it (PY2023 on).
    """
    _require(raw, _CURRENT_COLUMNS, path, year)
    tier = _track_from_label(raw, path)
    met = (_number(raw["Met_QPS"]) == 1).to_numpy()
    alternative = np.zeros(len(raw), dtype=bool)
    if "Met_AltQPS" in raw.columns:  # "-": not applicable
        alternative = (_number(raw["Met_AltQPS"]) == 1).to_numpy()
    quality = _percent(raw["QualScore"]).to_numpy(float)
    quality = np.where(np.isnan(quality) & ~met & ~alternative, 0.0, quality)
    msr = _percent(raw["MinSavPerc"])
    budget, savings = _number(raw["ABtotBnchmk"]), _number(raw["BnchmkMinExp"])
    terminated = (_number(raw["Impact_Mid_Year_Termination"]) == 1).to_numpy()
    start = raw["Current_Start_Date"].astype("string").str.split().str[0]
    return pd.DataFrame(
        {
            "practice_id": raw["ACO_ID"].astype(str).str.strip(),
            "practice_name": raw["ACO_Name"].astype(str),
            "tier": tier,
            "population": _number(raw["N_AB"]),
            "budget": budget,
            # CMS's gross savings, BnchmkMinExp, is its unrounded savings rounded to the
            # dollar; ABtotBnchmk - ABtotExp can be $1 off it (each is rounded). The
            # expenditures it implies are used, ABtotExp only for the layout check.
            "actual_cost": budget - savings,
            "published_expenditures": _number(raw["ABtotExp"]),
            "quality_score": quality,
            "met_quality_gate": met,
            "met_alternative_quality": alternative,
            "msr": _msr_column(tier, msr.to_numpy(float)),
            "revenue": np.nan,  # participants' fee-for-service revenue: not published
            "terminated_month": np.where(terminated, UNKNOWN_TERMINATION_MONTH, 0),
            "loss_adjustment": _number(raw["DisAdj"]).fillna(0.0),  # negative: relief
            "agreement_year": _agreement_year(start, year, "%m/%d/%Y"),
            "published_result": _number(raw["EarnSaveLoss"]),
            "published_savings": savings,
            "GenSaveLoss": _number(raw["GenSaveLoss"]),
            "MinSavPerc": msr,
            "QualPerfShare": np.nan,  # not published: the track's maximum rate
            "FinalShareRate": _percent(raw["FinalShareRate"]),
            "quality_rounding": _quality_rounding(tier, met, alternative, savings, year),
            "msr_rounding": FOUR_DECIMALS,  # MinSavPerc "3.36%": 4 decimals as a fraction
        }
    )


def _track_from_label(raw: pd.DataFrame, path: Path) -> np.ndarray:
    """``Current_Track`` ("A".."E", "EN"; also "BASIC A", "Level B", "ENHANCED") -> track,
    checked against ``Risk_Model``: one-sided exactly where the track's preset has no losses."""
    label = raw["Current_Track"].astype("string").str.upper().str.strip()
    key = label.str.replace(r"^(BASIC\s*)?(LEVEL\s*)?", "", regex=True).str.strip()
    tier = key.map(_TRACK_LABELS)
    bad = tier.isna().to_numpy()
    message = f"{path}: Current_Track must be one of A, B, C, D, E (BASIC levels) or EN (ENHANCED)"
    if not bad.any():
        two_sided = _settlement_terms(tier.to_numpy(str), lambda t: t.losses.enabled)
        model = raw["Risk_Model"].astype("string").str.upper().str.strip()
        known = model.isin(["ONE-SIDED", "TWO-SIDED"]).to_numpy(bool)
        bad = ~known | (model.eq("TWO-SIDED").to_numpy(bool) != two_sided.to_numpy(bool))
        message = (
            f"{path}: Risk_Model must be One-Sided for BASIC levels A-B and Two-Sided for "
            "levels C-E and ENHANCED"
        )
    if bad.any():
        raise InputError(
            Problem(
                table="mssp_puf",
                reason=Reason.TRACK_LABEL,
                column="Current_Track",
                message=message,
                rows=tuple(int(i) + 2 for i in np.flatnonzero(bad)[:5]),  # file line numbers
                row_count=int(bad.sum()),
                examples=tuple(label.fillna("").to_numpy(str)[bad][:5]),
            ),
            path=str(path),
        )
    return tier.to_numpy(str)


def _settlement_terms(tier: np.ndarray, term: Callable[[SettlementTerms], object]) -> pd.Series:
    """One of the track presets' terms, per row."""
    values = {t: term(preset_config(str(t)).require_settlement()) for t in pd.unique(tier)}
    return pd.Series(tier).map(values)


def _full_rate(tier: np.ndarray, year: int) -> np.ndarray:
    """Rows whose preset pays the full rate to an ACO meeting the quality standard in ``year``."""
    rule = _settlement_terms(tier, lambda t: t.quality.standard_sharing_for(year))
    return rule.eq("full_rate").to_numpy(bool)


def _quality_rounding(
    tier: np.ndarray, met: np.ndarray, alternative: np.ndarray, savings: pd.Series, year: int
) -> np.ndarray:
    """Half a unit of QualScore's last published decimal where the score moves the result:
    a sliding-scale share (the standard met in a sliding-scale year, or only the alternative)
    and a loss at a rate computed from the score; 0 where it only gates a full or flat rate."""
    sliding = met & ~_full_rate(tier, year)
    alternative_scale = _settlement_terms(tier, lambda t: t.quality.alternative_sharing)
    sliding |= ~met & alternative & alternative_scale.eq("sliding_scale").to_numpy(bool)
    by_quality = _settlement_terms(
        tier, lambda t: t.losses.enabled and isinstance(t.losses.loss_rate, str)
    ).to_numpy(bool)
    losing = by_quality & (met | alternative) & (savings < 0).to_numpy(bool)
    return np.where(sliding | losing, FOUR_DECIMALS, 0.0)


def _msr_column(tier: np.ndarray, published: np.ndarray) -> np.ndarray:
    """The summary's msr from the published MinSavPerc, as each track's preset reads it:
    NaN where the preset computes it from its table (kind 'table'); for kind 'choice' the
    ACO's fixed rate where MinSavPerc is one of the choices, else NaN (it chose the table,
    which the engine recomputes at full precision); MinSavPerc for kind 'assigned'."""
    msr = np.asarray(published, dtype=np.float64)
    out = np.full(len(msr), np.nan)
    for t in pd.unique(tier):
        rows = tier == t
        terms = preset_config(str(t)).require_settlement().msr
        if terms.kind == "assigned":
            out[rows] = msr[rows]
        elif terms.kind == "choice":
            choices = np.asarray(terms.choices, dtype=np.float64)
            near = np.abs(msr[rows][:, None] - choices[None, :]) <= 1e-9
            picked = choices[np.argmax(near, axis=1)]
            out[rows] = np.where(near.any(axis=1), picked, np.nan)
    return out


def uses_table(frame: pd.DataFrame) -> np.ndarray:
    """Rows of ``read_puf``'s frame whose MSR the engine takes from the preset's table: kind
    'table' within the table's first band, and kind 'choice' where the ACO chose the table
    or is below ``table_below_population``."""
    tier = frame["tier"].to_numpy(str)
    population = frame["population"].to_numpy(float)
    chosen = frame["msr"].to_numpy(float)
    out = np.zeros(len(frame), dtype=bool)
    for t in pd.unique(tier):
        rows = tier == t
        terms = preset_config(str(t)).require_settlement().msr
        if terms.kind not in ("table", "choice") or not terms.table:
            continue
        inside = population[rows] >= terms.table[0].min_population
        if terms.kind == "choice":
            small = population[rows] < (terms.table_below_population or 0.0)
            inside &= np.isnan(chosen[rows]) | small
        out[rows] = inside
    return out


_READERS = {2013: _read_2013, 2014: _read_2014, 2018: _read_2018}


def _loss_limits(tier: np.ndarray, agreement_year: np.ndarray) -> np.ndarray:
    """Per-row loss limit where the track's rule is finer than its preset (Track 2 by
    agreement year); NaN elsewhere (the preset's loss_limit and loss_limit_by_tier)."""
    years = sorted(TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR)
    ay = np.clip(agreement_year, years[0], years[-1])
    track2 = pd.Series(ay).map(TRACK2_LOSS_LIMIT_BY_AGREEMENT_YEAR).to_numpy(float)
    return np.where(tier == "Track 2", track2, np.nan)


def read_puf(path: str | Path, year: int) -> pd.DataFrame:
    """Read one performance year's MSSP Public Use File as the engine's practice summary.

    Returns one row per ACO with the summary columns ``settle_summary`` reads
    (practice_id = ACO id, practice_name, tier = track, population = N_AB, budget =
    ABtotBnchmk, actual_cost = ABtotExp, quality_score, met_quality_gate = Met_QPS,
    met_alternative_quality = Met_AltQPS, msr where the ACO chose its own rate,
    revenue (never published: NaN), terminated_month (12 for an ACO that left during the
    year: the month is not published), loss_adjustment = DisAdj), ``agreement_year``,
    ``loss_limit`` (NaN: the preset's) and CMS's published columns for comparison
    (published_result = EarnSaveLoss, published_savings = BnchmkMinExp, GenSaveLoss,
    MinSavPerc as a fraction, QualPerfShare, FinalShareRate) with the rounding of the
    published quality score and MSR (half a unit of their last decimal where it can move
    the result; 0 if exact).

    Files: the PY2013, PY2014 and PY2018 PUFs as CMS published them (docs/mssp.md lists
    each year's quirks), the PY2022-or-later PUFs by CMS's column names, or the derived
    all-years file for PY2016-PY2021. Raises ``InputError`` for a missing or unreadable
    file, a file that is not the year's PUF, or a year this loader cannot read.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(
            path, encoding="utf-8-sig", dtype=str, keep_default_na=False, na_values=[""]
        )
    except FileNotFoundError:
        raise InputError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("a folder, not a PUF .csv file", path=str(path)) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read as CSV ({exc})", path=str(path)) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    if "performance_year" in raw.columns:
        if year not in DERIVED_YEARS:
            _unsupported(
                path,
                year,
                "the derived all-years file has track flags, Met_QPS "
                "and EarnSaveLoss only for PY" + _years(DERIVED_YEARS),
            )
        frame = _read_derived(raw, path, year)
    elif year in _READERS:
        frame = _READERS[year](raw, path)
    elif year >= CURRENT_LAYOUT_FROM:
        frame = _read_current(raw, path, year)
    else:
        _unsupported(
            path,
            year,
            "PUFs are read as published for PY"
            + _years(tuple(y for y in PUBLISHED_YEARS if y < CURRENT_LAYOUT_FROM))
            + f" and PY{CURRENT_LAYOUT_FROM} on (by CMS's column names); for PY"
            + _years(DERIVED_YEARS)
            + " pass the derived all-years "
            "file (mssp_all_years_2013_2021_derived.csv)",
        )
    for column, default in _SUMMARY_DEFAULTS.items():  # columns older layouts do not have
        if column not in frame.columns:
            frame[column] = default
    frame["loss_limit"] = _loss_limits(
        frame["tier"].to_numpy(str), frame["agreement_year"].to_numpy(np.int64)
    )
    # by CMS's names, an ACO's MSR is read from MinSavPerc: a blank one is not the table
    _check_values(frame, path, ["MinSavPerc"] if year >= CURRENT_LAYOUT_FROM else [])
    return frame[SUMMARY_COLUMNS + PUBLISHED_COLUMNS].reset_index(drop=True)


#: The summary columns of the newer layouts, as they are for the older ones.
_SUMMARY_DEFAULTS: dict[str, bool | float] = {
    "met_alternative_quality": False,  # no alternative quality standard before PY2023
    "revenue": np.nan,  # never published
    "terminated_month": 0,  # no termination column before PY2022
}


def _years(years: tuple[int, ...]) -> str:
    return ", PY".join(str(y) for y in years)


def _unsupported(path: Path, year: int, why: str) -> None:
    raise InputError(
        Problem(
            table="mssp_puf",
            reason=Reason.UNSUPPORTED_YEAR,
            message=f"{path}: cannot check PY{year}: {why}",
        ),
        path=str(path),
    )


def _check_values(frame: pd.DataFrame, path: Path, also: list[str] | None = None) -> None:
    if frame.empty:
        raise InputError("no ACO rows in the file", path=str(path))
    problems = []
    needed = ["population", "budget", "actual_cost", "quality_score", "published_result"]
    needed += also or []
    for column in needed:
        bad = frame[column].isna().to_numpy()
        if bad.any():
            problems.append(
                Problem(
                    table="mssp_puf",
                    reason=Reason.NOT_A_NUMBER,
                    column=column,
                    message=f"{path}: blank or non-numeric values",
                    rows=tuple(int(i) + 2 for i in np.flatnonzero(bad)[:5]),
                    row_count=int(bad.sum()),
                    examples=tuple(frame["practice_id"].to_numpy()[bad][:5]),
                )
            )
    bad = (frame["budget"] <= 0).to_numpy()
    if bad.any():
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.NON_POSITIVE_BENCHMARK,
                column="budget",
                message=f"{path}: the benchmark must be positive",
                rows=tuple(int(i) + 2 for i in np.flatnonzero(bad)[:5]),
                row_count=int(bad.sum()),
            )
        )
    # Layout check: the published gross savings is benchmark - expenditures (within $1 in
    # every year checked). When most rows disagree, the columns are not what we think
    # (e.g. a PY2013 file whose header was repaired): refuse rather than mis-settle.
    expenditures = frame.get("published_expenditures", frame["actual_cost"])
    gap = (frame["budget"] - expenditures - frame["published_savings"]).abs()
    off = (gap > LAYOUT_TOLERANCE).to_numpy()
    if off.sum() > 0.1 * len(frame):
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.UNEXPECTED_LAYOUT,
                column="budget",
                message=f"{path}: benchmark - expenditures differs from the published gross "
                "savings (BnchmkMinExp) by more than $2: the columns are not in this year's "
                "published layout",
                rows=tuple(int(i) + 2 for i in np.flatnonzero(off)[:5]),
                row_count=int(off.sum()),
            )
        )
    dupes = frame["practice_id"].duplicated(keep=False).to_numpy()
    if dupes.any():
        problems.append(
            Problem(
                table="mssp_puf",
                reason=Reason.DUPLICATE_ID,
                column="practice_id",
                message=f"{path}: an ACO appears more than once",
                row_count=int(dupes.sum()),
                examples=tuple(pd.unique(frame["practice_id"].to_numpy()[dupes])[:5]),
            )
        )
    if problems:
        raise InputError(problems, path=str(path))


# ---------------------------------------------------------------------------------------
# Settling and comparing
# ---------------------------------------------------------------------------------------


