"""The "try it" box: send the model's input example to a deployment and show the answer and latency.
A batch endpoint (a job-based target) instead takes a small CSV, runs a job and shows the output table.

Used by the Deploy page (right after apply) and the Deployments page.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import streamlit as st

from advisor.models import ModelInfo
from advisor.safe_load import REQUEST_BYTES, DocumentError, load_json
from deployers import api
from deployers.models import DeploymentPlan
from deployers.planning import input_example
from ui import render, state


def example_body(name: str, the_plan: Optional[DeploymentPlan] = None) -> str:
    """The model's input example as a /score body: from the plan, the ledger, or the chosen model."""
    info: Any = None
    if the_plan is not None and the_plan.name == name and the_plan.model_info:
        info = the_plan.model_info
    if info is None:
        row = api.get_deployment(name, state.context()) or {}
        mi = (row.get("plan") or {}).get("model_info")
        info = ModelInfo.model_validate(mi) if mi else None
    if info is None and st.session_state.get(state.MODEL_INFO):
        info = ModelInfo.model_validate(st.session_state[state.MODEL_INFO])
    body = input_example(info)
    return json.dumps(body, indent=2) if body is not None else '{"input_data": []}'


JOB_TARGETS = ("azureml-batch",)  # invoked with files (a job), not with a request body
MAX_ROWS_SHOWN = 500


def _target(name: str, the_plan: Optional[DeploymentPlan]) -> str:
    if the_plan is not None and the_plan.name == name:
        return the_plan.target
    return (api.get_deployment(name, state.context()) or {}).get("target") or ""


def try_it(name: str, key: str, the_plan: Optional[DeploymentPlan] = None) -> None:
    """A JSON box pre-filled with the model's input example; sends it and shows answer + latency."""
    if _target(name, the_plan) in JOB_TARGETS:
        _try_job(name, key)
        return
    box = f"{key}.body.{name}"
    if box not in st.session_state:
        st.session_state[box] = example_body(name, the_plan)
    st.text_area("Request body (JSON)", key=box, height=180,
                 help="Pre-filled with the model's saved input example; POSTed to /score with the deployment's key.")
    if st.button("Send", type="primary", icon=":material/send:", key=f"{key}.send.{name}"):
        try:
            payload = load_json(st.session_state[box], max_bytes=REQUEST_BYTES)
        except DocumentError as e:
            st.session_state[f"{key}.out.{name}"] = ("error", str(e))
        else:
            try:
                res = api.invoke(name, payload, state.context())
                st.session_state[f"{key}.out.{name}"] = ("ok", res.model_dump(mode="json"))
            except Exception as e:
                st.session_state[f"{key}.out.{name}"] = ("exc", e)
    out = st.session_state.get(f"{key}.out.{name}")
    if out is None:
        return
    kind, value = out
    if kind == "error":
        st.error(render.esc(value), icon=":material/error:")
    elif kind == "exc":
        render.error(value, "invoke")
    else:
        ok = 200 <= value["status_code"] < 300
        c = st.columns(3 if value.get("request_id") else 2)
        c[0].metric("HTTP status", value["status_code"], border=True)
        c[1].metric("Latency", f"{value['latency_ms']:.1f} ms", border=True)
        if value.get("request_id"):
            c[2].metric("Request id", value["request_id"], border=True)
        st.markdown("**Answer**" if ok else ":red[**The endpoint returned an error**]")
        st.code(render.pretty_json(value.get("response")), language="json", height=min(
            40 + 20 * render.pretty_json(value.get("response")).count("\n"), 300))


def _output_rows(folder: Path) -> list[list[str]]:
    """The job's output files as table rows (first MAX_ROWS_SHOWN)."""
    import csv

    rows: list[list[str]] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            rows.extend(r for r in csv.reader(f) if r)
        if len(rows) >= MAX_ROWS_SHOWN:
            break
    return rows[:MAX_ROWS_SHOWN]


def _try_job(name: str, key: str) -> None:
    """Upload a small CSV, run one batch job on it, show the job and its output table."""
    import tempfile

    st.caption("A batch endpoint scores files: the CSV goes to the workspace's datastore, a job runs on the "
               "cluster (it scales up from 0 nodes, which takes minutes) and its output comes back here.")
    upload = st.file_uploader("A small CSV to score", type=["csv"], key=f"{key}.csv.{name}")
    if st.button("Run a job", type="primary", icon=":material/play_arrow:", disabled=upload is None,
                 key=f"{key}.job.{name}"):
        with tempfile.TemporaryDirectory(prefix="da-tryit-") as tmp:
            folder, out = Path(tmp) / "input", Path(tmp) / "output"
            folder.mkdir()
            safe = "".join(ch for ch in Path(upload.name).name if ch.isalnum() or ch in "._-") or "input.csv"
            (folder / safe).write_bytes(upload.getvalue())
            try:
                with st.spinner("Uploading, running the job, downloading its output…"):
                    res = api.invoke(name, {"input": str(folder), "wait": True, "out": str(out)}, state.context())
                st.session_state[f"{key}.out.{name}"] = ("job", res.model_dump(mode="json"), _output_rows(out))
            except Exception as e:
                st.session_state[f"{key}.out.{name}"] = ("exc", e, [])
    out = st.session_state.get(f"{key}.out.{name}")
    if out is None:
        return
    kind, value, rows = out
    if kind == "exc":
        render.error(value, "invoke")
        return
    job = value.get("response") or {}
    c = st.columns(2)
    c[0].metric("Job", job.get("job", "?"), border=True)
    c[1].metric("Status", job.get("status", "?"), border=True)
    if job.get("error"):
        st.error(render.esc(job["error"]), icon=":material/error:")
    st.caption(f"Output: {job.get('output', '')}")
    if rows:
        st.dataframe(rows, hide_index=True)
