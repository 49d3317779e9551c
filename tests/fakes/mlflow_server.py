"""A real MLflow tracking server (MLflow's own Flask app) on 127.0.0.1 for tests of remote `models:/` URIs.

Run as a child process (`python -m tests.fakes.mlflow_server FOLDER`): MLflow's server keeps global
state (it sets the process's tracking URI), so it must not share a process with the code under test.
It prints `PORT <n>` once listening and appends every request as `METHOD PATH?QUERY` to
FOLDER/requests.log, so a test can tell an artifact listing (`.../mlflow-artifacts/artifacts?path=`)
from a file read (`GET .../mlflow-artifacts/artifacts/<file>`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main(folder: str) -> None:
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    os.environ["_MLFLOW_SERVER_FILE_STORE"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["_MLFLOW_SERVER_ARTIFACT_DESTINATION"] = str(root / "artifacts")
    os.environ["_MLFLOW_SERVER_SERVE_ARTIFACTS"] = "true"
    os.environ["_MLFLOW_SERVER_ARTIFACT_ROOT"] = "mlflow-artifacts:/"
    from mlflow.server import app
    from werkzeug.serving import WSGIRequestHandler, make_server

    log = open(root / "requests.log", "a", buffering=1, encoding="utf-8")

    def recorded(environ, start_response):
        query = environ.get("QUERY_STRING")
        log.write(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}{'?' + query if query else ''}\n")
        return app(environ, start_response)

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            return None

    server = make_server("127.0.0.1", 0, recorded, threaded=True, request_handler=Quiet)
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
