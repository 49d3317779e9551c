"""Deploy Advisor web UI: page config and navigation only; each page lives in ui/."""
from pathlib import Path

import streamlit as st

st.set_page_config(page_title="Deploy Advisor", page_icon=":material/rocket_launch:", layout="wide",
                   menu_items={"About": "Deploy Advisor: where to serve an ML model on Azure, and deploy it there."})

pages = {
    "Advise": [
        st.Page("ui/model_page.py", title="Model", icon=":material/model_training:", url_path="model", default=True),
        st.Page("ui/workload_page.py", title="Workload", icon=":material/tune:", url_path="workload"),
        st.Page("ui/recommendation_page.py", title="Recommendation", icon=":material/recommend:",
                url_path="recommendation"),
    ],
    "Operate": [
        st.Page("ui/deploy_page.py", title="Deploy", icon=":material/rocket_launch:", url_path="deploy"),
        st.Page("ui/deployments_page.py", title="Deployments", icon=":material/dns:", url_path="deployments"),
    ],
}

st.logo(Path(__file__).parent / "ui" / "static" / "logo.svg", size="large")
st.navigation(pages, position="sidebar", expanded=True).run()
