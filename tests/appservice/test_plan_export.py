"""Plans, the exported ARM template and preflight checks for the App Service target."""
from __future__ import annotations

import json
import re

import pytest

from deployers import api
from deployers.appservice import KEY_SETTING, AppServiceDeployer, start_time_limit
from deployers.base import DeployContext
from deployers.errors import InputError, StalePlanError
from tests.appservice.conftest import IMAGE_V1, IMAGE_V2, make_spec

APP = "fraud-app"


def by_check(findings) -> dict[str, str]:
    return {f.check: f.level for f in findings}


def test_exported_arm_template_matches_what_apply_sends(ctx, fake, web, model_dir, tmp_path):
    spec = make_spec(model_dir, image=None, profile={"operations": {"integrations": ["app-insights"]}})
    plan = api.plan(spec, ctx)
    written = {p.relative_to(tmp_path / "out").as_posix() for p in api.export(plan, tmp_path / "out")}
    assert {"appservice/azuredeploy.json", "appservice/azuredeploy.parameters.json", "appservice/README.md",
            "image/Dockerfile", "image/requirements.txt", "image/app/score.py", "plan.json"} <= written
    template = json.loads((tmp_path / "out/appservice/azuredeploy.json").read_text())
    params = json.loads((tmp_path / "out/appservice/azuredeploy.parameters.json").read_text())["parameters"]
    types = {r["type"] for r in template["resources"]}
    assert {"Microsoft.Web/serverfarms", "Microsoft.Web/sites", "Microsoft.Web/sites/slots", "Microsoft.Web/sites/config",
            "Microsoft.Insights/autoscalesettings", "Microsoft.Insights/components",
            "Microsoft.Resources/deployments"} <= types
    nested = next(r for r in template["resources"] if r["type"] == "Microsoft.Resources/deployments")
    assert nested["properties"]["template"]["resources"][0]["type"] == "Microsoft.Authorization/roleAssignments"
    # every parameter/variable the template uses is declared; every required one is supplied except the key
    text = json.dumps({k: v for k, v in template.items() if k != "resources"} | {"resources": [
        r for r in template["resources"] if r is not nested]} | {"nested_outer": {k: v for k, v in nested.items()
                                                                                 if k != "properties"}})
    used = set(re.findall(r"parameters\('([A-Za-z]+)'\)", text))
    assert used <= set(template["parameters"]), used - set(template["parameters"])
    assert set(re.findall(r"variables\('([A-Za-z]+)'\)", json.dumps(template))) <= set(template["variables"])
    required = {k for k, v in template["parameters"].items() if "defaultValue" not in v}
    assert required - set(params) == {"scoringKey"}
    assert template["parameters"]["scoringKey"]["type"] == "securestring"
    assert set(params) <= set(template["parameters"])
    # the values are this plan's
    s = plan.settings
    assert params["appName"]["value"] == APP and params["sku"]["value"] == s["sku"]
    assert params["image"]["value"] == s["image"] and s["image"].startswith("myregistry.azurecr.io/deploy-advisor/")
    assert params["enableAppInsights"]["value"] is True and params["registryName"]["value"] == "myregistry"
    # the site config and settings in the template are the ones apply sends
    deployer = AppServiceDeployer()
    from deployers.appservice import Resolved
    r = Resolved.model_validate(s)
    assert set(template["variables"]["siteConfig"]) == set(deployer._site_config(r))
    names = {x["name"] for x in template["variables"]["baseSettings"]}
    assert set(deployer._app_settings(r)) | {"[parameters('scoringKeySetting')]"} == names
    assert params["scoringKeySetting"]["value"] == KEY_SETTING
    assert params["startupCommand"]["value"] == deployer._site_config(r)["appCommandLine"]
    readme = (tmp_path / "out/appservice/README.md").read_text()
    assert "az deployment group create -g rg" in readme and "az acr build -r myregistry" in readme


def test_plan_without_azure_sign_in_still_plans_and_exports(model_dir, isolated_home, no_azure_sign_in):
    ctx = DeployContext(state_dir=isolated_home)
    spec = make_spec(model_dir)
    plan = api.plan(spec, ctx)
    assert plan.state_fingerprint == "" and plan.settings["state_read"] is False
    assert all(a.kind in ("create", "no-op") for a in plan.actions)
    assert any("not read" in n for n in plan.notes)
    findings = api.preflight(spec, ctx)
    assert by_check(findings)["credentials"] == "warn" and "name-available" not in by_check(findings)
    assert AppServiceDeployer().credentials_missing(ctx)
    with pytest.raises(Exception) as err:
        api.apply(plan, ctx)
    assert err.value.category in ("auth", "stale-plan")


def test_preflight_passes_for_a_fitting_profile(ctx, fake, web, model_dir):
    checks = by_check(api.preflight(make_spec(model_dir), ctx))
    assert checks["name-available"] == "pass" and checks["region"] == "pass" and checks["gpu"] == "pass"
    assert checks["request-timeout"] == "pass" and checks["image"] == "pass"
    assert fake.calls("POST", r"/providers/Microsoft\.Web/checknameavailability$")
    assert not fake.writes(r"/providers/Microsoft\.Web/(sites|serverfarms)")  # read-only


def test_preflight_failures_name_their_reason(ctx, fake, web, model_dir):
    web.taken.add(APP)
    web.usages["PremiumV3"] = (29, 30)
    spec = make_spec(model_dir, profile={"inference": {"gpu": "required", "max_request_seconds": 300}},
                     location="brazilsouth", instances=2)
    findings = {f.check: f for f in api.preflight(spec, ctx)}
    assert findings["gpu"].level == "fail" and "no GPU" in findings["gpu"].message
    assert findings["request-timeout"].level == "fail" and "230 s" in findings["request-timeout"].message
    assert findings["name-available"].level == "fail" and "taken" in findings["name-available"].message
    assert findings["region"].level == "fail"
    assert findings["quota"].level == "fail" and "1 instances free" in findings["quota"].message


def test_preflight_without_registry_or_image_builds_in_the_chosen_registry(ctx, model_dir):
    """No --set registry= needed: the shared rule picks (or plans) one, as for aks."""
    findings = {f.check: f for f in api.preflight(make_spec(model_dir, image=None, registry=None), ctx)}
    assert findings["image"].level == "pass" and "(acr-build)" in findings["image"].message
    assert ".azurecr.io/deploy-advisor/fraud-app:c" in findings["image"].message


def test_dev_profile_gets_basic_and_updates_in_place(ctx, fake, web, model_dir):
    profile = {"scale": {"availability_sla": 99.0}, "budget": {"monthly_usd": 40}}
    plan = api.plan(make_spec(model_dir, profile=profile), ctx)
    assert plan.settings["sku"].startswith("B") and plan.settings["autoscale"] is None
    assert plan.settings["slots_supported"] is False
    api.apply(plan, ctx)
    plan2 = api.plan(make_spec(model_dir, profile=profile, image=IMAGE_V2), ctx)
    assert {a.resource_type for a in plan2.actions if a.kind == "update"} == {"Microsoft.Web/sites"}
    assert api.apply(plan2, ctx).status == "succeeded"
    assert web.image(APP) == IMAGE_V2 and web.swaps == [] and not fake.ids("/slots/")
    assert not fake.ids(r"/autoscalesettings/")


def test_autoscale_from_sizing_bounds(ctx, fake, model_dir):
    api.apply(api.plan(make_spec(model_dir, autoscale_min=2, autoscale_max=6), ctx), ctx)
    [rid] = fake.ids(r"/autoscalesettings/")
    body = fake.get(rid)
    assert body["tags"]["deploy-advisor-deployment"] == APP
    profile = body["properties"]["profiles"][0]
    # the default is the advisor's size: 3 instances at 99.9 % (one per zone, issue 20), within the bounds given
    assert profile["capacity"] == {"minimum": "2", "maximum": "6", "default": "3"}
    assert body["properties"]["targetResourceUri"].endswith("/serverfarms/fraud-app-plan")
    assert {r["scaleAction"]["direction"] for r in profile["rules"]} == {"Increase", "Decrease"}
    # autoscale moving the instance count is not drift
    farm_id = next(i for i in fake.ids(r"/serverfarms/[^/]+$"))
    fake.resources[farm_id]["sku"]["capacity"] = 5
    assert not api.plan(make_spec(model_dir, autoscale_min=2, autoscale_max=6), ctx).has_changes
    # a SKU change keeps the instance count autoscale chose
    resized = api.plan(make_spec(model_dir, autoscale_min=2, autoscale_max=6, sku="P2v3"), ctx)
    assert api.apply(resized, ctx).status == "succeeded"
    assert fake.get(farm_id)["sku"] == {"name": "P2v3", "tier": "PremiumV3", "capacity": 5}


def test_settings_are_validated_before_anything_runs(ctx, model_dir):
    for bad in ({"app_name": "Bad_Name"}, {"app_name": "-x"}, {"slot": "production"}, {"image": "x y|z"},
                {"sku": "F1"}, {"sku": "Z9"}, {"port": 0}, {"start_time_limit": 5000}):
        with pytest.raises(InputError):
            api.plan(make_spec(model_dir, **bad), ctx)


def test_start_time_limit_grows_with_the_model():
    assert start_time_limit(40) == 238 and start_time_limit(1024) == 435 and start_time_limit(50_000) == 1800
    assert start_time_limit(0) == 230


def test_app_name_taken_by_someone_else_is_refused(ctx, web, model_dir):
    web.seed_plan("other-plan")
    web.seed_site(APP, "other-plan", IMAGE_V1)  # exists, untagged: not ours
    with pytest.raises(Exception) as err:
        api.plan(make_spec(model_dir), ctx)
    assert err.value.category == "conflict"


def test_offline_plan_cannot_be_applied_once_signed_in(ctx, model_dir, isolated_home):
    offline = api.plan(make_spec(model_dir), DeployContext(state_dir=isolated_home, subscription_id=None))
    with pytest.raises(StalePlanError):
        api.apply(offline, ctx)
