"""A remote MLflow server's artifact listing is the server's word: entries named `.`/`..` or a folder that
always holds another folder end in one line after a bounded number of requests, not a recursion of ~1000
requests ending in RecursionError."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from deployers import model_fetch
from deployers.errors import ModelResolutionError


@pytest.fixture
def hostile_server():
    """An MLflow REST look-alike on 127.0.0.1 whose every artifact listing is `state["files"]`."""
    state = {"files": [], "requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            return None

        def do_GET(self) -> None:
            state["requests"] += 1
            path = urlsplit(self.path).path
            body = ({"artifact_uri": "mlflow-artifacts:/m"} if path.endswith("get-download-uri")
                    else {"files": state["files"]} if "mlflow-artifacts/artifacts" in path else {})
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", state
    server.shutdown()
    server.server_close()


def _listing(uri: str) -> dict:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    return model_fetch._mlflow_listing(MlflowClient(tracking_uri=uri, registry_uri=uri), ModelVersion("m", "1", 0),
                                       uri, "the server")


@pytest.mark.parametrize("entry, message", [(".", "not a file or folder name"),
                                            ("sub", f"more than {model_fetch.MAX_DEPTH} folders deep")])
def test_a_listing_that_never_ends_is_one_line_after_bounded_requests(hostile_server, entry, message):
    uri, state = hostile_server
    state["files"] = [{"path": entry, "is_dir": True}, {"path": "model.pkl", "is_dir": False, "file_size": 3}]
    with pytest.raises(ModelResolutionError, match=message) as err:
        _listing(uri)
    assert "\n" not in str(err.value) and state["requests"] <= model_fetch.MAX_DEPTH + 4


def test_an_ordinary_listing_is_read(hostile_server):
    uri, state = hostile_server
    state["files"] = [{"path": "MLmodel", "is_dir": False, "file_size": 10},
                      {"path": "model.pkl", "is_dir": False, "file_size": 3}]
    assert _listing(uri) == {"MLmodel": 10, "model.pkl": 3}
