"""AppTest: the Deploy and Deployments pages against the real local target (a real server on 127.0.0.1)."""
from __future__ import annotations

import pytest

from deployers import api
from tests.ui.conftest import no_exception, open_page, texts, wait_until
from ui import state


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def _plan_local(at, name="ui-test-local"):
    at = open_page(at, "deploy")
    at.selectbox(key="dp_target").select("local").run()
    at.text_input(key="dp_name").input(name).run()
    _button(at, "Preflight and plan").click().run()
    no_exception(at)
    return at


def test_deploy_page_defaults_to_the_top_deployable_recommendation(app):
    at = open_page(app, "deploy")
    no_exception(at)
    rec = api.recommend(at.session_state[state.PROFILE])
    deployable = {t["name"] for t in api.targets() if t["deployable"]}
    expected = next((o.target for o in rec.options if o.target in deployable), "local")
    assert at.selectbox(key="dp_target").value == expected


def test_local_plan_lists_preflight_plan_and_artifacts(home_with_sample):
    at = _plan_local(None)
    assert not at.error, [e.value for e in at.error]
    subheaders = [s.value for s in at.subheader]
    assert subheaders[:4] == ["Preflight", "Plan", "Artifacts", "Apply"]
    the_plan = at.session_state["dp_plan"]
    findings = at.session_state["dp_findings"]
    assert the_plan.target == "local" and the_plan.name == "ui-test-local"
    page = texts(at)
    for f in findings:
        assert f.check in page
    for a in the_plan.actions:
        assert a.resource in page
    assert {m.label: m.value for m in at.metric}["Create"] == str(sum(a.kind == "create" for a in the_plan.actions))
    if the_plan.artifacts:
        first = sorted(the_plan.artifacts)[0]
        assert at.selectbox(key="dp_artifact").value == first
        assert any(c.value.strip() == the_plan.artifacts[first].strip() for c in at.code)
    assert not _button(at, "Apply").disabled


def test_settings_form_is_generated_from_the_plugin_settings(app):
    at = open_page(app, "deploy")
    at.selectbox(key="dp_target").select("local").run()
    widgets = {w.key: w for w in (*at.number_input, *at.toggle, *at.text_input, *at.selectbox, *at.text_area)}
    model = api.settings_model("local")
    for name, info in model.model_fields.items():
        w = widgets[f"ds.local.{name}"]
        if info.description:
            assert w.help == info.description
        default = info.get_default(call_default_factory=True)
        if isinstance(default, (bool, int, float)):
            assert w.value == default


def test_changed_settings_reach_the_plan_and_defaults_stay_out(home_with_sample):
    at = open_page(None, "deploy")
    at.selectbox(key="dp_target").select("local").run()
    at.number_input(key="ds.local.max_batch").set_value(8).run()
    at = _plan_local(at, "ui-settings")
    the_plan = at.session_state["dp_plan"]
    assert the_plan.spec.settings == {"max_batch": 8}
    assert the_plan.settings.get("max_batch") == 8


def test_changed_inputs_invalidate_the_plan(home_with_sample):
    at = _plan_local(None)
    assert at.session_state.get("dp_plan") is not None
    at.text_input(key="dp_name").input("ui-test-other").run()
    assert any("plan again" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Apply"]


def test_invalid_deployment_name_is_rejected_inline(app):
    at = open_page(app, "deploy")
    at.text_input(key="dp_name").input("Bad_Name").run()
    assert any("invalid deployment name" in e.value.replace("\\", "") for e in at.error)
    assert _button(at, "Preflight and plan").disabled


def test_azure_target_without_credentials_plans_but_cannot_apply(home_with_sample):
    deployable = {t["name"] for t in api.targets() if t["deployable"]}
    target = next((t for t in ("azureml", "appservice", "aks") if t in deployable), None)
    if target is None:
        pytest.skip("no Azure deployer installed yet")
    instructions = api.credentials_missing(target)
    assert instructions, "no AZURE_* variables in tests: the target must say how to sign in"
    at = open_page(None, "deploy")
    at.selectbox(key="dp_target").select(target).run()
    at.text_input(key="dp_name").input("ui-test-cloud").run()
    assert any(c.value == instructions for c in at.code)
    _button(at, "Preflight and plan").click().run()
    no_exception(at)
    assert at.session_state.get("dp_plan") is not None, [e.value for e in at.error]
    assert _button(at, "Apply").disabled
    assert any("Azure sign-in is missing" in c.value.replace("\\", "") for c in at.caption)
    assert [b for b in at.get("download_button") if "zip" in b.proto.label]


@pytest.mark.slow
def test_apply_try_it_and_destroy_through_the_pages(home_with_sample):
    """The whole user journey on the local target, as the browser test does it, without a browser."""
    name = "ui-e2e-local"
    at = _plan_local(None, name)
    _button(at, "Apply").click().run()
    assert at.query_params.get("deployment") in (name, [name])
    try:
        at = wait_until(at, lambda a: a.status and a.status[0].state in ("complete", "error"), timeout=180)
        assert at.status[0].state == "complete", texts(at)[-2000:]
        assert "succeeded" in at.status[0].label
        row = api.get_deployment(name)
        assert row and row["status"] == "running"
        page = texts(at)
        assert row["endpoint_url"] in page
        assert "curl" in page
        # try it: the input example fills a table of the model's columns; Send answers 200, one label per row
        assert "input_data" in at.session_state[f"dp_try.body.{name}"]
        _button(at, "Send").click().run()
        no_exception(at)
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["HTTP status"] == "200", texts(at)[-2000:]
        assert metrics["Latency"].endswith(" ms")
        labelled = [d.value for d in at.dataframe if "prediction" in d.value.columns]
        assert labelled and len(labelled[0]) >= 1
        assert "curl" in texts(at) and "SCORING_KEY" in texts(at)  # snippets name the key, never show it
        # wrong columns: the endpoint's own message, not an HTTP 500 or a traceback
        at.session_state[f"dp_try.mode.{name}"] = "JSON"
        at.run()
        at.text_area(key=f"dp_try.body.{name}").input('{"input_data": {"columns": ["nope"], "data": [[1]]}}').run()
        _button(at, "Send").click().run()
        no_exception(at)
        refused = [e.value for e in at.error if "refused the request" in e.value]
        assert refused and "HTTP 4" in refused[0], texts(at)[-1500:]
        # the endpoint key never reaches the page
        key_files = list((home_with_sample / "local").rglob("key"))
        assert key_files
        for kf in key_files:
            secret = kf.read_text().strip()
            assert secret and secret not in texts(at)

        # a browser reload is a new session: the URL's query string brings the progress and result back
        after = at.query_params.get("after")
        reloaded = open_page(None, "deploy")
        reloaded.query_params.update({"deployment": name, "after": after if isinstance(after, str) else after[0]})
        reloaded.run()
        no_exception(reloaded)
        assert reloaded.status and reloaded.status[0].state == "complete"
        assert row["endpoint_url"] in texts(reloaded)
        assert "input_data" in reloaded.session_state[f"dp_try.body.{name}"]

        at = open_page(at, "deployments")
        no_exception(at)
        assert name in texts(at)
        assert at.selectbox(key="dl_selected").value == name
        _button(at, "Refresh status").click().run()
        assert "running" in texts(at)
        assert any("apply" in d.value.to_csv() for d in at.dataframe if "run" in d.value.columns)  # run history
        destroy = _button(at, "Destroy")
        assert destroy.disabled
        at.text_input(key=f"dl_confirm.{name}").input(name[:-1]).run()
        assert _button(at, "Destroy").disabled
        at.text_input(key=f"dl_confirm.{name}").input(name).run()
        _button(at, "Destroy").click().run()
        no_exception(at)
        assert any(name in s.value.replace("\\", "") for s in at.success)
        assert api.get_deployment(name)["status"] == "destroyed"
        assert api.status(name).state in ("not-found", "stopped")
        assert any("No active deployments" in i.value for i in at.info)
    finally:
        api.destroy(name)


def test_deployments_page_is_empty_on_a_fresh_machine(app):
    at = open_page(app, "deployments")
    no_exception(at)
    assert any("No deployments yet" in i.value for i in at.info)


@pytest.mark.parametrize("target", [t["name"] for t in api.targets() if t["deployable"]])
def test_every_installed_target_gets_a_settings_form(app, target):
    at = open_page(app, "deploy")
    at.selectbox(key="dp_target").select(target).run()
    no_exception(at)
    model = api.settings_model(target)
    keys = {w.key for w in (*at.number_input, *at.toggle, *at.text_input, *at.selectbox, *at.text_area,
                            *at.multiselect)}
    from ui import forms
    for spec in forms.field_specs(model):
        assert f"ds.{target}.{spec.path}" in keys
    # the untouched form is valid: no inline errors, and planning is allowed
    assert not at.error, [e.value for e in at.error]
    assert not _button(at, "Preflight and plan").disabled
