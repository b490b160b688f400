"""Every figure the book glues is checked as it is glued (rarescale.book.report.figure_problems):
labelled axes, tick labels on both, a legend that covers no data. The check, on planted figures."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rarescale.book.report import figure_problems, glue  # noqa: E402


def _figure(**change):
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.linspace(0, 1, 50)
    ax.plot(x, x, "o-", ms=3, label="data")
    ax.set(xlabel="width N", ylabel="loss (nats)")
    ax.legend(loc=change.get("legend", "upper left"))
    if change.get("no_ylabel"):
        ax.set_ylabel("")
    if change.get("no_xticks"):
        ax.set_xticks([])
    if change.get("colorbar"):
        points = ax.scatter(x, 1 - x, c=x, s=5)
        fig.colorbar(points, ax=ax)  # a colour bar's axes need no label of its own
    return fig


def test_a_clean_figure_passes_with_or_without_a_colour_bar():
    assert figure_problems(_figure()) == []
    assert figure_problems(_figure(colorbar=True, legend="center left")) == []


@pytest.mark.parametrize("change, expected", [
    ({"no_ylabel": True}, "no y label"),
    ({"no_xticks": True}, "fewer than two x tick labels"),
    ({"legend": "center"}, "the legend covers"),
])
def test_a_planted_defect_is_named(change, expected):
    problems = figure_problems(_figure(**change))
    assert any(expected in p for p in problems), problems


def test_glue_refuses_a_figure_a_reader_cannot_read():
    with pytest.raises(ValueError, match="figure 'bad': panel 1: no y label"):
        glue("bad", _figure(no_ylabel=True))


def _two_panels(wspace, labels=("loss on the rarest task (nats per token)", "accuracy")):
    fig, axes = plt.subplots(1, 2, figsize=(6, 3), gridspec_kw={"wspace": wspace})
    x = np.linspace(1e3, 1e6, 20)
    for ax, label in zip(axes, labels):
        ax.plot(x, np.log(x), "o-", ms=2)
        ax.set(xlabel="parameters", ylabel=label)
    return fig


def test_text_drawn_over_the_next_panel_is_named_and_apart_is_not():
    crowded = figure_problems(_two_panels(wspace=0.0))
    assert any("panel 1's x tick" in p and "panel 2's" in p or "panel 2's y label" in p for p in crowded), crowded
    assert figure_problems(_two_panels(wspace=0.6)) == []


def test_crowded_tick_labels_of_one_axis_are_named():
    fig, ax = plt.subplots(figsize=(3, 2))
    x = np.arange(30)
    ax.plot(x, x)
    ax.set_xticks(x, [f"{v:,}" for v in 10_000 * x])
    ax.set(xlabel="tokens", ylabel="loss (nats)")
    problems = figure_problems(fig)
    assert any("x tick" in p and "overlaps its x tick" in p for p in problems), problems


def test_crowded_minor_tick_labels_of_a_log_axis_are_named():
    """Under two decades, a log axis labels its minor ticks (2 × 10⁻⁴, 3 × 10⁻⁴, …), which
    crowd each other on a narrow panel; with the powers of ten only labelled, it passes."""
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([2e-4, 3e-3], [0.6, 0.9], "o-")
    ax.set(xscale="log", xlabel="frequency (per token)", ylabel="accuracy")
    problems = figure_problems(fig)
    assert any("x tick" in p and "overlaps its x tick" in p for p in problems), problems
    ax.xaxis.set_minor_formatter(NullFormatter())
    assert not any("overlaps" in p for p in figure_problems(fig))  # (one label left: the next test)


def test_a_legend_title_larger_than_its_entries_is_named():
    fig = _figure()
    fig.axes[0].legend(title="size", fontsize=7, loc="lower right")  # the title at the default 10 pt
    assert any("title larger than its entries" in p for p in figure_problems(fig))
    fig.axes[0].legend(title="size", fontsize=7, title_fontsize=8, loc="lower right")
    assert figure_problems(fig) == []


def test_a_log_axis_with_one_power_of_ten_in_view_is_named():
    """A frequency axis from 3e-4 to 3e-3 labels 10⁻³ alone once its minor labels are off: one
    tick label in view (the axis may hold others, out of view, which are not drawn)."""
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([3e-4, 1e-3, 3e-3], [0.6, 0.8, 0.9], "o-")
    ax.set(xscale="log", xlabel="frequency (per token)", ylabel="accuracy")
    ax.xaxis.set_minor_formatter(NullFormatter())
    assert any("fewer than two x tick labels" in p for p in figure_problems(fig))
    ax.set_xticks([3e-4, 1e-3, 3e-3], ["3e-4", "1e-3", "3e-3"])
    assert figure_problems(fig) == []
