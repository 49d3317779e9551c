"""What every Azure deployer shares: credentials, SDK keyword arguments, LRO waiting,
ARM error mapping, ownership tags, secret scrubbing and the validated Azure names in settings.

Azure SDK imports stay inside functions so importing this module is cheap and
works without the Azure packages (the advisor and the UI start fast).
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Optional

from .base import DeployContext
from .errors import AuthError, ConflictError, DeployError, InputError, NotFoundError, QuotaError, RemoteError

ARM_SCOPE = "https://management.azure.com/.default"
ARM_URL = "https://management.azure.com"
MANAGED_BY = "deploy-advisor"
TAG_MANAGED_BY = "managed-by"
TAG_DEPLOYMENT = "deploy-advisor-deployment"
CREDENTIAL_KINDS = ("default", "cli", "managed-identity", "environment", "workload-identity")
SIGN_IN = ("run `az login` (or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET for a service "
           "principal)")

# ----------------------------------------------------------------- Azure names in settings


class Matches:
    """Annotated metadata for a settings field: the whole value matches `pattern`, else one line saying the rule.

    Works on `str` and `Optional[str]` fields (None passes), keeps the pattern in the JSON schema, and
    leaves the field's annotation a plain `str` / `Optional[str]` (what the UI's form builder reads).
    """

    def __init__(self, pattern: str, rule: str):
        self.pattern, self.rule = pattern, rule
        self._rx = re.compile(pattern)

    def _check(self, value: Optional[str]) -> Optional[str]:
        if value is not None and not self._rx.fullmatch(value):
            raise ValueError(self.rule)
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> Any:
        out = handler(schema)
        out["pattern"] = f"^(?:{self.pattern})$"
        return out


GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
VM_SIZE = Matches(r"Standard_[A-Za-z0-9_]{2,60}", "VM sizes look like Standard_DS3_v2")
SubscriptionId = Annotated[Optional[str], Matches(GUID, "a subscription id is a GUID "
                                                        "(8-4-4-4-12 hex digits)")]
# 1-90 letters, digits, - _ . ( ), not ending with a period (\w: Azure allows Unicode letters too)
ResourceGroup = Annotated[Optional[str], Matches(r"[-\w.()]{0,89}[-\w()]",
                                                 "resource group names have 1-90 letters, digits, '-', '_', '.', "
                                                 "'(' or ')' and do not end with '.'")]
Location = Annotated[Optional[str], Matches(r"[a-z][a-z0-9]{1,40}", "regions are Azure region names such as "
                                                                    "eastus or westeurope (lowercase, no spaces)")]
VmSize = Annotated[Optional[str], VM_SIZE]


class ImageRule:
    """Annotated metadata: the value passes deployers.images' `validate_image` / `validate_repository`
    (the reference reaches a manifest, a template or an az command), else one line saying why."""

    def __init__(self, check: str):
        self.check = check

    def _check(self, value: Optional[str]) -> Optional[str]:
        if value is not None:
            from . import images
            try:
                getattr(images, self.check)(value)
            except InputError as e:
                raise ValueError(e.message) from None
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self._check, handler(source))


ImageReference = Annotated[Optional[str], ImageRule("validate_image")]
ImageRepository = Annotated[Optional[str], ImageRule("validate_repository")]
RegistryName = Annotated[Optional[str], Matches(r"[A-Za-z0-9]{5,50}", "registry names have 5-50 letters and "
                                                                      "digits (Azure Container Registry)")]


# ----------------------------------------------------------------- ownership tags


def tags(deployment_name: str, **extra: str) -> dict[str, str]:
    """Tags that mark a resource as ours: destroy touches nothing without them."""
    out = {TAG_MANAGED_BY: MANAGED_BY, TAG_DEPLOYMENT: deployment_name}
    out.update(extra)
    return out


def is_ours(resource_tags: Optional[dict], deployment_name: str) -> bool:
    t = {str(k).lower(): v for k, v in (resource_tags or {}).items()}
    return t.get(TAG_MANAGED_BY) == MANAGED_BY and t.get(TAG_DEPLOYMENT) == deployment_name


# ----------------------------------------------------------------- secrets

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r'(?i)("?(?:primary_?key|secondary_?key|access_?token|api_?key|password|client_?secret|'
                r'publishingpassword|accountkey)"?\s*[:=]\s*"?)[^",\s}]{4,}'), r"\1***"),
    (re.compile(r"(?i)([?&](?:sig|code|token|key)=)[^&\s\"']+"), r"\1***"),
]


def register_secret(value: Optional[str]) -> None:
    """Remember a secret fetched at run time so every scrub() hides it from then on."""
    if value and len(value) >= 6:
        with _secrets_lock:
            _secrets.add(value)


def scrub(text: Any, extra: Iterable[str] = ()) -> str:
    """Hide registered secrets and anything shaped like a key/token/SAS signature."""
    s = str(text)
    with _secrets_lock:
        known = sorted(set(_secrets) | {e for e in extra if e}, key=len, reverse=True)
    for secret in known:
        if secret in s:
            s = s.replace(secret, "***")
    for rx, repl in _PATTERNS:
        s = rx.sub(repl, s)
    return s


def scrub_data(obj: Any) -> Any:
    """scrub() applied through dicts/lists; values under secret-looking keys are dropped to ***."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if re.search(r"(?i)(^|_)(key|keys|token|password|secret)s?$|primarykey|secondarykey", str(k)):
                out[k] = "***" if v not in (None, "") else v
            else:
                out[k] = scrub_data(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [scrub_data(v) for v in obj]
    if isinstance(obj, str):
        return scrub(obj)
    return obj


def emit(ctx: DeployContext, kind: str, message: str, **data: Any) -> None:
    """ctx.emit with secrets scrubbed from the message and the data."""
    ctx.emit(kind, scrub(message), **scrub_data(data))


# ----------------------------------------------------------------- credentials


def get_credential(ctx: DeployContext) -> Any:
    """ctx.credential when injected (tests, callers); else azure-identity by ctx.credential_kind."""
    if ctx.credential is not None:
        return ctx.credential
    kind = (ctx.credential_kind or "default").lower()
    import azure.identity as ai
    if kind == "default":
        cred = ai.DefaultAzureCredential(exclude_interactive_browser_credential=True)
    elif kind == "cli":
        cred = ai.AzureCliCredential()
    elif kind == "managed-identity":
        cred = ai.ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)
    elif kind == "environment":
        cred = ai.EnvironmentCredential()
    elif kind == "workload-identity":
        cred = ai.WorkloadIdentityCredential()
    else:
        raise InputError(f"unknown credential kind {kind!r}", f"use one of: {', '.join(CREDENTIAL_KINDS)}")
    ctx.credential = cred
    return cred


def _az_cli_logged_in() -> bool:
    cfg = Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")
    return any((cfg / f).is_file() for f in ("msal_token_cache.json", "msal_token_cache.bin", "accessTokens.json"))


def _env_sp() -> bool:
    e = os.environ
    return bool(e.get("AZURE_CLIENT_ID") and e.get("AZURE_TENANT_ID") and (
        e.get("AZURE_CLIENT_SECRET") or e.get("AZURE_CLIENT_CERTIFICATE_PATH")
        or (e.get("AZURE_USERNAME") and e.get("AZURE_PASSWORD"))))


def _workload_identity() -> bool:
    e = os.environ
    return bool(e.get("AZURE_FEDERATED_TOKEN_FILE") and e.get("AZURE_CLIENT_ID") and e.get("AZURE_TENANT_ID"))


def _managed_identity() -> bool:
    e = os.environ
    return bool(e.get("IDENTITY_ENDPOINT") or e.get("MSI_ENDPOINT"))


def credential_source(ctx: DeployContext) -> Optional[str]:
    """Name of a credential source that is plausibly present (no network), or None."""
    if ctx.credential is not None:
        return "injected"
    kind = (ctx.credential_kind or "default").lower()
    checks = {"cli": _az_cli_logged_in, "environment": _env_sp, "workload-identity": _workload_identity,
              "managed-identity": lambda: True}  # IMDS on a VM has no env marker: trust an explicit choice
    if kind in checks:
        return kind if checks[kind]() else None
    for name, fn in (("environment", _env_sp), ("workload-identity", _workload_identity),
                     ("managed-identity", _managed_identity), ("cli", _az_cli_logged_in)):
        if fn():
            return name
    return None


def credentials_missing(ctx: DeployContext, *, subscription_id: Optional[str] = None,
                        resource_group: Optional[str] = None, need_resource_group: bool = True,
                        need_subscription: bool = True) -> Optional[str]:
    """None when an apply can plausibly authenticate; otherwise exactly how to sign in.

    Cheap: looks at configuration, environment variables and the az CLI token cache,
    never at the network. An injected ctx.credential counts as signed in.
    """
    missing = []
    if need_subscription and not (subscription_id or ctx.subscription_id):
        missing.append("AZURE_SUBSCRIPTION_ID")
    if need_resource_group and not (resource_group or ctx.resource_group):
        missing.append("AZURE_RESOURCE_GROUP")
    if ctx.credential is not None and not missing:
        return None
    source = credential_source(ctx)
    parts = []
    if source is None:
        kind = (ctx.credential_kind or "default").lower()
        parts.append({
            "cli": "run `az login`",
            "environment": "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET",
            "workload-identity": "set AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID",
        }.get(kind, SIGN_IN))
    if missing:
        parts.append("set " + " / ".join(missing) + " (or pass them as --set subscription=... resource_group=...)")
    return " and ".join(parts) if parts else None


def sdk_kwargs(ctx: DeployContext, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for every Azure SDK client constructor (tests put transport= here)."""
    # azure-core retries a throttled (429) answer only 3 times by default; ARM throttles in bursts, and a
    # fleet apply makes many writes at once, so allow more (each waits the Retry-After ARM asks for).
    kw = {"retry_status": 10, **(ctx.client_kwargs or {})}
    kw.update(extra)
    return kw


# ----------------------------------------------------------------- errors

_BUSY = "another operation is running on this resource: wait for it, then apply again"
_CHECK_VALUE = "Azure rejected the request: check the value named in the message"
_CHECK_SUBSCRIPTION = "check AZURE_SUBSCRIPTION_ID"
# ARM error code -> (error class, hint). Codes are matched case-insensitively.
ERROR_TABLE: dict[str, tuple[type[DeployError], str]] = {
    "outofquota": (QuotaError, "not enough vCPU quota for this VM family in the region (Azure ML reserves 20% extra "
                               "cores): request more in the portal (Quotas > Machine learning) or lower "
                               "instance_type / instance_count"),
    "quotaexceeded": (QuotaError, "a subscription limit was reached (cores, endpoints or deployments per region): "
                                  "delete unused ones or request an increase"),
    "resourcenotready": (RemoteError, "the container crashed or failed its liveness probe: fetch the logs "
                                      "(`deploy-advisor logs NAME`), run the model locally first, and give large "
                                      "models longer probes (probe_initial_delay)"),
    "imagebuildfailure": (RemoteError, "the environment image failed to build: open the build log linked in the "
                                       "error and pin the conda/pip dependencies"),
    "authorizationfailed": (AuthError, "the signed-in identity lacks a role on this scope: ask for Contributor "
                                       "(or AzureML Data Scientist) on the resource group"),
    "linkedauthorizationfailed": (AuthError, "the identity lacks a role on a linked resource (ACR, storage, key "
                                             "vault)"),
    "invalidauthenticationtoken": (AuthError, SIGN_IN),
    "expiredauthenticationtoken": (AuthError, SIGN_IN),
    "resourcenotfound": (NotFoundError, "check the subscription, resource group and resource (workspace, cluster, "
                                        "app) names"),
    "resourcegroupnotfound": (NotFoundError, "create the resource group or fix AZURE_RESOURCE_GROUP"),
    "notfound": (NotFoundError, "check the subscription, resource group and resource names"),
    "usererror": (InputError, "the service rejected the request: check the settings named in the message"),
    "conflict": (ConflictError, _BUSY),
    "anotheroperationinprogress": (ConflictError, _BUSY),
    "operationcanceled": (RemoteError, "the operation was canceled (often by a newer one): wait a minute and "
                                       "apply again"),
    "badargument": (InputError, "a setting was rejected by Azure: check the value named in the message"),
    "badrequest": (InputError, _CHECK_VALUE),
    "invalidrequestcontent": (InputError, "Azure rejected the request body: check the settings"),
    "validationerror": (InputError, _CHECK_VALUE),
    "toomanyrequests": (RemoteError, "Azure is throttling this subscription: wait a minute and apply again "
                                     "(the run resumes where it stopped)"),
    "missingsubscriptionregistration": (RemoteError, "register the resource provider named in the message: `az "
                                                     "provider register --namespace NAMESPACE` (e.g. "
                                                     "Microsoft.MachineLearningServices, Microsoft.ContainerService, "
                                                     "Microsoft.Web)"),
    "subscriptionnotfound": (InputError, _CHECK_SUBSCRIPTION),
    "invalidsubscriptionid": (InputError, _CHECK_SUBSCRIPTION),
    "skunotavailable": (QuotaError, "this VM size is not offered in the region right now: pick another size or "
                                    "region"),
    "workspacemanagednetworknotready": (RemoteError, "provision the workspace managed network first: "
                                                     "`az ml workspace provision-network`"),
    "internalservererror": (RemoteError, "Azure had a transient error: apply again to resume"),
    "serviceunavailable": (RemoteError, "Azure is temporarily unavailable: apply again to resume"),
}
_STATUS_CODES = {401: "InvalidAuthenticationToken", 403: "AuthorizationFailed", 404: "ResourceNotFound",
                 409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
_CATEGORY_OVERRIDE = {"toomanyrequests": "throttled", "resourcenotready": "remote", "imagebuildfailure": "remote"}


def error_code(exc: BaseException) -> str:
    """The ARM error code of an azure-core exception ('' when there is none)."""
    err = getattr(exc, "error", None)
    code = getattr(err, "code", None)
    if code:
        return str(code)
    resp = getattr(exc, "response", None)
    if resp is not None:
        try:
            body = json.loads(resp.text() or "{}")
            code = (body.get("error") or {}).get("code") if isinstance(body, dict) else None
            if code:
                return str(code)
        except Exception:  # body not JSON or not readable: fall back to the message
            pass
    m = re.match(r"\s*\(([A-Za-z][A-Za-z0-9_.]+)\)", str(getattr(exc, "message", "") or exc))
    if m:
        return m.group(1)
    status = getattr(exc, "status_code", None)
    return _STATUS_CODES.get(status or 0, "")


def _first_line(exc: BaseException) -> str:
    msg = str(getattr(exc, "message", "") or exc).strip()
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip() and not ln.strip().startswith(("Code:", "Message:"))]
    text = lines[0] if lines else exc.__class__.__name__
    text = re.sub(r"^\([A-Za-z0-9_.]+\)\s*", "", text)
    return text[:400]


def map_azure_error(exc: BaseException, what: str = "") -> DeployError:
    """Turn an azure-core / azure-identity / azure-ai-ml exception into a DeployError with a hint."""
    if isinstance(exc, DeployError):
        return exc
    prefix = f"{what}: " if what else ""
    name = type(exc).__name__
    module = type(exc).__module__ or ""
    if name in ("ClientAuthenticationError", "CredentialUnavailableError") or "identity" in module:
        return AuthError(scrub(prefix + _first_line(exc)), SIGN_IN, code=error_code(exc) or "AuthenticationFailed")
    if name in ("ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError",
                "ServiceResponseTimeoutError"):
        return RemoteError(scrub(prefix + _first_line(exc)),
                           "could not reach Azure: check the network / proxy to management.azure.com, then apply "
                           "again (the run resumes)", code="NetworkError", category="network")
    if module.startswith("azure.ai.ml") and name in ("ValidationException", "ValidationError",
                                                      "SchemaValidationError"):
        return InputError(scrub(prefix + _first_line(exc)), "fix the setting named in the message", code=name)
    code = error_code(exc)
    entry = ERROR_TABLE.get(code.lower()) if code else None
    status = getattr(exc, "status_code", None)
    if entry is None and status:
        entry = ERROR_TABLE.get(_STATUS_CODES.get(status, "").lower())
    cls, hint = entry if entry else (RemoteError, "see the message; apply again once the cause is fixed")
    err = cls(scrub(prefix + _first_line(exc)), hint, code=code)
    if code and code.lower() in _CATEGORY_OVERRIDE:
        err.category = _CATEGORY_OVERRIDE[code.lower()]
    return err


# ----------------------------------------------------------------- long-running operations


def _status(poller: Any) -> str:
    try:
        return str(poller.status())
    except Exception:  # a poller that failed before its first status
        return "unknown"


def wait(poller: Any, ctx: DeployContext, what: str, key: Optional[str] = None, *,
         progress_every: float = 10.0) -> Any:
    """Wait for an LROPoller, reporting progress, honouring cancellation, recording a resume token.

    With `key`, the poller's continuation token is stored as ctx.checkpoint(key, {"token", "done"})
    before waiting, so a crashed apply can resume polling (see `resume`) instead of re-issuing the
    PUT; on success the checkpoint is marked done. Failures are raised as mapped DeployErrors.
    """
    start = time.monotonic()
    if key:
        try:
            token = poller.continuation_token()
        except Exception:  # NoPolling / synchronous operations have no token
            token = None
        if token:
            ctx.checkpoint(key, {"token": token, "done": False, "what": what})
    emit(ctx, "progress", f"waiting for {what}", operation=what, elapsed_s=0.0, status=_status(poller))
    last = start
    try:
        while not poller.done():
            ctx.check_cancelled()
            poller.wait(timeout=0.5)
            now = time.monotonic()
            if now - last >= progress_every and not poller.done():
                last = now
                emit(ctx, "progress", f"{what}: {_status(poller)} ({now - start:.0f}s)", operation=what,
                     elapsed_s=round(now - start, 1), status=_status(poller))
        result = poller.result()
    except DeployError:  # Interrupted, DeployTimeout, or already mapped
        raise
    except Exception as exc:
        err = map_azure_error(exc, what)
        emit(ctx, "error", f"{what} failed after {time.monotonic() - start:.1f}s: {err.one_line()}",
             operation=what, code=err.code)
        raise err from exc
    elapsed = time.monotonic() - start
    if key:
        ctx.checkpoint(key, {"token": None, "done": True, "what": what})
    emit(ctx, "progress", f"{what}: done in {elapsed:.1f}s", operation=what, elapsed_s=round(elapsed, 2),
         status=_status(poller))
    return result


def pending(ctx: DeployContext, key: str) -> Optional[str]:
    """The continuation token of an unfinished operation recorded under `key`, if any."""
    entry = (ctx.checkpoints or {}).get(key)
    if isinstance(entry, dict) and not entry.get("done") and entry.get("token"):
        return str(entry["token"])
    if isinstance(entry, str) and entry:
        return entry
    return None


def completed(ctx: DeployContext, key: str) -> bool:
    entry = (ctx.checkpoints or {}).get(key)
    return isinstance(entry, dict) and bool(entry.get("done"))


def done_or_resumed(ctx: DeployContext, key: str, what: str) -> bool:
    """True when the operation recorded under `key` needs no new request: an earlier run finished it,
    or it was still running and has now been resumed from its continuation token and waited for."""
    if completed(ctx, key):
        return True
    if pending(ctx, key):
        resume(ctx, key, what)
        return True
    return False


def arm_pipeline_client(ctx: DeployContext) -> Any:
    """A bare ARM PipelineClient (bearer auth, retries, ctx transport) for resuming pollers."""
    from azure.core.pipeline import policies as p
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

    kw = sdk_kwargs(ctx)
    retry_kw = {k: v for k, v in kw.items() if k.startswith("retry_")}
    policies = [p.RequestIdPolicy(), p.HeadersPolicy(), p.UserAgentPolicy(sdk_moniker="deploy-advisor"),
                p.RetryPolicy(**retry_kw), ARMChallengeAuthenticationPolicy(get_credential(ctx), ARM_SCOPE),
                p.ContentDecodePolicy(), p.HttpLoggingPolicy()]
    extra = {"transport": kw["transport"]} if kw.get("transport") is not None else {}
    return ARMPipelineClient(base_url=ARM_URL, policies=policies, **extra)


def resume(ctx: DeployContext, key: str, what: str,
           deserialize: Optional[Callable[[Any], Any]] = None) -> Any:
    """Resume polling the operation recorded under `key` (after a crash) and wait for it.

    Returns the operation's JSON body (or deserialize(pipeline_response)). The generic ARM
    poller follows Azure-AsyncOperation / Location / provisioningState like the SDKs do.
    """
    from azure.core.polling import LROPoller
    from azure.mgmt.core.polling.arm_polling import ARMPolling

    token = pending(ctx, key)
    if not token:
        raise ValueError(f"no pending operation recorded under {key!r}")

    def _json(pipeline_response: Any) -> Any:
        text = pipeline_response.http_response.text()
        return json.loads(text) if text else None

    interval = sdk_kwargs(ctx).get("polling_interval", 5)
    emit(ctx, "step", f"resuming {what} from its continuation token", operation=what)
    poller = LROPoller.from_continuation_token(ARMPolling(interval), token, client=arm_pipeline_client(ctx),
                                               deserialization_callback=deserialize or _json)
    return wait(poller, ctx, what, key)


# ----------------------------------------------------------------- small call helpers (any Azure deployer)


class azure_errors:
    """`with azure_errors("read app X"):` turns an azure-core exception into a mapped DeployError."""

    def __init__(self, what: str):
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, DeployError):
            return False
        from azure.core.exceptions import AzureError

        if isinstance(exc, AzureError):
            raise map_azure_error(exc, self.what) from exc
        return False


def none_if_missing(fn: Callable[[], Any]) -> Any:
    """fn(), or None when Azure answers 404."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return fn()
    except ResourceNotFoundError:
        return None


class ClientSet:
    """Base for a deployer's SDK clients (cached properties in the subclass), built lazily with the
    context's credential and client keyword arguments (tests: the fake's transport)."""

    def __init__(self, ctx: DeployContext, subscription: str):
        self.ctx = ctx
        self.subscription = subscription
        self.credential = get_credential(ctx)
        self.kwargs = sdk_kwargs(ctx)


# ----------------------------------------------------------------- where a deployment lives (no secrets)


def memory_path(ctx: DeployContext, target: str, name: str) -> Path:
    return Path(ctx.state_dir) / target / f"{name}.json"


def remember(ctx: DeployContext, target: str, name: str, data: dict) -> None:
    """Write what status/invoke/destroy need to find a deployment by name (atomically; never a secret)."""
    path = memory_path(ctx, target, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def remembered(ctx: DeployContext, target: str, name: str) -> dict:
    try:
        return json.loads(memory_path(ctx, target, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
