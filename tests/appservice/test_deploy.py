"""App Service deployer through the real azure-mgmt-web / -monitor / -authorization clients
against the in-process Azure fake: first deploy, no-change, staging slot + swap, unhealthy
staging, swap-back, throttling and 5xx, destroy twice."""
from __future__ import annotations

import pytest

from deployers import api
from deployers.planning import input_example
from deployers.appservice import KEY_SETTING, AppServiceDeployer
from deployers.errors import RemoteError, StalePlanError
from tests.appservice.conftest import EXAMPLE, IMAGE_V1, IMAGE_V2, make_spec
from tests.fakes.webapp import deploy, kinds

APP = "fraud-app"


def test_first_deploy_goes_straight_to_production(ctx, fake, web, model_dir):
    plan, result = deploy(make_spec(model_dir), ctx)
    assert kinds(plan)["Microsoft.Web/serverfarms"] == "create"
    assert kinds(plan)["Microsoft.Web/sites"] == "create"
    assert "Microsoft.Web/sites/slots" not in kinds(plan)
    assert result.status == "succeeded" and result.changed
    assert result.endpoint_url == f"https://{APP}.azurewebsites.net/score"

    farm = web.plan(f"{APP}-plan")
    assert farm["kind"] == "linux" and farm["properties"]["reserved"] is True
    assert farm["sku"]["name"] == plan.settings["sku"] and farm["sku"]["name"].endswith("v3")  # production profile
    assert farm["tags"] == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": APP}
    site = web.site(APP)
    assert site["identity"]["type"] == "SystemAssigned" and site["properties"]["httpsOnly"] is True
    conf = web.config(APP)
    assert conf["linuxFxVersion"] == f"DOCKER|{IMAGE_V1}"
    assert conf["acrUseManagedIdentityCreds"] is True and conf["alwaysOn"] is True
    assert conf["healthCheckPath"] == "/ready" and conf["minTlsVersion"] == "1.2"
    assert "--key-file /tmp/scoring/key" in conf["appCommandLine"] and "--port 8080" in conf["appCommandLine"]
    settings = web.app_settings(APP)
    assert settings["WEBSITES_PORT"] == "8080"
    assert 230 <= int(settings["WEBSITES_CONTAINER_START_TIME_LIMIT"]) <= 1800
    assert len(settings[KEY_SETTING]) >= 32
    assert web.sticky[APP]["appSettingNames"] == [KEY_SETTING]
    assert not fake.ids(r"/slots/")  # first deploy: no slot
    # AcrPull for the app's identity on the registry, then a restart so the pull uses it
    ra = [r for r in fake.calls("PUT", r"/roleAssignments/") if r.status in (200, 201)]
    assert len(ra) == 1 and ra[0].body["properties"]["principalId"] == site["identity"]["principalId"]
    assert "/registries/myregistry/" in ra[0].path and ra[0].body["properties"]["roleDefinitionId"].endswith(
        "7f951dda-4ed3-4680-a7ca-43fe172d538d")
    assert web.restarts == [(APP, "production")]
    # health check then smoke test with the model's input example, on production
    assert fake.calls("GET", "^/ready$", host=rf"^{APP}\.azurewebsites\.net$")
    assert web.scored == [(APP, "production", input_example(plan.model_info))]
    assert input_example(plan.model_info) is not None
    assert result.smoke_latency_ms is not None and result.smoke_response == [0, 0]
    # every plan/site PUT got 200 (azure-mgmt-web refuses 201)
    puts = fake.calls("PUT", r"/providers/Microsoft\.Web/(serverfarms|sites)/[^/]+$")
    assert puts and all(r.status == 200 for r in puts)


def test_second_apply_is_a_no_op(ctx, fake, model_dir):
    spec = make_spec(model_dir)
    deploy(spec, ctx)
    writes_before = len(fake.writes())
    plan, result = deploy(spec, ctx)
    assert not plan.has_changes, [a for a in plan.actions if a.kind != "no-op"]
    assert result.status == "no-change" and not result.changed
    new_writes = [r for r in fake.writes()[writes_before:] if not r.path.endswith("/list")]
    assert new_writes == []
    # the same plan applied again is a no-op too, not a stale plan
    assert api.apply(plan, ctx).status == "no-change"


def test_update_goes_through_staging_slot_and_swap(ctx, fake, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    key_before = web.app_settings(APP)[KEY_SETTING]
    plan, result = deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    assert kinds(plan)["Microsoft.Web/sites/slots"] == "create"
    assert kinds(plan)["Microsoft.Web/sites/slotsswap"] == "update"
    assert result.status == "succeeded"
    assert web.swaps == [(APP, "staging", "production")]
    assert web.image(APP) == IMAGE_V2 and web.image(APP, "staging") == IMAGE_V1
    # the staging host was checked and smoke-tested before the swap, production after it
    assert [s for _a, s, _p in web.scored] == ["production", "staging", "production"]
    staging_ready = fake.calls("GET", "^/ready$", host=rf"^{APP}-staging\.azurewebsites\.net$")
    swap = fake.calls("POST", r"/slots/staging/slotsswap$")
    assert staging_ready and swap and staging_ready[-1].ts <= swap[0].ts
    # clients keep their key: the key is slot-sticky and production's was reused
    assert web.app_settings(APP)[KEY_SETTING] == key_before
    assert web.app_settings(APP, "staging")[KEY_SETTING] == key_before
    # the slot has its own identity: it got AcrPull too
    slot_principal = web.site(APP, "staging")["identity"]["principalId"]
    assert any(r.body["properties"]["principalId"] == slot_principal for r in fake.calls("PUT", r"/roleAssignments/"))
    assert api.invoke(APP, {"input_data": EXAMPLE}, ctx).status_code == 200


def test_unhealthy_staging_is_not_swapped_and_production_is_untouched(ctx, fake, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    prod_settings = web.app_settings(APP)
    web.unhealthy.add((IMAGE_V2, None))
    plan = api.plan(make_spec(model_dir, image=IMAGE_V2, health_timeout=60), ctx)
    with pytest.raises(RemoteError) as err:
        api.apply(plan, ctx)
    assert err.value.code == "StagingUnhealthy" and "production was not touched" in err.value.message
    assert web.swaps == []
    assert web.image(APP) == IMAGE_V1 and web.app_settings(APP) == prod_settings
    assert web.site(APP, "staging") is None  # deleted (keep_failed is off)
    # polled on the fake's clock: health_timeout / health_poll_seconds polls, nothing really slept
    polls = fake.calls("GET", "^/ready$", host=r"-staging\.")
    assert len(polls) == 7 and fake.sleeps.count(10.0) >= 6
    assert api.status(APP, ctx).state == "running"


def test_keep_failed_keeps_the_staging_slot(ctx, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    web.unhealthy.add((IMAGE_V2, "staging"))
    with pytest.raises(RemoteError, match="kept for debugging"):
        deploy(make_spec(model_dir, image=IMAGE_V2, health_timeout=20, keep_failed=True), ctx)
    assert web.image(APP, "staging") == IMAGE_V2 and web.image(APP) == IMAGE_V1


def test_production_failing_after_swap_swaps_back(ctx, fake, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    web.unhealthy.add((IMAGE_V2, "production"))  # fine on staging, broken with production's settings
    with pytest.raises(RemoteError) as err:
        deploy(make_spec(model_dir, image=IMAGE_V2, health_timeout=30), ctx)
    assert err.value.code == "SwappedBack"
    assert "previous version serves production again" in err.value.message
    assert web.swaps == [(APP, "staging", "production"), (APP, "staging", "production")]
    assert web.image(APP) == IMAGE_V1 and web.image(APP, "staging") == IMAGE_V2
    assert api.status(APP, ctx).state == "running"


def test_throttling_and_server_errors_converge(ctx, fake, web, model_dir):
    web.ready_after = 2  # the container takes two polls to load the model
    fake.inject("PUT", r"/serverfarms/[^/]+$", status=429, retry_after=7, times=2)
    fake.inject("PUT", r"/sites/[^/]+$", status=500, times=1)
    fake.inject("GET", r"/providers/Microsoft\.Web/serverfarms/[^/]+$", status=502, times=1)
    fake.inject("POST", r"/score$", status=503, retry_after=1, times=1, host=r"azurewebsites\.net$")
    plan, result = deploy(make_spec(model_dir), ctx)
    assert result.status == "succeeded"
    assert fake.sleeps.count(7.0) == 2  # Retry-After honoured exactly
    faults = [r for r in fake.requests if r.fault.startswith("inject:")]
    assert len(faults) == 5
    assert len(fake.calls("GET", "^/ready$", host=r"azurewebsites\.net$")) == 3
    # and an update under throttling still swaps exactly once
    fake.inject("POST", r"/slotsswap$", status=429, retry_after=2, times=1)
    fake.inject("POST", r"/config/appsettings/list$", status=503, times=1)  # reading production's key
    _plan, result2 = deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    assert result2.status == "succeeded" and len(web.swaps) == 1 and web.image(APP) == IMAGE_V2
    assert fake.sleeps.count(2.0) == 1 and len([r for r in fake.requests if r.fault.startswith("inject:")]) == 7


def test_stale_plan_is_refused(ctx, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    plan = api.plan(make_spec(model_dir, image=IMAGE_V2), ctx)
    web.configs[(APP, "production")]["alwaysOn"] = False  # someone changed the app by hand
    with pytest.raises(StalePlanError):
        api.apply(plan, ctx)


def test_destroy_twice(ctx, fake, web, model_dir):
    deploy(make_spec(model_dir), ctx)
    deploy(make_spec(model_dir, image=IMAGE_V2), ctx)
    assert fake.ids(r"/roleassignments/") and fake.ids(r"/slots/staging$")
    first = api.destroy(APP, ctx)
    assert not first.already_absent
    assert {"slot fraud-app/staging", "web app fraud-app", "plan fraud-app-plan"} <= set(first.deleted)
    assert not fake.ids(r"/microsoft\.web/") and not fake.ids(r"/roleassignments/")
    assert not fake.ids(r"/autoscalesettings/")
    second = AppServiceDeployer().destroy(APP, ctx)
    assert second.already_absent and second.deleted == []
    deletes = fake.calls("DELETE", r"/providers/Microsoft\.Web/")
    assert deletes and all(r.status in (200, 204) for r in deletes)


def test_destroy_leaves_resources_that_are_not_ours(ctx, fake, web, model_dir):
    web.seed_plan("shared-plan", "P1v3")  # someone else's plan, untagged
    deploy(make_spec(model_dir, plan_name="shared-plan"), ctx)
    assert web.plan("shared-plan")["tags"] == {}  # used as it is, never re-tagged
    result = api.destroy(APP, ctx)
    assert "web app fraud-app" in result.deleted and web.plan("shared-plan") is not None
    assert "shared-plan" in result.message


def test_long_running_style_202_location_is_followed(fake, acr, events, isolated_home, model_dir):
    """The other first answer azure-mgmt-web accepts: 202 + Location, polled to completion."""
    from deployers.base import DeployContext
    from tests.fakes.appservice import install
    from tests.fakes.azure import SUBSCRIPTION, FakeCredential, client_kwargs

    web = install(fake, resource_group="rg", lro="location", polls=3)
    ctx = DeployContext(state_dir=isolated_home, credential=FakeCredential(), subscription_id=SUBSCRIPTION,
                        resource_group="rg", location="eastus", events=events, client_kwargs=client_kwargs(fake))
    assert deploy(make_spec(model_dir), ctx)[1].status == "succeeded"
    assert deploy(make_spec(model_dir, image=IMAGE_V2), ctx)[1].status == "succeeded"
    puts = fake.calls("PUT", r"/providers/Microsoft\.Web/(serverfarms|sites)/[^/]+(/slots/[^/]+)?$")
    assert puts and all(r.status == 202 for r in puts)
    assert len(fake.calls("GET", r"/operationResults/")) >= 3 * len(puts)
    assert web.image(APP) == IMAGE_V2 and len(web.swaps) == 1
    assert any(e.kind == "progress" and "done" in e.message for e in events.events)
