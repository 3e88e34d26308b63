"""Check a built site in headless Chromium: every page loads without errors, every image shows, every
internal link (and its #fragment) resolves; screenshots of chosen pages.

The site is served over HTTP on 127.0.0.1 (as a reader's browser would fetch it) and Chromium is driven
through the DevTools protocol over a websocket (``websocket-client``). ``ensure_chromium()`` installs
Debian's ``chromium`` package when it is missing and the process may (root, ``apt-get``); it raises
:class:`ChromiumUnavailable` with the reason otherwise.
"""
from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Browser", "ChromiumUnavailable", "SiteReport", "check_site", "ensure_chromium", "find_chromium"]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio"]


class ChromiumUnavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here; the message says why."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_chromium(install: bool = True) -> str:
    """The Chromium executable, installing Debian's ``chromium`` package first if needed and allowed."""
    found = find_chromium()
    if found:
        return found
    if not install:
        raise ChromiumUnavailable("chromium is not installed (Debian: apt-get install -y chromium)")
    if shutil.which("apt-get") is None:
        raise ChromiumUnavailable("chromium is not installed and this system has no apt-get to install it")
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise ChromiumUnavailable("chromium is not installed and installing it needs root "
                                  "(run: sudo apt-get install -y chromium)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = []
    for cmd in (["apt-get", "install", "-y", "-q", "chromium"], ["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "chromium"]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
        log.append(f"$ {' '.join(cmd)} -> exit {proc.returncode}\n{proc.stderr.strip()[-800:]}")
        if cmd[1] == "install" and proc.returncode == 0 and find_chromium():
            return find_chromium()  # type: ignore[return-value]
    raise ChromiumUnavailable("chromium could not be installed:\n" + "\n".join(log))


# ------------------------------------------------------------------------------------------------ DevTools
class Browser:
    """One headless Chromium with one page, driven over the DevTools protocol."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900):
        self.executable = executable
        self.size = (width, height)
        self._profile = tempfile.TemporaryDirectory(prefix="nmlc-chromium-", ignore_cleanup_errors=True)
        self._proc: subprocess.Popen | None = None
        self._ws: Any = None
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:  # noqa: PYI034 -- typing.Self needs Python 3.11, nmlc supports 3.10
        import websocket

        profile = self._profile.name
        self._proc = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", f"--window-size={self.size[0]},{self.size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)  # its own process group: Chromium's helper processes end with it
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self._proc.poll() is not None:
                err = self._proc.stderr.read() if self._proc.stderr else ""
                raise ChromiumUnavailable(f"chromium exited at start (code {self._proc.returncode}): {err[-1500:]}")
            if time.monotonic() > deadline:
                raise ChromiumUnavailable("chromium did not open its DevTools port within 60 s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=30) as resp:
            target = json.loads(resp.read())
        self._ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.size[0], height=self.size[1],
                  deviceScaleFactor=1, mobile=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):  # closing a dead socket: nothing left to do
                self._ws.close()
        if self._proc is not None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
            if self._proc.stderr:
                self._proc.stderr.close()
        # helpers may still be flushing the profile for a moment after the browser exits
        for _ in range(20):
            shutil.rmtree(self._profile.name, ignore_errors=True)
            if not os.path.exists(self._profile.name):
                break
            time.sleep(0.25)
        self._profile.cleanup()

    def _signal_group(self, sig: int) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)  # the group this Browser started, and nothing else

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile are kept in ``events``."""
        self._next_id += 1
        my_id = self._next_id
        self._ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        self._ws.settimeout(timeout)
        while time.monotonic() < deadline:
            msg = json.loads(self._ws.recv())
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"no {method} within {timeout} s")

    def open(self, url: str, timeout: float = 60.0) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", timeout)
        # let late image decodes and scripts settle
        self.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))", await_promise=True)

    def evaluate(self, expression: str, await_promise: bool = False) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise)
        if "exceptionDetails" in res:
            raise RuntimeError(f"script failed: {res['exceptionDetails'].get('text')}")
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path, max_height: int = 6000) -> Path:
        """A PNG of the whole page (up to ``max_height`` CSS pixels)."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics.get("contentSize")
        height = min(int(size["height"]), max_height)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": self.size[0], "height": height, "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


# ------------------------------------------------------------------------------------------------ site check
@dataclass
class SiteReport:
    pages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    images: int = 0
    links: int = 0
    screenshots: dict[str, Path] = field(default_factory=dict)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # per page: figures, validation_table, title


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


_PAGE_FACTS = """(() => {
  const imgs = Array.from(document.images);
  return {
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src')),
    images: imgs.length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    figures: document.querySelectorAll('figure img, div.figure img').length,
    validation_table: !!document.querySelector('section#validation table'),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id)
       .concat(Array.from(document.querySelectorAll('a[name]')).map(e => e.getAttribute('name'))),
    title: document.title,
  };
})()"""


def _page_errors(events: list[dict[str, Any]], page: str) -> list[str]:
    out = []
    for ev in events:
        m, p = ev["method"], ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"{page}: script error: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"{page}: console error: {e.get('text')} {e.get('url', '')}".rstrip())
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            out.append(f"{page}: console.error: {' '.join(str(a.get('value', '')) for a in p.get('args', []))}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"{page}: a resource failed to load: {p.get('errorText')}")
        elif m == "Network.responseReceived" and p.get("response", {}).get("status", 200) >= 400:
            r = p["response"]
            out.append(f"{page}: HTTP {r['status']} for {r['url']}")
    return out


def check_site(site: str | Path, screenshots: dict[str, str] | None = None, screenshot_dir: str | Path | None = None,
               executable: str | None = None, pages: list[str] | None = None) -> SiteReport:
    """Visit every HTML page of ``site`` (or the given relative ``pages``); report errors, broken images
    and broken internal links. ``screenshots`` maps a name to a page to photograph into ``screenshot_dir``."""
    site = Path(site).resolve()
    if not (site / "index.html").exists():
        raise FileNotFoundError(f"{site} has no index.html: build the site first (nox -s docs)")
    executable = executable or ensure_chromium()
    all_pages = pages or sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                                if "_sources" not in p.parts and "_static" not in p.parts)
    report = SiteReport()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    ids: dict[str, set[str]] = {}
    links: dict[str, list[str]] = {}
    try:
        with Browser(executable) as browser:
            for page in all_pages:
                browser.open(base + page)
                facts = browser.evaluate(_PAGE_FACTS)
                report.pages.append(page)
                report.problems += _page_errors(browser.events, page)
                report.problems += [f"{page}: image does not show: {src}" for src in facts["broken"]]
                report.images += facts["images"]
                ids[page] = set(facts["ids"])
                report.facts[page] = {k: facts[k] for k in ("figures", "validation_table", "title", "images")}
                links[page] = facts["links"]
                if screenshots and screenshot_dir:
                    for name, target in screenshots.items():
                        if target == page:
                            report.screenshots[name] = browser.screenshot(Path(screenshot_dir) / f"{name}.png")
    finally:
        server.shutdown()
        server.server_close()
    for page, hrefs in links.items():
        for href in hrefs:
            if not href.startswith(base):
                continue  # external links are not this site's to check (and there is no internet here)
            report.links += 1
            parsed = urllib.parse.urlparse(href)
            rel = urllib.parse.unquote(parsed.path[len(urllib.parse.urlparse(base).path):])
            target = site / rel
            if target.is_dir():
                target, rel = target / "index.html", (rel.rstrip("/") + "/index.html").lstrip("/")
            if not target.exists():
                report.problems.append(f"{page}: broken link to {rel}")
            elif parsed.fragment and rel in ids and urllib.parse.unquote(parsed.fragment) not in ids[rel]:
                report.problems.append(f"{page}: link to {rel}#{parsed.fragment}: no such anchor")
    return report
