"""Session state shared by the pages, and cached calls into the facade.

Each page reads and writes the same few keys (the profile, the chosen model),
so moving between pages never loses work. Widget values are copied into these
keys because Streamlit forgets a widget's value once its page is left.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import streamlit as st

if TYPE_CHECKING:
    from advisor.models import Recommendation, WorkloadProfile

# advisor.models / deployers.api (pydantic and friends) are imported inside the functions that need them:
# the first page must appear fast, and the Model page needs neither until a button is pressed.
SAMPLE_URI = "models:/sample-classifier/1"  # == deployers.model_resolution.SAMPLE_URI (a test checks it)

ROOT = Path(__file__).resolve().parent.parent
PRESETS_DIR = ROOT / "examples" / "profiles"
DEFAULT_PRESET = "sample"

PROFILE = "profile"  # WorkloadProfile: the last valid profile
PROFILE_SOURCE = "profile_source"  # where it came from (preset name, "imported", "edited")
MODEL_URI = "model_uri"
MODEL_INFO = "model_info"  # ModelInfo as a dict, once resolved


# ---------------------------------------------------------------- presets

def presets() -> dict[str, Path]:
    """Preset name -> file, from examples/profiles (sample first)."""
    files = sorted(PRESETS_DIR.glob("*.yaml")) + sorted(PRESETS_DIR.glob("*.yml"))
    found = {p.stem: p for p in files}
    if DEFAULT_PRESET in found:
        found = {DEFAULT_PRESET: found.pop(DEFAULT_PRESET), **found}
    return found


def load_preset(name: str) -> "WorkloadProfile":
    from advisor.models import ProfileError
    from deployers import api

    path = presets().get(name)
    if path is None:
        raise ProfileError(f"no preset named {name!r}")
    return api.load_profile(path)


# ---------------------------------------------------------------- session

def ensure_model() -> None:
    """The session's model defaults to the sample (cheap: no imports)."""
    st.session_state.setdefault(MODEL_URI, SAMPLE_URI)
    st.session_state.setdefault(MODEL_INFO, None)


def ensure() -> None:
    """Initialise the session once: the default preset and the sample model."""
    from advisor.models import ProfileError, WorkloadProfile

    ss = st.session_state
    if PROFILE not in ss:
        try:
            ss[PROFILE] = load_preset(DEFAULT_PRESET)
            ss[PROFILE_SOURCE] = f"preset: {DEFAULT_PRESET}"
        except ProfileError:
            ss[PROFILE] = WorkloadProfile()
            ss[PROFILE_SOURCE] = "defaults"
    ensure_model()


def profile() -> "WorkloadProfile":
    ensure()
    return st.session_state[PROFILE]


def set_profile(p: "WorkloadProfile", source: str) -> None:
    st.session_state[PROFILE] = p
    st.session_state[PROFILE_SOURCE] = source


def model_uri() -> str:
    ensure_model()
    return st.session_state[MODEL_URI]


def context():
    """A fresh DeployContext from the environment (DEPLOY_ADVISOR_HOME, AZURE_*)."""
    from deployers import api

    return api.context()


# ---------------------------------------------------------------- cached facade calls

@st.cache_data(max_entries=512, show_spinner=False)
def _recommend_json(profile_json: str) -> dict:
    from advisor.models import WorkloadProfile
    from deployers import api

    return api.recommend(WorkloadProfile.model_validate_json(profile_json)).model_dump(mode="json")


def recommend(p: "WorkloadProfile") -> "Recommendation":
    """The ranking for a profile; cached on the profile's JSON so re-ranking is instant."""
    from advisor.models import Recommendation

    return Recommendation.model_validate(_recommend_json(p.model_dump_json()))


TRAFFIC_POINTS = (0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


@st.cache_data(max_entries=64, show_spinner=False)
def _cost_curve_json(profile_json: str) -> list[dict]:
    from advisor.models import WorkloadProfile
    from deployers import api

    base = WorkloadProfile.model_validate_json(profile_json)
    peak = base.inference.peak_rps
    ratio = (base.inference.average_rps / peak) if peak > 0 else 0.25
    points = sorted({*TRAFFIC_POINTS, peak} - {0})
    rows: list[dict] = []
    for rps in points:
        inference = base.inference.model_copy(update={"peak_rps": rps, "average_rps": round(rps * min(ratio, 1.0), 4)})
        rec = api.recommend(base.model_copy(update={"inference": inference}))
        for opt in rec.options:
            rows.append({"peak_rps": rps, "target": opt.target, "monthly_usd": round(opt.cost.monthly_usd, 2),
                         "sku": opt.sizing.sku, "instances": opt.sizing.instances, "score": round(opt.score, 1)})
    return rows


def cost_curve(p: "WorkloadProfile") -> list[dict]:
    """Monthly cost of each viable target as peak traffic varies (average keeps its ratio to peak)."""
    return _cost_curve_json(p.model_dump_json())


@st.cache_resource(show_spinner=False)
def targets() -> list[dict]:
    from deployers import api

    return api.targets()


def target_title(name: str) -> str:
    return TITLES.get(name) or next((t.get("title") or name for t in targets() if t["name"] == name), name)


TITLES = {
    "azureml": "Azure ML online endpoint",
    "aks": "Azure Kubernetes Service",
    "appservice": "Azure App Service",
    "azureml-batch": "Azure ML batch endpoint",
    "containerapps": "Azure Container Apps",
    "local": "This machine (local)",
}


@st.cache_data(ttl=60, show_spinner=False)
def credentials_missing(target: str) -> Optional[str]:
    """Sign-in instructions when the target cannot apply (cached briefly: it may probe credentials)."""
    from deployers import api

    return api.credentials_missing(target)


def profile_json_pretty(p: "WorkloadProfile") -> str:
    return json.dumps(json.loads(p.model_dump_json()), indent=2)


def remember(key: str, value: Any) -> None:
    st.session_state[key] = value
