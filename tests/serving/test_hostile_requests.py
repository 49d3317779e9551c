"""Hostile and broken requests against the real server: every one is a 4xx with a one-line JSON
error naming the problem and one warning line in the log (never a traceback, never a 500);
oversized headers are 431, slow clients are answered 408 and closed; the log rotates."""
from __future__ import annotations

import json
import pickle
import socket
import time

import pytest

from deployers import scoring
from deployers.model_resolution import resolve

from .conftest import KEY, Server

LIMIT_FLAGS = ("--header-timeout-s", "0.5", "--body-timeout-s", "0.5", "--max-header-kb", "4",
               "--log-max-mb", "0.02")


@pytest.fixture(scope="module")
def lr_server(tmp_path_factory, breast_cancer):
    """A LogisticRegression on named columns: it does not accept missing values."""
    from sklearn.linear_model import LogisticRegression

    from .conftest import ROOT  # noqa: F401 - the server runs from the repo root

    tmp = tmp_path_factory.mktemp("lr")
    X = breast_cancer.iloc[:, :4]
    y = (X.iloc[:, 0] > X.iloc[:, 0].median()).astype(int)
    folder = tmp / "lr-model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(LogisticRegression(max_iter=500).fit(X, y)))
    (folder / "input_example.json").write_text(json.dumps({"input_data": X.head(1).values.tolist()}))
    app = scoring.build_app_dir(resolve(str(folder / "model.pkl"), tmp / "state"), folder, tmp / "app")
    server = Server(app, tmp, extra=LIMIT_FLAGS)
    server.columns = list(X.columns)
    yield server
    server.stop()


def _raw(columns: list[str], row: str) -> bytes:
    return ('{"input_data": {"columns": %s, "data": [%s]}}' % (json.dumps(columns), row)).encode()


def _bad_bodies(columns: list[str]) -> list[tuple[str, bytes, int, str]]:
    """(what, body, status, a word the error must contain)."""
    ok_row = "[1.0, 2.0, 3.0, 4.0]"
    return [
        ("wrong width", b'{"data": [[1.0, 2.0]]}', 422, "expected 4 values"),
        ("missing column", _raw(columns[:3] + ["nope"], ok_row), 422, "missing column"),
        ("strings", b'{"data": [["a", "b", "c", "d"]]}', 422, "numbers"),
        ("empty rows", b'{"input_data": []}', 422, "no rows"),
        ("empty object", b'{"input_data": {}}', 422, "empty"),
        ("no input key", b"{}", 422, "input_data"),
        ("top-level list", b"[[1, 2, 3, 4]]", 422, "JSON object"),
        ("input is a string", b'{"input_data": "rows"}', 422, "list of rows"),
        ("input is a number", b'{"input_data": 5}', 422, "list of rows"),
        ("mixed rows", b'{"input_data": [1, [2]]}', 422, "mixes"),
        ("columns not a list", b'{"input_data": {"columns": "a", "data": [[1, 2, 3, 4]]}}', 422, "columns"),
        ("nested row values", b'{"data": [[[1], [2], [3], [4]]]}', 422, "flat list"),
        ("records of non-objects", b'{"data": [{"a": 1}, 3]}', 422, "mixes"),
        ("null feature", b'{"data": [[1.0, null, 3.0, 4.0]]}', 422, "missing value"),
        ("NaN feature", b'{"data": [[1.0, NaN, 3.0, 4.0]]}', 422, "missing value"),
        ("infinite feature", b'{"data": [[1.0, Infinity, 3.0, 4.0]]}', 422, "infinite"),
        ("huge integer", b'{"data": [[1' + b"0" * 400 + b', 2, 3, 4]]}', 422, "numbers"),
        ("5000-digit number", b'{"data": [[' + b"9" * 5000 + b", 2, 3, 4]]}", 400, "not JSON we accept"),
        ("nested 100k deep", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        ("nested 100k deep inside", b'{"input_data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400,
         "nested too deeply"),
        ("empty body", b"", 400, "empty body"),
        ("malformed", b'{"data": [[1, 2,', 400, "malformed JSON"),
        ("not UTF-8", b'{"data": [["\xff\xfe"]]}', 400, "UTF-8"),
    ]


def test_every_bad_body_is_one_4xx_line_and_one_log_line(lr_server):
    bodies = _bad_bodies(lr_server.columns)
    for i, (what, body, status, word) in enumerate(bodies):
        rid = f"bad-{i}"
        code, headers, out = lr_server.request("POST", "/score", body, headers={"X-Request-Id": rid})
        assert (code, headers["x-request-id"]) == (status, rid), (what, code, out)
        assert set(out) == {"error", "request_id"} and word in out["error"], (what, out)
        assert "\n" not in out["error"] and len(out["error"]) <= 300 and "Traceback" not in out["error"]
    log = lr_server.read_log()
    assert "Traceback" not in log and " ERROR " not in log
    for i, (what, _body, status, _word) in enumerate(bodies):
        lines = [ln for ln in log.splitlines() if f"request bad-{i}:" in ln]
        assert len(lines) == 1 and f" {status} " in lines[0], (what, lines)
    good = lr_server.request("POST", "/score", {"data": [[1.0, 2.0, 3.0, 4.0]]})
    assert good[0] == 200 and len(good[2]) == 1
    print(f"bad bodies tried: {len(bodies)}, answered as one line: {len(bodies)}")


def test_a_model_that_declares_nan_support_gets_nan(mlflow_server, breast_cancer):
    """The forest says it handles missing values (scikit-learn's allow_nan tag): NaN reaches it."""
    row = breast_cancer.iloc[0].tolist()
    row[3] = None
    code, _, out = mlflow_server.request("POST", "/score", {"data": [row]})
    assert code == 200 and len(out) == 1


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_oversized_headers_are_431(lr_server):
    with _connect(lr_server.port) as sock:
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431 ") and b"request headers larger than 4 KB" in reply
    with _connect(lr_server.port) as sock:  # a head that never ends, sent in pieces: refused before it is parsed
        sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(8):
                sock.sendall(b"a" * 1024)
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize("what, sent", [
    ("idle connection", b""),
    ("headers trickle", b"POST /score HTTP/1.1\r\nHost: x\r\n"),
    ("body trickles", b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
     + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\": "),
])
def test_slow_clients_are_closed(lr_server, what, sent):
    started = time.monotonic()
    with _connect(lr_server.port) as sock:
        if sent:
            sock.sendall(sent)
        reply = _read_all(sock)
    took = time.monotonic() - started
    assert 0.4 < took < 3.0, (what, took)
    assert reply.startswith(b"HTTP/1.1 408 ") and b"not received within 0.5 s" in reply, (what, reply[:200])


def test_keep_alive_still_serves_request_after_request(lr_server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", lr_server.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("POST", "/score", body=b'{"data": [[1.0, 2.0, 3.0, 4.0]]}',
                         headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            assert resp.status == 200 and len(json.loads(resp.read())) == 1
            time.sleep(0.3)  # idle between requests: the keep-alive timeout's business, not the head timeout's
    finally:
        conn.close()


def test_the_log_rotates_with_a_size_cap(lr_server):
    for i in range(400):
        lr_server.request("POST", "/score", b"{}", headers={"X-Request-Id": f"rotate-{i}"})
    logs = sorted(lr_server.log.parent.glob(lr_server.log.name + "*"))
    names = {p.name for p in logs}
    assert {lr_server.log.name, lr_server.log.name + ".1"} <= names
    assert names <= {lr_server.log.name, lr_server.log.name + ".1", lr_server.log.name + ".2",
                     lr_server.log.name + ".lock"}
    for p in logs:
        assert p.stat().st_size <= 0.02 * 1024 * 1024 + 400, p
        assert p.stat().st_mode & 0o777 == 0o600, p
    assert "rotate-399" in lr_server.read_log()
