"""Azure Container Registry for FakeAzure: registries, ACR Tasks runs, the blob upload, tag lookups.

`acr = install(fake)` adds:
- ARM: registries (loginServer filled in), POST listBuildSourceUploadUrl, POST scheduleRun
  (checks the uploaded tar.gz holds a Dockerfile), GET runs/{id} (Queued -> Running -> Succeeded
  after `build_polls` reads, or Failed when `acr.fail_next_build(...)`), POST runs/{id}/listLogSasUrl;
  role assignments (synchronous) and the caller's permissions on a registry (`acr.permissions`).
- data plane: the SAS blob URLs (`*.blob.core.windows.net`: PUT/GET) and `<name>.azurecr.io`
  (`/acr/v1/{repo}/_tags/{tag}` behind the real ACR challenge: 401 + WWW-Authenticate, then
  POST /oauth2/exchange and /oauth2/token, the way azure-containerregistry authenticates).

`acr.tags` holds {(registry, repository): {tag, ...}}; a successful run adds its image names.
"""
from __future__ import annotations

import gzip
import io
import tarfile
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qsl, unquote

from .azure import ARM_HOST, SUBSCRIPTION, FakeAzure, RecordedRequest

ACR_ACCESS_TOKEN = "fake-acr-access-token"
ACR_REFRESH_TOKEN = "fake-acr-refresh-token"
STORAGE_HOST = "fakeacrsource.blob.core.windows.net"
REG = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ContainerRegistry/registries/(?P<reg>[^/]+)"

_auth = threading.local()


@dataclass
class FakeACR:
    fake: FakeAzure
    build_polls: int = 2
    tags: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    uploads: list[dict] = field(default_factory=list)  # what scheduleRun received (files of the context)
    permissions: list[str] = field(default_factory=lambda: ["*"])
    not_actions: list[str] = field(default_factory=list)
    fail_builds: list[str] = field(default_factory=list)
    tag_reads: list[dict] = field(default_factory=list)

    def fail_next_build(self, message: str = "step failed: pip install returned 1") -> None:
        self.fail_builds.append(message)

    def add_registry(self, resource_group: str = "rg", name: str = "myregistry", location: str = "eastus",
                     tags: Optional[dict] = None) -> dict:
        rid = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{resource_group}/providers/Microsoft.ContainerRegistry/registries/{name}"
        return self.fake.put(rid, {"location": location, "sku": {"name": "Basic", "tier": "Basic"}, "tags": tags or {},
                                   "properties": {"loginServer": f"{name.lower()}.azurecr.io", "adminUserEnabled": False,
                                                  "publicNetworkAccess": "Enabled"}})

    def add_tag(self, registry: str, repository: str, tag: str) -> None:
        self.tags.setdefault((registry.lower(), repository), set()).add(tag)

    def context_files(self, index: int = -1) -> dict[str, bytes]:
        return self.uploads[index]["files"]


def _untar(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r") as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[m.name] = tar.extractfile(m).read()
    return out


def install(fake: FakeAzure, *, build_polls: int = 2) -> FakeACR:
    acr = FakeACR(fake=fake, build_polls=build_polls)

    # the core fake records headers without Authorization; the ACR challenge needs to see it
    original_send = fake.send

    def send(request: Any, **kwargs: Any) -> Any:
        _auth.value = request.headers.get("Authorization", "")
        return original_send(request, **kwargs)

    fake.send = send  # type: ignore[method-assign]

    def registry_transform(fake: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        props = body.setdefault("properties", {})
        props.setdefault("loginServer", f"{body['name'].lower()}.azurecr.io")
        props.setdefault("publicNetworkAccess", "Enabled")

    fake.behaviour(REG + "$", create_status=200, update_status=200, lro="async", transform=registry_transform)

    @fake.route("POST", REG + "/listBuildSourceUploadUrl$")
    def upload_url(fake: FakeAzure, req: RecordedRequest, m: Any):
        if fake.get(m.group(0).rsplit("/listBuildSourceUploadUrl", 1)[0]) is None:
            return fake.error(404, "ResourceNotFound", "registry not found")
        rel = f"source/{uuid.uuid4().hex}.tar.gz"
        return fake.json(200, {"uploadUrl": f"https://{STORAGE_HOST}/{rel}?sv=2023-01-03&se=2099-01-01&sr=b&sp=cw&sig=FAKESASSIG",
                               "relativePath": rel})

    @fake.data_plane(r"\.blob\.core\.windows\.net$", method="PUT")
    def put_blob(fake: FakeAzure, req: RecordedRequest, m: Any):
        body = req.body if isinstance(req.body, bytes) else (req.body or "").encode() if isinstance(req.body, str) else b""
        acr.blobs[req.path.lstrip("/")] = body
        return fake.text(201, "", {"ETag": '"0x8D0FAKE"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                                   "x-ms-request-server-encrypted": "true", "x-ms-version": "2023-11-03",
                                   "Content-Length": "0"})

    @fake.data_plane(r"\.blob\.core\.windows\.net$", method="GET")
    def get_blob(fake: FakeAzure, req: RecordedRequest, m: Any):
        data = acr.blobs.get(req.path.lstrip("/"))
        if data is None:
            return fake.text(404, "", {"x-ms-error-code": "BlobNotFound"})
        headers = {"ETag": '"0x8D0FAKE"', "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT", "x-ms-blob-type": "BlockBlob",
                   "Content-Length": str(len(data)), "x-ms-version": "2023-11-03"}
        status = 200
        if any(k.lower() in ("x-ms-range", "range") for k in req.headers):
            headers["Content-Range"] = f"bytes 0-{max(len(data) - 1, 0)}/{len(data)}"
            status = 206
        from .azure import Reply
        return Reply(status, data, {**headers, "Content-Type": "application/octet-stream"})

    @fake.route("POST", REG + "/scheduleRun$")
    def schedule_run(fake: FakeAzure, req: RecordedRequest, m: Any):
        reg_id = m.group(0).rsplit("/scheduleRun", 1)[0]
        if fake.get(reg_id) is None:
            return fake.error(404, "ResourceNotFound", "registry not found")
        body = req.body if isinstance(req.body, dict) else {}
        if body.get("type") != "DockerBuildRequest":
            return fake.error(400, "BadRequest", f"unsupported run request {body.get('type')}")
        src = acr.blobs.get(body.get("sourceLocation", ""))
        if src is None:
            return fake.error(400, "InvalidSourceLocation", "the source location was not uploaded")
        files = _untar(src)
        dockerfile = body.get("dockerFilePath", "Dockerfile")
        if dockerfile not in files:
            return fake.error(400, "InvalidDockerfile", f"{dockerfile} not found in the build context")
        run_id = f"ca{len(acr.runs) + 1}"
        acr.uploads.append({"run_id": run_id, "files": files, "request": body})
        fail = acr.fail_builds.pop(0) if acr.fail_builds else None
        run = {"id": f"{reg_id}/runs/{run_id}", "name": run_id, "type": "Microsoft.ContainerRegistry/registries/runs",
               "properties": {"runId": run_id, "status": "Queued", "runType": "QuickRun", "provisioningState": "Succeeded",
                              "imageUpdateTrigger": None, "platform": body.get("platform")}}
        acr.runs[run_id] = {"registry": m.group("reg"), "reg_id": reg_id, "images": body.get("imageNames") or [],
                            "reads": 0, "fail": fail, "body": run}
        fake.put(run["id"], run)
        return fake.json(200, run)

    @fake.route("GET", REG + r"/runs/(?P<run>[^/]+)$")
    def get_run(fake: FakeAzure, req: RecordedRequest, m: Any):
        state = acr.runs.get(m.group("run"))
        if state is None:
            return fake.error(404, "ResourceNotFound", "run not found")
        state["reads"] += 1
        props = state["body"]["properties"]
        if state["reads"] >= acr.build_polls:
            if state["fail"]:
                props.update(status="Failed", runErrorMessage=state["fail"])
                acr.blobs[f"logs/{m.group('run')}.log"] = (
                    "Step 1/9 : FROM python:3.11-slim\n...\nERROR: Could not find a version that satisfies the "
                    f"requirement\n{state['fail']}\n").encode()
            else:
                props.update(status="Succeeded", outputImages=[
                    {"registry": f"{state['registry'].lower()}.azurecr.io", "repository": i.split(":")[0],
                     "tag": i.split(":")[1], "digest": "sha256:" + "0" * 64} for i in state["images"]])
                for image in state["images"]:
                    repo, tag = image.rsplit(":", 1)
                    acr.add_tag(state["registry"], repo, tag)
                acr.blobs[f"logs/{m.group('run')}.log"] = b"Successfully pushed\n"
        elif props["status"] == "Queued":
            props["status"] = "Running"
        return fake.json(200, state["body"])

    @fake.route("POST", REG + r"/runs/(?P<run>[^/]+)/listLogSasUrl$")
    def log_url(fake: FakeAzure, req: RecordedRequest, m: Any):
        return fake.json(200, {"logLink": f"https://{STORAGE_HOST}/logs/{m.group('run')}.log?sv=2023&sig=FAKELOGSIG"})

    # ---- registry data plane with the ACR token exchange
    @fake.data_plane(r"\.azurecr\.io$", method="POST", path=r"^/oauth2/exchange$")
    def exchange(fake: FakeAzure, req: RecordedRequest, m: Any):
        form = _form(req)
        if form.get("grant_type") != "access_token" or not form.get("access_token"):
            return fake.json(400, {"errors": [{"code": "UNAUTHORIZED", "message": "bad exchange"}]})
        return fake.json(200, {"refresh_token": ACR_REFRESH_TOKEN})

    @fake.data_plane(r"\.azurecr\.io$", method="POST", path=r"^/oauth2/token$")
    def token(fake: FakeAzure, req: RecordedRequest, m: Any):
        form = _form(req)
        if form.get("refresh_token") != ACR_REFRESH_TOKEN:
            return fake.json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad refresh token"}]})
        return fake.json(200, {"access_token": ACR_ACCESS_TOKEN})

    @fake.data_plane(r"\.azurecr\.io$", method="GET", path=r"^/acr/v1/(?P<repo>.+)/_tags/(?P<tag>[^/]+)$")
    def get_tag(fake: FakeAzure, req: RecordedRequest, m: Any):
        host = req.host
        registry = host.split(".", 1)[0]
        repo = unquote(m.group("repo"))
        if getattr(_auth, "value", "") != f"Bearer {ACR_ACCESS_TOKEN}":
            return fake.json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, {
                "WWW-Authenticate": f'Bearer realm="https://{host}/oauth2/token",service="{host}",'
                                    f'scope="repository:{repo}:metadata_read"'})
        acr.tag_reads.append({"registry": registry, "repository": repo, "tag": m.group("tag")})
        if m.group("tag") not in acr.tags.get((registry, repo), set()):
            return fake.json(404, {"errors": [{"code": "TAG_UNKNOWN", "message": "the specified tag does not exist"}]})
        return fake.json(200, {"registry": host, "imageName": repo, "tag": {
            "name": m.group("tag"), "digest": "sha256:" + "0" * 64, "createdTime": "2024-01-01T00:00:00Z",
            "lastUpdateTime": "2024-01-01T00:00:00Z", "signed": False,
            "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True, "readEnabled": True,
                                     "listEnabled": True}}})

    install_role_assignments(fake, acr)

    # the SDK sends an empty parentResourcePath as "//registries": ARM tolerates it, so does the fake
    @fake.route("GET", REG.replace("/registries/", "/+registries/") + r"/providers/Microsoft\.Authorization/permissions$")
    def permissions(fake: FakeAzure, req: RecordedRequest, m: Any):
        return fake.json(200, {"value": [{"actions": list(acr.permissions), "notActions": list(acr.not_actions)}]})

    return acr


def install_role_assignments(fake: FakeAzure, holder: Any) -> None:
    """Microsoft.Authorization role assignments at any scope: PUT (403 unless `holder.permissions` allow
    roleAssignments/write and `holder.not_actions` do not deny it; 409 RoleAssignmentExists for a duplicate),
    GET the list at a scope (inherited ones included), DELETE."""
    RA = r"(?P<scope>/subscriptions/.+?)/providers/Microsoft\.Authorization/roleAssignments"

    def ra_transform(fake: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        props = body.setdefault("properties", {})
        props["scope"] = req.path.split("/providers/Microsoft.Authorization/")[0]

    fake.behaviour(RA + "/[^/]+$", create_status=201, update_status=201, lro=None, transform=ra_transform)

    @fake.route("PUT", RA + "/(?P<name>[^/]+)$")
    def put_ra(fake: FakeAzure, req: RecordedRequest, m: Any):
        if not any(_allowed(a) for a in holder.permissions) or any(_allowed(a) for a in holder.not_actions):
            return fake.error(403, "AuthorizationFailed", "The client does not have authorization to perform action "
                                                          "'Microsoft.Authorization/roleAssignments/write'")
        body = req.body if isinstance(req.body, dict) else {}
        principal = (body.get("properties") or {}).get("principalId")
        role = (body.get("properties") or {}).get("roleDefinitionId")
        for ra in fake.children(m.group("scope") + "/providers/Microsoft.Authorization/roleAssignments"):
            p = ra.get("properties") or {}
            if p.get("principalId") == principal and p.get("roleDefinitionId") == role and ra["name"] != m.group("name"):
                return fake.error(409, "RoleAssignmentExists", "The role assignment already exists.")
        return None  # the generic store keeps it

    @fake.route("GET", RA + "$")
    def list_ra(fake: FakeAzure, req: RecordedRequest, m: Any):
        scope = m.group("scope").lower()
        items = []
        for rid in fake.ids(r"/providers/microsoft\.authorization/roleassignments/[^/]+$"):
            ra = fake.get(rid)
            ra_scope = (ra.get("properties") or {}).get("scope", "").lower()
            if scope.startswith(ra_scope):  # assignments at this scope or inherited from a parent
                items.append(ra)
        return fake.json(200, {"value": items})

    @fake.route("DELETE", RA + "/(?P<name>[^/]+)$")
    def delete_ra(fake: FakeAzure, req: RecordedRequest, m: Any):
        body = fake.get(req.path)
        if body is None:
            return fake.json(204)
        fake.delete(req.path)
        return fake.json(200, body)


def _form(req: RecordedRequest) -> dict[str, str]:
    """Form fields of an x-www-form-urlencoded request (azure-core hands them over as a dict)."""
    if isinstance(req.body, dict):
        return {k: str(getattr(v, "value", v)) for k, v in req.body.items()}
    return dict(parse_qsl(req.body if isinstance(req.body, str) else ""))


def _allowed(pattern: str) -> bool:
    import re

    rx = "^" + re.escape(pattern.lower()).replace(r"\*", ".*") + "$"
    return re.match(rx, "microsoft.authorization/roleassignments/write") is not None


__all__ = ["FakeACR", "install", "ACR_ACCESS_TOKEN", "ARM_HOST"]
