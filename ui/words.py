"""Human words for the advisor's internal names: criteria, enum values, sensitivity changes, sources.

The advisor speaks in field paths and ids (`scale.scale_to_zero=true`, `ops_burden`); the pages show
these labels instead. An unknown name falls back to a readable form of itself, so a new criterion or
field added to the advisor still reads well before it gets a label here.
"""
from __future__ import annotations

import re
from typing import Any

from ui.profile_help import LABELS

CRITERIA: dict[str, str] = {
    "purpose": "Fit for the purpose",
    "focus": "Focus of the service",
    "deployment_type": "Deployment style",
    "training_automl": "Training and AutoML",
    "scalability": "Scalability",
    "gpu": "GPU support",
    "integration": "Integrations",
    "monitoring": "Monitoring and drift",
    "ideal_user": "Fit for the team",
    "registry": "Model registry",
    "latency": "Latency target",
    "isolation": "Network isolation",
    "auth": "Authentication",
    "rollout": "Rollout strategy",
    "availability": "Availability",
    "ops_burden": "Operations burden",
    "scale_to_zero": "Scale to zero",
    "quota": "Quota and limits",
    "cost": "Monthly cost",
    "budget": "Budget",
}

# Dropdown labels per profile field value (the stored value stays the schema's).
CHOICES: dict[str, dict[Any, str]] = {
    "model.framework": {"sklearn": "scikit-learn", "xgboost": "XGBoost", "lightgbm": "LightGBM",
                        "pytorch": "PyTorch", "tensorflow": "TensorFlow", "onnx": "ONNX",
                        "transformers": "Hugging Face Transformers", "custom": "Other / custom"},
    "model.format": {"mlflow": "MLflow model", "custom": "Custom scoring script"},
    "inference.mode": {"realtime": "Real-time (HTTPS requests)", "batch": "Batch (score files)",
                       "both": "Both real-time and batch"},
    "inference.pattern": {"steady": "Steady", "diurnal": "Day/night cycle", "bursty": "Bursty spikes",
                          "sporadic": "Sporadic, long idle gaps"},
    "inference.gpu": {"none": "No GPU (CPU only)", "preferred": "GPU if it pays off", "required": "GPU required"},
    "security.network": {"public": "Public endpoint", "managed-vnet": "Platform-managed private network",
                         "custom-vnet": "My own virtual network", "on-premises": "On premises (Azure Arc)"},
    "security.auth": {"key": "API key", "entra": "Microsoft Entra ID tokens", "none": "None (anonymous)"},
    "team.kind": {"data-science": "Data scientists", "app-dev": "App developers", "platform": "Platform team"},
    "team.kubernetes_skill": {"none": "None", "basic": "Basic", "expert": "Expert"},
    "operations.rollout": {"simple": "Replace in place", "blue-green": "Blue-green swap",
                           "canary": "Canary (traffic split)", "shadow": "Shadow (mirrored traffic)"},
}

REQUIREMENTS = {"mode": "Inference mode", "rps": "Traffic (rps)", "bandwidth": "Bandwidth", "p95": "p95 latency",
                "timeout": "Request timeout", "sla": "Availability SLA", "budget": "Budget", "network": "Network",
                "auth": "Authentication", "scale_to_zero": "Scale to zero", "gpu": "GPU", "region": "Region"}

TARGET_SHORT = {"azureml": "Azure ML", "aks": "AKS", "appservice": "App Service",
                "containerapps": "Container Apps", "azureml-batch": "Azure ML batch", "local": "Local"}


def readable(name: str) -> str:
    """`ops_burden` -> `Ops burden`: the fallback for names without a label."""
    text = re.sub(r"[_.-]+", " ", str(name)).strip()
    return text[:1].upper() + text[1:]


def criterion(name: str) -> str:
    return CRITERIA.get(name) or readable(name)


def requirement(name: str) -> str:
    return REQUIREMENTS.get(name) or readable(name)


def short(target: str) -> str:
    return TARGET_SHORT.get(target, target)


def choice(path: str, value: Any) -> str:
    """A dropdown option's label; None is "not set"."""
    if value is None:
        return "—"
    return CHOICES.get(path, {}).get(value) or str(value)


def field(path: str) -> str:
    return LABELS.get(path) or readable(path.rsplit(".", 1)[-1])


_CHANGE = re.compile(r"^\s*([a-z_]+(?:\.[a-z_]+)?)\s*(=|>=|<=|>|<)\s*(.+?)\s*$")


def change(text: str) -> str:
    """A sensitivity change in plain words: `scale.scale_to_zero=true` -> "Scale to zero when idle: on"."""
    m = _CHANGE.match(text or "")
    if not m:
        return str(text)  # already words (the advisor may phrase it itself)
    path, op, raw = m.groups()
    label = field(path)
    if op == "=":
        if raw in ("true", "false"):
            return f"{label}: {'yes' if raw == 'true' else 'no'}"
        return f"{label}: {choice(path, raw)}"
    words = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}[op]
    return f"{label} {words} {raw}"


def source_link(source: str) -> tuple[str, str]:
    """(label, url) for a fact's source: a web address is a link; a repository note is shown inline (no url)."""
    s = str(source or "").strip()
    if s.startswith(("http://", "https://")):
        host = re.sub(r"^https?://", "", s).split("/", 1)[0]
        return host, s
    return s, ""


_IDS = re.compile(r"\b(azureml-batch|azureml|aks|appservice|containerapps)\b(?![-.:/])")
_PAIR = re.compile(r"\b([a-z_]+\.[a-z_]+)=([A-Za-z0-9_.-]+)")


def plain(text: str) -> str:
    """Advisor prose with target ids and `field=value` pairs in words (links and paths are left alone)."""
    text = _PAIR.sub(lambda m: change(f"{m.group(1)}={m.group(2)}"), str(text))
    return _IDS.sub(lambda m: short(m.group(1)), text)
