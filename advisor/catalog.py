"""The advisor's data, loaded once: sources, compute sizes, criteria weights, and the targets.

Everything here is read from `advisor/data/*.yaml`; this module only turns it into small read-only
objects. Every fact keeps the key of its source, so an explanation can cite the Microsoft Learn page
(or the user's notes) it came from: `target.facts.cite("request_timeout_s")`.

Targets are classes (advisor/targets/<id>.py) found through the entry-point group
`deploy_advisor.targets`; the built-in ones are also listed here so a plain checkout works.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Optional

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"
TARGETS_GROUP = "deploy_advisor.targets"

#: the built-in targets, in the order that breaks ties in the ranking (plug-ins come after, by id)
BUILTIN_TARGETS = {
    "azureml": "advisor.targets.azureml:AzureML",
    "aks": "advisor.targets.aks:AKS",
    "appservice": "advisor.targets.appservice:AppService",
    "containerapps": "advisor.targets.containerapps:ContainerApps",
    "azureml-batch": "advisor.targets.azureml_batch:AzureMLBatch",
}
TARGET_ORDER = tuple(BUILTIN_TARGETS)


def read_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def short_label(url: str) -> str:
    """A compact label for reason text, e.g. `Learn: how-to-manage-quotas`."""
    if url.startswith("seed/azure-ml-notes.md"):
        return "your notes, azure-ml-notes.md"
    if url.startswith("shared/"):
        return url.rsplit("/", 1)[-1]
    tail = url.split("://", 1)[-1].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    if "learn.microsoft.com" in url:
        return f"Learn: {tail}"
    if "github.com" in url:
        parts = url.split("github.com/", 1)[-1].split("/")
        return "GitHub: " + "/".join(parts[:2]) + (f"#{parts[-1]}" if len(parts) > 3 else "")
    return tail


@dataclass(frozen=True)
class Source:
    key: str
    url: str
    title: str
    short: str


def read_sources(raw: dict) -> dict[str, Source]:
    return {k: Source(k, v["url"], v.get("title", ""), short_label(v["url"])) for k, v in (raw or {}).items()}


@lru_cache(maxsize=1)
def sources() -> dict[str, Source]:
    """The shared sources (advisor/data/sources.yaml); a target's own file may add more."""
    return read_sources(read_yaml(DATA_DIR / "sources.yaml")["sources"])


@dataclass(frozen=True)
class Fact:
    value: Any
    source: Source
    note: str = ""
    verified: bool = True


class Facts:
    """A target's facts by name, each with its source: `facts.value("sla")`, `facts.cite("sla")`."""

    def __init__(self, owner: str, raw: dict, known: dict[str, Source], rows: Optional[dict] = None) -> None:
        self.owner = owner
        self.by_name: dict[str, Fact] = {}
        #: the target's rows of the table criteria: {criterion: {"scores": {value: 0-100}, "text", "url", "short"}}
        self.rows: dict[str, dict] = {}
        for cid, row in (rows or {}).items():
            if row.get("src") not in known:
                raise ValueError(f"{owner}: scores.{cid}: unknown source key {row.get('src')!r}")
            src = known[row["src"]]
            self.rows[cid] = {"scores": dict(row["scores"]), "text": row["text"], "url": src.url, "short": src.short}
        for name, f in raw.items():
            if not isinstance(f, dict) or "src" not in f:
                raise ValueError(f"{owner}.{name}: a fact needs a value and a src")
            if f["src"] not in known:
                raise ValueError(f"{owner}.{name}: unknown source key {f['src']!r}")
            self.by_name[name] = Fact(f.get("value"), known[f["src"]], str(f.get("note", "")),
                                      bool(f.get("verified", True)))
        self.values = {name: f.value for name, f in self.by_name.items()}  # (read on every evaluation)

    def row(self, criterion: str) -> dict:
        """This target's row of a table criterion (its `scores:` entry in the target's YAML file)."""
        try:
            return self.rows[criterion]
        except KeyError:
            raise ValueError(f"{self.owner}: no `scores.{criterion}` row in its data file") from None

    def __contains__(self, name: str) -> bool:
        return name in self.by_name

    def value(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def cite(self, name: str) -> str:
        """Source URL of a fact."""
        f = self.by_name.get(name)
        return f.source.url if f else ""

    def short(self, name: str) -> str:
        """Compact source label of a fact, for reason text."""
        f = self.by_name.get(name)
        return f.source.short if f else ""

    def note(self, name: str) -> str:
        f = self.by_name.get(name)
        return f.note if f else ""

    def verified(self, name: str) -> bool:
        f = self.by_name.get(name)
        return bool(f and f.verified)


@dataclass(frozen=True)
class VmSku:
    name: str
    vcpu: float
    mem_gib: float
    gpus: int = 0
    gpu_model: str = ""
    gpu_mem_gib: float = 0.0
    family: str = ""
    quota_exempt: bool = False
    tier: str = ""  # App Service plans only

    @property
    def is_gpu(self) -> bool:
        return self.gpus > 0


@dataclass(frozen=True)
class AppServiceTier:
    name: str
    max_instances: int
    autoscale: bool
    slots: bool


@dataclass
class Skus:
    """Compute sizes (advisor/data/skus.yaml): VM sizes, App Service plans and tiers, Container Apps sizes."""

    vm: dict[str, VmSku]
    appservice_plans: dict[str, VmSku]
    appservice_tiers: dict[str, AppServiceTier]
    containerapps: dict[str, VmSku]

    def get(self, name: str) -> Optional[VmSku]:
        return self.vm.get(name) or self.appservice_plans.get(name) or self.containerapps.get(name)


@lru_cache(maxsize=1)
def skus() -> Skus:
    raw = read_yaml(DATA_DIR / "skus.yaml")
    vm = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"], gpus=v.get("gpus", 0), gpu_model=v.get("gpu_model", ""),
                   gpu_mem_gib=v.get("gpu_mem_gib", 0.0), family=v.get("family", ""),
                   quota_exempt=v.get("quota_exempt", False)) for k, v in raw["vm_skus"].items()}
    plans = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"], tier=v["tier"])
             for k, v in raw["appservice_plans"].items()}
    tiers = {k: AppServiceTier(k, v["max_instances"], v["autoscale"], v["slots"])
             for k, v in raw["appservice_tiers"].items()}
    aca = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"]) for k, v in raw["containerapps_sizes"].items()}
    return Skus(vm, plans, tiers, aca)


@lru_cache(maxsize=1)
def criteria_specs() -> dict[str, dict]:
    """advisor/data/criteria.yaml: each criterion's title, weight and (table criteria) input, in display order."""
    return read_yaml(DATA_DIR / "criteria.yaml")


def _load_class(ref: str) -> type:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def target_classes() -> dict[str, str]:
    """target id -> 'module:Class': the built-ins, then every `deploy_advisor.targets` entry point."""
    found = dict(BUILTIN_TARGETS)
    for ep in sorted(entry_points(group=TARGETS_GROUP), key=lambda e: e.name):
        found.setdefault(ep.name, ep.value)
    return found


@lru_cache(maxsize=1)
def targets() -> dict[str, Any]:
    """Every advice target, loaded once: {id: instance of its class}, in tie-break order."""
    out = {}
    for tid, ref in target_classes().items():
        target = _load_class(ref)()
        if target.id != tid:
            raise ValueError(f"entry point {tid!r} loads a target whose id is {target.id!r}")
        out[tid] = target
    return out


def target_summaries() -> list[dict[str, str]]:
    """What each cloud target is for (used by `deploy-advisor targets`)."""
    return [{"id": t.id, "title": t.title, "purpose": t.purpose, "recommended_for": t.facts.value("recommended_for"),
             "source": t.facts.cite("recommended_for")} for t in targets().values()]
