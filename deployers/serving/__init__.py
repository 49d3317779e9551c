"""The scoring server: `python -m deployers.serving --app-dir DIR ...` (see server.py).

Kept free of the rest of deploy-advisor (no pydantic, no Azure, no mlflow):
the container images ship only this package next to the app dir, and every
import here is paid at cold start.
"""
