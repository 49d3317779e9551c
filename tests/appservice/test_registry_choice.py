"""One registry rule for every image target, through App Service (real azure-mgmt-containerregistry clients
against the Azure fake): `registry=` wins; else the ACR tagged managed-by: deploy-advisor in the resource group;
else a new tagged Basic registry with the admin user off. Destroy deletes only a registry we created, and only
when no other deployment of ours still uses it."""
from __future__ import annotations

from deployers import api
from deployers.images import TAG_CREATED, default_registry_name
from tests.appservice.conftest import make_spec
from tests.fakes.azure import SUBSCRIPTION

NEW = default_registry_name(SUBSCRIPTION, "rg")


def registry_puts(fake):
    return [r for r in fake.calls("PUT", r"/Microsoft\.ContainerRegistry/registries/[^/]+$") if r.status < 300]


def build_only(model_dir, name="fraud-app", **settings):
    return make_spec(model_dir, name=name, **{"image": None, "registry": None, **settings})


def test_without_a_tagged_registry_one_is_created_tagged_basic_admin_off(ctx, fake, acr, model_dir):
    plan = api.plan(build_only(model_dir), ctx)
    assert plan.settings["registry"] == NEW and plan.settings["registry_how"] == "new"
    create = [a for a in plan.actions if a.resource_type == "Microsoft.ContainerRegistry/registries"]
    assert [(a.kind, a.resource) for a in create] == [("create", NEW)]
    assert any(f"registry {NEW} will be created" in n for n in plan.notes)
    result = api.apply(plan, ctx)
    assert result.status == "succeeded", result.message
    (put,) = registry_puts(fake)
    assert put.path.endswith(f"/registries/{NEW}")
    assert put.body["sku"]["name"] == "Basic" and put.body["properties"]["adminUserEnabled"] is False
    assert put.body["tags"]["managed-by"] == "deploy-advisor" and put.body["tags"][TAG_CREATED] == "registry"
    assert result.outputs["image"].startswith(f"{NEW}.azurecr.io/deploy-advisor/fraud-app:c")
    assert len(acr.uploads) == 1  # built there with ACR Tasks
    # the app pulls with its managed identity: AcrPull on the new registry, no admin credentials anywhere
    ra = [r for r in fake.calls("PUT", r"/roleAssignments/") if r.status in (200, 201)]
    assert ra and f"/registries/{NEW}/" in ra[0].path


def test_a_registry_tagged_as_ours_is_found_and_reused(ctx, fake, acr, model_dir):
    acr.add_registry("rg", "teamacr01", tags={"managed-by": "deploy-advisor"})
    plan = api.plan(build_only(model_dir), ctx)
    assert (plan.settings["registry"], plan.settings["registry_how"]) == ("teamacr01", "found")
    assert not [a for a in plan.actions if a.resource_type == "Microsoft.ContainerRegistry/registries"]
    assert any("teamacr01.azurecr.io (found in rg: tagged managed-by: deploy-advisor)" in n for n in plan.notes)
    assert api.apply(plan, ctx).status == "succeeded"
    assert registry_puts(fake) == []
    assert acr.uploads and acr.uploads[0]["request"]["imageNames"][0].startswith("deploy-advisor/fraud-app:c")


def test_set_registry_wins_over_a_tagged_one(ctx, fake, acr, model_dir):
    acr.add_registry("rg", "teamacr01", tags={"managed-by": "deploy-advisor"})
    plan = api.plan(build_only(model_dir, registry="myregistry"), ctx)
    assert (plan.settings["registry"], plan.settings["registry_how"]) == ("myregistry", "given")
    assert plan.settings["image"].startswith("myregistry.azurecr.io/")


def test_plan_without_credentials_reads_nothing_and_says_so(fake, web, acr, model_dir, isolated_home, events):
    from deployers.base import DeployContext

    offline = DeployContext(state_dir=isolated_home, events=events)
    plan = api.plan(build_only(model_dir), offline)
    assert plan.settings["registry_how"] == "new"
    assert any("Azure not read" in n for n in plan.notes)
    assert not fake.requests


def test_destroy_deletes_the_created_registry_only_after_its_last_user(ctx, fake, acr, model_dir):
    assert api.apply(api.plan(build_only(model_dir, name="fraud-app"), ctx), ctx).status == "succeeded"
    assert api.apply(api.plan(build_only(model_dir, name="fraud-app2"), ctx), ctx).status == "succeeded"
    assert len(registry_puts(fake)) == 1  # the second deployment found the first one's registry
    first = api.destroy("fraud-app", ctx)
    assert fake.ids(rf"/registries/{NEW}$") and f"still used by fraud-app2" in first.message
    second = api.destroy("fraud-app2", ctx)
    assert f"registry {NEW}" in second.deleted and not fake.ids(rf"/registries/{NEW}$")


def test_destroy_never_deletes_a_registry_we_did_not_create(ctx, fake, acr, model_dir):
    acr.add_registry("rg", "teamacr01", tags={"managed-by": "deploy-advisor"})  # tagged by the team, not created
    assert api.apply(api.plan(build_only(model_dir), ctx), ctx).status == "succeeded"
    out = api.destroy("fraud-app", ctx)
    assert fake.ids(r"/registries/teamacr01$") and "not created by deploy-advisor" in out.message
