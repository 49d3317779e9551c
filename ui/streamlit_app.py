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
    st.set_page_config(page_title="Deploy Advisor", page_icon=":material/rocket_launch:", layout="wide",
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
    st.navigation(pages, position="sidebar", expanded=True).run()


if __name__ == "__main__":  # Streamlit runs its script as __main__
    main()
