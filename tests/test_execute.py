"""runners.execute: papermill with parameters, one-line errors with exit code 2."""

import json
import subprocess

import pytest

from runners.execute import UsageError, execute, parameter_names, read_notebook

from conftest import PYTHON, REPO

CHAPTER0 = REPO / "book" / "00_how_to_use.py"


def glued(ipynb, name):
    """The value glued under ``name`` in an executed notebook."""
    nb = json.loads(ipynb.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook", {})
            if scrap.get("name") == name:
                return out["data"][scrap.get("mime_prefix", "") + "text/plain"]
    raise KeyError(name)


def test_parameter_names_of_chapter0():
    assert parameter_names(read_notebook(CHAPTER0)) == ["d", "widths", "rank", "samples", "seed"]


def test_a_parameter_changes_the_executed_output(tmp_path):
    small = dict(d=16, widths=[2, 4], rank=4, seed=0)
    a = execute(CHAPTER0, {**small, "samples": 50}, tmp_path / "a", progress_bar=False)
    b = execute(CHAPTER0, {**small, "samples": 80}, tmp_path / "b", progress_bar=False)
    assert glued(a, "c13_samples") == "50" and glued(b, "c13_samples") == "80"
    assert glued(a, "c13_max_abs_error") != glued(b, "c13_max_abs_error")
    # the artifacts the run made land beside the executed notebook
    made = [p for p in (tmp_path / "a" / "artifacts" / "c13_random_baseline").iterdir()
            if not p.name.startswith(".")]  # not the artifact's lock file
    assert len(made) == 1 and (made[0] / "manifest.json").exists()


def test_unknown_parameter_is_refused_before_running(tmp_path):
    with pytest.raises(UsageError, match="unknown parameter 'widht'.*its parameters are: d, widths"):
        execute(CHAPTER0, {"widht": [1]}, tmp_path)
    assert not (tmp_path / "00_how_to_use.ipynb").exists()


@pytest.mark.parametrize("args, message", [
    (["book/00_how_to_use.py", "-p", "widht", "[4]"], "error: unknown parameter 'widht'"),
    (["book/no_such_chapter.py"], "error: notebook file not found: book/no_such_chapter.py"),
    (["_config.yml"], "error: _config.yml is not a jupytext percent-format .py file"),
])
def test_cli_bad_input_is_exit_2_and_one_line(args, message, tmp_path, subprocess_env):
    proc = subprocess.run([PYTHON, "-m", "runners.execute", *args, "-o", str(tmp_path)],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("raises, code, message", [
    ('RuntimeError(f"cell failed with n = {n}")', 1, "a cell failed (RuntimeError: cell failed with n = 1)"),
    ('ConfigError(f"n must be even. Got {n} instead.")', 2, "error: n must be even. Got 1 instead."),
])
def test_cli_failing_cell(raises, code, message, tmp_path, subprocess_env):
    """A failing cell is exit code 1; a configuration error the notebook finds is bad input (2)."""
    nb = tmp_path / "fails.py"
    nb.write_text('# %% tags=["parameters"]\nn = 1\n\n# %%\n'
                  f"from rarescale.validation import ConfigError\nraise {raises}\n")
    proc = subprocess.run([PYTHON, "-m", "runners.execute", str(nb), "-o", str(tmp_path / "out")],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True)
    assert proc.returncode == code
    assert message in proc.stderr.strip().splitlines()[-1]  # the last line; the bar precedes it


@pytest.mark.slow
def test_chapter2_reexecutes_with_the_readme_widths(tmp_path):
    """The README's example: chapter 2 with its own widths (secondary figures adapt)."""
    out = execute(REPO / "book" / "02_utility_ranking.py", {"widths": [4, 8, 16], "steps": 300},
                  tmp_path, progress_bar=False)
    assert glued(out, "n_students") == "9"  # 3 widths x 3 seeds
    assert int(glued(out, "budget_pairs")) > 0


def test_chapter4_reads_an_unpacked_sweep_with_its_own_frequencies_per_task(tmp_path):
    """Chapter 4's sections are written for any sweep a reader points it at: the pilot (one task
    per run, each task at its own frequencies, nan elsewhere) as its sweep, as the main sweep
    will be once it lands."""
    out = execute(REPO / "book" / "04_olmo_validation.py",
                  {"sweep_file": "runners/configs/cpu_pilot.yaml"}, tmp_path, progress_bar=False)
    import json as json_

    from rarescale.sweeps.grid import Sweep, find_run

    injected = [json_.loads((find_run(c) / "result.json").read_text())["injected_instances"]
                for c in Sweep.from_yaml(REPO / "runners/configs/cpu_pilot.yaml").cells()]
    assert int(glued(out, "inj_total")) == sum(sum(i) for i in injected)  # its own runs, all 16
    assert int(glued(out, "inj_top")) == max(max(i) for i in injected)
    assert int(glued(out, "inj_rarest")) == min(min(i) for i in injected)


def test_chapter4_reads_a_sweep_with_one_task_kind(tmp_path):
    """Pointed at a sweep of one task kind (the main sweep's TCMP runs alone: the same cells,
    the same artifacts), chapter 4 executes through and reads that sweep's runs only."""
    import yaml

    from rarescale.sweeps.grid import Sweep

    spec = yaml.safe_load((REPO / "runners/configs/cpu_main.yaml").read_text())
    spec["tasks"] = [t for t in spec["tasks"] if t["kind"] == "cmp"]
    spec["name"] = "cpu_main_tcmp"
    one_kind = tmp_path / "cpu_main_tcmp.yaml"
    one_kind.write_text(yaml.safe_dump(spec))
    assert {c.tasks[0].spec.kind for c in Sweep.from_yaml(one_kind).cells()} == {"cmp"}
    out = execute(REPO / "book" / "04_olmo_validation.py", {"sweep_file": str(one_kind)},
                  tmp_path / "out", progress_bar=False)
    assert int(glued(out, "n_seeds")) == 5
