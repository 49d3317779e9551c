"""Deploy Advisor web UI: page config, navigation and the guided flow around each page (pages live in ui/)."""
from pathlib import Path

import streamlit as st

from ui import flow

STATIC = Path(__file__).parent / "ui" / "static"
# a local file, not a :material/ icon: the browser fetches nothing from the internet for the tab icon
st.set_page_config(page_title="Deploy Advisor", page_icon=str(STATIC / "icon.svg"), layout="wide",
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

st.logo(STATIC / "logo.svg", size="large")
page = st.navigation(pages, position="sidebar", expanded=True)
flow.header(page.url_path)
page.run()
flow.footer(page.url_path)
