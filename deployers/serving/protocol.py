"""uvicorn's httptools protocol with the limits it lacks: a cap on the request head (431) and
deadlines for reading the head and the body (a slow client is answered 408 and closed).

Why: uvicorn buffers request headers without a size limit and waits for them (and for a body)
forever, so a handful of slow or oversized clients can hold every connection and a lot of
memory of a scoring server. Each refusal is one warning line in the log.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Optional

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("deployers.serving")


@dataclass(frozen=True)
class Limits:
    max_head_bytes: int = 32 * 1024  # request line + headers
    head_timeout_s: float = 10.0  # from the connection (or the request's first byte) to the end of its headers
    body_timeout_s: float = 30.0  # from the end of the headers to the end of the body


def guarded_protocol(limits: Limits) -> type:
    """The protocol class to give uvicorn.Config(http=...)."""
    return type("GuardedHttpToolsProtocol", (_Guarded,), {"limits": limits})


class _Guarded(HttpToolsProtocol):
    """Per request this costs a few attribute writes: the deadlines are checked by one watchdog
    timer per connection, not a timer armed and cancelled for every request."""

    limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._pending = 0  # bytes received since the last complete request (an upper bound on the head)
        self._refused = False
        self._phase, self._since = "head", self.loop.time()  # a new connection owes us a request head
        tick = min(self.limits.head_timeout_s, self.limits.body_timeout_s) / 4
        self._tick = min(max(tick, 0.05), 2.5)
        self._watch: Optional[asyncio.TimerHandle] = self.loop.call_later(self._tick, self._check)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._pending += len(data)
        super().data_received(data)
        if self._phase == "head" and self._pending > self.limits.max_head_bytes and not self._refused:
            self._refuse(431, self._too_large())  # the parser is still buffering an endless head

    # parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._phase != "head":  # the next request on a kept-alive connection: its clock starts now
            self._phase, self._since = "head", self.loop.time()

    def on_headers_complete(self) -> None:
        if self._pending > self.limits.max_head_bytes and self._head_size() > self.limits.max_head_bytes:
            self._refuse(431, self._too_large())
            return  # no request reaches the app
        self._phase, self._since = "body", self.loop.time()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._phase, self._pending = "done", 0  # scoring, then keep-alive idle: uvicorn's timeouts
        if not self._refused:
            super().on_message_complete()

    # helpers
    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _too_large(self) -> str:
        return f"request headers larger than {self.limits.max_head_bytes // 1024} KB"

    def _check(self) -> None:
        self._watch = None
        if self._refused or self.transport.is_closing():
            return
        waited = self.loop.time() - self._since
        if self._phase == "head" and waited > self.limits.head_timeout_s:
            self._too_slow(self.limits.head_timeout_s, "request headers")
        elif self._phase == "body" and waited > self.limits.body_timeout_s:
            self._too_slow(self.limits.body_timeout_s, "request body")
        else:
            self._watch = self.loop.call_later(self._tick, self._check)

    def _too_slow(self, seconds: float, what: str) -> None:
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # answered already (e.g. 413 while the body still trickles in)
            return
        self._refuse(408, f"{what} not received within {seconds:g} s: connection closed")

    def _refuse(self, status: int, error: str) -> None:
        self._refused = True
        client = "%s:%d" % self.client[:2] if self.client else "client"
        log.warning("%s: %d %s", client, status, error)
        if self.transport.is_closing():
            return
        body = json.dumps({"error": error}).encode()
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}.get(status, b"Bad Request")
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True  # the app's receive() sees a disconnect, not more body
            self.cycle.message_event.set()
