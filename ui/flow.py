"""The guided flow around every page: steps (Model → Workload → Recommendation → Deploy → Operate),
Back/Next, a first-visit welcome, and the work written to the URL and the draft after each run.
"""
from __future__ import annotations

import streamlit as st

from ui import render, state
from ui.streamlit_app import page

STEPS = [  # (title in the step bar, page file, url path)
    ("Model", "model_page.py", "model"),
    ("Workload", "workload_page.py", "workload"),
    ("Recommendation", "recommendation_page.py", "recommendation"),
    ("Deploy", "deploy_page.py", "deploy"),
    ("Operate", "deployments_page.py", "deployments"),
]
# messages that belong to the page that raised them: cleared when the user moves to another page
PAGE_ERRORS = ("model_error", "wf_import_error", "dp_plan_error", "wf_paste_note")
LAST_PAGE = "flow_last_page"


def _index(url_path: str) -> int:
    """The step of a page; the default page (the Model page) has the url path ""."""
    return next((i for i, s in enumerate(STEPS) if s[2] == url_path), 0)


def header(url_path: str) -> None:
    """Styles, stale errors cleared on a page change, the welcome, and the step bar."""
    render.styles()
    ss = st.session_state
    if ss.get(LAST_PAGE) != url_path:
        for key in PAGE_ERRORS:
            ss.pop(key, None)
        ss[LAST_PAGE] = url_path
    if _index(url_path) > 0:
        state.ensure()  # every page but the first works on the profile: load it (and the draft) before the welcome
    _welcome()
    if state.Q_PROFILE in st.query_params and state.PROFILE not in ss:
        state.ensure()  # a shared link: restore it now, so a link that cannot be read is reported on any page
    note = ss.pop(state.RESTORE_NOTE, None)
    if note:
        st.warning(render.esc(note) + " — starting from the sample workload.", icon=":material/link_off:")
    i = _index(url_path)
    pills = []
    for j, (title, _f, _u) in enumerate(STEPS):
        colour = "blue" if j == i else ("green" if j < i else "gray")
        text = f"{j + 1}. {title}"
        pills.append(f":{colour}-badge[**{text}**]" if j == i else f":{colour}-badge[{text}]")
    with st.container(key="flow_steps"):
        st.markdown(" › ".join(pills))


def _welcome() -> None:
    ss = st.session_state
    if not ss.get(WELCOMED_KEY):
        if state.Q_PROFILE in st.query_params or state.Q_MODEL in st.query_params:
            ss[WELCOMED_KEY] = True  # a reload or a shared link: not a first visit
        elif state.draft_read():  # the draft is read with the profile (not on the Model page's first run)
            ss[WELCOMED_KEY] = bool(state.draft().get("welcomed"))
    if ss.get(WELCOMED_KEY):
        return
    with st.container(border=True, key="welcome"):
        st.markdown("**:material/waving_hand: Welcome to Deploy Advisor.** Five steps: pick a **model**, describe "
                    "its **workload** (traffic, latency, budget), read the **recommendation** (which Azure service, "
                    "what size, what it costs and why), **deploy** it, then **operate** it. Your work is kept in the "
                    "page address and a local draft: reload or share the link and it comes back.")
        if st.button("Got it", key="welcome_ok", icon=":material/check:"):
            state.ensure()  # so the footer saves the draft, which remembers the welcome was read
            ss[WELCOMED_KEY] = True
            st.rerun()


WELCOMED_KEY = state.WELCOMED


def footer(url_path: str) -> None:
    """Back / Next buttons, then the work saved to the URL and the draft."""
    i = _index(url_path)
    st.divider()
    left, _mid, right = st.columns([2, 1, 2])
    if i > 0 and left.button(f"Back: {STEPS[i - 1][0]}", icon=":material/arrow_back:", key="flow_back",
                             width="stretch"):
        st.switch_page(page(STEPS[i - 1][1]))
    if i < len(STEPS) - 1 and right.button(f"Next: {STEPS[i + 1][0]}", icon=":material/arrow_forward:",
                                           key="flow_next", type="primary", width="stretch"):
        st.switch_page(page(STEPS[i + 1][1]))
    state.persist()
