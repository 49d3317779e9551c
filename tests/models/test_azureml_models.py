"""azureml: references through the real azure-ai-ml MLClient against an HTTP-level fake.

The transport below is local to these tests (the shared Azure fake lives in
tests/fakes/): it answers only the calls `MLClient.models.get` makes — the
workspace model-version GET on ARM, and for registries the discovery call
plus the registry data-plane GET — with bodies shaped like the real service's.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import case_insensitive_dict

from deployers import model_resolution as mr
from deployers.base import DeployContext
from deployers.errors import ModelResolutionError

pytestmark = pytest.mark.xdist_group("models")

SUB = "11111111-2222-3333-4444-555555555555"
RG = "rg-ml"
WS = "ws-prod"
TOKEN = "test-token-value"


class _Internal:
    def close(self) -> None:
        return None


def _stream(response: Any, pipeline: Any = None, decompress: bool = True):
    yield response._content or b""


class _Response(HttpResponseImpl):
    def __init__(self, request: Any, status: int, body: dict):
        headers = case_insensitive_dict({"Content-Type": "application/json; charset=utf-8"})
        super().__init__(request=request, internal_response=_Internal(), status_code=status,
                         reason={200: "OK", 404: "Not Found", 403: "Forbidden"}.get(status, "Error"),
                         headers=headers, content_type=headers["Content-Type"], stream_download_generator=_stream)
        self._content = json.dumps(body).encode()


class ModelTransport(HttpTransport):
    """Answers Azure ML model GETs from a dict of (name, version) -> flavors; records every request."""

    def __init__(self, models: dict[tuple[str, str], dict], status: Optional[int] = None):
        self.models = models
        self.status = status  # force an error status for every model GET
        self.requests: list[Any] = []

    def __enter__(self) -> "ModelTransport":
        return self

    def __exit__(self, *args: Any) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None

    def send(self, request: Any, **kwargs: Any) -> _Response:
        self.requests.append(request)
        url = urlsplit(request.url)
        parts = url.path.strip("/").split("/")
        if url.path.startswith("/registrymanagement/v1.0/registries/") and url.path.endswith("/discovery"):
            reg = parts[3]
            return _Response(request, 200, {
                "registryName": reg, "tenantId": "tenant", "primaryRegion": "eastus", "regions": ["eastus"],
                "subscriptionId": SUB, "resourceGroup": "rg-registry", "workspaceName": None,
                "primaryRegionResourceProviderUri": "https://eastus.api.azureml.ms/",
            })
        if "models" in parts and "versions" in parts and request.method == "GET":
            name, version = parts[parts.index("models") + 1], parts[parts.index("versions") + 1]
            flavors = self.models.get((name, version))
            if self.status or flavors is None:
                status = self.status or 404
                return _Response(request, status, {"error": {
                    "code": "UserError" if status == 404 else "AuthorizationFailed",
                    "message": f"Model container with name: {name} not found."}})
            if "registries" in parts:  # the registry data plane returns asset ids in azureml:// form
                asset_id = f"azureml://registries/{parts[parts.index('registries') + 1]}/models/{name}/versions/{version}"
            else:
                asset_id = "/" + "/".join(parts[: parts.index("models")]) + f"/models/{name}/versions/{version}"
            return _Response(request, 200, {
                "id": asset_id,
                "name": version,
                "type": "Microsoft.MachineLearningServices/workspaces/models/versions",
                "properties": {
                    "description": "fraud model", "tags": {"team": "risk"}, "properties": {},
                    "isArchived": False, "isAnonymous": False,
                    "flavors": {k: {"data": v} for k, v in flavors.items()},
                    "modelType": "mlflow_model" if flavors else "custom_model",
                    "modelUri": f"azureml://subscriptions/{SUB}/resourcegroups/{RG}/workspaces/{WS}/datastores/"
                                f"workspaceblobstore/paths/LocalUpload/abc/{name}",
                    "jobName": None, "stage": "Development", "provisioningState": "Succeeded",
                },
                "systemData": {"createdAt": "2026-05-01T10:00:00Z", "createdBy": "someone@contoso.com",
                               "createdByType": "User", "lastModifiedAt": "2026-05-01T10:00:00Z"},
            })
        return _Response(request, 404, {"error": {"code": "NotFound", "message": f"fake: no route {url.path}"}})


class FakeCredential:
    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(TOKEN, int(time.time()) + 3600)


SKLEARN = {"python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
           "sklearn": {"pickled_model": "model.pkl", "sklearn_version": "1.5.0"}}


def _ctx(tmp_path: Path, transport: ModelTransport, **kw: Any) -> DeployContext:
    return DeployContext(state_dir=tmp_path, credential=FakeCredential(),
                         client_kwargs={"transport": transport, "retry_total": 0}, **kw)


def test_azureml_without_configuration_says_how_to_configure(tmp_path: Path, clean_env: Path) -> None:
    cred = FakeCredential()
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve("azureml:fraud:3", tmp_path, DeployContext(state_dir=tmp_path, credential=cred))
    line = e.value.one_line()
    assert "\n" not in line and "azureml:fraud:3" in line
    assert "Azure ML is not configured" in line and "profile's model facts" in line
    assert "AZUREML_WORKSPACE_NAME" in e.value.hint and "az login" in e.value.hint
    assert cred.calls == 0  # nothing was attempted against Azure
    with pytest.raises(ModelResolutionError):
        mr.resolve("azureml:fraud:3", tmp_path)  # no ctx at all: same one-line answer


def test_azureml_workspace_model_through_the_real_sdk(tmp_path: Path, clean_env: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    transport = ModelTransport({("fraud", "3"): SKLEARN})
    ctx = _ctx(tmp_path, transport, subscription_id=SUB, resource_group=RG)
    info = mr.resolve("azureml:fraud:3", tmp_path, ctx)
    assert (info.uri, info.name, info.version, info.source) == ("azureml:fraud:3", "fraud", "3", "azureml")
    assert (info.framework, info.flavor, info.format) == ("sklearn", "sklearn", "mlflow")
    assert info.local_path is None and info.facts().from_registry is False
    [req] = transport.requests
    url = urlsplit(req.url)
    assert url.netloc == "management.azure.com"
    assert url.path == (f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices"
                        f"/workspaces/{WS}/models/fraud/versions/3")
    assert parse_qs(url.query)["api-version"]
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"


def test_azureml_workspace_from_config_json(tmp_path: Path, clean_env: Path) -> None:
    (clean_env / ".azureml").mkdir()
    (clean_env / ".azureml" / "config.json").write_text(json.dumps(
        {"subscription_id": SUB, "resource_group": RG, "workspace_name": "ws-from-config"}))
    transport = ModelTransport({("plain", "1"): {}})
    info = mr.resolve("azureml:plain:1", tmp_path, _ctx(tmp_path, transport))
    assert (info.format, info.framework) == ("custom", "custom")
    assert "/workspaces/ws-from-config/models/plain/versions/1" in transport.requests[0].url


def test_azureml_unknown_model_is_one_line(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    ctx = _ctx(tmp_path, ModelTransport({}), subscription_id=SUB, resource_group=RG)
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve("azureml:ghost:7", tmp_path, ctx)
    assert "'ghost' version 7 not found in Azure ML workspace ws-prod" in e.value.one_line()


def test_azureml_access_denied(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    ctx = _ctx(tmp_path, ModelTransport({("fraud", "3"): SKLEARN}, status=403), subscription_id=SUB, resource_group=RG)
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve("azureml:fraud:3", tmp_path, ctx)
    line = e.value.one_line()
    assert "access denied" in line and "AuthorizationFailed" in line and TOKEN not in line


def test_azureml_registry_model(tmp_path: Path, clean_env: Path) -> None:
    transport = ModelTransport({("phi-mini", "2"): {"transformers": {"task": "text-generation"}}})
    uri = "azureml://registries/azureml-meta/models/phi-mini/versions/2"
    info = mr.resolve(uri, tmp_path, _ctx(tmp_path, transport))
    assert (info.source, info.framework, info.version, info.uri) == ("azureml-registry", "transformers", "2", uri)
    assert info.facts().from_registry is True
    paths = [urlsplit(r.url).path for r in transport.requests]
    assert paths[0] == "/registrymanagement/v1.0/registries/azureml-meta/discovery"
    assert paths[-1].endswith("/registries/azureml-meta/models/phi-mini/versions/2")


@pytest.mark.parametrize("ref", ["azureml:", "azureml:bad name:1", "azureml://registries/r/models/"])
def test_azureml_malformed_reference(tmp_path: Path, clean_env: Path, ref: str) -> None:
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve(ref, tmp_path)
    assert "not a valid Azure ML model reference" in e.value.one_line()


class NoCredential:
    """What DefaultAzureCredential does on a machine nobody signed in on."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.exceptions import ClientAuthenticationError
        raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token from the included "
                                        "credentials.\nAttempted credentials:\n\tEnvironmentCredential: ...")


def test_azureml_without_a_credential(tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    transport = ModelTransport({("fraud", "3"): SKLEARN})
    ctx = DeployContext(state_dir=tmp_path, credential=NoCredential(), subscription_id=SUB, resource_group=RG,
                        client_kwargs={"transport": transport, "retry_total": 0})
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve("azureml:fraud:3", tmp_path, ctx)
    line = e.value.one_line()
    assert "no usable Azure credential" in line and "profile's model facts" in line and "\n" not in line
    assert transport.requests == []


def test_azureml_configured_but_not_signed_in(tmp_path: Path, clean_env: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "no-az-login"))
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", WS)
    transport = ModelTransport({("fraud", "3"): SKLEARN})
    ctx = DeployContext(state_dir=tmp_path, subscription_id=SUB, resource_group=RG,
                        client_kwargs={"transport": transport})
    with pytest.raises(ModelResolutionError) as e:
        mr.resolve("azureml:fraud:3", tmp_path, ctx)
    assert "no Azure credential found" in e.value.one_line() and "az login" in e.value.hint
    assert transport.requests == []
