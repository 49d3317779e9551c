"""Workload page: the profile form (DESIGN.md §2), presets, YAML import/export, and a live ranking.

Every widget writes straight into the session's profile when the whole form
validates; an invalid field keeps the last valid profile and shows its error
right under the widget. The ranking beside the form re-ranks on each change.
"""
from __future__ import annotations

import streamlit as st

from advisor.models import ProfileError, WorkloadProfile, parse_profile_text, profile_to_yaml
from ui import forms, render, state, words
from ui.profile_help import GROUPS, HELP, LABELS
from ui.streamlit_app import page

KEY = "wf"
PRESET_KEY = "wf_preset"
IMPORT_ERROR = "wf_import_error"
LAST_PRESET = state.PRESET
PASTE_NOTE = "wf_paste_note"
LAST_RANKED = "wf_last_ranked"  # (profile JSON, winner) the live ranking last showed
WINNER_NOTE = "wf_winner_note"
SPECS = forms.field_specs(WorkloadProfile, HELP, LABELS, skip=("model.calibration",), choices=words.CHOICES)
MODEL_FIELDS = [s for s in SPECS if s.group == "model"]
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
        # a preset describes a workload; the model facts stay the chosen model's (and the user's overrides)
        p = state.load_preset(name).model_copy(update={"model": state.profile().model})
        _use(p, f"preset: {name}")
        st.session_state[LAST_PRESET] = name
    except ProfileError as e:
        st.session_state[IMPORT_ERROR] = str(e)


def _on_reset() -> None:
    st.session_state[PRESET_KEY] = st.session_state.get(LAST_PRESET, state.DEFAULT_PRESET)
    _on_preset()


def _on_paste() -> None:
    text = st.session_state.get("wf_yaml_text", "")
    st.session_state.pop(PASTE_NOTE, None)
    if not str(text).strip():  # nothing pasted: say so, keep the work
        st.session_state[PASTE_NOTE] = "Paste a profile (YAML or JSON) in the box first; nothing was changed."
        return
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
    if st.session_state.get(LAST_PRESET) not in names:
        st.session_state[LAST_PRESET] = state.DEFAULT_PRESET if state.DEFAULT_PRESET in names else (
            names[0] if names else None)
    c1, c2, c3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    if PRESET_KEY not in st.session_state:  # seeded right before its widget (see forms.render_field)
        st.session_state[PRESET_KEY] = st.session_state[LAST_PRESET]
    c1.selectbox("Preset", names, key=PRESET_KEY, on_change=_on_preset,
                 help="Example workloads from examples/profiles/; picking one replaces the workload, "
                 "not the model facts (those come from the chosen model).")
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
        if st.session_state.get(PASTE_NOTE):
            st.info(render.esc(st.session_state[PASTE_NOTE]), icon=":material/info:")
    if st.session_state.get(IMPORT_ERROR):
        st.error("Import failed — " + render.esc(st.session_state[IMPORT_ERROR]), icon=":material/error:")


def _form(errors: dict[str, str]) -> None:
    by_group: dict[str, list[forms.FieldSpec]] = {}
    for spec in SPECS:
        by_group.setdefault(spec.group, []).append(spec)
    for group, specs in by_group.items():
        title, blurb = GROUPS.get(group, (group, ""))
        with st.container(border=True, key=f"wf_group_{group or 'general'}"):
            st.markdown(f"**{title}**")
            st.caption(blurb)
            if group == "":
                _general(specs, errors)
            else:
                forms.render_fields(specs, KEY, errors)
            if group == "model":
                _model_overrides()
            if group == "inference":
                avg, peak = (st.session_state.get(f"{KEY}.inference.average_rps"),
                             st.session_state.get(f"{KEY}.inference.peak_rps"))
                if avg is not None and peak is not None and avg > peak:
                    st.warning("Average traffic is above the peak: check the two values.", icon=":material/warning:")
    other = {k: v for k, v in errors.items() if k not in {s.path for s in SPECS}}
    for path, msg in other.items():
        st.error(f"{render.esc(path or 'profile')}: {render.esc(msg)}", icon=":material/error:")


def _region_label(name: str) -> str:
    r = state.regions().get(name)
    if r is None:
        return f"{name} (not in the region list)"
    where = f" · {r['geography']}" if r.get("geography") else ""
    if r.get("priced"):
        return f"{name}{where} · {r['reference_sku'].replace('Standard_', '')} ${r['vm_hourly_usd']:.3f}/h"
    return f"{name}{where} · priced at eastus rates"


def _general(specs: list[forms.FieldSpec], errors: dict[str, str]) -> None:
    """Name and region: the region is a choice from the catalog, with each region's reference price."""
    others = [s for s in specs if s.path != "region"]
    cols = st.columns(2)
    for spec in others[:1]:
        forms.render_field(spec, KEY, errors.get(spec.path, ""), container=cols[0])
    key = f"{KEY}.region"
    names = list(state.regions())
    current = st.session_state.get(key)
    if current and current not in names:
        names.append(current)
    st.session_state[key] = st.session_state.get(key) or "eastus"  # re-asserted (see forms.render_field)
    cols[1].selectbox(LABELS["region"], names, key=key, format_func=_region_label,
                      help=HELP["region"] + " Regions without their own prices are priced at eastus rates.")
    if errors.get("region"):
        cols[1].error(f"{LABELS['region']}: {render.esc(errors['region'])}", icon=":material/error:")
    if others[1:]:
        forms.render_fields(others[1:], KEY, errors)


def _model_overrides() -> None:
    """Which model facts differ from the chosen model's, with a way back to them."""
    facts = st.session_state.get(state.MODEL_FACTS) or {}
    data, _ = forms.collect(KEY, MODEL_FIELDS)
    changed = [s for s in MODEL_FIELDS if s.path.split(".", 1)[1] in facts
               and data.get("model", {}).get(s.name) != facts[s.path.split(".", 1)[1]]]
    st.caption("From the chosen model " + render.code(state.model_uri()) + "; a preset does not change them.")
    if changed:
        shown = ", ".join(f"{s.label} (model: {words.choice(s.path, facts[s.name])})" for s in changed)
        st.markdown(f":orange-badge[:material/edit: overridden] {render.esc(shown)}")
        st.button("Use the model's facts", key="wf_model_reset", on_click=_reset_model_facts,
                  icon=":material/undo:")


def _reset_model_facts() -> None:
    from advisor.models import ModelFacts

    facts = st.session_state.get(state.MODEL_FACTS) or {}
    p = state.profile()
    model = ModelFacts.model_validate({**p.model.model_dump(mode="json"), **facts})
    _use(p.model_copy(update={"model": model}), st.session_state.get(state.PROFILE_SOURCE, "edited"))


def _winner_notice(p: WorkloadProfile, rec) -> None:
    """'AKS moved to #1' when a change of the profile changes the winner."""
    ss = st.session_state
    key, winner = p.model_dump_json(), (rec.top.target if rec.top else None)
    last = ss.get(LAST_RANKED)
    if last is not None and last[0] != key and last[1] != winner:
        ss[WINNER_NOTE] = (f"{words.short(winner)} moved to #1 (was {words.short(last[1])})" if winner and last[1]
                           else f"{words.short(winner)} is now #1" if winner else "No target fits any more")
    elif last is not None and last[0] != key:
        ss.pop(WINNER_NOTE, None)
    ss[LAST_RANKED] = (key, winner)
    if ss.get(WINNER_NOTE):
        st.info(render.esc(ss[WINNER_NOTE]), icon=":material/swap_vert:")


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
        _winner_notice(p, rec)
        if not rec.options:
            st.info("No target fits this profile; see the Recommendation page for why.")
        budget = p.budget.monthly_usd
        for i, opt in enumerate(rec.options, 1):
            fits = state.fits_budget(opt, budget)
            mark = "" if fits is None else (" · :green[fits budget]" if fits else " · :red[over budget]")
            st.markdown(f"**{i}. {render.esc(state.target_title(opt.target))}**  \n"
                        f"{opt.score:.1f} pts · {render.money(opt.cost.monthly_usd)} / month{mark}  \n"
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
    state.persist()  # a fragment rerun skips the page footer that saves the work


def main() -> None:
    state.ensure()
    forms.seed(KEY, SPECS, state.profile())
    render.page_header("Workload", "Describe how the model will be used. Every field has a sensible default; "
                       "hover the ? icons for what it means.")
    _toolbar()
    _editor()


main()
