"""Sweeps of pretraining runs through papermill (C17-C20): plan, cache, resume, bad YAML."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from conftest import REPO
from rarescale.sweeps import grid, trends
from rarescale.validation import ConfigError
from rarescale.pretrain.config import RunConfig
from rarescale.validation import ConfigError

TINY = {
    "name": "tiny",
    "sizes": ["30K", "100K"],
    "seeds": [0],
    "frequencies": [1 / 32, 1 / 256],
    "tasks": [{"kind": "cmp", "n_values": 8, "n_instances": 64}],
    "run": {"vocab_size": 256, "seq_len": 16, "batch": 8, "tokens": 16 * 8 * 200,
            "corpus_tokens": 100_000, "holdout": 16, "eval_points": 4, "eval_instances": 16,
            "forgetting_steps": 2, "checkpoint_every": 20},
}


def write(tmp_path, d, name="tiny.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(d))
    return path


def sweep_cmd(path, *extra):
    return [sys.executable, "-m", "runners.sweep", str(path), "--threads", "1", *extra]


@pytest.fixture
def env(tmp_path, subprocess_env):
    return {**subprocess_env, "RARESCALE_DATA": str(tmp_path / "data")}


def test_cells_of_a_grid():
    sweep = grid.Sweep.from_dict(TINY)
    cells = sweep.cells()
    assert [c.size for c in cells] == ["30K", "100K"]
    assert [t.rate for t in cells[0].tasks] == [1 / 32, 1 / 256]
    seeds = {t.spec.seed for t in cells[0].tasks}
    assert len(seeds) == 2  # independent copies, on their own tokens
    unpacked = grid.Sweep.from_dict({**TINY, "pack": False}).cells()
    assert len(unpacked) == 4 and all(len(c.tasks) == 1 for c in unpacked)
    # the runner notebook's one parameter, as the sweep writes it (YAML), rebuilds each cell
    # exactly (same hash)
    for c in cells + unpacked:
        text = yaml.safe_dump(c.to_dict(), default_flow_style=True, width=10 ** 9)
        assert RunConfig.from_dict(yaml.safe_load(text)) == c


@pytest.mark.parametrize("change, message", [
    ({"sizez": ["30K"]}, r"tiny\.yaml: unknown key 'sizez'"),
    ({"sizes": ["7M"]}, r"size must be one of .*Got '7M'"),
    ({"frequencies": [0.5]}, r"sweep\.frequencies must be a non-empty list, each item a float in the range \(0, 0\.25\]"),
    ({"run": {"tokenz": 5}}, r"run: unknown field 'tokenz'"),
    ({"tasks": [{"kind": "mul"}]}, r"TaskSpec\.kind must be one of 'add', 'cmp'"),
    ({"tasks": [{"kind": "cmp", "colour": 1}]}, r"tasks\[0\]: unknown field 'colour'"),
    ({"run": {"seq_len": 2}}, r"RunConfig\.seq_len must be an int in the range \[4, inf\)"),
])
def test_bad_sweep_yaml_is_a_one_line_error(tmp_path, env, change, message):
    path = write(tmp_path, {**TINY, **change})
    with pytest.raises(ConfigError, match=message):
        grid.Sweep.from_yaml(path)
    out = subprocess.run(sweep_cmd(path, "--dry-run"), cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_unpacked_cells_map_each_copy_to_its_task_and_frequency():
    sweep = grid.Sweep.from_dict({**TINY, "pack": False, "tasks": TINY["tasks"] * 2})
    seen = [(i, j) for _, copies in sweep.cell_copies() for i, j, _ in copies]
    assert sorted(seen) == sorted([(i, j) for i in range(2) for j in range(2)] * 2)  # two sizes
    packed = grid.Sweep.from_dict(TINY)
    assert [(i, j) for i, j, _ in packed.cell_copies()[0][1]] == [(0, 0), (0, 1)]


def test_c18_threshold_frequency():
    f = [1e-2, 1e-3, 1e-4, 1e-5]
    level = trends.learned_level(0.5, 0.5)  # chance 0.5: learned from 0.75
    assert trends.threshold_frequency(f, [1.0, 0.9, 0.5, 0.5], level) == pytest.approx(
        np.exp(np.log(1e-3) + (0.9 - 0.75) / 0.4 * np.log(0.1)))
    assert trends.threshold_frequency(f, [1.0, 1.0, 1.0, 0.99], level) == 1e-5
    assert np.isnan(trends.threshold_frequency(f, [0.6, 0.5, 0.5, 0.5], level))
    # order of the input does not matter
    assert trends.threshold_frequency(f[::-1], [0.5, 0.5, 0.9, 1.0], level) == pytest.approx(
        trends.threshold_frequency(f, [1.0, 0.9, 0.5, 0.5], level))
    # a baseline above chance (the one-operand shortcut) raises the level
    assert trends.learned_level(0.75, 0.5) == pytest.approx(0.875)
    assert np.isnan(trends.threshold_frequency(f, [0.8, 0.8, 0.5, 0.5], trends.learned_level(0.75, 0.5)))


@pytest.mark.slow
def test_tiny_sweep_end_to_end_cached_and_resumed(tmp_path, env):
    path = write(tmp_path, TINY)
    clean = {**env, "RARESCALE_ARTIFACTS": str(tmp_path / "clean")}
    out = subprocess.run(sweep_cmd(path, "--work-dir", str(tmp_path / "runs_clean")), cwd=REPO,
                         env=clean, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "[2/2]" in out.stdout
    sweep = grid.Sweep.from_yaml(path)
    os.environ["RARESCALE_ARTIFACTS"] = clean["RARESCALE_ARTIFACTS"]
    try:
        runs = grid.load_runs(sweep)  # what the chapter loads
    finally:
        del os.environ["RARESCALE_ARTIFACTS"]
    for run in runs:
        assert (run.path / "run.ipynb").is_file()  # the executed notebook is the run's record
        assert run.result["injected_instances"] == run.result["requested_instances"] == [800, 100]
        assert run.arrays["test_acc_labels"].shape == (len(run.arrays["eval_step"]), 2)
    # the chapter's gathering and figures work on them
    res = trends.ladder_results(sweep, runs)
    assert res.accuracy.shape == (2, 1, 1, 2) and list(res.frequencies) == [1 / 32, 1 / 256]
    np.testing.assert_array_equal(res.injected, res.requested)
    assert np.all((res.accuracy >= 0) & (res.accuracy <= 1))
    import matplotlib.pyplot as plt

    from rarescale.book import chapter4
    fig, axes = plt.subplots(2, 3)
    chapter4.fig_olmo_accuracy(axes[0, 0], res, 0, 0.5)
    chapter4.fig_olmo_label_loss(axes[0, 1], res, 0)
    chapter4.fig_olmo_thresholds(axes[0, 2], res, 0.5)
    chapter4.fig_olmo_probes(axes[1], res, 0, 0)
    fig2, axes2 = plt.subplots(1, 3)
    chapter4.fig_olmo_exposure(axes2[0], res, 0, 0.5)
    chapter4.fig_olmo_interference(axes2[1:], res, 0, 0)
    plt.close(fig)
    plt.close(fig2)
    found = trends.verdicts(res, sweep.analysis)  # two sizes, one seed: every trend computable
    assert len(found) == 3 + 3 + 2 and {v["trend"].verdict for v in found} <= {"supported", "not shown"}
    robust = trends.robustness(res, sweep.analysis)  # and the chapter's specification curve
    assert {label for label, *_ in robust["rows"]} >= {"as registered", "without 30K", "margin 0.3"}

    # a second run executes nothing
    again = subprocess.run(sweep_cmd(path, "--work-dir", str(tmp_path / "runs_clean")), cwd=REPO,
                           env=clean, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "nothing to run" in again.stdout

    # killed mid-cell, then re-run: the same artifacts as the uninterrupted sweep
    killed = {**env, "RARESCALE_ARTIFACTS": str(tmp_path / "killed")}
    work = tmp_path / "runs_killed"
    proc = subprocess.Popen(sweep_cmd(path, "--work-dir", str(work)), cwd=REPO, env=killed,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while not list(work.glob("tiny/*/checkpoint.pt")) and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(work.glob("tiny/*/checkpoint.pt")), "no checkpoint appeared before the kill"
    out = subprocess.run(sweep_cmd(path, "--work-dir", str(work)), cwd=REPO, env=killed,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    os.environ["RARESCALE_ARTIFACTS"] = killed["RARESCALE_ARTIFACTS"]
    try:
        resumed = grid.load_runs(sweep)
    finally:
        del os.environ["RARESCALE_ARTIFACTS"]
    for a, b in zip(runs, resumed):
        assert a.key == b.key
        assert set(a.arrays) == set(b.arrays)
        for name in set(a.arrays) - {"step_seconds"}:  # timings differ from run to run
            np.testing.assert_array_equal(a.arrays[name], b.arrays[name], err_msg=name)
        assert a.result["final"] == b.result["final"]


def test_dry_run_prints_the_plan_with_an_estimate(tmp_path, env):
    path = write(tmp_path, TINY)
    out = subprocess.run(sweep_cmd(path, "--dry-run"), cwd=REPO, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "sweep tiny: 2 cells, 0 done" in out.stdout
    assert "estimated time for the cells to run" in out.stdout
    assert "30K seed 0 [cmp at 0.03, 0.004]" in out.stdout


@pytest.mark.parametrize("change, message", [
    ({"seeds": [0, 0]}, r"sweep\.seeds repeats 0: each cell would train twice"),
    ({"sizes": ["30K", "30K"]}, r"sweep\.sizes repeats '30K'"),
    ({"frequencies": [1 / 32, 1 / 32]}, r"sweep\.frequencies repeats 0\.03125"),
    ({"tasks": [TINY["tasks"][0]] * 2, "pack": False, "task_seeds": "own"}, r"sweep\.tasks repeats TaskSpec"),
    ({"name": "../../escaped"}, r"sweep\.name must be letters, digits"),
    ({"name": "/tmp/x"}, r"sweep\.name must be letters, digits"),
    ({"name": "a\nb"}, r"sweep\.name must be letters, digits"),
    ({"name": "rtl\u202ename"}, r"sweep\.name must be letters, digits"),
    ({"task_seeds": "own"}, r"task_seeds 'own' needs pack: false"),
    ({"task_seeds": "each"}, r"sweep\.task_seeds must be one of"),
])
def test_repeated_cells_unsafe_names_and_bad_task_seeds_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        grid.Sweep.from_dict({**TINY, **change})


def test_own_task_seeds_make_a_task_the_same_at_every_frequency_and_in_every_sweep():
    own = {**TINY, "pack": False, "task_seeds": "own"}
    a = grid.Sweep.from_dict(own).cells()
    b = grid.Sweep.from_dict({**own, "frequencies": [1 / 256], "seeds": [0, 1]}).cells()
    assert len({c.tasks[0].spec for c in a}) == 1  # one task, at both frequencies
    # the cell at 1/256, size and seed 0 is the same run in both sweeps: one key
    same = [c for c in a if c.tasks[0].rate == 1 / 256]
    assert {grid.cell_key(c) for c in same} <= {grid.cell_key(c) for c in b}
    by_copy = grid.Sweep.from_dict({**own, "task_seeds": "by copy"}).cells()
    assert len({c.tasks[0].spec for c in by_copy}) == 2  # the first sweeps' rule: a draw per copy


def _masked(res, task, frequency):
    """``res`` as if ``task`` had not been run at ``frequency`` (the arrays nan, no curves)."""
    import dataclasses

    def nan_at(a):
        a = np.array(a, float)
        a[:, :, task, frequency] = np.nan
        return a

    probe = [[[list(fs) for fs in r] for r in s] for s in res.probe_score]
    for s in probe:
        for r in s:
            r[task][frequency] = None
    return dataclasses.replace(
        res, accuracy=nan_at(res.accuracy), accuracy_hard=nan_at(res.accuracy_hard),
        shortcut=nan_at(res.shortcut), probe_score=probe,
        cosine={k: nan_at(v) for k, v in res.cosine.items()})


def _dropped(res, task, keep):
    """``res`` restricted to one task at the frequencies ``keep`` (the measures C18 and C20 read)."""
    import dataclasses

    pick = lambda a: np.asarray(a)[:, :, [task]][..., keep]  # noqa: E731
    return dataclasses.replace(
        res, tasks=(res.tasks[task],), frequencies=res.frequencies[keep],
        accuracy=pick(res.accuracy), shortcut=pick(res.shortcut),
        cosine={k: pick(v) for k, v in res.cosine.items()})


def test_a_task_not_run_at_a_frequency_is_read_as_if_that_frequency_were_not_in_the_grid():
    """Per-task frequencies (C18, C20): masking a task's cell gives what dropping the frequency
    gives, for the threshold, the share learned and the interference; the probe verdict reads
    the nearest frequency the task was run at."""
    sweep, res = trends.load_ladder(REPO / "runners/configs/cpu_ladder.yaml")
    masked = _masked(_masked(res, 0, 0), 1, len(res.frequencies) - 1)
    assert masked.ran[0].tolist() == [False] + [True] * 5
    for t, keep in ((0, slice(1, None)), (1, slice(0, -1))):
        alone = _dropped(res, t, keep)
        for margin in (0.3, 0.5):
            assert np.array_equal(trends.log_threshold(masked, margin)[:, :, t],
                                  trends.log_threshold(alone, margin)[:, :, 0], equal_nan=True)
            np.testing.assert_allclose(trends.learned_fraction(masked, margin)[:, :, t],
                                       trends.learned_fraction(alone, margin)[:, :, 0])
        np.testing.assert_allclose(trends.interference(masked)[:, :, t], trends.interference(alone)[:, :, 0])
    assert masked.frequency_index(res.frequencies[0], task=0) == 1
    assert masked.frequency_index(res.frequencies[0], task=1) == 0
    found = trends.verdicts(masked, sweep.analysis.__class__(probe_frequency=float(res.frequencies[0])))
    assert all(np.isfinite(v["trend"].p) for v in found if v["claim"] in ("C18", "C19"))


def test_the_verdict_table_writes_an_undefined_value_as_a_dash_never_nan():
    from rarescale.verdicts import size_trend

    undefined = size_trend(np.array([[np.nan, np.nan], [0.1, 0.2], [0.3, 0.4]]), [1e4, 1e5, 1e6], +1)
    rows = trends.verdict_rows([{"claim": "C20", "statement": "s", "trend": undefined,
                                 "means": trends.arrow(undefined.means)}])
    assert not any("nan" in cell for cell in rows[0])
    assert rows[0][-1].startswith("– → ")


def test_a_sweep_refuses_to_add_cells_on_other_corpus_bytes_than_its_landed_ones(tmp_path, monkeypatch):
    """grid.corpus_changes: a landed cell that trained on bytes other than the corpus file here
    holds (same path) is named with both checksums; the same bytes, or a sweep with nothing
    landed, give nothing. A run that records no checksum is read from the inferred record, and
    one in neither is an error naming the run."""
    import json

    from rarescale.store import artifacts

    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "artifacts"))
    d = {**TINY, "pack": False, "run": {**TINY["run"], "corpus": ["data/natural/x.bin"]}}
    sweep = grid.Sweep.from_dict(d)
    first, *todo = sweep.cells()
    here = lambda config: {"data/natural/x.bin": "b" * 64}
    assert grid.corpus_changes(sweep, todo, here) == []  # nothing landed
    grid.save_run(first, {"corpus_sha256": {"data/natural/x.bin": "a" * 64}}, {}, 1.0)
    (line,) = grid.corpus_changes(sweep, todo, here)
    assert "1 landed cell(s)" in line and "aaaaaaaaaaaa" in line and "bbbbbbbbbbbb" in line
    assert grid.corpus_changes(sweep, todo, lambda c: {"data/natural/x.bin": "a" * 64}) == []
    assert grid.corpus_changes(sweep, todo, lambda c: {}) == []  # a synthetic corpus here

    second = todo[0]
    grid.save_run(second, {}, {}, 1.0)  # an older run: no checksum of its own
    key = grid.cell_key(second)
    record = tmp_path / "corpora.json"
    monkeypatch.setattr(grid, "CORPUS_RECORD", record)
    with pytest.raises(artifacts.ArtifactError, match="records no corpus checksum"):
        grid.corpus_changes(sweep, todo[1:], here)
    record.write_text(json.dumps({"how": "test", "runs": {key: {"data/natural/x.bin": "b" * 64}}}))
    loaded = artifacts.load_artifact(grid.KIND, grid.artifact_config(second))
    assert grid.run_corpus(loaded.path) == ({"data/natural/x.bin": "b" * 64}, "inferred")
    (line,) = grid.corpus_changes(sweep, todo[1:], here)  # the inferred one agrees with here
    assert line.startswith("tiny: 1 landed cell(s)")


def test_every_committed_natural_text_run_knows_its_corpus_bytes():
    """Each committed run on a token file has its corpus checksum, recorded or inferred, and
    the inferred ones name a checksum book/data/natural_corpus.json recorded for some build."""
    import json

    from rarescale.store import artifacts

    recorded = set(json.loads((REPO / "book/data/natural_corpus.json").read_text()).values())
    stats = {json.loads(p.read_text())["sha256"] for p in (REPO / "artifacts/natural_corpus").glob("*/result.json")}
    seen = 0
    for path in sorted((REPO / "artifacts" / grid.KIND).glob("*/manifest.json")):
        config = json.loads(path.read_text())["config"]
        if not config.get("corpus"):
            continue
        corpus, how = grid.run_corpus(artifacts.load_artifact(grid.KIND, config).path)
        assert set(corpus) == set(config["corpus"]) and set(corpus.values()) <= recorded | stats, path
        seen += 1
    assert seen >= 56


def test_the_reproducibility_page_names_each_sweeps_corpus_builds_with_their_packages():
    """inventory.corpus_builds over the committed artifacts: per sweep and build, the runs; each
    build's package versions come from book/data/natural_corpus.json, and the counts add up to
    the sweep's landed natural-text cells."""
    from rarescale.book import inventory

    rows = inventory.inventory(inventory.read_paths(None))
    builds = inventory.corpus_builds(rows)
    main = [r for r in builds if r[0] == "cpu_main"]
    sweep = grid.Sweep.from_yaml(REPO / "runners/configs/cpu_main.yaml")
    assert sum(int(r[4]) for r in main) == sum(grid.find_run(c) is not None for c in sweep.cells())
    assert all(r[3] != "not recorded" and "linux-doc-6.1" in r[3] for r in builds)
    assert {r[5] for r in builds} <= {"recorded", "inferred"}


class _Learned:
    """A planted sweep's learned flags: [size, seed, task, frequency], two tasks run at
    different frequencies (TCMP at the first three, TADD at the last three)."""

    def __init__(self, learned):
        self._learned = np.asarray(learned, bool)
        self.sizes, self.titles = ("30K", "250K", "1M"), ["TCMP", "TADD"]
        self.frequencies = np.array([1e-2, 3e-3, 1e-3, 3e-4])
        self.ran = np.array([[True, True, True, False], [False, True, True, True]])

    def learned(self, margin):
        return self._learned


def test_the_seeds_learned_table_counts_each_cell_and_marks_what_was_not_run():
    from rarescale.book.chapter4 import seeds_learned_columns, seeds_learned_rows, seeds_learned_sentence

    learned = np.zeros((3, 5, 2, 4), bool)
    learned[:, :, 0, 0] = True                   # TCMP at 1e-2: every seed of every size
    learned[0, :1, 0, 1] = learned[2, :4, 0, 1] = True   # TCMP at 3e-3: 1, 0, 4 of 5
    learned[:, :, 0, 3] = True                   # not run: never counted
    res = _Learned(learned)
    assert seeds_learned_columns(res) == ["task", "size", "1 × 10⁻²", "3 × 10⁻³", "1 × 10⁻³", "3 × 10⁻⁴"]
    rows = seeds_learned_rows(res, 0.5)
    assert rows[0] == ["TCMP", "30K", "5 of 5", "1 of 5", "0 of 5", "–"]
    assert rows[2] == ["TCMP", "1M", "5 of 5", "4 of 5", "0 of 5", "–"]
    assert rows[3] == ["TADD", "30K", "–", "0 of 5", "0 of 5", "0 of 5"] and len(rows) == 6
    said = seeds_learned_sentence(res, 0.5)
    assert said.startswith("TCMP: at 3 × 10⁻³, 30K 1, 250K 0, 1M 4 of 5; the sizes agree at "
                           "1 × 10⁻² (every seed learns) and 1 × 10⁻³ (no seed learns).")
    assert "TADD: the sizes agree at 3 × 10⁻³ (no seed learns)" in said


def _found(claim, statement, verdict, p_adjusted):
    from types import SimpleNamespace
    return {"claim": claim, "statement": statement,
            "trend": SimpleNamespace(verdict=verdict, p_adjusted=p_adjusted)}


def test_the_verdict_sentences_count_the_supported_rows_of_each_claim():
    from rarescale.book.chapter4 import verdict_contrast_sentence, verdict_summary_sentence

    main = [_found("C18", "threshold falls", "not shown", 0.3), _found("C18", "share rises", "not shown", 0.19),
            _found("C19", "probe rises", "supported", 0.01)]
    assert verdict_summary_sentence(main) == ("C18: 0 of 2 rows supported, the smallest adjusted p 0.19. "
                                              "C19: 1 of 1 rows supported: probe rises.")
    other = [_found("C18", "threshold falls", "supported", 0.01), _found("C18", "share rises", "not shown", 0.4),
             _found("C19", "probe rises", "supported", 0.02)]
    assert verdict_contrast_sentence(main, other, "the main sweep", "the ladder") == (
        "Where they differ: C18, 1 row supported in the ladder against 0 in the main sweep.")
    assert verdict_contrast_sentence(main, main, "the main sweep", "the ladder").startswith("The main sweep and")


def test_the_selectivity_sentence_reads_the_sign_of_probe_minus_control():
    from types import SimpleNamespace

    from rarescale.book.chapter4 import selectivity_sentence
    from rarescale.sweeps.trends import LadderResults

    def planted(gap):  # [size][seed][task][frequency][target] -> per-layer scores, 3 layers
        score = [[[[[np.full(3, 0.5 + g) for g in gap]]] for _ in range(2)] for _ in range(2)]
        control = [[[[[np.full(3, 0.5) for _ in gap]]] for _ in range(2)] for _ in range(2)]
        res = SimpleNamespace(probe_score=score, probe_control=control, seeds=(0, 1), sizes=("a", "b"),
                              probe_targets=("v1", "label"), titles=["TADD"], frequencies=np.array([1e-3]))
        res.selectivity = lambda *a, **k: LadderResults.selectivity(res, *a, **k)
        return res

    below = selectivity_sentence(planted([-0.1, -0.05]), 0, 0, 0.5)
    assert "v1 -0.100 to -0.100; label -0.050 to -0.050" in below and "below its control" in below
    assert "every probe scores above its control" in selectivity_sentence(planted([0.2, 0.1]), 0, 0, "best")
    assert "both sides" in selectivity_sentence(planted([0.2, -0.1]), 0, 0, 0.5)


def test_a_claims_rows_in_words_give_each_slope_its_interval_adjusted_p_and_verdict():
    from types import SimpleNamespace

    from rarescale.book.chapter4 import claim_rows_sentence

    def row(claim, statement, p_adjusted, verdict):
        trend = SimpleNamespace(p_adjusted=p_adjusted, verdict=verdict,
                                interval=lambda: "+0.100 per decade [+0.020, +0.180]")
        return {"claim": claim, "statement": statement, "trend": trend}

    found = [row("C18", "threshold falls", 0.012, "supported"), row("C19", "probe rises", 0.5, "not shown"),
             row("C18", "forgetting falls", float("nan"), "not shown")]
    assert claim_rows_sentence(found, "C18") == (
        "threshold falls: +0.100 per decade [+0.020, +0.180], adjusted p 0.012, **supported**; "
        "forgetting falls: undefined (a size with no value), **not shown**.")
