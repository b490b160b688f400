"""What keys a cached result, and what does not (C16-C20 runs, chapters 1-3 and 5's sweeps).

A drawing is never in the code digest of the numbers it draws, and a config field added with a
default keeps every committed key: neither kind of edit may retrain anything.
"""

import dataclasses
import json
import shutil

import pytest

from conftest import REPO
from rarescale.book.inventory import MADE_BY
from rarescale.sweeps import grid
from rarescale.pretrain.config import InjectedTask, RunConfig
from rarescale.pretrain.tasks import TaskSpec
from rarescale.store.artifacts import code_digest, code_files, config_key

DRAWING = ("book/plots.py", "book/chapter4.py", "advisor/cli.py")
"""The package's figure code (paths under ``rarescale/``)."""
CACHED = sorted(set(MADE_BY.values()))
"""The modules whose code digest keys a cached sweep."""


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory):
    copy = tmp_path_factory.mktemp("pkg") / "rarescale"
    shutil.copytree(REPO / "rarescale", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _edit(path, function):
    """Change the body of ``function`` in the file ``path``: a new first statement."""
    text = path.read_text()
    head = f"def {function}("
    start = text.index(head)
    colon = text.index(":\n", start) + 2
    path.write_text(text[:colon] + "    _edited = True\n" + text[colon:])


@pytest.mark.parametrize("module", CACHED)
def test_no_figure_code_is_in_a_cached_sweeps_digest(module):
    files = {str(p.relative_to(REPO / "rarescale")) for p in code_files(module)}
    assert files and not files & set(DRAWING), sorted(files & set(DRAWING))


@pytest.mark.parametrize("drawing, function", [("book/plots.py", "fig_resampling"),
                                               ("book/chapter4.py", "fig_olmo_run"),
                                               ("advisor/cli.py", "draw_features_kept")])
def test_editing_a_plotting_function_changes_no_key(package_copy, drawing, function):
    before = {m: code_digest(m, package_dir=package_copy) for m in CACHED}
    _edit(package_copy / drawing, function)
    code_files.cache_clear()
    assert {m: code_digest(m, package_dir=package_copy) for m in CACHED} == before


def test_editing_the_code_of_a_sweep_changes_its_key(package_copy):
    """The check above can fail: the same edit to the student's loop re-keys chapter 2's sweep."""
    module = MADE_BY["c8_width_sweep"]
    before = code_digest(module, package_dir=package_copy)
    _edit(package_copy / "linear" / "student.py", "train_students")
    code_files.cache_clear()
    assert code_digest(module, package_dir=package_copy) != before


def committed_runs():
    """(folder key, config as the manifest holds it) for every committed pretraining run."""
    out = []
    for manifest in sorted((REPO / "artifacts" / grid.KIND).glob("*/manifest.json")):
        config = json.loads(manifest.read_text())["config"]
        out.append((manifest.parent.name, config))
    return out


def _run_config(saved: dict, spec_class=TaskSpec) -> RunConfig:
    d = {k: v for k, v in saved.items() if k != "measures"}
    d["tasks"] = [InjectedTask(spec_class(**t["spec"]), t["rate"]) for t in d["tasks"]]
    return RunConfig.from_dict(d)


def test_every_committed_run_is_found_by_its_config():
    runs = committed_runs()
    assert len(runs) >= 20
    for key, saved in runs:
        assert config_key(grid.KIND, {**_run_config(saved).to_dict(),
                                                    "measures": saved["measures"]}) == key


@dataclasses.dataclass(frozen=True)
class TaskSpecWithAField(TaskSpec):
    """:class:`TaskSpec` as it would be with one more field, defaulted."""

    answer_tokens: int = 1


def test_a_field_added_to_taskspec_with_a_default_keeps_every_committed_key():
    for key, saved in committed_runs():
        config = _run_config(saved, TaskSpecWithAField)
        assert config_key(grid.KIND, {**config.to_dict(),
                                                    "measures": saved["measures"]}) == key
        # and the field keys the run once it is set
        changed = dataclasses.replace(config, tasks=tuple(
            InjectedTask(dataclasses.replace(t.spec, answer_tokens=2), t.rate) for t in config.tasks))
        assert config_key(grid.KIND, {**changed.to_dict(),
                                                    "measures": saved["measures"]}) != key


def test_a_field_added_to_runconfig_with_a_default_keeps_the_key():
    @dataclasses.dataclass(frozen=True)
    class RunConfigWithAField(RunConfig):
        label_smoothing: float = 0.0

    key, saved = committed_runs()[0]
    base = _run_config(saved)
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(RunConfig)}
    assert RunConfigWithAField(**fields).to_dict() == base.to_dict()
    assert "label_smoothing" in RunConfigWithAField(**fields, label_smoothing=0.1).to_dict()


@pytest.mark.parametrize("module", CACHED)
def test_no_pretraining_code_is_in_a_light_sweeps_digest(module):
    """Chapters 1-3 and 5 compute nothing with rarescale.pretrain or rarescale.sweeps: an edit to
    chapter 4's code (its grid, its analysis) must not recompute them."""
    files = {str(p.relative_to(REPO / "rarescale")) for p in code_files(module)}
    heavy = sorted(f for f in files if f.startswith(("pretrain/", "sweeps/")))
    assert not heavy, heavy


def test_a_float_keys_to_twelve_significant_digits():
    """Two CPUs that round a computed value's last bit differently (AVX2 and AVX-512 in
    np.power) give it one key; a value that differs within its first 12 digits another."""
    assert config_key("demo", {"x": 0.10174595237052728}) == config_key("demo", {"x": 0.10174595237052729})
    assert config_key("demo", {"x": [1 / 3, {"y": 2 / 3}]}) == config_key("demo", {"x": [0.333333333333333, {"y": 0.6666666666666667}]})
    assert config_key("demo", {"x": 0.1017459523}) != config_key("demo", {"x": 0.1017459524})
    assert config_key("demo", {"x": 1e-300}) != config_key("demo", {"x": 2e-300})
