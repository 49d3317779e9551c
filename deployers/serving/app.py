"""The raw ASGI scoring app: POST /score; probes GET /live (liveness), GET /ready (readiness), GET / (up).

/ready: 200 once the model is loaded, 503 while loading, stopping, or when a scoring call has run past the
timeout (startup and readiness probes, App Service's health check). /live: 503 only when restarting helps:
the model failed to load or the scoring thread is stuck (liveness probes). / answers whenever the event loop
does (a plain "is the port up" check).

No web framework: routing three paths by hand keeps per-request overhead to a
few tens of microseconds, which matters when the model itself costs ~0.1 ms a
row inside a batch. Scoring runs on the MicroBatcher's thread, never on the
event loop. Error bodies are one JSON line with a request id. A bad request
(4xx: wrong key, not JSON, nested too deeply, input that does not fit the
model) is one warning line in the log; only a failing model (500) logs its
traceback. The key is compared in constant time and never logged.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .batching import MicroBatcher

log = logging.getLogger("deployers.serving")

_REQUEST_ID_RE = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
_JSON = (b"content-type", b"application/json")


class ScoringTimeout(Exception):
    pass


@dataclass
class AppSettings:
    key: Optional[bytes] = None  # None = no auth
    max_body: int = 10 * 1024 * 1024
    timeout_s: float = 60.0
    max_queue: int = 1000
    access_log: bool = False


def _json_default(obj: Any) -> Any:
    """numpy scalars/arrays and other list-likes that scoring scripts commonly return."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_dumps = json.JSONEncoder(separators=(",", ":"), default=_json_default, ensure_ascii=True).encode
_loads = json.loads


def _body(obj: Any) -> bytes:
    return _dumps(obj).encode()


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return msg[:limit]


def _client_status(exc: BaseException) -> Optional[int]:
    """The 4xx status a scoring script's exception asks for (score.py's InputError says 422), else None."""
    status = getattr(exc, "http_status", None)
    return status if isinstance(status, int) and 400 <= status < 500 else None


def parse_body(body: bytes) -> tuple[Any, Optional[str]]:
    """(the JSON payload, None), or (None, one line saying why the body is not JSON we read)."""
    try:
        return _loads(body), None
    except ValueError as exc:  # malformed, not UTF-8, a number over Python's 4300-digit limit
        return None, _json_error(body, exc)
    except RecursionError:
        return None, "the JSON is nested too deeply"


def _json_error(body: bytes, exc: ValueError) -> str:
    """One line naming why a body is not JSON we can read (never the body itself)."""
    if isinstance(exc, json.JSONDecodeError):
        if not body.strip():
            return "empty body: send a JSON object like {\"input_data\": ...}"
        return f"malformed JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return "the body is not UTF-8 JSON"
    return f"the body is not JSON we accept: {str(exc).splitlines()[0][:120] if str(exc) else 'invalid value'}"


class ScoringApp:
    """ASGI callable; `state` flips from loading to ready/failed as the scoring thread reports."""

    def __init__(self, settings: AppSettings, meta: dict[str, Any]) -> None:
        self.settings = settings
        self.meta = meta
        self.state = "loading"  # loading | ready | failed | stopping
        self.batcher: Optional[MicroBatcher] = None
        self.pending = 0
        self.on_startup: Optional[Callable[[asyncio.AbstractEventLoop], None]] = None
        self.on_shutdown: Optional[Callable[[], None]] = None
        self._expected_auth = b"Bearer " + settings.key if settings.key is not None else None
        self._id_prefix = f"{os.getpid():x}-".encode()
        self._counter = 0
        self._ready_body = _body({"status": "ready", "model": meta.get("model_name", ""),
                                  "version": meta.get("model_version", "")})

    # -- ASGI entry -------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            method = scope["method"]
            if path == "/score":
                if method == "POST":
                    await self._score(scope, receive, send)
                else:
                    await self._reply(send, 405, {"error": "use POST /score with a JSON body"},
                                      ((b"allow", b"POST"),))
            elif path == "/ready":
                await self._ready(send) if method in ("GET", "HEAD") else await self._reply(send, 405, {"error": "use GET"})
            elif path == "/live":
                await self._live(send) if method in ("GET", "HEAD") else await self._reply(send, 405, {"error": "use GET"})
            elif path == "/":
                if method in ("GET", "HEAD"):
                    await self._reply(send, 200, {"status": "alive"})
                else:
                    await self._reply(send, 405, {"error": "use GET"})
            else:
                await self._reply(send, 404, {"error": "not found: use POST /score, GET /, GET /live or GET /ready"})
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.on_startup:
                    self.on_startup(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.on_shutdown:
                    self.on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- helpers ----------------------------------------------------------------
    @staticmethod
    async def _send(send: Callable, status: int, body: bytes, extra: tuple = ()) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [_JSON, (b"content-length", str(len(body)).encode()), *extra]})
        await send({"type": "http.response.body", "body": body})

    async def _reply(self, send: Callable, status: int, obj: Any, extra: tuple = ()) -> None:
        await self._send(send, status, _body(obj), extra)

    def _stuck(self) -> bool:
        """The scoring thread has been inside one call for longer than the scoring timeout."""
        b = self.batcher
        return b is not None and b.busy_since is not None and time.monotonic() - b.busy_since > self.settings.timeout_s

    async def _refuse(self, send: Callable, status: int, error: str, rid_s: str, extra: tuple = ()) -> int:
        """A bad request: one JSON line to the client, one line in the log, no traceback."""
        log.warning("request %s: %d %s", rid_s, status, error)
        await self._reply(send, status, {"error": error, "request_id": rid_s}, extra)
        return status

    async def _ready(self, send: Callable) -> None:
        if self.state == "ready":
            if self._stuck():
                await self._reply(send, 503, {"status": "stuck", "detail": "a scoring call has run longer than the timeout"})
                return
            await self._send(send, 200, self._ready_body)
        else:
            await self._reply(send, 503, {"status": self.state})

    async def _live(self, send: Callable) -> None:
        if self.state == "failed" or self._stuck():
            status = "failed" if self.state == "failed" else "stuck"
            await self._reply(send, 503, {"status": status, "detail": "restart me"})
        else:
            await self._reply(send, 200, {"status": "alive"})

    def _new_id(self) -> bytes:
        self._counter += 1
        return self._id_prefix + f"{self._counter:x}".encode()

    # -- POST /score ------------------------------------------------------------
    async def _score(self, scope: dict, receive: Callable, send: Callable) -> None:
        started = time.perf_counter() if self.settings.access_log else 0.0
        auth = length = rid = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"content-length":
                length = value
            elif name == b"x-request-id" or name == b"x-ms-client-request-id":
                if _REQUEST_ID_RE.match(value):
                    rid = value
        rid = rid or self._new_id()
        rid_s = rid.decode()
        rid_header = ((b"x-request-id", rid),)
        status = await self._score_inner(receive, send, auth, length, rid, rid_s, rid_header)
        if self.settings.access_log:
            log.info("POST /score %s %.2fms request_id=%s", status, (time.perf_counter() - started) * 1000, rid_s)

    async def _score_inner(self, receive, send, auth, length, rid, rid_s, rid_header) -> int:  # noqa: ANN001
        s = self.settings
        if self._expected_auth is not None and (auth is None or not hmac.compare_digest(auth, self._expected_auth)):
            return await self._refuse(send, 401, "missing or wrong key: send 'Authorization: Bearer <key>'", rid_s,
                                      (*rid_header, (b"www-authenticate", b"Bearer")))
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > s.max_body:
                await self._too_large(send, rid_s, rid_header)
                return 413
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 499
            chunk = message.get("body", b"")
            if chunk:
                body = body + chunk if body else chunk
                if len(body) > s.max_body:
                    await self._too_large(send, rid_s, rid_header)
                    return 413
            more = message.get("more_body", False)
        if self.state != "ready":
            await self._reply(send, 503, {"error": f"the model is not ready ({self.state})", "request_id": rid_s},
                              (*rid_header, (b"retry-after", b"1")))
            return 503
        payload, error = parse_body(body)
        if error is not None:
            return await self._refuse(send, 400, error, rid_s, rid_header)
        batcher = self.batcher
        if self.pending >= s.max_queue:
            await self._reply(send, 503, {"error": "overloaded: too many requests queued", "request_id": rid_s},
                              (*rid_header, (b"retry-after", b"1")))
            return 503
        self.pending += 1
        fut = batcher.submit(payload if batcher.batched else body.decode("utf-8"))
        timer = batcher.loop.call_later(s.timeout_s, _expire, fut)
        try:
            result = await fut
        except ScoringTimeout:
            log.error("request %s: scoring timed out after %.1f s", rid_s, s.timeout_s)
            await self._reply(send, 504, {"error": f"scoring timed out after {s.timeout_s:g} s", "request_id": rid_s},
                              rid_header)
            return 504
        except Exception as exc:  # noqa: BLE001 - the scoring script's error: 500, traceback in the log
            status = _client_status(exc)
            if status is not None:  # the input does not fit the model: the client's to fix
                return await self._refuse(send, status, str(exc).strip().split("\n", 1)[0][:300] or "bad input",
                                          rid_s, rid_header)
            log.error("request %s: scoring failed: %s", rid_s, _one_line(exc), exc_info=exc)
            await self._reply(send, 500, {"error": _one_line(exc), "request_id": rid_s}, rid_header)
            return 500
        finally:
            timer.cancel()
            self.pending -= 1
        try:
            out = _dumps(result).encode()
        except (TypeError, ValueError) as exc:
            log.error("request %s: the scoring script returned a value JSON cannot hold: %s", rid_s, _one_line(exc))
            await self._reply(send, 500, {"error": "the scoring script returned a value that is not JSON-serialisable",
                                          "request_id": rid_s}, rid_header)
            return 500
        await self._send(send, 200, out, rid_header)
        return 200

    async def _too_large(self, send: Callable, rid_s: str, rid_header: tuple) -> None:
        limit = self.settings.max_body / (1024 * 1024)
        await self._refuse(send, 413, f"request body larger than {limit:g} MB", rid_s,
                           (*rid_header, (b"connection", b"close")))


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_exception(ScoringTimeout())
