"""AppTest: every page renders; presets load; bad input is shown next to its field; the ranking follows the form."""
from __future__ import annotations

import pytest
import yaml

from advisor.models import WorkloadProfile, load_profile
from deployers import api
from tests.ui.conftest import PAGES, ROOT, no_exception, open_page, texts
from ui import state, words

PRESETS = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_without_exception(app, page):
    at = open_page(app, page)
    no_exception(at)
    assert at.title[0].value.lower() == page
    assert not at.error, [e.value for e in at.error]


def test_sample_preset_is_the_default_profile(app):
    assert (ROOT / "examples" / "profiles" / "sample.yaml").is_file()
    at = open_page(app, "workload")
    expected = load_profile(ROOT / "examples" / "profiles" / "sample.yaml")
    assert at.session_state[state.PROFILE] == expected
    assert at.number_input(key="wf.inference.peak_rps").value == expected.inference.peak_rps
    assert at.selectbox(key="wf_preset").value == "sample"


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_each_preset_loads_into_the_form(app, preset):
    at = open_page(app, "workload")
    other = next((p.stem for p in PRESETS if p != preset), None)
    if at.selectbox(key="wf_preset").value == preset.stem and other:
        at.selectbox(key="wf_preset").select(other).run()  # make the next pick a real change
    model_before = at.session_state[state.PROFILE].model
    at.selectbox(key="wf_preset").select(preset.stem).run()
    no_exception(at)
    # a preset sets the workload only: the model facts stay the chosen model's
    expected = load_profile(preset).model_copy(update={"model": model_before})
    assert at.session_state[state.PROFILE] == expected
    assert at.text_input(key="wf.name").value == expected.name
    assert at.selectbox(key="wf.region").value == expected.region
    assert at.number_input(key="wf.inference.peak_rps").value == expected.inference.peak_rps
    assert at.number_input(key="wf.inference.p95_latency_ms").value == expected.inference.p95_latency_ms
    assert at.selectbox(key="wf.inference.gpu").value == expected.inference.gpu
    assert at.toggle(key="wf.scale.scale_to_zero").value == expected.scale.scale_to_zero
    assert at.multiselect(key="wf.operations.integrations").value == list(expected.operations.integrations)
    assert not at.error, [e.value for e in at.error]


def test_region_is_a_choice_from_the_catalog_with_prices(app):
    at = open_page(app, "workload")
    box = at.selectbox(key="wf.region")
    regions = api.regions()
    assert len(box.options) == len(regions)  # a choice, so a typo cannot be priced at eastus rates
    priced = [o for o in box.options if o.startswith("westeurope")]
    assert priced and "$" in priced[0] and "/h" in priced[0], box.options  # each region's reference price
    box.select("westeurope").run()
    no_exception(at)
    assert at.session_state[state.PROFILE].region == "westeurope"


def test_zero_latency_target_is_rejected_next_to_the_field(app):
    at = open_page(app, "workload")
    before = at.session_state[state.PROFILE]
    at.number_input(key="wf.inference.p95_latency_ms").set_value(0.0).run()
    errors = [e.value for e in at.error]
    assert any(e.startswith("p95 latency target") and "more than 0" in e for e in errors), errors
    assert at.session_state[state.PROFILE] == before  # the last valid profile is kept
    assert any("Fix 1 field" in w.value for w in at.warning)


def test_valid_edit_updates_the_session_profile(app):
    at = open_page(app, "workload")
    at.number_input(key="wf.inference.peak_rps").set_value(345.0).run()
    at.selectbox(key="wf.team.kubernetes_skill").select("expert").run()
    p = at.session_state[state.PROFILE]
    assert p.inference.peak_rps == 345.0 and p.team.kubernetes_skill == "expert"
    assert at.session_state[state.PROFILE_SOURCE] == "edited"


def test_pasted_yaml_is_imported_and_bad_yaml_names_the_field(app):
    at = open_page(app, "workload")
    at.text_area(key="wf_yaml_text").input("inference:\n  peak_rps: -5\n").run()
    next(b for b in at.button if b.label == "Use pasted profile").click().run()
    errors = [e.value for e in at.error]
    assert any("inference.peak_rps" in e.replace("\\", "") for e in errors), errors
    good = {"name": "imported-one", "inference": {"peak_rps": 77, "gpu": "required"}}
    at.text_area(key="wf_yaml_text").input(yaml.safe_dump(good)).run()
    next(b for b in at.button if b.label == "Use pasted profile").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.number_input(key="wf.inference.peak_rps").value == 77.0
    assert at.selectbox(key="wf.inference.gpu").value == "required"
    assert at.session_state[state.PROFILE] == WorkloadProfile.model_validate(good)


def test_pasted_alias_bomb_is_one_error_and_keeps_the_profile(app):
    import time

    from tests.advisor.test_safe_load import ALIAS_BOMB

    at = open_page(app, "workload")
    before = at.session_state[state.PROFILE]
    at.text_area(key="wf_yaml_text").input(ALIAS_BOMB).run()
    t0 = time.perf_counter()
    next(b for b in at.button if b.label == "Use pasted profile").click().run()
    assert time.perf_counter() - t0 < 5  # the whole rerun; plain yaml.safe_load here took minutes and GBs
    no_exception(at)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and "aliases" in errors[0] and len(errors[0]) < 300, errors
    assert at.session_state[state.PROFILE] == before


def test_unknown_yaml_key_is_reported(app):
    at = open_page(app, "workload")
    at.text_area(key="wf_yaml_text").input("inference:\n  peak: 5\n").run()
    next(b for b in at.button if b.label == "Use pasted profile").click().run()
    assert any("unknown field" in e.value for e in at.error)


def test_exported_yaml_round_trips(app):
    at = open_page(app, "workload")
    at.number_input(key="wf.inference.peak_rps").set_value(123.0).run()
    assert [b for b in at.get("download_button") if b.proto.label == "Export YAML"]
    from advisor.models import profile_to_yaml, parse_profile_text
    p = at.session_state[state.PROFILE]
    assert parse_profile_text(profile_to_yaml(p)) == p


def test_live_ranking_matches_the_advisor_and_follows_changes(app):
    at = open_page(app, "workload")
    rec = api.recommend(at.session_state[state.PROFILE])
    page = texts(at)
    for opt in rec.options:
        assert state.TITLES.get(opt.target, opt.target) in page
        assert f"{opt.score:.1f}" in page
    at.number_input(key="wf.inference.peak_rps").set_value(900.0).run()
    rec2 = api.recommend(at.session_state[state.PROFILE])
    page2 = texts(at)
    for opt in rec2.options:
        assert f"{opt.sizing.sku} × {opt.sizing.instances}" in page2


def test_recommendation_page_shows_ranking_criteria_exclusions_and_charts(app):
    at = open_page(app, "recommendation")
    no_exception(at)
    rec = api.recommend(at.session_state[state.PROFILE])
    page = texts(at)
    assert rec.options, "the sample profile should have at least one viable target"
    assert state.TITLES[rec.options[0].target] in at.success[0].value
    for opt in rec.options:
        assert state.TITLES.get(opt.target, opt.target) in page
    for x in rec.excluded:
        assert state.TITLES.get(x.target, x.target) in page
        assert words.plain(x.reasons[0]).replace("\\", "")[:30] in page  # field=value pairs in words
    assert f"Prices as of {rec.prices_as_of}" in page
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 2  # criteria heatmap + cost against traffic
    assert any(s.value == "What would change the answer" for s in at.subheader)


def test_recommendation_follows_the_workload_form(app):
    at = open_page(app, "workload")
    at.selectbox(key="wf.inference.gpu").select("required").run()
    at.toggle(key="wf.team.needs_kubernetes_api").set_value(True).run()
    at = open_page(at, "recommendation")
    p = at.session_state[state.PROFILE]
    assert p.inference.gpu == "required" and p.team.needs_kubernetes_api
    rec = api.recommend(p)
    if rec.top is not None:
        assert state.TITLES[rec.top.target] in at.success[0].value
    else:
        assert "No Azure target fits" in at.error[0].value


def test_cost_curve_varies_peak_traffic_only(isolated_home):
    p = load_profile(ROOT / "examples" / "profiles" / "sample.yaml")
    rows = state.cost_curve(p)
    assert rows
    rps = sorted({r["peak_rps"] for r in rows})
    assert p.inference.peak_rps in rps and len(rps) >= 8
    # each point is the advisor's own answer for that traffic
    probe = next(r for r in rows if r["peak_rps"] == max(rps))
    ratio = p.inference.average_rps / p.inference.peak_rps
    inference = p.inference.model_copy(update={"peak_rps": probe["peak_rps"],
                                               "average_rps": round(probe["peak_rps"] * min(ratio, 1.0), 4)})
    rec = api.recommend(p.model_copy(update={"inference": inference}))
    opt = next(o for o in rec.options if o.target == probe["target"])
    assert probe["monthly_usd"] == round(opt.cost.monthly_usd, 2)


def test_model_page_validates_azureml_references_before_use(app):
    at = open_page(app, "model")
    at.segmented_control(key="model_source").set_value("azureml").run()
    at.text_input(key="model_azureml").input("azureml:bad name; rm -rf /").run()
    use = next(b for b in at.button if b.label == "Use this model")
    assert use.disabled
    assert any("expected azureml:" in c.value.replace("\\", "") for c in at.caption)
    at.text_input(key="model_azureml").input("azureml:fraud-model:3").run()
    assert not next(b for b in at.button if b.label == "Use this model").disabled


def test_model_page_reports_an_unknown_folder(app, tmp_path):
    at = open_page(app, "model")
    at.segmented_control(key="model_source").set_value("path").run()
    at.text_input(key="model_path").input(str(tmp_path / "nope")).run()
    next(b for b in at.button if b.label == "Use this model").click().run()
    no_exception(at)
    assert at.error and "could not use the model" in at.error[0].value
    assert at.session_state[state.MODEL_URI] == state.SAMPLE_URI  # unchanged


def test_model_page_resolves_the_sample_and_fills_the_profile(home_with_sample):
    at = open_page(None, "model")
    at = open_page(at, "workload")
    at.selectbox(key="wf.model.framework").select("pytorch").run()
    assert at.session_state[state.PROFILE].model.framework == "pytorch"
    at = open_page(at, "model")
    next(b for b in at.button if b.label == "Use this model").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    info = api.resolve_model(state.SAMPLE_URI)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Framework"] == info.framework == "sklearn"
    assert metrics["Flavor"] == info.flavor
    assert at.session_state[state.PROFILE].model.framework == "sklearn"
    at = open_page(at, "workload")
    assert at.selectbox(key="wf.model.framework").value == "sklearn"  # the form follows the resolved model


def test_model_page_lists_the_registry_and_uses_a_registered_model(home_with_sample):
    at = open_page(None, "model")
    at.segmented_control(key="model_source").set_value("registry").run()
    no_exception(at)
    listed = [m.uri for m in api.list_models()]
    choice = at.selectbox(key="model_registry_choice")
    assert choice.options == listed and listed
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state.MODEL_URI] == listed[0]
    assert at.session_state[state.MODEL_INFO]["uri"] == api.resolve_model(listed[0]).uri
