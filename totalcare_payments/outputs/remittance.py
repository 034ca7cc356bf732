"""A practice's remittance statement: what a ledger batch pays it and why, as a printable
HTML page (no script, no network; prints on one or a few pages).

One page per practice: the payee, the batch and its pay date, every payment line
(service month, kind, members, amount, reason), the net, and the members behind each
adjustment with their reasons.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from ..money import dollars, dollars_array, grouped_digits

_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; font-size: 10.5pt; margin: 2em; color: #111; }
h1 { font-size: 15pt; margin-bottom: 0.2em; }
h2 { font-size: 12pt; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; margin-top: 0.5em; }
th, td { border-bottom: 1px solid #bbb; padding: 3px 6px; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; border-top: 2px solid #111; }
.draft { color: #a00; font-weight: bold; }
.facts td { border: none; padding: 1px 12px 1px 0; }
@media print { body { margin: 0.5in; } h2 { page-break-after: avoid; } }
"""


def remittance_pages(
    facts: dict[str, dict[str, str]],
    lines: pd.DataFrame,
    adjustments: pd.DataFrame,
    *,
    draft: bool,
) -> dict[str, str]:
    """Each practice's statement, by practice_id. ``facts``: per practice, the head of its
    page (payee, batch, amounts); ``lines``: practice_id, service_month, kind, members,
    amount_cents, reason; ``adjustments``: the roster lines of the adjustments
    (practice_id, member_id, service_month, member_months, rate_cents, fee_cents,
    reason). The table rows are made for all practices at once, then joined per
    practice."""
    line_rows = _by_practice(
        lines,
        _cat(
            "<tr><td>", _esc(lines["service_month"]), "</td><td>", _esc(lines["kind"]),
            "</td><td class='n'>", grouped_digits(lines["members"].to_numpy(np.int64)),
            "</td><td class='n'>", dollars_array(lines["amount_cents"].to_numpy(np.int64)),
            "</td><td>", _esc(lines["reason"]), "</td></tr>",
        ),
    )
    months = adjustments["member_months"].to_numpy(np.int64)
    member_rows = _by_practice(
        adjustments,
        _cat(
            "<tr><td>", _esc(adjustments["member_id"]), "</td><td>",
            _esc(adjustments["service_month"]), "</td><td class='n'>",
            np.strings.add(np.where(months < 0, "-", "+"), np.abs(months).astype(str)),
            "</td><td class='n'>", dollars_array(adjustments["rate_cents"].to_numpy(np.int64)),
            "</td><td class='n'>", dollars_array(adjustments["fee_cents"].to_numpy(np.int64)),
            "</td><td>", _esc(adjustments["reason"]), "</td></tr>",
        ),
    )
    totals = lines.groupby(lines["practice_id"].astype(str).to_numpy())["amount_cents"].sum()
    return {
        practice: remittance_html(
            head,
            line_rows.get(practice, ""),
            member_rows.get(practice, ""),
            int(totals.get(practice, 0)),
            draft=draft,
        )
        for practice, head in facts.items()  # one page per practice
    }


def remittance_html(
    facts: dict[str, str], line_rows: str, member_rows: str, total_cents: int, *, draft: bool
) -> str:
    """One practice's statement from its head (``facts``) and its table rows (HTML)."""
    esc = html.escape
    head = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in facts.items())
    body = line_rows + (
        f"<tr class='total'><td colspan='3'>net payment</td><td class='n'>"
        f"{dollars(total_cents)}</td><td></td></tr>"
    )
    title = f"Remittance statement: {facts.get('practice', '')}"
    banner = "<p class='draft'>DRAFT: not posted, not to be paid</p>" if draft else ""
    adjusted = (
        "<h2>Members behind the adjustments</h2><table><tr><th>member</th><th>service month</th>"
        "<th class='n'>member-months</th><th class='n'>rate</th><th class='n'>amount</th>"
        "<th>reason</th></tr>" + member_rows + "</table>"
        if member_rows
        else "<p>No adjustment of earlier months.</p>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{banner}<table class='facts'>{head}</table>"
        "<h2>Payment lines</h2><table><tr><th>service month</th><th>kind</th>"
        "<th class='n'>members</th><th class='n'>amount</th><th>reason</th></tr>"
        + body
        + "</table>"
        + adjusted
        + "<p>The roster behind every line is in roster.csv of this batch.</p></body></html>\n"
    )


def _esc(values: pd.Series) -> np.ndarray:
    """Text for HTML, as ``html.escape`` makes it (empty for a missing value)."""
    text = values.astype(object).where(values.notna(), "").astype(str).to_numpy(dtype=str)
    if not len(text):
        return text
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"),
                         ("'", "&#x27;")):
        text = np.strings.replace(text, char, entity)
    return text


def _cat(*parts: str | np.ndarray) -> np.ndarray:
    """The parts joined element by element (strings and arrays of strings)."""
    if any(isinstance(part, np.ndarray) and not part.size for part in parts):
        return np.array([], dtype=str)  # no rows
    out: np.ndarray = np.asarray(parts[0])
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out


def _by_practice(frame: pd.DataFrame, rows: np.ndarray) -> dict[str, str]:
    """The rows of each practice joined, in the frame's order."""
    if not len(frame):
        return {}
    joined = pd.Series(rows, dtype=object).groupby(
        frame["practice_id"].astype(str).to_numpy(), sort=False
    ).agg("".join)
    return {str(k): str(v) for k, v in joined.items()}


def write_remittances(
    folder: Path,
    statements: dict[str, str],
) -> list[Path]:
    """Write each practice's statement as ``remittance/<practice_id>.html``."""
    target = folder / "remittance"
    target.mkdir()
    paths = []
    for practice, text in sorted(statements.items()):  # one file per practice
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in practice)
        path = target / f"{safe}.html"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
