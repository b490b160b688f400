"""Edit the chapters as notebooks: ``make lab`` (or ``python -m runners.lab``).

Starts JupyterLab on 127.0.0.1, in the repository, with this environment's
Python kernel. Jupytext (in ``requirements.txt``) opens each ``book/*.py`` as a
notebook and saves it back to the same ``.py``: no ``.ipynb`` is paired or
written, and the chapters' headers tell jupytext to leave out its version, so a
save changes only what was edited. Nothing is fetched from the network:
JupyterLab's news, its update check and the extension manager's index are off.
A double click on a chapter opens it as a notebook (``runners/lab_settings``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rarescale.store.artifacts import REPO_ROOT

SETTINGS = Path(__file__).resolve().parent / "lab_settings"
"""``overrides.json``: a ``.py`` file opens as a notebook (jupytext's viewer) on a double click."""
OFFLINE = [
    "--LabApp.news_url=None",  # no announcements feed
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",  # no index of extensions to download
]


def command(root: Path = REPO_ROOT, port: int | None = None, token: str | None = None,
            open_browser: bool = False) -> list[str]:
    """The ``jupyter lab`` command line ``make lab`` runs."""
    cmd = [str(Path(sys.executable).with_name("jupyter")), "lab", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={root}", f"--LabApp.app_settings_dir={SETTINGS}", *OFFLINE]
    if not open_browser:
        cmd.append("--no-browser")
    if port is not None:
        cmd.append(f"--ServerApp.port={port}")
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        cmd.append("--allow-root")
    return cmd


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    cmd = command()
    if not Path(cmd[0]).is_file():
        print(f"{cmd[0]} not found: JupyterLab is not installed for {sys.executable}; run "
              "`make lab` (it installs the environment first)", file=sys.stderr)
        return 2
    os.execv(cmd[0], cmd + list(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
