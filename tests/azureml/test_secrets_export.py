"""Keys never leak (canary), and `plan -o DIR` writes az ml YAML that azure-ai-ml's own loaders accept."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployers import api
from deployers.azureml import AzureMLDeployer
from deployers.errors import AuthError
from deployers.events import Event
from tests.conftest import file_texts

from .conftest import WS, make_ctx, make_spec

EP = "fraud-scoring"
CANARY = "CANARY-KEY-6f1e2d3c4b5a"


def test_canary_keys_never_reach_output_logs_ledger_plans_or_exports(fake, aml, isolated_home, tmp_path, capsys,
                                                                       debug_log):
    aml.primary_key = CANARY
    aml.secondary_key = CANARY + "-2"

    def sink(event: Event) -> None:  # what a CLI would print: messages to stderr, data as JSON to stdout
        import sys
        print(event.message, file=sys.stderr)
        print(json.dumps(event.to_dict(), default=str))

    ctx = make_ctx(fake, isolated_home, events=sink)
    plan = api.plan(make_spec(), ctx)
    out_dir = tmp_path / "exported"
    api.export(plan, out_dir)
    result = api.apply(plan, ctx)
    print(result.model_dump_json())
    print(api.status(EP, ctx).model_dump_json())
    print(api.invoke(EP, {"input_data": [[1, 2, 3, 4]]}, ctx).model_dump_json())
    print(api.logs(EP, ctx))
    second = api.plan(make_spec("azureml:fraud:2"), ctx)
    print(api.apply(second, ctx).model_dump_json())
    print(api.destroy(EP, ctx).model_dump_json())

    # the canary really was served and used: otherwise this test proves nothing
    assert fake.calls("POST", "/listKeys$")
    assert any(r.auth == CANARY for r in fake.calls("POST", "/score$", host="inference"))
    captured = capsys.readouterr()
    places = {"stdout": captured.out, "stderr": captured.err, "log file": debug_log.read_text(errors="replace")}
    places.update({str(path): text for path, text in file_texts(isolated_home).items()})
    places.update({str(path): text for path, text in file_texts(out_dir).items()})
    places["plan json"] = plan.to_json() + second.to_json()
    assert len(places) > 5 and any("ledger" in k or k.endswith(".db") or ".sqlite" in k for k in places), \
        sorted(places)
    for where, text in places.items():
        assert CANARY not in text, f"the endpoint key leaked into {where}"


def test_exported_yaml_loads_with_azure_ai_ml_loaders(fake, aml, ctx, tmp_path):
    from azure.ai.ml import load_online_deployment, load_online_endpoint

    spec = make_spec(profile={"operations": {"drift_monitoring": True}})
    plan = AzureMLDeployer().plan(spec, ctx)
    written = api.export(plan, tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["deploy.sh", "deployment.yml", "endpoint.yml", "plan.json", "smoke-request.json"]
    ep = load_online_endpoint(source=str(tmp_path / "endpoint.yml"))
    assert ep.name == EP and ep.auth_mode == "key"
    assert ep.tags == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": EP}
    dep = load_online_deployment(source=str(tmp_path / "deployment.yml"))
    assert (dep.name, dep.endpoint_name, dep.instance_type, dep.instance_count) == ("blue", EP, "Standard_DS3_v2", 2)
    assert str(dep.model).removeprefix("azureml:") == "fraud:1"
    assert dep.request_settings.request_timeout_ms == plan.settings["desired"]["deployment"]["request_timeout_ms"]
    assert dep.request_settings.max_concurrent_requests_per_instance == int(dep.environment_variables["WORKER_COUNT"])
    assert dep.liveness_probe.failure_threshold == 30 and dep.readiness_probe.initial_delay >= 10
    assert dep.app_insights_enabled is True
    assert set(dep.data_collector.collections) == {"model_inputs", "model_outputs"}
    script = (tmp_path / "deploy.sh").read_text()
    assert "az ml online-deployment create -f deployment.yml" in script and '--traffic "blue=100"' in script
    assert json.loads((tmp_path / "smoke-request.json").read_text()) == json.loads(spec.settings["smoke_input"])
    assert json.loads((tmp_path / "plan.json").read_text())["plan_id"] == plan.plan_id


def test_custom_model_exports_a_scoring_script_and_environment(fake, aml, ctx, tmp_path):
    from azure.ai.ml import load_online_deployment

    model_dir = tmp_path / "churn"
    model_dir.mkdir()
    (model_dir / "model.joblib").write_bytes(b"not unpickled by planning")
    (model_dir / "requirements.txt").write_text("scikit-learn==1.5.2\n")
    (model_dir / "input_example.json").write_text(json.dumps({"input_data": [[1.0, 2.0]]}))
    spec = make_spec(model=str(model_dir), smoke_input=None)
    plan = AzureMLDeployer().plan(spec, ctx)
    assert plan.model_info.format == "custom"
    assert ("create", "model", "azureml:churn:1") in [(a.kind, a.resource_type, a.resource) for a in plan.actions]
    out = tmp_path / "out"
    api.export(plan, out)
    assert (out / "score" / "score.py").read_text().count("def run(") == 1
    conda = (out / "environment" / "conda.yaml").read_text()
    assert "azureml-inference-server-http" in conda and "scikit-learn==1.5.2" in conda
    dep = load_online_deployment(source=str(out / "deployment.yml"))
    assert dep.code_configuration.scoring_script == "score.py"
    assert Path(dep.code_configuration.code).name == "score"
    assert dep.environment.image.startswith("mcr.microsoft.com/azureml/")
    assert json.loads((out / "smoke-request.json").read_text()) == {"input_data": [[1.0, 2.0]]}


def test_planning_offline_still_renders_artifacts_and_apply_refuses(tmp_path, isolated_home):
    from deployers.base import DeployContext

    spec = make_spec()
    ctx = DeployContext(state_dir=isolated_home, subscription_id="00000000-0000-0000-0000-000000000000",
                        resource_group="rg").for_deployment(EP)
    plan = AzureMLDeployer().plan(spec, ctx)
    assert {"endpoint.yml", "deployment.yml", "deploy.sh"} <= set(plan.artifacts)
    creds = [f for f in plan.findings if f.check == "credentials"]
    assert creds and creds[0].level == "fail" and "az login" in creds[0].hint
    assert any("remote state not read" in n for n in plan.notes)
    assert [a.kind for a in plan.actions][:2] == ["create", "create"]
    with pytest.raises(AuthError):
        AzureMLDeployer().apply(plan, ctx)
    assert AzureMLDeployer().credentials_missing(ctx)


def test_settings_validate_names_before_they_reach_resources():
    d = AzureMLDeployer()
    for bad in ({"endpoint_name": "9starts-with-digit"}, {"endpoint_name": "a" * 33}, {"endpoint_name": "a--b"},
                {"workspace": "ws;rm -rf"}, {"instance_type": "Standard_DS3_v2 && curl"},
                {"subscription": "not-a-guid"}, {"smoke_input": "{not json"}, {"request_timeout_ms": 200_000},
                {"unknown": 1}):
        with pytest.raises(ValueError):
            d.settings_for(make_spec().model_copy(update={"settings": bad}))
    ok = d.settings_for(make_spec(endpoint_name="Fraud-EP-2"))
    assert ok.endpoint_name == "Fraud-EP-2" and ok.workspace == WS
    for field in d.Settings.model_fields.values():
        assert field.description, "every setting needs a description (CLI --set help and the UI form)"


def test_workspace_comes_from_config_json_like_mlclient_from_config(fake, aml, ctx, tmp_path, monkeypatch):
    project = tmp_path / "project" / "src"
    (tmp_path / "project" / ".azureml").mkdir(parents=True)
    project.mkdir()
    (tmp_path / "project" / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg",
         "workspace_name": WS}))
    monkeypatch.chdir(project)  # found in a parent folder, as MLClient.from_config searches
    spec = make_spec()
    spec = spec.model_copy(update={"settings": {k: v for k, v in spec.settings.items() if k != "workspace"}})
    plan = AzureMLDeployer().plan(spec, ctx)
    assert plan.settings["coords"]["workspace"] == WS
    assert not [f for f in plan.findings if f.level == "fail"]


def test_an_offline_plan_is_refused_as_stale_once_signed_in(fake, aml, ctx, isolated_home):
    from deployers.base import DeployContext
    from deployers.errors import StalePlanError

    offline = DeployContext(state_dir=isolated_home, subscription_id="00000000-0000-0000-0000-000000000000",
                            resource_group="rg").for_deployment(EP)
    plan = AzureMLDeployer().plan(make_spec(), offline)
    with pytest.raises(StalePlanError):
        AzureMLDeployer().apply(plan, ctx)  # signed in now, but the plan never saw Azure
    assert not [r for r in fake.requests if r.method != "GET"]
