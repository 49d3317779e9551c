"""`deploy-advisor export`: everything needed to deploy without this tool, or from CI with it.

Some teams deploy with their own pipelines; some reviewers want to read the
exact files before anything runs. An export is a folder holding the target's
plan artifacts (az ml YAML; Kubernetes manifests + Dockerfile + build context;
an ARM template; score.py + run script), the plan itself, the `deployment.yaml`
spec, a GitHub Actions workflow that signs in with OIDC and runs
`deploy-advisor apply -f`, and EXPORT.md saying how to use each. Nothing in it
holds a secret: plans and artifacts never do, and the workflow names secrets
only as `${{ secrets.X }}`.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Optional

import yaml

from . import templating
from .errors import InputError
from .models import DeploymentPlan, DeploymentSpec, validate_deployment_name

INSTALL_HINT = ("pass --install 'deploy-advisor @ git+https://github.com/ORG/REPO@COMMIT' (a full 40-hex commit) or "
                "--install PATH/deploy_advisor-VERSION-py3-none-any.whl (copied next to the workflow); "
                "DEPLOY_ADVISOR_INSTALL sets a default")
# The pip extra a target's SDKs come with (pyproject.toml); other targets (plugins) bring their own.
TARGET_EXTRA = {"azureml": "azureml", "azureml-batch": "azureml", "aks": "aks", "appservice": "appservice",
                "containerapps": "containerapps"}
WHEELS = "wheels"  # subfolder of an export holding the deploy-advisor wheel the workflow installs
_GIT_PIN_RE = re.compile(r"^deploy-advisor(?:\[[a-z0-9,-]+\])? @ (git\+https://[A-Za-z0-9._~/%:-]+@[0-9a-f]{40})$")
_WHEEL_NAME_RE = re.compile(r"^deploy_advisor-[A-Za-z0-9_.+]+-py3-none-any\.whl$")
ARTIFACTS = "artifacts"  # subfolder of an export holding the target's plan artifacts and plan.json
PYTHON_VERSION = "3.11"

_REPO_PATH_RE = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
_BRANCH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_ENV_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RG_RE = re.compile(r"^[-A-Za-z0-9._()]{0,89}[-A-Za-z0-9_()]$")  # 1-90 (ASCII: it reaches YAML and shell), no final "."
_LOCATION_RE = re.compile(r"^[a-z][a-z0-9]{1,40}$")
_WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,32}$")
_LOCAL_MODEL_RE = re.compile(r"^(models:/|runs:/|file://|/|\./|\.\./|~)")

AZUREML_TARGETS = ("azureml", "azureml-batch")  # targets that live in an Azure ML workspace
MANUAL = {
    "azureml": "Run `deploy.sh` (Azure CLI with the `ml` extension): it creates the endpoint from `endpoint.yml`, "
               "the deployment from `deployment.yml`, smoke-tests it and moves traffic the way the plan says. "
               "Or step by step: `az ml online-endpoint create -f endpoint.yml -g RG -w WORKSPACE`, then "
               "`az ml online-deployment create -f deployment.yml -g RG -w WORKSPACE`, then "
               "`az ml online-endpoint update -n ENDPOINT --traffic \"DEPLOYMENT=100\" -g RG -w WORKSPACE`.",
    "azureml-batch": "Run `invoke.sh INPUT` (Azure CLI with the `ml` extension): it creates the compute cluster "
                     "from `compute.yml`, the batch endpoint from `endpoint.yml` and the deployment from "
                     "`deployment.yml`, runs a smoke job on INPUT, makes the deployment the default and downloads "
                     "the job's output. Later jobs: `az ml batch-endpoint invoke -n ENDPOINT --input DATA -g RG "
                     "-w WORKSPACE`.",
    "aks": "Follow `README.md`: build the image from `build/` (`az acr build -r REGISTRY -t IMAGE build/`), "
           "create the scoring-key Secret, then `kubectl apply -f kubernetes/` and "
           "`kubectl rollout status deployment/NAME -n NAMESPACE`.",
    "appservice": "Follow `appservice/README.md`: build the image from `build/` if the plan builds one, then "
                  "`az deployment group create -g RG --template-file appservice/azuredeploy.json "
                  "--parameters @appservice/azuredeploy.parameters.json`.",
    "containerapps": "Follow `containerapps/README.md`: build the image from `image/`, create the environment and a "
                     "first revision with `az deployment group create -g RG --template-file containerapps/azuredeploy.json "
                     "--parameters @containerapps/azuredeploy.parameters.json`, grant AcrPull, then roll the scoring "
                     "image with `az containerapp update -n APP -g RG --yaml containerapp.yaml` (key filled by envsubst).",
    "local": "`score.py`, the model (`model/`) and `serving.json` are the app folder. Install the serving "
             "module the way the workflow does (the pinned artifact it names) and the model's requirements "
             "(`pip install -r model/requirements.txt`), "
             "create a key (`python -c \"import secrets; print(secrets.token_urlsafe(32))\" > key && chmod 600 "
             "key`), then `sh run.sh`: it serves the model on 127.0.0.1:8080 with the same scoring contract "
             "(`POST /score`, `Authorization: Bearer <key>`) as the cloud targets.",
}

WHAT = [
    (re.compile(r"^wheels/.*\.whl$"), "the deploy-advisor wheel the workflow installs (sha256-checked): commit it"),
    (re.compile(r"^deployment\.yaml$"), "the deployment spec that `deploy-advisor plan / apply / status / destroy -f` read"),
    (re.compile(r"^plan\.json$"), "the plan this export was made from (`deploy-advisor apply plan.json` applies it)"),
    (re.compile(r"^EXPORT\.md$"), "this file"),
    (re.compile(r"^\.github/workflows/"), "GitHub Actions workflow: OIDC sign-in, plan on PRs, apply on push"),
    (re.compile(r"^endpoint\.yml$"), "Azure ML online endpoint (az ml CLI v2 YAML)"),
    (re.compile(r"^deployment\.yml$"), "Azure ML online deployment (az ml CLI v2 YAML)"),
    (re.compile(r"^deploy\.sh$"), "the az ml commands that deploy, smoke-test and shift traffic"),
    (re.compile(r"^kubernetes/"), "Kubernetes manifest"),
    (re.compile(r"^build/Dockerfile$"), "container image recipe"),
    (re.compile(r"^build/"), "image build context"),
    (re.compile(r"^Dockerfile$"), "container image recipe"),
    (re.compile(r"^appservice/azuredeploy\.json$"), "ARM template: App Service plan, web app, staging slot"),
    (re.compile(r"^appservice/azuredeploy\.parameters\.json$"), "parameters for the ARM template"),
    (re.compile(r"^containerapps/containerapp\.yaml$"), "Container App for `az containerapp create|update --yaml` "
                                                       "(key as ${SCORING_KEY})"),
    (re.compile(r"^containerapps/azuredeploy\.json$"), "ARM template: Container Apps environment and app"),
    (re.compile(r"^containerapps/azuredeploy\.parameters\.json$"), "parameters for the ARM template (no key)"),
    (re.compile(r"^image/"), "image build context"),
    (re.compile(r"(^|/)README\.md$"), "the target's own step-by-step instructions"),
    (re.compile(r"(^|/)score\.py$"), "the scoring script (init()/run(), the Azure ML contract)"),
    (re.compile(r"(^|/)conda\.yaml$"), "the Python environment"),
    (re.compile(r"^run\.sh$"), "serves score.py on 127.0.0.1"),
    (re.compile(r"request\.json$"), "a sample scoring request"),
    (re.compile(r"^model/"), "the model (copied from the registry)"),
    (re.compile(r"^serving\.json$"), "what the scoring server needs to know about the model"),
    (re.compile(r"^compiled/trees\.npz$"), "the tree model as plain arrays, checked against it (faster start)"),
]


@dataclass
class ExportResult:
    out_dir: Path
    plan: DeploymentPlan
    files: list[Path]
    workflow: Path
    spec_file: Path
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "name": self.plan.name, "target": self.plan.target,
                "plan_id": self.plan.plan_id, "files": [str(p) for p in self.files],
                "workflow": str(self.workflow), "spec": str(self.spec_file), "warnings": self.warnings,
                "notes": self.plan.notes}


# ---------------------------------------------------------------- validation


def _check(value: Optional[str], rx: re.Pattern[str], what: str) -> Optional[str]:
    """User input that reaches a template, a shell line or a YAML value is checked first."""
    if value is None or value == "":
        return None
    if not rx.match(value) or ".." in value:
        raise InputError(f"{what}: invalid value {value!r}", f"allowed: {rx.pattern}")
    return value


@dataclass(frozen=True)
class Install:
    """What an exported workflow installs: a pinned artifact, never a bare (unpublished) package name.

    Either the git repository at an exact commit, or a wheel copied into the export (`wheels/`) whose
    sha256 the workflow checks before installing it."""
    url: Optional[str] = None  # git+https://...@<40-hex commit>
    wheel: Optional[Path] = None  # the wheel to copy next to the workflow
    sha256: str = ""

    def pip_argument(self, extra: Optional[str], wheel_path: str = "") -> str:
        """`pip install` argument with the target's extra: `deploy-advisor[aks] @ git+...` or `wheels/x.whl[aks]`."""
        suffix = f"[{extra}]" if extra else ""
        return f"{wheel_path}{suffix}" if self.wheel else f"deploy-advisor{suffix} @ {self.url}"


def _installed_from_git() -> Optional[str]:
    """`deploy-advisor @ git+URL@COMMIT` when this copy was pip-installed from a git commit (PEP 610
    direct_url.json), so a re-export names the same code without being told."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        raw = distribution("deploy-advisor").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    info = json.loads(raw) if raw else {}
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") != "git" or not str(info.get("url", "")).startswith("https://"):
        return None
    return f"deploy-advisor @ git+{info['url']}@{vcs.get('commit_id', '')}"


def resolve_install(value: Optional[str]) -> Install:
    """--install (or DEPLOY_ADVISOR_INSTALL, or the git commit this copy came from) as a pinned artifact;
    a one-line error when none can be named: an exported pipeline must not install whatever a name means
    on the day it runs."""
    import hashlib

    value = (value or os.environ.get("DEPLOY_ADVISOR_INSTALL") or _installed_from_git() or "").strip()
    if not value:
        raise InputError("--install: cannot name a pinned deploy-advisor for the workflow to install", INSTALL_HINT)
    if value.endswith(".whl"):
        path = Path(value).expanduser()
        if not _WHEEL_NAME_RE.match(path.name):
            raise InputError(f"--install {value!r}: not a deploy-advisor wheel file name", INSTALL_HINT)
        if not path.is_file():
            raise InputError(f"--install {value!r}: no such wheel file", INSTALL_HINT)
        return Install(wheel=path, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    m = _GIT_PIN_RE.match(value)
    if not m:
        raise InputError(f"--install: {value!r} is not a pinned artifact (a git commit or a wheel file)", INSTALL_HINT)
    return Install(url=m.group(1))


def repo_relative(path: Path, repo_root: Optional[Path] = None) -> str:
    """Where `path` sits inside the repository (default: the current folder is the repo root)."""
    root = (repo_root or Path.cwd()).resolve()
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        return "."
    text = PurePosixPath(*rel.parts).as_posix() if rel.parts else "."
    return text


# ---------------------------------------------------------------- rendering


def _env():
    env = templating.environment("github", q=lambda v: json.dumps(str(v)),  # a double-quoted YAML scalar
                                 sh=lambda v: shlex.quote(str(v)))
    env.globals["gh"] = lambda expr: "${{ " + expr + " }}"  # a GitHub Actions expression
    return env


def render_workflow(*, name: str, target: str, requires_azure: bool, spec_path: str, watch: str,
                    workflow_path: str, branch: str = "main", environment: Optional[str] = None,
                    resource_group: Optional[str] = None, location: Optional[str] = None,
                    workspace: Optional[str] = None, install: str, install_sha256: str = "",
                    install_file: str = "", sample_request: Optional[str] = None) -> str:
    """The GitHub Actions workflow (templates/github/deploy.yml.j2), checked to parse as YAML."""
    validate_deployment_name(name)
    _check(target, re.compile(r"^[a-z][a-z0-9-]{0,40}$"), "target")
    for value, what in ((spec_path, "spec path"), (workflow_path, "workflow path"), (sample_request, "sample request")):
        _check(value, _REPO_PATH_RE, what)
    if watch != "**":
        _check(watch.removesuffix("/**"), _REPO_PATH_RE, "watched path")
    _check(branch, _BRANCH_RE, "--branch")
    _check(environment, _ENV_RE, "--environment")
    _check(resource_group, _RG_RE, "resource group")
    _check(location, _LOCATION_RE, "location")
    _check(workspace, _WORKSPACE_RE, "workspace")
    if install_file:
        _check(install_file, _REPO_PATH_RE, "wheel path")
    if not (install_sha256 and re.fullmatch(r"[0-9a-f]{64}", install_sha256)) and not _GIT_PIN_RE.match(install):
        raise InputError(f"install: {install!r} is not a pinned artifact", INSTALL_HINT)
    text = _env().get_template("deploy.yml.j2").render(
        name=name, target=target, requires_azure=requires_azure, spec_path=spec_path, watch=watch,
        workflow_path=workflow_path, branch=branch, environment=environment or "",
        resource_group=resource_group or "${{ vars.AZURE_RESOURCE_GROUP }}", location=location or "",
        workspace=workspace or ("${{ vars.AZUREML_WORKSPACE_NAME }}" if target in AZUREML_TARGETS else ""),
        install=install, install_sha256=install_sha256, install_file=install_file, python_version=PYTHON_VERSION, sample_request=sample_request or "",
        credential_flag=" --credential cli" if requires_azure else "")
    doc = yaml.safe_load(text)  # a template bug must fail here, not in the user's pipeline
    if not isinstance(doc, dict) or "jobs" not in doc:
        raise RuntimeError("the rendered workflow is not a GitHub Actions workflow")
    return text


def _local_app(plan: DeploymentPlan, dest: Path) -> list[Path]:
    """The local target's run.sh serves `--app-dir .`: put the model and serving.json next to score.py."""
    from . import model_resolution, scoring

    scoring.build_app_dir(plan.model_info, model_resolution.local_model_dir(plan.model_info), dest)
    return [p for p in [dest / "score.py", dest / "serving.json", dest / "compiled" / "trees.npz",
                        *(dest / "model").rglob("*")] if p.is_file()]


def _describe(rel: str) -> str:
    inner = rel[len(ARTIFACTS) + 1:] if rel.startswith(ARTIFACTS + "/") else rel
    for rx, what in WHAT:
        if rx.search(inner):
            return what
    return "plan artifact"


def _warnings(spec: DeploymentSpec) -> list[str]:
    out = []
    if _LOCAL_MODEL_RE.match(spec.model) or not re.match(r"^[a-z]+:", spec.model):
        out.append(f"the model `{spec.model}` lives on this machine (a local folder or the embedded MLflow "
                   "registry): a CI runner cannot read it. Register it in Azure ML and use `azureml:NAME:VERSION` "
                   "in deployment.yaml, or commit the model folder and point `model:` at it (relative to the spec).")
    return out


def export_deployment(spec: DeploymentSpec, out_dir: Path | str, ctx: Any = None, *, notes: list[str] = (),
                      repo_path: Optional[str] = None, branch: str = "main", environment: Optional[str] = None,
                      install: Optional[str] = None, model_ref: Optional[str] = None) -> ExportResult:
    """Plan (read-only) and write the artifacts, plan.json, deployment.yaml, the workflow and EXPORT.md.

    `repo_path` is where `out_dir` will live inside the repository (default: its path relative to
    the current folder); the workflow's `-f` and `paths:` filter use it.
    """
    from . import api, registry, specs

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    repo_path = repo_path if repo_path is not None else repo_relative(out)
    repo_path = repo_path.strip("/") or "."
    if repo_path != ".":
        _check(repo_path, _REPO_PATH_RE, "--repo-path")
    _check(branch, _BRANCH_RE, "--branch")  # before anything is written
    _check(environment, _ENV_RE, "--environment")
    pinned = resolve_install(install)

    plan = api.plan(spec, ctx)
    plan.notes[:0] = [n for n in notes if n not in plan.notes]
    # The target's own files (and plan.json) go in a subfolder: the az ml `deployment.yml` must not sit
    # next to our `deployment.yaml` spec, and a file of the target never overwrites one of ours.
    written = [Path(p) for p in api.export(plan, out / ARTIFACTS)]
    if spec.target == "local" and plan.model_info is not None:
        written += _local_app(plan, out / ARTIFACTS)

    warnings = _warnings(spec)
    spec_text = specs.to_yaml(spec.model_copy(update={"model": model_ref or spec.model}), header=(
        f"# deployment.yaml for {spec.name}, written by `deploy-advisor export` (plan {plan.plan_id}).\n"
        "# deploy-advisor plan|apply|status|destroy -f deployment.yaml\n"))
    spec_file = out / "deployment.yaml"
    spec_file.write_text(spec_text, encoding="utf-8")
    written.append(spec_file)

    cls = registry.get_class(spec.target)
    settings = plan.settings or {}
    workspace = (settings.get("workspace") or spec.settings.get("workspace")
                 or os.environ.get("AZUREML_WORKSPACE_NAME") or None)
    prefix = "" if repo_path == "." else repo_path + "/"
    workflow_rel = f".github/workflows/deploy-{spec.name}.yml"
    wheel_rel = ""
    if pinned.wheel:  # committed next to the workflow; the workflow checks its sha256 before installing
        wheel_file = out / WHEELS / pinned.wheel.name
        wheel_file.parent.mkdir(parents=True, exist_ok=True)
        if pinned.wheel.resolve() != wheel_file.resolve():
            shutil.copyfile(pinned.wheel, wheel_file)
        written.append(wheel_file)
        wheel_rel = f"{prefix}{WHEELS}/{pinned.wheel.name}"
    sample = next((f"{ARTIFACTS}/{k}" for k in sorted(plan.artifacts) if k.endswith("request.json")), None)
    workflow_text = render_workflow(
        name=spec.name, target=spec.target, requires_azure=bool(cls.requires_azure),
        spec_path=f"{prefix}deployment.yaml", watch=f"{prefix}**" if prefix else "**",
        workflow_path=workflow_rel, branch=branch, environment=environment,
        resource_group=settings.get("resource_group") or getattr(ctx, "resource_group", None),
        location=settings.get("location") or getattr(ctx, "location", None),
        workspace=workspace if spec.target in AZUREML_TARGETS else None,
        install=pinned.pip_argument(TARGET_EXTRA.get(spec.target), wheel_rel), install_sha256=pinned.sha256,
        install_file=wheel_rel, sample_request=f"{prefix}{sample}" if sample else None)
    workflow = out / workflow_rel
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text(workflow_text, encoding="utf-8")
    written.append(workflow)

    readme = out / "EXPORT.md"
    rels = sorted({p.resolve().relative_to(out.resolve()).as_posix() for p in written} | {"EXPORT.md"})
    readme.write_text(_env().get_template("EXPORT.md.j2").render(
        name=spec.name, target=spec.target, plan_id=plan.plan_id, model=model_ref or spec.model,
        created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(plan.created_at)),
        sizing=(f"{plan.sizing.sku} × {plan.sizing.instances} (autoscale {plan.sizing.min}–{plan.sizing.max})"
                if plan.sizing else ""),
        notes=plan.notes, warnings=warnings,
        files=[{"path": r, "what": _describe(r)} for r in rels],
        manual=MANUAL.get(spec.target, "See the plan artifacts and the target's documentation."),
        artifacts_dir=ARTIFACTS, repo_path=repo_path,
        workflow_path=workflow_rel, spec_path=f"{prefix}deployment.yaml", branch=branch,
        requires_azure=bool(cls.requires_azure),
        resource_group_hint=settings.get("resource_group") or getattr(ctx, "resource_group", None) or "RESOURCE_GROUP",
        resource_group_set=bool(settings.get("resource_group") or getattr(ctx, "resource_group", None)),
        workspace_set=bool(workspace),
        oidc_subject=f"environment:{environment}" if environment else f"ref:refs/heads/{branch}"), encoding="utf-8")
    written.append(readme)
    return ExportResult(out_dir=out, plan=plan, files=sorted({p.resolve() for p in written}), workflow=workflow,
                        spec_file=spec_file,
                        warnings=warnings)
