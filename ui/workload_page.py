"""Workload page: the profile form (DESIGN.md §2), presets, YAML import/export, and a live ranking.

Every widget writes straight into the session's profile when the whole form
validates; an invalid field keeps the last valid profile and shows its error
right under the widget. The ranking beside the form re-ranks on each change.
"""
from __future__ import annotations

import streamlit as st

from advisor.models import ProfileError, WorkloadProfile, parse_profile_text, profile_to_yaml
from ui import forms, render, state
from ui.profile_help import GROUPS, HELP, LABELS
from ui.streamlit_app import page

KEY = "wf"
PRESET_KEY = "wf_preset"
IMPORT_ERROR = "wf_import_error"
LAST_PRESET = "wf_last_preset"
SPECS = forms.field_specs(WorkloadProfile, HELP, LABELS, skip=("model.calibration",))
MAX_UPLOAD_MB = 1


def _use(p: WorkloadProfile, source: str) -> None:
    state.set_profile(p, source)
    forms.seed(KEY, SPECS, p, force=True)
    st.session_state.pop(IMPORT_ERROR, None)


def _on_preset() -> None:
    name = st.session_state.get(PRESET_KEY)
    if not name:
        return
    try:
        _use(state.load_preset(name), f"preset: {name}")
        st.session_state[LAST_PRESET] = name
    except ProfileError as e:
        st.session_state[IMPORT_ERROR] = str(e)


def _on_reset() -> None:
    st.session_state[PRESET_KEY] = st.session_state.get(LAST_PRESET, state.DEFAULT_PRESET)
    _on_preset()


def _on_paste() -> None:
    text = st.session_state.get("wf_yaml_text", "")
    try:
        _use(parse_profile_text(text, "pasted YAML"), "imported: pasted YAML")
    except ProfileError as e:
        st.session_state[IMPORT_ERROR] = str(e)


def _on_upload() -> None:
    f = st.session_state.get("wf_upload")
    if f is None:
        return
    try:
        text = f.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.session_state[IMPORT_ERROR] = f"{f.name}: not a UTF-8 text file"
        return
    try:
        _use(parse_profile_text(text, f.name), f"imported: {f.name}")
    except ProfileError as e:
        st.session_state[IMPORT_ERROR] = str(e)


def _current() -> tuple[WorkloadProfile | None, dict[str, str]]:
    """The profile the widgets describe now, or the per-field errors."""
    data, errors = forms.collect(KEY, SPECS)
    calib = state.profile().model.calibration
    if calib is not None:
        data.setdefault("model", {})["calibration"] = calib.model_dump(mode="json")
    p, verrors = forms.validate(WorkloadProfile, data)
    return p, {**verrors, **errors}  # type: ignore[return-value]


def _toolbar() -> None:
    names = list(state.presets())
    st.session_state.setdefault(LAST_PRESET, state.DEFAULT_PRESET if state.DEFAULT_PRESET in names else
                                (names[0] if names else None))
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    if PRESET_KEY not in st.session_state:  # seeded right before its widget (see forms.render_field)
        st.session_state[PRESET_KEY] = st.session_state[LAST_PRESET]
    c1.selectbox("Preset", names, key=PRESET_KEY, on_change=_on_preset,
                 help="Example workloads from examples/profiles/; picking one replaces the form.")
    c2.button("Reset to preset", on_click=_on_reset, icon=":material/restart_alt:", width="stretch",
              disabled=not names)
    # the YAML is built when clicked, so it is the profile as edited by then (the form reruns on its own)
    c3.download_button("Export YAML", lambda: profile_to_yaml(state.profile()), file_name="profile.yaml",
                       mime="application/x-yaml", icon=":material/download:", width="stretch", on_click="ignore")
    with st.expander("Import a profile (YAML or JSON)", icon=":material/upload:"):
        st.file_uploader("Profile file", type=["yaml", "yml", "json"], key="wf_upload", on_change=_on_upload,
                         max_upload_size=MAX_UPLOAD_MB)
        st.text_area("…or paste it here", key="wf_yaml_text", height=140,
                     placeholder="inference:\n  peak_rps: 50\n  p95_latency_ms: 200")
        st.button("Use pasted profile", on_click=_on_paste, icon=":material/check:")
    if st.session_state.get(IMPORT_ERROR):
        st.error("Import failed — " + render.esc(st.session_state[IMPORT_ERROR]), icon=":material/error:")


def _form(errors: dict[str, str]) -> None:
    by_group: dict[str, list[forms.FieldSpec]] = {}
    for spec in SPECS:
        by_group.setdefault(spec.group, []).append(spec)
    for group, specs in by_group.items():
        title, blurb = GROUPS.get(group, (group, ""))
        with st.container(border=True):
            st.markdown(f"**{title}**")
            st.caption(blurb)
            forms.render_fields(specs, KEY, errors)
            if group == "inference":
                avg, peak = (st.session_state.get(f"{KEY}.inference.average_rps"),
                             st.session_state.get(f"{KEY}.inference.peak_rps"))
                if avg is not None and peak is not None and avg > peak:
                    st.warning("Average traffic is above the peak: check the two values.", icon=":material/warning:")
    other = {k: v for k, v in errors.items() if k not in {s.path for s in SPECS}}
    for path, msg in other.items():
        st.error(f"{render.esc(path or 'profile')}: {render.esc(msg)}", icon=":material/error:")


def _live_ranking(p: WorkloadProfile | None, n_errors: int) -> None:
    with st.container(border=True, key="live_ranking"):
        st.markdown("**:material/leaderboard: Live ranking**")
        if p is None:
            st.warning(f"Fix {n_errors} field{'s' if n_errors != 1 else ''} to re-rank "
                       "(showing the last valid profile).", icon=":material/warning:")
            p = state.profile()
        st.caption(f"For {p.inference.peak_rps:g} rps at peak · p95 ≤ {p.inference.p95_latency_ms:g} ms · "
                   f"{render.esc(p.region)}")
        try:
            rec = state.recommend(p)
        except Exception as e:  # shown, not raised: the form must stay usable
            render.error(e, "recommend")
            return
        if not rec.options:
            st.info("No target fits this profile; see the Recommendation page for why.")
        for i, opt in enumerate(rec.options, 1):
            st.markdown(f"**{i}. {render.esc(state.target_title(opt.target))}**  \n"
                        f"{opt.score:.1f} pts · {render.money(opt.cost.monthly_usd)} / month  \n"
                        f":gray[{render.esc(opt.sizing.sku)} × {opt.sizing.instances}]")
        if rec.excluded:
            st.caption("Excluded: " + ", ".join(render.esc(state.target_title(x.target)) for x in rec.excluded))
        st.page_link(page("recommendation_page.py"), label="Full recommendation", icon=":material/arrow_forward:")


@st.fragment
def _editor() -> None:
    """Form + live ranking; a field change reruns only this part of the page (faster re-ranking)."""
    p, errors = _current()
    if p is not None and p != state.profile():
        state.set_profile(p, "edited")
    left, right = st.columns([5, 2], gap="medium")
    with right:  # drawn first so the new ranking reaches the browser before the (unchanged) form
        _live_ranking(p, len(errors))
    with left:
        _form(errors)


def main() -> None:
    state.ensure()
    forms.seed(KEY, SPECS, state.profile())
    render.page_header("Workload", "Describe how the model will be used. Every field has a sensible default; "
                       "hover the ? icons for what it means.")
    _toolbar()
    _editor()


main()
