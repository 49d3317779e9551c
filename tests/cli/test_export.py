"""`deploy-advisor export`: every file parses, the az ml YAML loads with azure-ai-ml's own loaders,
the Kubernetes manifests validate against the Kubernetes schemas, the workflow signs in with OIDC and
runs `apply -f`, the spec round-trips, and no secret or unvalidated input reaches the files."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import PINNED_INSTALL, cli

SAMPLE = "models:/sample-classifier/1"
GH_SECRET = re.compile(r"\$\{\{ secrets\.[A-Z_]+ \}\}")


def assert_no_secret(out: Path, secret: str) -> None:
    """No exported file holds `secret`; secrets appear only as `${{ secrets.NAME }}` expressions."""
    for p in _files(out):
        if p.suffix == ".pkl":
            continue
        text = p.read_text(errors="replace")
        assert secret not in text, p
        for m in re.finditer(r"\$\{\{[^}]*secrets[^}]*\}\}", text):
            assert GH_SECRET.fullmatch(m.group(0)), m.group(0)


def _files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def _parse_all(out: Path) -> dict[str, object]:
    """Every YAML/JSON file parses; returns them by path relative to `out`."""
    parsed = {}
    for p in _files(out):
        rel = p.relative_to(out).as_posix()
        if p.suffix in (".yaml", ".yml"):
            parsed[rel] = list(yaml.safe_load_all(p.read_text()))
        elif p.suffix == ".json":
            parsed[rel] = json.loads(p.read_text())
    return parsed


def _workflow(out: Path, name: str) -> dict:
    return yaml.safe_load((out / ".github" / "workflows" / f"deploy-{name}.yml").read_text())


def _check_azure_workflow(out: Path, name: str, spec_path: str) -> dict:
    wf = _workflow(out, name)
    assert wf["permissions"] == {"id-token": "write", "contents": "read"}
    assert set(wf["on"]) == {"push", "pull_request", "workflow_dispatch"}
    for job in ("plan", "deploy"):
        steps = wf["jobs"][job]["steps"]
        login = [s for s in steps if str(s.get("uses", "")).startswith("azure/login")]
        assert len(login) == 1 and login[0]["uses"] == "azure/login@v2"
        assert login[0]["with"] == {"client-id": "${{ secrets.AZURE_CLIENT_ID }}",
                                    "tenant-id": "${{ secrets.AZURE_TENANT_ID }}",
                                    "subscription-id": "${{ secrets.AZURE_SUBSCRIPTION_ID }}"}
        assert "client-secret" not in json.dumps(wf)
    runs = [s["run"] for s in wf["jobs"]["deploy"]["steps"] if "run" in s]
    assert any(r.startswith(f"deploy-advisor apply -f {spec_path} --yes --output json --credential cli") for r in runs)
    plan_runs = [s["run"] for s in wf["jobs"]["plan"]["steps"] if "run" in s]
    assert any(f"deploy-advisor plan -f {spec_path} --detailed-exitcode" in r for r in plan_runs)
    assert wf["env"]["AZURE_SUBSCRIPTION_ID"] == "${{ secrets.AZURE_SUBSCRIPTION_ID }}"
    return wf


def _check_spec_roundtrip(out: Path, name: str, target: str):
    from deployers import specs

    loaded = specs.load_spec(out / "deployment.yaml")
    assert loaded.name == name and loaded.target == target
    return loaded


def test_export_azureml_loads_with_azure_ai_ml(home_with_sample, tmp_path, monkeypatch):
    from azure.ai.ml import load_online_deployment, load_online_endpoint

    monkeypatch.chdir(tmp_path)
    out = cli("export", "--target", "azureml", "--model", "azureml:fraud:3", "--name", "fraud-scoring",
              "--profile", str(Path(__file__).parents[2] / "examples" / "profiles" / "churn-realtime.yaml"),
              "--resource-group", "rg-ml-prod", "--workspace", "mlw-prod", "--out", "deploy/fraud",
              "--environment", "production", "--output", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    for line in out.stderr.splitlines():  # progress and notes are JSON lines too
        json.loads(line)
    exp = tmp_path / "deploy" / "fraud"
    assert doc["name"] == "fraud-scoring" and doc["target"] == "azureml" and doc["warnings"] == []
    parsed = _parse_all(exp)
    assert {"deployment.yaml", "artifacts/plan.json", "artifacts/endpoint.yml", "artifacts/deployment.yml",
            ".github/workflows/deploy-fraud-scoring.yml"} <= set(parsed)
    endpoint = load_online_endpoint(exp / "artifacts" / "endpoint.yml")
    deployment = load_online_deployment(exp / "artifacts" / "deployment.yml")
    assert endpoint.name == "fraud-scoring" and endpoint.auth_mode == "key"
    assert deployment.endpoint_name == "fraud-scoring" and "fraud" in str(deployment.model)
    wf = _check_azure_workflow(exp, "fraud-scoring", "deploy/fraud/deployment.yaml")
    assert wf["env"]["AZURE_RESOURCE_GROUP"] == "rg-ml-prod" and wf["env"]["AZUREML_WORKSPACE_NAME"] == "mlw-prod"
    assert wf["jobs"]["deploy"]["environment"] == "production"
    assert wf["on"]["push"]["paths"][0] == "deploy/fraud/**"
    loaded = _check_spec_roundtrip(exp, "fraud-scoring", "azureml")
    assert loaded.model == "azureml:fraud:3" and loaded.profile.name == "churn-scoring"
    readme = (exp / "EXPORT.md").read_text()
    assert "az ad app federated-credential create" in readme and "repo:OWNER/REPO:environment:production" in readme
    assert "artifacts/deploy.sh" in readme


def test_export_aks_manifests_validate_against_the_kubernetes_schemas(home_with_sample, tmp_path):
    import kubernetes_validate

    exp = tmp_path / "aks"
    out = cli("export", "--target", "aks", "--model", SAMPLE, "--name", "sample-aks", "--out", str(exp))
    assert out.returncode == 0, out.stderr
    assert "warning: the model `models:/sample-classifier/1` lives on this machine" in out.stderr
    parsed = _parse_all(exp)
    manifests = {k: v for k, v in parsed.items() if k.startswith("artifacts/kubernetes/")}
    kinds = {d["kind"] for docs in manifests.values() for d in docs if d}
    assert {"Namespace", "Deployment", "Service"} <= kinds
    version = kubernetes_validate.latest_version()
    for docs in manifests.values():
        for d in docs:
            if d:
                kubernetes_validate.validate(d, version, strict=True)
    assert (exp / "artifacts" / "build" / "Dockerfile").is_file()
    _check_azure_workflow(exp, "sample-aks", _spec_path(exp))
    _check_spec_roundtrip(exp, "sample-aks", "aks")
    assert "lives on this machine" in (exp / "EXPORT.md").read_text()  # CI cannot read a local model


def _spec_path(exp: Path) -> str:
    """Where the export sits relative to the test's working directory (the repo root for the workflow)."""
    from deployers.export import repo_relative

    rel = repo_relative(exp)
    return "deployment.yaml" if rel == "." else f"{rel}/deployment.yaml"


def test_export_appservice_from_a_spec_file(home_with_sample, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "specs" / "dash.yaml"
    spec.parent.mkdir()
    spec.write_text("name: churn-dashboard-api\ntarget: appservice\nmodel: azureml:churn:3\n"
                    "profile: {name: dash, region: westeurope}\nsettings: {sku: P1v3}\n")
    out = cli("export", "-f", str(spec), "--out", "export/dash", "--branch", "release/2026")
    assert out.returncode == 0, out.stderr
    exp = tmp_path / "export" / "dash"
    parsed = _parse_all(exp)
    template = parsed["artifacts/appservice/azuredeploy.json"]
    assert template["$schema"].endswith("deploymentTemplate.json#")
    types = {r["type"] for r in template["resources"]}
    assert "Microsoft.Web/sites" in types and "Microsoft.Web/serverfarms" in types
    wf = _check_azure_workflow(exp, "churn-dashboard-api", "export/dash/deployment.yaml")
    assert wf["on"]["push"]["branches"] == ["release/2026"]
    loaded = _check_spec_roundtrip(exp, "churn-dashboard-api", "appservice")
    assert loaded.doc.settings == {"sku": "P1v3"} and loaded.profile.region == "westeurope"


@pytest.mark.xdist_group("local-target")
def test_export_local_is_a_runnable_app_folder_and_a_smoke_test_workflow(home_with_sample, tmp_path):
    exp = tmp_path / "local"
    out = cli("export", "--target", "local", "--model", SAMPLE, "--name", "sample-local", "--out", str(exp))
    assert out.returncode == 0, out.stderr
    _parse_all(exp)
    art = exp / "artifacts"
    for f in ("score.py", "run.sh", "serving.json", "plan.json", "sample-request.json"):
        assert (art / f).is_file(), f
    assert (art / "model" / "MLmodel").is_file()
    assert "def init" in (art / "score.py").read_text() and "deployers.serving" in (art / "run.sh").read_text()
    wf = _workflow(exp, "sample-local")
    assert "id-token" not in wf["permissions"]  # no Azure sign-in for the local target
    runs = " ".join(s.get("run", "") for s in wf["jobs"]["deploy"]["steps"])
    assert "deploy-advisor apply -f" in runs and "deploy-advisor invoke sample-local --data" in runs
    assert "deploy-advisor destroy sample-local --yes" in runs
    _check_spec_roundtrip(exp, "sample-local", "local")


@pytest.mark.parametrize("flag, value, needle", [
    ("--branch", "main; curl evil", "--branch: invalid value"),
    ("--environment", "prod env", "--environment: invalid value"),
    ("--install", "deploy-advisor; rm -rf /", "--install: "),
    ("--install", "$(curl x)", "--install: "),
    ("--install", "deploy-advisor==0.1.0", "not a pinned artifact"),  # a bare name: whoever registers it runs
    ("--install", "deploy-advisor @ git+https://github.com/o/r@main", "not a pinned artifact"),  # a moving ref
    ("--install", "evil-1.0-py3-none-any.whl", "not a deploy-advisor wheel"),
    ("--repo-path", "../outside", "--repo-path: invalid value"),
])
def test_hostile_values_never_reach_the_workflow(home_with_sample, tmp_path, flag, value, needle):
    exp = tmp_path / "x"
    out = cli("export", "--target", "appservice", "--model", "azureml:m:1", "--name", "x-app", "--out", str(exp),
              flag, value)
    assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not (exp / ".github").exists()


def test_render_workflow_rejects_bad_scope_values():
    from deployers.errors import InputError
    from deployers.export import render_workflow

    base = dict(name="ok-name", target="azureml", requires_azure=True, spec_path="deployment.yaml", watch="**",
                workflow_path=".github/workflows/deploy-ok-name.yml", install=PINNED_INSTALL)
    text = render_workflow(**base, resource_group="rg-(prod).1", location="westeurope", workspace="mlw_prod-1")
    assert yaml.safe_load(text)["env"]["AZURE_RESOURCE_GROUP"] == "rg-(prod).1"
    for key, bad in (("resource_group", "rg\nname"), ("location", "West Europe"), ("workspace", "w s"),
                     ("spec_path", "/etc/passwd"), ("name", "Bad")):
        with pytest.raises((InputError, ValueError)):
            render_workflow(**{**base, key: bad})


def _install_steps(wf: dict) -> list[str]:
    return [s["run"] for job in wf["jobs"].values() for s in job["steps"] if "pip install" in s.get("run", "")]


def test_export_refuses_without_a_pinned_artifact(home_with_sample, tmp_path, monkeypatch):
    monkeypatch.delenv("DEPLOY_ADVISOR_INSTALL")
    exp = tmp_path / "x"
    out = cli("export", "--target", "appservice", "--model", "azureml:m:1", "--name", "x-app", "--out", str(exp))
    assert out.returncode == 2 and "cannot name a pinned deploy-advisor" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and not exp.exists()


def test_workflow_installs_the_git_commit_with_the_targets_extra(home_with_sample, tmp_path):
    exp = tmp_path / "x"
    out = cli("export", "--target", "appservice", "--model", "azureml:m:1", "--name", "x-app", "--out", str(exp))
    assert out.returncode == 0, out.stderr
    runs = _install_steps(_workflow(exp, "x-app"))
    pin = PINNED_INSTALL.replace("deploy-advisor @", "deploy-advisor[appservice] @")
    assert len(runs) == 2 and all(r.strip() == f"python -m pip install '{pin}'" for r in runs), runs


def test_workflow_installs_a_wheel_committed_next_to_it(home_with_sample, tmp_path):
    import hashlib

    wheel = tmp_path / "dist" / "deploy_advisor-0.1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK not really a wheel, only its bytes are hashed")
    exp = tmp_path / "x"
    out = cli("export", "--target", "aks", "--model", SAMPLE, "--name", "sample-aks", "--out", str(exp),
              "--repo-path", "deploy/aks", "--install", str(wheel))
    assert out.returncode == 0, out.stderr
    copied = exp / "wheels" / wheel.name
    assert copied.read_bytes() == wheel.read_bytes()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for run in _install_steps(_workflow(exp, "sample-aks")):
        check, install = run.strip().splitlines()
        assert check == f"echo '{digest}  deploy/aks/wheels/{wheel.name}' | sha256sum --check --strict"
        assert install == f"python -m pip install 'deploy/aks/wheels/{wheel.name}[aks]'"
    assert "wheels/" in (exp / "EXPORT.md").read_text()


def test_a_copy_installed_from_a_git_commit_names_that_commit(monkeypatch):
    """PEP 610: `pip install git+https://...@COMMIT` records the commit; a re-export pins the same code."""
    import importlib.metadata

    from deployers import export

    commit = "b" * 40

    class Dist:
        def read_text(self, name):
            assert name == "direct_url.json"
            return json.dumps({"url": "https://github.com/org/deploy-advisor",
                               "vcs_info": {"vcs": "git", "commit_id": commit}})

    monkeypatch.delenv("DEPLOY_ADVISOR_INSTALL")
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: Dist())
    pinned = export.resolve_install(None)
    assert pinned.pip_argument("aks") == f"deploy-advisor[aks] @ git+https://github.com/org/deploy-advisor@{commit}"
