"""A practice's remittance statement: what a ledger batch pays it and why, as a printable
HTML page (no script, no network; prints on one or a few pages).

One page per practice: the payee, the batch and its pay date, every payment line
(service month, kind, members, amount, reason), the net, and the members behind each
adjustment with their reasons.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from ..money import dollars

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


def remittance_html(
    facts: dict[str, str],
    lines: pd.DataFrame,
    adjustments: pd.DataFrame,
    *,
    draft: bool,
) -> str:
    """One practice's statement. ``lines``: service_month, kind, members, amount_cents,
    reason; ``adjustments``: the roster lines of the adjustments (member_id,
    service_month, member_months, rate_cents, fee_cents, reason)."""
    esc = html.escape
    head = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in facts.items())
    body = []
    for row in _records(lines):  # a practice's lines: a few per month
        body.append(
            f"<tr><td>{esc(str(row.service_month))}</td><td>{esc(str(row.kind))}</td>"
            f"<td class='n'>{int(row.members):,}</td>"
            f"<td class='n'>{dollars(int(row.amount_cents))}</td>"
            f"<td>{esc(str(row.reason or ''))}</td></tr>"
        )
    total = int(lines["amount_cents"].sum()) if len(lines) else 0
    body.append(
        f"<tr class='total'><td colspan='3'>net payment</td><td class='n'>{dollars(total)}</td>"
        "<td></td></tr>"
    )
    members = []
    for row in _records(adjustments):  # the adjustments' members only
        members.append(
            f"<tr><td>{esc(str(row.member_id))}</td><td>{esc(str(row.service_month))}</td>"
            f"<td class='n'>{int(row.member_months):+d}</td>"
            f"<td class='n'>{dollars(int(row.rate_cents))}</td>"
            f"<td class='n'>{dollars(int(row.fee_cents))}</td>"
            f"<td>{esc(str(row.reason or ''))}</td></tr>"
        )
    title = f"Remittance statement: {facts.get('practice', '')}"
    banner = "<p class='draft'>DRAFT: not posted, not to be paid</p>" if draft else ""
    adjusted = (
        "<h2>Members behind the adjustments</h2><table><tr><th>member</th><th>service month</th>"
        "<th class='n'>member-months</th><th class='n'>rate</th><th class='n'>amount</th>"
        "<th>reason</th></tr>" + "".join(members) + "</table>"
        if members
        else "<p>No adjustment of earlier months.</p>"
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{banner}<table class='facts'>{head}</table>"
        "<h2>Payment lines</h2><table><tr><th>service month</th><th>kind</th>"
        "<th class='n'>members</th><th class='n'>amount</th><th>reason</th></tr>"
        + "".join(body)
        + "</table>"
        + adjusted
        + "<p>The roster behind every line is in roster.csv of this batch.</p></body></html>\n"
    )


def _records(frame: pd.DataFrame) -> list[Any]:
    """Rows as named tuples whose fields have their columns' types (cents as integers)."""
    rows: list[Any] = list(frame.itertuples(index=False))
    return rows


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
