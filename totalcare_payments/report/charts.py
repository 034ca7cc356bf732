"""The report's charts: matplotlib figures drawn as inline SVG, the same bytes on a rerun.

Each chart has a ``*_figure`` function (the matplotlib ``Figure``, for tests and
notebooks) and a ``*_chart`` function (that figure as inline SVG for the HTML report).
Colours: blue for payments, orange for the base scenario and the median, and by sign
green for a gain, red (``LOSS``) for a loss.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..scenarios.bootstrap import Chance

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

_BLUE, _GREEN, _RED, _GREY, _ORANGE = "#2b6cb0", "#2f855a", "#c53030", "#718096", "#dd6b20"
#: The colours of a gain and of a loss (the waterfall's steps, the payer's net savings).
GAIN, LOSS = _GREEN, _RED
#: The colours the workbook's native charts share with these: payments, the base
#: scenario, a parameter's low and high value, a gain and a loss.
COLORS = {"paid": _BLUE, "base": _ORANGE, "low": _BLUE, "high": _ORANGE, "gain": GAIN, "loss": LOSS}


#: Charts of one bar per scenario or practice show at most this many.
CHART_MAX_BARS = 40


_CHART_STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "totalcare-scenarios",  # fixed ids: the same chart gives the same bytes
    "svg.fonttype": "none",  # text as text: small, searchable, drawn in the page's font
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}


# --- the program waterfall ---------------------------------------------------------------


def program_waterfall(practices: pd.DataFrame) -> pd.DataFrame:
    """The program's settlement, budget to final payment, as steps that add up.

    ``kind`` is ``total`` for a running total and ``step`` for what a step adds (negative:
    takes away). Every amount is a sum of a settlement column, in cents:
    budget - claims paid + stop-loss truncation - completion - CCF as cost = savings;
    savings + (qualifying - savings) = qualifying savings; + (earned before limit -
    qualifying) = earned before limit; + (earned - earned before limit) = earned;
    - shared losses = final payments.
    """

    def total(column: str) -> int:
        return int(practices[column].to_numpy(dtype=np.int64).sum())

    budget, claims, truncated = (
        total("budget_cents"),
        total("claims_paid_cents"),
        total("truncated_cents"),
    )
    ccf_cost, actual = total("ccf_cost_cents"), total("actual_cost_cents")
    completion = (actual - ccf_cost) - (claims - truncated)
    savings, qualifying = total("savings_cents"), total("qualifying_savings_cents")
    before_limit, earned = total("earned_before_limit_cents"), total("earned_cents")
    losses, final = total("shared_loss_cents"), total("final_payment_cents")
    steps = [
        ("budget", "total", budget, "budget_pmpm x member_months"),
        ("claims paid", "step", -claims, "claims with service month in the year"),
        ("stop-loss truncation", "step", truncated, "members' annual cost above the threshold"),
        ("completion (IBNR)", "step", -completion, "claims x (completion_factor - 1)"),
        ("CCF as cost", "step", -ccf_cost, "the year's CCF, when the terms count it as cost"),
        ("savings", "total", savings, "budget - actual cost, all practices"),
        (
            "not qualifying",
            "step",
            qualifying - savings,
            "losses, savings below the MSR, and with net sharing the MSR's part",
        ),
        ("qualifying savings", "total", qualifying, "savings of practices past the MSR"),
        (
            "not shared",
            "step",
            before_limit - qualifying,
            "1 - share rate, quality gate, payment reduction",
        ),
        ("earned before limit", "total", before_limit, "qualifying savings x share rate"),
        ("payment limit", "step", earned - before_limit, "above payment_limit x budget"),
        ("earned", "total", earned, "the practices' shares"),
        ("shared losses", "step", -losses, "losses billed (two-sided terms)"),
        ("final payments", "total", final, "earned - shared losses"),
    ]
    return pd.DataFrame(
        {
            "step": [s[0] for s in steps],
            "kind": [s[1] for s in steps],
            "amount_cents": np.array([s[2] for s in steps], dtype=np.int64),
            "what": [s[3] for s in steps],
        }
    )


def _short_dollars(value: float, _pos: object = None) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{sign}${value / size:,.3g}{suffix}"
    return f"{sign}${value:,.0f}"


_MONEY_AXIS = FuncFormatter(_short_dollars)


@contextmanager
def _style() -> Iterator[None]:
    """The charts' matplotlib settings, for building a figure and for drawing it."""
    with rc_context(_CHART_STYLE):
        yield


def _svg(fig: Figure, name: str) -> str:
    """The figure as inline SVG: no XML prolog, DOCTYPE or metadata, ids prefixed by name."""
    buffer = io.StringIO()
    with _style():
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(
        r"#([A-Za-z_][\w.-]*)",
        lambda m: f"#{name}-{m.group(1)}" if m.group(1) in ids else m.group(0),
        text,
    )
    text = text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(name)}" ', 1)
    return text


def sign_colors(values: np.ndarray) -> list[str]:
    """A colour per value: ``GAIN`` (green) for zero or more, ``LOSS`` (red) below zero."""
    return [GAIN if v >= 0 else LOSS for v in np.asarray(values, dtype=np.float64)]


def _waterfall_bars(ax: Any, steps: pd.DataFrame) -> None:
    amounts = steps["amount_cents"].to_numpy(dtype=np.int64)
    kinds = steps["kind"].astype(str).tolist()
    labels = steps["step"].astype(str).tolist()
    running = 0.0
    lo, hi = 0.0, 0.0
    for i, (amount, kind) in enumerate(zip(amounts, kinds, strict=True)):
        value = float(amount) / 100.0
        if kind == "total":
            bottom, height, color = 0.0, value, _BLUE
            running = value
        else:
            bottom, height = running, value
            color = GAIN if value >= 0 else LOSS
            running += value
        ax.bar(i, height, bottom=bottom, color=color, width=0.7)
        top = max(bottom, bottom + height)
        lo, hi = min(lo, bottom, bottom + height), max(hi, top)
        ax.annotate(
            _short_dollars(value),
            (i, top),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.yaxis.set_major_formatter(_MONEY_AXIS)
    pad = 0.12 * (hi - lo or 1.0)  # room for the labels (bars' edges would pin the limits)
    ax.set_ylim(lo - (pad if lo < 0 else 0), hi + pad)
    ax.axhline(0, color="#333333", linewidth=0.6)


def waterfall_figure(steps: pd.DataFrame) -> Figure:
    """Two panels: budget to savings (large amounts), savings to final payments."""
    with _style():
        fig = Figure(figsize=(10, 4.4), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[6, 9])
        split = int(np.flatnonzero(steps["step"].to_numpy() == "savings")[0])
        _waterfall_bars(left, steps.iloc[: split + 1])
        left.set_title("Budget to savings")
        _waterfall_bars(right, steps.iloc[split:])
        right.set_title("Savings to final payments")
    return fig


def waterfall_chart(steps: pd.DataFrame) -> str:
    """The program waterfall (``waterfall_figure``) as inline SVG."""
    return _svg(waterfall_figure(steps), "waterfall")


# --- payout by scenario ------------------------------------------------------------------

#: The payer's net savings as the summary computes them (scenarios.settle.run_scenarios).
NET_SAVINGS_FORMULA = "budget - incurred cost (untruncated)\n- net payments - CCF paid"


def scenario_figure(summary: pd.DataFrame) -> Figure:
    """Total paid and the payer's net savings, one bar per scenario (or sorted curves).

    The payer's net savings are green where the payer keeps money and red (``LOSS``)
    where it loses; the base scenario's bars have a dark outline, and a dashed line
    marks its values.
    """
    paid = summary["total_paid_cents"].to_numpy(dtype=np.int64) / 100.0
    net = summary["payer_net_savings_cents"].to_numpy(dtype=np.int64) / 100.0
    names = summary["scenario"].astype(str).to_numpy()
    base = np.flatnonzero(names == "base")
    with _style():
        if len(summary) <= CHART_MAX_BARS:
            height = 1.6 + 0.28 * len(summary)
            fig = Figure(figsize=(10, height), layout="constrained")
            left, right = fig.subplots(1, 2, sharey=True)
            y = np.arange(len(summary))[::-1]
            left.barh(y, paid, color=[_ORANGE if i in base else _BLUE for i in range(len(y))])
            bars = right.barh(
                y,
                net,
                color=sign_colors(net),
                edgecolor=["#1a202c" if i in base else "none" for i in range(len(y))],
                linewidth=1.2,
            )
            for i, bar in enumerate(bars):
                bar.set_gid(f"net-savings-{i}")  # the summary's row i, for readers and tests
            left.set_yticks(y, [_clip_label(n) for n in names])
            for ax, values in ((left, paid), (right, net)):
                if len(base):
                    ax.axvline(values[base[0]], color="#333333", linewidth=0.8, linestyle="--")
                ax.xaxis.set_major_formatter(_MONEY_AXIS)
            if (net < 0).any() and (net > 0).any():
                right.axvline(0, color="#333333", linewidth=0.6)
            left.set_title("Total shared-savings payments")
            right.set_title("Payer's net savings")
            right.set_xlabel(NET_SAVINGS_FORMULA, fontsize=8)
        else:
            fig = Figure(figsize=(10, 4.2), layout="constrained")
            left, right = fig.subplots(1, 2)
            for ax, values, title in (
                (left, paid, "Total shared-savings payments"),
                (right, net, "Payer's net savings"),
            ):
                order = np.argsort(values, kind="stable")
                x = np.arange(1, len(values) + 1)
                if ax is left:
                    ax.plot(x, values[order], color=_BLUE)
                else:  # sorted, so the losses come first: a red part, then a green one
                    sorted_net = values[order]
                    losses = sorted_net < 0
                    if losses.any():
                        ax.plot(x[losses], sorted_net[losses], color=LOSS, label="loss")
                    if (~losses).any():
                        ax.plot(x[~losses], sorted_net[~losses], color=GAIN, label="gain")
                    if losses.any() and (~losses).any():
                        ax.axhline(0, color="#333333", linewidth=0.6)
                if len(base):
                    ax.axhline(values[base[0]], color=_ORANGE, linestyle="--", label="base")
                    ax.legend(loc="upper left")
                ax.yaxis.set_major_formatter(_MONEY_AXIS)
                ax.set_xlabel(f"scenarios, sorted ({len(values):,})")
                ax.set_title(title)
            right.set_xlabel(f"scenarios, sorted ({len(net):,})\n{NET_SAVINGS_FORMULA}")
    return fig


def scenario_chart(summary: pd.DataFrame) -> str:
    """Payout by scenario (``scenario_figure``) as inline SVG."""
    return _svg(scenario_figure(summary), "scenarios")


def _clip_label(text: str, width: int = 48) -> str:
    """A long scenario name cut to fit beside a bar."""
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the tornado -------------------------------------------------------------------------


def tornado_figure(table: pd.DataFrame) -> Figure | None:
    """Bars from the base total paid to its value at each parameter's low and high."""
    if table.empty:
        return None
    base = float(table["base_total_paid_cents"].iloc[0]) / 100.0
    low = table["total_paid_low_cents"].to_numpy(dtype=np.int64) / 100.0
    high = table["total_paid_high_cents"].to_numpy(dtype=np.int64) / 100.0
    y = np.arange(len(table))[::-1]
    labels = [
        f"{p.removeprefix('settlement.')}  [{lo} / {hi}]"
        for p, lo, hi in zip(table["parameter"], table["low"], table["high"], strict=True)
    ]
    with _style():
        fig = Figure(figsize=(10, 1.2 + 0.4 * len(table)), layout="constrained")
        ax = fig.subplots()
        ax.barh(y, low - base, left=base, color=_BLUE, label="low value", height=0.6)
        ax.barh(y, high - base, left=base, color=_ORANGE, label="high value", height=0.6)
        ax.axvline(base, color="#333333", linewidth=0.8)
        ax.set_yticks(y, [_clip_label(label, 60) for label in labels])
        ax.xaxis.set_major_formatter(_MONEY_AXIS)
        ax.set_title(f"Total paid, one parameter at a time (base {_short_dollars(base)})")
        ax.legend(loc="lower right")
    return fig


def tornado_chart(table: pd.DataFrame) -> str | None:
    """The tornado (``tornado_figure``) as inline SVG; None without sensitivity rows."""
    fig = tornado_figure(table)
    return None if fig is None else _svg(fig, "tornado")


# --- chance ------------------------------------------------------------------------------


def _shown_practices(chance: Chance) -> tuple[np.ndarray, str]:
    table = chance.practices
    if len(table) <= CHART_MAX_BARS:
        return np.arange(len(table)), "every practice"
    spread = (table["payment_p95_cents"] - table["payment_p5_cents"]).to_numpy()
    shown = np.sort(np.argsort(-spread, kind="stable")[:CHART_MAX_BARS])
    return shown, f"the {CHART_MAX_BARS} practices with the widest 5%-95% range"


def distribution_titles(chance: Chance) -> tuple[str, str]:
    """The distribution chart's title and its subtitle (which practices, how to read it)."""
    _, which = _shown_practices(chance)
    return (
        f"Payment per practice over {chance.draws:,} bootstrap draws",
        f"{which[0].upper()}{which[1:]}; box: quartiles, whiskers: 5th-95th percentile",
    )


def distribution_figure(chance: Chance) -> Figure:
    """Each practice's bootstrap payments: box = quartiles, whiskers = 5th-95th percentile."""
    shown, _ = _shown_practices(chance)
    table = chance.practices.iloc[shown]
    draws = chance.payments_cents[:, shown] / 100.0
    y = np.arange(len(shown))[::-1] + 1
    title, subtitle = distribution_titles(chance)
    with _style():
        fig = Figure(figsize=(10, 1.6 + 0.32 * len(shown)), layout="constrained")
        ax = fig.subplots()
        ax.boxplot(
            draws,
            positions=y,
            orientation="horizontal",
            whis=(5, 95),
            showfliers=False,
            widths=0.6,
            medianprops={"color": _ORANGE},
        )
        ax.scatter(
            table["payment_mean_cents"].to_numpy() / 100.0,
            y,
            marker="o",
            color=_BLUE,
            s=14,
            label="mean of the draws",
            zorder=3,
        )
        ax.scatter(
            table["final_payment_cents"].to_numpy() / 100.0,
            y,
            marker="D",
            color=_RED,
            s=16,
            label="actual payment",
            zorder=3,
        )
        ax.set_yticks(y, table["practice_id"].astype(str).to_numpy())
        ax.xaxis.set_major_formatter(_MONEY_AXIS)
        # a short bold title over a plain subtitle: one long line did not fit the figure
        fig.suptitle(title, fontsize=10, fontweight="bold")
        ax.set_title(subtitle, fontsize=8, fontweight="normal")
        ax.legend(loc="lower right")
    return fig


def distribution_chart(chance: Chance) -> str:
    """The payment distribution per practice (``distribution_figure``) as inline SVG."""
    return _svg(distribution_figure(chance), "distribution")


def msr_chance_figure(chance: Chance) -> Figure:
    """The chance of passing the MSR with zero true savings, against panel size."""
    table = chance.practices
    with _style():
        fig = Figure(figsize=(10, 3.6), layout="constrained")
        ax = fig.subplots()
        members = table["members"].to_numpy()
        p = table["p_pass_msr_if_no_savings"].to_numpy()
        ax.scatter(members, p, color=_BLUE, s=18)
        if len(table) <= CHART_MAX_BARS:
            for label, x, yv in zip(table["practice_id"].astype(str), members, p, strict=True):
                ax.annotate(label, (x, yv), xytext=(3, 3), textcoords="offset points", fontsize=7)
        if len(table) and members.max() / max(members.min(), 1) > 20:
            ax.set_xscale("log")
        ax.set_ylim(0, max(0.05, float(p.max()) * 1.15) if len(p) else 1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        ax.set_xlabel("attributed members")
        ax.set_ylabel("P(pass MSR | no true savings)")
        ax.set_title("How often noise alone passes the MSR")
    return fig


def msr_chance_chart(chance: Chance) -> str:
    """The MSR chance by panel size (``msr_chance_figure``) as inline SVG."""
    return _svg(msr_chance_figure(chance), "msr-chance")
