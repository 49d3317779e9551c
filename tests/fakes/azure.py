"""In-process fake of Azure Resource Manager (and data-plane hosts) for SDK tests.

`FakeAzure` is an azure-core `HttpTransport`: pass it as `transport=` to any
Azure SDK client (MLClient, WebSiteManagementClient, ContainerServiceClient...)
and the real SDK serialises real requests that land here instead of the
network. URLs stay `https://management.azure.com/...`; nothing opens a socket.

It keeps a stateful ARM resource store, runs long-running operations
(Azure-AsyncOperation or Location style) that take N polls, injects faults
(429/5xx with Retry-After, LRO failures with an ARM code, timeouts), records
every request and every sleep the SDK asked for. Provider modules
(tests/fakes/azureml.py, aks.py, appservice.py...) add routes and behaviours
through `install(fake)` functions; see tests/fakes/README.md.
"""
from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Pattern
from urllib.parse import parse_qsl, urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline._tools import is_rest as _core_is_rest
from azure.core.pipeline.transport import HttpResponse as LegacyHttpResponse
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict

ARM_HOST = "management.azure.com"
FAKE_TOKEN = "fake-aad-token-not-a-secret"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TERMINAL = ("Succeeded", "Failed", "Canceled")

Handler = Callable[["FakeAzure", "RecordedRequest", "re.Match[str]"], Optional["Reply"]]


# ----------------------------------------------------------------- credential


class FakeCredential:
    """TokenCredential with a fixed token: the SDK's bearer policy is satisfied, nothing is signed."""

    def __init__(self, token: str = FAKE_TOKEN):
        self.token = token
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **_kw: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        self.scopes.append(scopes)
        return AccessTokenInfo(self.token, int(time.time()) + 3600)

    def close(self) -> None:
        return None


# ----------------------------------------------------------------- data types


@dataclass
class Reply:
    """What a handler returns; `send` turns it into the response type the pipeline expects."""
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RecordedRequest:
    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # Authorization removed
    body: Any  # parsed JSON when possible, else text / bytes / None
    status: int = 0  # the status answered (0: an exception was raised)
    fault: str = ""  # "inject:<status>" / "timeout:<kind>" when a fault answered
    ts: float = 0.0
    auth: str = field(default="", repr=False)  # bearer value, for data-plane handlers that check keys

    def json(self) -> Any:
        return self.body

    def __repr__(self) -> str:
        return f"<{self.method} {self.path} -> {self.status}{' ' + self.fault if self.fault else ''}>"


@dataclass
class Fault:
    """An injected fault: answers instead of the real handler (or raises a timeout)."""
    method: Optional[str]
    path: Pattern[str]
    host: Optional[Pattern[str]]
    status: int = 429
    retry_after: Optional[float] = None
    retry_after_ms: Optional[int] = None
    code: str = ""
    message: str = ""
    times: Optional[int] = 1  # None = unlimited
    rate: Optional[float] = None
    rng: random.Random = field(default_factory=random.Random)
    exception: str = ""  # "" | "request" (not sent) | "response" (processed, reply lost)
    hits: int = 0

    def matches(self, req: RecordedRequest) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and req.method not in self.method.upper().split("|"):
            return False
        if self.host is not None and not self.host.search(req.host):
            return False
        if not self.path.search(req.path):
            return False
        if self.rate is not None and self.rng.random() >= self.rate:
            return False
        return True


@dataclass
class OperationFailure:
    method: str
    path: Pattern[str]
    code: str
    message: str
    times: Optional[int] = 1
    hits: int = 0


@dataclass
class Behaviour:
    """How one resource type answers writes (each SDK accepts different first responses).

    create_status/update_status: first status of a PUT; lro: "async" (Azure-AsyncOperation),
    "location" (Location), "both" or None (synchronous, provisioningState Succeeded at once).
    polls: operation polls before it ends (None = the fake's default). transform(fake, req,
    resource, existing) may edit the stored body on PUT (add defaults, server-side fields).
    """
    create_status: int = 201
    update_status: int = 200
    lro: Optional[str] = "async"
    polls: Optional[int] = None
    delete_status: int = 202
    delete_lro: Optional[str] = "both"
    transform: Optional[Callable[["FakeAzure", RecordedRequest, dict, Optional[dict]], None]] = None
    on_delete: Optional[Callable[["FakeAzure", str], None]] = None


@dataclass
class Operation:
    id: str
    kind: str  # "put" | "delete"
    resource_id: str
    polls_left: int
    status: str = "InProgress"
    error: Optional[dict] = None
    style: str = "async"
    retry_after: Optional[float] = None
    retry_after_ms: Optional[int] = None
    polled: int = 0


# ----------------------------------------------------------------- responses


class _Internal:
    def close(self) -> None:
        return None


class _RestResponse(HttpResponseImpl):
    def __init__(self, request: Any, reply: Reply):
        headers = case_insensitive_dict(reply.headers)
        super().__init__(request=request, internal_response=_Internal(), status_code=reply.status,
                         reason=_REASONS.get(reply.status, "Unknown"), headers=headers,
                         content_type=headers.get("Content-Type"), stream_download_generator=_stream)
        self._content = reply.body


class _LegacyResponse(LegacyHttpResponse):
    def __init__(self, request: Any, reply: Reply):
        super().__init__(request, _Internal())
        self.status_code = reply.status
        self.headers = case_insensitive_dict(reply.headers)
        self.reason = _REASONS.get(reply.status, "Unknown")
        self.content_type = self.headers.get("Content-Type")
        self._body = reply.body

    def body(self) -> bytes:
        return self._body

    def stream_download(self, pipeline: Any, **kwargs: Any):
        yield self._body


def _stream(response: Any, pipeline: Any = None, decompress: bool = True):
    yield response._content or b""


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
            409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _is_rest(request: Any) -> bool:
    return _core_is_rest(request)


# ----------------------------------------------------------------- ARM path helpers

_PROVIDER_RE = re.compile(r"/providers/([^/]+)/(.*)$", re.I)


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_collection(path: str) -> bool:
    """True when an ARM path names a collection (ends in a type segment, not a name)."""
    segs = [s for s in path.strip("/").split("/") if s]
    low = [s.lower() for s in segs]
    if "providers" in low:
        i = len(low) - 1 - low[::-1].index("providers")
        rest = segs[i + 2:]  # after providers/{namespace}
        return len(rest) % 2 == 1 or len(rest) == 0
    return len(segs) % 2 == 1  # /subscriptions, /subscriptions/s/resourcegroups


def resource_type(path: str) -> str:
    """ARM type of a resource path, e.g. Microsoft.Web/sites/slots."""
    m = _PROVIDER_RE.search(path)
    if not m:
        return "Microsoft.Resources/resourceGroups" if "/resourcegroups/" in path.lower() else ""
    ns, rest = m.group(1), m.group(2).strip("/").split("/")
    return "/".join([ns] + rest[0::2])


def subscription_of(path: str) -> str:
    m = re.search(r"/subscriptions/([^/]+)", path, re.I)
    return m.group(1) if m else SUBSCRIPTION


def namespace_of(path: str) -> str:
    m = _PROVIDER_RE.search(path)
    return m.group(1) if m else "Microsoft.Resources"


# ----------------------------------------------------------------- the fake


class FakeAzure(HttpTransport):
    """Stateful, thread-safe fake of ARM + registered data-plane hosts, as an azure-core transport."""

    def __init__(self, *, polls: int = 1, sleep_scale: float = 0.0, op_retry_after: Optional[float] = None,
                 op_retry_after_ms: Optional[int] = None, location: str = "eastus", seed: int = 0):
        self.default_polls = polls
        self.sleep_scale = sleep_scale  # >0: really sleep seconds*scale (benchmarks)
        self.op_retry_after = op_retry_after
        self.op_retry_after_ms = op_retry_after_ms
        self.location = location
        self.seed = seed
        self.resources: dict[str, dict] = {}  # lower-cased id -> body (with id/name/type)
        self.operations: dict[str, Operation] = {}
        self.requests: list[RecordedRequest] = []
        self.sleeps: list[float] = []
        self.faults: list[Fault] = []
        self.failures: list[OperationFailure] = []
        self._routes: list[tuple[Optional[str], Pattern[str], Optional[Pattern[str]], Handler]] = []
        self._behaviours: list[tuple[Pattern[str], Behaviour]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        # resource groups answer synchronously (real ARM does); DELETE is a Location LRO
        self.behaviour(r"^/subscriptions/[^/]+/resourcegroups/[^/]+$", create_status=201, update_status=200,
                       lro=None, delete_status=202, delete_lro="location")

    # ---- HttpTransport ------------------------------------------------------
    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> "FakeAzure":
        return self

    def __exit__(self, *args: Any) -> None:
        return None

    def sleep(self, duration: float) -> None:
        """Record the delay the SDK asked for; sleep only a scaled fraction of it (default none)."""
        with self._lock:
            self.sleeps.append(float(duration))
        if self.sleep_scale > 0 and duration > 0:
            time.sleep(duration * self.sleep_scale)

    def send(self, request: Any, **kwargs: Any) -> Any:
        req = self._record(request)
        with self._lock:
            fault = next((f for f in self.faults if f.matches(req)), None)
            if fault is not None:
                fault.hits += 1
                if fault.exception == "request":
                    req.fault = "timeout:request"
                    raise ServiceRequestError(f"fake: connection timed out ({req.method} {req.path})")
                if fault.exception != "response":
                    reply = self._fault_reply(fault)
                    req.fault = f"inject:{fault.status}"
                    req.status = reply.status
                    return self._to_response(request, reply)
            reply = self._dispatch(req)
            if fault is not None:  # exception == "response": the request was processed, the reply lost
                req.fault = "timeout:response"
                raise ServiceResponseError(f"fake: read timed out ({req.method} {req.path})")
            req.status = reply.status
        return self._to_response(request, reply)

    # ---- public API for tests and provider modules ---------------------------
    def route(self, method: Optional[str], path: str, host: Optional[str] = None) -> Callable[[Handler], Handler]:
        """Register handler(fake, req, match) for method+path regex (host defaults to ARM).

        Later registrations win. A handler returning None falls through to the next
        matching route and finally to the generic ARM store.
        """
        def deco(fn: Handler) -> Handler:
            with self._lock:
                self._routes.insert(0, (method.upper() if method else None, re.compile(path, re.I),
                                        re.compile(host, re.I) if host else None, fn))
            return fn
        return deco

    def data_plane(self, host: str, method: Optional[str] = None, path: str = ".*") -> Callable[[Handler], Handler]:
        """Route for a non-ARM host (scoring URIs, *.azurewebsites.net, blob upload URLs)."""
        return self.route(method, path, host=host)

    def behaviour(self, path: str, **options: Any) -> Behaviour:
        """Set how resources whose path matches the regex answer PUT/DELETE (see Behaviour)."""
        b = Behaviour(**options)
        with self._lock:
            self._behaviours.insert(0, (re.compile(path, re.I), b))
        return b

    def inject(self, method: Optional[str] = None, path: str = ".*", status: int = 429, *,
               retry_after: Optional[float] = 1, retry_after_ms: Optional[int] = None, code: str = "",
               message: str = "", times: Optional[int] = 1, rate: Optional[float] = None,
               seed: Optional[int] = None, host: Optional[str] = None, exception: str = "") -> Fault:
        """Answer matching requests with `status` (or raise a timeout: exception="request"|"response").

        times=N fires N times (None: unlimited); rate=0.3 fires on ~30% of matches (seeded).
        method may list several: "PUT|POST|DELETE".
        """
        if rate is not None and times == 1:
            times = None
        f = Fault(method=method, path=re.compile(path, re.I), host=re.compile(host, re.I) if host else None,
                  status=status, retry_after=retry_after, retry_after_ms=retry_after_ms,
                  code=code or _default_code(status), message=message or f"injected {status}",
                  times=times, rate=rate, rng=random.Random(self.seed if seed is None else seed),
                  exception=exception)
        with self._lock:
            self.faults.append(f)
        return f

    def timeout(self, method: Optional[str] = None, path: str = ".*", *, kind: str = "request",
                times: Optional[int] = 1) -> Fault:
        """Raise ServiceRequestError (kind="request") or ServiceResponseError (kind="response")."""
        return self.inject(method, path, exception=kind, times=times)

    def fail_operation(self, path: str, code: str = "OutOfQuota", message: str = "", *, method: str = "PUT",
                       times: Optional[int] = 1) -> OperationFailure:
        """The next long-running `method` on a matching path ends Failed with this ARM error code."""
        f = OperationFailure(method=method.upper(), path=re.compile(path, re.I), code=code,
                             message=message or f"{code}: injected operation failure", times=times)
        with self._lock:
            self.failures.append(f)
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
            self.failures.clear()

    def calls(self, method: Optional[str] = None, path: str = ".*", *, host: Optional[str] = None) -> list[RecordedRequest]:
        rx = re.compile(path, re.I)
        hrx = re.compile(host, re.I) if host else None
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper()) and rx.search(r.path)
                    and (hrx is None or hrx.search(r.host))]

    def get(self, resource_id: str) -> Optional[dict]:
        with self._lock:
            body = self.resources.get(resource_id.lower().rstrip("/"))
            return json.loads(json.dumps(body)) if body is not None else None

    def put(self, resource_id: str, body: dict) -> dict:
        """Seed a resource directly (provisioningState Succeeded unless given)."""
        with self._lock:
            stored = self._decorate(resource_id, json.loads(json.dumps(body)), None)
            stored.setdefault("properties", {}).setdefault("provisioningState", "Succeeded")
            self.resources[resource_id.lower().rstrip("/")] = stored
            return stored

    def delete(self, resource_id: str) -> bool:
        with self._lock:
            rid = resource_id.lower().rstrip("/")
            gone = [k for k in self.resources if k == rid or k.startswith(rid + "/")]
            for k in gone:
                del self.resources[k]
            return bool(gone)

    def children(self, collection_path: str) -> list[dict]:
        """Resources one level under a collection path (e.g. .../onlineEndpoints/ep/deployments)."""
        prefix = collection_path.lower().rstrip("/") + "/"
        with self._lock:
            return [json.loads(json.dumps(v)) for k, v in sorted(self.resources.items())
                    if k.startswith(prefix) and "/" not in k[len(prefix):]]

    def ids(self, path: str = ".*") -> list[str]:
        rx = re.compile(path, re.I)
        with self._lock:
            return sorted(k for k in self.resources if rx.search(k))

    def json(self, status: int, body: Any = None, headers: Optional[dict[str, str]] = None) -> Reply:
        h = {"Content-Type": "application/json", "x-ms-request-id": uuid.uuid4().hex}
        h.update(headers or {})
        data = b"" if body is None else json.dumps(body).encode()
        return Reply(status, data, h)

    def text(self, status: int, text: str, headers: Optional[dict[str, str]] = None,
             content_type: str = "text/plain") -> Reply:
        h = {"Content-Type": content_type}
        h.update(headers or {})
        return Reply(status, text.encode(), h)

    def error(self, status: int, code: str, message: str = "", headers: Optional[dict[str, str]] = None) -> Reply:
        return self.json(status, {"error": {"code": code, "message": message or code}}, headers)

    def writes(self, path: str = ".*") -> list[RecordedRequest]:
        return [r for r in self.calls(path=path) if r.method in ("PUT", "PATCH", "POST", "DELETE")]

    # ---- internals -----------------------------------------------------------
    def _record(self, request: Any) -> RecordedRequest:
        url = request.url
        parts = urlsplit(url)
        raw = getattr(request, "content", None) if _is_rest(request) else getattr(request, "body", None)
        if raw is None:
            raw = getattr(request, "data", None)
        body: Any = raw
        if isinstance(raw, (bytes, bytearray)):
            try:
                body = raw.decode()
            except UnicodeDecodeError:
                body = bytes(raw)
        if isinstance(body, str) and body[:1] in ("{", "["):
            try:
                body = json.loads(body)
            except ValueError:
                pass
        headers = {k: v for k, v in dict(request.headers).items() if k.lower() != "authorization"}
        auth = next((v for k, v in dict(request.headers).items() if k.lower() == "authorization"), "")
        req = RecordedRequest(method=request.method.upper(), url=url, host=parts.hostname or "",
                              path=parts.path, query=dict(parse_qsl(parts.query)), headers=headers,
                              body=body, ts=time.time(), auth=re.sub(r"(?i)^bearer\s+", "", auth))
        with self._lock:
            self.requests.append(req)
        return req

    def _to_response(self, request: Any, reply: Reply) -> Any:
        return _RestResponse(request, reply) if _is_rest(request) else _LegacyResponse(request, reply)

    def _fault_reply(self, f: Fault) -> Reply:
        headers = {}
        if f.retry_after is not None:
            headers["Retry-After"] = str(int(f.retry_after)) if float(f.retry_after).is_integer() else str(f.retry_after)
        if f.retry_after_ms is not None:
            headers["x-ms-retry-after-ms"] = str(f.retry_after_ms)
        return self.error(f.status, f.code, f.message, headers)

    def _dispatch(self, req: RecordedRequest) -> Reply:
        for method, rx, hrx, fn in list(self._routes):
            if method and method != req.method:
                continue
            if hrx is None and req.host != ARM_HOST:
                continue
            if hrx is not None and not hrx.search(req.host):
                continue
            m = rx.search(req.path)
            if not m:
                continue
            out = fn(self, req, m)
            if out is not None:
                return out
        if req.host != ARM_HOST:
            return self.error(404, "NotFound", f"fake: no data-plane route for {req.host}{req.path}")
        return self._arm(req)

    def _behaviour_for(self, path: str) -> Behaviour:
        for rx, b in self._behaviours:
            if rx.search(path):
                return b
        return Behaviour()

    def _arm(self, req: RecordedRequest) -> Reply:
        path = req.path.rstrip("/")
        low = path.lower()
        if "/operationstatuses/" in low or "/operationresults/" in low:
            return self._poll(req, low.rsplit("/", 1)[-1], "/operationresults/" in low)
        if req.method == "GET":
            if is_collection(path):
                return self.json(200, {"value": self._list(path)})
            body = self.resources.get(low)
            if body is None:
                return self.error(404, "ResourceNotFound", f"The Resource '{resource_type(path)}/{path.rsplit('/', 1)[-1]}' "
                                  f"under resource group was not found.")
            return self.json(200, body)
        if req.method in ("PUT", "PATCH"):
            return self._write(req, path)
        if req.method == "DELETE":
            return self._delete(req, path)
        if req.method == "HEAD":
            return Reply(204 if low in self.resources else 404)
        return self.error(404, "NoRoute", f"fake: no handler for {req.method} {path}")

    def _list(self, path: str) -> list[dict]:
        low = path.lower()
        if "/resourcegroups/" not in low and "/providers/" in low:  # subscription-wide list of a type
            rtype = resource_type(path).lower()
            return [json.loads(json.dumps(v)) for k, v in sorted(self.resources.items())
                    if resource_type(k).lower() == rtype and k.startswith(low.split("/providers/")[0])]
        return self.children(path)

    def _decorate(self, path: str, body: dict, existing: Optional[dict]) -> dict:
        body["id"] = existing["id"] if existing else path
        body["name"] = path.rsplit("/", 1)[-1]
        body.setdefault("type", resource_type(path))
        created = (existing or {}).get("systemData", {}).get("createdAt") or now_iso()
        body["systemData"] = {"createdAt": created, "createdBy": "fake@example.com", "createdByType": "User",
                              "lastModifiedAt": now_iso(), "lastModifiedBy": "fake@example.com",
                              "lastModifiedByType": "User"}
        return body

    def _failure_for(self, method: str, path: str) -> Optional[OperationFailure]:
        for f in self.failures:
            if f.method == method and f.path.search(path) and (f.times is None or f.hits < f.times):
                f.hits += 1
                return f
        return None

    def _write(self, req: RecordedRequest, path: str) -> Reply:
        low = path.lower()
        existing = self.resources.get(low)
        incoming = req.body if isinstance(req.body, dict) else {}
        if req.method == "PATCH" and existing:
            body = _merge(json.loads(json.dumps(existing)), incoming)
        else:
            body = json.loads(json.dumps(incoming))
        b = self._behaviour_for(path)
        body = self._decorate(path, body, existing)
        if b.transform:
            b.transform(self, req, body, existing)
        props = body.setdefault("properties", {})
        failure = self._failure_for(req.method, path)
        polls = self.default_polls if b.polls is None else b.polls
        style = b.lro
        if style is None or (polls <= 0 and failure is None):
            if failure is not None:  # synchronous resource: the write itself is refused
                return self.error(409 if failure.code == "Conflict" else 400, failure.code, failure.message)
            props["provisioningState"] = "Succeeded"
            self.resources[low] = body
            return self.json(b.update_status if existing else b.create_status, body)
        props["provisioningState"] = "Updating" if existing else "Creating"
        self.resources[low] = body
        op = self._new_operation("put", path, max(polls, 1) if failure else polls, style, failure)
        status = b.update_status if existing else b.create_status
        return self.json(status, body, self._op_headers(op, path, style))

    def _delete(self, req: RecordedRequest, path: str) -> Reply:
        low = path.lower()
        b = self._behaviour_for(path)
        if low not in self.resources:
            return Reply(204, b"", {})
        failure = self._failure_for("DELETE", path)
        polls = self.default_polls if b.polls is None else b.polls
        if b.delete_lro is None or (polls <= 0 and failure is None):
            if failure is not None:
                return self.error(409, failure.code, failure.message)
            self._remove(path, b)
            return Reply(b.delete_status, b"", {})
        self.resources[low].setdefault("properties", {})["provisioningState"] = "Deleting"
        op = self._new_operation("delete", path, max(polls, 1), b.delete_lro, failure)
        return Reply(b.delete_status, b"", self._op_headers(op, path, b.delete_lro))

    def _remove(self, path: str, b: Behaviour) -> None:
        self.delete(path)
        if b.on_delete:
            b.on_delete(self, path)

    def _new_operation(self, kind: str, path: str, polls: int, style: str,
                       failure: Optional[OperationFailure]) -> Operation:
        op = Operation(id=f"op-{next(self._ids):05d}-{uuid.uuid4().hex[:8]}", kind=kind, resource_id=path,
                       polls_left=polls, style=style, retry_after=self.op_retry_after,
                       retry_after_ms=self.op_retry_after_ms)
        if failure is not None:
            op.error = {"code": failure.code, "message": failure.message}
        self.operations[op.id] = op
        return op

    def _op_headers(self, op: Operation, path: str, style: str) -> dict[str, str]:
        base = (f"https://{ARM_HOST}/subscriptions/{subscription_of(path)}/providers/{namespace_of(path)}"
                f"/locations/{self.location}")
        headers: dict[str, str] = {}
        if style in ("async", "both"):
            headers["Azure-AsyncOperation"] = f"{base}/operationStatuses/{op.id}?api-version=fake"
        if style in ("location", "both"):
            headers["Location"] = f"{base}/operationResults/{op.id}?api-version=fake"
        self._retry_headers(op, headers)
        return headers

    def _retry_headers(self, op: Operation, headers: dict[str, str]) -> None:
        if op.retry_after:
            headers["Retry-After"] = str(int(op.retry_after))
        if op.retry_after_ms is not None:
            headers["x-ms-retry-after-ms"] = str(op.retry_after_ms)

    def _poll(self, req: RecordedRequest, op_id: str, location_style: bool) -> Reply:
        op = next((o for k, o in self.operations.items() if k.lower() == op_id), None)
        if op is None:
            return self.error(404, "OperationNotFound", f"operation {op_id} not found")
        if op.status == "InProgress":
            op.polled += 1
            op.polls_left -= 1
            if op.polls_left <= 0:
                self._finish(op)
        headers: dict[str, str] = {}
        if op.status == "InProgress":
            self._retry_headers(op, headers)
            if location_style:
                return Reply(202, b"", headers | {"Location": f"https://{ARM_HOST}{req.path}?api-version=fake"})
            return self.json(200, {"id": op.id, "name": op.id, "status": "InProgress", "startTime": now_iso()}, headers)
        if location_style:
            if op.status != "Succeeded":
                return self.error(400 if op.status == "Failed" else 409, (op.error or {}).get("code", op.status),
                                  (op.error or {}).get("message", op.status))
            body = self.resources.get(op.resource_id.lower())
            return self.json(200, body) if (op.kind == "put" and body) else Reply(204, b"", {})
        doc = {"id": op.id, "name": op.id, "status": op.status, "startTime": now_iso(), "endTime": now_iso()}
        if op.error:
            doc["error"] = op.error
        return self.json(200, doc)

    def _finish(self, op: Operation) -> None:
        low = op.resource_id.lower()
        if op.error:
            op.status = "Failed"
            if low in self.resources:
                self.resources[low].setdefault("properties", {})["provisioningState"] = "Failed"
            return
        op.status = "Succeeded"
        if op.kind == "delete":
            self._remove(op.resource_id, self._behaviour_for(op.resource_id))
        elif low in self.resources:
            self.resources[low].setdefault("properties", {})["provisioningState"] = "Succeeded"

    def finish_all(self) -> None:
        """Complete every running operation at once (e.g. after a simulated crash)."""
        with self._lock:
            for op in self.operations.values():
                if op.status == "InProgress":
                    op.polls_left = 0
                    self._finish(op)


def _merge(base: dict, patch: dict) -> dict:
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


def _default_code(status: int) -> str:
    return {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
            504: "GatewayTimeout", 409: "Conflict", 404: "ResourceNotFound", 403: "AuthorizationFailed",
            400: "BadRequest"}.get(status, f"Http{status}")


def client_kwargs(fake: FakeAzure, **extra: Any) -> dict[str, Any]:
    """The keyword arguments tests put in DeployContext.client_kwargs."""
    kw: dict[str, Any] = {"transport": fake, "polling_interval": 0, "retry_backoff_factor": 0.01}
    kw.update(extra)
    return kw


def fake_context(fake: FakeAzure, state_dir: Any, events: Any = None, **kw: Any) -> Any:
    """A DeployContext signed in (FakeCredential) to SUBSCRIPTION / resource group "rg", talking to `fake`.
    (Added for the shared test fixtures; backwards compatible.)"""
    from deployers.base import DeployContext
    from deployers.events import EventRecorder

    return DeployContext(state_dir=state_dir, credential=FakeCredential(), subscription_id=SUBSCRIPTION,
                         resource_group="rg", client_kwargs=client_kwargs(fake),
                         events=events if events is not None else EventRecorder(), **kw)
