"""The `aks` target: the scoring image on an AKS cluster (or an existing one), through plain Kubernetes manifests.

Existing cluster: an on-premises profile, `kube_context=` or `kubeconfig=` targets a cluster you already run
(e.g. Arc-enabled, reached through `az connectedk8s proxy`) with the kubernetes client's own kubeconfig
loading; no Azure cluster, pool, load balancer annotation or AcrPull is planned, and destroy removes only our
labelled objects. Long requests: the Service's Azure LB idle-timeout annotation and the scoring server's
timeout follow the profile's max_request_seconds (request_timeouts()).

Azure side (azure-mgmt-containerservice, -containerregistry, -authorization,
-compute): use or create the cluster (system pool, a tainted GPU pool when
the profile needs a GPU, cluster autoscaler from the advisor's sizing, Free
or Standard tier from the availability target), build the image with ACR
Tasks (content-hash tag: an unchanged model is not rebuilt), and let the
kubelet identity pull from the registry (AcrPull).

Kubernetes side (the official `kubernetes` client, configured in memory from
`list_cluster_user_credentials`; no kubectl, nothing written to ~/.kube):
Namespace, Secret (scoring key, generated at apply time, never in a plan),
Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget rendered
from templates/kubernetes as data, validated with kubernetes-validate, then
server-side applied with field manager `deploy-advisor`. The rollout is
watched with a deadline; a rollout that stalls (ProgressDeadlineExceeded) or
a failing smoke test rolls back to the manifests of the last good plan
recorded in the ledger.
"""
from __future__ import annotations

import base64
import json
import math
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field

from advisor.models import ModelInfo, Sizing

from . import templating
from .azure_common import VM_SIZE, Location, RegistryName, ResourceGroup, SubscriptionId, VmSize
from .base import DeployContext, Deployer
from .errors import AuthError, DeployError, InputError, NotFoundError, RemoteError, StalePlanError
from .extras import needs_extra
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     PlannedAction, Status, fingerprint)

FIELD_MANAGER = "deploy-advisor"
# Pod shutdown: endpoints and load balancers drop a terminating pod asynchronously, so preStop waits before
# SIGTERM (https://kubernetes.io/docs/tutorials/services/pods-and-endpoint-termination-flow/, 2026-12-06); the
# grace period then covers the wait plus the longest in-flight call (the server's scoring timeout).
PRESTOP_DELAY_S = 10
SERVER_TIMEOUT_S = 60  # the scoring server's default (deployers/serving: --timeout-s, DEPLOY_ADVISOR_TIMEOUT_S)
TIMEOUT_HEADROOM_S = 30
# The Azure Load Balancer in front of a LoadBalancer Service drops a TCP flow idle longer than its idle timeout:
# 4 min by default. AKS sets it per Service with this annotation, in whole minutes, default and minimum 4,
# maximum 30 (https://learn.microsoft.com/azure/aks/configure-load-balancer-standard, "Customizations via
# Kubernetes Annotations", checked 2026-12-06; cloud-provider-azure rejects values outside 4-30). Load Balancer
# rules themselves allow up to 100 min (https://learn.microsoft.com/azure/load-balancer/load-balancer-tcp-idle-timeout),
# but AKS reconciles our Service's rule from the annotation, so 30 is the ceiling here.
LB_IDLE_ANNOTATION = "service.beta.kubernetes.io/azure-load-balancer-tcp-idle-timeout"
LB_IDLE_DEFAULT_MIN = 4
LB_IDLE_MAX_MIN = 30
# An Arc-enabled (on-premises) cluster is reached through a kubeconfig context, e.g. the one `az connectedk8s
# proxy` writes for cluster connect (https://learn.microsoft.com/azure/azure-arc/kubernetes/cluster-connect,
# checked 2026-12-06): no ARM cluster, no Azure Load Balancer, no kubelet identity.
ARC_HINT = "for an Arc-enabled cluster run `az connectedk8s proxy -n <cluster> -g <group>` first"
CONTEXT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,252}$")
APPLY_PATCH = "application/apply-patch+yaml"
HASH_ANNOTATION = "deploy-advisor/desired-hash"
KEY_PLACEHOLDER = "<generated at apply time; never stored in plans or files>"
CONTAINER_PORT = 8080
# The AKS AAD server application: the audience of tokens for AAD-enabled clusters (what kubelogin asks for).
# https://learn.microsoft.com/azure/aks/kubelogin-authentication
AKS_AAD_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
GPU_TAINT = "sku=gpu:NoSchedule"
SELECTOR_KEYS = ("app.kubernetes.io/instance", "app.kubernetes.io/component")
ORDER = ("Namespace", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
CLUSTER_RE = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?$")

# AKS node reservations (kube-reserved CPU by core count; memory 20 MiB x max pods + 50 MiB, capped at
# 25% of the node, plus a 100 MiB eviction threshold), https://learn.microsoft.com/azure/aks/node-resource-reservations
_CPU_RESERVED_M = ((1, 60), (2, 100), (4, 140), (8, 180), (16, 260), (32, 420), (64, 740))
_MAX_PODS = 250  # Azure CNI overlay default
# Requests of the AKS system pods on every node (kube-proxy, CSI drivers, cloud-node-manager, ...), measured
# order of magnitude; the scoring pod gets the rest.
_SYSTEM_CPU_M = 700
_SYSTEM_MEM_MI = 800


# ----------------------------------------------------------------- settings


class AKSSettings(BaseModel):
    """Every field is a `--set key=value` on the CLI and a form field in the UI."""
    model_config = ConfigDict(extra="forbid")

    subscription: SubscriptionId = Field(None, description="Azure subscription id (default: AZURE_SUBSCRIPTION_ID)")
    resource_group: ResourceGroup = Field(None, description="Resource group of the cluster (default: "
                                                            "AZURE_RESOURCE_GROUP)")
    location: Location = Field(None, description="Azure region for new resources (default: the profile's region)")
    cluster_name: str = Field("deploy-advisor-aks", pattern=CLUSTER_RE.pattern,
                              description="AKS cluster to deploy to (created when missing and create_cluster allows)")
    create_cluster: Optional[bool] = Field(
        None, description="Create the cluster when it does not exist (default: yes unless the profile says the "
                          "team has an existing AKS cluster)")
    kubernetes_version: Optional[str] = Field(None, pattern=r"^\d+\.\d+(\.\d+)?$",
                                              description="Kubernetes version for a new cluster (default: AKS default)")
    tier: Optional[Literal["Free", "Standard"]] = Field(
        None, description="AKS pricing tier; default Standard (financially backed uptime SLA) when the profile "
                          "asks for 99.9% or more, else Free")
    node_vm_size: VmSize = Field(None, description="VM size of the nodes running the scoring pods (default: the "
                                                   "advisor's SKU)")
    system_vm_size: Annotated[str, VM_SIZE] = Field("Standard_DS2_v2", description="VM size of the system pool when "
                                                                                   "the scoring pods run on a GPU pool")
    node_min: Optional[int] = Field(None, ge=1, le=1000, description="Cluster autoscaler minimum nodes (default: from sizing)")
    node_max: Optional[int] = Field(None, ge=1, le=1000, description="Cluster autoscaler maximum nodes (default: from sizing)")
    gpu_pool_name: str = Field("gpu", pattern=r"^[a-z][a-z0-9]{0,11}$",
                               description="Name of the GPU node pool (created with the taint sku=gpu:NoSchedule)")
    registry: RegistryName = Field(None, description="Azure Container Registry for the image (default: the ACR tagged "
                                                     "managed-by: deploy-advisor in the resource group, else a new "
                                                     "Basic one; the same rule for every image target)")
    registry_resource_group: ResourceGroup = Field(None, description="Resource group of the registry (default: "
                                                                     "resource_group)")
    repository: Optional[str] = Field(None, pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$",
                                      description="Image repository (default: deploy-advisor/<model name>)")
    image: Optional[str] = Field(None, max_length=400,
                                 description="A ready image to run instead of building one (skips ACR Tasks)")
    assign_acr_pull: bool = Field(True, description="Grant the cluster's kubelet identity AcrPull on the registry "
                                                    "when it is missing (needs Owner or User Access Administrator)")
    namespace: Optional[str] = Field(None, pattern=DNS1123_LABEL.pattern,
                                     description="Kubernetes namespace (default: the deployment name)")
    replicas: Optional[int] = Field(None, ge=1, le=1000, description="Fixed replica count (turns the autoscaler off)")
    min_replicas: Optional[int] = Field(None, ge=1, le=1000, description="Autoscaler minimum replicas (default: sizing)")
    max_replicas: Optional[int] = Field(None, ge=1, le=1000, description="Autoscaler maximum replicas (default: sizing)")
    target_cpu_percent: int = Field(70, ge=10, le=100, description="HorizontalPodAutoscaler CPU utilisation target (used only when the replica range "
                                    "allows scaling, min < max)")
    cpu_request: Optional[str] = Field(None, pattern=r"^\d+(\.\d+)?m?$",
                                       description="CPU request of a scoring pod, e.g. 1500m (default: from the node size)")
    memory_request: Optional[str] = Field(None, pattern=r"^\d+(Mi|Gi)$",
                                          description="Memory request (= limit) of a scoring pod, e.g. 2Gi (default: from the model size)")
    service_type: Literal["LoadBalancer", "ClusterIP"] = Field(
        "LoadBalancer", description="LoadBalancer gives a public IP; ClusterIP keeps the service inside the cluster")
    service_port: int = Field(80, ge=1, le=65535, description="Port the Service listens on")
    rollout_timeout_s: float = Field(600, ge=0.1, le=7200, description="Deadline for the rollout to become ready (seconds)")
    endpoint_timeout_s: float = Field(300, ge=0, le=3600,
                                      description="How long to wait for the load balancer IP (seconds)")
    build_timeout_s: float = Field(3600, ge=300, le=28800, description="Deadline of the ACR Tasks image build (seconds)")
    smoke_test: bool = Field(True, description="Score the model's input example after the rollout; roll back when it fails")
    keep_failed: bool = Field(False, description="On a failed first rollout keep the objects for debugging instead "
                                                 "of deleting them")
    kube_context: Optional[str] = Field(None, pattern=CONTEXT_RE.pattern,
                                        description="Deploy to this EXISTING cluster context of your kubeconfig "
                                                    "(e.g. an Arc-enabled cluster); no Azure cluster is created. "
                                                    "Default for an on-premises profile: the current context")
    kubeconfig: Optional[str] = Field(None, max_length=4096,
                                      description="Kubeconfig file for kube_context (default: KUBECONFIG or "
                                                  "~/.kube/config); setting it also selects an existing cluster")


@dataclass
class Config:
    """Settings resolved against the profile, the sizing and the context (what plan.settings stores)."""
    name: str
    subscription: str
    resource_group: str
    location: str
    cluster_name: str
    create_cluster: bool
    kubernetes_version: Optional[str]
    tier: str
    node_vm_size: str
    system_vm_size: str
    node_min: int
    node_max: int
    gpus: int
    gpu_pool_name: str
    registry: str
    registry_resource_group: str
    repository: str
    user_image: Optional[str]
    assign_acr_pull: bool
    namespace: str
    fixed_replicas: Optional[int]
    min_replicas: int
    max_replicas: int
    target_cpu_percent: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    workers: int
    model_size_mb: float
    service_type: str
    service_port: int
    rollout_timeout_s: float
    endpoint_timeout_s: float
    build_timeout_s: float
    smoke_test: bool
    keep_failed: bool
    image: str = ""
    tag: str = ""
    registry_how: str = "given"  # images.RegistryChoice.how: given | found | new
    notes: list[str] = field(default_factory=list)
    # an existing cluster through a kubeconfig context (on-premises / Arc): no Azure cluster at all
    use_context: bool = False
    kube_context: str = ""
    kubeconfig: str = ""
    # the longest request the profile states, and what it sets: the server's scoring timeout and the Azure LB
    # idle timeout (None: the 4-minute default suffices, or there is no Azure LB)
    max_request_s: float = 1.0
    server_timeout_s: int = SERVER_TIMEOUT_S
    lb_idle_timeout_min: Optional[int] = None

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, data: dict[str, Any]) -> "Config":
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def hpa(self) -> bool:
        return self.fixed_replicas is None and self.max_replicas > self.min_replicas

    @property
    def needs_azure(self) -> bool:
        """An existing cluster context with a ready image touches no Azure API at all."""
        return not (self.use_context and self.user_image)

    @property
    def azure_lb(self) -> bool:
        return self.service_type == "LoadBalancer" and not self.use_context

    @property
    def secret_name(self) -> str:
        return f"{self.name}-scoring-key"

    @property
    def cluster_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.ContainerService/managedClusters/{self.cluster_name}")

    @property
    def registry_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.registry_resource_group}/providers/"
                f"Microsoft.ContainerRegistry/registries/{self.registry}")


# ----------------------------------------------------------------- VM facts and pod resources


@dataclass
class VmFacts:
    name: str
    vcpus: float
    memory_gb: float
    gpus: int = 0
    family: str = ""
    source: str = "catalog"


def catalog_vm(name: str) -> Optional[VmFacts]:
    """VM facts from the advisor's catalog (offline; each fact carries its source there)."""
    try:
        from advisor.catalog import skus

        sku = skus().get(name)
    except Exception:  # noqa: BLE001 - unknown SKU or no catalog: the live SKU list may still know it
        return None
    if sku is None:
        return None
    return VmFacts(name=sku.name, vcpus=float(sku.vcpu), memory_gb=float(sku.mem_gib), gpus=int(sku.gpus),
                   family=sku.family, source="catalog")


def allocatable(vm: VmFacts) -> tuple[int, int]:
    """(CPU millicores, memory MiB) a node of this size leaves to pods after AKS reservations."""
    cores = max(1, int(vm.vcpus))
    reserved = next((m for c, m in _CPU_RESERVED_M if cores <= c), 740 + (cores - 64) * 10)
    mem_mi = vm.memory_gb * 1024
    kube_mem = min(0.25 * mem_mi, 20 * _MAX_PODS + 50)
    return int(vm.vcpus * 1000 - reserved), int(mem_mi - kube_mem - 100)


def pod_resources(vm: Optional[VmFacts], workers: int, model_size_mb: float, cpu_request: Optional[str],
                  memory_request: Optional[str]) -> dict[str, Any]:
    """Requests/limits of one scoring pod: one worker per core, one pod per node, memory from the model size.

    Memory: a worker holds the model (~2.5x its file size once loaded) plus ~300 MiB of runtime.
    """
    workers = max(1, int(workers))
    if vm is not None:
        cpu_alloc, mem_alloc = allocatable(vm)
        cpu_room = max(250, cpu_alloc - _SYSTEM_CPU_M)
        mem_room = max(512, mem_alloc - _SYSTEM_MEM_MI)
    else:
        cpu_room, mem_room = workers * 1000, 1 << 20
    cpu_m = _cpu_milli(cpu_request) if cpu_request else min(workers * 1000, cpu_room)
    need_mi = int(256 + workers * (300 + 2.5 * max(model_size_mb, 1.0)))
    mem_mi = _mem_mi(memory_request) if memory_request else min(max(512, need_mi), mem_room)
    cpu_limit_m = max(cpu_m, int(vm.vcpus * 1000) if vm else cpu_m * 2)
    return {"cpu_request": f"{cpu_m}m", "cpu_limit": f"{cpu_limit_m}m", "memory_request": f"{mem_mi}Mi",
            "memory_limit": f"{mem_mi}Mi", "needed_memory_mi": need_mi, "cpu_room_m": cpu_room,
            "memory_room_mi": mem_room}


def _cpu_milli(q: str) -> int:
    return int(float(q[:-1])) if q.endswith("m") else int(float(q) * 1000)


def _mem_mi(q: str) -> int:
    return int(q[:-2]) * (1024 if q.endswith("Gi") else 1)


def request_timeouts(max_request_s: float, azure_lb: bool) -> tuple[int, Optional[int]]:
    """(scoring server timeout in s, Azure LB idle timeout in min or None) for the profile's longest request.

    The server gets the longest request plus headroom (never below its 60 s default); the load balancer must
    outlive the server's timeout so that a slow call ends with the server's 504, not a silently dropped
    connection. None: the 4-minute default already suffices, or no Azure load balancer is in the path.
    """
    server = max(SERVER_TIMEOUT_S, int(math.ceil(max_request_s)) + TIMEOUT_HEADROOM_S)
    if not azure_lb:
        return server, None
    minutes = int(math.ceil((server + TIMEOUT_HEADROOM_S) / 60))
    return server, (min(minutes, LB_IDLE_MAX_MIN) if minutes > LB_IDLE_DEFAULT_MIN else None)


def timeout_note(cfg: "Config") -> str:
    """What the plan says about the request timeout path (empty when the defaults cover it)."""
    secs = f"{cfg.max_request_s:g} s"
    if cfg.use_context:
        if cfg.server_timeout_s == SERVER_TIMEOUT_S:
            return ""
        return (f"requests up to {secs}: scoring server timeout {cfg.server_timeout_s} s; any load balancer or "
                "ingress in front of your cluster must allow idle connections that long")
    if cfg.lb_idle_timeout_min:
        return (f"requests up to {secs}: Azure Load Balancer idle timeout raised to {cfg.lb_idle_timeout_min} min "
                f"({LB_IDLE_ANNOTATION}), scoring server timeout {cfg.server_timeout_s} s")
    if cfg.server_timeout_s != SERVER_TIMEOUT_S:
        return f"requests up to {secs}: scoring server timeout {cfg.server_timeout_s} s (the load balancer's " \
               f"{LB_IDLE_DEFAULT_MIN} min idle default covers it)"
    return ""


def resolve_context(kubeconfig: Optional[str], context: Optional[str]) -> tuple[str, str]:
    """(kubeconfig path, context name) after checking the context exists; one-line InputError otherwise."""
    import os

    with needs_extra("aks"):
        from kubernetes import config as kconfig
        from kubernetes.config.config_exception import ConfigException

    path = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    files = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
    if not any(os.path.isfile(f) for f in files):
        raise InputError(f"no kubeconfig at {path}", f"set kubeconfig=PATH; {ARC_HINT}")
    try:
        contexts, active = kconfig.list_kube_config_contexts(config_file=os.pathsep.join(files))
    except (ConfigException, OSError, ValueError, yaml.YAMLError) as e:
        raise InputError(f"kubeconfig {path} cannot be read: {str(e).splitlines()[0][:200]}",
                         f"check the file; {ARC_HINT}") from None
    names = [c.get("name", "") for c in contexts or []]
    name = context or (active or {}).get("name", "")
    if not name or name not in names:
        shown = ", ".join(names[:5]) or "none"
        raise InputError(f"kube context {name or '(current)'} not found in {path} (contexts: {shown})",
                         f"set kube_context=NAME; {ARC_HINT}")
    return os.pathsep.join(files), name


# ----------------------------------------------------------------- manifests


def _jinja():
    return templating.environment("kubernetes", q=lambda v: json.dumps(str(v)))  # a JSON string: a safe YAML scalar


def _app_name(model_name: str) -> str:
    s = re.sub(r"[^a-z0-9.-]+", "-", (model_name or "model").lower()).strip("-.")[:63].strip("-.")
    return s or "model"


def render_manifests(cfg: Config, image: str, *, model_uri: str, model_name: str, version: str) -> list[dict]:
    """The Kubernetes objects as data (templates/kubernetes/*.yaml.j2), each with its desired-hash annotation."""
    from .images import validate_image

    validate_image(image)
    values = {
        "name": cfg.name, "namespace": cfg.namespace, "app_name": _app_name(model_name),
        "version": re.sub(r"[^A-Za-z0-9_.-]", "-", version or "unversioned")[:63].strip("-_.") or "unversioned",
        "model_uri": model_uri, "image": image, "replicas": cfg.fixed_replicas if cfg.fixed_replicas else (
            None if cfg.hpa else cfg.min_replicas),
        "progress_deadline_s": max(1, int(math.ceil(cfg.rollout_timeout_s))), "container_port": CONTAINER_PORT,
        "workers": cfg.workers, "cpu_request": cfg.cpu_request, "cpu_limit": cfg.cpu_limit,
        "memory_request": cfg.memory_request, "memory_limit": cfg.memory_request, "gpu": cfg.gpus,
        "startup_failure_threshold": int(min(120, 12 + cfg.model_size_mb / 50)),  # big models load slowly
        "prestop_delay_s": PRESTOP_DELAY_S, "termination_grace_s": PRESTOP_DELAY_S + cfg.server_timeout_s + 5,
        "tmp_size": "1Gi", "secret_name": cfg.secret_name, "key_placeholder": KEY_PLACEHOLDER,
        "service_type": cfg.service_type, "service_port": cfg.service_port,
        "min_replicas": cfg.min_replicas, "max_replicas": cfg.max_replicas,
        "target_cpu_percent": cfg.target_cpu_percent,
        "server_timeout_s": cfg.server_timeout_s if cfg.server_timeout_s != SERVER_TIMEOUT_S else None,
        "azure_lb": cfg.azure_lb, "lb_idle_timeout_min": cfg.lb_idle_timeout_min,
    }
    env = _jinja()
    files = ["namespace", "secret", "deployment", "service"] + (["hpa"] if cfg.hpa else []) + ["pdb"]
    objs = []
    for f in files:
        obj = yaml.safe_load(env.get_template(f"{f}.yaml.j2").render(**values))
        obj.setdefault("metadata", {}).setdefault("annotations", {})[HASH_ANNOTATION] = fingerprint(obj)
        objs.append(obj)
    return objs


def validation_version(k8s_version: Optional[str]) -> str:
    """The kubernetes-validate schema version closest to the cluster's minor version."""
    with needs_extra("aks"):
        from kubernetes_validate import utils

    known = sorted({utils.major_minor(v) for v in utils.all_versions()}, key=lambda v: tuple(map(int, v.split("."))))
    if not k8s_version:
        return known[-1]
    want = tuple(map(int, utils.major_minor(k8s_version).split(".")))
    older = [v for v in known if tuple(map(int, v.split("."))) <= want]
    return older[-1] if older else known[0]


@lru_cache(maxsize=32)
def _schema_validator(kind: str, api_version: str, version: str) -> Any:
    """kubernetes-validate's strict schema for one kind, loaded once per process.

    `kubernetes_validate.validate` re-reads the multi-megabyte definitions file on every
    call; this builds the same Draft 2020-12 validator from the same files, cached.
    """
    with needs_extra("aks"):
        import jsonschema
        from kubernetes_validate import utils
        from referencing import Registry, Resource

    schema_dir = f"v{version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise InputError(f"no Kubernetes {version} schema for {api_version} {kind}") from None
    defs = _schema_definitions(schema_dir, version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@lru_cache(maxsize=4)
def _schema_definitions(schema_dir: str, version: str) -> Any:
    with needs_extra("aks"):
        from kubernetes_validate import utils

    return utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)


def validate_manifests(objs: list[dict], k8s_version: Optional[str] = None) -> None:
    """Refuse to apply anything the Kubernetes schemas reject (strict: unknown fields too)."""
    with needs_extra("aks"):
        import jsonschema
        from kubernetes_validate import utils

    version = validation_version(k8s_version)
    full = [v for v in utils.all_versions() if utils.major_minor(v) == version][-1]
    for obj in objs:
        try:
            _schema_validator(obj["kind"], obj["apiVersion"], full).validate(obj)
        except jsonschema.ValidationError as e:
            path = ".".join(str(p) for p in e.absolute_path) or "(root)"
            raise InputError(f"rendered {obj.get('kind')} {obj['metadata'].get('name')} is not valid for "
                             f"Kubernetes {version}: {path}: {e.message}",
                             "check the aks settings (quantities, names)") from None


def manifests_yaml(objs: list[dict]) -> dict[str, str]:
    """Artifacts: one file per object, numbered in apply order (kubectl apply -f DIR works too)."""
    out = {}
    for i, obj in enumerate(sorted(objs, key=lambda o: ORDER.index(o["kind"]))):
        out[f"kubernetes/{i:02d}-{obj['kind'].lower()}.yaml"] = yaml.safe_dump(obj, sort_keys=False)
    return out


def manifests_from_artifacts(artifacts: dict[str, str]) -> list[dict]:
    objs = []
    for rel in sorted(artifacts):
        if rel.startswith("kubernetes/") and rel.endswith(".yaml"):
            for doc in yaml.safe_load_all(artifacts[rel]):
                if isinstance(doc, dict) and doc.get("kind") in ORDER:
                    objs.append(doc)
    return objs


# ----------------------------------------------------------------- Kubernetes access


_KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("CoreV1Api", "namespace", False),
    "Secret": ("CoreV1Api", "namespaced_secret", True),
    "Service": ("CoreV1Api", "namespaced_service", True),
    "Pod": ("CoreV1Api", "namespaced_pod", True),
    "Deployment": ("AppsV1Api", "namespaced_deployment", True),
    "HorizontalPodAutoscaler": ("AutoscalingV2Api", "namespaced_horizontal_pod_autoscaler", True),
    "PodDisruptionBudget": ("PolicyV1Api", "namespaced_pod_disruption_budget", True),
}


def _k8s_error(exc: Exception, what: str) -> DeployError:
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        reason = ""
        try:
            reason = json.loads(exc.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            reason = str(exc.reason or "")
        text = f"{what}: Kubernetes API answered {exc.status}" + (f": {reason}" if reason else "")
        if exc.status in (401, 403):
            return AuthError(text, "your identity needs a Kubernetes role on the cluster (for Azure RBAC clusters: "
                                   "'Azure Kubernetes Service RBAC Writer' on the namespace)", code=str(exc.status))
        if exc.status == 404:
            return NotFoundError(text, "the object or namespace is gone", code="NotFound")
        if exc.status in (400, 422):
            return InputError(text, "the manifest was rejected: check the aks settings", code="Invalid")
        if exc.status == 409:
            return RemoteError(text, "another field manager owns these fields; apply again", code="Conflict",
                               category="conflict")
        return RemoteError(text, "the cluster API server failed; apply again to resume", code=str(exc.status))
    return RemoteError(f"{what}: cannot reach the cluster API server ({exc.__class__.__name__})",
                       "check that the cluster is running and reachable from this machine (authorized IP ranges, "
                       "private cluster)", code="NetworkError", category="network")


class Kube:
    """A thin layer over the typed `kubernetes` APIs returning plain dicts (no model round-trips)."""

    def __init__(self, api_client: Any, timeout: float = 30.0):
        with needs_extra("aks"):
            from kubernetes import client

        self.api_client = api_client
        self.timeout = timeout
        self._apis = {n: getattr(client, n)(api_client) for n in ("CoreV1Api", "AppsV1Api", "AutoscalingV2Api",
                                                                    "PolicyV1Api")}

    def close(self) -> None:
        """Close the connection pool and remove the certificate files the kubeconfig needed."""
        try:
            self.api_client.close()
        except Exception:  # noqa: BLE001 - closing a pool never fails a deployment
            pass
        tmp = getattr(self.api_client, "_da_tmp", None)
        if tmp is not None:
            tmp.cleanup()

    def _fn(self, verb: str, kind: str):
        api, suffix, namespaced = _KINDS[kind]
        return getattr(self._apis[api], f"{verb}_{suffix}"), namespaced

    def _call(self, what: str, fn, *args: Any, **kw: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kw)
        except ApiException as e:
            if e.status == 404:
                return None
            raise _k8s_error(e, what) from e
        except HTTPError as e:
            raise _k8s_error(e, what) from e
        data = resp.data
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")

    def read(self, kind: str, name: str, namespace: str = "") -> Optional[dict]:
        fn, namespaced = self._fn("read", kind)
        args = (name, namespace) if namespaced else (name,)
        return self._call(f"read {kind} {name}", fn, *args)

    def apply(self, obj: dict) -> dict:
        """Server-side apply (field manager deploy-advisor, force: we own these objects)."""
        kind, meta = obj["kind"], obj["metadata"]
        fn, namespaced = self._fn("patch", kind)
        args = (meta["name"], meta["namespace"], obj) if namespaced else (meta["name"], obj)
        out = self._call(f"apply {kind} {meta['name']}", fn, *args, field_manager=FIELD_MANAGER, force=True,
                         _content_type=APPLY_PATCH)
        if out is None:
            raise NotFoundError(f"apply {kind} {meta['name']}: namespace {meta.get('namespace')} not found")
        return out

    def delete(self, kind: str, name: str, namespace: str = "") -> bool:
        """True when something was deleted; a missing object is fine."""
        fn, namespaced = self._fn("delete", kind)
        args = (name, namespace) if namespaced else (name,)
        return self._call(f"delete {kind} {name}", fn, *args, propagation_policy="Background") is not None

    def list(self, kind: str, namespace: str, selector: str) -> list[dict]:
        fn, _ = self._fn("list", kind)
        out = self._call(f"list {kind}", fn, namespace, label_selector=selector)
        return list((out or {}).get("items") or [])

    def server_version(self) -> str:
        """The API server's gitVersion (GET /version): does the cluster answer at all?"""
        from kubernetes import client

        out = self._call("read the API server version", client.VersionApi(self.api_client).get_code)
        return str((out or {}).get("gitVersion") or "unknown") if isinstance(out, dict) else "unknown"

    def pod_log(self, name: str, namespace: str, tail: int, previous: bool = False) -> str:
        fn = self._apis["CoreV1Api"].read_namespaced_pod_log
        out = self._call(f"logs of {name}", fn, name, namespace, tail_lines=tail, previous=previous or None)
        return out if isinstance(out, str) else (json.dumps(out) if out else "")


def kubeconfig_client(raw: bytes | str, ctx: DeployContext) -> Any:
    """A kubernetes ApiClient from kubeconfig bytes, in memory: nothing goes to ~/.kube.

    AAD clusters hand out an `exec: kubelogin` user; instead of needing that
    binary we put a token for the AKS AAD server app from our own credential.
    Certificate data the client needs as files goes to a private temp folder
    removed when the client is closed.
    """
    with needs_extra("aks"):
        from kubernetes import client
    from kubernetes.config.kube_config import KubeConfigLoader

    from .azure_common import get_credential, register_secret

    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        config = None
    if not isinstance(config, dict) or not config.get("clusters"):
        raise RemoteError("the cluster credentials are not a kubeconfig", "run `az aks get-credentials` to check them")
    for user in config.get("users") or []:
        spec = user.get("user") or {}
        if "exec" in spec or "auth-provider" in spec:
            token = get_credential(ctx).get_token(f"{AKS_AAD_SERVER_APP}/.default").token
            register_secret(token)
            user["user"] = {"token": token}
    tmp = tempfile.TemporaryDirectory(prefix="da-kube-")
    configuration = client.Configuration()
    KubeConfigLoader(config_dict=config, temp_file_path=tmp.name).load_and_set(configuration)
    for secret in (configuration.api_key or {}).values():
        register_secret(str(secret).replace("Bearer ", ""))
    api_client = client.ApiClient(configuration)
    api_client._da_tmp = tmp  # removed with the client  # noqa: SLF001
    return api_client


def context_client(cfg: "Config") -> Any:
    """A kubernetes ApiClient for an existing cluster's kubeconfig context (the client's own config loading:
    tokens, certificates and exec plugins such as kubelogin work as with kubectl)."""
    with needs_extra("aks"):
        from kubernetes import config as kconfig
        from kubernetes.config.config_exception import ConfigException

    from .azure_common import register_secret

    try:
        api_client = kconfig.new_client_from_config(config_file=cfg.kubeconfig, context=cfg.kube_context,
                                                    persist_config=False)
    except (ConfigException, OSError, ValueError) as e:
        raise InputError(f"kube context {cfg.kube_context}: {str(e).splitlines()[0][:200]}",
                         f"check kube_context and kubeconfig; {ARC_HINT}") from None
    for secret in (api_client.configuration.api_key or {}).values():
        register_secret(str(secret).replace("Bearer ", ""))
    return api_client


# ----------------------------------------------------------------- the deployer


@dataclass
class Observed:
    """What plan/apply read of the remote state (the fingerprint covers `digest()`)."""
    cluster: Optional[Any] = None
    registry: Optional[Any] = None
    image_exists: Optional[bool] = None
    acr_pull: Optional[bool] = None
    gpu_pool: Optional[bool] = None
    objects: dict[str, Optional[dict]] = field(default_factory=dict)
    kube_error: str = ""

    def digest(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "cluster": None if c is None else {"state": c.provisioning_state, "version": c.kubernetes_version,
                                               "pools": sorted((p.name or "") for p in (c.agent_pool_profiles or []))},
            "registry": None if self.registry is None else (self.registry.login_server or "").lower(),
            "image": self.image_exists, "acr_pull": self.acr_pull, "gpu_pool": self.gpu_pool,
            "objects": {k: _obj_digest(v) for k, v in sorted(self.objects.items())},
        }


def _obj_digest(obj: Optional[dict]) -> Optional[dict]:
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    return {"hash": (meta.get("annotations") or {}).get(HASH_ANNOTATION), "generation": meta.get("generation")}


def _key(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


class AKSDeployer(Deployer):
    name = "aks"
    title = "Azure Kubernetes Service"
    description = ("Kubernetes manifests on an AKS cluster: image built by ACR Tasks, server-side apply, "
                   "watched rollout with automatic rollback.")
    requires_azure = True
    Settings = AKSSettings

    # ------------------------------------------------------------------ resolution
    def credentials_missing(self, ctx: DeployContext, settings: Optional[AKSSettings] = None) -> Optional[str]:
        from .azure_common import credentials_missing

        s = settings or AKSSettings()
        return credentials_missing(ctx, subscription_id=s.subscription, resource_group=s.resource_group)

    def _sizing(self, spec: DeploymentSpec, ctx: Optional[DeployContext] = None) -> Sizing:
        """The advisor's sizing; when it cannot size this profile, a safe default the settings can override."""
        from .planning import sizing_for

        try:
            return sizing_for("aks", spec.profile)
        except (ImportError, AttributeError, KeyError, ValueError) as e:
            sku = spec.settings.get("node_vm_size") or "Standard_DS3_v2"
            vm = catalog_vm(sku)
            n = 2 if spec.profile.scale.availability_sla >= 99.9 else 1
            if ctx is not None:
                ctx.emit("warning", f"no sizing from the advisor ({e.__class__.__name__}); using {n}-{n + 2} x {sku}")
            return Sizing(sku=sku, instances=n, min=n, max=n + 2, vcpus_per_instance=int(vm.vcpus) if vm else 0,
                          workers_per_instance=max(1, int(vm.vcpus) - 1) if vm else 1,
                          notes=["fallback sizing: the advisor could not size this profile for AKS"])

    def config(self, spec: DeploymentSpec, ctx: DeployContext, info: ModelInfo, sizing: Sizing) -> Config:
        s: AKSSettings = self.settings_for(spec)  # type: ignore[assignment]
        profile = spec.profile
        sub = s.subscription or ctx.subscription_id or ""
        rg = s.resource_group or ctx.resource_group or ""
        location = s.location or ctx.location or profile.region
        gpu_needed = profile.inference.gpu == "required"
        vm_name = s.node_vm_size or sizing.sku
        vm = catalog_vm(vm_name)
        sku_gpus = vm.gpus if vm else 0
        if profile.inference.gpu == "preferred" and sku_gpus:
            gpu_needed = True
        gpus = max(1, sku_gpus) if gpu_needed else 0
        if gpu_needed and vm is not None and not vm.gpus:
            raise InputError(f"the profile needs a GPU but node_vm_size {vm_name} has none",
                             "pick a GPU size, e.g. --set node_vm_size=Standard_NC4as_T4_v3")
        workers = max(1, int(sizing.workers_per_instance or 1))
        if gpus:
            workers = max(1, min(workers, gpus))
        res = pod_resources(vm, workers, info.size_mb or profile.model.size_mb, s.cpu_request, s.memory_request)
        lo = s.replicas or s.min_replicas or max(1, sizing.min)
        hi = s.replicas or s.max_replicas or max(lo, sizing.max, sizing.instances)
        if hi < lo:
            raise InputError(f"max_replicas ({hi}) is below min_replicas ({lo})", "raise max_replicas")
        # one scoring pod per node: the node pool follows the replica range
        node_min = s.node_min or lo
        node_max = max(node_min, s.node_max or hi)
        tier = s.tier or ("Standard" if profile.scale.availability_sla >= 99.9 else "Free")
        create = s.create_cluster if s.create_cluster is not None else not profile.team.existing_aks
        use_context = bool(profile.security.network == "on-premises" or s.kube_context or s.kubeconfig)
        kubeconfig = context = ""
        if use_context:
            if not (s.image or s.registry):
                raise InputError("an existing (on-premises) cluster needs an image it can pull: no Azure Container "
                                 "Registry is assumed reachable from it",
                                 "set image=<ready image> or registry=<ACR name your cluster can pull from>")
            kubeconfig, context = resolve_context(s.kubeconfig, s.kube_context)
            create = False
        from .images import default_registry_name

        registry = s.registry or default_registry_name(sub, s.registry_resource_group or rg)
        repo = s.repository or f"deploy-advisor/{_app_name(info.name)}"
        notes = []
        if s.replicas is None and hi == lo:
            # an HPA whose min equals its max never scales: leave it out and fix the replica count instead
            notes.append(f"{lo} fixed replica(s), no HorizontalPodAutoscaler: the autoscale range is {lo}-{hi} "
                         "(advisor sizing unless min_replicas/max_replicas are set); set max_replicas above "
                         f"{lo} to autoscale")
        if vm is None:
            notes.append(f"{vm_name}: not in the advisor's catalog; pod requests use defaults until the live SKU "
                         "list is read")
        azure_lb = s.service_type == "LoadBalancer" and not use_context
        server_timeout, idle_min = request_timeouts(profile.inference.max_request_seconds, azure_lb)
        return Config(
            use_context=use_context, kube_context=context, kubeconfig=kubeconfig,
            max_request_s=float(profile.inference.max_request_seconds), server_timeout_s=server_timeout,
            lb_idle_timeout_min=idle_min,
            name=spec.name, subscription=sub, resource_group=rg, location=location,
            cluster_name=context or s.cluster_name,
            create_cluster=bool(create), kubernetes_version=s.kubernetes_version, tier=tier, node_vm_size=vm_name,
            system_vm_size=s.system_vm_size, node_min=node_min, node_max=node_max, gpus=gpus,
            gpu_pool_name=s.gpu_pool_name, registry=registry,
            registry_resource_group=s.registry_resource_group or rg, repository=repo, user_image=s.image,
            assign_acr_pull=s.assign_acr_pull, namespace=s.namespace or spec.name, fixed_replicas=s.replicas,
            min_replicas=lo, max_replicas=hi, target_cpu_percent=s.target_cpu_percent,
            cpu_request=res["cpu_request"], cpu_limit=res["cpu_limit"], memory_request=res["memory_request"],
            workers=workers, model_size_mb=float(info.size_mb or profile.model.size_mb),
            service_type=s.service_type, service_port=s.service_port, rollout_timeout_s=s.rollout_timeout_s,
            endpoint_timeout_s=s.endpoint_timeout_s, build_timeout_s=s.build_timeout_s, smoke_test=s.smoke_test,
            keep_failed=s.keep_failed, registry_how="given" if s.registry else "new", notes=notes)

    def build_files(self, info: ModelInfo, cfg: Config) -> dict[str, bytes | str]:
        from . import images

        return images.model_build_context(info, workers=cfg.workers, port=CONTAINER_PORT)

    def registry_choice(self, ctx: DeployContext, cfg: Config, s: AKSSettings, read_azure: bool):
        """The shared registry rule (images.choose_registry); the config follows the choice."""
        from . import images

        choice = images.choose_registry(ctx, subscription=cfg.subscription, resource_group=cfg.resource_group,
                                        location=cfg.location, given=s.registry,
                                        given_resource_group=s.registry_resource_group, read_azure=read_azure)
        cfg.registry, cfg.registry_resource_group, cfg.registry_how = (choice.name, choice.resource_group,
                                                                       choice.how)
        return choice

    def _saved_choice(self, cfg: Config, registry: Any = None):
        from . import images

        return images.RegistryChoice.from_settings(cfg.dump(), registry)

    def _image(self, cfg: Config, info: ModelInfo, registry: Any = None) -> tuple[str, str, Optional[dict]]:
        """(image reference, content tag, build files) — a user image needs no build."""
        from . import images

        if cfg.user_image:
            return images.validate_image(cfg.user_image), "", None
        files = self.build_files(info, cfg) if info.local_path else None  # a registered model: after download
        image, tag = images.image_ref(images.login_server(cfg.registry, registry), cfg.repository, files)
        return image, tag, files

    # ------------------------------------------------------------------ Azure clients
    def _cs(self, ctx: DeployContext, cfg: Config):
        with needs_extra("aks"):
            from azure.mgmt.containerservice import ContainerServiceClient

        from .azure_common import get_credential, sdk_kwargs

        return ContainerServiceClient(get_credential(ctx), cfg.subscription, **sdk_kwargs(ctx))

    def _compute(self, ctx: DeployContext, cfg: Config):
        with needs_extra("aks"):
            from azure.mgmt.compute import ComputeManagementClient

        from .azure_common import get_credential, sdk_kwargs

        return ComputeManagementClient(get_credential(ctx), cfg.subscription, **sdk_kwargs(ctx))

    def _get_cluster(self, ctx: DeployContext, cfg: Config) -> Optional[Any]:
        from azure.core.exceptions import ResourceNotFoundError

        from .azure_common import map_azure_error

        try:
            return self._cs(ctx, cfg).managed_clusters.get(cfg.resource_group, cfg.cluster_name)
        except ResourceNotFoundError:
            return None
        except Exception as e:  # noqa: BLE001
            raise map_azure_error(e, f"read cluster {cfg.cluster_name}") from e

    def kube(self, ctx: DeployContext, cfg: Config) -> Kube:
        """A Kubernetes client: the kubeconfig context of an existing cluster, else the AKS cluster's
        `list_cluster_user_credentials` (no kubectl)."""
        from .azure_common import map_azure_error

        if cfg.use_context:
            return Kube(context_client(cfg))

        try:
            creds = self._cs(ctx, cfg).managed_clusters.list_cluster_user_credentials(cfg.resource_group,
                                                                                     cfg.cluster_name)
        except Exception as e:  # noqa: BLE001
            raise map_azure_error(e, f"get credentials of cluster {cfg.cluster_name}") from e
        configs = list(creds.kubeconfigs or [])
        if not configs or not configs[0].value:
            raise RemoteError(f"cluster {cfg.cluster_name} returned no user kubeconfig",
                              "check that the cluster has finished provisioning")
        raw = configs[0].value
        if isinstance(raw, str):
            raw = base64.b64decode(raw)
        return Kube(kubeconfig_client(raw, ctx))

    # ------------------------------------------------------------------ state
    def observe(self, ctx: DeployContext, cfg: Config, manifests: list[dict], tag: str,
                read_objects: bool = True) -> Observed:
        from . import images

        obs = Observed()
        if cfg.use_context:  # an existing cluster: nothing to read in Azure but the image's registry
            if not cfg.user_image:
                obs.registry = images.get_registry(ctx, cfg.registry_resource_group, cfg.registry)
                if obs.registry is not None and tag:
                    obs.image_exists = images.tag_exists(ctx, images.login_server(cfg.registry, obs.registry),
                                                         cfg.repository, tag)
            if read_objects:
                self._read_objects(ctx, cfg, manifests, obs)
            return obs
        obs.cluster = self._get_cluster(ctx, cfg)
        if not cfg.user_image:
            obs.registry = images.get_registry(ctx, cfg.registry_resource_group, cfg.registry)
            if obs.registry is not None and tag:  # no tag yet: the model is downloaded on apply
                obs.image_exists = images.tag_exists(ctx, images.login_server(cfg.registry, obs.registry),
                                                     cfg.repository, tag)
        c = obs.cluster
        if c is not None and cfg.gpus:
            obs.gpu_pool = any(p.name == cfg.gpu_pool_name for p in (c.agent_pool_profiles or []))
        kubelet = _kubelet_object_id(c)
        if obs.registry is not None and kubelet:
            obs.acr_pull = images.acr_pull_assignment(ctx, registry_id=obs.registry.id or cfg.registry_id,
                                                      principal_id=kubelet) is not None
        if c is not None and read_objects and (c.provisioning_state or "Succeeded") == "Succeeded":
            self._read_objects(ctx, cfg, manifests, obs)
        return obs

    def _read_objects(self, ctx: DeployContext, cfg: Config, manifests: list[dict], obs: Observed) -> None:
        kube = self.kube(ctx, cfg)
        try:
            for obj in manifests:
                m = obj["metadata"]
                obs.objects[_key(obj)] = kube.read(obj["kind"], m["name"], m.get("namespace", ""))
        finally:
            kube.close()

    def _cluster_action(self, cfg: Config, obs: Optional[Observed]) -> list[PlannedAction]:
        """What happens to the cluster itself: nothing for an existing context, else create or reuse the AKS one."""
        if cfg.use_context:
            return [PlannedAction(kind="no-op", resource_type="kubernetes/context", resource=cfg.kube_context,
                                  detail=f"targets your existing cluster context {cfg.kube_context}; no Azure "
                                         "cluster is created or priced")]
        if obs is None:
            return [PlannedAction(kind="create" if cfg.create_cluster else "no-op",
                                  resource_type="Microsoft.ContainerService/managedClusters",
                                  resource=cfg.cluster_name, detail="remote state not read")]
        if obs.cluster is None:
            return [PlannedAction(
                kind="create", resource_type="Microsoft.ContainerService/managedClusters", resource=cfg.cluster_name,
                detail=f"{cfg.tier} tier, {cfg.node_min}-{cfg.node_max} x {cfg.node_vm_size}"
                       + (f" ({cfg.gpu_pool_name} pool, taint {GPU_TAINT})" if cfg.gpus else ""),
                changes={"tier": cfg.tier, "vm_size": cfg.node_vm_size, "min": cfg.node_min, "max": cfg.node_max})]
        acts = [PlannedAction(kind="no-op", resource_type="Microsoft.ContainerService/managedClusters",
                              resource=cfg.cluster_name, detail=f"exists (Kubernetes {obs.cluster.kubernetes_version})")]
        if cfg.gpus and not obs.gpu_pool:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.ContainerService/agentPools",
                                      resource=cfg.gpu_pool_name,
                                      detail=f"{cfg.node_min}-{cfg.node_max} x {cfg.node_vm_size}, taint {GPU_TAINT}"))
        return acts

    def _actions(self, cfg: Config, obs: Optional[Observed], manifests: list[dict], image: str) -> list[PlannedAction]:
        acts: list[PlannedAction] = []
        if obs is None:  # remote state not read (no credentials): everything as it would be created
            if not cfg.user_image:
                acts.append(PlannedAction(kind="create", resource_type="image", resource=image,
                                          detail="build with ACR Tasks unless the tag exists"))
            acts.extend(self._cluster_action(cfg, None))
            for obj in manifests:
                acts.append(PlannedAction(kind="create", resource_type=f"kubernetes/{obj['kind']}",
                                          resource=obj["metadata"]["name"], detail="remote state not read"))
            return acts
        if not cfg.user_image:
            create_registry = self._saved_choice(cfg, obs.registry).plan_action()
            if create_registry is not None:
                acts.append(create_registry)
            acts.append(PlannedAction(kind="no-op" if obs.image_exists else "create", resource_type="image",
                                      resource=image, detail="tag exists: not rebuilt" if obs.image_exists
                                      else "ACR Tasks docker build of the rendered context"))
        acts.extend(self._cluster_action(cfg, obs))
        if not cfg.user_image and not obs.acr_pull and not cfg.use_context:
            acts.append(PlannedAction(kind="create", resource_type="Microsoft.Authorization/roleAssignments",
                                      resource=f"AcrPull on {cfg.registry}", detail="for the kubelet identity"))
        for obj in manifests:
            live = obs.objects.get(_key(obj))
            want = obj["metadata"]["annotations"][HASH_ANNOTATION]
            if live is None:
                kind = "create"
            else:
                have = ((live.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
                kind = "no-op" if have == want else "update"
            acts.append(PlannedAction(kind=kind, resource_type=f"kubernetes/{obj['kind']}",
                                      resource=f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}".lstrip("/")))
        return acts

    # ------------------------------------------------------------------ preflight
    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        from .planning import resolve_model

        findings: list[Finding] = []
        try:
            s: AKSSettings = self.settings_for(spec)  # type: ignore[assignment]
        except Exception as e:  # noqa: BLE001 - a settings error is the finding
            return [Finding(check="settings", level="fail", message=str(e).splitlines()[0])]
        info = resolve_model(spec, ctx)
        sizing = self._sizing(spec, ctx)
        try:
            cfg = self.config(spec, ctx, info, sizing)
        except InputError as e:
            return [Finding(check="settings", level="fail", message=e.message, hint=e.hint)]
        findings.append(Finding(check="names", level="pass",
                                message=f"deployment {spec.name}, namespace {cfg.namespace}"
                                        + ("" if cfg.use_context else f", cluster {cfg.cluster_name}")
                                        + ("" if cfg.user_image else f", registry {cfg.registry}")
                                        + " follow the naming rules"))
        try:
            image, tag, _files = self._image(cfg, info)
        except InputError as e:
            findings.append(Finding(check="image", level="fail", message=e.message, hint=e.hint))
            image, tag = "placeholder.azurecr.io/x:y", ""
        manifests = render_manifests(cfg, image, model_uri=spec.model, model_name=info.name, version=info.version)
        try:
            validate_manifests(manifests, cfg.kubernetes_version)
            findings.append(Finding(check="manifests", level="pass",
                                    message=f"{len(manifests)} manifests valid for Kubernetes "
                                            f"{validation_version(cfg.kubernetes_version)}"))
        except InputError as e:
            findings.append(Finding(check="manifests", level="fail", message=e.message, hint=e.hint))
        findings.extend(self._timeout_findings(cfg))
        if cfg.use_context:
            findings.extend(self._context_checks(cfg))
            if not cfg.needs_azure:
                findings.append(Finding(check="registry", level="pass", message=f"using the given image {cfg.user_image}",
                                        hint="your cluster must be able to pull it (an imagePullSecret or a "
                                             "registry it reaches)"))
                return findings
        missing = self.credentials_missing(ctx, s)
        if missing:
            findings.append(Finding(check="credentials", level="fail", message="not signed in to Azure", hint=missing))
            if not cfg.use_context:
                findings.extend(self._offline_fit(cfg))
            return findings
        findings.append(Finding(check="credentials", level="pass", message="Azure credentials available"))
        try:
            self.registry_choice(ctx, cfg, s, read_azure=True)
            obs = self.observe(ctx, cfg, manifests, tag, read_objects=False)
        except DeployError as e:
            findings.append(Finding(check="azure", level="fail", message=e.message, hint=e.hint))
            return findings
        if not cfg.use_context:
            findings.extend(self._cluster_checks(ctx, cfg, obs))
        findings.extend(self._registry_checks(ctx, cfg, obs))
        return findings

    def _context_checks(self, cfg: Config) -> list[Finding]:
        """The existing cluster's context (config() found it) and its API server answering."""
        found = Finding(check="kube-context", level="pass",
                        message=f"context {cfg.kube_context} found; no Azure cluster is created or priced")
        try:
            kube = Kube(context_client(cfg))
        except DeployError as e:
            return [Finding(check="kube-context", level="fail", message=e.message, hint=e.hint)]
        try:
            version = kube.server_version()
        except DeployError as e:
            return [found, Finding(check="kube-api", level="fail", message=e.message, hint=f"{e.hint}; {ARC_HINT}")]
        finally:
            kube.close()
        return [found, Finding(check="kube-api", level="pass", message=f"the API server answers (Kubernetes {version})")]

    def _timeout_findings(self, cfg: Config) -> list[Finding]:
        """Requests longer than the longest idle timeout AKS lets us set cannot stay synchronous."""
        if not cfg.azure_lb or cfg.max_request_s <= LB_IDLE_MAX_MIN * 60:  # the advisor's limit too
            return []
        return [Finding(check="request-timeout", level="fail",
                        message=f"requests up to {cfg.max_request_s:g} s outlast the Azure Load Balancer's "
                                f"{LB_IDLE_MAX_MIN} min maximum idle timeout on AKS",
                        hint="use the asynchronous pattern (--target azureml-batch), or clients that send TCP "
                             "keep-alives")]

    def _offline_fit(self, cfg: Config) -> list[Finding]:
        vm = catalog_vm(cfg.node_vm_size)
        return [self._fit_finding(cfg, vm)] if vm else []

    def _fit_finding(self, cfg: Config, vm: VmFacts) -> Finding:
        cpu_alloc, mem_alloc = allocatable(vm)
        cpu_need, mem_need = _cpu_milli(cfg.cpu_request), _mem_mi(cfg.memory_request)
        room_cpu, room_mem = cpu_alloc - _SYSTEM_CPU_M, mem_alloc - _SYSTEM_MEM_MI
        need_model = int(256 + cfg.workers * (300 + 2.5 * max(cfg.model_size_mb, 1.0)))
        if cpu_need > room_cpu or mem_need > room_mem or need_model > room_mem:
            return Finding(check="node-fit", level="fail",
                           message=f"a scoring pod needs {cfg.cpu_request} CPU and {max(mem_need, need_model)}Mi; "
                                   f"a {vm.name} node leaves about {room_cpu}m and {room_mem}Mi after AKS reservations",
                           hint="pick a larger node_vm_size or lower cpu_request / memory_request")
        return Finding(check="node-fit", level="pass",
                       message=f"pod requests ({cfg.cpu_request}, {cfg.memory_request}) fit a {vm.name} node "
                               f"({room_cpu}m, {room_mem}Mi free for pods)")

    def _live_skus(self, ctx: DeployContext, cfg: Config, names: set[str]) -> dict[str, Any]:
        from .azure_common import map_azure_error

        try:
            skus = self._compute(ctx, cfg).resource_skus.list(filter=f"location eq '{cfg.location}'")
            return {s.name: s for s in skus if s.resource_type == "virtualMachines" and s.name in names}
        except Exception as e:  # noqa: BLE001
            raise map_azure_error(e, "list VM sizes") from e

    def _cluster_checks(self, ctx: DeployContext, cfg: Config, obs: Observed) -> list[Finding]:
        out: list[Finding] = []
        c = obs.cluster
        creating = c is None
        if c is None and not cfg.create_cluster:
            out.append(Finding(check="cluster", level="fail",
                               message=f"cluster {cfg.cluster_name} not found in {cfg.resource_group}",
                               hint="set cluster_name=<your cluster> (and resource_group), or create_cluster=true"))
        elif c is None:
            out.append(Finding(check="cluster", level="pass",
                               message=f"cluster {cfg.cluster_name} does not exist and will be created ({cfg.tier} tier)"))
        else:
            state = c.provisioning_state or "Succeeded"
            power = getattr(getattr(c, "power_state", None), "code", None) or "Running"
            level = "pass" if state == "Succeeded" and power == "Running" else "fail"
            out.append(Finding(check="cluster", level=level,
                               message=f"cluster {cfg.cluster_name}: {state}, {power}, Kubernetes {c.kubernetes_version}",
                               hint="" if level == "pass" else f"start it: az aks start -n {cfg.cluster_name} -g {cfg.resource_group}"))
        # Kubernetes version
        try:
            versions = self._cs(ctx, cfg).managed_clusters.list_kubernetes_versions(cfg.location)
            supported = _supported_minors(versions)
        except Exception as e:  # noqa: BLE001
            supported = set()
            out.append(Finding(check="kubernetes-version", level="warn", message=f"could not list versions: {e}"))
        want = (c.kubernetes_version if c is not None else cfg.kubernetes_version) or ""
        if supported and want:
            minor = ".".join(want.split(".")[:2])
            if minor in supported:
                out.append(Finding(check="kubernetes-version", level="pass",
                                   message=f"Kubernetes {want} is supported in {cfg.location}"))
            else:
                newest = max(supported, key=lambda v: tuple(map(int, v.split("."))))
                out.append(Finding(check="kubernetes-version", level="fail" if creating else "warn",
                                   message=f"Kubernetes {want} is not a supported AKS version in {cfg.location}",
                                   hint=f"use {newest}" + ("" if creating else
                                        f": az aks upgrade -n {cfg.cluster_name} -g {cfg.resource_group} -k {newest}")))
        elif supported:
            out.append(Finding(check="kubernetes-version", level="pass", message="the AKS default version will be used"))
        # VM sizes, fit, quota
        need_pool = creating or (cfg.gpus and not obs.gpu_pool)
        names = {cfg.node_vm_size} | ({cfg.system_vm_size} if cfg.gpus and creating else set())
        try:
            live = self._live_skus(ctx, cfg, names)
        except DeployError as e:
            out.append(Finding(check="vm-size", level="warn", message=e.message, hint=e.hint))
            live = {}
        vm = _vm_from_sku(live.get(cfg.node_vm_size)) or catalog_vm(cfg.node_vm_size)
        if need_pool and live is not None:
            for n in sorted(names):
                sku = live.get(n)
                restricted = _sku_restricted(sku, cfg.location)
                if sku is None or restricted:
                    out.append(Finding(check="vm-size", level="fail",
                                       message=f"{n} is not available in {cfg.location}" + (f" ({restricted})" if restricted else ""),
                                       hint="pick another node_vm_size or region"))
                else:
                    out.append(Finding(check="vm-size", level="pass", message=f"{n} is offered in {cfg.location}"))
        if vm is not None:
            out.append(self._fit_finding(cfg, vm))
            if cfg.gpus and vm.gpus < cfg.gpus:
                out.append(Finding(check="gpu", level="fail", message=f"{vm.name} has no GPU",
                                   hint="pick a GPU node_vm_size such as Standard_NC4as_T4_v3"))
        if need_pool and vm is not None:
            out.extend(self._quota_checks(ctx, cfg, vm, live))
        if cfg.gpus:
            out.append(Finding(check="gpu-device-plugin", level="warn",
                               message="GPU pods need the NVIDIA device plugin on the GPU nodes",
                               hint="install it once per cluster: https://learn.microsoft.com/azure/aks/gpu-cluster"))
        return out

    def _quota_checks(self, ctx: DeployContext, cfg: Config, vm: VmFacts, live: dict[str, Any]) -> list[Finding]:
        from .azure_common import map_azure_error

        family = getattr(live.get(vm.name), "family", None) or vm.family
        need = int(math.ceil(vm.vcpus)) * cfg.node_max
        try:
            usages = list(self._compute(ctx, cfg).usage.list(cfg.location))
        except Exception as e:  # noqa: BLE001
            err = map_azure_error(e, "read compute quota")
            return [Finding(check="quota", level="warn", message=err.message, hint=err.hint)]
        out = []
        for label, name in (("regional vCPUs", "cores"), (f"{family} vCPUs", family)):
            u = next((u for u in usages if (u.name.value or "").lower() == (name or "").lower()), None)
            if u is None:
                continue
            free = int(u.limit) - int(u.current_value)
            check = "gpu-quota" if cfg.gpus and name == family else "quota"
            if free < need:
                out.append(Finding(check=check, level="fail",
                                   message=f"{label}: {free} free of {u.limit}, the node pool needs up to {need}",
                                   hint=f"request more quota for {name} in {cfg.location} (portal: Quotas > Compute) "
                                        "or lower node_max"))
            else:
                out.append(Finding(check=check, level="pass", message=f"{label}: {free} free, up to {need} needed"))
        return out

    def _registry_checks(self, ctx: DeployContext, cfg: Config, obs: Observed) -> list[Finding]:
        from . import images

        out: list[Finding] = []
        if cfg.user_image:
            out.append(Finding(check="registry", level="pass", message=f"using the given image {cfg.user_image}",
                               hint="the cluster must be able to pull it (AcrPull or an imagePullSecret)"))
            return out
        if cfg.use_context:
            out.append(Finding(check="registry", level="warn",
                               message=f"registry {cfg.registry}: your cluster pulls with its own credentials",
                               hint="an existing (Arc) cluster has no kubelet identity to grant AcrPull: give it an "
                                    "imagePullSecret for the registry"))
            return out
        if obs.registry is None:
            out.append(Finding(check="registry", level="pass", message=self._saved_choice(cfg).describe()))
        else:
            public = str(getattr(obs.registry, "public_network_access", "Enabled") or "Enabled")
            level = "pass" if obs.image_exists is not None and public.lower() == "enabled" else "warn"
            out.append(Finding(check="registry", level=level,
                               message=f"registry {obs.registry.login_server} reachable (public network access {public})",
                               hint="" if level == "pass" else "ACR Tasks and the cluster need network access to it"))
        kubelet = _kubelet_object_id(obs.cluster)
        if obs.acr_pull:
            out.append(Finding(check="acr-pull", level="pass", message="the kubelet identity has AcrPull on the registry"))
            return out
        if obs.registry is not None and cfg.assign_acr_pull:
            try:
                allowed = images.can_assign_roles(ctx, obs.registry.id or cfg.registry_id)
            except DeployError:
                allowed = False
        else:
            allowed = cfg.assign_acr_pull  # a registry we create is ours to assign on
        principal = kubelet or "<kubelet identity object id>"
        if allowed:
            out.append(Finding(check="acr-pull", level="pass",
                               message="AcrPull for the kubelet identity will be assigned during apply"))
        else:
            out.append(Finding(check="acr-pull", level="fail",
                               message="the cluster cannot pull from the registry (no AcrPull) and you may not assign it",
                               hint="ask an Owner to run: " + images.acr_pull_fix_command(cfg.registry_id, principal)
                                    + f"  (or: az aks update -n {cfg.cluster_name} -g {cfg.resource_group} "
                                      f"--attach-acr {cfg.registry})"))
        return out

    # ------------------------------------------------------------------ plan
    def plan(self, spec: DeploymentSpec, ctx: DeployContext) -> DeploymentPlan:
        from . import images
        from .planning import resolve_model

        info = resolve_model(spec, ctx)
        s: AKSSettings = self.settings_for(spec)  # type: ignore[assignment]
        missing = self.credentials_missing(ctx, s)
        download = None
        if not s.image:
            info, download = images.plan_model_download(ctx, info, read_azure=not missing)
        sizing = self._sizing(spec, ctx)
        cfg = self.config(spec, ctx, info, sizing)
        if not cfg.needs_azure:
            missing = None
        findings: list[Finding] = self._timeout_findings(cfg)
        notes = list(cfg.notes)
        if cfg.use_context:
            notes.insert(0, f"targets your existing cluster context {cfg.kube_context}; no Azure cluster is "
                            "created or priced")
            if cfg.service_type == "LoadBalancer":
                notes.append("a LoadBalancer Service needs a load-balancer implementation on your cluster (e.g. "
                             "MetalLB); otherwise set service_type=ClusterIP")
        if timeout_note(cfg):
            notes.append(timeout_note(cfg))
        if not cfg.user_image:
            notes.append(self.registry_choice(ctx, cfg, s, read_azure=not missing).describe())
        image, tag, files = self._image(cfg, info)
        cfg.image, cfg.tag = image, tag
        manifests = render_manifests(cfg, image, model_uri=spec.model, model_name=info.name, version=info.version)
        validate_manifests(manifests, cfg.kubernetes_version)
        artifacts = manifests_yaml(manifests)
        if files is not None:
            for rel in ("Dockerfile", "requirements.txt", ".dockerignore"):
                artifacts[f"build/{rel}"] = files[rel] if isinstance(files[rel], str) else files[rel].decode()
        artifacts["README.md"] = _readme(cfg, image, sorted(a for a in artifacts if a.startswith("kubernetes/")))
        if missing:
            obs = None
            state: Any = {"offline": True}
            notes.append(f"Azure state not read ({missing}); the plan shows what a first apply would create")
            findings.append(Finding(check="credentials", level="warn", message="plan made without Azure access",
                                    hint=missing))
        else:
            obs = self.observe(ctx, cfg, manifests, tag)
            state = obs.digest()
            if obs.cluster is None and not cfg.create_cluster and not cfg.use_context:
                findings.append(Finding(check="cluster", level="fail",
                                        message=f"cluster {cfg.cluster_name} not found",
                                        hint="set cluster_name=<existing cluster> or create_cluster=true"))
        actions = ([download] if download else []) + self._actions(cfg, obs, manifests, image)
        return DeploymentPlan(
            spec=spec, target=self.name, model_info=info, sizing=sizing, settings=cfg.dump(), actions=actions,
            artifacts=artifacts, findings=findings, state_fingerprint=fingerprint(state),
            desired_fingerprint=fingerprint([image, [m["metadata"]["annotations"][HASH_ANNOTATION] for m in manifests]]),
            notes=notes)

    def export(self, plan: DeploymentPlan, out_dir: Path) -> list[Path]:
        """Manifests, Dockerfile and README from the plan, plus the whole build context (model included)."""
        from . import images

        written = super().export(plan, out_dir)
        cfg = Config.load(plan.settings)
        if not cfg.user_image and plan.model_info is not None:
            try:
                files = self.build_files(plan.model_info, cfg)
            except DeployError as e:
                plan.notes.append(f"build context not exported: {e.message}")
                return written
            written += images.export_build_context(files, Path(out_dir) / "build")
        return sorted(set(written))

    # ------------------------------------------------------------------ apply
    def apply(self, plan: DeploymentPlan, ctx: DeployContext) -> DeploymentResult:
        from . import images
        from .azure_common import emit

        cfg = Config.load(plan.settings)
        manifests = manifests_from_artifacts(plan.artifacts)
        if not manifests:
            raise InputError("the plan holds no Kubernetes manifests", "make a new plan with --target aks")
        validate_manifests(manifests, cfg.kubernetes_version)
        missing = self.credentials_missing(ctx, AKSSettings(subscription=cfg.subscription or None,
                                                            resource_group=cfg.resource_group or None))
        if missing and cfg.needs_azure:
            raise AuthError("cannot apply without Azure credentials", missing)
        if plan.state_fingerprint == fingerprint({"offline": True}):
            raise StalePlanError("this plan was made without reading Azure", "sign in, then plan again")
        resuming = bool(ctx.checkpoints)
        obs = self.observe(ctx, cfg, manifests, cfg.tag)
        if not resuming and fingerprint(obs.digest()) != plan.state_fingerprint:
            raise StalePlanError("the cluster, registry or workload changed since this plan was made",
                                 "plan again and review the new actions")
        if not resuming and not plan.has_changes:
            url = self._endpoint_url(ctx, cfg, wait_s=0)
            emit(ctx, "info", "nothing to change: the deployment matches the plan")
            return DeploymentResult(name=cfg.name, target=self.name, status="no-change", endpoint_url=url,
                                    curl=_curl(url), outputs=self._outputs(cfg, manifests, url))
        files = None
        if not cfg.user_image:  # the model's files first: one that cannot be fetched leaves nothing half-created
            files, manifests = self._model_files(ctx, plan, cfg, manifests)
        previous = self._previous_manifests(ctx, cfg, manifests)
        # --- Azure resources
        registry = obs.registry
        if not cfg.user_image:
            registry = images.ensure_registry(ctx, self._saved_choice(cfg, registry), cfg.name)
        if not cfg.use_context:  # an existing cluster context: no Azure cluster, pool or role assignment
            cluster = obs.cluster or self._create_cluster(ctx, cfg)
            if cfg.gpus and not any(p.name == cfg.gpu_pool_name for p in (cluster.agent_pool_profiles or [])):
                self._create_gpu_pool(ctx, cfg)
        if not cfg.user_image:
            kubelet = "" if cfg.use_context else _kubelet_object_id(cluster)
            if not obs.acr_pull and not cfg.use_context:
                if not kubelet:
                    raise RemoteError(f"cluster {cfg.cluster_name} has no kubelet identity to grant AcrPull to",
                                      f"attach the registry: az aks update -n {cfg.cluster_name} -g "
                                      f"{cfg.resource_group} --attach-acr {cfg.registry}")
                if not cfg.assign_acr_pull:
                    raise AuthError("the kubelet identity has no AcrPull on the registry and assign_acr_pull=false",
                                    images.acr_pull_fix_command(registry.id or cfg.registry_id, kubelet))
                ctx.step("grant AcrPull on the registry to the cluster's kubelet identity")
                images.ensure_acr_pull(ctx, registry_id=registry.id or cfg.registry_id, principal_id=kubelet)
            image = images.ensure_image(ctx, registry_rg=cfg.registry_resource_group, registry_name=cfg.registry,
                                        repository=cfg.repository, files=files, timeout_s=cfg.build_timeout_s,
                                        registry=registry)
            if image != cfg.image:
                raise StalePlanError(f"the registry login server changed ({image} vs {cfg.image})", "plan again")
        # --- Kubernetes
        kube = self.kube(ctx, cfg)
        try:
            return self._apply_kubernetes(ctx, cfg, kube, manifests, previous, plan)
        finally:
            kube.close()

    def _model_files(self, ctx: DeployContext, plan: DeploymentPlan, cfg: Config,
                     manifests: list[dict]) -> tuple[dict, list[dict]]:
        """The build context, downloading a registered model first. A plan made before the download
        has no content tag yet: it is filled in here (settings, manifests, model facts), so the ledger
        records what really runs."""
        from . import images

        if plan.model_info is None:
            raise StalePlanError("the plan holds no model facts", "plan again")
        info = images.fetch_model(ctx, plan.model_info)
        files = self.build_files(info, cfg)
        if cfg.tag:
            if images.content_tag(files) != cfg.tag:
                raise StalePlanError("the model or the scoring server changed since this plan was made",
                                     "plan again")
            return files, manifests
        cfg.image, cfg.tag = images.image_ref(images.login_server(cfg.registry), cfg.repository, files)
        manifests = render_manifests(cfg, cfg.image, model_uri=plan.spec.model, model_name=info.name,
                                     version=info.version)
        validate_manifests(manifests, cfg.kubernetes_version)
        plan.model_info = info
        plan.settings.update(image=cfg.image, tag=cfg.tag)
        plan.artifacts.update(manifests_yaml(manifests))
        return files, manifests

    def _previous_manifests(self, ctx: DeployContext, cfg: Config, current: list[dict]) -> list[dict]:
        """Manifests of the last good plan (ledger), recorded as a checkpoint so a resumed run keeps them."""
        if "aks.previous" in ctx.checkpoints:
            return list(ctx.checkpoints["aks.previous"] or [])
        prev_plan = getattr(ctx, "previous_plan", None)
        if prev_plan is None:
            try:
                from .ledger import Ledger

                row = Ledger(ctx.state_dir).get_deployment(cfg.name)
                prev_plan = (row or {}).get("plan")
            except Exception:  # noqa: BLE001 - no ledger: nothing to roll back to
                prev_plan = None
        objs: list[dict] = []
        if isinstance(prev_plan, dict) and prev_plan.get("target") == self.name:
            objs = [o for o in manifests_from_artifacts(prev_plan.get("artifacts") or {}) if o["kind"] != "Secret"]
            same = {_key(o): o["metadata"]["annotations"].get(HASH_ANNOTATION) for o in objs} == {
                _key(o): o["metadata"]["annotations"].get(HASH_ANNOTATION) for o in current if o["kind"] != "Secret"}
            if same:
                objs = []
        ctx.checkpoint("aks.previous", objs)
        return objs

    def _create_cluster(self, ctx: DeployContext, cfg: Config) -> Any:
        from azure.mgmt.containerservice import models as m

        from .azure_common import map_azure_error, pending, tags, wait

        if not cfg.create_cluster:
            raise NotFoundError(f"cluster {cfg.cluster_name} not found in {cfg.resource_group}",
                                "set cluster_name=<existing cluster> or create_cluster=true")
        gpu = bool(cfg.gpus)
        pools = [m.ManagedClusterAgentPoolProfile(
            name="system", mode="System", type="VirtualMachineScaleSets", os_type="Linux",
            vm_size=cfg.system_vm_size if gpu else cfg.node_vm_size,
            count=1 if gpu else cfg.node_min, enable_auto_scaling=not gpu,
            min_count=None if gpu else cfg.node_min, max_count=None if gpu else cfg.node_max)]
        if gpu:
            pools.append(m.ManagedClusterAgentPoolProfile(
                name=cfg.gpu_pool_name, mode="User", type="VirtualMachineScaleSets", os_type="Linux",
                vm_size=cfg.node_vm_size, count=cfg.node_min, enable_auto_scaling=True, min_count=cfg.node_min,
                max_count=cfg.node_max, node_taints=[GPU_TAINT]))
        body = m.ManagedCluster(
            location=cfg.location, tags=tags(cfg.name), sku=m.ManagedClusterSKU(name="Base", tier=cfg.tier),
            identity=m.ManagedClusterIdentity(type="SystemAssigned"), dns_prefix=_dns_prefix(cfg.cluster_name),
            kubernetes_version=cfg.kubernetes_version, enable_rbac=True, agent_pool_profiles=pools,
            network_profile=m.ContainerServiceNetworkProfile(network_plugin="azure", network_plugin_mode="overlay",
                                                             load_balancer_sku="standard"))
        key = f"aks.cluster.{cfg.cluster_name}"
        ops = self._cs(ctx, cfg).managed_clusters
        try:
            token = pending(ctx, key)
            if token:
                ctx.step(f"resume creating cluster {cfg.cluster_name}")
                poller = ops.begin_create_or_update(cfg.resource_group, cfg.cluster_name, body, continuation_token=token)
            else:
                ctx.step(f"create AKS cluster {cfg.cluster_name} ({cfg.tier} tier, {cfg.node_vm_size})")
                poller = ops.begin_create_or_update(cfg.resource_group, cfg.cluster_name, body)
        except Exception as e:  # noqa: BLE001
            raise map_azure_error(e, f"create cluster {cfg.cluster_name}") from e
        wait(poller, ctx, f"create cluster {cfg.cluster_name}", key)
        cluster = self._get_cluster(ctx, cfg)
        if cluster is None:
            raise RemoteError(f"cluster {cfg.cluster_name} is missing after its creation succeeded", "apply again")
        return cluster

    def _create_gpu_pool(self, ctx: DeployContext, cfg: Config) -> None:
        from azure.mgmt.containerservice import models as m

        from .azure_common import map_azure_error, pending, wait

        body = m.AgentPool(mode="User", type="VirtualMachineScaleSets", os_type="Linux", vm_size=cfg.node_vm_size,
                           count=cfg.node_min, enable_auto_scaling=True, min_count=cfg.node_min,
                           max_count=cfg.node_max, node_taints=[GPU_TAINT])
        key = f"aks.pool.{cfg.gpu_pool_name}"
        ops = self._cs(ctx, cfg).agent_pools
        try:
            token = pending(ctx, key)
            ctx.step(f"add GPU node pool {cfg.gpu_pool_name} ({cfg.node_vm_size})")
            poller = ops.begin_create_or_update(cfg.resource_group, cfg.cluster_name, cfg.gpu_pool_name, body,
                                                **({"continuation_token": token} if token else {}))
        except Exception as e:  # noqa: BLE001
            raise map_azure_error(e, f"create node pool {cfg.gpu_pool_name}") from e
        wait(poller, ctx, f"create node pool {cfg.gpu_pool_name}", key)

    def _ensure_secret(self, kube: Kube, cfg: Config, manifest: dict) -> dict:
        """The Secret with its key: reuse the live key (clients keep working), else generate one."""
        from .azure_common import register_secret

        live = kube.read("Secret", cfg.secret_name, cfg.namespace)
        key = ""
        if live and (live.get("data") or {}).get("key"):
            key = base64.b64decode(live["data"]["key"]).decode()
        if not key or key == KEY_PLACEHOLDER:
            key = secrets.token_urlsafe(32)
        register_secret(key)
        obj = json.loads(json.dumps(manifest))
        obj.pop("stringData", None)
        obj["data"] = {"key": base64.b64encode(key.encode()).decode()}
        return obj

    def _apply_objects(self, ctx: DeployContext, kube: Kube, objs: list[dict]) -> None:
        for obj in sorted(objs, key=lambda o: ORDER.index(o["kind"])):
            ctx.check_cancelled()
            kube.apply(obj)
            if obj["kind"] != "Secret":
                ctx.emit("info", f"applied {obj['kind']} {obj['metadata']['name']}", object_kind=obj["kind"])

    def _apply_kubernetes(self, ctx: DeployContext, cfg: Config, kube: Kube, manifests: list[dict],
                          previous: list[dict], plan: DeploymentPlan) -> DeploymentResult:
        from .azure_common import emit

        ctx.step(f"server-side apply {len(manifests)} objects to namespace {cfg.namespace}")
        objs = [self._ensure_secret(kube, cfg, o) if o["kind"] == "Secret" else o for o in manifests]
        self._apply_objects(ctx, kube, [o for o in objs if o["kind"] == "Namespace"])
        self._apply_objects(ctx, kube, [o for o in objs if o["kind"] != "Namespace"])
        self._prune(ctx, kube, cfg, manifests)
        ok, why = self.watch_rollout(ctx, kube, cfg)
        url = ""
        smoke_ms: Optional[float] = None
        smoke_resp: Any = None
        if ok:
            url = self._endpoint_url(ctx, cfg, wait_s=cfg.endpoint_timeout_s, kube=kube)
            if cfg.smoke_test:
                ok, why, smoke_ms, smoke_resp = self._smoke(ctx, cfg, kube, url, plan.model_info)
        if ok:
            emit(ctx, "info", f"rollout of {cfg.name} complete", endpoint=url)
            return DeploymentResult(name=cfg.name, target=self.name, status="succeeded", changed=True,
                                    endpoint_url=url, curl=_curl(url), smoke_latency_ms=smoke_ms,
                                    smoke_response=smoke_resp, outputs=self._outputs(cfg, manifests, url),
                                    message=f"{cfg.name} is serving in namespace {cfg.namespace}")
        emit(ctx, "error", f"rollout failed: {why}")
        outcome, live = self._rollback(ctx, kube, cfg, manifests, previous, why)
        url = self._endpoint_url(ctx, cfg, wait_s=0, kube=kube) if live else ""
        return DeploymentResult(name=cfg.name, target=self.name, status="failed", changed=True, endpoint_url=url,
                                curl=_curl(url), outputs=self._outputs(cfg, live, url) | {
                                    "rolled_back": bool(previous), "failure": why},
                                message=f"rollout failed: {why}; {outcome}")

    def _prune(self, ctx: DeployContext, kube: Kube, cfg: Config, manifests: list[dict]) -> None:
        """Delete our objects the new manifests no longer have (e.g. the HPA when replicas became fixed)."""
        wanted = {_key(o) for o in manifests}
        selector = _selector(cfg.name)
        for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"):
            for live in kube.list(kind, cfg.namespace, selector):
                if f"{kind}/{live['metadata']['name']}" not in wanted:
                    kube.delete(kind, live["metadata"]["name"], cfg.namespace)
                    ctx.emit("info", f"deleted {kind} {live['metadata']['name']} (no longer wanted)")

    def watch_rollout(self, ctx: DeployContext, kube: Kube, cfg: Config,
                      timeout_s: Optional[float] = None) -> tuple[bool, str]:
        """Wait until the Deployment's new ReplicaSet is fully available, or say why it is not."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else cfg.rollout_timeout_s)
        started = time.monotonic()
        interval = min(2.0, max(0.05, cfg.rollout_timeout_s / 20))
        last = ""
        while True:
            ctx.check_cancelled()
            dep = kube.read("Deployment", cfg.name, cfg.namespace)
            if dep is None:
                return False, f"Deployment {cfg.name} disappeared"
            gen = (dep.get("metadata") or {}).get("generation") or 0
            st = dep.get("status") or {}
            want = (dep.get("spec") or {}).get("replicas", 1)
            upd, avail, total = st.get("updatedReplicas", 0), st.get("availableReplicas", 0), st.get("replicas", 0)
            msg = f"{upd}/{want} updated, {avail}/{want} available"
            if msg != last:
                ctx.emit("progress", f"rollout {cfg.name}: {msg}", updated=upd, available=avail, replicas=want,
                         elapsed_s=round(time.monotonic() - started, 2))
                last = msg
            if st.get("observedGeneration", 0) >= gen:
                cond = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), None)
                if cond and cond.get("reason") == "ProgressDeadlineExceeded":
                    return False, "ProgressDeadlineExceeded: " + self._diagnose(ctx, kube, cfg)
                if upd >= want and total <= upd and avail >= upd:
                    return True, ""
            if time.monotonic() >= deadline:
                return False, (f"not ready after {cfg.rollout_timeout_s:g} s ({msg}): "
                               + self._diagnose(ctx, kube, cfg))
            ctx.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def _diagnose(self, ctx: DeployContext, kube: Kube, cfg: Config) -> str:
        """Why pods are not ready: scheduling, image pulls, crashes (with the crash log's tail as an event)."""
        from .azure_common import scrub

        reasons: list[str] = []
        try:
            pods = kube.list("Pod", cfg.namespace, _selector(cfg.name))
        except DeployError:
            return "pods could not be listed"
        for pod in pods:
            name = pod["metadata"]["name"]
            st = pod.get("status") or {}
            for c in st.get("conditions") or []:
                if c.get("type") == "PodScheduled" and c.get("status") == "False":
                    reasons.append(f"{name}: unschedulable ({c.get('message') or c.get('reason')})")
            for cs in st.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                term = (cs.get("lastState") or {}).get("terminated") or {}
                if waiting.get("reason"):
                    text = f"{name}: {waiting['reason']}"
                    if waiting.get("message"):
                        text += f" ({waiting['message'][:200]})"
                    if waiting["reason"] in ("ImagePullBackOff", "ErrImagePull"):
                        text += " - check AcrPull for the kubelet identity and the image tag"
                    reasons.append(text)
                if term.get("reason") or waiting.get("reason") == "CrashLoopBackOff":
                    log = kube.pod_log(name, cfg.namespace, tail=20, previous=True)
                    if log:
                        ctx.emit("warning", f"last log lines of {name}:\n{scrub(log)}", pod=name)
                if not cs.get("ready") and not waiting and not term:
                    reasons.append(f"{name}: running but not ready (GET /ready fails)")
        uniq = list(dict.fromkeys(reasons))
        return "; ".join(uniq[:3]) if uniq else "no pod became available"

    def _rollback(self, ctx: DeployContext, kube: Kube, cfg: Config, manifests: list[dict], previous: list[dict],
                  why: str) -> tuple[str, list[dict]]:
        """Back to the last good manifests; with none, remove the failed objects unless keep_failed."""
        if previous:
            ctx.step("rolling back to the previous manifests")
            self._apply_objects(ctx, kube, [o for o in previous if o["kind"] != "Namespace"])
            self._prune(ctx, kube, cfg, previous + [o for o in manifests if o["kind"] in ("Namespace", "Secret")])
            ok, why2 = self.watch_rollout(ctx, kube, cfg)
            if ok:
                ctx.emit("warning", "rolled back: the previous version is serving")
                return "rolled back to the previous version, which is serving", previous
            return f"the rollback did not become ready either: {why2}", previous
        if cfg.keep_failed:
            return "kept the failed objects for debugging (keep_failed=true); destroy removes them", manifests
        ctx.step("no previous version: removing the failed objects")
        for obj in sorted(manifests, key=lambda o: -ORDER.index(o["kind"])):
            if obj["kind"] not in ("Namespace", "Secret"):
                kube.delete(obj["kind"], obj["metadata"]["name"], cfg.namespace)
        return "no previous version to roll back to: removed the failed objects (keep_failed=true keeps them)", []

    def _endpoint_url(self, ctx: DeployContext, cfg: Config, wait_s: float, kube: Optional[Kube] = None) -> str:
        """http://<load balancer IP>:<port>/score, waiting for Azure to assign the IP; in-cluster DNS for ClusterIP."""
        if cfg.service_type != "LoadBalancer":
            return f"http://{cfg.name}.{cfg.namespace}.svc.cluster.local:{cfg.service_port}/score"
        own = kube is None
        kube = kube or self.kube(ctx, cfg)
        try:
            deadline = time.monotonic() + wait_s
            announced = False
            while True:
                svc = kube.read("Service", cfg.name, cfg.namespace)
                ingress = (((svc or {}).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                host = next((i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")), "")
                if host:
                    port = "" if cfg.service_port == 80 else f":{cfg.service_port}"
                    return f"http://{host}{port}/score"
                if time.monotonic() >= deadline:
                    if wait_s:
                        ctx.emit("warning", "the load balancer has no IP yet; `deploy-advisor status` shows it later")
                    return ""
                if not announced:
                    ctx.emit("progress", "waiting for the load balancer IP")
                    announced = True
                ctx.sleep(min(2.0, max(0.05, wait_s / 20)))
        finally:
            if own:
                kube.close()

    def _scoring_key(self, kube: Kube, cfg: Config) -> str:
        from .azure_common import register_secret

        live = kube.read("Secret", cfg.secret_name, cfg.namespace)
        data = (live or {}).get("data") or {}
        if not data.get("key"):
            raise NotFoundError(f"scoring key secret {cfg.secret_name} not found", "apply the deployment again")
        key = base64.b64decode(data["key"]).decode()
        register_secret(key)
        return key

    def _post(self, url: str, key: str, payload: Any, timeout: float = 30.0) -> InvokeResult:
        with needs_extra("aks"):
            import httpx

        started = time.perf_counter()
        try:
            r = httpx.post(url, json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)
        except httpx.HTTPError as e:
            raise RemoteError(f"cannot reach {url}: {e.__class__.__name__}",
                              "check the load balancer and the pods (`deploy-advisor status`)",
                              code="NetworkError", category="network") from None
        ms = (time.perf_counter() - started) * 1000
        try:
            body: Any = r.json()
        except ValueError:
            body = r.text[:2000]
        return InvokeResult(status_code=r.status_code, latency_ms=round(ms, 2), response=body,
                            request_id=r.headers.get("x-request-id", ""))

    def _smoke(self, ctx: DeployContext, cfg: Config, kube: Kube, url: str,
               info: Optional[ModelInfo]) -> tuple[bool, str, Optional[float], Any]:
        from . import images

        if not url or cfg.service_type != "LoadBalancer":
            ctx.emit("warning", "smoke test skipped: no external address to call")
            return True, "", None, None
        key = self._scoring_key(kube, cfg)

        def post(payload: Any) -> tuple[int, float, Any]:
            res = self._post(url, key, payload, timeout=_client_timeout(cfg))
            return res.status_code, res.latency_ms, res.response

        out = images.smoke_test(ctx, info, post, url)
        return out.ok, out.why, out.latency_ms, None if out.response is None else scrub_data_safe(out.response)

    def _outputs(self, cfg: Config, manifests: list[dict], url: str) -> dict[str, Any]:
        return {"cluster": cfg.cluster_name, "kube_context": cfg.kube_context,
                "resource_group": "" if cfg.use_context else cfg.resource_group, "namespace": cfg.namespace,
                "image": cfg.user_image or cfg.image, "service": cfg.name, "endpoint_url": url,
                "secret": cfg.secret_name,
                "manifests": [o for o in manifests if o["kind"] != "Secret"]}

    # ------------------------------------------------------------------ operate
    def _record(self, name: str, ctx: DeployContext) -> Optional[Config]:
        """The resolved settings of the last applied plan (ledger), which status/invoke/destroy act on."""
        from .ledger import Ledger

        row = Ledger(ctx.state_dir).get_deployment(name)
        if not row:
            return None
        plan = row.get("plan") or {}
        if plan.get("target") == self.name and plan.get("settings"):
            return Config.load(plan["settings"])
        for run in reversed(Ledger(ctx.state_dir).runs(name)):  # a failed first apply: its plan is on the run
            p = run.get("plan") or {}
            if p.get("target") == self.name and p.get("settings"):
                return Config.load(p["settings"])
        return None

    def status(self, name: str, ctx: DeployContext) -> Status:
        cfg = self._record(name, ctx)
        if cfg is None:
            return Status(name=name, target=self.name, state="not-found", message="no aks deployment in the ledger")
        if not cfg.use_context and self._get_cluster(ctx, cfg) is None:
            return Status(name=name, target=self.name, state="not-found",
                          message=f"cluster {cfg.cluster_name} not found")
        kube = self.kube(ctx, cfg)
        try:
            dep = kube.read("Deployment", cfg.name, cfg.namespace)
            if dep is None:
                return Status(name=name, target=self.name, state="not-found",
                              message=f"Deployment {cfg.namespace}/{cfg.name} not found")
            url = self._endpoint_url(ctx, cfg, wait_s=0, kube=kube)
        finally:
            kube.close()
        st = dep.get("status") or {}
        want = (dep.get("spec") or {}).get("replicas", 1)
        avail = st.get("availableReplicas", 0)
        cond = {c.get("type"): c for c in st.get("conditions") or []}
        prog = cond.get("Progressing") or {}
        if prog.get("reason") == "ProgressDeadlineExceeded":
            state = "failed"
        elif want == 0:
            state = "stopped"
        elif avail >= want and st.get("updatedReplicas", 0) >= want:
            state = "running"
        elif avail > 0:
            state = "degraded"
        else:
            state = "provisioning"
        image = ((((dep.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}])[0].get("image", "")
        return Status(name=name, target=self.name, state=state, endpoint_url=url,
                      message=f"{avail}/{want} replicas available" + (f"; {prog.get('message')}" if prog.get("message") else ""),
                      details={"namespace": cfg.namespace, "cluster": cfg.cluster_name, "image": image,
                               "replicas": want, "available": avail, "updated": st.get("updatedReplicas", 0),
                               "conditions": [{k: c.get(k) for k in ("type", "status", "reason")} for c in cond.values()]})

    def invoke(self, name: str, payload: Any, ctx: DeployContext) -> InvokeResult:
        cfg = self._record(name, ctx)
        if cfg is None:
            raise NotFoundError(f"no aks deployment named {name!r}", "see `deploy-advisor list`")
        kube = self.kube(ctx, cfg)
        try:
            url = self._endpoint_url(ctx, cfg, wait_s=0, kube=kube)
            if not url or cfg.service_type != "LoadBalancer":
                raise RemoteError(f"{name} has no external address",
                                  "use service_type=LoadBalancer, or call it from inside the cluster")
            key = self._scoring_key(kube, cfg)
        finally:
            kube.close()
        return self._post(url, key, payload, timeout=_client_timeout(cfg))

    def logs(self, name: str, ctx: DeployContext, tail: int = 100) -> str:
        from .azure_common import scrub

        cfg = self._record(name, ctx)
        if cfg is None:
            raise NotFoundError(f"no aks deployment named {name!r}", "see `deploy-advisor list`")
        kube = self.kube(ctx, cfg)
        try:
            pods = kube.list("Pod", cfg.namespace, _selector(cfg.name))
            parts = []
            for pod in sorted(pods, key=lambda p: p["metadata"]["name"]):
                pname = pod["metadata"]["name"]
                parts.append(f"==> pod {pname} <==\n{kube.pod_log(pname, cfg.namespace, tail=tail).rstrip()}")
        finally:
            kube.close()
        return scrub("\n".join(parts)) if parts else f"no pods of {name} in namespace {cfg.namespace}"

    def _release_registry(self, ctx: DeployContext, cfg: Config, name: str, deleted: list[str]) -> str:
        """Delete the registry when we created it and no other deployment uses it; says what was kept."""
        from . import images

        if cfg.user_image:
            return ""
        gone, why = images.release_registry(ctx, deployment=name, subscription=cfg.subscription,
                                            resource_group=cfg.registry_resource_group, name=cfg.registry)
        if gone:
            deleted.append(f"registry/{cfg.registry}")
            return ""
        return why

    def destroy(self, name: str, ctx: DeployContext) -> DestroyResult:
        """Delete the labelled Kubernetes objects, the namespace and cluster only when we created them."""
        from . import images
        from .azure_common import is_ours, map_azure_error, wait

        cfg = self._record(name, ctx)
        if cfg is None:
            return DestroyResult(name=name, target=self.name, already_absent=True, message="nothing recorded")
        deleted: list[str] = []
        cluster = None if cfg.use_context else self._get_cluster(ctx, cfg)  # an existing context: never touched
        if cluster is None and not cfg.use_context:
            kept = self._release_registry(ctx, cfg, name, deleted)
            return DestroyResult(name=name, target=self.name, deleted=deleted, already_absent=not deleted,
                                 message=f"cluster {cfg.cluster_name} not found" + (f"; {kept}" if kept else ""))
        kube = self.kube(ctx, cfg)
        others = False
        try:
            selector = _selector(name)
            for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Deployment", "Secret"):
                for obj in kube.list(kind, cfg.namespace, selector):
                    if kube.delete(kind, obj["metadata"]["name"], cfg.namespace):
                        deleted.append(f"{kind}/{cfg.namespace}/{obj['metadata']['name']}")
                        ctx.emit("info", f"deleted {kind} {obj['metadata']['name']}")
            ns = kube.read("Namespace", cfg.namespace)
            labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
            if ns and labels.get("deploy-advisor-deployment") == name and labels.get("managed-by") == "deploy-advisor":
                foreign = [f"{k}/{o['metadata']['name']}" for k in ("Deployment", "Service", "Pod")
                           for o in kube.list(k, cfg.namespace, "")]
                if foreign:  # deleting a namespace deletes everything in it: only when nothing else lives there
                    ctx.emit("warning", f"namespace {cfg.namespace} kept: it also holds {', '.join(foreign[:5])}")
                elif kube.delete("Namespace", cfg.namespace):
                    deleted.append(f"Namespace/{cfg.namespace}")
        finally:
            kube.close()
        if cluster is not None and is_ours(cluster.tags, name) and cfg.create_cluster:
            kube = self.kube(ctx, cfg)
            try:
                others = [f"{d['metadata'].get('namespace')}/{d['metadata']['name']}" for d in _all_deployments(kube)
                          if not _system_namespace(d["metadata"].get("namespace", ""))
                          and (d["metadata"].get("labels") or {}).get("deploy-advisor-deployment") != name]
            finally:
                kube.close()
            if others:
                ctx.emit("warning", f"cluster {cfg.cluster_name} kept: it also runs {', '.join(others[:5])}")
            else:
                kubelet = _kubelet_object_id(cluster)
                if kubelet and not cfg.user_image:
                    try:
                        if images.delete_acr_pull(ctx, registry_id=cfg.registry_id, principal_id=kubelet):
                            deleted.append(f"roleAssignment/AcrPull/{cfg.registry}")
                    except DeployError as e:
                        ctx.emit("warning", f"AcrPull assignment not removed: {e.message}")
                ctx.step(f"delete cluster {cfg.cluster_name} (created for {name})")
                try:
                    poller = self._cs(ctx, cfg).managed_clusters.begin_delete(cfg.resource_group, cfg.cluster_name)
                except Exception as e:  # noqa: BLE001
                    raise map_azure_error(e, f"delete cluster {cfg.cluster_name}") from e
                wait(poller, ctx, f"delete cluster {cfg.cluster_name}")
                deleted.append(f"managedCluster/{cfg.cluster_name}")
        kept = self._release_registry(ctx, cfg, name, deleted) if not others else ""
        msg = ("deleted " + ", ".join(deleted)) if deleted else "nothing left to delete"
        msg += f"; {kept}" if kept else ""
        return DestroyResult(name=name, target=self.name, deleted=deleted, already_absent=not deleted, message=msg)


# ----------------------------------------------------------------- helpers


def _client_timeout(cfg: Config) -> float:
    """How long invoke and the smoke test wait: past the server's own timeout, so its 504 arrives."""
    return float(max(30, cfg.server_timeout_s + 10))


def _dns_prefix(cluster: str) -> str:
    s = re.sub(r"[^a-zA-Z0-9-]", "-", cluster)[:54].strip("-")
    return s if s and s[0].isalnum() else f"da{s}"


def _selector(name: str) -> str:
    return f"app.kubernetes.io/instance={name},app.kubernetes.io/managed-by=deploy-advisor"


def _kubelet_object_id(cluster: Any) -> str:
    if cluster is None:
        return ""
    ident = (getattr(cluster, "identity_profile", None) or {}).get("kubeletidentity")
    return getattr(ident, "object_id", "") or "" if ident is not None else ""


def _all_deployments(kube: Kube) -> list[dict]:
    """Deployments in every namespace (does anything else run on the cluster?)."""
    fn = kube._apis["AppsV1Api"].list_deployment_for_all_namespaces  # noqa: SLF001
    out = kube._call("list deployments", fn)  # noqa: SLF001
    return list((out or {}).get("items") or [])


_SYSTEM_NAMESPACES = {"gatekeeper-system", "calico-system", "tigera-operator", "app-routing-system", "aks-command",
                      "default"}


def _system_namespace(ns: str) -> bool:
    """Namespaces AKS and its add-ons run in (their workloads do not make the cluster 'shared')."""
    return ns.startswith("kube-") or ns in _SYSTEM_NAMESPACES


def _supported_minors(versions: Any) -> set[str]:
    out = set()
    items = getattr(versions, "values_property", None)  # `values` is the Mapping method on these models
    if items is None and not callable(getattr(versions, "values", None)):
        items = getattr(versions, "values", None)
    for v in items or []:
        if getattr(v, "is_preview", False):
            continue
        if v.version:
            out.add(".".join(v.version.split(".")[:2]))
    return out


def _vm_from_sku(sku: Any) -> Optional[VmFacts]:
    if sku is None:
        return None
    caps = {c.name: c.value for c in (sku.capabilities or [])}
    try:
        return VmFacts(name=sku.name, vcpus=float(caps.get("vCPUs", 0)), memory_gb=float(caps.get("MemoryGB", 0)),
                       gpus=int(float(caps.get("GPUs", 0) or 0)), family=sku.family or "", source="azure")
    except ValueError:
        return None


def _sku_restricted(sku: Any, location: str) -> str:
    for r in (getattr(sku, "restrictions", None) or []):
        if str(getattr(r, "reason_code", "")) == "NotAvailableForSubscription":
            return "not available for this subscription"
        if str(getattr(r, "type", "")) == "Location":
            return "restricted in this region"
    return ""


def _curl(url: str) -> str:
    if not url:
        return ""
    return (f"curl -s -X POST {url} -H \"Authorization: Bearer $SCORING_KEY\" -H 'Content-Type: application/json' "
            "-d @payload.json")


def scrub_data_safe(obj: Any) -> Any:
    from .azure_common import scrub_data

    return scrub_data(obj)


def _readme(cfg: Config, image: str, files: list[str]) -> str:
    if cfg.user_image:
        build = ""
    elif not cfg.tag:  # a registered model: downloaded on apply, then the tag is known
        build = ("## Image\n\nThe model is registered, not local: `deploy-advisor apply` downloads it first, then "
                 "builds the image (tagged with the hash of the build context). To build by hand, download it "
                 "(e.g. `az ml model download`) and export again with that folder as the model.\n\n")
    else:
        build = (f"## Image\n\nThe build context is in `build/`. Build it yourself with\n\n"
                 f"    az acr build -r {cfg.registry} -t {cfg.repository}:{cfg.tag} build/\n\n")
    if cfg.use_context:
        where = (f"# {cfg.name} on your cluster\n\nExisting cluster context `{cfg.kube_context}` (no Azure cluster), "
                 f"namespace `{cfg.namespace}`, image `{image}`.\n\n")
        connect = f"    kubectl config use-context {cfg.kube_context}\n"
    else:
        rg = cfg.resource_group or "<resource-group>"  # planned offline: no group known yet, say where it goes
        where = (f"# {cfg.name} on AKS\n\nCluster `{cfg.cluster_name}` (resource group `{rg}`), "
                 f"namespace `{cfg.namespace}`, image `{image}`.\n\n")
        connect = f"    az aks get-credentials -n {cfg.cluster_name} -g {rg}\n"
    return (f"{where}{build}"
            "## Manifests\n\n`kubernetes/` holds the objects in apply order. The Secret's key is a placeholder: "
            "deploy-advisor generates the real key at apply time. By hand:\n\n"
            f"{connect}"
            f"    kubectl create namespace {cfg.namespace}\n"
            f"    kubectl -n {cfg.namespace} create secret generic {cfg.secret_name} "
            "--from-literal=key=$(openssl rand -hex 24)\n"
            "    kubectl apply --server-side --field-manager deploy-advisor "
            + " ".join(f"-f {rel}" for rel in files if not rel.endswith("-secret.yaml")) + "\n")
