"""The package's shape: no import circle, a task kind in one class, chapters that read as prose."""

import ast

import jupytext
import numpy as np
import pytest
import yaml

from conftest import REPO
from rarescale.book.parameters import CONSTRAINTS

HIDDEN = {"remove-input", "remove-cell", "hide-input"}


WALKED = ("rarescale", "runners", "benchmarks")
"""The folders whose modules may import each other."""


def module_name(path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def imported(path, name: str | None = None) -> set[str]:
    """Every module of :data:`WALKED` that ``path`` (the module ``name``, by default its place in
    the repository) imports anywhere in its code, lazy imports too; each package above a module
    is included, as importing ``a.b.c`` runs ``a`` and ``a.b``."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    ours = {n for n in found if n.split(".")[0] in WALKED}
    return ours | {".".join(n.split(".")[:k]) for n in ours for k in range(1, n.count(".") + 1)}


def import_graph(folders=WALKED) -> dict:
    """Module -> the modules of ``folders`` it imports anywhere in its code (lazy imports too);
    a package's ``__init__`` counts as a module when it holds code."""
    files = {module_name(p): p for f in folders for p in (REPO / f).rglob("*.py")}
    return {name: {m for m in imported(path) if m in files and m != name} for name, path in files.items()}


def find_cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_circle_in_the_package_the_runners_or_the_benchmarks():
    graph = import_graph()
    assert "rarescale.pretrain.step" in graph["rarescale.pretrain.measures"]  # the walk sees imports
    assert "runners.cells" in graph["runners.cluster"]  # lazy ones, and runners/, too
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_walk_sees_a_lazy_import_circle_between_two_runners(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from runners import b\n")
    (tmp_path / "b.py").write_text("from runners.a import f\n")
    graph = {n: {m for m in imported(tmp_path / f"{n[-1]}.py", n) if m in ("runners.a", "runners.b")}
             for n in ("runners.a", "runners.b")}
    assert find_cycle(graph) == ["runners.a", "runners.b", "runners.a"]


def test_nothing_outside_the_book_package_imports_it():
    """The book's machinery calls the science, never the reverse: no module of ``rarescale``
    outside ``rarescale.book`` imports it, lazily or not, with no exception."""
    graph = import_graph(("rarescale",))
    bad = {name: sorted(d for d in deps if d.startswith("rarescale.book"))
           for name, deps in graph.items() if not name.startswith("rarescale.book")}
    assert not {k: v for k, v in bad.items() if v}


def test_the_book_rule_finds_a_planted_import(tmp_path):
    (tmp_path / "fit.py").write_text("def f():\n    from rarescale.book import plots\n")
    assert "rarescale.book.plots" in imported(tmp_path / "fit.py", "rarescale.sweeps.fit")


def test_the_package_is_cut_into_subpackages():
    top = sorted(p.name for p in (REPO / "rarescale").glob("*.py"))
    subpackages = sorted(p.parent.name for p in (REPO / "rarescale").glob("*/__init__.py"))
    assert len(top) <= 6, top
    assert {"linear", "pretrain", "sweeps", "book", "store"} <= set(subpackages)
    assert not (REPO / "rarescale" / "olmo").exists()
    for sub in subpackages:  # each subpackage holds modules, not one file under a folder's name
        assert len(list((REPO / "rarescale" / sub).glob("*.py"))) >= 2, sub


def test_the_walk_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_task_kind_added_in_one_class_runs_from_a_sweep_yaml(tmp_path, monkeypatch):
    """Registering one class makes ``kind: first_parity`` usable by a sweep; a 20-step cell trains."""
    from rarescale.sweeps import grid
    from rarescale.pretrain import tasks
    from rarescale.pretrain.train import train

    monkeypatch.setenv("RARESCALE_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(tasks, "KINDS", dict(tasks.KINDS))

    @tasks.register
    class FirstParity(tasks.TaskKind):
        """Is the first operand odd? Two label tokens of its own."""

        name = "first_parity"

        def n_labels(self, spec):
            return 2

        def n_answers(self, spec):
            return 2

        def label(self, spec, v1, v2):
            return np.asarray(v1) % 2

        def title(self, spec):
            return f"parity of v1 ({spec.n_values} values)"

    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump({
        "name": "toy", "sizes": ["30K"], "frequencies": [1 / 64],
        "tasks": [{"kind": "first_parity", "n_values": 8, "n_instances": 64}],
        "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 16 * 8 * 20,
                "corpus_tokens": 50_000, "holdout": 8, "eval_points": 3, "eval_instances": 8,
                "forgetting_steps": 2}}))
    config = grid.Sweep.from_yaml(path).cells()[0]
    spec = config.tasks[0].spec
    assert spec.title == "parity of v1 (8 values)" and spec.chance == 0.5
    result, arrays = train(config, tmp_path / "work", progress=False)
    assert result["steps"] == 20 and result["chance_labels"] == [0.5]
    assert arrays["test_acc_labels"].shape == (len(arrays["eval_step"]), 1)


def prose_share(path) -> float:
    """Non-blank prose lines over all non-blank lines a reader sees (hidden cells not counted)."""
    nb = jupytext.read(path, fmt="py:percent")
    prose = code = 0
    for cell in nb.cells:
        lines = [line for line in cell.source.splitlines() if line.strip()]
        if cell.cell_type == "markdown":
            prose += len(lines)
        elif not HIDDEN & set(cell.metadata.get("tags", [])):
            code += len(lines)
    return prose / (prose + code)


@pytest.mark.parametrize("chapter", sorted(p.name for p in (REPO / "book").glob("0*.py")))
def test_chapters_read_as_prose(chapter):
    assert prose_share(REPO / "book" / chapter) >= 0.6


def hidden_names_in_visible_cells(path) -> set:
    """Names a visible code cell reads that only hidden cells (``remove-input``) define: a reader
    of the page could not tell where they come from."""
    nb = jupytext.read(path, fmt="py:percent")
    visible, hidden, bad = set(), set(), set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                defined.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)
        is_hidden = "remove-input" in cell.metadata.get("tags", [])
        if not is_hidden:
            read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            bad |= (read & hidden) - visible - defined
        (hidden if is_hidden else visible).update(defined)
    return bad


@pytest.mark.parametrize("chapter", sorted(p.name for p in (REPO / "book").glob("0*.py")))
def test_a_visible_cell_uses_only_names_the_page_shows(chapter):
    assert hidden_names_in_visible_cells(REPO / "book" / chapter) == set()


def test_the_name_check_finds_a_name_from_a_hidden_cell(tmp_path):
    page = tmp_path / "page.py"
    page.write_text('# %% tags=["remove-input"]\nx = 1\n\n# %%\nprint(x + 1)\n')
    assert hidden_names_in_visible_cells(page) == {"x"}


@pytest.mark.parametrize("notebook", sorted(CONSTRAINTS))
def test_each_constrained_parameter_is_one_its_notebook_has(notebook):
    """One parameter schema per chapter: its constraints name only the parameters its parameters
    cell defines (a parameter dropped from the notebook leaves no constraint behind)."""
    from rarescale.book.parameters import notebook_defaults

    path = REPO / ("runners" if notebook == "olmo_pretrain" else "book") / f"{notebook}.py"
    assert set(CONSTRAINTS[notebook]) <= set(notebook_defaults(path)), notebook


def test_the_training_loop_reads_top_to_bottom():
    """The loop of a pretraining run is one function of at most 70 lines with no function defined
    inside it; the measures and checkpoints it calls are callbacks and named functions."""
    tree = ast.parse((REPO / "rarescale" / "pretrain" / "train.py").read_text())
    (loop,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "loop"]
    assert loop.end_lineno - loop.lineno + 1 <= 70
    for name in ("loop", "train", "finish"):
        (fn,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
        inner = [n for n in ast.walk(fn) if isinstance(n, (ast.FunctionDef, ast.Lambda)) and n is not fn]
        assert not inner, (name, [getattr(n, "name", "lambda") for n in inner])
