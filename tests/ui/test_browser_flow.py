"""The guided flow in headless Chromium: figures that fit, work that survives a reload, presets that keep the
model's facts, acting on the advice, and export. One server and one browser for the whole file (2 cores)."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from advisor.models import load_profile
from deployers import api
from tests.ui import harness
from tests.ui.harness import ROOT, StreamlitApp, chromium, fill, goto_page, key_class, screenshot, select_option, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]
expect.set_options(timeout=60_000)

# every element inside a card whose content is wider than its box is clipped (ellipsis or overflow)
CLIPPED = """() => {
  const out = [];
  for (const card of document.querySelectorAll('[class*="st-key-card_"]')) {
    for (const el of card.querySelectorAll('*')) {
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'auto'
          && !el.closest('details:not([open])') && !el.closest('[data-testid="stExpander"]'))
        out.push((el.innerText || el.tagName).slice(0, 60) + ' ' + el.scrollWidth + '>' + el.clientWidth);
    }
  }
  for (const el of document.querySelectorAll('[data-testid="stMetricValue"]'))
    if (el.scrollWidth > el.clientWidth + 1) out.push('metric ' + el.innerText);
  return out;
}"""


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    reason = harness.browser_missing()
    if reason:
        print(f"SKIP browser test: {reason}")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("flow-home")
    app = StreamlitApp(home, log_path=ROOT / "test-output" / "streamlit-flow-test.log").start()
    try:
        app.wait_healthy()
        with chromium(viewport=(1400, 900)) as ctx:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            yield app, page
    finally:
        app.stop()


def _open(page, app, path: str = "") -> None:
    page.goto(f"{app.url}/{path}")
    page.get_by_role("heading", level=1).first.wait_for()
    wait_idle(page)


def test_recommendation_figures_are_never_clipped(running):
    app, page = running
    _open(page, app, "recommendation")
    page.locator('[class*="st-key-card_"]').first.wait_for()
    for width in (1100, 1400, 1600):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(400)
        if width in (1100, 1400):
            screenshot(page, f"flow-recommendation-{width}.png")
        assert page.evaluate(CLIPPED) == [], f"clipped at {width} px"


def test_a_workload_edit_survives_a_reload(running):
    app, page = running
    _open(page, app, "workload")
    fill(page, "wf.inference.peak_rps", "77")
    page.locator(key_class("live_ranking")).get_by_text("For 77 rps at peak").wait_for()
    wait_idle(page)
    page.reload()
    page.get_by_role("heading", name="Workload", exact=True).wait_for()
    wait_idle(page)
    expect(page.locator(key_class("wf.inference.peak_rps")).locator("input")).to_have_value("77")
    screenshot(page, "flow-workload-1400.png")


def test_a_preset_leaves_the_model_facts_alone(running):
    app, page = running
    _open(page, app, "workload")
    size = page.locator(key_class("wf.model.size_mb")).locator("input")
    fill(page, "wf.model.size_mb", "3.5")
    wait_idle(page)
    expect(size).to_have_value("3.5")
    other = next(p.stem for p in sorted((ROOT / "examples" / "profiles").glob("*.yaml"))
                 if load_profile(p).model.size_mb != 3.5 and p.stem != "sample")
    select_option(page, "wf_preset", other)
    expect(page.locator(key_class("wf.name")).locator("input")).to_have_value(load_profile(
        ROOT / "examples" / "profiles" / f"{other}.yaml").name)
    expect(size).to_have_value("3.5")


def test_apply_a_change_and_the_ranking_follows(running):
    app, page = running
    _open(page, app, "workload")
    select_option(page, "wf_preset", "sample")
    goto_page(page, "Recommendation")
    rec = api.recommend(load_profile(ROOT / "examples" / "profiles" / "sample.yaml"))
    sens = next(s for s in rec.sensitivity if s.new_winner not in ("none", rec.top.target))
    banner = page.locator('[data-testid="stAlertContentSuccess"]').first
    before = banner.inner_text()
    index = rec.sensitivity.index(sens)
    page.locator(key_class(f"rec_apply_{index}")).get_by_role("button").click()
    wait_idle(page)
    page.get_by_text("Applied:").wait_for()
    title = {"azureml": "Azure ML online endpoint", "aks": "Azure Kubernetes Service", "appservice": "Azure App Service",
             "containerapps": "Azure Container Apps", "azureml-batch": "Azure ML batch endpoint"}[sens.new_winner]
    expect(page.locator('[data-testid="stAlertContentSuccess"]', has_text=title).first).to_be_visible()
    assert banner.inner_text() != before


def test_export_the_recommendation(running, tmp_path):
    app, page = running
    _open(page, app, "recommendation")
    for key, suffix in (("rec_export_json", ".json"), ("rec_export_md", ".md")):
        with page.expect_download() as dl:
            page.locator(key_class(key)).get_by_role("button").click()
        path = tmp_path / f"rec{suffix}"
        dl.value.save_as(path)
        text = path.read_text()
        if suffix == ".json":
            doc = json.loads(text)
            assert doc["recommendation"]["options"] and doc["profile"]["name"]
        else:
            assert text.startswith("# Deployment recommendation") and "## Ranking" in text
