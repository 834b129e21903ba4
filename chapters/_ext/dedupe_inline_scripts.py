"""Sphinx extension: emit each inline <script> once per page.

Sphinx 7.4 adds the scripts that extensions register after the HTML builder is initialised twice:
once when they are registered, and again in `prepare_writing`, where an inline script's missing
filename (None) becomes '' and so no longer compares equal to the first copy. sphinx-thebe's
inline script declares `const THEBE_JS_URL`, so the second copy throws "Identifier
'THEBE_JS_URL' has already been declared" in every page's console. This removes such
duplicates just before each page is rendered. (Jupyter Book 1 always loads sphinx-thebe.)
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _dedupe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    js_files = getattr(app.builder, "_js_files", None)
    if not js_files:
        return
    seen = set()
    unique = []
    for script in js_files:
        key = (
            script.filename or "",
            tuple(sorted((k, str(v)) for k, v in script.attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    js_files[:] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    # After every other handler: myst-nb adds per-page scripts (ipywidgets) in this event too.
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
