"""AppTest helpers: run app.py as a user would, page by page, in an isolated DEPLOY_ADVISOR_HOME."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TIMEOUT = 120  # first runs import MLflow / train the sample; later runs take milliseconds

PAGES = {
    "model": "ui/model_page.py",
    "workload": "ui/workload_page.py",
    "recommendation": "ui/recommendation_page.py",
    "deploy": "ui/deploy_page.py",
    "deployments": "ui/deployments_page.py",
}


def open_page(at: AppTest | None, page: str) -> AppTest:
    """Run the app (first time) and switch to `page`, like clicking it in the sidebar."""
    if at is None:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGES[page]).run()
    return at


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at: AppTest) -> str:
    """Everything a user can read on the page, as one string (for 'does it say X' checks)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success",
                 "code", "text", "metric"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")))
            if kind == "metric":
                parts.append(str(el.label))
    for el in at.text_area:
        parts.append(str(el.value))
    for el in at.text_input:
        parts.append(str(el.value))
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    for s in at.status:
        parts.append(s.label)
    return "\n".join(parts).replace("\\", "")


def wait_until(at: AppTest, predicate, timeout: float = 90.0, interval: float = 0.5) -> AppTest:
    """Rerun the page (as the polling fragment would) until `predicate(at)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        if predicate(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError("timed out; page says:\n" + texts(at)[-3000:])
        time.sleep(interval)


@pytest.fixture
def app(isolated_home) -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()
