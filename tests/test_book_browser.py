"""The built book in a real browser: Debian's Chromium, driven by Playwright, offline.

For every page of ``_toc.yml``: no request leaves 127.0.0.1 and none fails, no console
error, every image decodes, MathJax has typeset every formula (no raw ``$…$`` left),
every glued value is filled in, every sidebar link resolves, and every chapter offers its
``.py`` and its executed ``.ipynb`` for download. A screenshot of each
page is saved under ``_build/screens/``. The checker is also run on deliberately broken
copies of a page, to show that it fails when it should.

Skipped, with the reason, where Chromium or Playwright is missing (``.ci/run`` installs
Chromium with apt-get).
"""

import functools
import re
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import PYTHON, REPO

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed: apt-get install chromium"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")


def toc_pages() -> list[str]:
    """HTML paths of every page in the table of contents."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for c in toc.get("chapters", [])]
    return [f + ".html" for f in files]


@pytest.fixture(scope="module")
def html_dir():
    """Build the book as ``make book`` does (chapters read the committed artifacts)."""
    subprocess.run([PYTHON, "-m", "runners.book_cache"], cwd=REPO, check=True)
    jb = Path(PYTHON).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(REPO), "-W", "--keep-going"], cwd=REPO,
                          capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return REPO / "_build" / "html"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def serve():
    """``serve(folder)`` -> base URL of that folder on 127.0.0.1 (servers stop with the module)."""
    servers = []

    def start(folder: Path) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0),
                                     functools.partial(_QuietHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/"

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield b
        b.close()


MIN_FIGURE_PX = 900
"""The narrowest a figure image may be (a 5.5 in figure at the book's 200 dpi is 1,100 px)."""


def page_problems(browser, base: str, path: str, screenshot: Path | None = None) -> list[str]:
    """Everything wrong with one page, as readable lines (empty: the page is right)."""
    problems, requests = [], []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(base + path, wait_until="networkidle")
    if page.evaluate("() => document.querySelectorAll('.math').length") > 0:
        try:  # MathJax 3 resolves this promise once the page is typeset
            page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                                   timeout=15000)
            page.evaluate("() => MathJax.startup.promise")
        except playwright_api.Error as exc:
            problems.append(f"MathJax never started: {str(exc).splitlines()[0]}")
        untypeset = page.evaluate(
            "() => Array.from(document.querySelectorAll('.math')).filter("
            "e => !e.querySelector('mjx-container') && e.tagName !== 'MJX-CONTAINER').length")
        if untypeset:
            problems.append(f"{untypeset} formulas not typeset by MathJax")
    text = page.evaluate(
        "() => { const m = document.querySelector('main') || document.body;"
        " const c = m.cloneNode(true); c.querySelectorAll('pre, code, script, style, mjx-container,"
        " mjx-assistive-mml').forEach(e => e.remove()); return c.innerText; }")
    raw = re.findall(r"\$[^$\n]{1,80}\$|\\\(.{1,80}?\\\)", text)
    if raw:
        problems.append(f"raw math left in the text: {raw[:3]}")
    if "{glue" in text:
        problems.append(f"raw glue role left in the text: {text[text.index('{glue'):][:40]!r}")
    for href in set(page.evaluate("() => Array.from(document.querySelectorAll('main a[href*=\"#\"]'))"
                                  ".map(a => a.href)")):
        target, fragment = href.split("#", 1)
        if href.startswith(base) and fragment and target != page.url.split("#")[0]:
            answer = page.request.get(target)
            if answer.status != 200 or f'id="{fragment}"' not in answer.text():
                problems.append(f"link {href} does not resolve to a section")
    for src, width in page.evaluate(
            "() => Array.from(document.images).map(i => [i.src, i.complete ? i.naturalWidth : 0])"):
        if not width:
            problems.append(f"image not decoded: {src}")
        elif "/_images/" in src and src.endswith(".png") and width < MIN_FIGURE_PX:
            problems.append(f"figure {width} px wide (< {MIN_FIGURE_PX}): {src}")
    for paragraph in page.evaluate(
            "() => Array.from(document.querySelectorAll('main p, main li, main td, main figcaption'))"
            ".map(p => { const c = p.cloneNode(true); c.querySelectorAll('code, mjx-container, "
            "mjx-assistive-mml, .math').forEach(e => e.remove()); return c.innerText; })"):
        if re.search(r"(?<![A-Za-z_])nan(?![A-Za-z_])|\bNone\b(?=\s*[,;:)\]→]|$)", paragraph):
            problems.append(f"'nan' or 'None' in the text: {paragraph[:80]!r}")
        if paragraph.count("(") != paragraph.count(")"):
            problems.append(f"unbalanced parentheses: {paragraph[:80]!r}")
    for wide in page.evaluate(
            "() => Array.from(document.querySelectorAll('main table')).filter("
            "t => t.getBoundingClientRect().right > document.querySelector('main').getBoundingClientRect().right + 1)"
            ".map(t => (t.innerText || '').slice(0, 60))"):
        problems.append(f"table wider than its column: {wide!r}")
    searches = page.evaluate("() => Array.from(document.querySelectorAll("
                             "'form.bd-search, .search-button-field, input[type=search], button.search-button'))"
                             ".filter(e => e.offsetParent !== null).length")
    if searches != 1:
        problems.append(f"{searches} search boxes on the page (one expected)")
    empty = page.evaluate("() => Array.from(document.querySelectorAll('.pasted-text, .pasted-inline'))"
                          ".filter(e => !e.textContent.trim()).length")
    if empty:
        problems.append(f"{empty} glued values are empty")
    for href in set(page.evaluate("() => Array.from(document.querySelectorAll("
                                  "'.bd-sidebar a[href], nav a.reference.internal[href]'))"
                                  ".map(a => a.href)")):
        if href.startswith(base):
            status = page.request.get(href.split("#")[0]).status
            if status != 200:
                problems.append(f"sidebar link {href} answers {status}")
    if "/book/" in path and not path.endswith("intro.html"):  # a chapter: both downloads
        downloads = page.evaluate("() => Array.from(document.querySelectorAll('a[href*=\"_sources\"]'))"
                                  ".map(a => a.href)")
        for suffix in (".py", ".ipynb"):
            found = [h for h in downloads if h.endswith(suffix)]
            if not found:
                problems.append(f"no {suffix} download")
            elif page.request.get(found[0]).status != 200:
                problems.append(f"{suffix} download {found[0]} does not resolve")
    for url in requests:
        if not url.startswith(base) and not url.startswith("data:"):
            problems.append(f"request off 127.0.0.1: {url}")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return problems


def test_every_page_renders_offline(html_dir, serve, browser):
    base = serve(html_dir)
    screens = REPO / "_build" / "screens"
    report = {}
    for path in toc_pages():
        assert (html_dir / path).is_file(), f"{path} is in _toc.yml but was not built"
        report[path] = page_problems(browser, base, path, screens / (Path(path).stem + ".png"))
    assert report == {path: [] for path in report}
    # the chapters glue numbers, and at least one page has typeset math
    text = (html_dir / "book" / "01_phenomenology.html").read_text()
    assert "pasted-text" in text and (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()


LEDGER_ROW = re.compile(r'<tr><td><a href="([^"]+)">([^<]+)</a></td><td>(.*?)</td><td>(.*?)</td>'
                        r'<td>(.*?)</td>')


def ledger_rows(html: str) -> list[tuple]:
    """(link, claim, paper, measured, verdict) of each row of the ledger tables on a page."""
    import html as html_module

    return [tuple(html_module.unescape(x) for x in row) for row in LEDGER_ROW.findall(html)]


def test_front_page_ledger_is_every_chapters_own_and_ledger_json(html_dir):
    """The front page's rows are the rows each chapter computed for itself, in the chapters'
    kernels, and ledger.json (written by the build) holds the same."""
    import json

    from rarescale.book.ledger import CHAPTERS

    front = ledger_rows((html_dir / "book" / "intro.html").read_text())
    own = [row for ch in CHAPTERS for row in ledger_rows((html_dir / "book" / f"{ch}.html").read_text())]
    assert len(front) >= 20 and front == own
    data = json.loads((html_dir / "ledger.json").read_text())["rows"]
    assert [(r["link"], r["claim"], r["paper"], r["measured"], r["verdict"]) for r in data] == front
    assert any(r["claim"].startswith("C4, C5 (pretraining)") for r in data)


@pytest.mark.parametrize("breakage, expected", [
    ("image", "image not decoded"),
    ("math", "raw math left in the text"),
    ("link", "sidebar link"),
    ("remote", "request off 127.0.0.1"),
    ("glue", "raw glue role"),
    ("anchor", "does not resolve to a section"),
    ("nan", "'nan' or 'None' in the text"),
    ("parenthesis", "unbalanced parentheses"),
    ("table", "table wider than its column"),
    ("search", "search boxes on the page"),
    ("small figure", "px wide"),
])
def test_checker_catches_a_broken_page(html_dir, serve, browser, tmp_path, breakage, expected):
    """The same checks on a copy of the book with one page broken on purpose."""
    copy = tmp_path / "html"
    shutil.copytree(html_dir, copy)
    page = copy / "book" / "01_phenomenology.html"
    html = page.read_text()
    if breakage == "image":
        html = re.sub(r'src="\.\./_images/[^"]+\.png"', 'src="../_images/missing.png"', html, count=1)
    elif breakage == "math":
        html = re.sub(r"(<main[^>]*>)", r"\1<p>an untypeset formula $x^2 + y$</p>", html, count=1)
    elif breakage == "link":
        (copy / "book" / "00_how_to_use.html").unlink()
    elif breakage == "glue":
        html = re.sub(r"(<main[^>]*>)", r"\1<p>a value {glue:text}`n_runs` never filled in</p>", html,
                      count=1)
    elif breakage == "anchor":
        html = re.sub(r"(<main[^>]*>)", r'\1<a href="02_utility_ranking.html#no-such-section">x</a>',
                      html, count=1)
    elif breakage == "nan":
        html = re.sub(r"(<main[^>]*>)", r"\1<p>the seed means nan → 0.03 → 0.05</p>", html, count=1)
    elif breakage == "parenthesis":
        html = re.sub(r"(<main[^>]*>)", r"\1<p>a sentence cut short (Definition</p>", html, count=1)
    elif breakage == "table":
        row = "".join(f"<td>column{i:02d}-with-a-long-unbreakable-value</td>" for i in range(12))
        html = re.sub(r"(<main[^>]*>)", rf"\1<table><tr>{row}</tr></table>", html, count=1)
    elif breakage == "search":
        html = re.sub(r"(<main[^>]*>)", r'\1<form class="bd-search"><input type="search"></form>', html,
                      count=1)
    elif breakage == "small figure":
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(4, 3), dpi=100)  # 400 px
        name = re.search(r'src="\.\./_images/([^"]+\.png)"', html).group(1)
        fig.savefig(copy / "_images" / name)
        plt.close(fig)
    else:
        html = html.replace("</head>", '<script src="https://cdn.example.org/x.js"></script></head>', 1)
    page.write_text(html)
    problems = page_problems(browser, serve(copy), "book/01_phenomenology.html")
    assert any(expected in p for p in problems), problems


def test_a_chapter_opens_as_a_notebook_in_jupyterlab(browser, tmp_path):
    """``make lab``'s server, a chapter opened from its URL: the notebook view, screenshotted."""
    import os
    import socket
    import time
    import urllib.request

    from runners.lab import command

    (tmp_path / "book").mkdir()
    shutil.copy(REPO / "book" / "01_phenomenology.py", tmp_path / "book")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / ".jupyter"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / ".runtime")}
    server = subprocess.Popen(command(tmp_path, port, "tok"), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=tok", timeout=5)
                break
            except OSError:
                time.sleep(0.3)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside = []
        page.on("request", lambda r: None if r.url.startswith(f"http://127.0.0.1:{port}")
                or r.url.startswith("data:") else outside.append(r.url))
        page.goto(f"http://127.0.0.1:{port}/lab/tree/book/01_phenomenology.py?token=tok")
        page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", timeout=60_000)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
        # JupyterLab renders only the cells near the view; its status bar counts them all
        status = page.locator("text=/Cell \\d+\\/\\d+/").first
        status.wait_for(timeout=60_000)
        cells = int(re.search(r"Cell \d+/(\d+)", status.inner_text()).group(1))
        screens = REPO / "_build" / "screens"
        screens.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screens / "jupyterlab_01_phenomenology.png"))
        assert cells >= 10, cells
        assert outside == []
        page.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # never hide the test's own failure behind this one
            server.kill()
            server.wait()


def test_citations_resolve_and_the_execution_table_lists_every_chapter(html_dir, serve, browser):
    """Each citation links to an entry of the references page; the reproducibility page's
    execution table has a row for every chapter."""
    refs = (html_dir / "book" / "references.html").read_text()
    anchors = set(re.findall(r'id="([^"]+)"', refs))
    cited = 0
    for path in toc_pages():
        for target in re.findall(r'href="references\.html#([^"]+)"', (html_dir / path).read_text()):
            assert target in anchors, (path, target)
            cited += 1
    assert cited >= 8
    page = browser.new_page()
    page.goto(serve(html_dir) + "/book/reproducibility.html")
    table = page.locator("table").first.inner_text()
    page.close()
    for path in toc_pages():
        name = Path(path).stem
        if name[:2].isdigit():
            assert name in table, f"{name} missing from the execution table"
