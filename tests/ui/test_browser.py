"""The real thing: `streamlit run app.py` driven by headless Chromium through a user's whole journey.

preset -> recommendation -> deploy the sample model to `local` -> try it -> reload -> destroy,
asserting what a user sees, with a screenshot of each page in test-output/screenshots/.
Skipped (with the reason printed) only when /usr/bin/chromium is missing.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from advisor.models import load_profile
from deployers import api
from tests.ui import harness
from tests.ui.harness import (ROOT, StreamlitApp, chromium, click_button, fill, goto_page, key_class, screenshot,
                              select_option, wait_idle)
from ui import state

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

NAME = "browser-local"
expect.set_options(timeout=60_000)


@pytest.fixture
def browser_or_skip():
    reason = harness.browser_missing()
    if reason:
        print(f"SKIP browser test: {reason}")
        pytest.skip(reason)


def _preset() -> str:
    """A preset whose advice has a viable target (prefer one that is not the default)."""
    names = [p.stem for p in sorted((ROOT / "examples" / "profiles").glob("*.yaml"))]
    others = [n for n in names if n != "sample"] + ["sample"]
    for n in others:
        if api.recommend(load_profile(ROOT / "examples" / "profiles" / f"{n}.yaml")).options:
            return n
    return "sample"


def _visible_text(page) -> str:
    return page.locator("body").inner_text()


def test_user_journey_in_chromium(browser_or_skip, home_with_sample):
    preset = _preset()
    profile = load_profile(ROOT / "examples" / "profiles" / f"{preset}.yaml")
    rec = api.recommend(profile)
    top_title = state.TITLES[rec.options[0].target]
    app = StreamlitApp(home_with_sample, log_path=ROOT / "test-output" / "streamlit-browser-test.log").start()
    seen: list[str] = []
    try:
        app.wait_healthy()
        with chromium() as ctx:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            try:
                secrets = _journey(page, app, preset, profile, rec, top_title, home_with_sample, seen)
            except Exception:
                screenshot(page, "failure.png")  # what the user would have seen when it broke
                print("page text at failure:\n" + _visible_text(page)[-3000:])
                print("server log:\n" + app.log())
                raise
        assert api.get_deployment(NAME)["status"] == "destroyed"
        for secret in secrets:
            assert all(secret not in text for text in seen), "the endpoint key reached the page"
    finally:
        app.stop()
        api.destroy(NAME)


def _journey(page, app, preset, profile, rec, top_title, home, seen) -> list[str]:
    """The user's steps; returns the endpoint keys that existed (to check none reached the page)."""
    page.goto(app.url)

    # Model: the sample model resolves and its facts are shown
    page.get_by_role("heading", name="Model", exact=True).wait_for()
    wait_idle(page)
    click_button(page, "Use this model")
    page.get_by_text("sample-classifier", exact=False).first.wait_for()
    page.locator('[data-testid="stMetricValue"]', has_text="sklearn").first.wait_for()
    seen.append(_visible_text(page))
    screenshot(page, "01-model.png")

    # Workload: a preset fills the form and the live ranking follows it
    goto_page(page, "Workload")
    select_option(page, "wf_preset", preset)
    name_box = page.locator(key_class("wf.name")).locator("input")
    expect(name_box).to_have_value(profile.name)
    ranking = page.locator(key_class("live_ranking"))
    ranking.get_by_text(f"1. {top_title}").wait_for()
    seen.append(_visible_text(page))
    screenshot(page, "02-workload.png")

    # Recommendation: the winner, cards, charts, price date
    goto_page(page, "Recommendation")
    page.locator('[data-testid="stAlertContentSuccess"]', has_text=top_title).wait_for()
    page.get_by_text("Recommended", exact=False).first.wait_for()
    page.get_by_text(f"Prices as of {rec.prices_as_of}").wait_for()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for()
    assert charts.count() >= 2
    page.wait_for_timeout(500)  # let Vega finish drawing before the screenshot
    seen.append(_visible_text(page))
    screenshot(page, "03-recommendation.png")

    # Deploy: default target is the top deployable recommendation; pick local and plan
    goto_page(page, "Deploy")
    deployable = {t["name"] for t in api.targets() if t["deployable"]}
    default = next((o.target for o in rec.options if o.target in deployable), "local")
    expect(page.locator(key_class("dp_target")).get_by_role("combobox")).to_have_value(
        re.compile("^" + re.escape(state.TITLES[default])))
    if default != "local":
        # an Azure target with no credentials: plan and export work, Apply is disabled with the sign-in text
        page.get_by_text("Apply needs Azure sign-in").wait_for()
        click_button(page, "Preflight and plan")
        page.get_by_role("heading", name="Artifacts", exact=True).wait_for(timeout=120_000)
        wait_idle(page)
        expect(page.get_by_role("button", name="Apply")).to_be_disabled()
        page.get_by_text("Azure sign-in is missing").wait_for()
        expect(page.locator(key_class("dp_zip")).get_by_role("button")).to_be_enabled()
        seen.append(_visible_text(page))
        screenshot(page, "04-deploy-azure-no-credentials.png")
    select_option(page, "dp_target", state.TITLES["local"])
    fill(page, "dp_name", NAME)
    wait_idle(page)
    click_button(page, "Preflight and plan")
    page.get_by_role("heading", name="Preflight", exact=True).wait_for(timeout=120_000)
    page.get_by_role("heading", name="Plan", exact=True).wait_for()
    wait_idle(page)  # while Streamlit reruns, the Azure plan's stale elements may still be on the page
    expect(page.get_by_role("heading", name="Artifacts", exact=True)).to_have_count(1)
    seen.append(_visible_text(page))
    screenshot(page, "05-deploy-plan-local.png")

    # Apply: live progress, then the endpoint and a curl line
    click_button(page, "Apply")
    page.get_by_text(re.compile(rf"Deploying {NAME}|{NAME}: ")).first.wait_for(timeout=30_000)
    screenshot(page, "06-deploy-progress.png")
    page.get_by_text(re.compile(rf"{NAME}: (succeeded|no-change) in")).first.wait_for(timeout=180_000)
    wait_idle(page)
    row = api.get_deployment(NAME)
    assert row and row["status"] == "running"
    secrets = [kf.read_text().strip() for kf in (home / "local").rglob("key")]
    assert secrets and all(secrets), "the local target keeps its key in <home>/local/<name>/key"
    result = page.locator(key_class("dp_result"))
    result.get_by_text(row["endpoint_url"]).first.wait_for()
    result.get_by_text("curl", exact=False).first.wait_for()
    seen.append(_visible_text(page))
    screenshot(page, "07-deployed.png")

    # Try it: the input example goes to the real server and the answer comes back, one label per row
    # the input example fills a table of the model's columns (an editable grid)
    page.locator(key_class(f"dp_try.table.{NAME}")).wait_for()
    click_button(page, "Send")
    page.locator('[data-testid="stMetric"]', has_text="HTTP status").locator(
        '[data-testid="stMetricValue"]', has_text="200").wait_for()
    page.locator('[data-testid="stMetric"]', has_text="Latency").wait_for()
    seen.append(_visible_text(page))
    screenshot(page, "08-try-it.png")

    # A reload keeps the deployment's progress and result (query string + ledger)
    page.reload()
    page.get_by_text(re.compile(rf"{NAME}: (succeeded|no-change) in")).first.wait_for()
    page.locator(key_class("dp_result")).get_by_text(row["endpoint_url"]).first.wait_for()

    # Deployments: the ledger, then destroy with typed-name confirmation
    goto_page(page, "Deployments")
    page.get_by_role("heading", name=NAME).wait_for()
    page.get_by_role("tab", name="Events").click()
    seen.append(_visible_text(page))
    screenshot(page, "09-deployments.png")
    page.get_by_role("tab", name="Destroy").click()
    destroy = page.locator(key_class(f"dl_destroy.{NAME}")).get_by_role("button")
    expect(destroy).to_be_disabled()
    fill(page, f"dl_confirm.{NAME}", NAME)
    expect(destroy).to_be_enabled()
    # styled as destructive: a red button, not the app's blue primary
    assert destroy.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(196, 49, 75)"
    screenshot(page, "09b-destroy.png")
    destroy.click()
    page.locator('[data-testid="stAlertContentSuccess"]', has_text=NAME).wait_for(timeout=60_000)
    page.get_by_text("No active deployments").wait_for()
    seen.append(_visible_text(page))
    screenshot(page, "10-destroyed.png")
    return secrets
