"""Model page: choose the model to advise on and deploy, and show what it resolved to.

Resolution (and the MLflow import it needs) runs only when asked, so the app
opens fast. A resolved model's facts are copied into the workload profile, so
the recommendation reflects the real framework, size and measured speed.
"""
from __future__ import annotations

import re

import streamlit as st

from ui import render, state

# advisor / deployers are imported where used: this is the first page, and it must appear fast.

SOURCES = {
    "sample": "Sample model",
    "registry": "Registered model",
    "path": "Local MLflow folder",
    "azureml": "Azure ML reference",
}
AZUREML_RE = re.compile(r"^azureml:[A-Za-z0-9][A-Za-z0-9._-]{0,254}(:[A-Za-z0-9._-]{1,64})?$|"
                        r"^azureml://registries/[A-Za-z0-9._-]{1,64}/models/[A-Za-z0-9._-]{1,255}"
                        r"/versions/[A-Za-z0-9._-]{1,64}$")
MAX_PATH = 4096
NOTE = "model_note"
ERROR = "model_error"


def _use(uri: str, info, note: str = "") -> None:
    """Make `uri` the session's model and copy its facts into the profile."""
    st.session_state[state.MODEL_URI] = uri
    st.session_state[state.MODEL_INFO] = info.model_dump(mode="json") if info else None
    st.session_state[NOTE] = note
    st.session_state.pop(ERROR, None)
    # the Workload form re-seeds its model fields from the profile
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("wf.model.")]:
        del st.session_state[key]


def _resolve(uri: str) -> None:
    from deployers import api

    ctx = state.context()
    with st.spinner(f"Resolving {uri}…"):
        try:
            if uri == state.SAMPLE_URI:
                api.prepare_sample(ctx)
            profile, info, note = api.profile_with_model(state.profile(), uri, ctx)
        except Exception as e:  # shown next to the input; the page stays usable
            st.session_state[ERROR] = e
            return
    state.set_profile(profile, st.session_state.get(state.PROFILE_SOURCE, "") or "edited")
    st.session_state[state.MODEL_FACTS] = profile.model.model_dump(mode="json")  # what "overridden" compares with
    _use(uri, info, note)


def _validated_uri(source: str) -> tuple[str | None, str]:
    """The URI the inputs describe, or why it is not acceptable (before anything touches it)."""
    if source == "sample":
        return state.SAMPLE_URI, ""
    if source == "registry":
        uri = st.session_state.get("model_registry_choice")
        return (uri, "") if uri else (None, "no registered model chosen")
    if source == "path":
        path = (st.session_state.get("model_path") or "").strip()
        if not path:
            return None, "enter the path of an MLflow model folder (the one holding MLmodel)"
        if len(path) > MAX_PATH or "\x00" in path or "\n" in path:
            return None, "not a usable path"
        return path, ""
    ref = (st.session_state.get("model_azureml") or "").strip()
    if not ref:
        return None, "enter a reference such as azureml:my-model:3"
    if not AZUREML_RE.match(ref):
        return None, ("expected azureml:<name>:<version> or "
                      "azureml://registries/<registry>/models/<name>/versions/<version>")
    return ref, ""


def _facts(info: dict) -> None:
    from advisor.models import ModelInfo
    from deployers.planning import input_example

    m = ModelInfo.model_validate(info)
    with st.container(border=True):
        st.markdown(f"**:material/check_circle: {render.esc(m.name)}** · version {render.esc(m.version or '—')}")
        c = st.columns(4)
        c[0].metric("Framework", m.framework, border=True)
        c[1].metric("Flavor", m.flavor or "—", border=True)
        c[2].metric("Format", m.format, border=True)
        c[3].metric("Size", f"{m.size_mb:,.1f} MB" if m.size_mb >= 0.1 else f"{m.size_mb * 1024:,.0f} KB",
                    border=True)
        st.caption("Source: " + render.esc(m.source or "—") + " · URI: " + render.code(m.uri))
        tabs = st.tabs(["Signature", "Input example", "Requirements", "Measured speed"])
        with tabs[0]:
            if m.signature:
                inputs = m.signature.get("inputs")
                if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
                    order = ["name", "type", "required"]
                    rows = [{k: str(col[k]) for k in [*order, *sorted(set(col) - set(order))] if k in col}
                            for col in inputs]
                    st.dataframe(rows, hide_index=True,
                                 width="stretch", height=min(36 * (len(inputs) + 1), 320))
                else:
                    st.code(render.pretty_json(inputs), language="json")
                if m.signature.get("outputs"):
                    st.caption("Outputs")
                    st.code(render.pretty_json(m.signature.get("outputs")), language="json")
            else:
                st.caption("The model has no signature.")
        with tabs[1]:
            body = input_example(m)
            if body is not None:
                st.code(render.pretty_json(body), language="json")
            else:
                st.caption("The model has no saved input example; the Deploy page lets you type a request.")
        with tabs[2]:
            if m.requirements:
                st.code("\n".join(m.requirements), language="text")
            else:
                st.caption("No requirements recorded.")
        with tabs[3]:
            if m.calibration:
                cal = m.calibration
                cc = st.columns(3)
                cc[0].metric("One request", f"{cal.service_ms_batch1:.1f} ms")
                cc[1].metric("Per extra row", f"{cal.per_row_ms:.2f} ms")
                cc[2].metric("Max / core", f"{cal.max_rps_one_core:.0f} rps" if cal.max_rps_one_core else "—")
                st.caption(f"Measured on {render.esc(cal.cpu or 'this machine')} ({cal.cores} cores) "
                           f"{render.esc(cal.measured_at)}")
            else:
                st.caption("Not measured yet: sizing uses an estimate for the framework. To measure it, run")
                st.code(f"deploy-advisor benchmark --model {m.uri}", language="bash")


def main() -> None:
    state.ensure_model()
    render.page_header("Model", "Pick the model to advise on and deploy. Its facts (framework, size, measured "
                       "speed) feed the recommendation.")
    st.session_state.setdefault("model_source", "sample")
    source = st.segmented_control("Where is the model?", list(SOURCES), format_func=SOURCES.get,
                                  key="model_source", required=True)
    with st.container(border=True):
        if source == "sample":
            st.markdown("A scikit-learn random forest trained on the bundled breast-cancer data set, registered "
                        "in the embedded MLflow registry as " + render.code(state.SAMPLE_URI) + ".")
        elif source == "registry":
            from deployers import api

            try:
                with st.spinner("Reading the model registry…"):
                    models = api.list_models(state.context())
            except Exception as e:
                render.error(e, "model registry")
                models = []
            if models:
                st.selectbox("Registered model", [m.uri for m in models], key="model_registry_choice",
                             format_func=lambda u: u)
            else:
                st.info("No registered models yet. Use the sample model, or register one with "
                        "`deploy-advisor models register PATH --name NAME`.")
        elif source == "path":
            st.text_input("MLflow model folder", key="model_path", placeholder="/path/to/model (contains MLmodel)",
                          help="A folder saved with mlflow.<flavor>.save_model, on the machine running this app.")
        else:
            st.text_input("Azure ML model reference", key="model_azureml", placeholder="azureml:my-model:3",
                          help="Needs AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE_NAME; "
                               "offline, the profile's model facts are used instead.")
        uri, problem = _validated_uri(source)
        if problem and source != "sample":
            st.caption(render.esc(problem))
        if st.button("Use this model", type="primary", icon=":material/check:", disabled=uri is None):
            _resolve(uri)  # type: ignore[arg-type]
    err = st.session_state.get(ERROR)
    if err is not None:
        render.error(err, "could not use the model")
    if st.session_state.get(NOTE):
        st.warning(render.esc(st.session_state[NOTE]), icon=":material/cloud_off:")
    st.subheader("Current model")
    info = st.session_state.get(state.MODEL_INFO)
    if info:
        _facts(info)
    else:
        st.markdown(render.code(state.model_uri()) + " — not resolved yet. Press **Use this model** to load its "
                    "facts; until then the workload's model fields are used.")


main()
