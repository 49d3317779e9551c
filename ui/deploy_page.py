"""Deploy page: target, settings, preflight, plan, artifacts, then Apply with live progress and a try-it box.

Apply runs in a background thread (`api.start_apply`); the page polls the
ledger's events for that deployment. The deployment name and the first event
id are kept in the URL's query string, so a browser reload picks the progress
up again instead of losing it.
"""
from __future__ import annotations

import time
from typing import Optional

import streamlit as st

from deployers import api
from deployers.models import DeploymentPlan, DeploymentResult, fingerprint
from ui import forms, render, state, tryit

PLAN = "dp_plan"
FINDINGS = "dp_findings"
PLAN_INPUTS = "dp_plan_inputs"
PLAN_ERROR = "dp_plan_error"
POLL_SECONDS = 1.0


# ---------------------------------------------------------------- inputs

def _deployable() -> list[dict]:
    return [t for t in state.targets() if t.get("deployable")]


def _default_target(rec, names: list[str]) -> str:
    if rec is not None:
        for opt in rec.options:
            if opt.target in names:
                return opt.target
    return "local" if "local" in names else names[0]


def _target_label(name: str, rec) -> str:
    title = state.target_title(name)
    if rec is not None:
        ranked = [o.target for o in rec.options]
        if ranked and ranked[0] == name:
            return f"{title} — recommended"
        if name in ranked:
            return f"{title} — #{ranked.index(name) + 1}"
        if name in {x.target for x in rec.excluded}:
            return f"{title} — excluded by the advisor"
    return title


def _settings_form(target: str) -> tuple[dict, dict[str, str]]:
    """The target's Settings form; returns (non-default values, per-field errors)."""
    model = api.settings_model(target)
    specs = forms.field_specs(model)
    prefix = f"ds.{target}"
    forms.seed(prefix, specs, None)
    changed, parse_errors = forms.collect(prefix, specs, only_changed=True)
    full, _ = forms.collect(prefix, specs)
    _, errors = forms.validate(model, full)
    errors.update(parse_errors)
    with st.expander(f"Settings for {state.target_title(target)}", icon=":material/settings:",
                     expanded=bool(errors)):
        if not specs:
            st.caption("This target has no settings.")
        forms.render_fields(specs, prefix, errors, columns=3)
    return changed, errors


# ---------------------------------------------------------------- plan

def _make_plan(name: Optional[str], target: str, model: str, settings: dict, inputs_key: str) -> None:
    ctx = state.context()
    st.session_state.pop(PLAN_ERROR, None)
    slot = st.empty()  # the progress box goes away once the plan is shown
    try:
        with slot.status("Planning…", expanded=False) as status:
            if model == state.SAMPLE_URI:
                status.update(label="Preparing the sample model…")
                api.prepare_sample(ctx)
            status.update(label="Validating the deployment…")
            spec = api.make_spec(name, target, model, state.profile(), settings)
            status.update(label="Running preflight checks…")
            findings = api.preflight(spec, ctx)
            status.update(label="Planning…")
            the_plan = api.plan(spec, ctx)
            status.update(label="Plan ready", state="complete")
    except Exception as e:
        st.session_state[PLAN_ERROR] = e
        st.session_state.pop(PLAN, None)
        return
    slot.empty()
    st.session_state[PLAN] = the_plan
    st.session_state[FINDINGS] = findings
    st.session_state[PLAN_INPUTS] = inputs_key


def _show_plan(the_plan: DeploymentPlan, findings: list, cred: Optional[str]) -> None:
    st.subheader("Preflight")
    fails = [f for f in findings if f.level == "fail"]
    warns = [f for f in findings if f.level == "warn"]
    if findings:
        render.findings_table(findings)
    else:
        st.caption("No checks reported.")
    st.subheader("Plan")
    kinds = [a.kind for a in the_plan.actions]
    st.markdown(f"Deployment {render.code(the_plan.name)} on **{render.esc(state.target_title(the_plan.target))}** "
                f"· plan {render.code(the_plan.plan_id)}")
    c = st.columns(4)
    c[0].metric("Create", kinds.count("create"), border=True)
    c[1].metric("Update", kinds.count("update"), border=True)
    c[2].metric("Unchanged", kinds.count("no-op"), border=True)
    c[3].metric("Delete", kinds.count("delete"), border=True)
    if the_plan.actions:
        render.actions_table(the_plan.actions)
    if the_plan.sizing:
        s = the_plan.sizing
        st.caption(f"Sizing: {render.esc(s.sku)} × {s.instances} (autoscale {s.min}–{s.max})")
    if the_plan.notes:
        with st.expander(f"Planning notes ({len(the_plan.notes)})", icon=":material/notes:"):
            for note in the_plan.notes:
                st.markdown("- " + render.esc(note))
    _artifacts(the_plan)
    st.subheader("Apply")
    reasons = []
    if cred:
        reasons.append("Azure sign-in is missing (see above).")
    if fails:
        reasons.append(f"{len(fails)} preflight check{'s' if len(fails) > 1 else ''} failed.")
    running = _running_job(the_plan.name)
    if running:
        reasons.append("An apply of this deployment is already running.")
    label = "Apply" if the_plan.has_changes else "Apply (no changes)"
    cols = st.columns([1, 4], vertical_alignment="center")
    if cols[0].button(label, type="primary", icon=":material/rocket_launch:", disabled=bool(reasons),
                      key="dp_apply", width="stretch"):
        _start(the_plan)
    if running:
        if cols[1].button("Show its progress", icon=":material/visibility:", key="dp_watch"):
            st.query_params["deployment"] = the_plan.name
            st.query_params["after"] = str(st.session_state.get(f"dp_after.{the_plan.name}", 0))
            st.rerun()
    if reasons:
        cols[1].caption(" ".join(render.esc(r) for r in reasons))
    elif warns:
        cols[1].caption(f"{len(warns)} warning{'s' if len(warns) > 1 else ''}: read them before applying.")
    else:
        cols[1].caption("Runs in the background; you can leave or reload this page.")


def _artifacts(the_plan: DeploymentPlan) -> None:
    st.subheader("Artifacts")
    if not the_plan.artifacts:
        st.caption("This target renders no artifacts.")
    else:
        paths = sorted(the_plan.artifacts)
        c = st.columns([3, 1], vertical_alignment="bottom")
        path = c[0].selectbox("File", paths, key="dp_artifact")
        c[1].download_button("Download all (.zip)", data=lambda: render.artifacts_zip(the_plan),
                             file_name=f"{the_plan.name}-{the_plan.target}.zip", mime="application/zip",
                             icon=":material/folder_zip:", on_click="ignore", width="stretch", key="dp_zip")
        if path:
            st.code(the_plan.artifacts[path], language=render.language_for(path), line_numbers=True, height=360)
    if not the_plan.artifacts:
        st.download_button("Download plan.json", data=the_plan.to_json(), file_name=f"{the_plan.name}-plan.json",
                           mime="application/json", on_click="ignore", key="dp_plan_json")


# ---------------------------------------------------------------- apply + progress

def _last_event_id(name: str) -> int:
    last = 0
    while True:
        events = api.deployment_events(name, after_id=last, ctx=state.context())
        if not events:
            return last
        last = int(events[-1]["id"])


def _start(the_plan: DeploymentPlan) -> None:
    after = _last_event_id(the_plan.name)
    try:
        api.start_apply(the_plan, state.context())
    except Exception as e:
        render.error(e, "could not start the apply")
        return
    st.session_state[f"dp_after.{the_plan.name}"] = after
    st.query_params["deployment"] = the_plan.name
    st.query_params["after"] = str(after)
    for key in (f"dp_try.out.{the_plan.name}", f"dp_try.body.{the_plan.name}"):  # a new apply: a fresh try-it box
        st.session_state.pop(key, None)
    st.rerun()


def _running_job(name: str):
    job = api.background_apply(name)
    return job if job is not None and not job.done else None


def _apply_run(name: str, started_after: float) -> Optional[dict]:
    """The newest apply run of `name` (from the ledger: also works after a reload)."""
    runs = [r for r in api.runs(name, state.context()) if r.get("kind") == "apply"]
    runs = [r for r in runs if r.get("started_at", 0) >= started_after - 1] or runs[-1:]
    return runs[-1] if runs else None


def _events(name: str, after: int) -> list[dict]:
    """Events since `after`, fetched incrementally (only new ids each poll)."""
    key = f"dp_events.{name}.{after}"
    cache = st.session_state.setdefault(key, {"last": after, "events": []})
    new = api.deployment_events(name, after_id=cache["last"], ctx=state.context())
    if new:
        cache["events"].extend(new)
        cache["last"] = int(new[-1]["id"])
    return cache["events"]


def _started_at(events: list[dict], run: Optional[dict]) -> float:
    if run and run.get("started_at"):
        return float(run["started_at"])
    return float(events[0]["ts"]) if events else time.time()


def _progress_body(name: str, after: int) -> bool:
    """Draw the status box; True while the apply is still running."""
    events = _events(name, after)
    job = _running_job(name)
    run = _apply_run(name, events[0]["ts"] if events else 0)
    running = job is not None or (run is not None and run.get("status") == "running")
    started = _started_at(events, run)
    end = (run or {}).get("ended_at") if not running else None
    elapsed = (end or time.time()) - started
    if running:
        label, st_state = f"Deploying {name}… {elapsed:.0f} s", "running"
    elif run is None:
        label, st_state = f"Waiting for {name} to start…", "running"
        running = True
    elif run.get("status") in ("succeeded", "no-change"):
        label, st_state = f"{name}: {run['status']} in {elapsed:.1f} s", "complete"
    else:
        label, st_state = f"{name}: {run.get('status')} after {elapsed:.1f} s", "error"
    # not a `with` block: leaving one would mark the status complete while the apply still runs
    box = st.status(label, state=st_state, expanded=running or st_state == "error")
    box.code(render.event_lines(events) or "waiting for the first event…", language="text",
             height=min(40 + 22 * max(len(events), 1), 320))
    if running and job is not None:
        if box.button("Cancel", icon=":material/cancel:", key="dp_cancel"):
            job.cancel()
    return running


@st.fragment(run_every=POLL_SECONDS)
def _live(name: str, after: int) -> None:
    if not _progress_body(name, after):
        st.rerun()  # the apply ended: redraw the whole page with the result


def _result(name: str, after: int) -> None:
    events = _events(name, after)
    run = _apply_run(name, events[0]["ts"] if events else 0)
    job = api.background_apply(name)
    result: Optional[DeploymentResult] = None
    if job is not None and job.done and job.result is not None and job.result.name == name:
        result = job.result
    elif run and run.get("result"):
        result = DeploymentResult.model_validate(run["result"])
    if run is not None and run.get("status") not in ("succeeded", "no-change"):
        if job is not None and job.error is not None:
            render.error(job.error, f"apply {run.get('status')}")
        else:
            st.error(f"Apply {render.esc(run.get('status'))}: "
                     f"{render.esc(run.get('error') or 'see the events above')}", icon=":material/error:")
        return
    if result is None:
        return
    with st.container(border=True, key="dp_result"):
        st.markdown(f"### :material/check_circle: {render.esc(name)} is {'up' if result.endpoint_url else 'done'}")
        c = st.columns([3, 1, 1])
        c[0].markdown("**Endpoint**")
        c[0].code(result.endpoint_url or "—", language="text")
        c[1].metric("Smoke test", f"{result.smoke_latency_ms:.0f} ms" if result.smoke_latency_ms is not None else "—")
        c[2].metric("Changed", "yes" if result.changed else "no")
        if result.curl:
            st.markdown("**Call it from a shell**")
            st.code(result.curl, language="bash", wrap_lines=True)
        if result.message:
            st.caption(render.esc(result.message))
    _try_it_section(name)


def _try_it_section(name: str) -> None:
    st.subheader("Try it")
    the_plan = st.session_state.get(PLAN)
    tryit.try_it(name, "dp_try", the_plan if isinstance(the_plan, DeploymentPlan) else None)


# ---------------------------------------------------------------- page

def main() -> None:
    state.ensure()
    render.page_header("Deploy", "Check, plan and deploy the model; every Azure target can plan and export "
                       "without an Azure account.")
    render.context_bar()
    watching = st.query_params.get("deployment")
    if watching:
        try:
            after = int(st.query_params.get("after", "0"))
        except ValueError:
            after = 0
        st.subheader("Progress")
        if _progress_running(watching):
            _live(watching, after)
        else:
            _progress_body(watching, after)
            _result(watching, after)
        if st.button("Deploy something else", icon=":material/add:", key="dp_new"):
            st.query_params.clear()
            st.session_state.pop(PLAN, None)
            st.rerun()
        return
    _form()


def _progress_running(name: str) -> bool:
    if _running_job(name):
        return True
    run = _apply_run(name, 0)
    return bool(run and run.get("status") == "running")


def _form() -> None:
    p = state.profile()
    model = state.model_uri()
    try:
        rec = state.recommend(p)
    except Exception as e:
        render.error(e, "recommend")
        rec = None
    targets = _deployable()
    names = [t["name"] for t in targets]
    if not names:
        st.error("No deployer plugin is installed.", icon=":material/error:")
        return
    c = st.columns([2, 2, 2], vertical_alignment="top")
    # seeded right before its widget, with no Streamlit call between that a rerun could stop (see forms.render_field)
    if st.session_state.get("dp_target") not in names:
        st.session_state["dp_target"] = _default_target(rec, names)
    target = c[0].selectbox("Target", names, key="dp_target", format_func=lambda n: _target_label(n, rec),
                            help="Defaults to the top recommendation; any installed target can be chosen.")
    c[1].text_input("Deployment name", key="dp_name", max_chars=32, placeholder="automatic from the workload name",
                    help="3–32 lowercase letters, digits and single dashes; it becomes resource names and URLs.")
    c[2].text_input("Model", value=model, disabled=True, help="Change it on the Model page.")
    desc = next((t.get("description") for t in targets if t["name"] == target), "")
    if desc:
        st.caption(render.esc(desc))
    name = (st.session_state.get("dp_name") or "").strip() or None
    name_error = ""
    if name:
        from deployers.models import validate_deployment_name
        try:
            validate_deployment_name(name)
        except ValueError as e:
            name_error = str(e)
            c[1].error(render.esc(name_error), icon=":material/error:")
    settings, settings_errors = _settings_form(target)
    try:
        cred = state.credentials_missing(target)
    except Exception as e:
        render.error(e, "credentials check")
        cred = "could not check the Azure credentials"
    if cred:
        with st.container(border=True):
            st.markdown(":material/key_off: **Apply needs Azure sign-in.** Preflight, plan and the artifact "
                        "export work without it. To apply:")
            st.code(cred, language="text", wrap_lines=True)
    inputs_key = fingerprint([target, name, model, p.model_dump(mode="json"), settings])
    blocked = bool(name_error or settings_errors)
    if st.button("Preflight and plan", type="primary" if st.session_state.get(PLAN) is None else "secondary",
                 icon=":material/checklist:", disabled=blocked, key="dp_plan_btn"):
        _make_plan(name, target, model, settings, inputs_key)
    if st.session_state.get(PLAN_ERROR) is not None:
        render.error(st.session_state[PLAN_ERROR], "could not plan")
    the_plan = st.session_state.get(PLAN)
    if the_plan is None:
        st.caption("Nothing is changed until you press Apply: preflight and plan only read.")
        return
    if st.session_state.get(PLAN_INPUTS) != inputs_key:
        st.info("The inputs changed since this plan was made; plan again to apply them.", icon=":material/update:")
        return
    _show_plan(the_plan, st.session_state.get(FINDINGS) or [], cred)


main()
