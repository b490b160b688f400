"""The execution cache is cleared per page when what the page reads changes (MyST-NB keys on
cells only)."""


def test_each_page_depends_on_what_it_imports_and_reads_and_no_more():
    """Issue 31.1 and 31.12: the data file chapter 1 reads is an input of chapter 1 and of the
    pages that recompute the ledger (the front page, the closing page) only; chapter 4's figure
    code of chapter 4 and of the closing page (which words C20's forgetting with it) only."""
    from conftest import REPO
    from runners.book_cache import page_inputs

    pages = {p.stem: set(page_inputs(p, REPO)) for p in sorted((REPO / "book").glob("*.py"))}
    data = (REPO / "book" / "data" / "chinchilla_svg_extracted_data.csv").resolve()
    figures = (REPO / "rarescale" / "book" / "chapter4.py").resolve()
    # the front page and the closing page recompute the ledger: they read every chapter's inputs
    assert {name for name, inputs in pages.items() if data in inputs} == {"01_phenomenology", "intro", "findings"}
    assert {name for name, inputs in pages.items() if figures in inputs} == {"04_olmo_validation", "findings"}
    ladder = (REPO / "runners" / "configs" / "cpu_ladder.yaml").resolve()
    assert {"04_olmo_validation", "intro"} <= {n for n, i in pages.items() if ladder in i}
    requirements = (REPO / "requirements.txt").resolve()
    assert all(requirements in inputs for inputs in pages.values())


def test_refresh_drops_the_cache_record_of_the_changed_page_only(tmp_path):
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    from runners.book_cache import refresh_pages

    (tmp_path / "rarescale").mkdir()
    (tmp_path / "rarescale" / "__init__.py").write_text("")
    (tmp_path / "rarescale" / "theory.py").write_text("x = 1\n")
    (tmp_path / "book").mkdir()
    header = "# %%\n"
    (tmp_path / "book" / "a.py").write_text(header + "from rarescale import theory\nprint(theory.x)\n")
    (tmp_path / "book" / "b.py").write_text(header + "print(2)\n")
    cache_dir = tmp_path / "_build" / ".jupyter_cache"
    cache = get_cache(str(cache_dir))
    for name in ("a", "b"):
        nb = jupytext.read(tmp_path / "book" / f"{name}.py", fmt="py:percent")
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        cache.cache_notebook_file(str(path), check_validity=False)
    assert refresh_pages(tmp_path, cache_dir) == ["book/a.py", "book/b.py"]  # no digests yet
    for name in ("a", "b"):  # cached again, as a build would
        cache.cache_notebook_file(str(tmp_path / f"{name}.ipynb"), check_validity=False, overwrite=True)
    assert refresh_pages(tmp_path, cache_dir) == []  # nothing changed: both kept
    (tmp_path / "rarescale" / "theory.py").write_text("x = 2\n")  # what a.py imports
    assert refresh_pages(tmp_path, cache_dir) == ["book/a.py"]
    records = {r.uri for r in cache.list_cache_records()}
    assert records == {str(tmp_path / "b.ipynb")}


def test_a_newly_landed_cell_of_a_named_sweep_changes_the_page_digest(tmp_path, monkeypatch):
    """Chapter 4 says how many of its main sweep's runs are done: a cell that lands re-executes
    it, though no file it reads changed (the count comes from which artifacts exist)."""
    import shutil

    import yaml

    from conftest import REPO
    from runners.book_cache import page_digest, sweep_state

    root = tmp_path / "repo"
    (root / "runners" / "configs").mkdir(parents=True)
    (root / "book").mkdir()
    sweep = {"name": "tiny", "sizes": ["30K"], "seeds": [0, 1], "frequencies": [0.01],
             "tasks": [{"kind": "cmp", "n_values": 8, "n_instances": 64}], "pack": False,
             "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 2048}}
    (root / "runners" / "configs" / "tiny.yaml").write_text(yaml.safe_dump(sweep))
    (root / "book" / "page.py").write_text('# %%\nsweep_file = "runners/configs/tiny.yaml"\n')
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    before = page_digest(root / "book" / "page.py", root)
    assert sweep_state(root / "runners" / "configs" / "tiny.yaml") == ""
    from rarescale.sweeps.grid import Sweep, cell_key

    cell = Sweep.from_yaml(root / "runners" / "configs" / "tiny.yaml").cells()[1]
    landed = tmp_path / "artifacts" / "olmo_run" / cell_key(cell)
    landed.mkdir(parents=True)
    shutil.copy(REPO / "artifacts" / "olmo_run" / next(p.name for p in (REPO / "artifacts" / "olmo_run").iterdir()) / "manifest.json", landed)
    assert sweep_state(root / "runners" / "configs" / "tiny.yaml") == cell_key(cell)
    assert page_digest(root / "book" / "page.py", root) != before
