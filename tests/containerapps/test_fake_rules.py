"""The Microsoft.App fake enforces what Azure enforces, through the real azure-mgmt-appcontainers client:
a deployer that breaks a rule fails here as it would in Azure."""
from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.appcontainers import ContainerAppsAPIClient
from azure.mgmt.appcontainers.models import ContainerApp, ManagedEnvironment

from tests.fakes.azure import SUBSCRIPTION, FakeAzure, FakeCredential, client_kwargs
from tests.fakes.containerapps import install

RG = "rg"


@pytest.fixture
def env():
    fake = FakeAzure(polls=1)
    aca = install(fake, resource_group=RG)
    client = ContainerAppsAPIClient(FakeCredential(), SUBSCRIPTION, **client_kwargs(fake, retry_total=0))
    client.managed_environments.begin_create_or_update(RG, "env", ManagedEnvironment(
        {"location": "eastus", "properties": {}})).result()
    return fake, aca, client


def app(aca, image="nginx:1", traffic=None, cpu=0.5, memory="1Gi", secrets=None, env_refs=None, mode="Multiple",
        registries=None, identity=None) -> ContainerApp:
    container = {"name": "main", "image": image, "resources": {"cpu": cpu, "memory": memory}}
    if env_refs:
        container["env"] = [{"name": n, "secretRef": ref} for n, ref in env_refs.items()]
    body = {"location": "eastus", "properties": {
        "managedEnvironmentId": aca.env_id("env"),
        "configuration": {"activeRevisionsMode": mode, "secrets": secrets or [], "registries": registries or [],
                          "ingress": {"external": True, "targetPort": 80,
                                      "traffic": traffic or [{"latestRevision": True, "weight": 100}]}},
        "template": {"containers": [container]}}}
    if identity:
        body["identity"] = {"type": identity}
    return ContainerApp(body)


def put(client, body, name="a1"):
    return client.container_apps.begin_create_or_update(RG, name, body).result()


def code_of(call) -> str:
    with pytest.raises(HttpResponseError) as err:
        call()
    return err.value.error.code


def test_template_changes_make_revisions_and_configuration_changes_do_not(env):
    fake, aca, client = env
    put(client, app(aca, "nginx:1"))
    put(client, app(aca, "nginx:2"))
    revs = [r.name for r in client.container_apps_revisions.list_revisions(RG, "a1")]
    assert len(revs) == 2
    put(client, app(aca, "nginx:2", traffic=[{"revisionName": revs[0], "weight": 50},
                                             {"revisionName": revs[1], "weight": 50}]))
    assert len(list(client.container_apps_revisions.list_revisions(RG, "a1"))) == 2
    assert aca.traffic("a1") == {revs[0]: 50, revs[1]: 50}
    # each revision answers on its own FQDN, the app FQDN splits by weight
    fqdns = {r.name: r.properties.fqdn for r in client.container_apps_revisions.list_revisions(RG, "a1")}
    assert len(set(fqdns.values())) == 2 and all(f.startswith(n + ".") for n, f in fqdns.items())


def test_traffic_must_sum_to_100_and_name_existing_revisions(env):
    fake, aca, client = env
    put(client, app(aca))
    (rev,) = [r.name for r in client.container_apps_revisions.list_revisions(RG, "a1")]
    assert code_of(lambda: put(client, app(aca, traffic=[{"revisionName": rev, "weight": 90}]))) == \
        "ContainerAppInvalidTrafficWeights"
    assert code_of(lambda: put(client, app(aca, traffic=[{"revisionName": "a1--nope", "weight": 100}]))) == \
        "RevisionNotFound"


def test_cpu_memory_pairs(env):
    fake, aca, client = env
    assert code_of(lambda: put(client, app(aca, cpu=1.5, memory="2Gi"))) == "ContainerAppInvalidResourceTotal"
    put(client, app(aca, cpu=1.5, memory="3Gi"))
    put(client, app(aca, cpu=4, memory="8Gi"), name="a2")  # the Consumption profile of a workload-profiles env


def test_secrets_are_refs_and_never_read_back(env):
    fake, aca, client = env
    assert code_of(lambda: put(client, app(aca, env_refs={"KEY": "missing"}))) == "ContainerAppSecretRefNotFound"
    assert code_of(lambda: put(client, app(aca, secrets=[{"name": "k"}]))) == "ContainerAppSecretInvalid"
    put(client, app(aca, secrets=[{"name": "k", "value": "s3cret-value"}], env_refs={"KEY": "k"}))
    got = client.container_apps.get(RG, "a1")
    assert [dict(s) for s in got.properties.configuration.secrets] == [{"name": "k"}]
    assert [(s.name, s.value) for s in client.container_apps.list_secrets(RG, "a1").value] == [("k", "s3cret-value")]


def test_a_revision_with_traffic_cannot_be_deactivated(env):
    fake, aca, client = env
    put(client, app(aca))
    (rev,) = [r.name for r in client.container_apps_revisions.list_revisions(RG, "a1")]
    assert code_of(lambda: client.container_apps_revisions.deactivate_revision(RG, "a1", rev)) == \
        "ContainerAppRevisionHasTraffic"


def test_an_environment_with_apps_cannot_be_deleted(env):
    fake, aca, client = env
    put(client, app(aca))
    assert code_of(lambda: client.managed_environments.begin_delete(RG, "env").result()) == \
        "ManagedEnvironmentHasContainerApps"
    client.container_apps.begin_delete(RG, "a1").result()
    client.managed_environments.begin_delete(RG, "env").result()
    assert aca.environment("env") is None


def test_gpu_profiles_only_where_offered(env):
    fake, aca, client = env
    t4 = {"name": "gpu", "workloadProfileType": "Consumption-GPU-NC8as-T4"}
    assert code_of(lambda: client.managed_environments.begin_create_or_update(RG, "g", ManagedEnvironment(
        {"location": "eastus", "properties": {"workloadProfiles": [t4]}})).result()) == "WorkloadProfileTypeNotSupported"
    client.managed_environments.begin_create_or_update(RG, "g3", ManagedEnvironment(
        {"location": "westus3", "properties": {"workloadProfiles": [
            {"name": "Consumption", "workloadProfileType": "Consumption"}, t4]}})).result()
    body = app(aca, cpu=8, memory="56Gi")
    body.properties.managed_environment_id = aca.env_id("g3")
    assert code_of(lambda: put(client, body)) == "ContainerAppInvalidResourceTotal"  # Consumption profile: 4 vCPU max
    body.properties.workload_profile_name = "gpu"
    put(client, body)
    body.properties.workload_profile_name = "gpu-a100"
    assert code_of(lambda: put(client, body)) == "WorkloadProfileNotFound"


def test_registry_identity_needs_a_system_identity_and_an_environment(env):
    fake, aca, client = env
    reg = [{"server": "x.azurecr.io", "identity": "system"}]
    assert code_of(lambda: put(client, app(aca, registries=reg))) == "InvalidRegistryIdentity"
    put(client, app(aca, registries=reg, identity="SystemAssigned"))
    assert client.container_apps.get(RG, "a1").identity.principal_id
    body = app(aca)
    body.properties.managed_environment_id = aca.env_id("missing")
    assert code_of(lambda: put(client, body, "a3")) == "ManagedEnvironmentNotProvisioned"


def test_single_revision_mode_keeps_one_active(env):
    fake, aca, client = env
    put(client, app(aca, "nginx:1", mode="Single"))
    put(client, app(aca, "nginx:2", mode="Single"))
    active = aca.active("a1")
    assert len(active) == 1 and aca.traffic("a1") == {active[0]: 100}


def test_probe_settings_within_the_documented_ranges(env):
    fake, aca, client = env
    body = app(aca)
    body.properties.template.containers[0].probes = [
        {"type": "Startup", "httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 300}]
    assert code_of(lambda: put(client, body)) == "ContainerAppInvalidProbe"
