"""The "try it" box: send the model's input example to a deployment and show the answer and latency.

Used by the Deploy page (right after apply) and the Deployments page.
"""
from __future__ import annotations

import json
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


def try_it(name: str, key: str, the_plan: Optional[DeploymentPlan] = None) -> None:
    """A JSON box pre-filled with the model's input example; sends it and shows answer + latency."""
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
