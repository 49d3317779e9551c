"""Deployments page: the ledger of every deployment; refresh status, invoke, events, logs, destroy.

Destroy asks for the deployment's name to be typed, like the cloud consoles
do, because it deletes what the deployment created.
"""
from __future__ import annotations

import streamlit as st

from deployers import api
from ui import render, state, tryit
from ui.streamlit_app import page

SELECTED = "dl_selected"
STATUS_COLOURS = {"running": "green", "failed": "red", "degraded": "orange", "destroyed": "gray",
                  "stopped": "gray", "provisioning": "blue"}


def _table(rows: list[dict]) -> None:
    st.dataframe(
        [{"name": r["name"], "target": state.target_title(r["target"]), "status": r["status"],
          "age": render.ago(r.get("created_at")), "updated": render.ago(r.get("updated_at")),
          "endpoint": r.get("endpoint_url") or "", "model": r.get("model_uri") or ""} for r in rows],
        hide_index=True, width="stretch", key="dl_table",
        column_config={"endpoint": st.column_config.LinkColumn("endpoint", width="medium"),
                       "status": st.column_config.TextColumn("status", width="small")})


def _status(name: str, target: str) -> None:
    if st.button("Refresh status", icon=":material/refresh:", key=f"dl_status.{name}"):
        try:
            with st.spinner("Asking the target…"):
                st.session_state[f"dl_status_out.{name}"] = api.status(name, state.context(), target=target)
        except Exception as e:
            render.error(e, "status")
    out = st.session_state.get(f"dl_status_out.{name}")
    if out is not None:
        icon = {"running": ":material/check_circle:", "failed": ":material/error:",
                "not-found": ":material/help:"}.get(out.state, ":material/info:")
        st.markdown(f"{icon} **{render.esc(out.state)}** {render.esc(out.message)}")
        if out.endpoint_url:
            st.code(out.endpoint_url, language="text")
        if out.details.get("jobs"):  # job-based targets (batch endpoints): their latest jobs
            st.caption("Latest jobs")
            st.dataframe(out.details["jobs"], hide_index=True)
        if out.details:
            st.json(out.details, expanded=False)


def _events(name: str) -> None:
    runs = api.runs(name, state.context())
    if runs:
        st.dataframe([{"run": r["id"], "kind": r["kind"], "status": r["status"],
                       "started": render.clock(r.get("started_at")), "age": render.ago(r.get("started_at")),
                       "took (s)": round(r["ended_at"] - r["started_at"], 1) if r.get("ended_at") else None,
                       "error": r.get("error") or ""} for r in reversed(runs)],
                     hide_index=True, width="stretch")
    events = api.deployment_events(name, ctx=state.context())
    if events:
        render.events_table(events)
    else:
        st.caption("No events recorded.")


def _logs(name: str) -> None:
    if st.button("Show the last 100 lines", icon=":material/article:", key=f"dl_logs.{name}"):
        try:
            st.session_state[f"dl_logs_out.{name}"] = api.logs(name, state.context(), tail=100)
        except Exception as e:
            render.error(e, "logs")
    text = st.session_state.get(f"dl_logs_out.{name}")
    if text is not None:
        st.code(text or "(empty)", language="text", height=320)


def _destroy(name: str, status: str) -> None:
    if status == "destroyed":
        st.caption("Already destroyed.")
        return
    st.markdown("This deletes what the deployment created (only resources tagged as ours). "
                "Type the deployment name to confirm.")
    typed = st.text_input("Deployment name", key=f"dl_confirm.{name}", placeholder=name,
                          label_visibility="collapsed")
    if st.button("Destroy", type="primary", icon=":material/delete_forever:", disabled=typed != name,
                 key=f"dl_destroy.{name}"):
        try:
            with st.spinner(f"Destroying {name}…"):
                res = api.destroy(name, state.context())
        except Exception as e:
            render.error(e, "destroy")
            return
        st.session_state["dl_flash"] = res.message or f"{name} destroyed"
        for key in [k for k in st.session_state if isinstance(k, str) and k.endswith("." + name)]:
            del st.session_state[key]
        st.rerun()


def main() -> None:
    state.ensure()
    render.page_header("Deployments", "Everything deployed from this machine, from the ledger.")
    if st.session_state.get("dl_flash"):
        st.success(render.esc(st.session_state.pop("dl_flash")), icon=":material/delete:")
    c = st.columns([1, 1, 4], vertical_alignment="center")
    show_all = c[0].toggle("Show destroyed", key="dl_all")
    c[1].button("Reload", icon=":material/refresh:", key="dl_reload")
    every = api.list_deployments(state.context(), include_destroyed=True)
    rows = every if show_all else [r for r in every if r["status"] != "destroyed"]
    if not rows:
        if every:
            st.info(f"No active deployments; {len(every)} destroyed one{'s are' if len(every) > 1 else ' is'} "
                    "hidden (turn on Show destroyed).", icon=":material/inbox:")
        else:
            st.info("No deployments yet. Plan and apply one on the Deploy page.", icon=":material/inbox:")
        st.page_link(page("deploy_page.py"), label="Go to Deploy", icon=":material/arrow_forward:")
        return
    _table(rows)
    names = [r["name"] for r in rows]
    if st.session_state.get(SELECTED) not in names:
        st.session_state[SELECTED] = names[0]
    name = st.selectbox("Deployment", names, key=SELECTED)
    row = next(r for r in rows if r["name"] == name)
    with st.container(border=True):
        st.markdown(f"### {render.esc(name)}")
        with st.container(horizontal=True, gap="small"):
            st.badge(state.target_title(row["target"]), icon=":material/dns:", color="blue")
            st.badge(row["status"], color=STATUS_COLOURS.get(row["status"], "gray"),
                     help="The status recorded in the ledger; 'Refresh status' asks the target itself")
            st.badge(f"created {render.ago(row.get('created_at'))}", icon=":material/schedule:", color="gray")
        if row.get("endpoint_url"):
            st.code(row["endpoint_url"], language="text")
        tabs = st.tabs(["Status", "Invoke", "Events", "Logs", "Destroy"])
        with tabs[0]:
            _status(name, row["target"])
        with tabs[1]:
            if row["status"] == "destroyed":
                st.caption("Destroyed deployments cannot be invoked.")
            else:
                tryit.try_it(name, "dl_try")
        with tabs[2]:
            _events(name)
        with tabs[3]:
            _logs(name)
        with tabs[4]:
            _destroy(name, row["status"])


main()
