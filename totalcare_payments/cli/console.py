"""Terminal output: the only module that prints. Rich tables for results, plain text for errors.

Tables never cut a cell: written to a file or a CI log, a table is as wide as it needs
to be; on a terminal narrower than a table, long cells wrap instead of being cut.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from ..errors import EXIT_INTERRUPTED, InputError, TotalcareError
from ..money import dollars
from ..reasons import Reason

if TYPE_CHECKING:
    import pandas as pd

    from ..mssp.check import MsspCheck
    from ..scenarios.plan import ScenarioStudy

# Output to a file or a CI log is as wide as its tables need (never cut).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
err = Console(stderr=True, highlight=False)


def _rows(frame: pd.DataFrame) -> Iterator[Any]:
    """The rows of one of the engine's frames as named tuples. Each field has its column's
    type (cents as integers, rates as floats), which the checker cannot know from a
    column name: pandas-stubs types every field as any scalar."""
    return frame.itertuples(index=False)


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left")


def _column(table: Table, name: str, justify: JustifyMethod = "left", **options: Any) -> None:
    """A column whose long cells wrap on a narrow terminal (never cut with an ellipsis)."""
    table.add_column(name, justify=justify, overflow="fold", **options)


@contextmanager
def progress(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current step; silent when output is not a terminal."""
    if not enabled or not err.is_terminal:
        yield lambda _step: None
        return
    with err.status("Starting") as status:
        yield lambda step: status.update(f"{step}...")


def show_error(exc: TotalcareError) -> None:
    kind = {
        2: "Bad input",
        3: "Bad config",
        4: "Refused",
        5: "Cannot write output",
        6: "Ledger refused",
    }.get(
        exc.exit_code, "Error"
    )
    err.print(f"[bold red]{kind}[/] (exit {exc.exit_code})", highlight=False)
    if isinstance(exc, InputError):
        for problem in exc.problems:
            err.print(f"  - {problem.describe()}", markup=False, soft_wrap=True)
        gates = getattr(exc, "gates", None)  # a failed data-quality gate (gates.GateError)
        if gates:
            show_gates(gates, to_stderr=True)
    else:
        err.print(f"  {exc}", markup=False, soft_wrap=True)


def show_ccf(
    lines: pd.DataFrame, totals: pd.DataFrame, out_dir: Path, defaulted: int, rejects: int
) -> None:
    table = _table("Care Coordination Fee batch")
    columns: list[tuple[str, JustifyMethod]] = [
        ("month", "left"),
        ("practice", "left"),
        ("tier", "left"),
        ("members", "right"),
        ("avg risk", "right"),
        ("PMPM", "right"),
        ("fee", "right"),
    ]
    for name, justify in columns:
        _column(table, name, justify)
    shown = lines if len(lines) <= 40 else lines.head(40)
    for row in _rows(shown):
        table.add_row(
            row.year_month,
            str(row.practice_id),
            row.tier,
            f"{row.attributed_members:,}",
            f"{row.avg_risk_score:.4f}",
            dollars(row.pmpm_rate_cents),
            dollars(row.ccf_amount_cents),
        )
    if len(lines) > len(shown):
        table.add_row(
            "...", f"{len(lines) - len(shown)} more lines in the payment file", "", "", "", "", ""
        )
    out.print(table)
    _show_totals(totals, ["practices", "member_months", "ccf_amount_cents"], "Control totals")
    out.print(
        f"Members given the default risk score: {defaulted:,}   Rejected input rows: {rejects:,}"
    )
    out.print(f"Payment file and manifest written to [bold]{escape(str(out_dir))}[/]")


def show_accounting(
    inputs: dict[str, dict[str, Any]], gates: list[dict[str, Any]] | None = None
) -> None:
    """Every input row accounted for, table by table: read = used + excluded + rejected,
    with the reasons (the manifest's ``inputs``); then the data-quality gates the run
    passed (the manifest's ``gates``)."""
    table = _table("Input rows: read = used + excluded + rejected")
    _column(table, "table")
    _column(table, "read", "right")
    _column(table, "used", "right")
    _column(table, "excluded")
    _column(table, "rejected")
    _column(table, "file")
    for name, entry in inputs.items():
        table.add_row(
            name,
            f"{entry['read']:,}",
            f"{entry['used']:,}",
            _by_reason(entry["excluded"]),
            _by_reason(entry["rejected"]),
            escape(str(entry["path"])),
        )
    out.print(table)
    if gates:
        show_gates(gates)


def show_gates(gates: list[dict[str, Any]], *, to_stderr: bool = False) -> None:
    """The data-quality gates ([checks]): each one's table, what it saw against its limit,
    passed or failed, and the reason of a relaxed limit (the manifest's ``gates``)."""
    table = _table(escape("Data-quality gates ([checks]): what each saw, against its limit"))
    relaxed = any(gate["relaxed"] for gate in gates)
    _column(table, "gate", no_wrap=not relaxed)
    _column(table, "table")
    _column(table, "seen", "right")
    _column(table, "limit", "right")
    _column(table, "result")
    if relaxed:
        _column(table, "relaxed because")
    for gate in gates:
        key = str(gate["gate"])
        bound = ">=" if key.startswith("min_") else "<="
        source = " (--strict)" if gate.get("strict") else ""
        table.add_row(
            key,
            str(gate["table"]),
            _gate_figure(gate["seen"]),
            f"{bound} {_gate_figure(gate['limit'])}{source}",
            "passed" if gate["passed"] else "[bold red]FAILED[/]",
            *([escape(str(gate["relaxed"] or ""))] if relaxed else []),
        )
    (err if to_stderr else out).print(table)


def _gate_figure(value: object) -> str:
    """A share as a percentage, a count as a number."""
    if isinstance(value, float):
        return f"{value:.4%}" if 0 < value < 0.0001 else f"{value:.2%}"
    return f"{value:,}"


def _by_reason(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    return f"{sum(counts.values()):,} (" + ", ".join(f"{k} {v:,}" for k, v in counts.items()) + ")"


def _show_totals(totals: pd.DataFrame, columns: list[str], title: str) -> None:
    table = _table(title)
    _column(table, "scope")
    _column(table, "key")
    for c in columns:
        _column(table, c.removesuffix("_cents"), "right")
    for row in totals.to_dict("records"):
        table.add_row(
            str(row["scope"]),
            str(row["key"]),
            *[dollars(row[c]) if c.endswith("_cents") else f"{int(row[c]):,}" for c in columns],
        )
    out.print(table)


def show_settlement(
    frame: pd.DataFrame,
    totals: pd.DataFrame,
    out_dir: Path | None,
    notes: dict,
    segments: pd.DataFrame | None = None,
) -> None:
    if segments is not None:
        show_segments(segments)
    table = _table("Shared savings settlement")
    cols: list[tuple[str, JustifyMethod]] = [
        ("practice", "left"),
        ("budget", "right"),
        ("actual cost", "right"),
        ("savings", "right"),
        ("MSR", "right"),
        ("share", "right"),
        ("payment", "right"),
        ("reason", "left"),
    ]
    for name, justify in cols:
        _column(table, name, justify)
    shown = frame if len(frame) <= 40 else frame.head(40)
    for row in _rows(shown):
        table.add_row(
            str(row.practice_id),
            dollars(row.budget_cents),
            dollars(row.actual_cost_cents),
            f"{row.savings_rate:.2%}",
            f"{row.msr:.2%}",
            f"{row.share_rate:.2%}",
            dollars(row.final_payment_cents),
            row.reason,
        )
    if len(frame) > len(shown):
        table.add_row(
            "...",
            f"{len(frame) - len(shown)} more practices in settlement.csv",
            *[""] * (len(cols) - 2),
        )
    out.print(table)
    for reason in sorted(frame["reason"].unique()):
        out.print(f"  {reason}: {Reason(reason).meaning}")
    program = totals[totals["scope"] == "program"].iloc[0]
    waterfall = _table("Program waterfall")
    _column(waterfall, "step")
    _column(waterfall, "amount", "right")
    for label, col in [
        ("budget", "budget_cents"),
        ("claims paid", "claims_paid_cents"),
        ("truncated by stop-loss", "truncated_cents"),
        ("CCF counted as cost", "ccf_cost_cents"),
        ("actual cost", "actual_cost_cents"),
        ("savings", "savings_cents"),
        ("qualifying savings", "qualifying_savings_cents"),
        ("earned before limit", "earned_before_limit_cents"),
        ("earned", "earned_cents"),
        ("shared losses", "shared_loss_cents"),
        ("final payments (net)", "final_payment_cents"),
    ]:
        waterfall.add_row(label, dollars(program[col]))
    out.print(waterfall)
    for key, value in notes.items():
        out.print(f"  {key.replace('_', ' ')}: {value}")
    if out_dir is not None:
        out.print(f"Settlement and manifest written to [bold]{escape(str(out_dir))}[/]")


def show_segments(segments: pd.DataFrame, shown_rows: int = 40) -> None:
    """The budget of each practice and segment (settlement_segments.csv)."""
    table = _table("Budget by segment (each practice's budget is the sum of its segments')")
    cols: list[tuple[str, JustifyMethod]] = [
        ("practice", "left"),
        ("segment", "left"),
        ("member months", "right"),
        ("avg risk", "right"),
        ("baseline risk", "right"),
        ("risk ratio", "right"),
        ("baseline PMPM", "right"),
        ("budget PMPM", "right"),
        ("budget", "right"),
    ]
    for name, justify in cols:
        _column(table, name, justify)
    shown = segments if len(segments) <= shown_rows else segments.head(shown_rows)
    for row in _rows(shown):
        capped = " (capped)" if row.risk_ratio_capped else ""
        table.add_row(
            str(row.practice_id),
            str(row.segment),
            f"{int(row.member_months):,}",
            f"{row.avg_risk_score:.4f}",
            f"{row.baseline_risk:.4f}",
            f"{row.risk_ratio:.6f}{capped}",
            dollars(row.baseline_pmpm_cents),
            dollars(row.budget_pmpm_cents),
            dollars(row.budget_cents),
        )
    if len(segments) > len(shown):
        table.add_row(
            "...",
            f"{len(segments) - len(shown)} more rows in settlement_segments.csv",
            *[""] * (len(cols) - 2),
        )
    out.print(table)


def show_budget(practices: pd.DataFrame, build: pd.DataFrame, out_dir: Path, notes: dict) -> None:
    years = ", ".join(str(y) for y in notes["baseline_years"])
    table = _table(f"Budgets from history ({years})")
    cols: list[tuple[str, JustifyMethod]] = [
        ("practice", "left"),
        ("tier", "left"),
        ("member months", "right"),
        ("historical PMPM", "right"),
        ("baseline PMPM", "right"),
        ("baseline risk", "right"),
    ]
    for name, justify in cols:
        _column(table, name, justify)
    last = build[build["year"] == notes["baseline_year"]]
    months = build.groupby("practice_id", sort=False)["member_months"].sum()
    # the segments' historical PMPM mixed by their shares (one segment: its own)
    historical = (
        (last["historical_pmpm"] * last["segment_share"])
        .groupby(last["practice_id"], sort=False)
        .sum()
    )
    shown = practices if len(practices) <= 40 else practices.head(40)
    for row in _rows(shown):
        table.add_row(
            str(row.practice_id),
            str(row.tier),
            f"{int(months[row.practice_id]):,}",
            f"{historical[row.practice_id]:,.2f}",
            dollars(row.baseline_pmpm_cents),
            f"{row.baseline_risk:.4f}",
        )
    if len(practices) > len(shown):
        table.add_row(
            "...", f"{len(practices) - len(shown)} more practices in practices.csv", "", "", "", ""
        )
    out.print(table)
    segments = notes.get("segments", [])
    if len(segments) > 1:
        out.print(
            f"  {len(segments)} segments ({', '.join(segments)}): each practice's baseline "
            "above is its segments' mixed by the last baseline year's member months; "
            "baselines.csv has each segment's (settle --baselines budgets them apart)"
        )
    out.print(
        f"  baseline year for the settlement: {notes['baseline_year']} "
        "(set \\[settlement] baseline_year to it)"
    )
    written = "practices.csv (what settle reads), "
    if len(segments) > 1:
        written += "baselines.csv, "
    out.print(f"{written}budget_build.csv and manifest written to [bold]{escape(str(out_dir))}[/]")


def interrupted() -> None:
    err.print(f"Interrupted (exit {EXIT_INTERRUPTED}): no partial output is left", highlight=False)


def show_generated(rows: dict[str, int], paths: dict[str, Path]) -> None:
    table = _table("Synthetic program")
    _column(table, "table")
    _column(table, "rows", "right")
    _column(table, "file")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}", str(paths[name]))
    out.print(table)


# ----- scenarios -----

#: Rows of a terminal table before "... more in FILE".
SHOWN_ROWS = 30


def _percent(value: float) -> str:
    return f"{value:.1%}"


def show_summary(summary: pd.DataFrame, shown: int = SHOWN_ROWS) -> None:
    """One line per scenario: what the program pays and what the payer keeps."""
    table = _table("Scenarios")
    columns: list[tuple[str, JustifyMethod]] = [
        ("scenario", "left"),
        ("total paid", "right"),
        ("vs base", "right"),
        ("paid", "right"),
        ("payer net savings", "right"),
        ("mean", "right"),
        ("std", "right"),
    ]
    for name, justify in columns:
        _column(table, name, justify, min_width=24 if name == "scenario" else None)
    for row in _rows(summary.head(shown)):
        table.add_row(
            str(row.scenario),
            dollars(row.total_paid_cents),
            dollars(row.paid_vs_base_cents),
            f"{row.practices_paid:,}/{row.practices:,}",
            dollars(row.payer_net_savings_cents),
            dollars(row.mean_payment_cents),
            dollars(row.std_payment_cents),
        )
    if len(summary) > shown:
        table.add_row("...", f"{len(summary) - shown:,} more in scenario_summary.csv")
    out.print(table)


def show_tornado(tornado: pd.DataFrame) -> None:
    """The sensitivity table, largest swing first."""
    if tornado.empty:
        return
    table = _table("Sensitivity of total paid (largest swing first)")
    for name in ["parameter", "base", "low", "high", "paid at low", "paid at high", "swing"]:
        _column(table, name, "left" if name == "parameter" else "right")
    for row in _rows(tornado):
        table.add_row(
            str(row.parameter),
            str(row.base_value),
            str(row.low),
            str(row.high),
            dollars(row.total_paid_low_cents),
            dollars(row.total_paid_high_cents),
            dollars(row.swing_cents),
        )
    out.print(table)


def show_chance(chance: pd.DataFrame, draws: int, seed: int, shown: int = SHOWN_ROWS) -> None:
    """Per practice: the chance that noise passes the MSR, and the payment's spread."""
    table = _table(f"Chance ({draws:,} bootstrap draws of each practice's members, seed {seed})")
    for name in [
        "practice",
        "members",
        "savings rate",
        "MSR",
        "P(noise passes MSR)",
        "P(paid)",
        "payment p5",
        "p50",
        "p95",
    ]:
        _column(table, name, "left" if name == "practice" else "right")
    for row in _rows(chance.head(shown)):
        table.add_row(
            str(row.practice_id),
            f"{row.members:,}",
            _percent(row.savings_rate),
            _percent(row.msr),
            _percent(row.p_pass_msr_if_no_savings),
            _percent(row.p_paid),
            dollars(row.payment_p5_cents),
            dollars(row.payment_p50_cents),
            dollars(row.payment_p95_cents),
        )
    if len(chance) > shown:
        table.add_row("...", f"{len(chance) - shown:,} more practices in chance.csv")
    out.print(table)


def show_study(study: ScenarioStudy, out_dir: Path, report: Path | None, xlsx: Path | None) -> None:
    """A scenario study's tables, and where its files went."""
    show_summary(study.result.summary)
    show_tornado(study.tornado)
    if study.chance is not None:
        show_chance(study.chance.practices, study.chance.draws, study.chance.seed)
    out.print(f"Scenario tables and manifest written to [bold]{escape(str(out_dir))}[/]")
    for label, path in (("HTML report", report), ("Excel workbook", xlsx)):
        if path is not None:
            out.print(f"{label} written to [bold]{escape(str(path))}[/]")


# ----- presets -----


def show_presets(programs: dict[str, str]) -> None:
    """The shipped programs: the name to give --config, and the program's own name."""
    table = _table("Shipped programs (give the name to --config)")
    _column(table, "name")
    _column(table, "program")
    for name, program in programs.items():
        table.add_row(name, program)
    out.print(table)


def show_preset(toml: str) -> None:
    """A shipped program's TOML, as it is (to copy and edit)."""
    out.print(toml, markup=False, highlight=False, end="")


# ----- mssp-check -----


def _money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def show_mssp_check(check: MsspCheck, out_path: Path, shown: int = 10) -> None:
    """Print the match count, the per-track totals and the largest differences."""
    unreproducible = check.not_reproducible
    if not check.all_match:
        verdict = f"[bold red]{check.mismatched:,} do not match[/]"
    elif len(unreproducible):
        verdict = "[bold green]all the others match[/]"
    else:
        verdict = "[bold green]all match[/]"
    gap = _money(check.max_abs_difference)
    if check.matched < check.rows:
        gap += f" (matched rows: {_money(check.max_matched_difference)})"
    out.print(
        f"[bold]MSSP PY{check.year}[/]: {check.matched:,} of {check.rows:,} ACOs match CMS's "
        f"EarnSaveLoss ({verdict}); largest difference {gap}"
    )
    for reason, rows in unreproducible.groupby("not_reproducible", sort=True):
        out.print(
            f"  not reproducible from the file ({reason!s}: {Reason(str(reason)).meaning}): "
            f"{len(rows):,} ACO{'s' if len(rows) != 1 else ''}, "
            + ", ".join(rows["aco_id"].astype(str)),
            markup=False,
        )
    out.print(f"  file: {check.path}", markup=False)

    tracks = _table("By track (engine = this program's presets; CMS = EarnSaveLoss)")
    for name in ["track", "ACOs", "match", "engine net", "CMS net", "max |difference|"]:
        _column(tracks, name, "left" if name == "track" else "right")
    for row in _rows(check.by_track()):
        tracks.add_row(
            str(row.track),
            f"{row.acos:,}",
            f"{row.matched:,}",
            _money(row.engine_total),
            _money(row.published_total),
            _money(row.max_abs_difference),
        )
    out.print(tracks)

    largest = check.largest_differences(shown)
    diffs = _table("Largest differences (mismatches first; tolerance: $1 + quality-score rounding)")
    diff_columns: list[tuple[str, JustifyMethod]] = [
        ("ACO", "left"),
        ("track", "left"),
        ("engine", "right"),
        ("CMS", "right"),
        ("difference", "right"),
        ("tolerance", "right"),
        ("match", "left"),
        ("reason", "left"),
    ]
    for name, justify in diff_columns:
        _column(diffs, name, justify)
    for row in _rows(largest):
        if row.match:
            verdict = "yes"
        elif row.not_reproducible:
            verdict = "no: " + str(row.not_reproducible)
        else:
            verdict = "[bold red]NO[/]"
        diffs.add_row(
            str(row.aco_id),
            str(row.track),
            _money(row.engine_result),
            _money(row.published_result),
            _money(row.difference),
            _money(row.tolerance),
            verdict,
            str(row.reason),
        )
    out.print(diffs)

    table = check.msr_table
    if len(table):
        counts = table.groupby("track", sort=True).size()
        tracks_with_table = ", ".join(f"{t!s} {int(n):,}" for t, n in counts.items())
        out.print(
            f"MSR table (ACOs whose MSR is their track's table: {tracks_with_table}): "
            f"reproduces MinSavPerc for {check.msr_table_matched:,} of {len(table):,} ACOs "
            f"(largest gap {table['abs_error'].max():.2e})"
        )
    out.print(f"Row-by-row comparison written to [bold]{escape(str(out_path))}[/]")


# ----- the payment ledger -----


def _text(value: object) -> str:
    """A cell of a ledger table: empty for a missing value (None, NaN)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def show_ledger_batch(run: Any) -> None:
    """A ledger CCF batch: its lines, what each practice is paid, the differences outside
    the window, and whether it was posted (``jobs.LedgerRun``)."""
    posting = run.posting
    if posting.status == "already":
        out.print(
            f"Nothing posted: batch {posting.batch_id} in {escape(run.ledger)} already holds "
            "these inputs and config (`totalcare ledger show "
            f"{posting.batch_id}` shows it)"
        )
        return
    lines = posting.lines
    table = _table(f"Ledger batch {posting.batch_id}: payment lines")
    for name, justify in (
        ("practice", "left"),
        ("service month", "left"),
        ("kind", "left"),
        ("members", "right"),
        ("amount", "right"),
        ("reason", "left"),
    ):
        _column(table, name, justify)  # type: ignore[arg-type]
    shown = lines if len(lines) <= 60 else lines.head(60)
    from ..periods import format_period

    for row in _rows(shown):
        table.add_row(
            str(row.practice_id),
            format_period(row.period),
            str(row.kind),
            f"{row.members:,}",
            dollars(row.amount_cents),
            escape(_text(row.reason)),
        )
    if len(lines) > len(shown):
        table.add_row("...", f"{len(lines) - len(shown)} more lines in payment_lines.csv")
    out.print(table)
    payments = _table("Payments (payments.csv)")
    for name, justify in (
        ("practice", "left"),
        ("current", "right"),
        ("adjustments", "right"),
        ("net", "right"),
    ):
        _column(payments, name, justify)  # type: ignore[arg-type]
    for row in _rows(run.payments.head(40)):
        payments.add_row(
            str(row.practice_id),
            dollars(row.current_amount_cents),
            dollars(row.adjustment_amount_cents),
            dollars(row.net_amount_cents),
        )
    total = run.payments[["current_amount_cents", "adjustment_amount_cents", "net_amount_cents"]].sum()
    payments.add_row("total", *(dollars(int(v)) for v in total))
    out.print(payments)
    _show_outside(posting.outside)
    where = escape(run.ledger)
    if run.new_ledger:
        out.print(
            f"A new ledger was made at [bold]{where}[/]: it holds nothing paid before this "
            "batch, so it pays from this batch's months on"
        )
    if posting.status == "posted":
        out.print(f"Batch {posting.batch_id} posted to [bold]{where}[/]")
    else:
        out.print(
            f"Draft batch {posting.batch_id} recorded in [bold]{where}[/], not posted: "
            "rerun with --post to post it"
        )
    out.print(f"Payment files written to [bold]{escape(str(run.out))}[/]")


def _show_outside(outside: pd.DataFrame) -> None:
    if outside is None or not len(outside):
        return
    table = _table("Outside the retroactive window: reported, not paid (outside_window.csv)")
    for name in ("practice", "service month", "posted", "due now", "difference"):
        _column(table, name, "left" if name in ("practice", "service month") else "right")
    for row in _rows(outside.head(40)):
        table.add_row(
            str(row.practice_id),
            str(row.service_month),
            dollars(row.amount_posted_cents),
            dollars(row.amount_due_cents),
            dollars(row.difference_cents),
        )
    out.print(table)


def show_ledger_settlement(run: Any) -> None:
    """A settlement posted to the ledger: each practice's line (``jobs.LedgerRun``)."""
    posting = run.posting
    if posting.status == "already":
        out.print(
            f"Nothing posted: batch {posting.batch_id} in {escape(run.ledger)} already holds "
            "this settlement's inputs and config"
        )
        return
    table = _table(f"Ledger batch {posting.batch_id}: settlement lines")
    for name in ("practice", "kind", "final payment", "posted now", "reason"):
        _column(table, name, "right" if name in ("final payment", "posted now") else "left")
    for row in _rows(posting.lines):
        table.add_row(
            str(row.practice_id),
            str(row.kind),
            dollars(row.final_payment_cents),
            dollars(row.amount_cents),
            _text(row.reason),
        )
    out.print(table)
    verb = "posted to" if posting.status == "posted" else "recorded as a draft (not posted) in"
    out.print(f"Settlement batch {posting.batch_id} {verb} [bold]{escape(run.ledger)}[/]")


def show_batches(frame: pd.DataFrame) -> None:
    table = _table("Ledger batches")
    for name in ("batch", "kind", "period", "stage", "status", "posted at", "lines", "amount", "note"):
        _column(table, name, "right" if name in ("batch", "lines", "amount") else "left")
    for row in _rows(frame):
        note = ""
        if _text(row.reverses):
            note = f"reverses {int(row.reverses)}"
        if _text(row.voided_by):
            note = f"voided by {int(row.voided_by)}"
        table.add_row(
            str(row.batch_id),
            str(row.kind),
            str(row.period),
            _text(row.stage),
            str(row.status),
            _text(row.posted_at),
            f"{row.lines:,}",
            dollars(row.amount_cents),
            note,
        )
    out.print(table)


def show_batch_detail(detail: Any) -> None:
    """One batch (``ledger.book.BatchDetail``)."""
    record = detail.record
    facts = _table(f"Batch {record['batch_id']}")
    _column(facts, "field")
    _column(facts, "value")
    for key in (
        "kind", "period", "stage", "status", "created_at", "posted_at", "voided_at", "reverses",
        "voided_by", "pay_date", "tool_version", "config_source", "config_sha256",
        "retro_months", "runout_months", "fingerprint",
    ):
        if record.get(key) is not None:
            facts.add_row(key, escape(str(record[key])))
    facts.add_row("roster lines", f"{detail.roster_lines:,}")
    out.print(facts)
    if len(detail.inputs):
        inputs = _table("Inputs")
        for name in ("table", "rows read", "rows used", "sha256", "path"):
            _column(inputs, name, "right" if name.startswith("rows") else "left")
        for row in _rows(detail.inputs):
            inputs.add_row(
                str(row.table_name), f"{row.rows_read:,}", f"{row.rows_used:,}", str(row.sha256),
                escape(str(row.path)),
            )
        out.print(inputs)
    if len(detail.lines):
        table = _table("Payment lines")
        for name in ("practice", "service month", "kind", "members", "amount", "reason"):
            _column(table, name, "right" if name in ("members", "amount") else "left")
        for row in _rows(detail.lines):
            table.add_row(
                str(row.practice_id), str(row.service_month), str(row.kind), f"{row.members:,}",
                dollars(row.amount_cents), escape(_text(row.reason)),
            )
        table.add_row("total", "", "", "", dollars(int(detail.lines["amount_cents"].sum())), "")
        out.print(table)
    if len(detail.settlement_lines):
        table = _table("Settlement lines")
        for name in ("practice", "year", "kind", "final payment", "amount", "reason"):
            _column(table, name, "right" if name in ("final payment", "amount") else "left")
        for row in _rows(detail.settlement_lines):
            table.add_row(
                str(row.practice_id), str(row.performance_year), str(row.kind),
                dollars(row.final_payment_cents), dollars(row.amount_cents), _text(row.reason),
            )
        out.print(table)


def show_balance(frame: pd.DataFrame, year: int, ledger: str) -> None:
    """What the ledger paid for a year, per practice and service month, with totals."""
    table = _table(f"Ledger balance {year} ({escape(ledger)})")
    for name in ("practice", "service month", "members", "current", "adjustments", "reversals", "net"):
        _column(table, name, "left" if name in ("practice", "service month") else "right")
    for row in _rows(frame):
        table.add_row(
            str(row.practice_id),
            str(row.service_month),
            f"{row.members:,}",
            dollars(row.current_cents),
            dollars(row.adjustment_cents),
            dollars(row.reversal_cents),
            dollars(row.net_cents),
        )
    if len(frame):
        sums = frame[["members", "current_cents", "adjustment_cents", "reversal_cents", "net_cents"]].sum()
        table.add_row(
            "total", "", f"{int(sums['members']):,}",
            *(dollars(int(sums[c])) for c in ("current_cents", "adjustment_cents", "reversal_cents", "net_cents")),
        )
    out.print(table)


def show_voided(batch_id: int, reversal: int, ledger: str) -> None:
    out.print(
        f"Batch {batch_id} voided in [bold]{escape(ledger)}[/]: reversal batch {reversal} "
        "posted (its lines cancel batch "
        f"{batch_id}'s; the next batch whose window covers those months pays what is due)"
    )


def show_exported(files: list[Path], out_dir: Path) -> None:
    out.print(
        f"Ledger exported to [bold]{escape(str(out_dir))}[/]: "
        + ", ".join(p.name for p in files)
    )
