"""Deploy Advisor web UI from a checkout (`streamlit run app.py`); the app itself is ui/streamlit_app.py,
which the installed package runs with `deploy-advisor ui`."""
from ui.streamlit_app import main

main()
