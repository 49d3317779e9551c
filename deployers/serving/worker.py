"""One serving process: uvicorn + the raw ASGI app + the scoring thread."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from typing import Optional

from . import loader
from .app import AppSettings, ScoringApp, _one_line
from .batching import MicroBatcher
from .server import EXIT_BAD_INPUT, EXIT_INIT_FAILED, url_for

log = logging.getLogger("deployers.serving")


def pick_http() -> str:
    try:
        import httptools  # noqa: F401 - C parser, ~3x less CPU per request than h11
        return "httptools"
    except ImportError:
        return "h11"


def pick_loop(choice: str) -> str:
    """uvloop unless asked otherwise: ~25% less CPU per request than asyncio here. Its unfair
    scheduling under load (see the anchors) came from handlers that block the loop; ours never
    do — the model runs on the scoring thread — so requests are read and queued in arrival order."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop  # noqa: F401
            return "uvloop"
        except ImportError:
            if choice == "uvloop":
                log.warning("uvloop is not installed: using asyncio")
    return "asyncio"


def serve(args: argparse.Namespace, sock: socket.socket, key: Optional[bytes]) -> int:
    started = time.monotonic()
    import uvicorn

    try:
        meta = loader.read_meta(args.app_dir)
    except loader.ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    settings = AppSettings(key=key, max_body=int(args.max_body_mb * 1024 * 1024), timeout_s=args.timeout_s,
                           max_queue=args.max_queue, access_log=args.access_log)
    app = ScoringApp(settings, meta)
    warmup = None if args.no_warmup else meta.get("input_example")
    http, loop_name = pick_http(), pick_loop(args.loop)
    protocol: object = http  # h11 (no httptools): only its own head size limit, set below
    if http == "httptools":
        from .protocol import Limits, guarded_protocol

        protocol = guarded_protocol(Limits(max_head_bytes=args.max_header_kb * 1024,
                                           head_timeout_s=args.header_timeout_s, body_timeout_s=args.body_timeout_s))

    config = uvicorn.Config(app, http=protocol, ws="none", loop=loop_name, lifespan="on", log_config=None,
                            access_log=False, server_header=False, proxy_headers=False, backlog=2048,
                            timeout_keep_alive=15, timeout_graceful_shutdown=int(args.timeout_s) + 5,
                            h11_max_incomplete_event_size=args.max_header_kb * 1024)
    server = uvicorn.Server(config)
    exit_code = [0]
    url = url_for(sock)

    def on_startup(loop) -> None:  # noqa: ANN001
        batcher = MicroBatcher(loop, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms,
                               max_queue=args.max_queue)
        app.batcher = batcher

        def ready() -> None:
            app.state = "ready"
            log.info("ready in %.2f s: %s %s (%s batching, max batch %d, max wait %g ms)",
                     time.monotonic() - started, meta.get("model_name", "model"), meta.get("model_version", ""),
                     "micro" if batcher.batched else "no", args.max_batch, args.max_wait_ms)
            if args.ready_fd is not None:
                try:
                    os.write(args.ready_fd, b"R")
                    os.close(args.ready_fd)
                except OSError:
                    pass
            else:
                print(f"READY {url}", flush=True)

        def failed(exc: BaseException) -> None:
            app.state = "failed"
            log.error("init() failed: %s", _one_line(exc), exc_info=exc)
            print(f"error: the scoring script's init() failed: {_one_line(exc)}", file=sys.stderr, flush=True)
            exit_code[0] = EXIT_INIT_FAILED
            server.should_exit = True

        batcher.start(lambda: loader.prepare(args.app_dir, warmup), ready, failed)
        if args.listen_fd is not None:  # a supervised worker stops when its supervisor is gone
            parent = os.getppid()

            def watch() -> None:
                if os.getppid() != parent:
                    log.warning("the supervisor (pid %d) is gone: stopping", parent)
                    server.should_exit = True
                else:
                    loop.call_later(1.0, watch)

            loop.call_later(1.0, watch)

    def on_shutdown() -> None:
        app.state = "stopping"
        if app.batcher is not None:
            app.batcher.stop(timeout=1.0)
        log.info("stopped")

    app.on_startup = on_startup
    app.on_shutdown = on_shutdown
    log.info("serving %s on %s (%s, %s loop, auth %s)", args.app_dir, url, http, loop_name,
             "on" if key is not None else "off")
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; absorb them so a drained
    # server exits 0 instead of dying from the signal.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    server.run(sockets=[sock])
    return exit_code[0]
