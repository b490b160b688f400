"""The package's shape: no import circle, a task kind in one class, chapters that read as prose."""

import jupytext
import numpy as np
import pytest
import yaml

from conftest import REPO
from rarescale.artifacts import PACKAGE_DIR, _imports, _module_file

HIDDEN = {"remove-input", "remove-cell", "hide-input"}


def import_graph() -> dict:
    """Module -> the rarescale modules it imports anywhere in its code (lazy imports too)."""
    graph = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        name = ".".join(("rarescale",) + path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        graph[name] = {m for m in _imports(path, PACKAGE_DIR)
                       if _module_file(m, PACKAGE_DIR) and m != name
                       and _module_file(m, PACKAGE_DIR).name != "__init__.py"}
    return graph


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


def test_no_import_circle_in_the_package():
    graph = import_graph()
    assert "rarescale.olmo.step" in graph["rarescale.olmo.measures"]  # the walk sees imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_walk_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_a_task_kind_added_in_one_class_runs_from_a_sweep_yaml(tmp_path, monkeypatch):
    """Registering one class makes ``kind: first_parity`` usable by a sweep; a 20-step cell trains."""
    from rarescale.olmo import grid, tasks
    from rarescale.olmo.train import train

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
