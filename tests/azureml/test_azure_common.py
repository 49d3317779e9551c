"""azure_common: credentials, error mapping, LRO waiting, tags and scrubbing (real SDK clients, fake transport)."""
from __future__ import annotations

import threading

import pytest
from azure.mgmt.resource.resources import ResourceManagementClient

from deployers import azure_common as ac
from deployers.base import DeployContext
from deployers.errors import (AuthError, ConflictError, InputError, Interrupted, NotFoundError, QuotaError,
                              RemoteError)
from deployers.events import EventRecorder
from tests.fakes.azure import SUBSCRIPTION, FakeAzure, FakeCredential, client_kwargs


def rm(fake: FakeAzure, **extra) -> ResourceManagementClient:
    return ResourceManagementClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake, **extra))


def ctx_for(fake: FakeAzure, tmp_path, **kw) -> DeployContext:
    return DeployContext(state_dir=tmp_path, credential=FakeCredential(), subscription_id=SUBSCRIPTION,
                         resource_group="rg", client_kwargs=client_kwargs(fake), events=EventRecorder(), **kw)


@pytest.mark.parametrize("status,code,cls,category", [
    (403, "AuthorizationFailed", AuthError, "auth"),
    (404, "ResourceGroupNotFound", NotFoundError, "not-found"),
    (409, "Conflict", ConflictError, "conflict"),
    (400, "BadArgument", InputError, "input"),
    (400, "OutOfQuota", QuotaError, "quota"),
    (429, "TooManyRequests", RemoteError, "throttled"),
    (503, "ServiceUnavailable", RemoteError, "remote"),
])
def test_arm_errors_map_to_categories_with_hints(status, code, cls, category):
    fake = FakeAzure()
    fake.inject("GET", r"/resourcegroups/rg1$", status, code=code, message=f"{code} happened", times=None,
                retry_after=None)
    with pytest.raises(Exception) as ei:
        rm(fake, retry_total=0).resource_groups.get("rg1")
    err = ac.map_azure_error(ei.value, "read rg1")
    assert isinstance(err, cls) and err.category == category and err.code == code
    assert err.hint and err.message.startswith("read rg1: ") and "\n" not in err.message


def test_network_and_auth_failures_are_mapped():
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    net = ac.map_azure_error(ServiceRequestError("connection refused"))
    assert isinstance(net, RemoteError) and net.category == "network"
    auth = ac.map_azure_error(ClientAuthenticationError("AADSTS700016: app not found"))
    assert isinstance(auth, AuthError) and "az login" in auth.hint


def test_wait_reports_progress_and_records_the_continuation_token(tmp_path):
    fake = FakeAzure(polls=3)
    ctx = ctx_for(fake, tmp_path)
    client = rm(fake)
    client.resource_groups.create_or_update("rg1", {"location": "eastus"})
    ac.wait(client.resource_groups.begin_delete("rg1"), ctx, "delete rg1", "rg1")
    assert ctx.checkpoints["rg1"] == {"token": None, "done": True, "what": "delete rg1"}
    kinds = [(e.kind, e.message.split(":")[0]) for e in ctx.events.events]
    assert kinds[0] == ("progress", "waiting for delete rg1") and kinds[-1] == ("progress", "delete rg1")
    assert fake.get(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/rg1") is None


def test_resume_polls_the_recorded_operation_without_reissuing_the_request(tmp_path):
    fake = FakeAzure(polls=2)
    client = rm(fake)
    client.resource_groups.create_or_update("rg2", {"location": "eastus"})
    poller = client.resource_groups.begin_delete("rg2")
    token = poller.continuation_token()
    poller.wait()
    deletes = len(fake.calls("DELETE"))
    ctx = ctx_for(fake, tmp_path, checkpoints={"rg2": {"token": token, "done": False}})
    assert ac.pending(ctx, "rg2") == token
    ac.resume(ctx, "rg2", "delete rg2")
    assert len(fake.calls("DELETE")) == deletes  # only polling happened
    assert ac.completed(ctx, "rg2")


def test_wait_stops_on_cancellation_and_keeps_the_token(tmp_path):
    fake = FakeAzure(polls=10**6, sleep_scale=0.001)  # an operation that never ends on its own
    ctx = ctx_for(fake, tmp_path)
    client = rm(fake)
    client.resource_groups.create_or_update("rg3", {"location": "eastus"})
    poller = client.resource_groups.begin_delete("rg3", polling_interval=1)
    threading.Timer(0.2, ctx.cancel.set).start()
    with pytest.raises(Interrupted):
        ac.wait(poller, ctx, "delete rg3", "rg3")
    assert ac.pending(ctx, "rg3")
    fake.finish_all()
    poller.wait(5)


def test_wait_maps_a_failed_operation(tmp_path):
    fake = FakeAzure()
    fake.fail_operation(r"/resourcegroups/rg4$", "ImageBuildFailure", "conda env failed", method="DELETE")
    client = rm(fake)
    client.resource_groups.create_or_update("rg4", {"location": "eastus"})
    ctx = ctx_for(fake, tmp_path)
    with pytest.raises(RemoteError) as ei:
        ac.wait(client.resource_groups.begin_delete("rg4"), ctx, "delete rg4", "rg4")
    assert ei.value.code == "ImageBuildFailure" and "build log" in ei.value.hint
    assert any(e.kind == "error" for e in ctx.events.events)


def test_tags_mark_ownership():
    t = ac.tags("fraud")
    assert t == {"managed-by": "deploy-advisor", "deploy-advisor-deployment": "fraud"}
    assert ac.is_ours(t, "fraud") and not ac.is_ours(t, "other") and not ac.is_ours({}, "fraud")


def test_scrub_hides_registered_secrets_and_key_shapes():
    ac.register_secret("s3cr3t-value-123")
    text = ('key s3cr3t-value-123; Authorization: Bearer eyJhbGciOi.abc.def {"primaryKey": "abcdef123"} '
            "https://acct.blob.core.windows.net/c/b?sv=2021&sig=AbC%2Bdef&se=1")
    out = ac.scrub(text)
    for secret in ("s3cr3t-value-123", "eyJhbGciOi", "abcdef123", "AbC%2Bdef"):
        assert secret not in out
    assert ac.scrub_data({"primaryKey": "x" * 10, "nested": ["s3cr3t-value-123"], "n": 3}) == {
        "primaryKey": "***", "nested": ["***"], "n": 3}


def test_credentials_missing_says_how_to_sign_in(tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_CONFIG_DIR", str(tmp_path / "az"))
    for var in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE",
                "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP"):
        monkeypatch.delenv(var, raising=False)
    bare = DeployContext(state_dir=tmp_path)
    msg = ac.credentials_missing(bare)
    assert "az login" in msg and "AZURE_SUBSCRIPTION_ID" in msg and "AZURE_RESOURCE_GROUP" in msg
    scoped = DeployContext(state_dir=tmp_path, subscription_id=SUBSCRIPTION, resource_group="rg")
    assert ac.credentials_missing(scoped).startswith("run `az login`")
    (tmp_path / "az").mkdir()
    (tmp_path / "az" / "msal_token_cache.json").write_text("{}")
    assert ac.credentials_missing(scoped) is None and ac.credential_source(scoped) == "cli"
    injected = DeployContext(state_dir=tmp_path, credential=FakeCredential(), subscription_id=SUBSCRIPTION,
                             resource_group="rg")
    assert ac.credentials_missing(injected) is None
    wi = DeployContext(state_dir=tmp_path, credential_kind="workload-identity", subscription_id=SUBSCRIPTION,
                       resource_group="rg")
    assert "AZURE_FEDERATED_TOKEN_FILE" in ac.credentials_missing(wi)


def test_get_credential_builds_azure_identity_by_kind(tmp_path, monkeypatch):
    import azure.identity as ai

    monkeypatch.setenv("AZURE_CLIENT_ID", "11111111-1111-1111-1111-111111111111")
    monkeypatch.setenv("AZURE_TENANT_ID", "22222222-2222-2222-2222-222222222222")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-used")
    expected = {"default": ai.DefaultAzureCredential, "cli": ai.AzureCliCredential,
                "managed-identity": ai.ManagedIdentityCredential, "environment": ai.EnvironmentCredential}
    for kind, cls in expected.items():
        assert isinstance(ac.get_credential(DeployContext(state_dir=tmp_path, credential_kind=kind)), cls)
    cred = FakeCredential()
    assert ac.get_credential(DeployContext(state_dir=tmp_path, credential=cred)) is cred
    with pytest.raises(InputError):
        ac.get_credential(DeployContext(state_dir=tmp_path, credential_kind="browser"))
