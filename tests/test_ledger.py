"""The claim ledger (front page): rows, verdicts that follow their chapter, links, JSON."""

import ast
import csv
import json
import re

import jupytext
import numpy as np
import pytest

from rarescale import scaling
from rarescale.book import ledger
from rarescale.book.parameters import cell_defaults

from conftest import REPO


def test_verdicts_and_kinds_are_from_their_lists():
    with pytest.raises(ValueError, match="Row.verdict"):
        ledger.Row("C1", "", "", "supported", "", "", "01_phenomenology", "C2: compute-optimal training")
    with pytest.raises(ValueError, match="Row.kind"):
        ledger.Row("C1", "", "", "reproduced", "", "", "01_phenomenology", "x", kind="figure")
    with pytest.raises(ValueError, match="setup"):  # a setup row has no other verdict
        ledger.Row("C6", "", "", "reproduced", "", "", "02_utility_ranking", "x", kind="setup")


def test_width_alone_gain_finds_the_ranking_and_not_a_width_threshold():
    widths, seeds, K = 6, 3, 4
    # the utility rule: task k learned from width k + 2 (rarer tasks need more width)
    predicted = np.arange(widths)[:, None] >= np.arange(K)[None] + 2
    learned = np.repeat(predicted[:, None], seeds, axis=1)
    gain, low, high = ledger.width_alone_gain(learned, predicted)
    assert low > 0.1 and gain == pytest.approx(1 - max(
        (predicted == (np.arange(widths) >= w0)[:, None]).mean() for w0 in range(widths + 1)))
    # a null: every task learned from the same width, which width alone predicts as well
    flat = np.repeat((np.arange(widths) >= 3)[:, None], K, axis=1)
    gain, low, high = ledger.width_alone_gain(np.repeat(flat[:, None], seeds, axis=1), flat)
    assert gain == 0 and high <= 0


def _synthetic_runs(path, law, noise=0.003, seed=0):
    """Runs on Hoffmann et al.'s (N, compute) grid with losses from ``law`` (the CSV's columns)."""
    with open(REPO / "book/data/chinchilla_svg_extracted_data.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    rng = np.random.default_rng(seed)
    for r in rows:
        n, c = float(r["Model Size"]), float(r["Training FLOP"])
        r["loss"] = str(float(scaling.loss(n, c / (6 * n), law)) * (1 + noise * rng.standard_normal()))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_synthetic_artifact_changes_its_chapters_row(tmp_path, monkeypatch):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    real = {r.claim: r for r in ledger.chapter_rows("01_phenomenology", {"n_boot": 60})}
    assert real["C1"].verdict == ledger.PARTLY  # Chinchilla's own constants miss the refit's
    # runs drawn from Chinchilla's law itself: its constants fall inside the refit's intervals
    runs = _synthetic_runs(tmp_path / "runs.csv", scaling.CHINCHILLA)
    planted = {r.claim: r for r in ledger.chapter_rows(
        "01_phenomenology", {"runs_file": str(runs), "n_boot": 60, "exclude_highest": 0})}
    assert planted["C1"].verdict == ledger.REPRODUCED
    assert "outside the refit's intervals: none" in planted["C1"].measured
    assert planted["C1"].measured != real["C1"].measured


def test_each_row_links_to_a_heading_of_its_chapter():
    rows = [r for ch in ledger.CHAPTERS[:3] for r in ledger.chapter_rows(ch)]
    claims = {r.claim for r in rows}
    assert {f"C{k}" for k in range(6, 15)} <= claims and {"C1", "C2", "C3"} <= claims
    for r in rows:
        text = (REPO / "book" / f"{r.chapter}.py").read_text()
        assert re.search(rf"^# #+ {re.escape(r.section)}$", text, re.M), (r.claim, r.section)
        assert r.link.startswith(f"{r.chapter}.html#") and " " not in r.link


def test_no_chapter_reassigns_a_parameter_its_ledger_rows_read():
    """A chapter passes its namespace to the ledger at its end: its parameters must still hold
    the values it ran with."""
    for chapter in ledger.CHAPTERS:
        nb = jupytext.read(REPO / "book" / f"{chapter}.py", fmt="py:percent")
        names, seen_parameters = set(cell_defaults(nb)), False
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            if "parameters" in cell.metadata.get("tags", []):
                seen_parameters = True
                continue
            for node in ast.walk(ast.parse(cell.source)) if seen_parameters else ():
                if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
                    for target in getattr(node, "targets", [getattr(node, "target", None)]):
                        for n in ast.walk(target):
                            assert not (isinstance(n, ast.Name) and n.id in names), (chapter, n.id)


def test_ledger_json_holds_every_row_with_its_link(tmp_path):
    rows = ledger.chapter_rows("01_phenomenology")
    data = json.loads(ledger.write_json(rows, tmp_path / "ledger.json").read_text())
    assert data["verdicts"] == list(ledger.VERDICTS)
    assert [r["claim"] for r in data["rows"]] == [r.claim for r in rows]
    assert data["rows"][0]["link"] == rows[0].link and data["rows"][0]["verdict"] == rows[0].verdict
    assert not list(tmp_path.glob("*.tmp-*"))


def test_every_row_has_a_kind_and_a_replication_its_family_and_p(tmp_path):
    """ledger.json: each row says what it tests; a replication says which family its test was
    adjusted in, and its p-values (null where its statistic has none)."""
    rows = [r for ch in ledger.CHAPTERS for r in ledger.chapter_rows(ch)]
    data = json.loads(ledger.write_json(rows, tmp_path / "ledger.json").read_text())
    assert all(r["kind"] in ledger.KINDS for r in data["rows"])
    replications = [r for r in data["rows"] if r["kind"] == "replication"]
    assert replications and all({"family", "p", "p_adjusted"} <= set(r) and r["family"]
                                for r in replications)
    for r in replications:
        if r["p"] is not None:
            assert 0 <= r["p"] <= r["p_adjusted"] <= 1
    claims = [r.claim for r in rows]
    assert not any(c.startswith("Figure") for c in claims)  # a drawing is not a test
    assert len(claims) == len(set(claims))


def test_the_c4_c5_row_compares_the_refit_with_the_papers_value():
    (row,) = [r for r in ledger.chapter_rows("01_phenomenology") if r.claim == "C4, C5"]
    paper = float(scaling.largest_small_model(1.0, 0.0, scaling.CHINCHILLA))
    assert row.kind == "comparison" and f"{paper:.3f}" in row.measured
    low, high = (float(x) for x in re.findall(r"[-+]?\d*\.\d+", row.interval)[:2])
    assert row.verdict == (ledger.REPRODUCED if low <= paper <= high else ledger.DIFFERS)


def test_the_closing_page_groups_each_row_under_its_section_of_the_paper():
    from rarescale.book.ledger import NOT_SHOWN, PARTLY, REPRODUCED, Row, findings, findings_sentence

    def row(claim, verdict, chapter, scale="s"):
        return Row(claim, "p", "m", verdict, "", scale, chapter, "x",
                   kind="check" if verdict != "setup" else "setup")

    rows = [row("C1", REPRODUCED, "01_phenomenology"), row("C8", REPRODUCED, "02_utility_ranking", "a"),
            row("C12", PARTLY, "03_interference", "b"), row("C18", NOT_SHOWN, "04_olmo_validation"),
            row("C13", REPRODUCED, "03_interference", "a")]
    sec2, sec3, sec4 = findings(rows)
    assert sec2["rows"] == 1 and sec2["claims"][REPRODUCED] == ["C1"]
    assert sec3["claims"][REPRODUCED] == ["C8", "C13"] and sec3["claims"][PARTLY] == ["C12"]
    assert sec3["scales"] == ["a", "b"] and sec4["claims"][NOT_SHOWN] == ["C18"]
    assert findings_sentence(sec3) == "Of its 3 rows, 2 reproduced (C8, C13); 1 partly (C12)."
    assert sum(s["rows"] for s in (sec2, sec3, sec4)) == len(rows)


def test_c16_counts_only_the_cells_that_ran():
    """An unpacked sweep runs each task at some frequencies only: those cells have no count
    (nan) and are neither a match nor a miss; one cell off by an instance is a miss."""
    from rarescale.book.ledger import injected_as_requested

    requested = np.array([[30.0, 9.0, np.nan], [np.nan, 9.0, 3.0]])
    assert injected_as_requested(requested.copy(), requested) == (4, 4)
    off = requested.copy()
    off[1, 2] = 2.0
    assert injected_as_requested(off, requested) == (3, 4)
