"""Artifacts: round trip, stable keys, atomic writes, loud failures."""

import json
import subprocess
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

from rarescale.store import artifacts
from rarescale.store.artifacts import ArtifactError, cached, config_key, load_artifact, save_artifact

from conftest import PYTHON, REPO

CONFIG = {"widths": [4, 8, 16], "lr": 1e-3, "mixture": {"K": 5, "a": 1.2}, "seed": 3}


def test_round_trip(artifact_dir):
    arrays = {"loss": np.linspace(0, 1, 7).reshape(7, 1), "ids": np.arange(3)}
    saved = save_artifact("demo", CONFIG, {"best": 0.25, "names": ["a", "b"]}, arrays,
                          seed=3, wall_time_s=1.5)
    loaded = load_artifact("demo", CONFIG)
    assert loaded.key == saved.key == config_key("demo", CONFIG)
    assert loaded.result == {"best": 0.25, "names": ["a", "b"]}
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], value)
        assert loaded.arrays[name].dtype == value.dtype
    m = loaded.manifest
    assert m["config"] == CONFIG and m["seed"] == 3 and m["wall_time_s"] == 1.5
    assert m["code_version"].startswith("0.") and "numpy" in m["libraries"]


def test_key_is_stable_and_order_free():
    reordered = {"seed": 3, "mixture": {"a": 1.2, "K": 5}, "lr": 1e-3, "widths": [4, 8, 16]}
    assert config_key("demo", CONFIG) == config_key("demo", reordered)
    assert config_key("demo", CONFIG) == config_key("demo", json.loads(json.dumps(CONFIG)))
    # a tuple, a numpy array and a frozen dataclass hash like their plain forms
    assert config_key("demo", {**CONFIG, "widths": np.array([4, 8, 16])}) == config_key("demo", CONFIG)

    @dataclass(frozen=True)
    class Mixture:
        K: int
        a: float

    assert config_key("demo", {**CONFIG, "mixture": Mixture(5, 1.2)}) == config_key("demo", CONFIG)
    # a known value: the key must not drift between versions of the code
    assert config_key("demo", {"a": 1}) == config_key("demo", {"a": 1})
    assert len(config_key("demo", CONFIG)) == 16


@pytest.mark.parametrize("change", [
    {"lr": 1.0001e-3}, {"widths": [4, 8, 17]}, {"widths": [4, 16, 8]},
    {"mixture": {"K": 5, "a": 1.2, "b": 1}}, {"seed": 4}, {"seed": "3"}, {"extra": None},
])
def test_any_changed_field_changes_key(change):
    assert config_key("demo", {**CONFIG, **change}) != config_key("demo", CONFIG)
    assert config_key("other", CONFIG) != config_key("demo", CONFIG)


def test_missing_artifact_names_itself_and_the_command(artifact_dir):
    with pytest.raises(ArtifactError, match=r"demo/[0-9a-f]{16} is missing.*runners\.execute x"):
        load_artifact("demo", CONFIG, produce="python -m runners.execute x")
    with pytest.raises(ArtifactError, match=r"is missing .*Produce it with: make book"):
        load_artifact("demo", CONFIG)


def test_a_config_recomputed_to_another_last_bit_reads_the_same_artifact(artifact_dir):
    """A float of the config recomputed on another CPU (numpy's SIMD pow differs by an ulp
    between CPUs) keys and reads the same artifact; a change the key's digits see is refused."""
    config = {"spectra": [0.10174595237052728, 0.2], "seed": 0}
    save_artifact("demo", config, {"x": 1}, {})
    again = {"spectra": [float(np.nextafter(0.10174595237052728, 1)), 0.2], "seed": 0}
    assert again != config and load_artifact("demo", again).result == {"x": 1}
    saved = load_artifact("demo", config)
    manifest = json.loads((saved.path / "manifest.json").read_text())
    manifest["config"]["spectra"][0] = 0.1017459524  # a digit the key reads
    (saved.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="different config"):
        load_artifact("demo", config)


def test_corrupt_and_mismatched_artifacts_fail_loudly(artifact_dir):
    saved = save_artifact("demo", CONFIG, {"x": 1}, {"a": np.ones(3)})
    (saved.path / "arrays.npz").write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match=r"corrupt: arrays.npz.*Delete .* and produce it again with: make book"):
        load_artifact("demo", CONFIG)
    saved = save_artifact("demo", CONFIG, {"x": 1}, {"a": np.ones(3)})
    manifest = json.loads((saved.path / "manifest.json").read_text())
    manifest["config"]["seed"] = 99  # an edited manifest no longer matches its key
    (saved.path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="different config"):
        load_artifact("demo", CONFIG)


def test_crash_mid_write_leaves_nothing_loadable(artifact_dir, monkeypatch):
    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(artifacts.np, "savez_compressed", crash)
    with pytest.raises(KeyboardInterrupt):
        save_artifact("demo", CONFIG, {"x": 1}, {"a": np.ones(3)})
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact("demo", CONFIG)


def test_killed_process_mid_write_leaves_nothing_loadable(artifact_dir, subprocess_env):
    """A hard kill (no cleanup) after the data files but before the rename."""
    script = textwrap.dedent(f"""
        import os, json
        import numpy as np
        from rarescale.store import artifacts
        real = artifacts._sha256
        def die(path):
            os._exit(9)  # the process dies: no except, no finally
        artifacts._sha256 = die
        artifacts.save_artifact("demo", {CONFIG!r}, {{"x": 1}}, {{"a": np.ones(3)}})
    """)
    proc = subprocess.run([PYTHON, "-c", script], env=subprocess_env, cwd=REPO)
    assert proc.returncode == 9
    leftovers = list((artifact_dir / "demo").iterdir())
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact("demo", CONFIG)
    # and a later run completes normally beside the debris
    save_artifact("demo", CONFIG, {"x": 1}, {"a": np.ones(3)})
    assert load_artifact("demo", CONFIG).result == {"x": 1}


def test_cached_computes_once(artifact_dir):
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}, {"v": np.arange(4)}

    first = cached("demo", CONFIG, compute, seed=3)
    second = cached("demo", CONFIG, compute, seed=3)
    assert calls == [1] and first.result == second.result == {"n": 1}
    assert first.manifest["wall_time_s"] >= 0


def test_non_finite_config_is_refused():
    with pytest.raises(ArtifactError, match="not finite"):
        config_key("demo", {"lr": float("nan")})


def test_prune_keeps_what_a_build_read(artifact_dir, monkeypatch, tmp_path):
    log = tmp_path / "used.txt"
    old = save_artifact("demo", {**CONFIG, "seed": 1}, {"x": 1})
    kept = save_artifact("demo", CONFIG, {"x": 2})
    monkeypatch.setenv("RARESCALE_ARTIFACT_LOG", str(log))
    load_artifact("demo", CONFIG)  # a build reads only this one
    removed = artifacts.prune(log.read_text().split(), root=artifact_dir)
    assert removed == [old.path] and not old.path.exists() and kept.path.exists()
    assert load_artifact("demo", CONFIG).result == {"x": 2}


def test_prune_leaves_a_writer_s_fresh_temporary_folder_and_the_kept_keys(artifact_dir, tmp_path):
    """Issue 31, item 9: a concurrent writer's ``.tmp-*`` folder is renamed into place after all
    its work; pruning it would fail that rename. An old one (a writer killed long ago) goes."""
    import os
    import time

    kind = artifact_dir / "demo"
    fresh, stale, sweep_cell, other = (kind / n for n in (".tmp-abc-1234", ".tmp-def-5678", "cellkey", "oldkey"))
    for p in (fresh, stale, sweep_cell, other):
        p.mkdir(parents=True)
        (p / "result.json").write_text("{}")
    day_ago = time.time() - artifacts.WRITING_FOR_S - 60
    os.utime(stale, (day_ago, day_ago))
    removed = artifacts.prune([], root=artifact_dir, keep={"cellkey"})
    assert sorted(p.name for p in removed) == [".tmp-def-5678", "oldkey"]
    assert fresh.exists() and sweep_cell.exists() and not stale.exists() and not other.exists()


def test_every_committed_sweep_cell_is_protected_from_pruning():
    from conftest import REPO

    from rarescale.sweeps.grid import sweeps_by_key

    keys = set(sweeps_by_key())
    committed = {p.name for p in (REPO / "artifacts" / "olmo_run").iterdir() if p.is_dir()}
    assert committed <= keys, sorted(committed - keys)[:3]


def test_a_result_of_uncommitted_code_is_not_recorded_in_the_repository_s_store(monkeypatch, tmp_path):
    """The record is reproducible from its commit: with changed code, saving into artifacts/ is
    refused in one line naming a changed file (before anything is written); elsewhere, or when
    allowed, the manifest lists the changed files."""
    monkeypatch.setattr(artifacts, "uncommitted_code", lambda: ("rarescale/linear/theory.py",))
    monkeypatch.setattr(artifacts, "DEFAULT_ROOT", tmp_path / "repo-artifacts")
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(tmp_path / "repo-artifacts"))
    monkeypatch.delenv(artifacts.ALLOW_DIRTY_ENV, raising=False)
    with pytest.raises(ArtifactError, match=r"uncommitted changes \(rarescale/linear/theory.py\)"):
        save_artifact("demo", CONFIG, {"x": 1})
    assert not (tmp_path / "repo-artifacts").exists()
    elsewhere = save_artifact("demo", CONFIG, {"x": 1}, root=tmp_path / "scratch")
    assert elsewhere.manifest["uncommitted"] == ["rarescale/linear/theory.py"]
    monkeypatch.setenv(artifacts.ALLOW_DIRTY_ENV, "1")
    assert save_artifact("demo", CONFIG, {"x": 1}).manifest["uncommitted"] == ["rarescale/linear/theory.py"]
    monkeypatch.setattr(artifacts, "uncommitted_code", lambda: ())
    monkeypatch.delenv(artifacts.ALLOW_DIRTY_ENV)
    assert save_artifact("demo", CONFIG, {"x": 2}).manifest["uncommitted"] == []


def test_files_written_together_are_all_renamed_or_none(tmp_path):
    from rarescale.store.files import write_together

    first, second = tmp_path / "a.json", tmp_path / "sub" / "b.png"
    assert write_together([(first, lambda t: t.write_text("1")), (second, lambda t: t.write_text("2"))]) \
        == [first, second]
    assert first.read_text() == "1" and second.read_text() == "2"

    def full(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as caught:
        write_together([(tmp_path / "c.json", lambda t: t.write_text("3")), (tmp_path / "d.png", full)])
    assert caught.value.filename == str(tmp_path / "d.png")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.json", "b.png"]
