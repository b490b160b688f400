"""Editing a chapter as a notebook, against a real JupyterLab server on loopback.

The server is what ``make lab`` starts (``runners.lab.command``), on a copy of a chapter:
read through the contents API as a notebook, the chapter has its cells and its
``parameters`` tag; saved back unchanged, its ``.py`` is byte-for-byte the same; with one
markdown cell edited, only that line of the ``.py`` changes.
"""

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import REPO
from runners.lab import command

CHAPTER = "book/01_phenomenology.py"
TOKEN = "rarescale-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, root, env):
        self.port = _free_port()
        self.proc = subprocess.Popen(command(root, self.port, TOKEN), env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while True:
            try:
                self.call("GET", "/api/status")
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + self.log())
                time.sleep(0.3)

    def call(self, method, path, body=None, raw=False):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            data = response.read()
        return data.decode() if raw else json.loads(data)

    def log(self) -> str:
        self.proc.terminate()
        return self.proc.communicate(timeout=30)[0]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("lab")
    (root / "book").mkdir()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(root / ".runtime"), "JUPYTER_DATA_DIR": str(root / ".data")}
    server = Lab(root, env)
    yield server, root
    server.log()


def _fresh_copy(root):
    shutil.copy(REPO / CHAPTER, root / CHAPTER)
    return (root / CHAPTER).read_bytes()


def test_the_lab_page_is_served(lab):
    server, _ = lab
    assert "JupyterLab" in server.call("GET", "/lab", raw=True)


def test_a_chapter_opens_as_a_notebook_and_saves_back_unchanged(lab):
    server, root = lab
    original = _fresh_copy(root)
    model = server.call("GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")
    cells = model["content"]["cells"]
    assert model["type"] == "notebook"
    assert cells[0]["cell_type"] == "markdown" and cells[0]["source"].startswith("# The phenomenological")
    tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 and tagged[0]["cell_type"] == "code" and "fit = " in tagged[0]["source"]
    assert sum(c["cell_type"] == "code" for c in cells) >= 5
    server.call("PUT", f"/api/contents/{CHAPTER}",
                {"type": "notebook", "format": "json", "content": model["content"]})
    assert (root / CHAPTER).read_bytes() == original
    assert sorted(p.name for p in (root / "book").iterdir()) == ["01_phenomenology.py"]  # no .ipynb


def test_editing_one_markdown_cell_changes_only_its_line(lab):
    server, root = lab
    original = _fresh_copy(root).decode().splitlines()
    model = server.call("GET", f"/api/contents/{CHAPTER}?type=notebook&content=1")
    text = "\n".join(original)
    cell, old_line = next((c, line) for c in model["content"]["cells"] if c["cell_type"] == "markdown"
                          for line in c["source"].splitlines()
                          if len(line) > 40 and text.count(line) == 1)
    cell["source"] = cell["source"].replace(old_line, old_line + " (edited)", 1)
    server.call("PUT", f"/api/contents/{CHAPTER}",
                {"type": "notebook", "format": "json", "content": model["content"]})
    edited = (root / CHAPTER).read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, edited) if a != b]
    assert len(edited) == len(original) and changed == [(f"# {old_line}", f"# {old_line} (edited)")]
