"""Model references -> `ModelInfo` + a local folder the scoring server can load.

One job: `resolve()` accepts a local MLflow model folder, a plain model file or
folder (pickle/joblib/onnx/...), `models:/name/version|@alias|latest` from an
MLflow registry (an embedded SQLite one under the state dir unless
MLFLOW_TRACKING_URI is set), or `azureml:name:version` / an Azure ML registry
URI. `register()`, `list_registered()` and `prepare_sample()` manage the
embedded registry. MLflow and the Azure SDK are imported inside functions:
importing mlflow costs ~1 s and `deploy-advisor recommend` must stay fast.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Optional
from urllib.parse import urlsplit, urlunsplit


from advisor.models import ModelInfo
from advisor.safe_load import DocumentError, load_json, load_yaml

from . import statedir
from .base import DeployContext
from . import model_folder
from .errors import ModelResolutionError

SAMPLE_NAME = "sample-classifier"
SAMPLE_URI = f"models:/{SAMPLE_NAME}/1"
EXPERIMENT_NAME = "deploy-advisor-models"
HASH_TAG = "deploy_advisor.content_sha256"
_FACT_TAGS = ("framework", "flavor", "format", "size_mb")  # stored as deploy_advisor.<fact> version tags

SUPPORTED_FORMS = ("an MLflow model folder, a model file (.pkl/.joblib/.onnx/.pt/...), "
                   "models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/latest or azureml:NAME:VERSION")

# MLflow flavor -> the advisor's framework vocabulary (python_function alone -> custom).
FLAVOR_FRAMEWORK = {
    "sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "pytorch": "pytorch",
    "tensorflow": "tensorflow", "keras": "tensorflow", "onnx": "onnx", "transformers": "transformers",
}
# Keys under a flavor's MLmodel entry that name the file/folder holding the weights.
_FLAVOR_FILE_KEYS = ("pickled_model", "model_path", "data", "model_data", "saved_model_dir",
                     "model_binary", "python_model")

# Plain (non-MLflow) model files: extension -> (framework, flavor). Order = preference in a folder.
EXTENSIONS: dict[str, tuple[str, str]] = {
    ".onnx": ("onnx", "onnx"),
    ".joblib": ("sklearn", "joblib"),
    ".pkl": ("sklearn", "pickle"),
    ".pickle": ("sklearn", "pickle"),
    ".pt": ("pytorch", "torch"),
    ".pth": ("pytorch", "torch"),
    ".keras": ("tensorflow", "keras"),
    ".h5": ("tensorflow", "keras"),
    ".xgb": ("xgboost", "xgboost"),
    ".ubj": ("xgboost", "xgboost"),
    ".bst": ("xgboost", "xgboost"),
    ".lgb": ("lightgbm", "lightgbm"),
    ".safetensors": ("transformers", "safetensors"),
}

REGISTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SAFE_DIR_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MODELS_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?/?$")
_AML_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,254})"
_AML_TAG = r"[A-Za-z0-9_.-]+"
_AZUREML_SHORT_RE = re.compile(rf"^azureml:{_AML_NAME}(?::(?P<version>{_AML_TAG})|@(?P<label>{_AML_TAG}))?$")
_AZUREML_REGISTRY_RE = re.compile(
    rf"^azureml://registries/(?P<registry>[A-Za-z0-9][A-Za-z0-9_-]{{0,62}})/models/{_AML_NAME}"
    rf"(?:/versions/(?P<version>{_AML_TAG})|/labels/(?P<label>{_AML_TAG}))?/?$")
_MAX_SCAN_FILES = 20_000  # bound folder walks (a user may point at a huge folder by mistake)
MODEL_FILE_BYTES = 16_000_000  # MLmodel and input examples: a wide signature or a batch example can be MBs


# ----------------------------------------------------------------------------- registry location


def _mlflow_dir(state_dir: Path) -> Path:
    return Path(state_dir).expanduser().resolve() / "mlflow"


def registry_uri(state_dir: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded SQLite registry (dirs created)."""
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    base = _mlflow_dir(state_dir)
    statedir.subdir(base.parent, base.name, "artifacts")
    statedir.private_file(base / "mlflow.db")  # born 0600: MLflow would create it with the umask's mode
    return f"sqlite:///{base / 'mlflow.db'}"


def _is_embedded(state_dir: Path) -> bool:
    return not os.environ.get("MLFLOW_TRACKING_URI", "").strip()


def _redact(uri: str) -> str:
    """Drop user:password from a URI before it reaches a message (registry URIs may carry them)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<registry>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, f"***@{host}", parts.path, "", ""))
    return uri


def _artifact_location(state_dir: Path, uri: str) -> Optional[str]:
    """Where our experiment keeps artifacts: the state dir, never ./mlruns in the CWD.

    A remote tracking server (http/https/databricks) picks its own location.
    """
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("http", "https", "databricks", "databricks-uc", "uc"):
        return None
    folder = statedir.subdir(_mlflow_dir(state_dir).parent, "mlflow", "artifacts")
    return folder.as_uri()


def _client(state_dir: Path):
    from mlflow import MlflowClient  # lazy: ~1 s import

    # MLflow's store logs its schema set-up at INFO and a full traceback before re-raising a database error
    # (a full or read-only state dir); we report those as one line, so its own lines only add noise
    logging.getLogger("mlflow.store").setLevel(logging.CRITICAL)
    uri = registry_uri(state_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


@contextlib.contextmanager
def _lock(state_dir: Path, what: str) -> Iterator[None]:
    """Serialise register/prepare-sample between processes (UI and CLI at once)."""
    folder = statedir.subdir(_mlflow_dir(state_dir).parent, "mlflow", "locks")
    with open(folder / f"{what}.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet_downloads() -> Iterator[None]:
    """MLflow draws a tqdm bar on stderr per download; --output json callers want quiet stderr."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


# ----------------------------------------------------------------------------- local folders


def _walk_files(root: Path) -> Iterator[Path]:
    for count, path in enumerate(model_folder.files(root), 1):
        if count > _MAX_SCAN_FILES:
            return
        yield path


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1_048_576
    total = 0
    for f in _walk_files(path):
        try:
            if not f.is_symlink():
                total += f.stat().st_size
        except OSError:
            continue
    return total / 1_048_576


def content_hash(folder: Path) -> str:
    """sha256 over relative paths and bytes: equal folders register as the same version."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for f in sorted(_walk_files(folder), key=lambda p: p.relative_to(folder).as_posix()):
        if f.is_symlink():
            continue
        digest.update(f.relative_to(folder).as_posix().encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _read_requirements(folder: Path) -> list[str]:
    req = folder / "requirements.txt"
    if not req.is_file():
        return []
    try:
        lines = req.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("#", "-"))]


def _read_json(path: Path) -> Any:
    try:
        return load_json(path.read_text(encoding="utf-8"), max_bytes=MODEL_FILE_BYTES)
    except (OSError, UnicodeDecodeError, ValueError):  # DocumentError is a ValueError
        return None


def _bad_mlflow(folder: Path, why: str) -> ModelResolutionError:
    return ModelResolutionError(
        f"{folder}: not a usable MLflow model ({why})",
        "re-save it with mlflow.<flavor>.save_model(...) or point at the folder that holds MLmodel",
    )


def _parse_signature(raw: Any) -> Optional[dict[str, Any]]:
    """MLmodel stores inputs/outputs/params as JSON strings; return them as JSON data."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {}
    for key in ("inputs", "outputs", "params"):
        value = raw.get(key)
        if isinstance(value, str):
            try:
                value = load_json(value, max_bytes=MODEL_FILE_BYTES)
            except ValueError:
                continue
        if value is not None:
            out[key] = value
    return out or None


def _inspect_mlflow(folder: Path, uri: str, name: str, version: str = "", source: str = "local") -> ModelInfo:
    """Read MLmodel with a YAML parser (no mlflow import) and check the weights file exists."""
    mlmodel = folder / "MLmodel"
    try:
        meta = load_yaml(mlmodel.read_text(encoding="utf-8"), "MLmodel", max_bytes=MODEL_FILE_BYTES)
    except (OSError, UnicodeDecodeError) as e:
        raise _bad_mlflow(folder, f"MLmodel unreadable: {e.__class__.__name__}") from None
    except DocumentError as e:  # aliases, duplicate keys, depth and size are refused like in a profile
        raise _bad_mlflow(folder, str(e)) from None
    if not isinstance(meta, dict):
        raise _bad_mlflow(folder, "MLmodel is not a mapping")
    flavors = meta.get("flavors")
    if not isinstance(flavors, dict) or not flavors or not all(isinstance(v, dict) for v in flavors.values()):
        raise _bad_mlflow(folder, "MLmodel lists no flavors")

    for flavor_name, conf in flavors.items():
        for key in _FLAVOR_FILE_KEYS:
            rel = conf.get(key)
            if isinstance(rel, str) and rel and not model_folder.inside(folder, rel).exists():
                raise _bad_mlflow(folder, f"model file {rel!r} of flavor {flavor_name} is missing")

    primary = next((f for f in flavors if f in FLAVOR_FRAMEWORK), None)
    flavor = primary or next((f for f in flavors if f != "python_function"), None) or "python_function"
    framework = FLAVOR_FRAMEWORK.get(primary or "", "custom")

    example = None
    info = meta.get("saved_input_example_info")
    if isinstance(info, dict) and isinstance(info.get("artifact_path"), str):
        example = _read_json(model_folder.inside(folder, info["artifact_path"]))

    return ModelInfo(
        uri=uri, name=name, version=version, flavor=flavor, framework=framework, format="mlflow",
        size_mb=round(_size_mb(folder), 3), signature=_parse_signature(meta.get("signature")),
        input_example=example, requirements=_read_requirements(folder), local_path=str(folder), source=source,
    )


def _inspect_custom(path: Path) -> ModelInfo:
    """A plain model file, or a folder holding one: framework guessed from the extension (never unpickled)."""
    if path.is_file():
        kind = EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            raise ModelResolutionError(
                f"{path}: not a model file this tool recognises",
                f"pass a file ending in {', '.join(EXTENSIONS)}, or wrap the model with mlflow.pyfunc.save_model")
        framework, flavor = kind
        folder = path.parent
        return ModelInfo(uri=str(path), name=path.stem, framework=framework, flavor=flavor, format="custom",
                         size_mb=round(_size_mb(path), 3), local_path=str(path), source="local",
                         input_example=_read_json(model_folder.inside(folder, "input_example.json")))

    files = list(_walk_files(path))
    names = {f.name for f in files}
    if "saved_model.pb" in names:
        framework, flavor = "tensorflow", "savedmodel"
    elif "config.json" in names and names & {"model.safetensors", "pytorch_model.bin", "tf_model.h5"}:
        framework, flavor = "transformers", "transformers"
    else:
        exts = {f.suffix.lower() for f in files}
        found = next((ext for ext in EXTENSIONS if ext in exts), None)
        if found is None:
            raise ModelResolutionError(
                f"{path}: no model file found in this folder",
                f"expected MLmodel (an MLflow model) or a file ending in {', '.join(EXTENSIONS)}")
        framework, flavor = EXTENSIONS[found]
    example_file = model_folder.inside(path, "input_example.json")
    return ModelInfo(uri=str(path), name=path.name, framework=framework, flavor=flavor, format="custom",
                     size_mb=round(_size_mb(path), 3), local_path=str(path), source="local",
                     requirements=_read_requirements(path),
                     input_example=_read_json(example_file) if example_file.is_file() else None)


def _resolve_local(ref: str) -> ModelInfo:
    raw = ref[len("file://"):] if ref.startswith("file://") else ref
    path = Path(raw).expanduser()
    if not path.exists():
        raise ModelResolutionError(f"model not found: {ref} (no such file or folder)", f"pass {SUPPORTED_FORMS}")
    path = path.resolve()
    if path.is_file() and path.name == "MLmodel":
        path = path.parent
    if path.is_dir() and (path / "MLmodel").exists():
        return _inspect_mlflow(path, uri=str(path), name=path.name, source="local")
    if not path.is_file() and not path.is_dir():
        raise ModelResolutionError(f"model not found: {ref} (not a file or folder)", f"pass {SUPPORTED_FORMS}")
    return _inspect_custom(path)


def local_model_dir(info: ModelInfo) -> Path:
    """The folder holding the model files (a single-file model's parent folder)."""
    if not info.local_path:
        raise ModelResolutionError(
            f"{info.uri}: the model has no local copy",
            "download it (e.g. `az ml model download`) and pass the folder, or register it with "
            "`deploy-advisor models register PATH --name N`")
    path = Path(info.local_path)
    if not path.exists():
        raise ModelResolutionError(f"{info.uri}: local copy {path} no longer exists", "resolve the model again")
    return path if path.is_dir() else path.parent


# ----------------------------------------------------------------------------- MLflow registry


def _mlflow_error_code(exc: BaseException) -> str:
    return getattr(exc, "error_code", "") or ""


def _cache_dir(state_dir: Path, name: str, version: str) -> Path:
    slug = name
    if not _SAFE_DIR_RE.match(name):  # spaces, dots-only...: a readable slug plus a hash keeps names apart
        readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:48] or "model"
        slug = f"{readable}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return Path(state_dir).expanduser().resolve() / "models" / slug / version


def _marker_path(cache: Path) -> Path:
    return cache.parent / f"{cache.name}.source.json"


def _marker(uri: str, name: str, version: str, source: str) -> dict[str, str]:
    # the registry URI may hold a password: store only its hash
    return {"registry": hashlib.sha256(uri.encode()).hexdigest(), "name": name, "version": version, "source": source}


def _parse_models_uri(ref: str) -> tuple[str, Optional[str], Optional[str]]:
    m = _MODELS_URI_RE.match(ref)
    if not m:
        raise ModelResolutionError(f"{ref}: not a valid models:/ reference",
                                   "use models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest")
    name, version, alias = m.group("name"), m.group("version"), m.group("alias")
    if "'" in name or any(ord(c) < 32 for c in name) or len(name) > 256:
        raise ModelResolutionError(f"{ref}: model name {name!r} has characters this tool does not accept",
                                   "use letters, digits, '-', '_', '.' or spaces")
    if version is None and alias is None:
        raise ModelResolutionError(f"{ref}: no version given",
                                   f"use models:/{name}/VERSION, models:/{name}@ALIAS or models:/{name}/latest")
    if version is not None and version != "latest" and not version.isdigit():
        raise ModelResolutionError(f"{ref}: version {version!r} is not a number",
                                   f"use models:/{name}/1, models:/{name}@ALIAS or models:/{name}/latest "
                                   "(registry stages are deprecated)")
    return name, version, alias


def _fast_cached(state_dir: Path, name: str, version: str) -> Optional[ModelInfo]:
    """Warm path without importing mlflow: embedded registry + numeric version + valid cache.

    Reads the version's source/status from the embedded SQLite file read-only
    and compares it with what the cache was downloaded from; any doubt
    (schema change, several rows, mismatch) returns None and the MLflow client
    path runs instead.
    """
    if not _is_embedded(state_dir) or not version.isdigit():
        return None
    db = _mlflow_dir(state_dir) / "mlflow.db"
    cache = _cache_dir(state_dir, name, version)
    marker = _read_json(_marker_path(cache))
    if not db.is_file() or not (cache / "MLmodel").is_file() or not isinstance(marker, dict):
        return None
    try:
        con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=2)
        try:
            rows = con.execute("SELECT source, status FROM model_versions WHERE name = ? AND version = ?",
                               (name, int(version))).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    if len(rows) != 1 or rows[0][1] != "READY":
        return None
    if marker != _marker(registry_uri(state_dir), name, version, rows[0][0]):
        return None
    try:
        return _inspect_mlflow(cache, uri=f"models:/{name}/{version}", name=name, version=version,
                               source="mlflow-registry")
    except ModelResolutionError:
        return None


def _registry_version(client, uri: str, ref: str, name: str, version: Optional[str], alias: Optional[str]):
    """The ModelVersion a models:/ reference points at, with not-found turned into one line."""
    from mlflow.exceptions import MlflowException
    where = _redact(uri)
    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        if version == "latest":
            best = _latest_version(client, name)
            if best is None:
                raise ModelResolutionError(f"{ref}: no registered model named {name!r} in {where}",
                                           "list models with `deploy-advisor models list`")
            return best
        return client.get_model_version(name, version)
    except MlflowException as e:
        if _mlflow_error_code(e) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            what = f"alias {alias!r}" if alias is not None else f"version {version}"
            raise ModelResolutionError(
                f"{ref}: model {name!r} {what} not found in the registry {where}",
                "list models with `deploy-advisor models list`, or register one with "
                "`deploy-advisor models register PATH --name N`") from None
        raise ModelResolutionError(f"{ref}: the MLflow registry {where} failed: {str(e).splitlines()[0][:200]}",
                                   "check MLFLOW_TRACKING_URI and that the registry is reachable") from None


def _download(client, mv, cache: Path, ctx: Optional[DeployContext]) -> None:
    """Download a version's artifacts into the cache atomically (temp dir + rename)."""
    import mlflow.artifacts
    cache.parent.mkdir(parents=True, exist_ok=True)
    src = client.get_model_version_download_uri(mv.name, mv.version)
    if ctx:
        ctx.step(f"downloading model {mv.name} version {mv.version}", name=mv.name, version=str(mv.version))
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        with _quiet_downloads():
            got = Path(mlflow.artifacts.download_artifacts(artifact_uri=src, dst_path=str(tmp)))
        model_root = got if (got / "MLmodel").exists() else next((p.parent for p in got.rglob("MLmodel")), got)
        if cache.exists():
            shutil.rmtree(cache)
        os.replace(model_root, cache)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _resolve_registry(ref: str, state_dir: Path, ctx: Optional[DeployContext]) -> ModelInfo:
    name, version, alias = _parse_models_uri(ref)
    if not _is_embedded(state_dir):
        from . import model_fetch

        tracking = registry_uri(state_dir)
        workspace = model_fetch.azureml_workspace_of(tracking)
        if workspace is not None:  # an Azure ML workspace's MLflow registry is its model registry
            aml_ref = f"azureml:{name}:{version}" if version and version != "latest" else \
                f"azureml:{name}@{alias or 'latest'}"
            found = azureml_lookup(aml_ref, state_dir, ctx, workspace=workspace)
            info = model_fetch.azureml_info(found, state_dir)
            return info.model_copy(update={"uri": f"models:/{found.model.name}/{found.model.version}"})
        if model_fetch.is_remote_tracking(tracking):  # files are fetched on apply, never while planning
            return model_fetch.mlflow_info(ref, state_dir)
    if version is not None and version.isdigit():
        warm = _fast_cached(state_dir, name, version)
        if warm is not None:
            return warm
    from mlflow.exceptions import MlflowException
    client, uri = _client(state_dir)
    mv = _registry_version(client, uri, ref, name, version, alias)
    version = str(mv.version)
    if getattr(mv, "status", "READY") not in ("READY", None):
        raise ModelResolutionError(f"{ref}: model version {version} is {mv.status}, not READY",
                                   "wait for the registration to finish or pick another version")
    cache = _cache_dir(state_dir, name, version)
    want = _marker(uri, name, version, mv.source or "")
    canonical = f"models:/{name}/{version}"

    def cached() -> Optional[ModelInfo]:
        if (cache / "MLmodel").is_file() and _read_json(_marker_path(cache)) == want:
            try:
                return _inspect_mlflow(cache, uri=canonical, name=name, version=version, source="mlflow-registry")
            except ModelResolutionError:
                return None  # a damaged cache (files deleted by hand): download it again
        return None

    hit = cached()
    if hit is not None:
        return hit
    with _lock(state_dir, "download"):  # two processes resolving the same model download it once
        hit = cached()
        if hit is not None:
            return hit
        try:
            _download(client, mv, cache, ctx)
        except MlflowException as e:
            raise ModelResolutionError(f"{ref}: cannot download the model files: {str(e).splitlines()[0][:200]}",
                                       "check the registry's artifact store is reachable") from None
        except OSError as e:
            raise ModelResolutionError(f"{ref}: cannot download the model files ({e.__class__.__name__}: {e})",
                                       "check the registry's artifact store and free disk space") from None
        _marker_path(cache).write_text(json.dumps(want), encoding="utf-8")
    if not (cache / "MLmodel").is_file():
        raise _bad_mlflow(cache, "the registered artifacts hold no MLmodel file")
    return _inspect_mlflow(cache, uri=canonical, name=name, version=version, source="mlflow-registry")


def _ensure_experiment(client, state_dir: Path, uri: str) -> str:
    from mlflow.exceptions import MlflowException
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    try:
        return client.create_experiment(EXPERIMENT_NAME, artifact_location=_artifact_location(state_dir, uri),
                                        tags={"deploy_advisor": "model-registrations"})
    except MlflowException:
        exp = client.get_experiment_by_name(EXPERIMENT_NAME)  # created meanwhile by another process
        if exp is None:
            raise
        return exp.experiment_id


def _latest_version(client, name: str):
    """Highest version number of a registered model (None when it has none); stages play no part."""
    latest = None
    token = None
    while True:
        page = client.search_model_versions(f"name='{name}'", max_results=1000, page_token=token)
        for mv in page:
            if latest is None or int(mv.version) > int(latest.version):
                latest = mv
        token = page.token
        if not token:
            return latest


def validate_model_name(name: str) -> str:
    """Registered names end up in cache paths, resource names and CLI output: keep them plain."""
    if not isinstance(name, str) or not REGISTER_NAME_RE.match(name):
        raise ModelResolutionError(
            f"invalid model name {name!r}",
            "use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit")
    return name


def register(path: str | Path, name: str, state_dir: Path, ctx: Optional[DeployContext] = None) -> ModelInfo:
    """Register a local MLflow model folder; same content as the latest version -> that version."""
    validate_model_name(name)
    local = _resolve_local(str(path))
    if local.format != "mlflow":
        raise ModelResolutionError(f"{path}: only MLflow model folders can be registered (no MLmodel file)",
                                   "save the model with mlflow.<flavor>.save_model(model, PATH) first")
    folder = Path(local.local_path or path)
    digest = content_hash(folder)
    from mlflow.exceptions import MlflowException
    with _lock(state_dir, "register"):
        client, uri = _client(state_dir)
        try:
            try:
                client.create_registered_model(name, tags={"deploy_advisor": "true"})
            except MlflowException as e:
                if _mlflow_error_code(e) != "RESOURCE_ALREADY_EXISTS":
                    raise
            latest = _latest_version(client, name)
            if latest is not None and (latest.tags or {}).get(HASH_TAG) == digest:
                if ctx:
                    ctx.step(f"model {name} version {latest.version} already has this content")
                return _resolve_registry(f"models:/{name}/{latest.version}", state_dir, ctx)
            if ctx:
                ctx.step(f"registering {folder} as {name}")
            exp_id = _ensure_experiment(client, state_dir, uri)
            run = client.create_run(exp_id, run_name=f"register-{name}", tags={"deploy_advisor.model": name})
            try:
                client.log_artifacts(run.info.run_id, str(folder), artifact_path="model")
            except Exception:
                client.set_terminated(run.info.run_id, status="FAILED")
                raise
            client.set_terminated(run.info.run_id)
            tags = {HASH_TAG: digest, **{f"deploy_advisor.{k}": str(getattr(local, k)) for k in _FACT_TAGS}}
            mv = client.create_model_version(name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
                                             tags=tags, description=f"registered by deploy-advisor from {folder.name}")
        except MlflowException as e:
            raise ModelResolutionError(f"cannot register {name} in {_redact(uri)}: {str(e).splitlines()[0][:200]}",
                                       "check MLFLOW_TRACKING_URI and that the registry is writable") from None
        except OSError as e:
            raise ModelResolutionError(
                f"cannot register {name}: copying the model files failed ({e.__class__.__name__}: {e})",
                "check free disk space and permissions") from None
    return _resolve_registry(f"models:/{name}/{mv.version}", state_dir, ctx)


class RegisteredModelInfo(ModelInfo):
    """A `ModelInfo` for the latest version of a registered model plus how many versions exist."""

    versions: int = 0


def list_registered(state_dir: Path) -> list[ModelInfo]:
    """Latest version of each registered model + version count (tags only: no downloads)."""
    if _is_embedded(state_dir) and not (_mlflow_dir(state_dir) / "mlflow.db").is_file():
        return []  # nothing registered yet: don't create a database just to list it
    from mlflow.exceptions import MlflowException
    client, uri = _client(state_dir)
    latest: dict[str, Any] = {}
    counts: dict[str, int] = {}
    try:
        token = None
        while True:
            page = client.search_model_versions(max_results=1000, page_token=token)
            for mv in page:
                counts[mv.name] = counts.get(mv.name, 0) + 1
                if mv.name not in latest or int(mv.version) > int(latest[mv.name].version):
                    latest[mv.name] = mv
            token = page.token
            if not token:
                break
    except MlflowException as e:
        raise ModelResolutionError(f"cannot list models in {_redact(uri)}: {str(e).splitlines()[0][:200]}",
                                   "check MLFLOW_TRACKING_URI and that the registry is reachable") from None
    out: list[ModelInfo] = []
    for name in sorted(latest):
        mv = latest[name]
        tags = mv.tags or {}
        facts: dict[str, Any] = {}
        for key in _FACT_TAGS:
            if f"deploy_advisor.{key}" in tags:
                facts[key] = tags[f"deploy_advisor.{key}"]
        cache = _cache_dir(state_dir, name, str(mv.version))
        try:
            info = RegisteredModelInfo(uri=f"models:/{name}/{mv.version}", name=name, version=str(mv.version),
                                       source="mlflow-registry", versions=counts[name],
                                       local_path=str(cache) if (cache / "MLmodel").is_file() else None, **facts)
        except ValueError:  # a tag written by someone else that does not fit the contract
            info = RegisteredModelInfo(uri=f"models:/{name}/{mv.version}", name=name, version=str(mv.version),
                                       source="mlflow-registry", versions=counts[name])
        out.append(info)
    return out


# ----------------------------------------------------------------------------- sample model


def prepare_sample(state_dir: Path, ctx: Optional[DeployContext] = None) -> ModelInfo:
    """Train + register the sample RandomForest once; later calls just resolve it."""
    try:
        return resolve(SAMPLE_URI, state_dir, ctx)
    except ModelResolutionError:
        pass
    with _lock(state_dir, "sample"):
        try:  # another process may have finished it while we waited for the lock
            return resolve(SAMPLE_URI, state_dir, ctx)
        except ModelResolutionError:
            pass
        import logging

        import mlflow.sklearn
        from mlflow.models import infer_signature
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import RandomForestClassifier

        if ctx:
            ctx.step("training the sample model (RandomForest on scikit-learn's breast_cancer data)")
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, y)
        signature = infer_signature(X, model.predict(X))
        work = statedir.subdir(Path(state_dir).expanduser().resolve(), "models")
        with tempfile.TemporaryDirectory(prefix=".sample-", dir=work) as tmp:
            out = Path(tmp) / SAMPLE_NAME
            sk_logger = logging.getLogger("mlflow.sklearn")
            level = sk_logger.level
            sk_logger.setLevel(logging.ERROR)  # the cloudpickle caution is ours to accept for our own model
            try:
                mlflow.sklearn.save_model(
                    model, str(out), serialization_format="cloudpickle", signature=signature,
                    input_example=X.head(2),
                    # explicit pins skip MLflow's requirement inference, which loads the model in a subprocess
                    pip_requirements=mlflow.sklearn.get_default_pip_requirements(include_cloudpickle=True),
                    metadata={"dataset": "sklearn.datasets.load_breast_cancer", "trained_by": "deploy-advisor"},
                )
            finally:
                sk_logger.setLevel(level)
            info = register(out, SAMPLE_NAME, state_dir, ctx)
        from mlflow.exceptions import MlflowException
        client, _ = _client(state_dir)
        with contextlib.suppress(MlflowException):  # a description is nice to have, not worth failing over
            client.update_registered_model(
                SAMPLE_NAME, description="Sample RandomForestClassifier(n_estimators=100, random_state=0) trained "
                                         "on scikit-learn's bundled breast_cancer data by deploy-advisor.")
        return info


# ----------------------------------------------------------------------------- Azure ML


def _not_configured(ref: str, why: str, code: str = "AzureMLNotConfigured") -> ModelResolutionError:
    """The one line the api shows before falling back to the profile's model facts."""
    return ModelResolutionError(
        f"{ref}: {why}; using the profile's model facts instead",
        "set AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE_NAME (or put the workspace's "
        "config.json in this folder) and sign in with `az login`", code=code)


def _azure_model_info(model: Any, uri: str, source: str) -> ModelInfo:
    flavors = dict(getattr(model, "flavors", None) or {})
    primary = next((f for f in flavors if f in FLAVOR_FRAMEWORK), None)
    mtype = (getattr(model, "type", "") or "").lower()
    return ModelInfo(
        uri=uri, name=model.name, version=str(model.version or ""),
        flavor=primary or next(iter(flavors), "") or mtype,
        framework=FLAVOR_FRAMEWORK.get(primary or "", "custom"),
        format="mlflow" if mtype == "mlflow_model" or flavors else "custom",
        source=source,
    )


class AzureMLModel(NamedTuple):
    """A registered Azure ML model version as azure-ai-ml returned it, with the client that found it."""
    client: Any  # azure.ai.ml.MLClient (workspace- or registry-scoped)
    model: Any  # azure.ai.ml.entities.Model
    uri: str  # canonical: azureml:NAME:VERSION or azureml://registries/R/models/NAME/versions/V
    source: str  # "azureml" | "azureml-registry"
    scope: str  # "subscription/rg/workspace" or "registry/R": what the download cache is keyed by
    registry: Optional[str]


def _resolve_azureml(ref: str, state_dir: Path, ctx: Optional[DeployContext]) -> ModelInfo:
    from . import model_fetch

    return model_fetch.azureml_info(azureml_lookup(ref, state_dir, ctx), state_dir)


def azureml_lookup(ref: str, state_dir: Path, ctx: Optional[DeployContext], *,
                   workspace: Optional[tuple[str, str, str]] = None) -> AzureMLModel:
    """Find an Azure ML model version with azure-ai-ml (one model GET); every failure is one line.

    `workspace` = (subscription, resource group, workspace) overrides the configured one (an Azure ML
    workspace's MLflow tracking URI names it)."""
    short = _AZUREML_SHORT_RE.match(ref)
    reg = _AZUREML_REGISTRY_RE.match(ref)
    if not short and not reg:
        raise ModelResolutionError(f"{ref}: not a valid Azure ML model reference",
                                   "use azureml:NAME:VERSION, azureml:NAME@latest or "
                                   "azureml://registries/REGISTRY/models/NAME/versions/VERSION")
    m = short or reg
    name, version, label = m.group("name"), m.group("version"), m.group("label")
    if not version and not label:
        label = "latest"
    ctx = ctx or DeployContext(state_dir=state_dir)
    sub, rg, ws = ctx.subscription_id, ctx.resource_group, os.environ.get("AZUREML_WORKSPACE_NAME") or None
    if workspace is not None:
        sub, rg, ws = workspace
    if short and not (sub and rg and ws):
        from .azureml import workspace_config  # the deployer's rule: both find the same workspace

        cfg = workspace_config()
        sub, rg, ws = sub or cfg.get("subscription"), rg or cfg.get("resource_group"), ws or cfg.get("workspace")
        if not (sub and rg and ws):
            missing = [k for k, v in (("subscription", sub), ("resource group", rg), ("workspace", ws)) if not v]
            raise _not_configured(ref, f"Azure ML is not configured (missing: {', '.join(missing)})")
    from . import azure_common  # shared credential rules (credential_kind, cheap sign-in detection)
    if ctx.credential is None and azure_common.credential_source(ctx) is None:
        raise _not_configured(ref, "no Azure credential found (not signed in)", "NoCredential")
    try:
        credential = azure_common.get_credential(ctx)
    except ImportError:
        raise _not_configured(ref, "azure-identity is not installed", "MissingPackage") from None

    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                       ServiceRequestError)
    try:
        from azure.ai.ml import MLClient
    except ImportError:
        raise _not_configured(ref, "azure-ai-ml is not installed", "MissingPackage") from None
    where = f"registry {reg.group('registry')}" if reg else f"workspace {ws}"
    ctx.step(f"looking up {ref} in Azure ML {where}")
    try:
        if reg:
            client = MLClient(credential, registry_name=reg.group("registry"), **ctx.client_kwargs)
        else:
            client = MLClient(credential, sub, rg, ws, **ctx.client_kwargs)
        model = client.models.get(name, version=version) if version else client.models.get(name, label=label)
    except ResourceNotFoundError:
        what = f"version {version}" if version else f"label {label}"
        raise ModelResolutionError(f"{ref}: model {name!r} {what} not found in Azure ML {where}",
                                   "check the name/version with `az ml model list`") from None
    except ClientAuthenticationError:
        raise _not_configured(ref, "no usable Azure credential (not signed in)", "NoCredential") from None
    except ServiceRequestError:
        raise _not_configured(ref, "Azure ML is not reachable from here", "Unreachable") from None
    except HttpResponseError as e:
        code = getattr(getattr(e, "error", None), "code", "") or ""
        if e.status_code in (401, 403):
            raise ModelResolutionError(f"{ref}: access denied to Azure ML {where} (HTTP {e.status_code})",
                                       "ask for AzureML Data Scientist (or Reader) on the workspace",
                                       code=code) from None
        raise ModelResolutionError(f"{ref}: Azure ML returned HTTP {e.status_code} for the model lookup",
                                   "retry later or check the workspace in the Azure portal", code=code) from None
    except Exception as e:  # azure-ai-ml wraps some failures in its own exception types
        first = (str(e).splitlines() or [e.__class__.__name__])[0][:200]
        raise _not_configured(ref, f"the Azure ML lookup failed ({e.__class__.__name__}: {first})",
                              "AzureMLError") from None
    if reg:
        canonical = f"azureml://registries/{reg.group('registry')}/models/{model.name}/versions/{model.version}"
        return AzureMLModel(client, model, canonical, "azureml-registry", f"registry/{reg.group('registry')}",
                            reg.group("registry"))
    return AzureMLModel(client, model, f"azureml:{model.name}:{model.version}", "azureml", f"{sub}/{rg}/{ws}", None)


# ----------------------------------------------------------------------------- entry point


def resolve(uri: str, state_dir: Path, ctx: DeployContext | None = None) -> ModelInfo:
    """Turn a model reference into facts + a local folder; every failure is one ModelResolutionError."""
    ref = (uri or "").strip()
    if not ref:
        raise ModelResolutionError("no model given", f"pass {SUPPORTED_FORMS}")
    if any(ord(c) < 32 for c in ref):
        raise ModelResolutionError("the model reference contains control characters", f"pass {SUPPORTED_FORMS}")
    state_dir = Path(state_dir).expanduser()
    if ref.startswith("models:"):
        return _resolve_registry(ref, state_dir, ctx)
    if ref.startswith("azureml:"):
        return _resolve_azureml(ref, state_dir, ctx)
    scheme = urlsplit(ref).scheme.lower()
    if scheme and len(scheme) > 1 and scheme != "file":  # one letter = a Windows drive
        raise ModelResolutionError(f"{ref}: unsupported model reference scheme {scheme!r}", f"pass {SUPPORTED_FORMS}")
    return _resolve_local(ref)
