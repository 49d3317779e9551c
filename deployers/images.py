"""The one image path for every image target (AKS, App Service, Container Apps).

An image target calls, in this order (each step is a small function below):

  plan:
    info, dl = plan_model_download(ctx, info)    a registered model to download: a `create`
                                                 action (files, size, where), info sized; no blob read
    choice = choose_registry(ctx, subscription=, resource_group=, location=, given=, read_azure=)
    choice.describe() / choice.plan_action()     the plan's note / the registry `create` action
    files = model_build_context(info, port=...)  only when info.local_path (else None)
    ref, tag = image_ref(choice.login_server, repository, files)
                                                 tag "" (ref ends :pending-model-download) until the
                                                 model is downloaded; tag_exists(...) says no-op or build
    store choice.settings() in plan.settings     (registry, registry_resource_group, registry_how, plus
                                                 your `subscription`): apply, destroy and
                                                 registry_users read these keys
  apply:
    info = fetch_model(ctx, plan.model_info)     FIRST: download (progress, cache); fails before
                                                 anything is created
    files = model_build_context(info, ...); ref, tag = image_ref(...)   fill a pending tag in
    registry = ensure_registry(ctx, RegistryChoice.from_settings(plan.settings), deployment)
    ensure_image(ctx, registry_rg=, registry_name=, repository=, files=, registry=registry)
    ensure_acr_pull(ctx, registry_id=registry.id, principal_id=<the identity that pulls>)
    smoke_test(ctx, info, post, where)           post(payload) -> (status, latency_ms, body)
  destroy:
    delete_acr_pull(ctx, registry_id=, principal_id=)
    release_registry(ctx, deployment=, subscription=, resource_group=, name=) -> (deleted, why)

Registry choice is the same for every target: `--set registry=` wins; else an
ACR tagged `managed-by: deploy-advisor` in the resource group; else one is
created (tagged, Basic SKU, admin user off; images are pulled with a managed
identity that holds AcrPull). `release_registry` deletes a registry only when
we created it and no other deployment in the ledger still names it.

The image holds the same scoring server and scoring script the local target
runs. It is tagged by the hash of its build context, so an unchanged model is
never rebuilt: `ensure_image` asks the registry whether the tag exists and
only then uploads the context and schedules an ACR Tasks Docker build.

ACR Tasks left azure-mgmt-containerregistry in 15.0.0; with 14.0.0 the run
operations need the client pinned to api_version 2019-06-01-preview
(see /work/shared/reference/azure-sdk-testing.md, "Version traps").
"""
from __future__ import annotations

import ast
import hashlib
import io
import re
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from advisor.models import ModelInfo

from . import templating
from .base import DeployContext
from .errors import AuthError, DeployTimeout, InputError, RemoteError, StalePlanError

ROOT = Path(__file__).resolve().parent.parent
TASKS_API_VERSION = "2019-06-01-preview"
PORT = 8080
# The scoring image's base, pinned by digest so a rebuild of the same build context (same content-hash tag)
# starts from the same bytes. The tag is kept for readers; Docker uses the digest. To move to a newer patch
# release: `docker buildx imagetools inspect python:3.11-slim` and copy the index digest here.
BASE_IMAGE = "python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7"
SERVING_MODULE = "deployers.serving"
PROJECT_PACKAGES = ("deployers", "advisor")
# Tree models are compiled at image build time (a RUN step), never while planning: compiling loads the model.
BUILD_COMPILER = "deployers/compiled_trees.py"
# AcrPull built-in role: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/containers#acrpull
ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
RUN_TERMINAL = {"succeeded", "failed", "canceled", "error", "timeout"}

REGISTRY_RE = re.compile(r"^[a-zA-Z0-9]{5,50}$")
REPOSITORY_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
IMAGE_RE = re.compile(
    r"^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")

Files = dict[str, Union[bytes, str]]


# ----------------------------------------------------------------- validation

def validate_registry_name(name: str) -> str:
    """ACR names reach URLs and az commands: 5-50 letters and digits only."""
    if not REGISTRY_RE.match(name or ""):
        raise InputError(f"invalid registry name {name!r}", "an Azure Container Registry name has 5-50 letters and digits")
    return name


def validate_repository(repo: str) -> str:
    if len(repo or "") > 200 or not REPOSITORY_RE.match(repo or ""):
        raise InputError(f"invalid image repository {repo!r}",
                         "use lowercase letters, digits and single . _ - separators, with / between path parts")
    return repo


def validate_image(ref: str) -> str:
    """A user-given image reference lands in a manifest: accept only a well-formed reference."""
    if len(ref or "") > 400 or not IMAGE_RE.match(ref or ""):
        raise InputError(f"invalid image reference {ref!r}", "use registry/repository:tag, e.g. myacr.azurecr.io/scoring:1.0")
    return ref


def _clean_requirement(line: str) -> Optional[str]:
    """One pip requirement, or None for blanks/comments. Options and URLs are refused: the
    file is fed to pip inside the build, so it must not pull code from arbitrary places."""
    from packaging.requirements import InvalidRequirement, Requirement

    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    if text.startswith("-"):
        raise InputError(f"unsupported requirement line {text!r}", "pip options (-r, -e, --index-url) are not allowed")
    try:
        req = Requirement(text)
    except InvalidRequirement as e:
        raise InputError(f"invalid model requirement {text!r}: {e}", "fix the model's requirements.txt") from None
    if req.url:
        raise InputError(f"model requirement {text!r} points at a URL", "pin a package from PyPI instead")
    return str(req)


# ----------------------------------------------------------------- build context

def _module_path(name: str) -> Optional[Path]:
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1])
    return ".".join(parts[:-1])


def _imports(path: Path) -> Iterable[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            yield mod
            for alias in node.names:  # `from pkg import module` imports a module too
                yield f"{mod}.{alias.name}"


def serving_closure() -> tuple[dict[str, Path], set[str]]:
    """See `_serving_closure`; computed once per process (the sources do not change while it runs)."""
    files, third = _serving_closure()
    return dict(files), set(third)


@lru_cache(maxsize=1)
def _serving_closure() -> tuple[dict[str, Path], frozenset[str]]:
    """Project files the scoring server imports (transitively) and the third-party top-level names.

    The image ships only what `python -m deployers.serving` needs, not the whole tool.
    """
    start = _module_path(SERVING_MODULE)
    if start is None:
        raise InputError("the scoring server package deployers/serving is missing from this checkout",
                         "reinstall deploy-advisor")
    files: dict[str, Path] = {}
    third: set[str] = set()
    queue = [SERVING_MODULE]
    seen: set[str] = set()
    # a package ships whole: every module in deployers/serving
    serving_dir = start.parent if start.name == "__init__.py" else None
    if serving_dir is not None:
        for p in sorted(serving_dir.rglob("*.py")):
            if "__pycache__" not in p.parts:
                mod = ".".join(p.relative_to(ROOT).with_suffix("").parts)
                queue.append(mod[: -len(".__init__")] if mod.endswith(".__init__") else mod)
    while queue:
        name = queue.pop()
        if name in seen or not name:
            continue
        seen.add(name)
        top = name.split(".")[0]
        if top not in PROJECT_PACKAGES:
            if top not in sys.stdlib_module_names and top != "__future__":
                third.add(top)
            continue
        path = _module_path(name)
        if path is None:
            continue  # `from pkg import attribute`: not a module
        parts = name.split(".")
        for i in range(1, len(parts)):  # parent packages' __init__.py run first
            parent = _module_path(".".join(parts[:i]))
            if parent is not None and ".".join(parts[:i]) not in seen:
                queue.append(".".join(parts[:i]))
        files[path.relative_to(ROOT).as_posix()] = path
        queue.extend(_imports(path))
    return files, frozenset(third)


@lru_cache(maxsize=1)
def _distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


def serving_requirements(third_party: Iterable[str]) -> list[str]:
    """Pin the server's third-party imports to the versions installed here (what was tested)."""
    out: dict[str, str] = {}
    for top in sorted(third_party):
        for dist in _distributions().get(top, []):
            try:
                out[dist.lower()] = f"{dist}=={metadata.version(dist)}"
            except metadata.PackageNotFoundError:
                continue
    return [out[k] for k in sorted(out)]


def score_requirements(model_info: ModelInfo) -> list[str]:
    """What score.py itself imports for this kind of model (pinned to the versions tested here);
    MLflow models bring these through mlflow, custom models often list nothing."""
    names = ["numpy", "pyyaml"]
    if model_info.format == "custom":
        names.append("joblib")
        if model_info.framework in ("sklearn", "xgboost", "lightgbm"):
            names.append({"sklearn": "scikit-learn"}.get(model_info.framework, model_info.framework))
        if model_info.framework == "onnx":
            names.append("onnxruntime")
    out = []
    for n in names:
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            out.append(n)
    return out


def merge_requirements(model_reqs: Iterable[str], serving_reqs: Iterable[str]) -> list[str]:
    """The model's own pins win; the server's fill what the model does not name."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    merged: dict[str, str] = {}
    for line in model_reqs:
        clean = _clean_requirement(line)
        if clean:
            merged.setdefault(canonicalize_name(Requirement(clean).name), clean)
    for line in serving_reqs:
        clean = _clean_requirement(line)
        if clean:
            merged.setdefault(canonicalize_name(Requirement(clean).name), clean)
    return [merged[k] for k in sorted(merged)]


# The image's target environment: markers in dependency metadata are evaluated for it, not for this machine.
IMAGE_MARKERS = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
                 "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
                 "implementation_name": "cpython", "platform_python_implementation": "CPython"}


# A model lists `mlflow==X` (MLflow writes its own name, also where only mlflow-skinny is installed); the
# image gets mlflow-skinny X when that is installed: the same `mlflow` package, which is all loading a model
# needs, without the tracking server, UI and plotting full mlflow adds.
SUBSTITUTES = {"mlflow": "mlflow-skinny"}


def _installed(name: str) -> Optional[metadata.Distribution]:
    try:
        return metadata.distribution(name) if name else None
    except metadata.PackageNotFoundError:
        return None


def full_lock(requirements: Iterable[str]) -> list[str]:
    """The requirements plus every distribution they depend on, each pinned with `==`.

    Versions are the ones installed here (what ran locally and in the tests); a requirement this environment
    does not satisfy keeps its own pin (its dependencies are then taken from the installed release of the same
    project when there is one). The Dockerfile installs the list with `--no-deps` and runs `pip check`, so the
    build either gets exactly this set or fails: nothing unpinned is resolved at build time, and the
    content-hash tag (which hashes this file) names what runs."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    queue = [(Requirement(r), True) for r in requirements]
    while queue:
        req, direct = queue.pop(0)
        name = canonicalize_name(req.name)
        if name in pins:
            continue
        lean = _installed(SUBSTITUTES.get(name, ""))
        dist = lean if lean is not None and req.specifier.contains(lean.version, prereleases=True) else _installed(req.name)
        if dist is not None and req.specifier.contains(dist.version, prereleases=True):
            pins[name] = f"{dist.metadata['Name']}=={dist.version}"
        elif direct and str(req.specifier).startswith("=="):
            pins[name] = f"{req.name}{req.specifier}"
        else:
            raise InputError(f"the image needs {req} but this environment has "
                             f"{dist.version if dist else 'no release'} of it",
                             f"pip install '{req}' here (then the image runs what you tested) or pin it in the "
                             "model's requirements.txt")
        for line in (dist.requires or []) if dist is not None else []:
            dep = Requirement(line)
            extras = sorted(req.extras) or [""]
            if dep.marker is None or any(dep.marker.evaluate({**IMAGE_MARKERS, "extra": e}) for e in extras):
                queue.append((dep, False))
    return [pins[k] for k in sorted(pins)]


def _jinja():
    return templating.environment()


def render_dockerfile(model_info: ModelInfo, *, workers: int = 1, port: int = PORT) -> str:
    if not (1 <= int(workers) <= 256) or not (1 <= int(port) <= 65535):
        raise InputError(f"invalid image settings: workers={workers}, port={port}")
    safe = re.compile(r"[^A-Za-z0-9_.:/@+-]")
    return _jinja().get_template("Dockerfile.j2").render(
        model_name=safe.sub("_", model_info.name)[:120], model_version=safe.sub("_", model_info.version or "")[:60],
        workers=int(workers), port=int(port), base_image=BASE_IMAGE)


def _read_tree(root: Path, prefix: str) -> Files:
    out: Files = {}
    from .model_folder import files

    for p in files(root):  # no link out of the app dir
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"):
            out[f"{prefix}/{p.relative_to(root).as_posix()}"] = p.read_bytes()
    return out


def render_build_context(model_info: ModelInfo, model_dir: Optional[Path], app_dir: Optional[Path] = None, *,
                         workers: int = 1, port: int = PORT) -> Files:
    """Every file of the Docker build context: Dockerfile, requirements.txt, app/ (score.py,
    model/, serving.json from `scoring.build_app_dir`) and the `deployers/serving` package."""
    files: Files = {}
    if app_dir is None:
        from . import scoring

        if model_dir is None:
            raise InputError(f"model {model_info.uri} has no local files to put in an image",
                             "use a local or MLflow-registry model, or give a ready image with --set image=...")
        with tempfile.TemporaryDirectory(prefix="da-build-") as tmp:
            built = scoring.build_app_dir(model_info, Path(model_dir), Path(tmp) / "app")
            files.update(_read_tree(Path(built), "app"))
    else:
        files.update(_read_tree(Path(app_dir), "app"))
    modules, third = serving_closure()
    for rel, path in sorted(modules.items()):
        files[rel] = path.read_text(encoding="utf-8")
    files[BUILD_COMPILER] = (ROOT / BUILD_COMPILER).read_text(encoding="utf-8")  # the Dockerfile runs it
    reqs = merge_requirements(model_info.requirements,
                              serving_requirements(third) + score_requirements(model_info))
    files["requirements.txt"] = "".join(f"{r}\n" for r in full_lock(reqs))
    files["Dockerfile"] = render_dockerfile(model_info, workers=workers, port=port)
    files[".dockerignore"] = "**/__pycache__\n**/*.pyc\n"
    return dict(sorted(files.items()))


def plan_model_download(ctx: DeployContext, info: ModelInfo, *, read_azure: bool = True):
    """(info, action): the plan's `create` action for a registered model apply will download (file
    count, size, where from) — None when its files are local — and `info` sized from that listing
    (so sizing matches what the downloaded files will say). Read-only: a listing, never a blob
    read; a version whose blobs are missing fails here with their path."""
    from . import model_fetch
    from .models import PlannedAction

    if info.local_path:
        return info, None
    if not read_azure:
        return info, PlannedAction(kind="create", resource_type="model-download", resource=info.uri,
                                   detail="downloaded on apply (registry not read: not signed in)")
    dl = model_fetch.plan_download(info, ctx.state_dir, ctx)
    if dl is None:
        return info, None
    action = PlannedAction(kind="create", resource_type="model-download", resource=dl.uri,
                           detail=f"{dl.files} file(s), {dl.bytes / 1e6:.1f} MB from {dl.where}",
                           changes={"files": dl.files, "bytes": dl.bytes})
    return info.model_copy(update={"size_mb": round(dl.bytes / 1_048_576, 3)}), action


def fetch_model(ctx: DeployContext, info: ModelInfo) -> ModelInfo:
    """`info` with local files: a registered model is downloaded into the state dir (progress events)
    and cached by name, version and content; call it before creating anything, so a model that cannot
    be fetched leaves nothing half-created."""
    from . import model_fetch

    return model_fetch.fetch(info, ctx.state_dir, ctx)


def model_build_context(info: ModelInfo, *, workers: int = 1, port: int = PORT) -> Files:
    """The build context of a resolved model, from its local folder (a registered model is
    fetched into the state dir first: `model_resolution.fetch`)."""
    from .model_resolution import local_model_dir

    if not info.local_path:
        raise InputError(f"model {info.uri} has no local files to put in an image",
                         "apply downloads a registered model first; or give a ready image with --set image=...")
    return render_build_context(info, local_model_dir(info), workers=workers, port=port)


def _as_bytes(v: Union[bytes, str]) -> bytes:
    return v if isinstance(v, bytes) else v.encode("utf-8")


def content_tag(files: Mapping[str, Union[bytes, str]]) -> str:
    """Tag = hash of the whole build context: same model + server + Dockerfile -> same tag."""
    h = hashlib.sha256()
    for rel in sorted(files):
        data = _as_bytes(files[rel])
        h.update(rel.encode())
        h.update(b"\0%d\0" % len(data))
        h.update(data)
    return "c" + h.hexdigest()[:20]


def build_context_tarball(files: Mapping[str, Union[bytes, str]]) -> bytes:
    """A reproducible tar.gz (fixed mtimes and owners) of the build context."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            data = _as_bytes(files[rel])
            info = tarfile.TarInfo(rel)
            info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 0, 0o644, 0, 0
            tar.addfile(info, io.BytesIO(data))
    import gzip

    return gzip.compress(raw.getvalue(), mtime=0)


def export_build_context(files: Mapping[str, Union[bytes, str]], out_dir: Path) -> list[Path]:
    """Write the context so a user can run `az acr build` or `docker build` by hand."""
    out_dir = Path(out_dir)
    written = []
    for rel, data in sorted(files.items()):
        path = (out_dir / rel).resolve()
        if out_dir.resolve() not in path.parents:
            raise ValueError(f"build context path escapes the output folder: {rel}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_as_bytes(data))
        written.append(path)
    return written


# ----------------------------------------------------------------- Azure clients

_DATA_PLANE_KW = ("transport", "retry_total", "retry_backoff_factor", "retry_backoff_max", "retry_status",
                  "retry_connect", "retry_read", "connection_timeout", "read_timeout", "logging_enable")


def data_plane_kwargs(ctx: DeployContext) -> dict[str, Any]:
    """The subset of client kwargs a data-plane client (blob, ACR) understands."""
    from .azure_common import sdk_kwargs

    return {k: v for k, v in sdk_kwargs(ctx).items() if k in _DATA_PLANE_KW}


def _poll_interval(ctx: DeployContext, default: float = 5.0) -> float:
    return float(ctx.client_kwargs.get("polling_interval", default))


def registry_client(ctx: DeployContext):
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from .azure_common import get_credential, sdk_kwargs

    return ContainerRegistryManagementClient(get_credential(ctx), ctx.subscription_id, **sdk_kwargs(ctx))


def tasks_client(ctx: DeployContext):
    """ACR Tasks (runs, scheduleRun, source upload) only exist in this API version for 14.x."""
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from .azure_common import get_credential, sdk_kwargs

    return ContainerRegistryManagementClient(get_credential(ctx), ctx.subscription_id,
                                             api_version=TASKS_API_VERSION, **sdk_kwargs(ctx))


def get_registry(ctx: DeployContext, resource_group: str, name: str):
    """The registry, or None when it does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    from .azure_common import map_azure_error

    try:
        return registry_client(ctx).registries.get(resource_group, name)
    except ResourceNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001 - mapped to a DeployError with a hint
        raise _mapped(e, map_azure_error) from e


def create_registry(ctx: DeployContext, resource_group: str, name: str, location: str, tags: dict[str, str]):
    """A Basic registry for the deployment's images (ACR Tasks work on every SKU), admin user off:
    pulls use Microsoft Entra identities with AcrPull, the admin account is for proofs of concept
    (learn.microsoft.com/azure/container-registry/container-registry-authentication, read 2026-12-06)."""
    from azure.mgmt.containerregistry.models import Registry, Sku

    from .azure_common import map_azure_error, pending, wait

    client = registry_client(ctx)
    key = f"acr.create.{name}"
    try:
        token = pending(ctx, key)
        if token:
            poller = client.registries.begin_create(resource_group, name, None, continuation_token=token)
        else:
            poller = client.registries.begin_create(
                resource_group, name, Registry(location=location, sku=Sku(name="Basic"), admin_user_enabled=False,
                                               tags=tags))
        return wait(poller, ctx, f"create container registry {name}", key)
    except Exception as e:  # noqa: BLE001
        raise _mapped(e, map_azure_error) from e


# ----------------------------------------------------------------- registry choice (plan) and creation (apply)

TAG_CREATED = "deploy-advisor-created"  # value "registry": we created it, so destroy may delete it


def default_registry_name(subscription: str, resource_group: str) -> str:
    """The name of a registry we create: one per subscription + resource group (ACR names are
    global, so a hash keeps it unique while staying the same on every run)."""
    return "da" + hashlib.sha256(f"{subscription}|{resource_group}".lower().encode()).hexdigest()[:16]


def registry_resource_id(subscription: str, resource_group: str, name: str) -> str:
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.ContainerRegistry/registries/{name}")


@dataclass
class RegistryChoice:
    """Which ACR an image target builds in and pulls from, and why (the plan shows `describe()`).

    `how` is "given" (`--set registry=`), "found" (an ACR tagged managed-by: deploy-advisor in the
    resource group) or "new" (none found: one will be created). `registry` is the SDK object when
    the registry exists (None when it is still to be created or Azure was not read).
    """
    subscription: str
    resource_group: str
    name: str
    how: str
    location: str = ""
    registry: Any = None
    state_read: bool = True

    @property
    def id(self) -> str:
        return getattr(self.registry, "id", None) or registry_resource_id(self.subscription, self.resource_group,
                                                                          self.name)

    @property
    def login_server(self) -> str:
        return login_server(self.name, self.registry)

    @property
    def exists(self) -> bool:
        return self.registry is not None

    def describe(self) -> str:
        rg = self.resource_group or "the resource group"
        why = {"given": "set with registry=",
               "found": f"found in {rg}: tagged {TAG_MANAGED_BY_VALUE}",
               "new": f"no registry tagged {TAG_MANAGED_BY_VALUE} in {rg}"}[self.how]
        if not self.state_read:
            return f"registry {self.name} ({why}; Azure not read: created on apply when missing)"
        if self.exists:
            return f"registry {self.login_server} ({why})"
        return f"registry {self.name} will be created ({why}; Basic SKU, admin user off, managed-identity pull)"

    def plan_action(self):
        """A `create` PlannedAction when apply will create the registry, else None."""
        from .models import PlannedAction

        if self.exists:
            return None
        return PlannedAction(kind="create", resource_type="Microsoft.ContainerRegistry/registries", resource=self.name,
                             detail=f"Basic registry in {self.location or 'the resource group location'}, admin user "
                                    f"off, tagged {TAG_MANAGED_BY_VALUE}")

    def settings(self) -> dict[str, str]:
        """What a plan stores so apply and destroy find the same registry (no SDK objects)."""
        return {"registry": self.name, "registry_resource_group": self.resource_group, "registry_how": self.how}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], registry: Any = None) -> "RegistryChoice":
        """The choice a plan stored (`settings()` keys plus the target's `subscription` and `location`)."""
        return cls(settings.get("subscription") or "", settings.get("registry_resource_group") or "",
                   settings["registry"], settings.get("registry_how") or "given", settings.get("location") or "",
                   registry=registry)


TAG_MANAGED_BY_VALUE = "managed-by: deploy-advisor"


def _tagged_ours(tags: Optional[Mapping[str, str]]) -> bool:
    from .azure_common import MANAGED_BY, TAG_MANAGED_BY

    return {str(k).lower(): v for k, v in (tags or {}).items()}.get(TAG_MANAGED_BY) == MANAGED_BY


def find_tagged_registry(ctx: DeployContext, resource_group: str) -> Optional[Any]:
    """The ACR in `resource_group` tagged managed-by: deploy-advisor (the first by name), or None."""
    from azure.core.exceptions import ResourceNotFoundError

    from .azure_common import map_azure_error

    try:
        found = [r for r in registry_client(ctx).registries.list_by_resource_group(resource_group)
                 if _tagged_ours(r.tags)]
    except ResourceNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001 - mapped to a DeployError with a hint
        raise _mapped(e, map_azure_error) from e
    return min(found, key=lambda r: r.name.lower()) if found else None


def choose_registry(ctx: DeployContext, *, subscription: str, resource_group: str, location: str,
                    given: Optional[str] = None, given_resource_group: Optional[str] = None,
                    read_azure: bool = True) -> RegistryChoice:
    """`--set registry=` wins; else the ACR tagged managed-by: deploy-advisor in the resource
    group; else a new one (named by `default_registry_name`). Read-only; with `read_azure=False`
    (not signed in) nothing is looked up and the plan says so."""
    rg = given_resource_group or resource_group
    if given:
        validate_registry_name(given)
        choice = RegistryChoice(subscription, rg, given, "given", location, state_read=read_azure)
        if read_azure:
            choice.registry = get_registry(ctx, rg, given)
        return choice
    if read_azure:
        found = find_tagged_registry(ctx, rg)
        if found is not None:
            return RegistryChoice(subscription, rg, found.name, "found", location, registry=found)
    return RegistryChoice(subscription, rg, default_registry_name(subscription, rg), "new", location,
                          state_read=read_azure)


def ensure_registry(ctx: DeployContext, choice: RegistryChoice, deployment: str) -> Any:
    """The chosen registry, created (tagged as ours and as created by us) when it does not exist yet."""
    from .azure_common import tags

    if choice.registry is None:
        choice.registry = get_registry(ctx, choice.resource_group, choice.name)
    if choice.registry is None:
        ctx.step(f"create container registry {choice.name} (Basic, admin user off)")
        choice.registry = create_registry(ctx, choice.resource_group, choice.name, choice.location,
                                          tags(deployment, **{TAG_CREATED: "registry"}))
    return choice.registry


def registry_users(ctx: DeployContext, registry_id: str, *, except_deployment: str) -> list[str]:
    """Deployments in the ledger (not destroyed) whose plan names this registry.

    Every image target stores `subscription`, `registry` and `registry_resource_group` in its
    plan settings (`RegistryChoice.settings()`), which is what is compared here.
    """
    from .ledger import Ledger

    users = []
    for row in Ledger(ctx.state_dir).list_deployments():
        if row["name"] == except_deployment or row.get("status") == "destroyed":
            continue
        settings = (row.get("plan") or {}).get("settings") or {}
        if settings.get("registry") and RegistryChoice.from_settings(settings).id.lower() == registry_id.lower():
            users.append(row["name"])
    return sorted(users)


def release_registry(ctx: DeployContext, *, deployment: str, subscription: str, resource_group: str,
                     name: str) -> tuple[bool, str]:
    """On destroy: delete the registry if we created it and no other deployment uses it: none in this
    machine's ledger, and no image in it but this deployment's and destroyed ones' (a CI runner or a
    colleague may have found the same tagged registry and pushed theirs; their ledgers are not ours).

    Returns (deleted, why) — `why` says what was kept and for what reason.
    """
    from azure.core.exceptions import ResourceNotFoundError

    from .azure_common import map_azure_error, wait

    if not name:
        return False, ""
    registry = get_registry(ctx, resource_group, name)
    if registry is None:
        return False, f"registry {name} already gone"
    tags = {str(k).lower(): v for k, v in (registry.tags or {}).items()}
    if not (_tagged_ours(registry.tags) and tags.get(TAG_CREATED) == "registry"):
        return False, f"registry {name} kept (not created by deploy-advisor)"
    users = registry_users(ctx, registry.id or registry_resource_id(subscription, resource_group, name),
                           except_deployment=deployment)
    if users:
        return False, f"registry {name} kept (still used by {', '.join(users[:5])})"
    others, why = _other_repositories(ctx, login_server(name, registry), _planned_repositories(ctx, deployment))
    if others or why:
        return False, f"registry {name} kept ({why or 'it holds other images: ' + ', '.join(others[:5])})"
    ctx.step(f"delete container registry {name} (created by deploy-advisor, no other deployment uses it)")
    try:
        wait(registry_client(ctx).registries.begin_delete(resource_group, name), ctx, f"delete registry {name}")
    except ResourceNotFoundError:
        return False, f"registry {name} already gone"
    except Exception as e:  # noqa: BLE001
        raise _mapped(e, map_azure_error) from e
    return True, f"registry {name} deleted"


def _planned_repositories(ctx: DeployContext, deployment: str) -> set[str]:
    """Image repositories this machine's deployments leave behind and no longer need: this one's and those
    of destroyed deployments (every image target keeps the repository in its plan settings)."""
    from .ledger import Ledger

    return {str(row["plan"]["settings"]["repository"]) for row in Ledger(ctx.state_dir).list_deployments()
            if (row["name"] == deployment or row.get("status") == "destroyed")
            and ((row.get("plan") or {}).get("settings") or {}).get("repository")}


def _other_repositories(ctx: DeployContext, server: str, own: set[str]) -> tuple[list[str], str]:
    """(repositories in the registry that are not `own`, why the list could not be read). A registry whose
    content cannot be listed is kept: deleting it could break deployments this machine does not know."""
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.exceptions import AzureError

    from .azure_common import get_credential

    try:
        with ContainerRegistryClient(f"https://{server}", get_credential(ctx), **data_plane_kwargs(ctx)) as client:
            names = list(client.list_repository_names())
    except AzureError as e:
        return [], f"could not list its images: {e.__class__.__name__}; delete it yourself once unused"
    return sorted(n for n in names if n not in own), ""


def _mapped(exc: Exception, mapper) -> Exception:
    from .errors import DeployError

    return exc if isinstance(exc, DeployError) else mapper(exc)


def login_server(name: str, registry: Any = None) -> str:
    server = getattr(registry, "login_server", None)
    return (server or f"{name.lower()}.azurecr.io").lower()


def tag_exists(ctx: DeployContext, server: str, repository: str, tag: str) -> bool:
    """Ask the registry (data plane, AAD token exchanged for an ACR token) whether repo:tag exists."""
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

    from .azure_common import get_credential

    client = ContainerRegistryClient(f"https://{server}", get_credential(ctx), **data_plane_kwargs(ctx))
    try:
        with client:
            client.get_tag_properties(repository, tag)
            return True
    except ResourceNotFoundError:
        return False
    except ClientAuthenticationError as e:
        raise AuthError(f"cannot read tags of {server}/{repository}: {e.message}",
                        "your identity needs AcrPull (or Contributor) on the registry") from e
    except HttpResponseError as e:
        if e.status_code == 404:
            return False
        raise RemoteError(f"registry {server} answered {e.status_code} when checking {repository}:{tag}",
                          "check that the registry is reachable from this machine (firewall, private link)") from e


def upload_context(ctx: DeployContext, tasks: Any, resource_group: str, registry_name: str, tarball: bytes) -> str:
    """Upload the tar.gz to the SAS URL ACR hands out; returns the relative path for the run."""
    from azure.storage.blob import BlobClient

    src = tasks.registries.get_build_source_upload_url(resource_group, registry_name)
    blob = BlobClient.from_blob_url(src.upload_url, **data_plane_kwargs(ctx))
    with blob:
        blob.upload_blob(tarball, overwrite=True, blob_type="BlockBlob")
    return src.relative_path


def _run_log_tail(ctx: DeployContext, tasks: Any, resource_group: str, registry_name: str, run_id: str,
                  lines: int = 30) -> str:
    """The last lines of a build's log (best effort: the log may not exist yet)."""
    from azure.core import PipelineClient
    from azure.core.pipeline import policies
    from azure.core.rest import HttpRequest

    from .azure_common import scrub

    try:
        link = tasks.runs.get_log_sas_url(resource_group, registry_name, run_id).log_link
        if not link:
            return ""
        kw = data_plane_kwargs(ctx)
        retry = policies.RetryPolicy(**{k: v for k, v in kw.items() if k.startswith("retry_")})
        extra = {"transport": kw["transport"]} if kw.get("transport") is not None else {}
        # a plain GET of the SAS link (a small text blob): no storage client needed
        with PipelineClient(base_url=link, policies=[policies.HeadersPolicy(), retry], **extra) as client:
            resp = client.send_request(HttpRequest("GET", link))
            if resp.status_code != 200:
                return ""
            text = resp.text()
    except Exception:  # noqa: BLE001 - the log is a hint, never the failure itself
        return ""
    return scrub("\n".join(text.strip().splitlines()[-lines:]))


def ensure_image(ctx: DeployContext, *, registry_rg: str, registry_name: str, repository: str, files: Files,
                 timeout_s: float = 3600.0, registry: Any = None) -> str:
    """`<login server>/<repository>:<content hash>`, building it with ACR Tasks only when missing.

    The scheduled run id is checkpointed: a resumed apply polls that run
    instead of building again.
    """
    from .azure_common import map_azure_error, wait

    validate_registry_name(registry_name)
    validate_repository(repository)
    tag = content_tag(files)
    if registry is None:
        registry = get_registry(ctx, registry_rg, registry_name)
        if registry is None:
            raise InputError(f"container registry {registry_name} not found in resource group {registry_rg}",
                             f"create it (az acr create -n {registry_name} -g {registry_rg} --sku Basic) "
                             "or set registry=<an existing ACR>")
    server = login_server(registry_name, registry)
    ref = f"{server}/{repository}:{tag}"
    key = f"image.run.{tag}"
    run_id = ctx.checkpoints.get(key)
    tasks = tasks_client(ctx)
    if not run_id:
        if tag_exists(ctx, server, repository, tag):
            ctx.emit("info", f"image {ref} already in the registry: not rebuilding", image=ref)
            return ref
        ctx.step(f"build image {ref} with ACR Tasks", image=ref)
        tarball = build_context_tarball(files)
        try:
            rel = upload_context(ctx, tasks, registry_rg, registry_name, tarball)
            ctx.emit("info", f"uploaded build context ({len(tarball) / 1e6:.1f} MB)", bytes=len(tarball))
            run = wait(tasks.registries.begin_schedule_run(registry_rg, registry_name, _docker_build_request(
                rel, f"{repository}:{tag}", timeout_s)), ctx, "schedule image build")
        except Exception as e:  # noqa: BLE001
            raise _mapped(e, map_azure_error) from e
        run_id = run.run_id
        ctx.checkpoint(key, run_id)
    else:
        ctx.emit("info", f"resuming image build run {run_id}", run_id=run_id)
    _wait_run(ctx, tasks, registry_rg, registry_name, run_id, ref, timeout_s)
    return ref


def _docker_build_request(source_location: str, image: str, timeout_s: float):
    from azure.mgmt.containerregistry.v2019_06_01_preview.models import (AgentProperties, DockerBuildRequest,
                                                                        PlatformProperties)

    return DockerBuildRequest(source_location=source_location, docker_file_path="Dockerfile", image_names=[image],
                              is_push_enabled=True, no_cache=False,
                              platform=PlatformProperties(os="Linux", architecture="amd64"),
                              timeout=int(min(max(timeout_s, 300), 28800)),
                              agent_configuration=AgentProperties(cpu=2))


def _wait_run(ctx: DeployContext, tasks: Any, rg: str, registry_name: str, run_id: str, ref: str,
              timeout_s: float) -> None:
    from .azure_common import map_azure_error

    started = time.monotonic()
    last = ""
    while True:
        ctx.check_cancelled()
        try:
            run = tasks.runs.get(rg, registry_name, run_id)
        except Exception as e:  # noqa: BLE001
            raise _mapped(e, map_azure_error) from e
        status = str(run.status or "Queued")
        if status != last:
            ctx.emit("progress", f"image build {run_id}: {status}", run_id=run_id, status=status,
                     elapsed_s=round(time.monotonic() - started, 1))
            last = status
        if status.lower() in RUN_TERMINAL:
            break
        if time.monotonic() - started > timeout_s:
            raise DeployTimeout(f"image build {run_id} still {status} after {timeout_s:.0f} s",
                                f"see `az acr task logs -r {registry_name} --run-id {run_id}`", code="BuildTimeout")
        ctx.sleep(_poll_interval(ctx))
    if status.lower() != "succeeded":
        tail = _run_log_tail(ctx, tasks, rg, registry_name, run_id)
        if tail:
            ctx.emit("error", f"image build log (last lines):\n{tail}", run_id=run_id)
        why = f": {run.run_error_message}" if getattr(run, "run_error_message", None) else ""
        raise RemoteError(f"image build {run_id} for {ref} ended {status}{why}",
                          f"see the full log with `az acr task logs -r {registry_name} --run-id {run_id}`",
                          code="ImageBuildFailure")
    ctx.emit("info", f"image {ref} built", image=ref, run_id=run_id)


def image_ref(server: str, repository: str, files: Optional[Mapping[str, Union[bytes, str]]]) -> tuple[str, str]:
    """(`<server>/<repository>:<content tag>`, tag); without files (model not downloaded yet) the tag
    is "" and the reference ends in `:<tag after download>` (apply fills it in)."""
    validate_repository(repository)
    if files is None:
        return f"{server}/{repository}:{PENDING_TAG}", ""
    tag = content_tag(files)
    return f"{server}/{repository}:{tag}", tag


PENDING_TAG = "pending-model-download"


# ----------------------------------------------------------------- AcrPull for the cluster / web app identity

def authorization_client(ctx: DeployContext):
    from azure.mgmt.authorization import AuthorizationManagementClient

    from .azure_common import get_credential, sdk_kwargs

    return AuthorizationManagementClient(get_credential(ctx), ctx.subscription_id, **sdk_kwargs(ctx))


def role_definition_id(subscription_id: str, role_id: str = ACR_PULL_ROLE_ID) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"


def acr_pull_role_definition_id(subscription_id: str) -> str:
    return role_definition_id(subscription_id)


def role_assignment_name(scope: str, principal_id: str, role_id: str = ACR_PULL_ROLE_ID) -> str:
    """Deterministic assignment name: a re-run PUTs the same assignment instead of a duplicate."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal_id}|{role_id}"))


def acr_pull_assignment_name(registry_id: str, principal_id: str) -> str:
    return role_assignment_name(registry_id, principal_id)


def role_fix_command(scope: str, principal_id: str, role: str = "AcrPull") -> str:
    role_arg = f'"{role}"' if " " in role else role
    return (f"az role assignment create --assignee-object-id {principal_id} --assignee-principal-type "
            f"ServicePrincipal --role {role_arg} --scope {scope}")


def acr_pull_fix_command(registry_id: str, principal_id: str) -> str:
    return role_fix_command(registry_id, principal_id)


def role_assignment(ctx: DeployContext, *, scope: str, principal_id: str,
                    role_id: str = ACR_PULL_ROLE_ID) -> Optional[Any]:
    """The existing assignment of `role_id` to `principal_id` on `scope` (or a parent scope), or None."""
    from .azure_common import map_azure_error

    try:
        found = authorization_client(ctx).role_assignments.list_for_scope(
            scope, filter=f"assignedTo('{principal_id}')")
        for ra in found:
            if (ra.principal_id == principal_id and (ra.role_definition_id or "").lower().endswith(role_id)
                    and scope.lower().startswith((ra.scope or "").lower())):
                return ra
    except Exception as e:  # noqa: BLE001
        raise _mapped(e, map_azure_error) from e
    return None


def acr_pull_assignment(ctx: DeployContext, *, registry_id: str, principal_id: str) -> Optional[Any]:
    """The existing AcrPull assignment of `principal_id` on the registry (or a parent scope), or None."""
    return role_assignment(ctx, scope=registry_id, principal_id=principal_id)


def can_assign_roles(ctx: DeployContext, registry_id: str) -> bool:
    """Whether the caller may write role assignments on the registry (Owner / User Access Administrator)."""
    from .azure_common import map_azure_error

    parts = registry_id.strip("/").split("/")
    try:
        rg, name = parts[3], parts[-1]
        perms = list(authorization_client(ctx).permissions.list_for_resource(
            rg, "Microsoft.ContainerRegistry", "", "registries", name))
    except IndexError:
        raise InputError(f"not a registry resource id: {registry_id}") from None
    except Exception as e:  # noqa: BLE001
        raise _mapped(e, map_azure_error) from e
    want = "microsoft.authorization/roleassignments/write"

    def matches(pattern: str) -> bool:
        rx = "^" + re.escape(pattern.lower()).replace(r"\*", ".*") + "$"
        return re.match(rx, want) is not None

    allowed = any(matches(a) for p in perms for a in (p.actions or []))
    denied = any(matches(a) for p in perms for a in (p.not_actions or []))
    return allowed and not denied


def ensure_role(ctx: DeployContext, *, scope: str, principal_id: str, role_id: str = ACR_PULL_ROLE_ID,
                role: str = "AcrPull", whom: str = "the cluster") -> bool:
    """Grant `role` on `scope` to a managed identity; True when a new assignment was made."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.authorization.models import RoleAssignmentCreateParameters

    from .azure_common import map_azure_error

    if role_assignment(ctx, scope=scope, principal_id=principal_id, role_id=role_id) is not None:
        return False
    params = RoleAssignmentCreateParameters(role_definition_id=role_definition_id(ctx.subscription_id, role_id),
                                            principal_id=principal_id, principal_type="ServicePrincipal")
    try:
        authorization_client(ctx).role_assignments.create(
            scope, role_assignment_name(scope, principal_id, role_id), params)
    except HttpResponseError as e:
        code = getattr(getattr(e, "error", None), "code", "") or ""
        if code == "RoleAssignmentExists":
            return False
        if e.status_code == 403 or code == "AuthorizationFailed":
            raise AuthError(f"not allowed to grant {role} on {scope.rsplit('/', 1)[-1]} to {whom}",
                            f"ask an Owner to run: {role_fix_command(scope, principal_id, role)}",
                            code="AuthorizationFailed") from e
        raise _mapped(e, map_azure_error) from e
    ctx.emit("info", f"granted {role} on {scope.rsplit('/', 1)[-1]} to {whom}", principal_id=principal_id)
    return True


def ensure_acr_pull(ctx: DeployContext, *, registry_id: str, principal_id: str) -> bool:
    """Grant AcrPull to the identity that pulls images; True when a new assignment was made."""
    return ensure_role(ctx, scope=registry_id, principal_id=principal_id)


def delete_role(ctx: DeployContext, *, scope: str, principal_id: str, role_id: str = ACR_PULL_ROLE_ID) -> bool:
    """Remove the assignment we made (deterministic name), if it is there."""
    from azure.core.exceptions import ResourceNotFoundError

    from .azure_common import map_azure_error

    try:
        out = authorization_client(ctx).role_assignments.delete(
            scope, role_assignment_name(scope, principal_id, role_id))
        return out is not None
    except ResourceNotFoundError:
        return False
    except Exception as e:  # noqa: BLE001
        raise _mapped(e, map_azure_error) from e


def delete_acr_pull(ctx: DeployContext, *, registry_id: str, principal_id: str) -> bool:
    return delete_role(ctx, scope=registry_id, principal_id=principal_id)


# ----------------------------------------------------------------- smoke test after the rollout


@dataclass
class SmokeResult:
    """Outcome of scoring the model's input example on a new deployment."""
    ok: bool
    why: str = ""
    latency_ms: Optional[float] = None
    response: Any = None
    skipped: bool = False


def smoke_test(ctx: DeployContext, info: Optional[ModelInfo], post, where: str) -> SmokeResult:
    """Score the model's saved input example through `post(payload) -> (status, latency_ms, body)`.

    Every image target runs the same check (`/score` with the Azure ML `input_data` shape); a
    model without an input example is skipped with a warning, not failed.
    """
    from .azure_common import scrub
    from .errors import DeployError
    from .planning import input_example

    payload = input_example(info)
    if payload is None:
        ctx.emit("warning", f"smoke test on {where} skipped: the model has no input example")
        return SmokeResult(True, skipped=True)
    ctx.step(f"smoke test: score the model's input example on {where}")
    try:
        status, latency_ms, body = post(payload)
    except DeployError as e:
        return SmokeResult(False, f"smoke test failed: {e.message}")
    if status != 200:
        return SmokeResult(False, f"smoke test failed: HTTP {status}: {scrub(str(body))[:300]}")
    ctx.emit("info", f"smoke test on {where} passed: HTTP 200 in {latency_ms:.0f} ms",
             latency_ms=round(latency_ms, 1))
    return SmokeResult(True, "", round(latency_ms, 1), body)


# ---- steps the two image web-app targets (App Service, Container Apps) share -----------------
# `r` is the target's Resolved settings: it has subscription, resource_group, location, port,
# image, image_source, registry, registry_resource_group, registry_how and repository.


def web_build_context(info: Optional[ModelInfo], port: int) -> Files:
    """The image build context for a web-app target; one line of help when the model is unknown."""
    if info is None:
        raise InputError("the model could not be resolved, so no image can be built",
                         "give a ready image with --set image=...")
    return model_build_context(info, port=port)


def plan_web_image(ctx: DeployContext, r: Any, info: Optional[ModelInfo], *, given: Optional[str],
                   given_resource_group: Optional[str], read_azure: bool, with_files: bool) -> tuple[RegistryChoice, Files]:
    """Plan time: the registry rule (r.registry* follow the choice) and r.image with its content-hash
    tag, pending when `with_files` is False (a registered model still to be downloaded)."""
    choice = choose_registry(ctx, subscription=r.subscription, resource_group=r.resource_group,
                             location=r.location, given=given, given_resource_group=given_resource_group,
                             read_azure=read_azure)
    r.registry, r.registry_resource_group, r.registry_how = choice.name, choice.resource_group, choice.how
    files = web_build_context(info, r.port) if with_files else {}
    r.image = image_ref(choice.login_server, r.repository, files or None)[0]
    return choice, files


def apply_model_files(ctx: DeployContext, plan: Any, r: Any) -> Files:
    """Apply, before anything is created: download a registered model, build the context, and settle
    the image tag a plan made before the download left pending (the ledger keeps what really runs)."""
    if plan.model_info is None:
        raise StalePlanError("the plan holds no model facts", "plan again")
    info = fetch_model(ctx, plan.model_info)
    files = web_build_context(info, r.port)
    image = image_ref(login_server(r.registry), r.repository, files)[0]
    if r.image.endswith(f":{PENDING_TAG}"):
        plan.model_info, plan.settings["image"] = info, image
    elif image != r.image:
        ctx.emit("warning", f"the build context changed since planning: deploying {image} (planned {r.image})")
    r.image = image
    return files


def ensure_web_image(ctx: DeployContext, r: Any, files: Files) -> str:
    """Create the chosen registry when missing, then build the image there unless the tag exists."""
    registry = ensure_registry(ctx, RegistryChoice.from_settings(r.model_dump()), r.deployment)
    return ensure_image(ctx, registry_rg=r.registry_resource_group, registry_name=r.registry,
                        repository=r.repository, files=files, registry=registry)


def drop_remembered_acr_pulls(ctx: DeployContext, mem: Mapping[str, Any]) -> list[str]:
    """Destroy: remove the AcrPull grants a web-app deployment remembered; what was deleted."""
    registry_id = mem.get("registry_id") or ""
    deleted = []
    for principal in mem.get("principals") or []:
        if registry_id and delete_acr_pull(ctx, registry_id=registry_id, principal_id=principal):
            deleted.append(f"AcrPull for {principal}")
    return deleted


def release_remembered_registry(ctx: DeployContext, mem: Mapping[str, Any], *, deployment: str,
                                subscription: str, resource_group: str, deleted: list[str], kept: list[str]) -> None:
    """Destroy: release the registry a web-app deployment remembered (release_registry's rule),
    adding to `deleted` or `kept`."""
    if not mem.get("registry"):
        return
    gone, why = release_registry(ctx, deployment=deployment, subscription=subscription,
                                 resource_group=mem.get("registry_resource_group") or resource_group,
                                 name=mem["registry"])
    if gone:
        deleted.append(f"registry {mem['registry']}")
    elif why:
        kept.append(why)
