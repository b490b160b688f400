"""Every bad input is one line naming the field, exit code 2, no traceback, nothing written.

The three input formats a reader writes: papermill parameters (``runners.execute -p``), a
sweep's YAML (``runners.sweep``) and an advisor mixture (``rarescale.advisor``). Bad values
are generated per field from its default's type; each named defect of the issue that found
them has its own case too.
"""

import hashlib
import subprocess

import numpy as np
import pytest
import yaml

from conftest import PYTHON, REPO
from rarescale import advisor
from rarescale.advisor import cli as advisor_cli
from runners import execute, sweep

BAD_BY_TYPE = {
    int: ["abc", 2.9, [1], True, {"x": 1}, None, "48"],
    float: ["abc", [0.5], True, {"x": 1}, None, float("nan"), float("inf")],
    str: [5, [], True, None, {"x": 1}],
    bool: ["false", 0, 1, "yes", None],
    list: ["48", 7, [], {"x": 1}, True, [None], [[1, 2], [3]], ["abc"]],
    dict: ["abc", [1], 5, None],
}
NOTEBOOKS = sorted(REPO.glob("book/0*.py")) + [REPO / "runners" / "olmo_pretrain.py"]
OPTIONAL = {"compile_model": bool}
"""Parameters whose default is None (null: the library chooses), with the type they take else."""


def _bad_parameters():
    cases = []
    for path in NOTEBOOKS:
        defaults = execute.parameter_defaults(execute.read_notebook(path))
        for name, default in defaults.items():
            kind = OPTIONAL.get(name) or next(t for t in (bool, int, float, str, list, dict)
                                              if isinstance(default, t))
            for value in BAD_BY_TYPE[kind]:
                if name in OPTIONAL and value is None:
                    continue
                if kind is str and name in ("work_dir", "artifact_root") and value == []:
                    continue
                cases.append((path.relative_to(REPO), name, value))
    return cases


BAD_PARAMETERS = _bad_parameters() + [
    # the cases that once crashed, or trained on garbage, or failed late
    (path, name, value) for path, name, value in [
        ("book/02_utility_ranking.py", "widths", "48"),
        ("book/02_utility_ranking.py", "widths", [4, 2.9]),
        ("book/02_utility_ranking.py", "widths", []),
        ("book/03_interference.py", "rare_task", 10),
        ("book/03_interference.py", "deltas", []),
        ("book/01_phenomenology.py", "eps_values", []),
        ("book/00_how_to_use.py", "samples", float("nan")),
        ("book/05_sizing_and_mixtures.py", "small_width", 13),
        ("book/00_how_to_use.py", "widths", [4, 128]),
        ("book/04_olmo_validation.py", "sweep_file", "runners/configs/none.yaml"),
        ("book/04_olmo_validation.py", "capacity_file", "runners/configs/none.yaml"),
        ("runners/olmo_pretrain.py", "config", {"size": "250K", "tokens": 2.5}),
        ("runners/olmo_pretrain.py", "config", {"corpus": "data/x.bin"}),
        ("runners/olmo_pretrain.py", "config", {"tasks": [{"spec": {"kind": "cmp"}, "rate": 0.5}]}),
    ]
]


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(".lock"):
            h.update(str(p).encode())
            h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def committed_artifacts():
    before = _tree_digest(REPO / "artifacts")
    yield
    assert _tree_digest(REPO / "artifacts") == before, "a bad input wrote to artifacts/"


def _one_line_error(code, err, field):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert field in lines[0], lines[0]


def _yaml(value):
    return yaml.safe_dump(value, default_flow_style=True, width=10 ** 9).strip().removesuffix("\n...")


@pytest.mark.parametrize("path, name, value", BAD_PARAMETERS,
                         ids=[f"{p.stem if hasattr(p, 'stem') else p}:{n}={v!r}"[:80]
                              for p, n, v in BAD_PARAMETERS])
def test_a_bad_parameter_is_one_line_naming_it(path, name, value, tmp_path, capsys, monkeypatch,
                                               committed_artifacts):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    code = execute.main([str(REPO / path), "-p", name, _yaml(value), "-o", str(tmp_path / "out")])
    _one_line_error(code, capsys.readouterr().err, name)
    assert not (tmp_path / "out").exists() and not (tmp_path / "artifacts").exists()


TINY = {
    "name": "tiny", "sizes": ["30K"], "seeds": [0], "frequencies": [1 / 64],
    "tasks": [{"kind": "cmp", "n_values": 8, "n_instances": 64}],
    "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 2048},
}
BAD_SWEEPS = [
    ({"sizes": "30K"}, "sizes"), ({"sizes": []}, "sizes"), ({"sizes": [7]}, "sizes"),
    ({"sizes": ["7M"]}, "size"), ({"sizes": {"x": 1}}, "sizes"),
    ({"tasks": "cmp"}, "tasks"), ({"tasks": []}, "tasks"), ({"tasks": [5]}, "tasks"),
    ({"tasks": [{"kind": "mul"}]}, "kind"), ({"tasks": [{"kind": "cmp", "n_values": "x"}]}, "n_values"),
    ({"tasks": [{"kind": "cmp", "n_values": 2.5}]}, "n_values"),
    ({"tasks": [{"kind": "cmp", "modulus": 2}]}, "modulus"),
    ({"frequencies": 0.01}, "frequencies"), ({"frequencies": []}, "frequencies"),
    ({"frequencies": ["a"]}, "frequencies"), ({"frequencies": [0.5]}, "frequencies"),
    ({"frequencies": [-1e-3]}, "frequencies"), ({"frequencies": [True]}, "frequencies"),
    ({"seeds": 0}, "seeds"), ({"seeds": []}, "seeds"), ({"seeds": [-1]}, "seeds"),
    ({"seeds": [1.5]}, "seeds"), ({"seeds": ["a"]}, "seeds"),
    ({"pack": "false"}, "pack"), ({"pack": 0}, "pack"), ({"pack": None}, "pack"), ({"pack": [True]}, "pack"),
    ({"run": [1, 2]}, "run"), ({"run": "x"}, "run"), ({"run": {"tokenz": 5}}, "tokenz"),
    ({"run": {"seq_len": 2}}, "seq_len"), ({"run": {"seq_len": "64"}}, "seq_len"),
    ({"run": {"batch": 2.5}}, "batch"), ({"run": {"corpus": "x.bin"}}, "corpus"),
    ({"run": {"vocab_size": 10}}, "vocab_size"),
    ({"run": {"device": "tpu"}}, "device"), ({"run": {"eval_points": True}}, "eval_points"),
    ({"run": {"seed": 1}}, "seed"), ({"run": {"lr": "fast"}}, "lr"), ({"name": 5}, "name"),
    ({"name": ""}, "name"), ({"colour": "red"}, "colour"), ({"tokens_per_param": -1}, "tokens_per_param"),
]


@pytest.mark.parametrize("change, field", BAD_SWEEPS, ids=[repr(c)[:60] for c, _ in BAD_SWEEPS])
def test_a_bad_sweep_yaml_is_one_line_naming_the_field(change, field, tmp_path, capsys, monkeypatch,
                                                       committed_artifacts):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    path = tmp_path / "tiny.yaml"
    if isinstance(change.get("run"), dict):  # one field of run changed, the others kept
        change = {"run": {**TINY["run"], **change["run"]}}
    path.write_text(yaml.safe_dump({**TINY, **change}))
    code = sweep.main([str(path), "--dry-run", "--work-dir", str(tmp_path / "runs")])
    _one_line_error(code, capsys.readouterr().err, field)
    assert not (tmp_path / "artifacts").exists()


@pytest.mark.parametrize("text, field", [("- a list\n", "mapping"), ("sizes: [30K\n", "YAML")])
def test_a_sweep_file_that_is_not_a_mapping(text, field, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    _one_line_error(sweep.main([str(path), "--dry-run"]), capsys.readouterr().err, field)


def test_a_missing_corpus_is_a_failed_check_after_the_plan(tmp_path, capsys, monkeypatch):
    """Not bad input: the data is not here yet. The dry run prints the plan, names the file as a
    failed check and exits 1; a real run refuses to start (exit 2); neither writes anything."""
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "run": {**TINY["run"], "corpus": ["/no/such/file.bin"]}}))
    code = sweep.main([str(path), "--dry-run", "--work-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 1 and "cells, 0 done" in out
    assert "check failed: corpus: RunConfig.corpus: token file not found: /no/such/file.bin" in out
    _one_line_error(sweep.main([str(path), "--work-dir", str(tmp_path / "runs")]),
                    capsys.readouterr().err, "/no/such/file.bin")
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "runs").exists()


def test_a_dry_run_finds_a_corpus_of_the_wrong_width(tmp_path, capsys, monkeypatch):
    import numpy as np

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    wide = tmp_path / "wide.bin"
    np.random.default_rng(0).integers(1, 200, 50_000).astype(np.uint32).tofile(wide)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "run": {**TINY["run"], "corpus": [str(wide)]}}))
    _one_line_error(sweep.main([str(path), "--dry-run"]), capsys.readouterr().err, "uint32")


MIXTURE = {"tasks": [{"name": "code", "frequency": 0.7, "features": 6, "decay": 0.8},
                     {"name": "legal", "frequency": 0.3, "spectrum": [1.0, 0.4]}]}


def _task(i, **change):
    tasks = [dict(t) for t in MIXTURE["tasks"]]
    tasks[i] = {k: v for k, v in {**tasks[i], **change}.items() if v is not ...}
    return {**MIXTURE, "tasks": tasks}


BAD_MIXTURES = [
    (_task(1, spectrum=[1, "abc"]), "spectrum"), (_task(1, spectrum={"x": 1}), "spectrum"),
    (_task(1, spectrum=[[1, 2], [3]]), "spectrum"), (_task(1, spectrum=[]), "spectrum"),
    (_task(1, spectrum=[-1.0]), "spectrum"), (_task(1, spectrum=[0]), "spectrum"),
    (_task(1, spectrum="no_such.npy"), "spectrum"), (_task(1, spectrum=True), "spectrum"),
    (_task(0, features=2_000_000_000), "features"), (_task(0, features=2.5), "features"),
    (_task(0, features="x"), "features"), (_task(0, features=...), "features"),
    (_task(0, decay="x"), "decay"), (_task(0, decay=-1), "decay"), (_task(0, decay=None), "decay"),
    (_task(0, frequency="x"), "frequency"), (_task(0, frequency=2), "frequency"),
    (_task(0, frequency=True), "frequency"), (_task(0, frequency=...), "frequency"),
    (_task(1, name="code"), "name"), (_task(0, colour=1), "colour"),
    (_task(0, frequency=0.5), "frequency"),
    ({**MIXTURE, "tasks": "code"}, "tasks"), ({**MIXTURE, "tasks": []}, "tasks"),
    ({**MIXTURE, "tasks": [5]}, "tasks[0]"), ({**MIXTURE, "d": 2.5}, "d"), ({**MIXTURE, "d": 3}, "d"),
    ({**MIXTURE, "d": 10 ** 6}, "d"), ({**MIXTURE, "width": 0}, "width"), ({**MIXTURE, "width": "x"}, "width"),
    ({**MIXTURE, "width": 4, "rare_task": "tax"}, "rare_task"), ({**MIXTURE, "rare_task": "legal"}, "rare_task"),
    ({**MIXTURE, "learned_threshold": 2}, "learned_threshold"), ({**MIXTURE, "common_mass": "x"}, "common_mass"),
    ({**MIXTURE, "eps_fraction": [0.1]}, "eps_fraction"), ({**MIXTURE, "colour": 1}, "colour"),
    (["a", "list"], "mapping"),
]


@pytest.mark.parametrize("data, field", BAD_MIXTURES, ids=[repr(d)[-60:] for d, _ in BAD_MIXTURES])
def test_a_bad_mixture_is_one_line_naming_the_field(data, field, tmp_path, capsys):
    path = tmp_path / "mixture.yaml"
    path.write_text(yaml.safe_dump(data))
    _one_line_error(advisor_cli.main([str(path), "--json", str(tmp_path / "a.json")]),
                    capsys.readouterr().err, field)
    assert not (tmp_path / "a.json").exists()


def test_enough_generated_bad_inputs():
    assert len(BAD_PARAMETERS) + len(BAD_SWEEPS) + len(BAD_MIXTURES) >= 200


def test_unwritable_outputs_are_refused_before_any_compute(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    mixture = tmp_path / "mixture.yaml"
    mixture.write_text(yaml.safe_dump(MIXTURE))
    _one_line_error(advisor_cli.main([str(mixture), "--json", str(blocker / "advice.json")]),
                    capsys.readouterr().err, "--json")
    _one_line_error(execute.main([str(REPO / "book/00_how_to_use.py"), "-o", str(blocker / "out")]),
                    capsys.readouterr().err, "-o")
    grid = tmp_path / "tiny.yaml"
    grid.write_text(yaml.safe_dump(TINY))
    _one_line_error(sweep.main([str(grid), "--work-dir", str(blocker / "runs")]),
                    capsys.readouterr().err, "--work-dir")


def test_the_command_line_says_it_the_same_way(tmp_path, subprocess_env):
    """The in-process checks above are what the commands print: one line, exit code 2."""
    out = subprocess.run([PYTHON, "-m", "runners.execute", "book/02_utility_ranking.py", "-p", "widths",
                          '"48"', "-o", str(tmp_path / "out")], cwd=REPO, env=subprocess_env,
                         capture_output=True, text=True, timeout=120)
    _one_line_error(out.returncode, out.stderr, "widths")


def _bad_run_fields():
    """Every RunConfig field a sweep's ``run:`` block may set, with values generated from its
    default's type (and the Nones of fields that must be set), each out of type or range."""
    import dataclasses as dc

    from rarescale.pretrain.config import OPTIONAL as RUN_OPTIONAL
    from rarescale.pretrain.config import RunConfig

    by_type = {int: ["abc", 2.5, [1], {"x": 1}, -5, 10 ** 30, True],
               float: ["abc", [0.5], {"x": 1}, float("nan"), float("inf"), -1.0, True],
               str: [5, [], {"x": 1}, True, "no-such-option"],
               bool: ["yes", 2, [True], None]}
    cases = []
    for f in dc.fields(RunConfig):
        if f.name in ("size", "tasks", "seed", "corpus"):
            continue  # set by the grid, or a path (its own cases above)
        default = f.default
        kind = (int if f.name in ("batch", "micro_batch") else float) if f.name in RUN_OPTIONAL \
            else type(default)
        for value in by_type.get(kind, []):
            if kind is str and f.name == "device" and value == "no-such-option":
                value = "tpu:0"
            if kind is int and f.name == "eos" and value == 10 ** 30:
                continue  # checked against vocab_size: the same as -5's case
            cases.append(({"run": {f.name: value}}, f.name))
    return cases


ISSUE_31_SWEEPS = [
    ({"seeds": [0, 0]}, "seeds"), ({"sizes": ["30K", "30K"]}, "sizes"),
    ({"frequencies": [1 / 64, 1 / 64]}, "frequencies"), ({"name": "../../escaped"}, "name"),
    ({"name": "/tmp/x"}, "name"), ({"name": "a\nb"}, "name"), ({"name": "rtl\u202ename"}, "name"),
    ({"name": ".hidden"}, "name"), ({"name": "x" * 65}, "name"), ({"task_seeds": "own"}, "task_seeds"),
    ({"run": {"micro_batch": 3}}, "micro_batch"), ({"run": {"seed": 1}}, "seed"),
]
GENERATED_SWEEPS = _bad_run_fields() + ISSUE_31_SWEEPS


@pytest.mark.parametrize("change, field", GENERATED_SWEEPS, ids=[repr(c)[:60] for c, _ in GENERATED_SWEEPS])
def test_a_generated_bad_run_field_is_one_line_and_writes_nothing(change, field, tmp_path, capsys,
                                                                  monkeypatch, committed_artifacts):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    path = tmp_path / "tiny.yaml"
    if isinstance(change.get("run"), dict):
        change = {"run": {**TINY["run"], **change["run"]}}
    path.write_text(yaml.safe_dump({**TINY, **change}, allow_unicode=True))
    for dry in (["--dry-run"], []):  # the dry run refuses it, and so does the run
        code = sweep.main([str(path), *dry, "--work-dir", str(tmp_path / "runs")])
        _one_line_error(code, capsys.readouterr().err, field)
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "runs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


CORPORA = {
    "negative int32 ids": lambda p: np.save(p, -np.arange(1, 5000, dtype=np.int32)),
    "floats": lambda p: np.save(p, np.random.default_rng(0).random(5000)),
    "a 2-D array": lambda p: np.save(p, np.zeros((100, 50), np.uint16)),
    "an empty file": lambda p: p.write_bytes(b""),
    "an odd byte count": lambda p: p.write_bytes(b"\x01\x02\x03"),
    "ids beyond the vocabulary": lambda p: (np.arange(5000, dtype=np.uint16) + 60000).tofile(p),
    "a truncated .npy header": lambda p: p.write_bytes(b"\x93NUMPY\x01\x00"),
    "a folder": lambda p: p.mkdir(),
}


@pytest.mark.parametrize("what", sorted(CORPORA))
def test_a_degenerate_corpus_is_refused_by_the_dry_run_in_one_line(what, tmp_path, capsys, monkeypatch):
    import numpy as np  # noqa: F401  (the makers use it)

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    corpus = tmp_path / ("corpus.npy" if "npy" in what or "array" in what or "floats" in what
                         or "int32" in what else "corpus.bin")
    CORPORA[what](corpus)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "run": {**TINY["run"], "corpus": [str(corpus)], "holdout": 4}}))
    code = sweep.main([str(path), "--dry-run", "--work-dir", str(tmp_path / "runs")])
    out = capsys.readouterr()
    failed = [line for line in out.out.splitlines() if line.startswith("check failed")]
    if code == 1:  # a file that is not there (a folder) is a failed check after the plan
        assert len(failed) == 1 and "corpus" in failed[0], out.out
    else:
        _one_line_error(code, out.err, "corpus")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "artifacts").exists()


# --------------------------------------------------------------------------- broken files
# Issue 31, item 5, generated: each reader (a sweep's YAML, an advisor mixture, a papermill
# parameter) given files a careful user's editor or shell can produce: other encodings, binary
# bytes, nesting a parser cannot follow, NUL characters. Each is one line, exit 2, nothing written.

def _texts():
    sweep_text = yaml.safe_dump(TINY, sort_keys=False)
    mixture_text = yaml.safe_dump(MIXTURE, sort_keys=False)
    return {"sweep": sweep_text, "mixture": mixture_text}


def _encoded(text):
    """(label, bytes, what the one line says) for one valid text in broken encodings."""
    rng = np.random.default_rng(0)
    import gzip

    cases = [("utf-16 with BOM", text.encode("utf-16"), "UTF-16"),
             ("utf-32 with BOM", text.encode("utf-32"), "UTF-16 or UTF-32"),
             ("utf-16-be with BOM", b"\xfe\xff" + text.encode("utf-16-be"), "UTF-16"),
             ("utf-16-le, no BOM", text.encode("utf-16-le"), "NUL"),
             ("utf-16-be, no BOM", text.encode("utf-16-be"), "NUL"),
             ("utf-32-le, no BOM", text.encode("utf-32-le"), "NUL"),
             ("latin-1 comment", ("# café\n" + text).encode("latin-1"), "UTF-8"),
             ("cp1252 quotes", ("# \u201cquoted\u201d\n" + text).encode("cp1252"), "UTF-8"),
             ("truncated multibyte", text.encode() + b"# \xe2\x82", "UTF-8"),
             ("overlong slash", text.encode() + b"# \xc0\xaf\n", "UTF-8"),
             ("lone surrogate", text.encode() + "# \ud800\n".encode("utf-8", "surrogatepass"), "UTF-8"),
             ("gzip of it", gzip.compress(text.encode(), mtime=0), "UTF-8"),
             ("raw NUL in a comment", text.encode() + b"# \x00\n", "NUL")]
    for seed in range(5):
        noise = np.random.default_rng(seed).integers(128, 256, 300, dtype=np.uint8).tobytes()
        cases.append((f"binary noise {seed}", noise, "UTF-8"))
    cases.append(("binary with NULs", rng.integers(0, 256, 300, dtype=np.uint8).tobytes().replace(b"\xff", b"\x00"),
                  "UTF-8|NUL"))
    return cases


def _deep(text_kind):
    out = [(f"a list {n} deep", ("[" * n + "]" * n + "\n").encode(), "nests deeper") for n in (33, 100, 1000, 5000, 20000)]
    out += [(f"a mapping {n} deep", ("{a: " * n + "1" + "}" * n + "\n").encode(), "nests deeper") for n in (33, 1000, 5000)]
    inner = "[" * 40 + "1" + "]" * 40
    field = {"sweep": f"name: tiny\nsizes: [30K]\nfrequencies: [0.01]\ntasks: {inner}\n",
             "mixture": f"tasks:\n  - {{name: code, frequency: 1.0, spectrum: {inner}}}\n"}[text_kind]
    out.append(("a field 41 deep", field.encode(), "nests deeper"))
    return out


def _nul(text_kind):
    if text_kind == "sweep":
        docs = ['name: "ti\\0ny"\nsizes: [30K]\n', 'name: tiny\nsizes: ["30\\0K"]\n',
                'name: tiny\nrun: {corpus: ["data/x\\0.bin"]}\n', '"na\\0me": tiny\n',
                'name: tiny\ntasks: [{kind: "c\\0mp"}]\n']
    else:
        docs = ['tasks: [{name: "co\\0de", frequency: 1.0, features: 3, decay: 0.5}]\n',
                'tasks: [{"na\\0me": code}]\n', 'rare_task: "le\\0gal"\ntasks: []\n',
                'tasks: [{name: code, frequency: 1.0, spectrum: "x\\0.npy"}]\n', '"\\0": 1\n']
    return [(f"escaped NUL {i}", d.encode(), "NUL") for i, d in enumerate(docs)]


BROKEN_FILES = [(kind, label, data, says) for kind, text in _texts().items()
                for label, data, says in _encoded(text) + _deep(kind) + _nul(kind)]


@pytest.mark.parametrize("kind, label, data, says", BROKEN_FILES,
                         ids=[f"{k}: {label}" for k, label, *_ in BROKEN_FILES])
def test_a_broken_file_is_one_line_and_writes_nothing(kind, label, data, says, tmp_path, capsys,
                                                      monkeypatch, committed_artifacts):
    import re

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(data)
    if kind == "sweep":
        code = sweep.main([str(path), "--dry-run", "--work-dir", str(tmp_path / "runs")])
    else:
        code = advisor_cli.main([str(path), "--json", str(tmp_path / "a.json"), "--plot", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[:500]
    assert re.search(says, lines[0]), lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


PARAMETER_DEPTHS = [(path.relative_to(REPO), name, n) for path in NOTEBOOKS
                    for name in list(execute.parameter_defaults(execute.read_notebook(path)))[:1]
                    for n in (33, 1000, 5000)]


@pytest.mark.parametrize("path, name, n", PARAMETER_DEPTHS, ids=[f"{p.stem}:{m}:{n}" for p, m, n in PARAMETER_DEPTHS])
def test_a_parameter_nested_too_deep_is_one_line_and_writes_nothing(path, name, n, tmp_path, capsys):
    code = execute.main([str(REPO / path), "-p", name, "[" * n + "]" * n, "-o", str(tmp_path / "out")])
    _one_line_error(code, capsys.readouterr().err, "nests deeper")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs, filled: every write there fails with ENOSPC (skipped where tmpfs cannot
    be mounted)."""
    import os

    disk = tmp_path / "full"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with open(disk / "filler", "wb") as f:
            try:
                f.write(b"\0" * 128 * 1024)
            except OSError:
                pass
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
        os.sync()


FULL_DISK_OUTPUTS = ["--json", "--plot", "-o"]


@pytest.mark.parametrize("option", FULL_DISK_OUTPUTS)
def test_an_output_on_a_full_disk_is_one_line_and_leaves_nothing(option, full_disk, tmp_path, capsys):
    mixture = tmp_path / "mixture.yaml"
    mixture.write_text(yaml.safe_dump(MIXTURE))
    if option == "-o":
        code = execute.main([str(REPO / "book/00_how_to_use.py"), "-o", str(full_disk / "out")])
        what = "KiB free"
    else:
        name = "a.json" if option == "--json" else "a.png"
        code = advisor_cli.main([str(mixture), option, str(full_disk / name)])
        what = option
    err = capsys.readouterr().err
    _one_line_error(code, err, what)
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


SPECIALS = [".inf", "-.inf", ".nan", "1.0e+400", "-1.0e+400", "0x7fffffffffffffffffffffff", "1e-400"]
SPECIAL_FIELDS = [("frequencies", "[{v}]", "frequencies"), ("seeds", "[{v}]", "seeds"),
                  ("tasks", "[{{kind: cmp, n_values: {v}, n_instances: 64}}]", "n_values"),
                  ("tasks", "[{{kind: cmp, n_values: 8, n_instances: {v}}}]", "n_instances"),
                  ("tasks", "[{{kind: cmp, n_values: 8, n_instances: 64, seed: {v}}}]", "TaskSpec.seed"),
                  ("run", "{{vocab_size: 256, seq_len: 16, batch: 8, tokens: {v}}}", "tokens"),
                  ("run", "{{vocab_size: 256, seq_len: {v}, batch: 8, tokens: 2048}}", "seq_len"),
                  ("run", "{{vocab_size: 256, seq_len: 16, batch: 8, tokens: 2048, lr: {v}}}", "lr")]
SPECIAL_SWEEPS = [(key, form.format(v=v), field) for key, form, field in SPECIAL_FIELDS for v in SPECIALS]


@pytest.mark.parametrize("key, value, field", SPECIAL_SWEEPS, ids=[f"{f}={v}" for _, v, f in SPECIAL_SWEEPS])
def test_a_yaml_special_number_is_one_line_naming_the_field(key, value, field, tmp_path, capsys,
                                                            monkeypatch, committed_artifacts):
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    lines = [f"{k}: {yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
             for k, v in TINY.items() if k != key] + [f"{key}: {value}"]
    path = tmp_path / "tiny.yaml"
    path.write_text("\n".join(lines) + "\n")
    code = sweep.main([str(path), "--dry-run", "--work-dir", str(tmp_path / "runs")])
    _one_line_error(code, capsys.readouterr().err, field)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]


def test_the_broken_input_suites_hold_at_least_300_generated_cases_beyond_the_first_200():
    assert len(GENERATED_SWEEPS) + len(CORPORA) + len(BROKEN_FILES) + len(PARAMETER_DEPTHS) \
        + len(FULL_DISK_OUTPUTS) + len(SPECIAL_SWEEPS) >= 300
