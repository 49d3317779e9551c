"""AKS chooses its registry by the same rule as App Service (deployers/images.py choose_registry)."""
from __future__ import annotations

from deployers import api
from deployers.images import TAG_CREATED, default_registry_name
from tests.fakes.azure import SUBSCRIPTION


def test_aks_reuses_the_registry_tagged_as_ours(azure, ctx, make_spec):
    fake, acr, _ = azure
    acr.add_registry("rg", "teamacr01", tags={"managed-by": "deploy-advisor"})
    plan = api.plan(make_spec(registry=None), ctx)
    assert (plan.settings["registry"], plan.settings["registry_how"]) == ("teamacr01", "found")
    assert plan.settings["image"].startswith("teamacr01.azurecr.io/deploy-advisor/fraud-model:c")
    assert api.apply(plan, ctx).status == "succeeded"
    assert not fake.calls("PUT", r"/registries/[^/]+$")
    out = api.destroy("fraud", ctx)
    assert fake.ids(r"/registries/teamacr01$") and "not created by deploy-advisor" in out.message


def test_aks_creates_a_tagged_registry_when_none_is_found(azure, ctx, make_spec):
    fake, _, _ = azure
    plan = api.plan(make_spec(registry=None), ctx)
    name = default_registry_name(SUBSCRIPTION, "rg")
    assert (plan.settings["registry"], plan.settings["registry_how"]) == (name, "new")
    assert api.apply(plan, ctx).status == "succeeded"
    (put,) = [r for r in fake.calls("PUT", rf"/registries/{name}$") if r.status < 300]
    assert put.body["tags"][TAG_CREATED] == "registry" and put.body["properties"]["adminUserEnabled"] is False
