"""Calls to a deployed scoring server over HTTPS: readiness polling, scoring, the curl line.

Used by the targets whose endpoint is a plain HTTPS host serving deployers.serving (App Service,
Container Apps). The calls go through an azure-core pipeline built with the context's SDK keyword
arguments, so tests reach the in-process fake through the same `transport=` as the SDK clients,
retries follow the same settings, and waits between polls go through `transport.sleep` like the
SDK pollers' (instant and recorded in tests, cancellable for real).
"""
from __future__ import annotations

import time
from functools import cached_property
from typing import Any

from .base import DeployContext

READY_PATH = "/ready"  # readiness route of deployers.serving: 503 until init() finished
SCORE_PATH = "/score"


def curl(host: str, path: str = SCORE_PATH) -> str:
    """A ready-to-paste scoring call; the key appears as $SCORING_KEY, never its value."""
    return (f"curl -sS https://{host}{path} -H \"Authorization: Bearer $SCORING_KEY\" "
            "-H 'Content-Type: application/json' -d @input.json")


class Endpoint:
    """HTTPS calls to one deployment's hosts, with the context's transport, retries and cancellation."""

    def __init__(self, ctx: DeployContext, sdk_kwargs: dict[str, Any], base_url: str):
        self.ctx = ctx
        self.kwargs = sdk_kwargs
        self.base_url = base_url

    @cached_property
    def client(self) -> Any:
        from azure.core import PipelineClient
        from azure.core.pipeline import policies as p

        retry = {k: v for k, v in self.kwargs.items() if k.startswith("retry_")}
        retry.setdefault("retry_total", 3)
        policies = [p.HeadersPolicy(), p.UserAgentPolicy(sdk_moniker="deploy-advisor"), p.RetryPolicy(**retry)]
        extra = {"transport": self.kwargs["transport"]} if self.kwargs.get("transport") is not None else {}
        return PipelineClient(base_url=self.base_url, policies=policies, **extra)

    def pause(self, seconds: float) -> None:
        """Wait between polls the way the SDK's pollers do (through the transport), cancellable."""
        self.ctx.check_cancelled()
        transport = self.kwargs.get("transport")
        if transport is not None and hasattr(transport, "sleep"):
            transport.sleep(seconds)
        else:
            self.ctx.sleep(seconds)
        self.ctx.check_cancelled()

    def probe(self, host: str, path: str = READY_PATH) -> tuple[bool, str]:
        """One readiness request, no retry: (ready, "HTTP 503" / the exception's name)."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        try:
            resp = self.client.send_request(HttpRequest("GET", f"https://{host}{path}"),
                                            connection_timeout=10, read_timeout=30, retry_total=0)
            return resp.status_code == 200, f"HTTP {resp.status_code}"
        except AzureError as e:
            return False, e.__class__.__name__

    def wait_ready(self, host: str, what: str, timeout: float, poll_seconds: float,
                   path: str = READY_PATH) -> tuple[bool, str]:
        """Poll the readiness route until 200 or `timeout` seconds: (ok, why not)."""
        from .azure_common import emit

        waited = 0.0
        ctx = self.ctx
        ctx.step(f"wait for {what} to pass its health check ({path} on {host}, up to {timeout:g} s)")
        while True:
            ctx.check_cancelled()
            ok, last = self.probe(host, path)
            if ok:
                emit(ctx, "info", f"{what} is ready after {waited:.0f} s", waited_s=waited)
                return True, ""
            if waited >= timeout:
                return False, f"not ready after {timeout:g} s (last answer: {last})"
            emit(ctx, "progress", f"{what}: {last}, waiting ({waited:.0f}/{timeout:g} s)", waited_s=waited)
            self.pause(poll_seconds)
            waited += poll_seconds

    def score(self, host: str, key: str, payload: Any, read_timeout: float,
              path: str = SCORE_PATH) -> tuple[int, float, Any]:
        """POST the payload with the key: (status, latency in ms, JSON body or text)."""
        from azure.core.rest import HttpRequest

        from .azure_common import azure_errors

        req = HttpRequest("POST", f"https://{host}{path}", json=payload,
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        t0 = time.perf_counter()
        with azure_errors(f"POST https://{host}{path}"):
            resp = self.client.send_request(req, connection_timeout=10, read_timeout=read_timeout)
        latency = (time.perf_counter() - t0) * 1000
        try:
            body = resp.json()
        except ValueError:
            body = resp.text()
        return resp.status_code, latency, body
