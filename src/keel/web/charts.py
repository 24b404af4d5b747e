"""Charts as server-rendered SVG: no JavaScript, no library, nothing from a CDN.

`chart(...)` draws one or more series over the same x labels, as grouped bars or lines, in a
fixed viewBox the page scales to its width. Each chart is an image to assistive technology
(`role="img"`) named by its `<title>` and described by its `<desc>` (the totals and the
peak, in words); the page puts the figures themselves in a table beside it. Colours come
from the stylesheet (`.series-0`…), never from inline styles, so the strict CSP holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 36, 34  # the plot area's margins (room for large text)
_ids = count(1)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no figure for that slot (a gap in a line)


def nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5):
        if value <= factor * step * (1 + 1e-9):
            return factor * step
    return 10 * step


def number(value: float | None) -> str:
    """A figure as the charts and their tables print it: thousands separated, at most three
    significant decimals, a dash for none."""
    if value is None:
        return "\u2013"  # an en dash
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    kind: str = "bars",
    unit: str = "",
    describe: str = "",
) -> Markup:
    """An accessible SVG chart; `labels` name the x slots (e.g. minutes as HH:MM)."""
    if kind not in ("bars", "lines"):
        raise ValueError(f"unknown chart kind {kind!r}")
    n = max(len(labels), 1)
    top = nice_max(max((v for s in series for v in s.values if v is not None), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    uid = next(_ids)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{uid}-title chart-{uid}-desc" data-kind="{kind}">',
        f'<title id="chart-{uid}-title">{escape(title)}</title>',
        f'<desc id="chart-{uid}-desc">{escape(describe or _describe(labels, series, unit))}</desc>',
    ]
    for tick in (0, top / 2, top):  # the y axis: three gridlines, labelled
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}"/><text class="tick" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{escape(number(tick))}</text>'
        )
    if unit:
        parts.append(f'<text class="unit" x="{LEFT - 6}" y="{TOP - 12}" text-anchor="end">'
                     f"{escape(unit)}</text>")  # fmt: skip
    for i in sorted({0, n // 2, n - 1}) if labels else ():  # the x axis: first, middle, last
        anchor = "start" if i == 0 else ("end" if i == n - 1 else "middle")
        x = LEFT + slot * i + (0 if i == 0 else slot if i == n - 1 else slot / 2)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(labels[i])}</text>"
        )
    for k, s in enumerate(series):
        parts.append(f'<g class="series series-{k}" data-series="{escape(s.name)}">')
        if kind == "bars":
            width = max(slot * 0.8 / len(series), 0.5)
            for i, value in enumerate(s.values):
                if not value:
                    continue
                x = LEFT + slot * i + slot * 0.1 + width * k
                parts.append(
                    f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{width:.1f}" '
                    f'height="{TOP + plot_h - y(value):.1f}"><title>{escape(labels[i])}: '
                    f"{escape(number(value))} {escape(s.name)}</title></rect>"
                )
        else:
            for run in _runs(s.values):
                points = " ".join(f"{LEFT + slot * i + slot / 2:.1f},{y(v):.1f}" for i, v in run)
                shape = "polyline" if len(run) > 1 else "circle"
                if shape == "circle":
                    (i, v), = run  # fmt: skip
                    parts.append(
                        f'<circle cx="{LEFT + slot * i + slot / 2:.1f}" cy="{y(v):.1f}" r="2.5"/>'
                    )
                else:
                    parts.append(f'<polyline points="{points}"/>')
        parts.append("</g>")
    x = LEFT
    for k, s in enumerate(series):  # the legend, in words as well as colours
        parts.append(
            f'<g class="key series-{k}"><rect x="{x}" y="{TOP - 22}" width="10" height="10"/>'
            f'<text x="{x + 14}" y="{TOP - 13}">{escape(s.name)}</text></g>'
        )
        x += 28 + 12 * len(s.name)
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of a line's values, with their slots."""
    runs: list[list[tuple[int, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, value))
    return [r for r in runs if r]


def _describe(labels: Sequence[str], series: Sequence[Series], unit: str) -> str:
    if not labels:
        return "No data."
    span = f"From {labels[0]} to {labels[-1]}"
    said = []
    for s in series:
        known = [(v, i) for i, v in enumerate(s.values) if v is not None]
        if not known:
            said.append(f"{s.name}: none")
            continue
        peak, at = max(known)
        said.append(f"{s.name}: at most {number(peak)}{' ' + unit if unit else ''} ({labels[at]})")
    return f"{span}. " + "; ".join(said) + "."
