"""AppTest: the guided flow (steps, welcome, work kept in the URL and the draft), model facts apart from the
workload, acting on the advice (apply a change, compare, export), and the plain words it is said in."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from advisor.models import ProfileError, load_profile
from deployers import api
from tests.ui.conftest import APP, ROOT, TIMEOUT, no_exception, open_page, texts
from ui import state, words

SAMPLE = ROOT / "examples" / "profiles" / "sample.yaml"


def _param(at: AppTest, key: str) -> str:
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_steps_welcome_and_next(app):
    at = open_page(app, "model")
    no_exception(at)
    page = texts(at)
    assert "Welcome to Deploy Advisor" in page
    assert "1. Model" in page and "5. Operate" in page
    _button(at, "Got it").click().run()
    assert "Welcome to Deploy Advisor" not in texts(at)
    _button(at, "Next: Workload").click().run()
    no_exception(at)
    assert at.title[0].value == "Workload"
    # the welcome stays dismissed in a new session once the draft is read (it remembers it); the Model page's
    # first run does not read the draft (it opens before deployers.api is imported)
    again = open_page(None, "workload")
    assert "Welcome to Deploy Advisor" not in texts(again)


def test_a_shared_link_and_the_draft_restore_the_work(app):
    at = open_page(app, "workload")
    at.number_input(key="wf.inference.peak_rps").set_value(321.0).run()
    at.selectbox(key="wf.team.kubernetes_skill").select("expert").run()
    link = _param(at, state.Q_PROFILE)
    assert link and _param(at, state.Q_MODEL) == state.SAMPLE_URI
    # a reload / shared link: a new session with the same query string
    fresh = AppTest.from_file(APP, default_timeout=TIMEOUT)
    fresh.query_params.update({state.Q_PROFILE: link, state.Q_MODEL: state.SAMPLE_URI})
    fresh.run()
    fresh.switch_page("ui/workload_page.py").run()
    no_exception(fresh)
    assert fresh.number_input(key="wf.inference.peak_rps").value == 321.0
    assert fresh.selectbox(key="wf.team.kubernetes_skill").value == "expert"
    # no query string at all (the bare address): the draft in the state dir brings it back
    bare = open_page(None, "workload")
    assert bare.session_state[state.PROFILE].inference.peak_rps == 321.0


def test_a_broken_link_says_so_and_starts_from_the_sample(app):
    fresh = AppTest.from_file(APP, default_timeout=TIMEOUT)
    fresh.query_params.update({state.Q_PROFILE: "not-a-workload"})
    fresh.run()
    no_exception(fresh)
    assert any("could not be restored" in w.value for w in fresh.warning)
    assert fresh.session_state[state.PROFILE] == load_profile(SAMPLE)


def test_work_round_trips_through_the_url_encoding():
    p = load_profile(SAMPLE).model_copy(update={"name": "round <trip> `x`"})
    text = state.encode_work(p, {"framework": "xgboost"})
    back, facts = state.decode_work(text)
    assert back == p and facts["framework"] == "xgboost"
    assert len(text) < 1000
    with pytest.raises(ProfileError):
        state.decode_work(text[:-8] + "AAAAAAAA")


def test_empty_paste_is_an_inline_message_not_a_reset(app):
    at = open_page(app, "workload")
    at.number_input(key="wf.inference.peak_rps").set_value(55.0).run()
    before = at.session_state[state.PROFILE]
    _button(at, "Use pasted profile").click().run()
    no_exception(at)
    assert any("Paste a profile" in i.value for i in at.info)
    assert at.session_state[state.PROFILE] == before
    assert at.number_input(key="wf.inference.peak_rps").value == 55.0


def test_overridden_model_facts_are_marked_and_can_be_reset(app):
    at = open_page(app, "workload")
    facts = at.session_state[state.MODEL_FACTS]
    at.number_input(key="wf.model.size_mb").set_value(99.0).run()
    assert "overridden" in texts(at)
    _button(at, "Use the model's facts").click().run()
    no_exception(at)
    assert at.session_state[state.PROFILE].model.size_mb == facts["size_mb"]
    assert "overridden" not in texts(at)


def test_the_live_ranking_says_when_the_winner_changes(app):
    at = open_page(app, "workload")
    rec = api.recommend(at.session_state[state.PROFILE])
    at.selectbox(key="wf.security.network").select("custom-vnet").run()
    after = api.recommend(at.session_state[state.PROFILE])
    assert after.top.target != rec.top.target  # the sample's winner cannot join a custom VNet
    notes = [i.value.replace("\\", "") for i in at.info]
    assert any(f"{words.short(after.top.target)} moved to #1 (was {words.short(rec.top.target)})" in n
               for n in notes), notes


def test_apply_a_change_compare_and_export(app):
    at = open_page(app, "recommendation")
    rec = api.recommend(at.session_state[state.PROFILE])
    page = texts(at)
    assert "scale.scale_to_zero" not in page.split("Compare two options")[0].replace("Sets ", "")
    said = rec.sensitivity[0].said if hasattr(rec.sensitivity[0], "said") else ""
    assert (said or words.change(rec.sensitivity[0].change)) in page
    # compare: two options side by side, criteria in words
    compare = next(d.value for d in at.dataframe if "Score" in list(d.value.iloc[:, 0]))
    assert {"USD / month", "Size", "Autoscale"} <= set(compare.iloc[:, 0])
    assert any("Operations burden" in str(x) for x in compare.iloc[:, 0])
    i = next(i for i, s in enumerate(rec.sensitivity) if s.new_winner != "none")
    at.button(key=f"rec_apply_{i}").click().run()
    no_exception(at)
    changed = api.apply_change(load_profile(SAMPLE), rec.sensitivity[i].change)
    assert at.session_state[state.PROFILE] == changed
    assert any("Applied:" in s.value for s in at.success)
    assert api.recommend(changed).top.target == rec.sensitivity[i].new_winner
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Export as Markdown" in labels and "Export as JSON" in labels


def test_api_apply_change_reads_the_advisors_changes():
    p = load_profile(SAMPLE)
    assert api.apply_change(p, "scale.scale_to_zero=true").scale.scale_to_zero is True
    assert api.apply_change(p, "security.network=custom-vnet").security.network == "custom-vnet"
    assert api.apply_change(p, "inference.max_request_seconds > 180").inference.max_request_seconds == 181
    assert api.apply_change(p, "budget.monthly_usd=50").budget.monthly_usd == 50
    for bad in ("rm -rf /", "nosuch.field=1", "inference.peak_rps > lots", "security.network=moon"):
        with pytest.raises(ProfileError):
            api.apply_change(p, bad)


def test_exports_hold_the_whole_answer():
    p = load_profile(SAMPLE)
    rec = api.recommend(p)
    doc = json.loads(api.recommendation_json(rec, p, state.SAMPLE_URI))
    assert doc["profile"]["name"] == p.name and doc["model"] == state.SAMPLE_URI
    assert [o["target"] for o in doc["recommendation"]["options"]] == [o.target for o in rec.options]
    md = api.recommendation_markdown(rec, p, state.SAMPLE_URI, state.TITLES)
    assert md.startswith(f"# Deployment recommendation: {p.name}")
    assert state.TITLES[rec.top.target] in md and "## What would change the answer" in md
    with_budget = p.model_copy(update={"budget": p.budget.model_copy(update={"monthly_usd": 100.0})})
    assert "| yes |" in api.recommendation_markdown(api.recommend(with_budget), with_budget)


def test_regions_come_from_the_catalog_with_prices():
    regions = {r["name"]: r for r in api.regions()}
    assert regions["eastus"]["priced"] and regions["eastus"]["vm_hourly_usd"] > 0
    assert regions["westeurope"]["vm_hourly_usd"] != regions["eastus"]["vm_hourly_usd"]


def test_words_for_internal_names():
    assert words.criterion("ops_burden") == "Operations burden"
    assert words.criterion("brand_new_thing") == "Brand new thing"
    assert words.change("inference.max_request_seconds > 180") == "Longest request (s) above 180"
    assert words.change("security.network=custom-vnet") == "Network isolation: My own virtual network"
    text = words.plain("azureml would be excluded (scale.scale_to_zero=true: see "
                       "https://learn.microsoft.com/azure/aks/quotas); aks ranks first")
    assert text.startswith("Azure ML would be excluded (Scale to zero when idle: yes")
    assert "learn.microsoft.com/azure/aks/quotas" in text and text.endswith("AKS ranks first")


def test_seed_notes_are_inline_text_and_learn_pages_are_links():
    from ui import render

    assert "](" not in render.source_md("seed/azure-ml-notes.md#3-deployment-platforms")
    shown = render.source_md("seed/azure-ml-notes.md#3-deployment-platforms").replace("\\", "")
    assert "azure-ml-notes.md § 3 deployment platforms" in shown
    link = render.source_md("https://learn.microsoft.com/azure/machine-learning/concept-endpoints")
    assert link == "[concept\\-endpoints](https://learn.microsoft.com/azure/machine-learning/concept-endpoints)"


def test_an_old_error_is_gone_after_moving_to_another_page(app, tmp_path):
    at = open_page(app, "model")
    at.segmented_control(key="model_source").set_value("path").run()
    at.text_input(key="model_path").input(str(tmp_path / "nope")).run()
    _button(at, "Use this model").click().run()
    assert at.error
    at = open_page(at, "workload")
    at = open_page(at, "model")
    assert not at.error, [e.value for e in at.error]


def test_aks_readme_names_the_resource_group_when_planned_offline(home_with_sample):
    p = load_profile(SAMPLE)
    plan = api.plan(api.make_spec("offline-aks", "aks", state.SAMPLE_URI, p))
    readme = plan.artifacts["README.md"]
    assert "-g \n" not in readme
    assert "get-credentials -n " in readme and " -g <resource-group>\n" in readme


def test_cards_show_verdicts_and_the_fits_budget_badge(app):
    at = open_page(app, "workload")
    at.number_input(key="wf.budget.monthly_usd").set_value(200.0).run()
    at = open_page(at, "recommendation")
    no_exception(at)
    rec = api.recommend(at.session_state[state.PROFILE])
    page = texts(at)
    assert all(opt.verdicts for opt in rec.options)  # the advisor's requirement verdicts ...
    assert ":green-badge[fits budget]" in page and ":red-badge[over budget]" in page  # sample: $25 and $370
    top = rec.options[0]
    shown = page.replace("\\", "")
    assert all(f"**{words.requirement(v.requirement)}** " in shown for v in top.verdicts)  # ... one line each
    assert "Met:" in shown
