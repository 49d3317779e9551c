"""The Streamlit UI: one module per page (`*_page.py`, run by app.py's st.navigation) plus small helpers."""
