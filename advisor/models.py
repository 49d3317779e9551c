"""The advisor's data contracts (DESIGN.md §2 and §5).

Every profile field has a default so `{}` is a valid profile; unknown keys are
errors. Validation errors are turned into one line naming the field path by
`describe_validation_error`, which the CLI and the UI both use.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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


class Scale(_Strict):
    scale_to_zero: bool = False
    availability_sla: float = Field(default=99.9, ge=0, le=100)


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


class WorkloadProfile(_Strict):
    name: str = Field(default="workload", max_length=120)
    region: str = Field(default="eastus", pattern=r"^[a-z][a-z0-9]{1,40}$")
    model: ModelFacts = Field(default_factory=ModelFacts)
    inference: Inference = Field(default_factory=Inference)
    scale: Scale = Field(default_factory=Scale)
    security: Security = Field(default_factory=Security)
    team: Team = Field(default_factory=Team)
    operations: Operations = Field(default_factory=Operations)
    budget: Budget = Field(default_factory=Budget)


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


class Excluded(BaseModel):
    target: str
    reasons: list[str]


class Sensitivity(BaseModel):
    change: str  # e.g. "team.kubernetes_skill=expert"
    new_winner: str
    explanation: str


class Recommendation(BaseModel):
    options: list[Option]
    excluded: list[Excluded]
    prices_as_of: str
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)  # which inputs were measured / estimated

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
