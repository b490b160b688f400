"""Sphinx fixes for the book's HTML, loaded through ``_config.yml``.

``notebook_download``: sphinx-book-theme offers a chapter's executed ``.ipynb`` for
download only for Markdown notebooks and only when a launch service is configured. Our
chapters are ``.py`` files and the book launches nothing, so each chapter's executed
notebook is copied next to its source and offered beside the ``.py``.

``unique_scripts``: under Sphinx 7, sphinx-thebe (which Jupyter Book 1 always loads)
registers its inline configuration script twice, and the second copy throws
"Identifier 'THEBE_JS_URL' has already been declared" in the browser. Each page keeps
one copy of every script.

``claim_ledger``: the front page's ledger of claims is written as ``ledger.json`` at the
top of the HTML, computed by the same :mod:`rarescale.book.ledger` functions as the page.

``record_artifacts``: every artifact a chapter reads while the book executes is listed,
with a checksum of its files, in ``_build/artifacts-read.log``; before the next build,
``python -m runners.book_cache`` re-executes the chapters when one of them changed or
vanished (MyST-NB's cache knows only a notebook's code cells).
"""


def unique_scripts(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # the same script registered twice: one copy's filename is None, the other's ""
        key = (getattr(script, "filename", str(script)) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def notebook_download(app, pagename, templatename, context, doctree):
    from pathlib import Path
    from shutil import copy2

    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not context.get("sourcename", "").endswith(".py") or not executed.is_file():
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    copy2(executed, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def claim_ledger(app, exception):
    from pathlib import Path

    if exception is not None or app.builder.name != "html":
        return
    from rarescale.book import ledger

    if not {f"book/{chapter}" for chapter in ledger.CHAPTERS} <= set(app.env.found_docs):
        return  # a copy of the book without the chapters the ledger reads

    ledger.write_json(ledger.ledger(), Path(app.outdir) / "ledger.json")


def setup(app):
    import os
    from pathlib import Path

    # kernels inherit the environment: every artifact they read is recorded (see the docstring)
    os.environ.setdefault("RARESCALE_ARTIFACT_LOG", str(Path(app.outdir).parent / "artifacts-read.log"))
    app.connect("html-page-context", notebook_download, priority=400)  # before the buttons
    app.connect("html-page-context", unique_scripts, priority=999)  # after every other handler
    app.connect("build-finished", claim_ledger)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
