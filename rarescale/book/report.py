"""Small tables for the chapters, rendered as HTML in the book."""

from __future__ import annotations

import html
import os

import numpy as np


class Markup(str):
    """A table cell that is HTML already (a link): :func:`html_table` leaves it unescaped."""


def _cell(c) -> str:
    return c if isinstance(c, Markup) else html.escape(str(c))


def html_table(columns, rows, caption: str | None = None) -> str:
    """An HTML table; ``rows`` are sequences of already formatted cells (text, escaped here,
    or :class:`Markup`)."""
    head = "".join(f"<th>{_cell(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<table class="table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sci(x: float, digits: int = 2) -> str:
    """``3.9 × 10⁸`` for prose: ``digits`` significant digits, a power of ten."""
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def glue(name: str, value, display: bool = False):
    """MyST-NB's ``glue`` with numpy scalars turned into Python numbers.

    MyST-NB formats a glued number from its text form, which for a numpy scalar
    is ``np.float64(...)`` and cannot be formatted with ``:.2f``.
    """
    from myst_nb import glue as myst_glue

    if isinstance(value, np.generic):
        value = value.item()
    if type(value).__name__ == "Figure":  # a figure the book shows: labelled, its legend clear
        problems = figure_problems(value)
        if problems:
            message = f"figure {name!r}: " + "; ".join(problems)
            report = os.environ.get("RARESCALE_FIGURE_REPORT")  # a survey of every figure at once
            if not report:
                raise ValueError(message)
            with open(report, "a") as f:
                f.write(message + "\n")
    return myst_glue(name, value, display=display)


def figure_problems(fig) -> list[str]:
    """What a reader cannot read in ``fig``: an axes with data but no label on an axis, an axis
    without tick labels, a legend drawn over data points, a legend title larger than its entries
    (more than 1.5 pt), or text drawn over text
    (:func:`text_overlaps`). Colour bars and empty axes are left alone."""
    fig.canvas.draw()
    colorbars = {getattr(getattr(a, "_colorbar", None), "ax", None) for a in fig.axes}
    problems = []
    for k, ax in enumerate(fig.axes):
        if ax in colorbars or not ax.has_data() or not ax.get_visible():
            continue
        where = f"panel {k + 1}" + (f" ({ax.get_title()})" if ax.get_title() else "")
        shared_x = ax.get_shared_x_axes().get_siblings(ax)
        for name, axis, label in (("x", ax.xaxis, ax.get_xlabel()), ("y", ax.yaxis, ax.get_ylabel())):
            siblings = shared_x if name == "x" else ax.get_shared_y_axes().get_siblings(ax)
            if not label and not any(getattr(a, f"get_{name}label")() for a in siblings):
                problems.append(f"{where}: no {name} label")
            if len(drawn_ticklabels(ax, name)) < 2 and len(siblings) == 1:
                problems.append(f"{where}: fewer than two {name} tick labels")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent().shrunk(0.98, 0.98)
            inside = 0  # count_contains leaves out non-finite points
            for line in ax.get_lines():
                if len(line.get_xydata()) and line.get_visible():
                    inside += int(box.count_contains(ax.transData.transform(line.get_xydata())))
            for coll in ax.collections:
                offsets = np.asarray(coll.get_offsets())
                if offsets.ndim == 2 and len(offsets) > 1 and coll.get_visible():
                    inside += int(box.count_contains(coll.get_offset_transform().transform(offsets)))
            if inside:
                problems.append(f"{where}: the legend covers {inside} data points")
    for legend in [ax.get_legend() for ax in fig.axes] + list(fig.legends):
        if legend is None or not legend.get_title().get_text():
            continue
        entries = [t.get_fontsize() for t in legend.get_texts()]
        if entries and legend.get_title().get_fontsize() > max(entries) + 1.5:
            problems.append(f"the legend titled {legend.get_title().get_text()!r} has a title larger "
                            f"than its entries ({legend.get_title().get_fontsize():g} pt against {max(entries):g})")
    return problems + text_overlaps(fig)


OVERLAP_PX = 4.0
"""Square pixels two pieces of text may share before they count as drawn over each other."""


def drawn_ticklabels(ax, axis_name: str) -> list:
    """The tick labels of ``ax``'s ``axis_name`` axis ("x" or "y") a reader sees: visible, not
    empty, in the view (an axis may hold labels of ticks outside it, which are not drawn), major
    and minor (a log axis spanning under two decades labels its minor ticks)."""
    axis = ax.xaxis if axis_name == "x" else ax.yaxis
    lo, hi = sorted(ax.get_xlim() if axis_name == "x" else ax.get_ylim())
    slack = 1e-9 * (hi - lo)
    return [t for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True)
            if t.get_visible() and t.get_text().strip()
            and lo - slack <= t.get_position()[0 if axis_name == "x" else 1] <= hi + slack]


def text_overlaps(fig) -> list[str]:
    """Axis labels, titles and tick labels drawn over one another: across panels (a label over
    the next panel's ticks), and tick labels of one axis crowding each other. Call after
    ``fig.canvas.draw()``."""
    renderer = fig.canvas.get_renderer()
    texts = []  # (panel, what, axis or None, bbox)
    for k, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for what, t, axis in (("x label", ax.xaxis.label, None), ("y label", ax.yaxis.label, None),
                              ("title", ax.title, None)):
            if t.get_visible() and t.get_text().strip():
                texts.append((k, what, axis, t.get_window_extent(renderer)))
        for axis_name in ("x", "y"):
            for t in drawn_ticklabels(ax, axis_name):
                texts.append((k, f"{axis_name} tick {t.get_text()!r}", axis_name, t.get_window_extent(renderer)))
    found = []
    for i, (ki, wi, ai, bi) in enumerate(texts):
        for kj, wj, aj, bj in texts[i + 1:]:
            if ki == kj and not (ai is not None and ai == aj):
                continue  # within a panel only one axis's tick labels are compared with each other
            x = min(bi.x1, bj.x1) - max(bi.x0, bj.x0)
            y = min(bi.y1, bj.y1) - max(bi.y0, bj.y0)
            if x > 0 and y > 0 and x * y > OVERLAP_PX:
                found.append(f"panel {ki + 1}'s {wi} overlaps " + ("its" if ki == kj else f"panel {kj + 1}'s")
                             + f" {wj}")
    return found[:5]


def glue_text(name: str, text: str):
    """Glue a computed sentence or phrase, shown inline with ``{glue:md}`name```."""
    from IPython.display import Markdown

    return glue(name, Markdown(text), display=False)
