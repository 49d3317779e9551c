"""The advisor: pure decision logic (no Azure SDK, no Streamlit, no network), in plain Python.

models.py holds the contracts; targets/ one module per target; data/ the facts with their sources;
criteria.py the generic criteria; queueing.py and sizing.py the maths; explain.py the reasons and
sensitivity; engine.py `recommend(profile)`.
"""
