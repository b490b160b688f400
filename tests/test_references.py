"""References and the reproducibility page: every citation has an entry and every entry is
cited; the artifact inventory lists what a build read and flags a key today's code would not make."""

import re

import numpy as np

from conftest import REPO
from rarescale.book import inventory
from rarescale.store import artifacts


def bib_keys() -> set:
    return set(re.findall(r"^@\w+\{([^,]+),", (REPO / "book" / "references.bib").read_text(), re.M))


def cited_keys() -> set:
    keys = set()
    for path in list((REPO / "book").glob("*.py")) + list((REPO / "book").glob("*.md")):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            keys.update(k.strip() for k in group.split(","))
    return keys


def test_every_citation_has_an_entry_and_every_entry_is_cited():
    assert cited_keys() and cited_keys() == bib_keys()
    assert len(bib_keys()) >= 15  # the related work the chapters build on, not the paper alone


def test_every_chapter_cites():
    for path in sorted((REPO / "book").glob("0*.py")) + [REPO / "book" / "intro.py"]:
        assert re.search(r"\{cite(?::\w+)?\}`", path.read_text()), path.name


def test_the_inventory_lists_what_was_read_and_flags_a_stale_key(tmp_path, monkeypatch):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    log = tmp_path / "artifacts-read.log"
    monkeypatch.setenv("RARESCALE_ARTIFACT_LOG", str(log))
    current = artifacts.save_artifact("c13_random_baseline",
                                      {"d": 4, "code": artifacts.code_digest("rarescale.linear.stiefel")},
                                      {}, {"x": np.ones(3)})
    stale = artifacts.save_artifact("c13_random_baseline", {"d": 4, "code": "000000000000"},
                                    {}, {"x": np.ones(3)})
    unknown = artifacts.save_artifact("something_else", {"d": 4}, {}, {})
    artifacts.load_artifact("c13_random_baseline", {"d": 4, "code": "000000000000"})
    rows = {r["key"]: r for r in inventory.inventory(inventory.read_paths(log))}
    assert set(rows) == {current.key, stale.key, unknown.key}  # each read once, listed once
    assert rows[current.key]["current"] is True and rows[stale.key]["current"] is False
    assert rows[unknown.key]["current"] is None
    assert rows[stale.key]["machine"]["cpus"] >= 1 and rows[stale.key]["bytes"] > 0
    import shutil

    shutil.rmtree(stale.path)  # a vanished artifact is listed as missing, not skipped
    rows = {r["key"]: r for r in inventory.inventory(inventory.read_paths(log))}
    assert rows[stale.key]["missing"]


def test_pinned_versions_are_read_from_requirements():
    pins = inventory.pinned(("torch", "jupyter-book"), REPO / "requirements.txt")
    assert pins["torch"] == "2.13.0" and pins["jupyter-book"].startswith("1.")


def test_the_inventory_names_the_sweep_or_module_that_made_each_artifact_and_flags_dirty_ones(tmp_path):
    from rarescale.sweeps.grid import Sweep, cell_key

    ladder = Sweep.from_yaml(REPO / "runners/configs/cpu_ladder.yaml").cells()[0]
    shared = Sweep.from_yaml(REPO / "runners/configs/cpu_pilot_add.yaml").cells()[0]  # also a main cell
    rows = [{"kind": "olmo_run", "key": cell_key(ladder)}, {"kind": "olmo_run", "key": cell_key(shared)},
            {"kind": "olmo_run", "key": "0" * 16}, {"kind": "c8_width_sweep", "key": "x"},
            {"kind": "natural_corpus", "key": "y"}]
    made = inventory.made_by(rows)
    assert made[cell_key(ladder)] == "cpu_ladder"
    assert made[cell_key(shared)] == "cpu_main, cpu_pilot_add"
    assert made["0" * 16] == "no sweep file" and made["x"] == "book.experiments"
    assert made["y"] == "runners.natural_corpus"
    row = {"missing": False, "code_version": "0.1.0+gabc1234", "uncommitted": []}
    assert not inventory.unreproducible(row)
    assert inventory.unreproducible({**row, "code_version": "0.1.0+gabc1234-dirty"})
    assert inventory.unreproducible({**row, "uncommitted": ["rarescale/pretrain/train.py"]})
