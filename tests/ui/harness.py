"""Run the real app (`streamlit run app.py`) and drive it with Debian's Chromium through Playwright.

Shared by the browser test and benchmarks/ui.py. Never downloads a browser:
it uses /usr/bin/chromium (scripts/install-browser.sh installs it).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


def browser_missing() -> Optional[str]:
    """Why the browser cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing: run scripts/install-browser.sh (as root) to enable the browser test"
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (it is in requirements.txt)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def key_class(key: str) -> str:
    """The CSS class Streamlit gives an element with `key` (non [A-Za-z0-9_-] become '-')."""
    return ".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


class StreamlitApp:
    """`streamlit run app.py` on a free port bound to 127.0.0.1, with its own DEPLOY_ADVISOR_HOME."""

    def __init__(self, home: Path, port: Optional[int] = None, log_path: Optional[Path] = None):
        self.home, self.port = Path(home), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or (self.home.parent / f"streamlit-{self.port}.log")
        self.proc: Optional[subprocess.Popen] = None
        self.started_at = 0.0

    def start(self) -> "StreamlitApp":
        env = {**os.environ, "DEPLOY_ADVISOR_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        env.pop("MLFLOW_TRACKING_URI", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Seconds from start until /_stcore/health answers ok."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited ({self.proc.returncode}); log:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started_at
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"streamlit did not become healthy in {timeout} s; log:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group (start_new_session)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()
        self.proc = None


@contextmanager
def chromium(viewport: tuple[int, int] = (1440, 1000)) -> Iterator[object]:
    """A headless Chromium context with a fresh user-data dir (thrown away afterwards)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="da-chromium-")
    try:
        with sync_playwright() as pw:
            ctx = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]}, accept_downloads=True)
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ---------------------------------------------------------------- page helpers

def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has finished the current script run: no running icon, no stale elements."""
    page.wait_for_timeout(150)  # let a just-triggered rerun start
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')",
        timeout=timeout_ms, polling=50)


def goto_page(page, title: str) -> None:
    """Click a page in the sidebar navigation, like a user."""
    page.locator(f'a[data-testid="stSidebarNavLink"]:has(span[label="{title}"])').click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=30_000)
    wait_idle(page)


def select_option(page, key: str, option: str) -> None:
    """Pick `option` in the selectbox with widget `key`."""
    page.locator(key_class(key)).get_by_role("combobox").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def fill(page, key: str, value: str, submit: bool = True) -> None:
    """Type into the text/number input with widget `key` and commit it (Enter)."""
    box = page.locator(key_class(key)).locator("input, textarea").first
    box.fill(value)
    if submit:
        box.press("Enter" if box.evaluate("e => e.tagName") == "INPUT" else "Control+Enter")


def click_button(page, label: str, key: Optional[str] = None) -> None:
    scope = page.locator(key_class(key)) if key else page
    scope.get_by_role("button", name=label).first.click()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    # Streamlit scrolls inside its main container, so grow the viewport to the content for a whole-page shot.
    size = page.viewport_size
    height = page.evaluate("() => { const b = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
                           " const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return Math.max(b ? b.offsetTop + b.scrollHeight + 24 : 0, m ? m.scrollHeight : 0,"
                           " document.body.scrollHeight); }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 8000))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
