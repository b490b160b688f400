"""The sizing advisor: its answers against brute force, its errors, its JSON."""

import json
import subprocess

import numpy as np
import pytest

from rarescale import advisor
from rarescale.linear import theory
from rarescale.advisor import Advice, parse_spec
from rarescale.linear.mixture import TaskMixture
from rarescale.validation import ConfigError

from conftest import PYTHON, REPO


def random_mixture(seed):
    rng = np.random.default_rng(seed)
    K = rng.integers(3, 7)
    spectra = [np.sort(rng.uniform(0.05, 1, rng.integers(1, 6)))[::-1] for _ in range(K)]
    return TaskMixture.from_arrays(rng.dirichlet(np.ones(K) * 0.7), spectra, seed=seed)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tau", [0.0, 0.1, 0.3])
def test_learned_width_against_brute_force_over_widths(seed, tau):
    mix = random_mixture(seed)
    total = sum(mix.m)
    for k in range(mix.K):
        brute = min(n for n in range(total + 1)
                    if theory.predicted_task_loss(mix, n)[k] <= tau + 1e-12)
        assert advisor.learned_width(mix, k, tau) == brute
    if tau == 0.0:
        assert [advisor.learned_width(mix, k, 0) for k in range(mix.K)] == \
               [theory.learn_width(mix, k) for k in range(mix.K)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tau", [0.0, 0.1])
def test_upweight_threshold_against_brute_force_over_frequencies(seed, tau):
    """Scanning the rare task's frequency on a fine grid, the first frequency at which the
    width learns it lies just above the advisor's threshold."""
    mix = random_mixture(seed)
    k = int(np.argmin(mix.pi))
    grid = np.linspace(1e-4, 0.9999, 2000)
    total = sum(mix.m)
    for width in sorted({1, max(1, total // 3), max(1, 2 * total // 3), total}):
        x_star = advisor.upweight_threshold(mix, k, width, tau)
        ok = [theory.predicted_task_loss(advisor.reweighted(mix, k, x), width)[k] <= tau + 1e-12
              for x in grid]
        if x_star is None:
            assert not any(ok)
            continue
        assert any(ok)
        first = grid[int(np.argmax(ok))]
        assert x_star < first <= max(x_star, grid[0]) + (grid[1] - grid[0]) + 1e-12
        assert all(ok[int(np.argmax(ok)):])  # and every higher frequency works too


def test_reweighted_keeps_proportions():
    mix = TaskMixture.from_arrays([0.5, 0.3, 0.2], [[1.0], [1.0], [1.0]])
    new = advisor.reweighted(mix, 2, 0.6)
    np.testing.assert_allclose(new.pi, [0.25, 0.15, 0.6])


SPEC = {
    "d": 20, "width": 6, "rare_task": "legal",
    "tasks": [{"name": "web", "frequency": 0.8, "features": 5, "decay": 0.8},
              {"name": "code", "frequency": 0.15, "features": 4, "decay": 1.0},
              {"name": "legal", "frequency": 0.05, "spectrum": [1.0, 0.5]}],
}


def test_advice_and_json_round_trip(tmp_path):
    advice = advisor.advise(parse_spec(SPEC))
    assert advice.names == ["web", "code", "legal"] and advice.width == 6
    assert advice.upweight_frequency > 0.05
    assert advice.loss_after_upweight[2] <= 0.1 < advice.loss_at_width[2]
    assert advice.others_loss_after >= advice.others_loss_before  # it costs the others
    again = Advice.from_json(advice.to_json())
    assert again == advice
    assert json.loads(again.to_json()) == json.loads(advice.to_json())


@pytest.mark.parametrize("change, message", [
    ({"tasks": []}, "tasks must be a non-empty list"),
    ({"widht": 3}, "unknown key 'widht'"),
    ({"tasks": [{"name": "a", "frequency": 1.2, "features": 2, "decay": 1}]},
     r"tasks\[0\]\.frequency must be a float in the range \[0, 1\]\. Got 1\.2 instead\."),
    ({"tasks": [{"name": "a", "frequency": 1.0, "features": 0, "decay": 1}]},
     r"tasks\[0\]\.features must be an int in the range \[1, 4096\]"),
    ({"tasks": [{"name": "a", "frequency": 1.0, "spectrum": [1, -2]}]},
     r"tasks\[0\]\.spectrum must be a non-empty list, each item a float in the range \(0, inf\)"),
    ({"tasks": [{"name": "a", "frequency": 0.5, "features": 2, "decay": 1}]},
     r"tasks\[\*\]\.frequency must sum to 1"),
    ({"rare_task": "medical"}, "rare_task 'medical' is not a task name"),
    ({"d": 5}, r"mixture\.d must be an int in the range \[11, 4096\]"),
    ({"tasks": [{"name": "a", "frequency": 1.0, "spectrum": "missing.npy"}]}, "file not found"),
])
def test_bad_specs_are_one_line_errors_naming_the_field(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec({**SPEC, "rare_task": None, **change} if "rare_task" not in change and
                   "tasks" in change else {**SPEC, **change})


def test_cli_table_json_and_bad_file(tmp_path, subprocess_env):
    import yaml

    spec = tmp_path / "mixture.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "advice.json"
    proc = subprocess.run([PYTHON, "-m", "rarescale.advisor", str(spec), "--json", str(out),
                           "--plot", str(tmp_path / "kept.png")],
                          cwd=REPO, env=subprocess_env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "legal" in proc.stdout and "critical width" in proc.stdout
    assert Advice.from_json(out.read_text()).rare_task == "legal"
    assert (tmp_path / "kept.png").stat().st_size > 1000
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SPEC, "width": 0}))
    proc = subprocess.run([PYTHON, "-m", "rarescale.advisor", str(bad)], cwd=REPO,
                          env=subprocess_env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == "error: mixture.width must be an int in the range [1, 20]. Got 0 instead.\n"


@pytest.mark.parametrize("case, message", [
    ("same as input", "--json {spec} is the mixture file itself"),
    ("plot format", "--plot {dir}/kept.xyz: matplotlib cannot write '.xyz' files"),
    ("same outputs", "--json and --plot name the same file"),
    ("overflow", "the advice is not finite"),
])
def test_31_6_advisor_outputs_are_checked_first_and_written_whole_or_not_at_all(tmp_path, case, message):
    """Issue 31.6: a plot format matplotlib cannot write used to fail after advice.json was
    written; --json naming the mixture overwrote it; a spectrum near float's range wrote NaN."""
    import yaml

    from rarescale.advisor.cli import main

    spec = tmp_path / "mixture.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    before = spec.read_bytes()
    out = tmp_path / "a.json"
    args = {"same as input": [str(spec), "--json", str(spec)],
            "plot format": [str(spec), "--json", str(out), "--plot", str(tmp_path / "kept.xyz")],
            "same outputs": [str(spec), "--json", str(out), "--plot", str(out)]}.get(case)
    if case == "overflow":
        big = {**SPEC, "tasks": [{**t, "spectrum": [1e308, 1e308]} if "spectrum" in t else t
                                 for t in SPEC["tasks"]]}
        if big == SPEC:  # no explicit spectrum in the example: give the first task one
            big = {**SPEC, "tasks": [{"name": SPEC["tasks"][0]["name"], "frequency":
                                      SPEC["tasks"][0]["frequency"], "spectrum": [1e308] * 2}]
                   + SPEC["tasks"][1:]}
        spec.write_text(yaml.safe_dump(big))
        before = spec.read_bytes()
        args = [str(spec), "--json", str(out)]
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(args)
    assert code == 2 and message.format(spec=spec, dir=tmp_path) in err.getvalue(), err.getvalue()
    assert err.getvalue().count("\n") == 1
    assert spec.read_bytes() == before and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixture.yaml"]
