"""Stage the JavaScript the built book serves itself, so that its HTML works with no network.

`make book` runs `npm ci` in this folder (versions pinned by package-lock.json), then this script,
which copies the few files the pages load from node_modules/ into _build/vendored/. _config.yml
lists chapters/_vendor/_build in `html_static_path`, so Sphinx copies the tree to
`_build/html/_static/vendored/`, where `mathjax_path` and `nb_ipywidgets_js` point.

The source folder is deliberately not named `_static`: Jupyter Book 1 adds every .js and .css
file under a book-root `_static` folder to every page.

Standard library only; run with any Python 3.8+: `python3 chapters/_vendor/copy_assets.py`.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
DEST = HERE / "_build" / "vendored"
STAMP = HERE / "_build" / ".stamp"

# (source under node_modules, destination under vendored/, glob of files to take, or None for
# exactly that file). Directories are copied file by file, flat patterns only where noted.
ASSETS: list[tuple[str, str, str | None]] = [
    # MathJax 3: the combined TeX-input / CommonHTML-output component ...
    ("mathjax/es5/tex-chtml.js", "mathjax/tex-chtml.js", None),
    # ... its web fonts (looked up relative to tex-chtml.js) ...
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2", "*.woff"),
    # ... the TeX extensions `autoload` fetches on first use of e.g. \boldsymbol, \cancel, \color ...
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions", "*.js"),
    # ... and the accessibility components the MathJax menu loads on request (speech, explorer).
    ("mathjax/es5/a11y", "mathjax/a11y", "*.js"),
    ("mathjax/es5/sre", "mathjax/sre", "**/*"),
    ("mathjax/LICENSE", "mathjax/LICENSE", None),
    # RequireJS, which the ipywidgets embed manager needs.
    ("requirejs/require.js", "requirejs/require.js", None),
    # The ipywidgets HTML manager (AMD build) and the icon fonts its CSS references; webpack
    # resolves them relative to embed-amd.js.
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "html-manager/embed-amd.js", None),
    ("@jupyter-widgets/html-manager/dist", "html-manager", "*.woff2"),
    ("@jupyter-widgets/html-manager/dist", "html-manager", "*.woff"),
    ("@jupyter-widgets/html-manager/dist", "html-manager", "*.ttf"),
    ("@jupyter-widgets/html-manager/dist", "html-manager", "*.eot"),
    ("@jupyter-widgets/html-manager/dist", "html-manager", "*.svg"),
]
# Files of the book itself (not from npm), staged alongside: see each file's header.
OWN_FILES: list[tuple[str, str]] = [
    ("widgets-setup.js", "html-manager/widgets-setup.js"),
]

PACKAGES = ["mathjax", "requirejs", "@jupyter-widgets/html-manager"]


def main() -> int:
    if not NODE_MODULES.is_dir():
        print(
            f"error: {NODE_MODULES} is missing; run `npm ci` in {HERE} first (`make book` does).",
            file=sys.stderr,
        )
        return 1
    wanted = json.loads((HERE / "package.json").read_text())["dependencies"]
    for package in PACKAGES:
        installed = json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
        if installed != wanted[package]:
            print(
                f"error: node_modules has {package} {installed}, package.json pins "
                f"{wanted[package]}; run `npm ci` in {HERE}.",
                file=sys.stderr,
            )
            return 1

    if DEST.exists():
        shutil.rmtree(DEST)
    count = 0
    for source, destination, pattern in ASSETS:
        src = NODE_MODULES / source
        dst = DEST / destination
        if pattern is None:
            files = [(src, dst)]
        else:
            files = [(f, dst / f.relative_to(src)) for f in sorted(src.glob(pattern)) if f.is_file()]
            if not files:
                print(f"error: no {pattern} files in {src}", file=sys.stderr)
                return 1
        for f, target in files:
            if not f.is_file():
                print(f"error: {f} is missing", file=sys.stderr)
                return 1
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            count += 1
    for source, destination in OWN_FILES:
        target = DEST / destination
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(HERE / source, target)
        count += 1
    STAMP.write_text(f"{count} files\n")
    size = sum(f.stat().st_size for f in DEST.rglob("*") if f.is_file())
    print(f"staged {count} vendored files ({size / 2**20:.1f} MiB) in {DEST.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
