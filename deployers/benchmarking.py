"""Calibration: measure how fast a model serves on this machine (`deploy-advisor benchmark`).

`measure(app_dir)` returns a `Calibration` (service time of one predict call,
marginal cost per extra row in a batch, requests/s on one core, best batch
size) and the curve behind it:

* service time against batch size, in a fresh process with no HTTP
  (`python -m deployers.serving.measure`), pinned to one CPU;
* throughput and latency against concurrency over HTTP, against the real
  server (`python -m deployers.serving`, one worker pinned to one CPU, bound
  to 127.0.0.1) driven by a bounded asyncio load generator on another CPU.

The load generator only talks to loopback addresses and stops at its deadline.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import ipaddress
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from advisor.models import Calibration

from .child_env import child_env
from .errors import InputError, RemoteError

Progress = Optional[Callable[[str], None]]


# ----------------------------------------------------------------------------- load generator


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    requests: int = 0
    errors: int = 0  # non-2xx answers + broken connections
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, max(0, int(round(q / 100 * len(data))) - 1))]

    def as_dict(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "rps": round(self.rps, 1), "p50_ms": round(self.pct(50), 3),
                "p99_ms": round(self.pct(99), 3), "requests": self.requests, "errors": self.errors,
                "seconds": round(self.seconds, 2)}


def build_request(host: str, port: int, path: str, body: bytes, headers: Optional[dict[str, str]] = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _one_connection(host: str, port: int, request: bytes, deadline: float, result: LoadResult,
                          timeout: float) -> None:
    loop = asyncio.get_running_loop()
    reader = writer = None
    while loop.time() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            started = time.perf_counter()
            writer.write(request)
            status_line = await asyncio.wait_for(reader.readline(), timeout)
            length, close = 0, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                lname = name.strip().lower()
                if lname == b"content-length":
                    length = int(value.strip())
                elif lname == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            elapsed = (time.perf_counter() - started) * 1000
            parts = status_line.split()
            if len(parts) < 2 or not parts[1].startswith(b"2"):
                result.errors += 1
            else:
                result.requests += 1
                result.latencies_ms.append(elapsed)
            if close:
                writer.close()
                writer = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            result.errors += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def _check_loopback(host: str) -> None:
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise InputError(f"the load generator only targets loopback addresses (got {host})")


def run_load(host: str, port: int, body: bytes, *, concurrency: int, seconds: float, path: str = "/score",
             headers: Optional[dict[str, str]] = None, timeout: float = 30.0) -> LoadResult:
    """Closed-loop load: `concurrency` keep-alive connections, each sending the next request
    as soon as the previous answer arrives, for `seconds` (bounded)."""
    _check_loopback(host)
    if not (1 <= concurrency <= 1024 and 0 < seconds <= 600):
        raise InputError("concurrency must be 1-1024 and seconds 0-600")
    request = build_request(host, port, path, body, headers)

    async def main() -> LoadResult:
        loop = asyncio.get_running_loop()
        result = LoadResult(concurrency=concurrency, seconds=seconds)
        start = loop.time()
        await asyncio.gather(*(_one_connection(host, port, request, start + seconds, result, timeout)
                               for _ in range(concurrency)))
        result.seconds = loop.time() - start
        return result

    try:
        import uvloop  # a faster client keeps the generator from being the bottleneck

        return uvloop.run(main())
    except ImportError:
        return asyncio.run(main())


# ----------------------------------------------------------------------------- server process


def cpu_plan() -> tuple[Optional[int], Optional[int]]:
    """(server CPU, load-generator CPU): the last usable CPU serves, the first drives load."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(cpus) < 2:
        return None, None
    return cpus[-1], cpus[0]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


class ServerProcess:
    """`python -m deployers.serving` on 127.0.0.1 with a generated key; stops on exit."""

    def __init__(self, app_dir: Path, *, cpu: Optional[int] = None, extra: Sequence[str] = (),
                 ready_timeout: float = 180.0) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="da-serve-")
        tmp = Path(self._tmp.name)
        self.key = secrets.token_urlsafe(32)
        key_file = tmp / "key"
        key_file.write_text(self.key)
        key_file.chmod(0o600)
        self.log = tmp / "server.log"
        cmd = [sys.executable, "-m", "deployers.serving", "--app-dir", str(app_dir), "--host", "127.0.0.1",
               "--port", "0", "--key-file", str(key_file), "--log-file", str(self.log), *extra]
        if cpu is not None:
            cmd += ["--cpu-affinity", str(cpu)]
        if "--workers" not in extra:
            cmd += ["--workers", "1"]
        env = child_env()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=env)
        self.port = self._wait_ready(ready_timeout)
        self.ready_s = time.perf_counter() - self.started

    def _wait_ready(self, timeout: float) -> int:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sel.select(0.1):
                line = self.proc.stdout.readline().decode(errors="replace")  # type: ignore[union-attr]
                if line.startswith("READY "):
                    return int(line.strip().rsplit(":", 1)[1])
                if not line and self.proc.poll() is not None:
                    break
            elif self.proc.poll() is not None:
                break
        err = (self.proc.stderr.read() or b"").decode(errors="replace").strip() if self.proc.poll() is not None else ""
        self.stop()
        raise RemoteError(f"the scoring server did not start: {err.splitlines()[-1] if err else 'timed out'}",
                          "run `python -m deployers.serving --app-dir ...` by hand to see why")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._tmp.cleanup()

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ----------------------------------------------------------------------------- calibration


def one_row_body(app_dir: Path) -> bytes:
    """A one-row /score body from serving.json's input example."""
    try:
        meta = json.loads((Path(app_dir) / "serving.json").read_text())
    except (OSError, ValueError):
        meta = {}
    example = meta.get("input_example")
    if not isinstance(example, dict):
        raise InputError("the model has no input example to benchmark with",
                         "save the MLflow model with input_example=..., or add input_example.json next to it")
    key = "input_data" if "input_data" in example else "data"
    body = example[key]
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        one: Any = {**{k: v for k, v in body.items() if k != "index"}, "data": body["data"][:1]}
    elif isinstance(body, list) and body:
        one = body[:1]
    else:
        raise InputError("the model's input example holds no rows")
    return json.dumps({key: one}).encode()


def _service_curve(app_dir: Path, batch_sizes: Sequence[int], seconds: float, cpu: Optional[int]) -> dict:
    cmd = [sys.executable, "-m", "deployers.serving.measure", "--app-dir", str(app_dir),
           "--batch-sizes", ",".join(str(b) for b in batch_sizes), "--seconds", str(seconds)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    env = child_env()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 3 + 300, env=env,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RemoteError(f"measuring service time failed: {last}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _slope(points: list[dict]) -> float:
    """Least-squares ms per extra row in a batch (>= 0)."""
    if len(points) < 2:
        return 0.0
    xs = [p["batch_size"] for p in points]
    ys = [p["service_ms"] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return max(0.0, sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den) if den else 0.0


def measure(app_dir: Path, *, concurrencies: Sequence[int] = (1, 8, 32), batch_sizes: Sequence[int] = (1, 8, 32, 64),
            seconds: float = 3.0, progress: Progress = None) -> tuple[Calibration, list[dict]]:
    """Service time vs batch size (in process) and throughput vs concurrency (over HTTP, one core).

    `seconds` is the time spent per concurrency level and, in total, on the batch-size sweep.
    """
    app_dir = Path(app_dir).resolve()
    if not (app_dir / "score.py").is_file():
        raise InputError(f"{app_dir} is not an app dir (no score.py)")
    if not concurrencies or not batch_sizes or min(concurrencies) < 1 or min(batch_sizes) < 1:
        raise InputError("concurrencies and batch sizes must be whole numbers >= 1")
    if not 0.2 <= seconds <= 600:
        raise InputError("seconds must be between 0.2 and 600")
    say = progress or (lambda _m: None)
    body = one_row_body(app_dir)
    server_cpu, load_cpu = cpu_plan()

    say(f"service time for batch sizes {', '.join(map(str, batch_sizes))} (no HTTP, one CPU)")
    service = _service_curve(app_dir, sorted(set(batch_sizes)), seconds, server_cpu)
    points = service["points"]
    curve: list[dict] = [{"kind": "batch", **p} for p in points]

    say("starting the scoring server (one worker, one CPU)")
    old_affinity = os.sched_getaffinity(0) if load_cpu is not None else None
    try:
        if load_cpu is not None:
            os.sched_setaffinity(0, {load_cpu})
        with ServerProcess(app_dir, cpu=server_cpu) as srv:
            run_load("127.0.0.1", srv.port, body, concurrency=1, seconds=min(1.0, seconds),
                     headers={"Authorization": f"Bearer {srv.key}"})  # warm-up
            for c in sorted(set(concurrencies)):
                say(f"throughput at concurrency {c} for {seconds:g} s")
                res = run_load("127.0.0.1", srv.port, body, concurrency=c, seconds=seconds,
                               headers={"Authorization": f"Bearer {srv.key}"})
                curve.append({"kind": "http", **res.as_dict()})
    finally:
        if old_affinity is not None:
            os.sched_setaffinity(0, old_affinity)

    http = [p for p in curve if p["kind"] == "http"]
    if any(p["errors"] for p in http):
        raise RemoteError(f"the server answered {sum(p['errors'] for p in http)} requests with errors during the benchmark")
    b1 = next((p for p in points if p["batch_size"] == 1), points[0])
    best = max(points, key=lambda p: p["rows_per_s"])
    calibration = Calibration(
        service_ms_batch1=max(0.001, b1["service_ms"] if b1["batch_size"] == 1 else b1["service_ms"] / b1["batch_size"]),
        per_row_ms=round(_slope(points), 5),
        max_rps_one_core=round(max(p["rps"] for p in http), 1) if http else None,
        best_batch_size=int(best["batch_size"]),
        cores=1,
        cpu=cpu_model(),
        measured_at=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    say(f"service {calibration.service_ms_batch1:.2f} ms at batch 1, +{calibration.per_row_ms:.4f} ms a row; "
        f"{calibration.max_rps_one_core} requests/s on one core")
    return calibration, curve
