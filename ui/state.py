"""Session state shared by the pages, and cached calls into the facade.

Each page reads and writes the same few keys (the profile, the chosen model),
so moving between pages never loses work. Widget values are copied into these
keys because Streamlit forgets a widget's value once its page is left.
"""
from __future__ import annotations

import base64
import json
import zlib
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
MODEL_FACTS = "model_facts"  # the chosen model's facts (ModelFacts as a dict): what "overridden" compares with
PRESET = "preset"  # the workload preset last chosen
RESTORE_NOTE = "restore_note"  # why a shared link could not be restored (shown once)
SAVED = "saved_draft"
WELCOMED = "welcomed"  # the first-visit welcome was dismissed
MODEL_FROM = "model_from"  # "link" | "default" until the draft has been consulted  # the last draft written, to skip rewriting an unchanged one

# URL query parameters that carry the work (a reload or a shared link restores it)
Q_PROFILE, Q_MODEL, Q_PRESET = "p", "model", "preset"
MAX_PARAM = 8000


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

# ---------------------------------------------------------------- the work, kept in the URL and a draft

def encode_work(p: "WorkloadProfile", facts: Optional[dict]) -> str:
    """Profile (and the model's facts) as a compact URL-safe string: only what differs from the defaults."""
    doc = {"p": p.model_dump(mode="json", exclude_defaults=True), "f": facts or None}
    raw = zlib.compress(json.dumps(doc, separators=(",", ":"), sort_keys=True).encode(), 9)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_work(text: str) -> tuple["WorkloadProfile", Optional[dict]]:
    """The inverse of encode_work; ProfileError when the text is not one (a hand-edited or cut link)."""
    from advisor.models import ModelFacts, ProfileError, parse_profile

    try:
        if len(text) > MAX_PARAM:
            raise ValueError("too long")
        raw = zlib.decompressobj().decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), 64_000)
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not a mapping")
    except (ValueError, zlib.error) as e:
        raise ProfileError(f"the link's workload could not be read ({e.__class__.__name__})") from None
    p = parse_profile(doc.get("p") or {}, "link")
    facts = doc.get("f")
    facts = ModelFacts.model_validate(facts).model_dump(mode="json") if isinstance(facts, dict) else None
    return p, facts


def _usable_uri(uri: Any) -> Optional[str]:
    if isinstance(uri, str) and uri.strip() and len(uri) <= 4096 and "\x00" not in uri and "\n" not in uri:
        return uri.strip()
    return None


def draft_read() -> bool:
    return "_draft" in st.session_state


def draft() -> dict:
    """The draft saved in the state dir (read once per session)."""
    ss = st.session_state
    if "_draft" not in ss:
        from deployers import api

        ss["_draft"] = api.load_ui_draft() or {}
    return ss["_draft"]


def ensure_model() -> None:
    """The session's model from the URL, else the sample for now: the Model page opens without reading the
    draft (that needs deployers.api, ~0.3 s of imports); `ensure` adopts the draft's model later."""
    ss = st.session_state
    if MODEL_URI not in ss:
        uri = _usable_uri(st.query_params.get(Q_MODEL))
        ss[MODEL_URI] = uri or SAMPLE_URI
        ss[MODEL_INFO] = None
        ss[MODEL_FROM] = "link" if uri else "default"
    ss.setdefault(MODEL_INFO, None)


def _adopt_draft_model() -> None:
    """The draft's model (and its resolved facts) for a session that has not chosen one yet."""
    ss = st.session_state
    how = ss.pop(MODEL_FROM, None)
    d = draft()
    uri = _usable_uri(d.get("model"))
    if how == "default" and uri:
        ss[MODEL_URI] = uri
    if uri and uri == ss.get(MODEL_URI) and isinstance(d.get("model_info"), dict) and not ss.get(MODEL_INFO):
        ss[MODEL_INFO] = d["model_info"]


def _restore() -> bool:
    """Profile, model facts and preset from the URL, else from the draft; False when neither has one."""
    from advisor.models import ProfileError

    ss = st.session_state
    for where, text in (("link", st.query_params.get(Q_PROFILE)), ("draft", draft().get("work"))):
        if not text:
            continue
        try:
            p, facts = decode_work(str(text))
        except ProfileError as e:
            ss[RESTORE_NOTE] = f"The {where}'s workload could not be restored: {e}"
            continue
        ss[PROFILE], ss[PROFILE_SOURCE] = p, f"restored from the {where}"
        ss[MODEL_FACTS] = facts or p.model.model_dump(mode="json")
        preset = st.query_params.get(Q_PRESET) if where == "link" else draft().get("preset")
        if preset in presets():
            ss[PRESET] = preset
        return True
    return False


def ensure() -> None:
    """Initialise the session once: the work from the URL or draft, else the default preset and sample model."""
    from advisor.models import ProfileError, WorkloadProfile

    ss = st.session_state
    ensure_model()
    if MODEL_FROM in ss:
        _adopt_draft_model()
    if PROFILE not in ss and not _restore():
        try:
            ss[PROFILE] = load_preset(DEFAULT_PRESET)
            ss[PROFILE_SOURCE] = f"preset: {DEFAULT_PRESET}"
            ss[PRESET] = DEFAULT_PRESET
        except ProfileError:
            ss[PROFILE] = WorkloadProfile()
            ss[PROFILE_SOURCE] = "defaults"
    ss.setdefault(MODEL_FACTS, ss[PROFILE].model.model_dump(mode="json"))


def persist() -> None:
    """Write the work to the URL (reload, shared link) and to the draft in the state dir (cheap when unchanged)."""
    ss = st.session_state
    if PROFILE not in ss:  # the Model page before any profile: the URL names a model only once one is chosen
        if ss.get(MODEL_URI) and ss.get(MODEL_FROM) != "default":
            st.query_params[Q_MODEL] = ss[MODEL_URI]
        return
    work = encode_work(ss[PROFILE], ss.get(MODEL_FACTS))
    params = {Q_PROFILE: work, Q_MODEL: ss.get(MODEL_URI) or SAMPLE_URI}
    if ss.get(PRESET):
        params[Q_PRESET] = ss[PRESET]
    for k, v in params.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    info = ss.get(MODEL_INFO)
    if info and len(json.dumps(info, default=str)) > 32_000:  # a huge input example: the draft keeps the URI only
        info = None
    doc = {"work": work, "model": params[Q_MODEL], "preset": ss.get(PRESET), "welcomed": ss.get(WELCOMED, False),
           "model_info": info}
    if ss.get(SAVED) != doc:
        from deployers import api

        try:
            api.save_ui_draft(doc)
        except OSError:  # a read-only state dir loses only the draft; the URL still has the work
            return
        ss[SAVED] = doc


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


@st.cache_resource(show_spinner=False)
def regions() -> dict[str, dict]:
    """Region name -> catalog facts and reference price (api.regions), priced regions first."""
    from deployers import api

    return {r["name"]: r for r in api.regions()}


def fits_budget(opt: Any, budget: Optional[float]) -> Optional[bool]:
    """The advisor's fits-budget verdict when it gives one; else the plain comparison; None without a budget."""
    given = getattr(opt, "fits_budget", None)
    if given is not None or budget is None:
        return given
    return opt.cost.monthly_usd <= budget


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
