"""Facts about each deployment target, loaded once from `advisor/data/targets.yaml`.

The YAML is the data; this module only turns it into small read-only objects
that the criteria, sizing and cost code can read quickly. Every fact keeps the
key of its source so an explanation can cite the Microsoft Learn page (or the
user's notes) it came from: `target.cite("request_timeout_s")`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Optional

import yaml

#: the package's data folder (from the package's own __init__: a compiled module's __file__ is not its source's)
DATA_DIR = Path(sys.modules[__name__.rpartition(".")[0]].__file__ or ".").resolve().parent / "data"
TARGETS_FILE = DATA_DIR / "targets.yaml"

#: Ranking order used as the final, deterministic tie-break.
TARGET_ORDER: Final[tuple[str, ...]] = ("azureml", "aks", "appservice", "containerapps", "azureml-batch")


def _short_label(url: str) -> str:
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
    short: str = ""


@dataclass(frozen=True)
class Fact:
    value: Any
    src: str
    note: str = ""
    verified: bool = True


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
    src: str


@dataclass
class Target:
    id: str
    title: str
    purpose: str
    facts: dict[str, Fact]
    skus: tuple[VmSku, ...] = ()
    # hot facts copied to attributes for speed
    realtime: bool = True
    gpu: Any = False
    scale_to_zero: bool = False
    request_timeout_s: Optional[float] = None
    max_instances: int = 1
    networks: tuple[str, ...] = ()
    auth: tuple[str, ...] = ()
    catalog: Any = field(default=None, repr=False)  # the Catalog (set by load_catalog)

    _values: dict = field(default_factory=dict, repr=False)
    _urls: dict = field(default_factory=dict, repr=False)
    _shorts: dict = field(default_factory=dict, repr=False)
    _notes: dict = field(default_factory=dict, repr=False)
    headline: str = field(default="", repr=False)  # "Title: purpose.", the first line of an option's reasons
    #: ha_min_instances / zone_min_instances as ints (sizing reads them for every plan; 1 when the fact is absent)
    ha_min: int = field(default=1, repr=False)
    zone_min: int = field(default=1, repr=False)

    def index(self) -> None:
        """Precompute lookups (facts are read on every recommendation)."""
        src = self.catalog.sources
        self._values = {k: f.value for k, f in self.facts.items()}
        self._urls = {k: src[f.src].url for k, f in self.facts.items()}
        self._shorts = {k: src[f.src].short for k, f in self.facts.items()}
        self._notes = {k: f.note for k, f in self.facts.items()}
        self.headline = f"{self.title}: {self.purpose}."
        ha, zone = self._values.get("ha_min_instances"), self._values.get("zone_min_instances")
        self.ha_min = 1 if ha is None else int(ha)
        self.zone_min = 1 if zone is None else int(zone)

    def v(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def cite(self, name: str) -> str:
        """Source URL of a fact."""
        return self._urls.get(name, "")

    def cite_short(self, name: str) -> str:
        """Compact source label of a fact, for reason text."""
        return self._shorts.get(name, "")

    def note(self, name: str) -> str:
        return self._notes.get(name, "")


@dataclass
class Catalog:
    as_of: str
    sources: dict[str, Source]
    targets: dict[str, Target]
    vm_skus: dict[str, VmSku]
    appservice_plans: dict[str, VmSku]
    appservice_tiers: dict[str, AppServiceTier]
    containerapps_sizes: dict[str, VmSku]

    def source(self, key: str) -> Source:
        return self.sources[key]

    def url(self, key: str) -> str:
        return self.sources[key].url

    def short(self, key: str) -> str:
        return self.sources[key].short

    def sku(self, name: str) -> VmSku:
        return self.vm_skus.get(name) or self.appservice_plans.get(name) or self.containerapps_sizes[name]


def _fact(raw: Any) -> Fact:
    if isinstance(raw, dict) and "src" in raw:
        return Fact(value=raw.get("value"), src=str(raw["src"]), note=str(raw.get("note", "")),
                    verified=bool(raw.get("verified", True)))
    raise ValueError(f"fact without a source: {raw!r}")


def load_catalog(path: Path | str = TARGETS_FILE) -> Catalog:
    raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    sources = {k: Source(k, v["url"], v.get("title", ""), _short_label(v["url"])) for k, v in raw["sources"].items()}
    vm = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"], gpus=v.get("gpus", 0), gpu_model=v.get("gpu_model", ""),
                   gpu_mem_gib=v.get("gpu_mem_gib", 0.0), family=v.get("family", ""), quota_exempt=v.get("quota_exempt", False))
          for k, v in raw["vm_skus"].items()}
    plans = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"], tier=v["tier"]) for k, v in raw["appservice_plans"].items()}
    tiers = {k: AppServiceTier(k, v["max_instances"], v["autoscale"], v["slots"], v["src"]) for k, v in raw["appservice_tiers"].items()}
    aca = {k: VmSku(name=k, vcpu=v["vcpu"], mem_gib=v["mem_gib"]) for k, v in raw["containerapps_sizes"].items()}
    cat = Catalog(as_of=str(raw["as_of"]), sources=sources, targets={}, vm_skus=vm, appservice_plans=plans,
                  appservice_tiers=tiers, containerapps_sizes=aca)
    for tid, t in raw["targets"].items():
        facts = {k: _fact(v) for k, v in t.items() if k not in ("title", "purpose")}
        for k, f in facts.items():
            if f.src not in sources:
                raise ValueError(f"{tid}.{k}: unknown source key {f.src!r}")
        names = facts["skus"].value
        skus = tuple(vm.get(n) or plans.get(n) or aca[n] for n in names)
        target = Target(id=tid, title=t["title"], purpose=t["purpose"], facts=facts, skus=skus,
                        realtime=bool(facts["realtime"].value), gpu=facts["gpu"].value,
                        scale_to_zero=bool(facts["scale_to_zero"].value),
                        request_timeout_s=facts["request_timeout_s"].value,
                        max_instances=int(facts["max_instances"].value),
                        networks=tuple(facts["networks"].value), auth=tuple(facts["auth"].value), catalog=cat)
        target.index()
        cat.targets[tid] = target
    missing = set(TARGET_ORDER) - set(cat.targets)
    if missing:
        raise ValueError(f"targets.yaml lacks targets: {sorted(missing)}")
    return cat


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The catalog, loaded once per process."""
    return load_catalog()


def target_summaries() -> list[dict[str, str]]:
    """What each cloud target is for (used by `deploy-advisor targets`)."""
    cat = get_catalog()
    out = []
    for tid in TARGET_ORDER:
        t = cat.targets[tid]
        out.append({"id": tid, "title": t.title, "purpose": t.purpose,
                    "recommended_for": t.v("recommended_for"), "source": t.cite("recommended_for")})
    return out
