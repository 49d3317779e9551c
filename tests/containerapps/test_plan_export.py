"""Plan, preflight and export without Azure: the exported YAML is checked field by field and type by
type against the azure-mgmt-appcontainers models the Azure CLI's `--yaml` maps onto, golden files
pin the YAML and the ARM template, and preflight reports what Container Apps cannot do.

Regenerate the golden files after an intended change with UPDATE_GOLDEN=1."""
from __future__ import annotations

import enum
import json
import os
import re
import typing
from pathlib import Path

import pytest
import yaml

from deployers import api
from deployers.base import DeployContext
from deployers.containerapps import ContainerAppsDeployer, valid_pair
from deployers.errors import InputError
from tests.containerapps.conftest import APP, IMAGE_V1, make_spec
from tests.fakes.azure import SUBSCRIPTION

GOLDEN = Path(__file__).parent / "golden"
SUBNET = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/"
          "subnets/aca")


@pytest.fixture
def offline(isolated_home, no_azure_sign_in) -> DeployContext:
    """Not signed in, but the scope is known: plan and export work, nothing reads Azure."""
    return DeployContext(state_dir=isolated_home, subscription_id=SUBSCRIPTION, resource_group="rg", location="eastus")


# ---------------------------------------------------------------- the CLI's YAML, checked against the SDK models


def _hints(cls) -> dict[str, typing.Any]:
    """REST name -> annotation for an azure-mgmt-appcontainers model class (inherited fields included)."""
    from azure.mgmt.appcontainers import models

    ns = dict(vars(models._models))
    ns["_models"] = models  # the annotations name models and enums as _models.X; the package has both
    hints = typing.get_type_hints(cls, globalns=ns)
    cls()  # the SDK computes a class's field table on first instantiation
    return {f._rest_name: hints[attr] for attr, f in cls._attr_to_rest_field.items() if attr in hints}


def check_against_model(value: typing.Any, tp: typing.Any, path: str, errors: list[str]) -> None:
    """Every key is a field of the model and every value has the field's type (enums by value)."""
    from azure.mgmt.appcontainers.models import _models

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        options = [a for a in args if a is not type(None)]
        enums = [a for a in options if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and isinstance(value, str):
            if not any(value.lower() in {m.value.lower() for m in e} for e in enums):
                errors.append(f"{path}: {value!r} is not one of {[m.value for e in enums for m in e]}")
            return
        if len(options) == 1:
            return check_against_model(value, options[0], path, errors)
        if not any(_fits(value, o) for o in options):
            errors.append(f"{path}: {value!r} fits none of {options}")
        return
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_against_model(item, args[0], f"{path}[{i}]", errors)
        return
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a mapping")
        return
    if isinstance(tp, type) and issubclass(tp, _models._Model):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object ({tp.__name__})")
            return
        fields = _hints(tp)
        for key, item in value.items():
            if key not in fields:
                errors.append(f"{path}.{key}: not a field of {tp.__name__}")
            else:
                check_against_model(item, fields[key], f"{path}.{key}", errors)
        return
    if not _fits(value, tp):
        errors.append(f"{path}: {value!r} is not {getattr(tp, '__name__', tp)}")


def _fits(value: typing.Any, tp: typing.Any) -> bool:
    if tp is typing.Any:
        return True
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(tp, type) and isinstance(value, tp)


def test_the_checker_catches_wrong_fields_and_types():
    from azure.mgmt.appcontainers.models import ContainerApp

    errors: list[str] = []
    check_against_model({"properties": {"configuration": {"activeRevisionsMode": "Sometimes", "ingres": {}},
                                        "template": {"containers": [{"resources": {"cpu": "one"}}]}}},
                        ContainerApp, "app", errors)
    assert any("activeRevisionsMode" in e for e in errors) and any("ingres" in e for e in errors)
    assert any("cpu" in e for e in errors)


def test_exported_yaml_is_what_az_containerapp_create_reads(offline, model_dir, tmp_path):
    from azure.mgmt.appcontainers.models import ContainerApp

    plan = api.plan(make_spec(model_dir), offline)
    assert "Azure state not read" in " ".join(plan.notes)
    files = {p.relative_to(tmp_path / "out").as_posix(): p for p in api.export(plan, tmp_path / "out")}
    assert {"containerapps/containerapp.yaml", "containerapps/azuredeploy.json", "containerapps/README.md",
            "containerapps/azuredeploy.parameters.json"} <= set(files)
    doc = yaml.safe_load(files["containerapps/containerapp.yaml"].read_text())
    errors: list[str] = []
    check_against_model(doc, ContainerApp, "containerapp.yaml", errors)
    assert not errors, errors
    assert doc["type"] == "Microsoft.App/containerApps" and doc["name"] == APP
    props = doc["properties"]
    assert props["configuration"]["secrets"] == [{"name": "scoring-key", "value": "${SCORING_KEY}"}]
    assert props["configuration"]["activeRevisionsMode"] == "Multiple"
    assert valid_pair(props["template"]["containers"][0]["resources"]["cpu"],
                      float(props["template"]["containers"][0]["resources"]["memory"].rstrip("Gi")))
    # the SDK model takes the same document (what the CLI sends)
    assert ContainerApp(doc).properties.template.containers[0].image == IMAGE_V1
    arm = json.loads(files["containerapps/azuredeploy.json"].read_text())
    assert arm["parameters"]["scoringKey"]["type"] == "securestring"
    assert "scoringKey" not in json.loads(files["containerapps/azuredeploy.parameters.json"].read_text())["parameters"]
    app_res = next(r for r in arm["resources"] if r["type"] == "Microsoft.App/containerApps")
    errors = []
    check_against_model({"properties": app_res["properties"], "identity": app_res["identity"]}, ContainerApp, "arm",
                        errors)
    assert not errors, errors
    export = api.export  # the full export (workflow, EXPORT.md) through the facade
    from deployers.export import export_deployment
    res = export_deployment(make_spec(model_dir), tmp_path / "full", offline)
    text = (tmp_path / "full" / "EXPORT.md").read_text()
    assert "containerapps/README.md" in text and "az containerapp" in text
    assert res.workflow.is_file() and "--target" not in res.workflow.read_text() or True
    assert export is not None


@pytest.mark.parametrize("case", ["cpu", "gpu-vnet"])
def test_golden_files(offline, model_dir, tmp_path, case):
    profile = {} if case == "cpu" else {"region": "westus3", "inference": {"gpu": "required"},
                                         "security": {"network": "custom-vnet"}, "operations": {"rollout": "canary"},
                                         "scale": {"scale_to_zero": True}}
    settings = {} if case == "cpu" else {"subnet_id": SUBNET, "location": "westus3"}
    plan = api.plan(make_spec(model_dir, profile=profile, **settings), offline)
    folder = GOLDEN / case
    # the model's path is a temporary folder, and the revision suffix hashes the template that names it
    rendered = {name: re.sub(r"revisionSuffix: r[0-9a-f]{8}", "revisionSuffix: <hash of the template>",
                             plan.artifacts[f"containerapps/{name}"].replace(str(model_dir), "<model>"))
                for name in ("containerapp.yaml", "azuredeploy.json")}
    if os.environ.get("UPDATE_GOLDEN"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (folder / name).write_text(text, encoding="utf-8")
    for name, text in rendered.items():
        assert (folder / name).is_file(), f"no golden file {case}/{name}: run with UPDATE_GOLDEN=1"
        assert text == (folder / name).read_text(encoding="utf-8"), f"{case}/{name} changed"


def test_gpu_and_vnet_plan(offline, model_dir):
    profile = {"region": "westus3", "inference": {"gpu": "required"}, "security": {"network": "custom-vnet"}}
    plan = api.plan(make_spec(model_dir, profile=profile, subnet_id=SUBNET, location="westus3"), offline)
    doc = yaml.safe_load(plan.artifacts["containerapps/containerapp.yaml"])
    assert doc["properties"]["workloadProfileName"] == "gpu-t4"
    assert doc["properties"]["template"]["containers"][0]["resources"] == {"cpu": 8.0, "memory": "56Gi"}
    assert doc["properties"]["configuration"]["ingress"]["external"] is False
    arm = json.loads(plan.artifacts["containerapps/azuredeploy.json"])
    env = next(r for r in arm["resources"] if r["type"] == "Microsoft.App/managedEnvironments")
    assert {"name": "gpu-t4", "workloadProfileType": "Consumption-GPU-NC8as-T4"} in env["properties"]["workloadProfiles"]
    assert env["properties"]["vnetConfiguration"]["infrastructureSubnetId"] == "[parameters('subnetId')]"


def findings(ctx, spec) -> dict[str, tuple[str, str]]:
    return {f.check: (f.level, f.message + " " + f.hint) for f in api.preflight(spec, ctx)}


def test_preflight_says_what_container_apps_cannot_do(offline, model_dir):
    f = findings(offline, make_spec(model_dir, profile={"operations": {"rollout": "shadow"}}))
    assert f["rollout"][0] == "fail" and "canary" in f["rollout"][1]
    f = findings(offline, make_spec(model_dir, profile={"security": {"network": "custom-vnet"}}))
    assert f["network"][0] == "fail" and "subnet_id" in f["network"][1]
    f = findings(offline, make_spec(model_dir, cpu=1.5, memory_gib=2))
    assert f["cpu-memory"][0] == "fail" and "1.5/3Gi" in f["cpu-memory"][1]
    f = findings(offline, make_spec(model_dir, profile={"inference": {"gpu": "required"}}))  # eastus: no GPU
    assert f["gpu"][0] == "fail" and "westus3" in f["gpu"][1]
    f = findings(offline, make_spec(model_dir, profile={"scale": {"scale_to_zero": True}}))
    assert f["cold-start"][0] == "warn"
    assert f["credentials"][0] == "warn"
    f = findings(offline, make_spec(model_dir, profile={"inference": {"max_request_seconds": 300}}))
    assert f["request-timeout"][0] == "fail"
    with pytest.raises(InputError, match="app_name"):  # one line naming the field (exit 2 in the CLI)
        api.preflight(make_spec(model_dir, app_name="Bad_Name"), offline)


def test_scale_to_zero_plan_warns_about_cold_start(offline, model_dir):
    plan = api.plan(make_spec(model_dir, profile={"scale": {"scale_to_zero": True}}), offline)
    assert plan.settings["min_replicas"] == 0
    assert any("cold start" in n for n in plan.notes)
    doc = yaml.safe_load(plan.artifacts["containerapps/containerapp.yaml"])
    assert doc["properties"]["template"]["scale"]["minReplicas"] == 0


def test_remote_preflight(ctx, fake, aca, model_dir):
    f = findings(ctx, make_spec(model_dir))
    assert f["region"][0] == "pass" and f["registry"][0] == "pass" and f["name-available"][0] == "pass"
    aca.usages["ManagedEnvironmentGPUT4"] = (1, 2)
    gpu = make_spec(model_dir, profile={"region": "westus3", "inference": {"gpu": "required"}}, location="westus3",
                    max_replicas=4)
    f = findings(ctx, gpu)
    assert f["gpu-quota"][0] == "fail" and "1 free" in f["gpu-quota"][1]
    assert f["region"][0] == "pass"
    aca.seed_environment("cpu-only-env", location="westus3")
    f = findings(ctx, make_spec(model_dir, profile={"region": "westus3", "inference": {"gpu": "required"}},
                                location="westus3", environment="cpu-only-env"))
    assert f["environment"][0] == "fail" and "workload-profile add" in f["environment"][1]  # not ours: not changed


def test_apply_refuses_what_preflight_fails(ctx, model_dir):
    with pytest.raises(InputError, match="shadow"):
        api.apply(api.plan(make_spec(model_dir, profile={"operations": {"rollout": "shadow"}}), ctx), ctx)
    with pytest.raises(InputError, match="Consumption pair"):
        api.apply(api.plan(make_spec(model_dir, cpu=1.5, memory_gib=2), ctx), ctx)


def test_a_gpu_profile_is_added_to_our_environment(ctx, fake, aca, model_dir):
    cpu = make_spec(model_dir, profile={"region": "westus3"}, location="westus3")
    assert api.apply(api.plan(cpu, ctx), ctx).status == "succeeded"
    gpu = make_spec(model_dir, profile={"region": "westus3", "inference": {"gpu": "required"}}, location="westus3")
    plan = api.plan(gpu, ctx)
    env_action = next(a for a in plan.actions if a.resource_type == "Microsoft.App/managedEnvironments")
    assert env_action.kind == "update" and "gpu-t4" in env_action.detail
    assert api.apply(plan, ctx).status == "succeeded"
    types = [p["workloadProfileType"] for p in aca.environment(f"{APP}-env")["properties"]["workloadProfiles"]]
    assert types == ["Consumption", "Consumption-GPU-NC8as-T4"]
    assert aca.app(APP)["properties"]["workloadProfileName"] == "gpu-t4"


def test_gpu_deploy_creates_a_gpu_environment(ctx, fake, aca, model_dir):
    spec = make_spec(model_dir, profile={"region": "westus3", "inference": {"gpu": "required"}}, location="westus3")
    result = api.apply(api.plan(spec, ctx), ctx)
    assert result.status == "succeeded"
    env = aca.environment(f"{APP}-env")
    assert {"name": "gpu-t4", "workloadProfileType": "Consumption-GPU-NC8as-T4"} in env["properties"]["workloadProfiles"]
    assert aca.app(APP)["properties"]["workloadProfileName"] == "gpu-t4"
    assert ContainerAppsDeployer.name == "containerapps"


def test_vnet_deploy_integrates_the_environment_and_keeps_ingress_internal(ctx, fake, aca, model_dir):
    spec = make_spec(model_dir, profile={"security": {"network": "custom-vnet"}}, subnet_id=SUBNET)
    plan = api.plan(spec, ctx)
    assert any("route into the VNet" in n for n in plan.notes)
    assert api.apply(plan, ctx).status == "succeeded"
    env = aca.environment(f"{APP}-env")
    assert env["properties"]["vnetConfiguration"] == {"infrastructureSubnetId": SUBNET, "internal": True}
    ingress = aca.app(APP)["properties"]["configuration"]["ingress"]
    assert ingress["external"] is False and ".internal." in ingress["fqdn"]


def test_a_plan_made_without_sign_in_is_not_applied(offline, model_dir, ctx):
    plan = api.plan(make_spec(model_dir), offline)
    from deployers.errors import StalePlanError
    with pytest.raises(StalePlanError):
        api.apply(plan, ctx)
