import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
if os.environ.get("PYTEST_XDIST_WORKER") and "OMP_NUM_THREADS" not in os.environ:
    # one worker per core: each worker's torch, and the processes it starts, on one thread
    os.environ["OMP_NUM_THREADS"] = "1"
REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@pytest.fixture
def artifact_dir(tmp_path, monkeypatch):
    """A private artifact root, so tests never touch the committed artifacts/."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("RARESCALE_ARTIFACTS", str(root))
    return root


@pytest.fixture
def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture(autouse=True)
def torch_determinism_restored():
    """A compiled run switches its process to deterministic algorithms; a test's run must not
    change how the next test computes."""
    yield
    torch = sys.modules.get("torch")
    if torch is not None and torch.are_deterministic_algorithms_enabled():
        torch.use_deterministic_algorithms(False)
