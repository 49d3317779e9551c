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
    limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = self._unparsed = 0
        self._in_head = True  # a new connection owes us a request head
        self._refused = False
        self._timer: Optional[asyncio.TimerHandle] = None
        self._arm(self.limits.head_timeout_s, "request headers")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._in_head and not self._refused:  # headers still incomplete: the parser buffers them
            self._unparsed += len(data)
            if self._unparsed > self.limits.max_head_bytes:
                self._refuse(431, self._too_large())

    # parser callbacks (the head's size is counted as it is parsed, the raw bytes above while it is not)
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._unparsed = True, 0, 0
        if self._timer is None:  # the next request on a kept-alive connection
            self._arm(self.limits.head_timeout_s, "request headers")

    def on_url(self, url: bytes) -> None:
        self._head_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_bytes > self.limits.max_head_bytes:
            self._refuse(431, self._too_large())
            return  # no request reaches the app
        self._arm(self.limits.body_timeout_s, "request body")
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        if not self._refused:
            super().on_message_complete()

    # helpers
    def _too_large(self) -> str:
        return f"request headers larger than {self.limits.max_head_bytes // 1024} KB"

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._too_slow, seconds, what)

    def _disarm(self) -> None:
        if getattr(self, "_timer", None) is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self, seconds: float, what: str) -> None:
        self._timer = None
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()  # answered already (e.g. 413 while the body still trickles in)
            return
        self._refuse(408, f"{what} not received within {seconds:g} s: connection closed")

    def _refuse(self, status: int, error: str) -> None:
        self._refused = True
        self._disarm()
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

