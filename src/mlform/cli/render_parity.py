"""`mlform parity` as text and as a self-contained HTML page (inline CSS, no scripts, nothing
fetched), both from the library's `ParityReport`."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from typing import Any

from mlform.cli.style import Style
from mlform.parity import (
    ALLOWED,
    COMPONENT,
    REGION,
    RESOURCE,
    STATUSES,
    UNSANCTIONED,
    Column,
    Difference,
    ParityReport,
    Row,
)

_WIDTH = 160  # longest value shown in text; --json and --html show all of it
_LABEL = {UNSANCTIONED: "unsanctioned", ALLOWED: "allowed", REGION: "region"}


def show(value: Any, kind: str) -> str:
    """A value as the report shows it: presence as present/missing, the rest as JSON."""
    if kind in (COMPONENT, RESOURCE):
        return "present" if value else "missing"
    if value is None:
        return "(not set)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def groups(report: ParityReport, d: Difference) -> list[tuple[str, str]]:
    """(columns, value) for each distinct value of `d`, columns named as briefly as they can
    be: an environment alone when all its regions agree."""
    shown = {cid: show(v, d.kind) for cid, v in d.values.items()}
    out: dict[str, list[Column]] = {}
    for column in report.columns:
        if column.id in shown:
            out.setdefault(shown[column.id], []).append(column)
    return [(_columns(report, cols, set(shown)), value) for value, cols in out.items()]


def _columns(report: ParityReport, cols: list[Column], compared: set[str]) -> str:
    names: list[str] = []
    for env in dict.fromkeys(c.environment for c in cols):
        everywhere = [c for c in report.columns if c.environment == env and c.id in compared]
        mine = [c for c in cols if c.environment == env]
        names.extend([env] if len(mine) == len(everywhere) else [c.id for c in mine])
    return ", ".join(names)


def iter_parity_text(report: ParityReport, style: Style) -> Iterator[str]:
    """The report for a terminal: unsanctioned differences first, each with its values per
    group of columns and its reason; then the allowances and a summary."""
    paint = {UNSANCTIONED: style.red, ALLOWED: style.green, REGION: style.yellow}
    yield (f"Compared {len(report.columns)} environment/region(s): "
           + ", ".join(c.id for c in report.columns))
    components = sum(1 for r in report.rows if r.kind == COMPONENT)
    resources = sum(1 for r in report.rows if r.kind == RESOURCE)
    yield style.dim(f"({components} component(s), {resources} resource(s))")
    yield ""
    rank = {s: i for i, s in enumerate(STATUSES)}
    ordered = sorted(report.differences, key=lambda d: rank[d.status])
    if ordered:
        yield style.bold(f"{'STATUS':<14}PATH")
    for d in ordered:
        kind = {COMPONENT: "component only in some", RESOURCE: "resource only in some"}.get(
            d.kind, d.kind)
        yield (paint[d.status](f"{_LABEL[d.status]:<14}") + style.bold(d.path)
               + style.dim(f"  ({kind})"))
        pairs = groups(report, d)
        width = min(40, max(len(cols) for cols, _ in pairs))
        for cols, value in pairs:
            text = value if len(value) <= _WIDTH else value[:_WIDTH - 1] + "…"
            yield f"    {cols:<{width}}  {text}"
        if d.reason:
            yield style.dim(f"    {'reason' if d.status == ALLOWED else 'why'}: {d.reason}")
    if ordered:
        yield ""
    if report.allowances:
        yield style.bold("Allowances:")
        for a in report.allowances:
            used = (f"matched {', '.join(a.matched)}" if a.matched
                    else style.yellow("matched nothing"))
            yield f"  {a.path}: {a.reason}  " + style.dim(f"({used})")
        yield ""
    counts = {s: len(report.with_status(s)) for s in STATUSES}
    summary = (f"{counts[UNSANCTIONED]} unsanctioned, {counts[ALLOWED]} allowed, "
               f"{counts[REGION]} explained by the region.")
    if not report.differences:
        yield style.green(style.bold("No differences: the environments are alike."))
    elif report.ok:
        yield style.green(style.bold(summary))
    else:
        yield style.red(style.bold(summary)) + " Allow intended ones under `parity.allow` " \
            "with a reason."


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1d1d1f}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #d0d0d7;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f2f2f5}
code{font:12px ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:break-word}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;font-size:12px;font-weight:600}
tr.unsanctioned td,td.unsanctioned{background:#fde2e1}
.badge.unsanctioned{background:#c62828;color:#fff}
tr.allowed td,td.allowed{background:#e3f4e4}
.badge.allowed{background:#2e7d32;color:#fff}
tr.region td,td.region{background:#e3ecfb}
.badge.region{background:#1f5fbf;color:#fff}
td.missing{color:#8a8a8e;font-style:italic}
td.odd{font-weight:700;outline:2px solid #555;outline-offset:-2px}
td.path code{white-space:nowrap;word-break:normal}
.summary{font-size:1.1em;font-weight:600}.summary.unsanctioned{color:#c62828}
.summary.allowed{color:#2e7d32}.reason{color:#444;min-width:24em}
"""


def parity_html(report: ParityReport) -> str:
    """The whole report as one HTML page: summary, differences, the resources by
    environment/region matrix, allowances and the choices made per region."""
    e = html.escape
    title = "mlform parity: " + ", ".join(dict.fromkeys(c.environment for c in report.columns))
    counts = {s: len(report.with_status(s)) for s in STATUSES}
    state = UNSANCTIONED if counts[UNSANCTIONED] else ALLOWED
    head = "".join(f"<th>{e(c.id)}</th>" for c in report.columns)
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f'<p class="summary {state}" id="summary">{counts[UNSANCTIONED]} unsanctioned, '
        f"{counts[ALLOWED]} allowed, {counts[REGION]} explained by the region</p>",
        "<h2>Differences</h2>",
    ]
    if report.differences:
        parts.append(f'<table id="differences"><thead><tr><th>Path</th><th>Status</th>{head}'
                     "<th>Reason</th></tr></thead><tbody>")
        parts.extend(_difference_row(report, d) for d in report.differences)
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None: the environments are alike.</p>")
    parts.append(f'<h2>Resources</h2><table id="matrix"><thead><tr><th>Component or '
                 f"resource</th>{head}<th>Differences</th></tr></thead><tbody>")
    parts.extend(_matrix_row(report, row) for row in report.rows)
    parts.append("</tbody></table>")
    if report.allowances:
        parts.append('<h2>Allowances</h2><table id="allowances"><thead><tr><th>Path</th>'
                     "<th>Reason</th><th>Matched</th></tr></thead><tbody>")
        for a in report.allowances:
            matched = ", ".join(a.matched) or "nothing"
            parts.append(f"<tr><td><code>{e(a.path)}</code></td><td>{e(a.reason)}</td>"
                         f"<td><code>{e(matched)}</code></td></tr>")
        parts.append("</tbody></table>")
    if any(report.notes.values()):
        parts.append("<h2>Choices made per region</h2><ul>")
        parts.extend(f"<li><b>{e(cid)}</b>: {e(note)}</li>"
                     for cid, notes in report.notes.items() for note in notes)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _difference_row(report: ParityReport, d: Difference) -> str:
    e = html.escape
    shown = {cid: show(v, d.kind) for cid, v in d.values.items()}
    common = max(shown.values(), key=list(shown.values()).count)
    cells = []
    for c in report.columns:
        if c.id not in shown:
            cells.append('<td class="missing">(not there)</td>')
            continue
        odd = " odd" if shown[c.id] != common else ""
        cells.append(f'<td class="{d.status}{odd}"><code>{e(shown[c.id])}</code></td>')
    return (f'<tr class="diff {d.status}" data-status="{d.status}" data-path="{e(d.path)}">'
            f'<td class="path"><code>{e(d.path)}</code></td>'
            f'<td><span class="badge {d.status}">{_LABEL[d.status]}</span></td>'
            f'{"".join(cells)}<td class="reason">{e(d.reason)}</td></tr>')


def _matrix_row(report: ParityReport, row: Row) -> str:
    e = html.escape
    mine = [d for d in report.differences
            if d.path == row.path or d.path.startswith(row.path + ".")]
    status = min((d.status for d in mine), key=STATUSES.index, default="")
    cells = "".join(
        f'<td class="{"present" if row.present[c.id] else "missing"}">'
        f'{"✓" if row.present[c.id] else "missing"}</td>' for c in report.columns)
    listed = ", ".join(f'<span class="badge {d.status}">'
                       f'{e(d.path[len(row.path) + 1:] or "presence")}</span>' for d in mine)
    label = f"<b>{e(row.path)}</b>" if row.kind == COMPONENT else f"<code>{e(row.path)}</code>"
    return (f'<tr class="{row.kind} {status}" data-path="{e(row.path)}"><td>{label}</td>'
            f"{cells}<td>{listed}</td></tr>")
