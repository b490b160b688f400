"""Small tables for the chapters, rendered as HTML in the book."""

from __future__ import annotations

import html

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
    return myst_glue(name, value, display=display)


def glue_text(name: str, text: str):
    """Glue a computed sentence or phrase, shown inline with ``{glue:md}`name```."""
    from IPython.display import Markdown

    return glue(name, Markdown(text), display=False)
