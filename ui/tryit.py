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
    if _target(name, the_plan) in JOB_TARGETS:
        _try_job(name, key)
        return
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


def safe_file_name(name: str) -> str:
    """The browser's name for an uploaded file, as one plain file name ('..', '.', '../x' and the like are
    not one): letters, digits, '.', '_' and '-', never leading dots."""
    safe = "".join(ch for ch in Path(name).name if ch.isalnum() or ch in "._-").lstrip(".")
    return safe[:100] or "input.csv"


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
            (folder / safe_file_name(upload.name)).write_bytes(upload.getvalue())
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
