"""Registered models -> files in the state dir, for the targets that build an image.

AKS, App Service and Container Apps put the model's files into an image, so a model that lives in
a registry has to be downloaded first. This module does that, once per model version:

- `plan_download(info, state_dir, ctx)`: read-only; what apply will download (files, bytes, where
  from), found by listing the blobs: no blob is read. None when the files are already local.
- `fetch(info, state_dir, ctx)`: downloads with progress events, checks that the files are a model
  the scoring script can serve, and caches them; a cached version is returned without a download.

Sources:
- `azureml:NAME:VERSION` (workspace) and `azureml://registries/R/models/NAME/versions/V` (registry):
  `MLClient.models.download`, which resolves the storage itself: the workspace datastore with its
  secrets, or a SAS the registry hands out (azure-ai-ml 1.35.2 `ModelOperations.download`, read
  2026-12-06). The plan's listing reaches the same storage the same way.
- `models:/NAME/VERSION` with MLFLOW_TRACKING_URI pointing at an Azure ML workspace
  (`azureml://<region>.api.azureml.ms/mlflow/v1.0/subscriptions/...`): a workspace's MLflow model
  registry *is* its model registry (learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow,
  read 2026-12-06), so the version is fetched as `azureml:NAME:VERSION` of that workspace without the
  azureml-mlflow plugin.
- `models:/NAME/VERSION` on a remote MLflow server (http/https): `MlflowClient` lists and downloads
  the version's artifacts.

Cache: state_dir/models/remote/<scope>/<name>/<version>/ next to `<version>.source.json`, which
records where the files came from (the asset id and storage path), every file's size and the
sha256 of the whole folder. A cache entry is used only when the registry still points at the same
storage path and the files on disk still match (sizes, then the content hash).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional
from urllib.parse import urlsplit

from advisor.models import ModelInfo

from .base import DeployContext
from .errors import ModelResolutionError

_WORKSPACE_IN_URI = re.compile(r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/"
                               r"Microsoft\.MachineLearningServices/workspaces/(?P<ws>[^/?#]+)", re.IGNORECASE)
_PROGRESS_EVERY_S = 0.5


@dataclass
class DownloadPlan:
    """What apply will download for a registered model (from a listing: nothing was read)."""
    uri: str
    where: str  # storage location, without credentials
    sizes: dict[str, int]  # file path inside the model folder -> bytes

    @property
    def files(self) -> int:
        return len(self.sizes)

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())

    def describe(self) -> str:
        return f"download {self.uri}: {self.files} file(s), {self.bytes / 1e6:.1f} MB from {self.where}"


# ----------------------------------------------------------------------------- the cache


def cache_dir(state_dir: Path, scope: str, name: str, version: str) -> Path:
    """One folder per registry scope, model name and version (names reduced to safe path parts)."""
    def part(text: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:48] or "x"
        return f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"

    return Path(state_dir).expanduser().resolve() / "models" / "remote" / part(scope) / part(name) / part(version)


def _marker_path(cache: Path) -> Path:
    return cache.parent / f"{cache.name}.source.json"


def _sizes(folder: Path) -> dict[str, int]:
    """Relative path -> size of every regular file (symlinks are not model files; none may lead out)."""
    from .model_folder import files

    return dict(sorted((p.relative_to(folder).as_posix(), p.stat().st_size)
                       for p in files(folder) if not p.is_symlink()))


def _cached(cache: Path, source: dict[str, str]) -> bool:
    """The cache holds exactly the files downloaded from `source` (same asset and storage path)."""
    from .model_resolution import _read_json, content_hash

    marker = _read_json(_marker_path(cache))
    if not isinstance(marker, dict) or not cache.is_dir():
        return False
    if any(marker.get(k) != v for k, v in source.items()):
        return False
    return _sizes(cache) == marker.get("files") and content_hash(cache) == marker.get("content_sha256")


def _local_info(folder: Path, uri: str, name: str, version: str, source: str) -> ModelInfo:
    """Facts of a downloaded folder, under the registered model's name and URI."""
    from .model_resolution import _inspect_custom, _inspect_mlflow

    if (folder / "MLmodel").is_file():
        return _inspect_mlflow(folder, uri=uri, name=name, version=version, source=source)
    info = _inspect_custom(folder)
    return info.model_copy(update={"uri": uri, "name": name, "version": version, "source": source})


def _check_servable(folder: Path, uri: str, where: str) -> None:
    """One line naming what is missing when the files are not a model the scoring script can load."""
    from .model_resolution import EXTENSIONS

    names = list(_sizes(folder))
    if not names:
        raise ModelResolutionError(f"{uri}: no files at {where} (the model version's blobs are missing)",
                                   "register the model again (az ml model create --path ...) or pick another version")
    if "MLmodel" in names:
        return
    found = {Path(n).suffix.lower() for n in names} | {Path(n).name for n in names}
    if found & (set(EXTENSIONS) | {"saved_model.pb"}):
        return
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    raise ModelResolutionError(
        f"{uri}: the files at {where} are neither an MLflow model (no MLmodel file) nor a model folder the "
        f"scoring script can load (no {', '.join(list(EXTENSIONS)[:5])}, ... file); found: {shown}",
        "register the folder mlflow.<flavor>.save_model wrote, or a folder holding the model file")


# ----------------------------------------------------------------------------- Azure ML


def azureml_info(found: Any, state_dir: Path) -> ModelInfo:
    """A looked-up Azure ML version: its local facts when cached, else the registry's facts (no files)."""
    from .model_resolution import _azure_model_info

    cache = cache_dir(state_dir, found.scope, found.model.name, str(found.model.version))
    if _cached(cache, _azureml_source(found)):
        return _local_info(cache, found.uri, found.model.name, str(found.model.version), found.source)
    return _azure_model_info(found.model, found.uri, found.source)


def _azureml_source(found: Any) -> dict[str, str]:
    return {"asset": str(getattr(found.model, "id", "") or found.uri), "path": str(found.model.path or "")}


def _azureml_storage(found: Any) -> tuple[Any, str, str]:
    """(container client, blob prefix, where) for a version's files, resolved as models.download does."""
    from azure.ai.ml._utils._storage_utils import get_ds_name_and_path_prefix, get_storage_client
    from azure.ai.ml.entities import AccountKeyConfiguration, AzureBlobDatastore

    model = found.model
    ds_name, prefix = get_ds_name_and_path_prefix(model.path, found.registry)
    if found.registry:
        from azure.ai.ml._utils._registry_utils import get_storage_details_for_registry_assets

        ops = found.client.models  # the same private service client models.download uses (azure-ai-ml 1.35)
        sas_uri, _auth = get_storage_details_for_registry_assets(
            service_client=ops._registry_service_client, asset_name=model.name, asset_version=str(model.version),
            reg_name=found.registry, asset_type="models", rg_name=ops._resource_group_name, uri=model.path)
        parts = urlsplit(sas_uri)
        # no query string: the SAS never reaches a message
        where = f"{parts.netloc}/{parts.path.strip('/')}/{prefix.strip('/')}".replace("//", "/")
        client = get_storage_client(credential=None, storage_account=None, account_url=sas_uri)
        return client.container_client, prefix, where
    ds = found.client.datastores.get(ds_name, include_secrets=True)
    if not isinstance(ds, AzureBlobDatastore):
        raise ModelResolutionError(
            f"{found.uri}: the model's files are on datastore {ds_name} ({type(ds).__name__}); image targets fetch "
            "models from Azure Blob datastores only", "register the model from workspaceblobstore (az ml model "
            "create --path ...), or give a ready image with --set image=...")
    creds = ds.credentials
    credential = creds.account_key if isinstance(creds, AccountKeyConfiguration) else getattr(
        creds, "sas_token", None) or found.client.datastores._credential
    client = get_storage_client(credential=credential, container_name=ds.container_name,
                                storage_account=ds.account_name, storage_type=ds.type)
    return client.container_client, prefix, f"datastore {ds_name}, path {prefix.rstrip('/')}"


def _azureml_listing(found: Any) -> tuple[dict[str, int], str]:
    """Blob name (relative to the model's folder) -> size, and where: a listing, never a blob read."""
    from azure.core.exceptions import AzureError

    try:
        container, prefix, where = _azureml_storage(found)
        blobs = {b.name: int(b.size or 0) for b in container.list_blobs(name_starts_with=prefix)
                 if not (b.metadata or {}).get("hdi_isfolder")}
    except AzureError as e:
        raise ModelResolutionError(f"{found.uri}: cannot list the model's files: {_first_line(e)}",
                                   "check that your identity may read the workspace's datastore") from None
    base = prefix.rstrip("/")
    return {(n[len(base):].lstrip("/") or Path(n).name): size for n, size in sorted(blobs.items())}, where


def _first_line(e: BaseException) -> str:
    from .azure_common import scrub

    return scrub((str(e).strip().splitlines() or [e.__class__.__name__])[0])[:200]


def _plan_azureml(found: Any) -> DownloadPlan:
    files, where = _azureml_listing(found)
    if not files:
        raise ModelResolutionError(f"{found.uri}: no files at {where} (the model version's blobs are missing)",
                                   "register the model again (az ml model create --path ...) or pick another version")
    return DownloadPlan(found.uri, where, files)


def _fetch_azureml(found: Any, state_dir: Path, ctx: DeployContext) -> ModelInfo:
    name, version = found.model.name, str(found.model.version)
    cache = cache_dir(state_dir, found.scope, name, version)
    source = _azureml_source(found)
    plan = _plan_azureml(found)

    def download(tmp: Path) -> Path:
        with _quiet_azure_ml():
            found.client.models.download(name, version, download_path=str(tmp))
        # models.download writes <path>/<name>/<folder name> for a folder, <path>/<name>/<file> for one file
        folder = tmp / name / Path(urlsplit(str(found.model.path)).path.rstrip("/")).name
        return folder if folder.is_dir() else tmp / name

    return _download_into_cache(ctx, plan, cache, source, download,
                                lambda folder: _local_info(folder, found.uri, name, version, found.source))


@contextlib.contextmanager
def _quiet_azure_ml() -> Iterator[None]:
    """azure-ai-ml logs "Downloading the model ..." on its own stderr handler: our progress events say it."""
    from azure.ai.ml.operations import _model_operations

    log = _model_operations.module_logger
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


# ----------------------------------------------------------------------------- download, check, cache


def _download_into_cache(ctx: DeployContext, plan: DownloadPlan, cache: Path, source: dict[str, str],
                         download: Callable[[Path], Path], inspect: Callable[[Path], ModelInfo]) -> ModelInfo:
    """Download into a temp folder next to the cache (progress events while it runs), check the files
    against the listing and that they are servable, then move them into place: a failed download
    leaves nothing behind, and two processes fetching the same version download it once."""
    from . import statedir
    from .model_resolution import _lock, content_hash

    home = Path(ctx.state_dir).expanduser().resolve()
    statedir.subdir(home, *cache.parent.relative_to(home).parts)  # 0700, like the rest of the state dir
    with _lock(Path(ctx.state_dir), "download"):
        if _cached(cache, source):
            return inspect(cache)
        ctx.step(plan.describe(), uri=plan.uri, files=plan.files, bytes=plan.bytes)
        tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
        try:
            started = time.monotonic()
            root = _with_progress(ctx, plan, tmp, lambda: download(tmp))
            got = _sizes(root) if root.is_dir() else {}
            missing = sorted(set(plan.sizes) - set(got))
            if missing:
                raise ModelResolutionError(f"{plan.uri}: {len(missing)} file(s) missing after the download from "
                                           f"{plan.where}: {', '.join(missing[:5])}", "retry; if it persists, "
                                           "the model version's blobs are incomplete")
            _check_servable(root, plan.uri, plan.where)
            info = inspect(root)  # raises a one-line error for an unusable MLmodel
            marker = {**source, "files": got, "content_sha256": content_hash(root)}
            if cache.exists():
                shutil.rmtree(cache)
            os.replace(root, cache)
            _marker_path(cache).write_text(json.dumps(marker, indent=1), encoding="utf-8")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        done = sum(got.values())
        ctx.emit("info", f"downloaded {plan.uri}: {len(got)} file(s), {done / 1e6:.1f} MB in "
                         f"{time.monotonic() - started:.1f} s", uri=plan.uri, bytes=done, files=len(got))
    return info.model_copy(update={"local_path": str(cache) if info.local_path == str(root) else
                                   str(cache / Path(info.local_path).relative_to(root))})


def _with_progress(ctx: DeployContext, plan: DownloadPlan, folder: Path, work: Callable[[], Path]) -> Path:
    """Run `work` in a thread and report the bytes arriving in `folder` every half second."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["root"] = work()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=run, name="model-download", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_PROGRESS_EVERY_S)
        ctx.check_cancelled()
        if thread.is_alive():
            have = sum(_sizes(folder).values())
            pct = f" ({100 * have / plan.bytes:.0f}%)" if plan.bytes else ""
            ctx.emit("progress", f"downloading {plan.uri}: {have / 1e6:.1f} of {plan.bytes / 1e6:.1f} MB{pct}",
                     uri=plan.uri, bytes=have, total=plan.bytes)
    if "error" in result:
        _raise_download_error(plan, result["error"])
    return result["root"]


def _raise_download_error(plan: DownloadPlan, e: BaseException) -> None:
    if isinstance(e, ModelResolutionError):
        raise e
    if isinstance(e, OSError):
        raise ModelResolutionError(f"{plan.uri}: cannot write the downloaded files ({e.__class__.__name__}: {e})",
                                   "check free disk space in the state dir") from None
    raise ModelResolutionError(f"{plan.uri}: the download from {plan.where} failed: {_first_line(e)}",
                               "check that your identity may read the model's storage, then apply again") from None


# ----------------------------------------------------------------------------- MLflow tracking servers


def azureml_workspace_of(tracking_uri: str) -> Optional[tuple[str, str, str]]:
    """(subscription, resource group, workspace) of an Azure ML workspace's MLflow tracking URI, else None."""
    if not tracking_uri.lower().startswith("azureml://"):
        return None
    m = _WORKSPACE_IN_URI.search(tracking_uri)
    return (m["sub"], m["rg"], m["ws"]) if m else None


def is_remote_tracking(tracking_uri: str) -> bool:
    """A tracking server elsewhere (its artifacts are downloaded on apply, never during a plan)."""
    return urlsplit(tracking_uri).scheme.lower() in ("http", "https", "azureml", "databricks")


def _mlflow_version(ref: str, state_dir: Path) -> tuple[Any, Any, str]:
    """(MlflowClient, ModelVersion, tracking URI) of a models:/NAME/VERSION on a remote server."""
    from .model_resolution import _client, _parse_models_uri, _registry_version

    name, version, alias = _parse_models_uri(ref)
    client, uri = _client(state_dir)
    return client, _registry_version(client, uri, ref, name, version, alias), uri


def _mlflow_listing(client: Any, mv: Any, tracking_uri: str, where: str) -> dict[str, int]:
    """Every artifact file of a version with its size, from the server's listing (no file is read)."""
    from mlflow.artifacts import list_artifacts
    from mlflow.exceptions import MlflowException

    source = client.get_model_version_download_uri(mv.name, mv.version)
    out: dict[str, int] = {}

    def walk(rel: str) -> None:
        for f in list_artifacts(artifact_uri=f"{source.rstrip('/')}/{rel}" if rel else source,
                                tracking_uri=tracking_uri):
            path = f.path.split("/")[-1] if not rel else f"{rel}/{f.path.split('/')[-1]}"
            if f.is_dir:
                walk(path)
            else:
                out[path] = int(f.file_size or 0)

    try:
        walk("")
    except MlflowException as e:
        raise ModelResolutionError(f"models:/{mv.name}/{mv.version}: cannot list the artifacts at {where}: "
                                   f"{_first_line(e)}", "check MLFLOW_TRACKING_URI and the artifact store") from None
    return dict(sorted(out.items()))


def mlflow_info(ref: str, state_dir: Path) -> ModelInfo:
    """A models:/ version on a remote server: local facts when cached, else the version's tags."""
    from .model_resolution import _FACT_TAGS, _redact

    client, mv, uri = _mlflow_version(ref, state_dir)
    canonical = f"models:/{mv.name}/{mv.version}"
    cache = cache_dir(state_dir, _redact(uri), mv.name, str(mv.version))
    if _cached(cache, {"asset": canonical, "path": str(mv.source or "")}):
        return _local_info(cache, canonical, mv.name, str(mv.version), "mlflow-registry")
    facts = {k: (mv.tags or {})[f"deploy_advisor.{k}"] for k in _FACT_TAGS if f"deploy_advisor.{k}" in (mv.tags or {})}
    try:
        return ModelInfo(uri=canonical, name=mv.name, version=str(mv.version), source="mlflow-registry", **facts)
    except ValueError:  # a tag someone else wrote that does not fit
        return ModelInfo(uri=canonical, name=mv.name, version=str(mv.version), source="mlflow-registry")


def _fetch_mlflow(ref: str, state_dir: Path, ctx: DeployContext) -> ModelInfo:
    from .model_resolution import _quiet_downloads, _redact

    client, mv, uri = _mlflow_version(ref, state_dir)
    canonical = f"models:/{mv.name}/{mv.version}"
    where = f"{_redact(uri)} (artifacts of {canonical})"
    plan = DownloadPlan(canonical, where, _mlflow_listing(client, mv, uri, where))
    cache = cache_dir(state_dir, _redact(uri), mv.name, str(mv.version))

    def download(tmp: Path) -> Path:
        import mlflow.artifacts

        with _quiet_downloads():
            return Path(mlflow.artifacts.download_artifacts(
                artifact_uri=client.get_model_version_download_uri(mv.name, mv.version), dst_path=str(tmp),
                tracking_uri=uri))

    return _download_into_cache(ctx, plan, cache, {"asset": canonical, "path": str(mv.source or "")}, download,
                                lambda folder: _local_info(folder, canonical, mv.name, str(mv.version),
                                                           "mlflow-registry"))


# ----------------------------------------------------------------------------- entry points


def _remote_kind(info: ModelInfo) -> Optional[str]:
    """"azureml" / "mlflow" when `info` is a registered model without local files, else None."""
    if info.local_path:
        return None
    if info.uri.startswith("azureml:"):
        return "azureml"
    if info.uri.startswith("models:/"):
        return "mlflow"
    return None


def _lookup(info: ModelInfo, state_dir: Path, ctx: DeployContext) -> Any:
    from .model_resolution import azureml_lookup, registry_uri

    if info.uri.startswith("azureml:"):
        return azureml_lookup(info.uri, state_dir, ctx)
    workspace = azureml_workspace_of(registry_uri(state_dir))
    name, _, version = info.uri[len("models:/"):].partition("/")
    return azureml_lookup(f"azureml:{name}:{version}", state_dir, ctx, workspace=workspace)


def plan_download(info: ModelInfo, state_dir: Path, ctx: DeployContext) -> Optional[DownloadPlan]:
    """What `fetch` would download for `info` (None when its files are local). Read-only: a blob
    listing (Azure ML) or an artifact listing (MLflow), never a read of the files themselves."""
    from .model_resolution import registry_uri

    kind = _remote_kind(info)
    if kind is None:
        return None
    if kind == "mlflow" and azureml_workspace_of(registry_uri(state_dir)) is None:
        client, mv, uri = _mlflow_version(info.uri, state_dir)
        from .model_resolution import _redact

        where = f"{_redact(uri)} (artifacts of models:/{mv.name}/{mv.version})"
        return DownloadPlan(info.uri, where, _mlflow_listing(client, mv, uri, where))
    found = _lookup(info, state_dir, ctx)
    if _cached(cache_dir(state_dir, found.scope, found.model.name, str(found.model.version)), _azureml_source(found)):
        return None
    plan = _plan_azureml(found)
    return DownloadPlan(info.uri, plan.where, plan.sizes)


def fetch(info: ModelInfo, state_dir: Path, ctx: DeployContext) -> ModelInfo:
    """`info` with local files: registered models are downloaded into the cache (once per version)."""
    from .model_resolution import registry_uri

    kind = _remote_kind(info)
    if kind is None:
        return info
    if kind == "mlflow" and azureml_workspace_of(registry_uri(state_dir)) is None:
        return _fetch_mlflow(info.uri, state_dir, ctx)
    found = _lookup(info, state_dir, ctx)
    fetched = _fetch_azureml(found, state_dir, ctx)
    return fetched.model_copy(update={"uri": info.uri}) if kind == "mlflow" else fetched
