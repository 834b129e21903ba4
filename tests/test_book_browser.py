"""The built book, opened page by page in a real browser with the network cut off.

`make test` builds the book first (`test: book` in the Makefile), so _build/html exists here; if it
does not, every test fails and says to run `make book`. The pages are served from a local HTTP
server on 127.0.0.1 and opened in Debian's headless Chromium through Playwright; every request to
any other host is aborted and counted as a failure, so the book is proven to work offline
(MathJax, fonts and the widgets' JavaScript are served by the book itself).

For every page: no failed or blocked request, no HTTP error, no console error or uncaught
exception, math typeset by MathJax (no raw TeX delimiters left in the visible text, no MathJax
error), every image loaded, every saved ipywidget rendered, every internal link pointing at a
file that exists, and a non-empty main column. A full-page screenshot of each page is written to _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Pages that are not content: Sphinx's generated index (empty for this book), the search page
# (tested on its own below) and the root index.html, which only redirects to the intro page.
NOT_CONTENT = {"genindex.html", "search.html", "index.html"}
MIN_TEXT_CHARS = 300  # the shortest real page, the bibliography's introduction, has more
NOT_BUILT = "The book is not built: run `make book` first (`make test` does it for you)."


def content_pages() -> list[str]:
    if not (HTML / "index.html").is_file():
        return []
    pages = []
    for path in sorted(HTML.rglob("*.html")):
        rel = path.relative_to(HTML).as_posix()
        if rel in NOT_CONTENT or rel.split("/")[0] in {"_static", "_sources", "_images"}:
            continue
        pages.append(rel)
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


@pytest.fixture(scope="module")
def base_url():
    if not (HTML / "index.html").is_file():
        pytest.fail(NOT_BUILT)
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium "
            "(apt-get install --no-install-recommends chromium; .ci/run does it)."
        )
    from playwright.sync_api import sync_playwright

    if not os.environ.get("PYTEST_XDIST_WORKER"):  # workers would delete each other's
        shutil.rmtree(SCREENSHOTS, ignore_errors=True)  # no stale pictures of pages that are gone
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class OfflinePage:
    """A browser page that may talk to the local server only, recording everything that fails."""

    def __init__(self, browser, base_url: str):
        self.base_url = base_url
        self.problems: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"uncaught exception: {error}"))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.base_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.problems.append(f"blocked request to another host: {url}")
            route.abort("blockedbyclient")

    def _console(self, message):
        if message.type == "error" and "ERR_BLOCKED_BY_CLIENT" not in message.text:
            self.problems.append(f"console error: {message.text} ({message.location.get('url')})")

    def _request_failed(self, request):
        if not (request.failure or "").startswith("net::ERR_BLOCKED_BY_CLIENT"):  # see _route
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response):
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def close(self):
        self.context.close()


@pytest.fixture
def offline_page(browser, base_url):
    page = OfflinePage(browser, base_url)
    yield page
    page.close()


# Saved widget views (one script tag each), and those the embed manager rendered: it inserts a
# div.widget-subarea before each view's script and renders the widget into it.
WIDGET_VIEWS_JS = (
    "document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
)
RENDERED_WIDGETS_JS = (
    "Array.from(document.querySelectorAll('.widget-subarea')).filter(area =>"
    " area.querySelector('.jupyter-widgets') && !area.textContent.includes('Error displaying widget'))"
    ".length"
)

# Runs in the page: the visible text of the main column with code blocks removed (code may
# legitimately contain TeX, e.g. matplotlib labels), and facts about math, images and links.
INSPECT_JS = """
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, .highlight, mjx-container, script, style')
       .forEach(node => node.remove());
  const sphinxMath = Array.from(article.querySelectorAll('.math'));
  return {
    text: article.innerText,
    proseText: clone.textContent,
    mathCount: sphinxMath.length,
    untypesetMath: sphinxMath.filter(node => !node.querySelector('mjx-container'))
                             .map(node => node.textContent.slice(0, 80)),
    mjxCount: document.querySelectorAll('mjx-container').length,
    mathErrors: Array.from(document.querySelectorAll('mjx-merror'))
                     .map(node => node.getAttribute('data-mjx-error') || node.textContent),
    images: Array.from(document.images).map(img => ({
      src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth})),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    widgetViews: %s,
    renderedWidgets: %s,
  };
}
""" % (WIDGET_VIEWS_JS, RENDERED_WIDGETS_JS)
RAW_TEX = [
    ("$$", re.compile(r"\$\$")),
    ("\\(", re.compile(r"\\\(")),
    ("\\[", re.compile(r"\\\[")),
    ("\\begin{", re.compile(r"\\begin\{")),
    ("$...\\command...$", re.compile(r"\$[^$\n]*\\[A-Za-z]+[^$\n]*\$")),
]


def _load(page: OfflinePage, url: str) -> dict:
    page.page.goto(url, wait_until="load")
    # Images a theme marks as lazy load only when scrolled to: load them all now.
    page.page.evaluate(
        "() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete)", timeout=30_000
    )
    has_widgets = page.page.evaluate(
        "() => document.querySelector('script[type=\"application/vnd.jupyter.widget-state+json\"]') !== null"
    )
    if has_widgets:
        # the embed manager renders every widget view of the saved state after the page loads
        page.page.wait_for_function(
            f"() => ({RENDERED_WIDGETS_JS}) >= ({WIDGET_VIEWS_JS})", timeout=30_000
        )
    has_math = page.page.evaluate("() => document.querySelector('.math') !== null")
    if has_math:
        page.page.wait_for_function(
            "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000
        )
        page.page.evaluate("() => MathJax.startup.promise")
    page.page.wait_for_load_state("networkidle")
    return page.page.evaluate(INSPECT_JS)


def _screenshot(page: OfflinePage, rel: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = rel.removesuffix(".html").replace("/", "__") + ".png"
    page.page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _broken_internal_links(links: list[str], base_url: str) -> list[str]:
    broken = []
    for href in sorted(set(links)):
        if not href.startswith(base_url):
            continue  # external links are links, not requests: nothing is fetched
        path = unquote(urlsplit(href).path)[1:]
        target = HTML / path
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href)
    return broken


PAGES = content_pages()


@pytest.mark.parametrize("rel", PAGES or [pytest.param(None, id="book-not-built")])
def test_page(rel, offline_page, base_url):
    if rel is None:
        pytest.fail(NOT_BUILT)
    facts = _load(offline_page, base_url + rel)
    _screenshot(offline_page, rel)
    problems = list(offline_page.problems)

    if len(facts["text"].strip()) < MIN_TEXT_CHARS:
        problems.append(f"main column nearly empty ({len(facts['text'].strip())} characters)")
    for what, pattern in RAW_TEX:
        match = pattern.search(facts["proseText"])
        if match:
            start = max(match.start() - 40, 0)
            problems.append(f"raw TeX {what!r} in the text: ...{facts['proseText'][start:match.end() + 40]}...")
    if facts["mathCount"]:
        if facts["mjxCount"] == 0:
            problems.append(f"{facts['mathCount']} math elements but no MathJax output")
        for source in facts["untypesetMath"]:
            problems.append(f"math not typeset: {source}")
    for error in facts["mathErrors"]:
        problems.append(f"MathJax error: {error}")
    for image in facts["images"]:
        if not image["complete"] or image["width"] == 0:
            problems.append(f"image not loaded: {image['src']}")
    if facts["renderedWidgets"] < facts["widgetViews"]:
        problems.append(f"{facts['widgetViews']} widget views but {facts['renderedWidgets']} rendered")
    for href in _broken_internal_links(facts["links"], base_url):
        problems.append(f"broken internal link: {href}")

    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


def test_pages_found():
    """The parametrization above is not vacuous: the book has its intro and bibliography pages."""
    if not PAGES:
        pytest.fail(NOT_BUILT)
    assert {"chapters/intro.html", "chapters/bibliography.html"} <= set(PAGES)


def test_math_is_typeset_on_the_intro(offline_page, base_url):
    """The intro has inline and display math: MathJax (served locally) must have rendered it."""
    facts = _load(offline_page, base_url + "chapters/intro.html")
    assert facts["mathCount"] >= 3 and facts["mjxCount"] >= facts["mathCount"], facts["mathCount"]
    assert not offline_page.problems, offline_page.problems


def test_root_redirects_to_intro(offline_page, base_url):
    offline_page.page.goto(base_url, wait_until="load")
    offline_page.page.wait_for_url("**/chapters/intro.html", timeout=10_000)
    assert "Optimization for Machine Learning" in offline_page.page.title()
    # the redirect itself cancels what the redirecting page was still loading (its favicon)
    problems = [p for p in offline_page.problems if not p.endswith("(net::ERR_ABORTED)")]
    assert not problems, problems


def test_search_finds_pages(offline_page, base_url):
    """Typing a query into the search page lists matching pages (the index is searchindex.js)."""
    page = offline_page.page
    page.goto(base_url + "search.html", wait_until="load")
    box = page.locator("form.bd-search input:visible").first
    box.fill("gradient")
    box.press("Enter")
    page.wait_for_url("**/search.html?q=gradient*", timeout=10_000)
    # Sphinx adds the results one at a time (every 5 ms) and says so when it is done: read the list
    # only then, or the page being looked for may not be in it yet.
    page.locator("#search-results p.search-summary", has_text="Search finished").wait_for(timeout=30_000)
    results = page.locator("#search-results ul.search li")
    titles = [results.nth(i).locator("a").first.inner_text() for i in range(results.count())]
    assert any("Optimization for Machine Learning" in title for title in titles), titles
    _screenshot(offline_page, "search")
    assert not offline_page.problems, offline_page.problems
