"""The advisor's data contracts (DESIGN.md §2 and §5).

Every profile field has a default so `{}` is a valid profile; unknown keys are
errors. Validation errors are turned into one line naming the field path by
`describe_validation_error`, which the CLI and the UI both use.
"""
from __future__ import annotations

import difflib
import functools
import json
import re
from pathlib import Path
from typing import Any, Literal, Optional
from zoneinfo import available_timezones

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .safe_load import MAX_BYTES, DocumentError, dump_yaml, load_json, load_yaml, short, short_text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Framework = Literal["sklearn", "xgboost", "lightgbm", "pytorch", "tensorflow", "onnx", "transformers", "custom"]


class Calibration(_Strict):
    """Service time measured by `deploy-advisor benchmark` on one machine.

    `service_ms_batch1` is one predict call for one row; `per_row_ms` is the
    marginal cost of each extra row in a batch; both on `cores` cores of `cpu`.
    """

    service_ms_batch1: float = Field(gt=0)
    per_row_ms: float = Field(default=0.0, ge=0)
    max_rps_one_core: Optional[float] = Field(default=None, gt=0)
    best_batch_size: int = Field(default=1, ge=1)
    cores: int = Field(default=1, ge=1)
    cpu: str = ""
    measured_at: str = ""


class ModelFacts(_Strict):
    framework: Framework = "sklearn"
    format: Literal["mlflow", "custom"] = "mlflow"
    size_mb: float = Field(default=40, ge=0, le=1_000_000)
    from_registry: bool = False
    calibration: Optional[Calibration] = None


class Inference(_Strict):
    mode: Literal["realtime", "batch", "both"] = "realtime"
    peak_rps: float = Field(default=20, ge=0, le=1_000_000)
    average_rps: float = Field(default=5, ge=0, le=1_000_000)
    pattern: Literal["steady", "diurnal", "bursty", "sporadic"] = "steady"
    p95_latency_ms: float = Field(default=500, gt=0, le=3_600_000)
    payload_kb: float = Field(default=4, ge=0, le=1_000_000)
    max_request_seconds: float = Field(default=1, gt=0, le=86_400)
    gpu: Literal["none", "preferred", "required"] = "none"

    @model_validator(mode="after")
    def _average_within_peak(self) -> "Inference":
        if self.average_rps > self.peak_rps:
            raise ValueError(f"average_rps {self.average_rps:g} is above peak_rps {self.peak_rps:g}; "
                             "the average cannot exceed the peak")
        return self


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class Schedule(_Strict):
    """Busy hours (e.g. business hours): outside them the workload scales to its minimum.

    `days` is a comma list of days or ranges (`mon-fri`, `mon,wed,fri`, `sat-sun`); `hours` is
    `HH:MM-HH:MM` in `timezone` (an IANA name). Cost is priced for these hours at peak.
    """

    days: str = "mon-fri"
    hours: str = "08:00-18:00"
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _valid_days(cls, v: str) -> str:
        day_set(v)  # raises ValueError with a readable message
        return v

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, v: str) -> str:
        hours_span(v)
        return v

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, v: str) -> str:
        if v not in _timezones():
            near = difflib.get_close_matches(v, sorted(_timezones()), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(near)}?" if near else " (an IANA name such as Europe/Paris)"
            raise ValueError(f"unknown time zone {v!r}{hint}")
        return v

    def busy_hours_per_week(self) -> float:
        return len(day_set(self.days)) * hours_span(self.hours)


def day_set(spec: str) -> list[str]:
    """The days a schedule names, in week order; ValueError on a bad spec."""
    chosen: set[int] = set()
    for part in (p.strip().lower() for p in spec.split(",")):
        ends = [e.strip()[:3] for e in part.split("-")]
        if not part or len(ends) > 2 or any(e not in _DAYS for e in ends):
            raise ValueError(f"days {spec!r} must name days or ranges of mon, tue, wed, thu, fri, sat, sun "
                             "(e.g. mon-fri or mon,wed,fri)")
        first, last = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
        chosen.update(span)
    return [_DAYS[i] for i in sorted(chosen)]


def hours_span(spec: str) -> float:
    """Length in hours of an `HH:MM-HH:MM` window; ValueError when malformed or empty."""
    m = _HOURS.match(spec.strip())
    if not m:
        raise ValueError(f"hours {spec!r} must look like 08:00-18:00")
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4])
    if end > 24 * 60 or end <= start:
        raise ValueError(f"hours {spec!r} must end after they start, within one day")
    return (end - start) / 60


@functools.lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


class Scale(_Strict):
    scale_to_zero: bool = False
    availability_sla: float = Field(default=99.9, ge=0, le=100)
    schedule: Optional[Schedule] = None


class Security(_Strict):
    network: Literal["public", "managed-vnet", "custom-vnet", "on-premises"] = "public"
    auth: Literal["key", "entra", "none"] = "key"


class Team(_Strict):
    kind: Literal["data-science", "app-dev", "platform"] = "data-science"
    kubernetes_skill: Literal["none", "basic", "expert"] = "none"
    existing_aks: bool = False
    existing_web_app: bool = False
    needs_kubernetes_api: bool = False


Integration = Literal["databricks", "data-factory", "data-lake", "app-insights", "functions", "sql-database"]


class Operations(_Strict):
    drift_monitoring: bool = False
    rollout: Literal["simple", "blue-green", "canary", "shadow"] = "simple"
    integrations: list[Integration] = Field(default_factory=list)


class Budget(_Strict):
    monthly_usd: Optional[float] = Field(default=None, ge=0)


REGIONS_FILE = Path(__file__).parent / "data" / "regions.yaml"


@functools.lru_cache(maxsize=1)
def known_regions() -> dict[str, dict[str, Any]]:
    """Azure region name -> facts (geography, zones, ...) from data/regions.yaml (Learn's region list)."""
    return yaml.safe_load(REGIONS_FILE.read_text(encoding="utf-8"))["regions"]


def check_region(name: str) -> str:
    """`name` when it is a known Azure region; otherwise ValueError naming the nearest valid ones."""
    regions = known_regions()
    if name in regions:
        return name
    near = difflib.get_close_matches(name, list(regions), n=3, cutoff=0.6)
    if not near:  # e.g. "europe": names that contain it, or share its first letters
        near = [r for r in regions if name in r or r.startswith(name[:4])][:3]
    hint = f"; nearest valid: {', '.join(near)}" if near else "; see https://learn.microsoft.com/azure/reliability/regions-list"
    raise ValueError(f"unknown Azure region {name!r}{hint}")


class WorkloadProfile(_Strict):
    """A workload. `region` may be given as a list (active in each region): `region` then holds the
    first (primary) one, which deployers use, and `regions` all of them in order."""

    name: str = Field(default="workload", max_length=120)
    region: str = Field(default="eastus", pattern=r"^[a-z][a-z0-9]{1,40}$")
    regions: list[str] = Field(default_factory=list, max_length=10)
    model: ModelFacts = Field(default_factory=ModelFacts)
    inference: Inference = Field(default_factory=Inference)
    scale: Scale = Field(default_factory=Scale)
    security: Security = Field(default_factory=Security)
    team: Team = Field(default_factory=Team)
    operations: Operations = Field(default_factory=Operations)
    budget: Budget = Field(default_factory=Budget)

    @model_validator(mode="before")
    @classmethod
    def _region_list(cls, data: Any) -> Any:
        """`region: [a, b]` means active in a and b: primary `region` a, `regions` [a, b]."""
        if isinstance(data, dict) and isinstance(data.get("region"), list):
            listed = data["region"]
            if not listed:
                raise ValueError("region: an empty list names no region")
            if "regions" in data and data["regions"] != listed:
                raise ValueError("region and regions disagree: give the list once, as region")
            data = {**data, "region": listed[0], "regions": listed}
        return data

    @field_validator("region")
    @classmethod
    def _known_region(cls, v: str) -> str:
        return check_region(v)

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        for name in v:
            if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9]{1,40}", name):
                raise ValueError(f"{name!r} is not a region name like eastus")
            check_region(name)
        if len(set(v)) != len(v):
            raise ValueError("a region is listed twice")
        return v

    @model_validator(mode="after")
    def _primary_first(self) -> "WorkloadProfile":
        if self.regions and self.regions[0] != self.region:
            raise ValueError(f"region {self.region!r} must be the first of regions {self.regions}")
        return self

    @property
    def active_regions(self) -> list[str]:
        """Every region the workload runs in (one, unless a list was given)."""
        return list(self.regions) or [self.region]


# ---------------------------------------------------------------- recommendation


class CriterionScore(BaseModel):
    name: str
    score: float  # 0-100
    weight: float
    reason: str
    source: str = ""


class Sizing(BaseModel):
    sku: str
    instances: int
    min: int
    max: int
    vcpus_per_instance: int = 0
    workers_per_instance: int = 1
    service_ms: float = 0.0
    service_time_measured: bool = False
    predicted_p95_ms: Optional[float] = None
    quota_cores: Optional[int] = None
    notes: list[str] = Field(default_factory=list)
    #: requests one instance serves at once, as the plan sets it (e.g. max_concurrent_requests_per_instance)
    concurrency: int = 0
    #: Little's law: requests in flight at peak = peak rps x request duration
    in_flight_at_peak: float = 0.0
    #: rps at which the plan saturates at its autoscale maximum (with the service time used for sizing)
    saturation_rps: Optional[float] = None


Requirement = Literal["mode", "rps", "bandwidth", "p95", "timeout", "sla", "budget", "network", "auth",
                      "scale_to_zero", "gpu", "region"]


class Verdict(BaseModel):
    """One stated requirement against one option: met, met with a change (named), or not met."""

    requirement: Requirement
    status: Literal["met", "met-with-change", "not-met"]
    detail: str  # the requirement against the target's limit, in plain words
    change: str = ""  # what to request, set or do (met-with-change), or what would satisfy it (not-met)
    source: str = ""  # Learn URL of the fact the verdict rests on


class Cost(BaseModel):
    monthly_usd: float
    breakdown: dict[str, float] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)


class Option(BaseModel):
    target: str
    score: float
    criteria: list[CriterionScore]
    sizing: Sizing
    cost: Cost
    reasons: list[str]
    verdicts: list[Verdict] = Field(default_factory=list)
    fits_budget: Optional[bool] = None  # None: no budget set

    def verdict(self, requirement: str) -> Optional[Verdict]:
        return next((v for v in self.verdicts if v.requirement == requirement), None)


class Excluded(BaseModel):
    target: str
    reasons: list[str]


class Sensitivity(BaseModel):
    change: str  # e.g. "team.kubernetes_skill=expert"; the advisor's own assumptions start with "assumption:"
    new_winner: str
    explanation: str
    said: str = ""  # the change in plain words, e.g. "If the team were expert in Kubernetes"


class Recommendation(BaseModel):
    options: list[Option]
    excluded: list[Excluded]
    prices_as_of: str
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)  # which inputs were measured / estimated
    headline: str = ""  # one line leading the answer, e.g. "No target meets every requirement: ..."
    meets_all: bool = True  # some option meets every stated requirement (possibly with a change)

    @property
    def top(self) -> Optional[Option]:
        return self.options[0] if self.options else None


class ModelInfo(BaseModel):
    """What a model reference resolved to (deployers fill it; the advisor reads `facts`)."""

    uri: str
    name: str
    version: str = ""
    flavor: str = ""  # e.g. sklearn, python_function
    framework: Framework = "custom"
    format: Literal["mlflow", "custom"] = "custom"
    size_mb: float = 0.0
    signature: Optional[dict[str, Any]] = None
    input_example: Optional[Any] = None
    requirements: list[str] = Field(default_factory=list)
    local_path: Optional[str] = None
    source: str = ""  # local | mlflow-registry | azureml
    calibration: Optional[Calibration] = None

    def facts(self, base: Optional[ModelFacts] = None) -> ModelFacts:
        base = base or ModelFacts()
        return base.model_copy(update={
            "framework": self.framework, "format": self.format,
            "size_mb": round(self.size_mb, 3) if self.size_mb else base.size_mb,
            "from_registry": self.source == "azureml-registry" or base.from_registry,
            "calibration": self.calibration or base.calibration,
        })


# ---------------------------------------------------------------- loading + errors


class ProfileError(ValueError):
    """Bad profile input; str() is one line naming the file and field."""


def describe_validation_error(err: ValidationError, source: str = "") -> str:
    """First error as `file: a.b: message (got X)` — one line, no traceback."""
    first = err.errors()[0]
    path = short_text(".".join(str(p) for p in first["loc"])) or "(root)"
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        msg = "unknown field"
    elif kind == "missing":
        msg = "is required"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ctx = first.get("ctx", {})
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values())) if ctx else "?"
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        msg = f"must be {op} {bound} (got {short(got)})"
    elif kind == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        msg = f"must be one of {expected} (got {short(got)})"
    elif kind == "value_error":  # our own validators: their message is already written for users
        msg = short_text(str(first.get("ctx", {}).get("error", first["msg"])))
    else:
        text = first["msg"]
        msg = f"{text[:1].lower()}{short_text(text[1:])} (got {short(got)})"
    prefix = f"{source}: " if source else ""
    if not first["loc"] and kind == "value_error":  # a whole-profile rule: its message names the fields
        return f"{prefix}{msg}"
    return f"{prefix}{path}: {msg}"


def parse_profile(data: Any, source: str = "") -> WorkloadProfile:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProfileError(f"{source + ': ' if source else ''}a profile must be a mapping of fields, got {type(data).__name__}")
    try:
        return WorkloadProfile.model_validate(data)
    except ValidationError as e:
        raise ProfileError(describe_validation_error(e, source)) from None


def parse_profile_text(text: str, source: str = "", *, json_only: Optional[bool] = None) -> WorkloadProfile:
    """YAML (or JSON) text -> profile. A source ending in `.json` is parsed as strict JSON."""
    if json_only is None:
        json_only = source.lower().endswith(".json")
    try:
        if not text.strip():
            data = {}
        elif json_only:
            data = load_json(text, source)
        else:
            data = load_yaml(text, source, what="YAML or JSON")
    except DocumentError as e:
        raise ProfileError(str(e)) from None
    return parse_profile(data, source)


def load_profile(path: str | Path) -> WorkloadProfile:
    p = Path(path)
    where = short_text(str(p))  # a path argument can be any length
    try:
        if not p.is_file():
            raise ProfileError(f"{where}: no such profile file")
        if p.stat().st_size > MAX_BYTES:
            raise ProfileError(f"{where}: larger than {MAX_BYTES // 1000} kB: not a workload profile")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ProfileError(f"{where}: cannot read profile ({e.__class__.__name__})") from None
    return parse_profile_text(text, where)


def profile_to_yaml(profile: WorkloadProfile) -> str:
    return dump_yaml(json.loads(profile.model_dump_json()))
