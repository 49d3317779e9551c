"""Several worker processes sharing one listening socket.

The parent binds the socket (IPPROTO_TCP, so accepted connections get
TCP_NODELAY — the `uvicorn --workers` trap), starts N copies of itself with
`--listen-fd`, waits until every worker has loaded the model, prints READY,
restarts a worker that dies, and on SIGTERM/SIGINT forwards SIGTERM so each
worker drains its in-flight requests, then exits 0. Connections are spread by
the kernel as workers accept them; a keep-alive connection stays on the worker
that accepted it.
"""
from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time

from ..child_env import child_env
from .server import EXIT_INIT_FAILED, url_for

log = logging.getLogger("deployers.serving")


def _strip_internal(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--listen-fd", "--ready-fd", "--workers"):
            skip = True
            continue
        if a.startswith(("--listen-fd=", "--ready-fd=", "--workers=")):
            continue
        out.append(a)
    return out


class _Worker:
    def __init__(self, proc: subprocess.Popen, ready_r: int) -> None:
        self.proc = proc
        self.ready_r = ready_r
        self.ready = False


def supervise(args: argparse.Namespace, sock: socket.socket, workers: int, argv: list[str]) -> int:
    sock.set_inheritable(True)
    base = [sys.executable, "-m", "deployers.serving", *_strip_internal(argv), "--workers", "1"]
    stopping = {"flag": False}

    def start() -> _Worker:
        r, w = os.pipe()
        cmd = [*base, "--listen-fd", str(sock.fileno()), "--ready-fd", str(w)]
        proc = subprocess.Popen(cmd, pass_fds=(sock.fileno(), w), stdin=subprocess.DEVNULL, env=child_env())
        os.close(w)
        return _Worker(proc, r)

    def on_signal(signum, _frame) -> None:  # noqa: ANN001
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pool = [start() for _ in range(workers)]
    log.info("supervising %d workers on %s", workers, url_for(sock))
    announced = False
    restarts: list[float] = []
    code = 0
    while not stopping["flag"]:
        fds = [w.ready_r for w in pool if w.ready_r >= 0]
        readable: list[int] = []
        try:
            if fds:
                readable = select.select(fds, [], [], 0.2)[0]
            else:
                time.sleep(0.2)
        except InterruptedError:
            pass
        for w in pool:
            if w.ready_r >= 0 and w.ready_r in readable:
                w.ready = os.read(w.ready_r, 1) == b"R"  # b"" = the worker died before it was ready
                os.close(w.ready_r)
                w.ready_r = -1
        if not announced and all(w.ready for w in pool):
            announced = True
            print(f"READY {url_for(sock)}", flush=True)
        for i, w in enumerate(pool):
            rc = w.proc.poll()
            if rc is None or stopping["flag"]:
                continue
            if not w.ready and rc == EXIT_INIT_FAILED:
                log.error("worker %d failed to load the model (exit %d): stopping", w.proc.pid, rc)
                code = EXIT_INIT_FAILED
                stopping["flag"] = True
                break
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > 5 * workers:
                log.error("workers keep dying (%d restarts in a minute): stopping", len(restarts))
                code = 1
                stopping["flag"] = True
                break
            log.warning("worker %d exited with %s: starting a new one", w.proc.pid, rc)
            if w.ready_r >= 0:
                os.close(w.ready_r)
            pool[i] = start()
    # drain: every worker stops accepting and finishes its in-flight requests
    for w in pool:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + args.timeout_s + 10
    for w in pool:
        try:
            w.proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
    sock.close()
    log.info("all workers stopped")
    return code
