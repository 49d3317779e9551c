"""Deploy Advisor web UI: page config and navigation only; each page lives in this package.

`deploy-advisor ui` runs this file with Streamlit from wherever the package is installed; the repository's
`app.py` calls `main()` so `streamlit run app.py` in a checkout shows the same app.
"""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent


def page(file_name: str) -> str:
    """A page's path for st.page_link: absolute, so links work whichever script Streamlit was started with."""
    return str(HERE / file_name)


def main() -> None:
    from ui import flow

    # a local file, not a :material/ icon: the browser fetches nothing from the internet for the tab icon
    st.set_page_config(page_title="Deploy Advisor", page_icon=str(HERE / "static" / "icon.svg"), layout="wide",
                       menu_items={"About": "Deploy Advisor: where to serve an ML model on Azure, and deploy it there."})
    pages = {
        "Advise": [
            st.Page(HERE / "model_page.py", title="Model", icon=":material/model_training:", url_path="model",
                    default=True),
            st.Page(HERE / "workload_page.py", title="Workload", icon=":material/tune:", url_path="workload"),
            st.Page(HERE / "recommendation_page.py", title="Recommendation", icon=":material/recommend:",
                    url_path="recommendation"),
        ],
        "Operate": [
            st.Page(HERE / "deploy_page.py", title="Deploy", icon=":material/rocket_launch:", url_path="deploy"),
            st.Page(HERE / "deployments_page.py", title="Deployments", icon=":material/dns:", url_path="deployments"),
        ],
    }
    st.logo(HERE / "static" / "logo.svg", size="large")
    current = st.navigation(pages, position="sidebar", expanded=True)
    flow.header(current.url_path)  # styles, step bar, welcome; then the page; then Back/Next and the saved work
    current.run()
    flow.footer(current.url_path)


if __name__ == "__main__":  # Streamlit runs its script as __main__
    main()
