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


def _table_of(body_text: str):
    """The request's rows as a table when the body is `{"input_data": {"columns": [...], "data": [[...]]}}`."""
    import pandas as pd

    try:
        body = json.loads(body_text)
        inp = body["input_data"]
        columns, data = inp["columns"], inp["data"]
        if isinstance(columns, list) and isinstance(data, list) and all(isinstance(r, list) for r in data):
            return pd.DataFrame(data, columns=[str(c) for c in columns])
    except (ValueError, KeyError, TypeError, AssertionError):
        pass
    return None


def _body_from_table(df) -> dict:
    rows = json.loads(df.to_json(orient="split", index=False))
    return {"input_data": {"columns": rows["columns"], "data": rows["data"]}}


def _predictions(response: Any) -> Optional[list]:
    if isinstance(response, dict):
        response = response.get("predictions", response.get("outputs"))
    return response if isinstance(response, list) else None


def _endpoint_message(response: Any) -> str:
    """What a failing endpoint said, in one line (its JSON error, else the text)."""
    if isinstance(response, dict):
        for k in ("error", "message", "detail"):
            if response.get(k):
                v = response[k]
                return v.get("message", str(v)) if isinstance(v, dict) else str(v)
    return str(response)[:500]


SNIPPETS = {
    "curl": ("bash", "curl -s -X POST {url} \\\n  -H \"Authorization: Bearer $SCORING_KEY\" \\\n"
                     "  -H 'Content-Type: application/json' \\\n  -d @request.json"),
    "Python": ("python", "import json, os, urllib.request\n\nbody = json.load(open(\"request.json\"))\n"
                         "req = urllib.request.Request(\n    \"{url}\", data=json.dumps(body).encode(), method=\"POST\",\n"
                         "    headers={{\"Content-Type\": \"application/json\",\n"
                         "             \"Authorization\": \"Bearer \" + os.environ[\"SCORING_KEY\"]}})\n"
                         "print(json.load(urllib.request.urlopen(req)))"),
    "C#": ("csharp", "using System.Net.Http.Headers;\nusing System.Text;\n\nvar http = new HttpClient();\n"
                     "http.DefaultRequestHeaders.Authorization =\n"
                     "    new AuthenticationHeaderValue(\"Bearer\", Environment.GetEnvironmentVariable(\"SCORING_KEY\"));\n"
                     "var body = new StringContent(File.ReadAllText(\"request.json\"), Encoding.UTF8, \"application/json\");\n"
                     "var answer = await http.PostAsync(\"{url}\", body);\n"
                     "Console.WriteLine(await answer.Content.ReadAsStringAsync());"),
}


def snippets(url: str) -> None:
    """How to call the endpoint from a shell, Python and C# (the key comes from $SCORING_KEY, never the page)."""
    tabs = st.tabs(list(SNIPPETS))
    for tab, (lang, text) in zip(tabs, SNIPPETS.values()):
        tab.code(text.format(url=url or "<endpoint URL>"), language=lang)
    st.caption("request.json is the body above. The key: `deploy-advisor status NAME` says where it is kept.")


def try_it(name: str, key: str, the_plan: Optional[DeploymentPlan] = None) -> None:
    """The model's input columns as an editable table (or the raw JSON), Send, and the labelled answer."""
    box = f"{key}.body.{name}"
    if box not in st.session_state:
        st.session_state[box] = example_body(name, the_plan)
    table = _table_of(st.session_state[box])
    mode = "JSON"
    if table is not None:
        mode = st.segmented_control("Edit the request as", ["Table", "JSON"], default="Table",
                                    key=f"{key}.mode.{name}") or "Table"
    if mode == "Table":
        edited = st.data_editor(table, num_rows="dynamic", hide_index=True, width="stretch",
                                key=f"{key}.table.{name}")
    else:
        st.text_area("Request body (JSON)", key=box, height=180,
                     help="Pre-filled with the model's saved input example; POSTed to /score with the deployment's key.")
    if st.button("Send", type="primary", icon=":material/send:", key=f"{key}.send.{name}"):
        st.session_state.pop(f"{key}.out.{name}", None)
        try:
            if mode == "Table":
                payload = _body_from_table(edited)
            else:
                payload = load_json(st.session_state[box], max_bytes=REQUEST_BYTES)
        except DocumentError as e:
            st.session_state[f"{key}.out.{name}"] = ("error", str(e))
        else:
            try:
                res = api.invoke(name, payload, state.context())
                st.session_state[f"{key}.out.{name}"] = ("ok", res.model_dump(mode="json"), payload)
            except Exception as e:
                st.session_state[f"{key}.out.{name}"] = ("exc", e)
    out = st.session_state.get(f"{key}.out.{name}")
    if out is not None:
        _answer(out)
    row = api.get_deployment(name, state.context()) or {}
    with st.expander("Call it from code", icon=":material/code:"):
        snippets(row.get("endpoint_url") or "")


def _answer(out: tuple) -> None:
    kind, value = out[0], out[1]
    if kind == "error":
        st.error(render.esc(value), icon=":material/error:")
        return
    if kind == "exc":
        render.error(value, "invoke")
        return
    ok = 200 <= value["status_code"] < 300
    c = st.columns(3 if value.get("request_id") else 2)
    c[0].metric("HTTP status", value["status_code"], border=True)
    c[1].metric("Latency", f"{value['latency_ms']:.1f} ms", border=True)
    if value.get("request_id"):
        c[2].metric("Request id", value["request_id"], border=True)
    response = value.get("response")
    if not ok:
        st.error(f"The endpoint refused the request (HTTP {value['status_code']}): "
                 f"{render.esc(_endpoint_message(response))}", icon=":material/error:")
        return
    preds = _predictions(response)
    sent = _table_of(json.dumps(out[2])) if len(out) > 2 else None
    if preds is not None and sent is not None and len(preds) == len(sent):
        sent.insert(0, "prediction", [json.dumps(p) if isinstance(p, (dict, list)) else p for p in preds])
        st.markdown("**Answer** (one prediction per row)")
        st.dataframe(sent, hide_index=True, width="stretch")
    else:
        st.markdown("**Answer**")
    with st.expander("Raw answer (JSON)", expanded=preds is None):
        st.code(render.pretty_json(response), language="json")
