"""Sphinx fixes for the book's HTML, loaded through ``_config.yml``.

``unique_scripts``: under Sphinx 7, sphinx-thebe (which Jupyter Book 1 always loads)
registers its inline configuration script twice, and the second copy throws
"Identifier 'THEBE_JS_URL' has already been declared" in the browser. Each page keeps
one copy of every script.
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


def setup(app):
    app.connect("html-page-context", unique_scripts, priority=999)  # after every other handler
    return {"parallel_read_safe": True, "parallel_write_safe": True}
