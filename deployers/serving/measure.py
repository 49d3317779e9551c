"""Service time of an app dir's run_batch against batch size, with no HTTP in the way.

`python -m deployers.serving.measure --app-dir DIR --batch-sizes 1,8,32,64 --seconds 4 [--cpu N]`
prints one JSON object. It runs in its own fresh process so the figures are
those of a serving process (no mlflow or UI imports adding warning filters or
GC pressure), pinned to one CPU when `--cpu` is given.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def _payloads(meta: dict, n: int) -> list:
    """n one-row requests cut from serving.json's input example."""
    example = meta.get("input_example")
    if not isinstance(example, dict):
        raise SystemExit("error: serving.json has no input_example to measure with")
    key = "input_data" if "input_data" in example else "data"
    body = example[key]
    if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
        rows = body["data"]
        one = [{key: {**{k: v for k, v in body.items() if k != "index"}, "data": [rows[i % len(rows)]]}}
               for i in range(n)]
    elif isinstance(body, list) and body:
        one = [{key: [body[i % len(body)]]} for i in range(n)]
    else:
        raise SystemExit("error: the input example has no rows")
    return one


def service_times(app_dir: Path, batch_sizes: list[int], seconds: float) -> list[dict]:
    from .loader import import_script, read_meta

    meta = read_meta(app_dir)
    module = import_script(app_dir)
    started = time.perf_counter()
    module.init()
    load_s = time.perf_counter() - started
    run_batch = getattr(module, "run_batch", None)
    biggest = _payloads(meta, max(batch_sizes))
    out = []
    budget = seconds / max(1, len(batch_sizes))
    for b in batch_sizes:
        items = biggest[:b]
        call = (lambda: run_batch(items)) if run_batch else (lambda: [module.run(json.dumps(i)) for i in items])
        for _ in range(3):  # warm-up
            result = call()
        if any(isinstance(r, Exception) for r in result):
            raise SystemExit(f"error: the input example fails to score: {next(r for r in result if isinstance(r, Exception))}")
        times = []
        end = time.perf_counter() + budget
        while time.perf_counter() < end or len(times) < 5:
            t = time.perf_counter()
            call()
            times.append((time.perf_counter() - t) * 1000)
        med = statistics.median(times)
        out.append({"batch_size": b, "service_ms": round(med, 4), "rows_per_s": round(b / med * 1000, 1),
                    "calls": len(times), "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 4)})
    return [{"load_s": round(load_s, 3), "batched": run_batch is not None}, *out]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deployers.serving.measure")
    p.add_argument("--app-dir", type=Path, required=True)
    p.add_argument("--batch-sizes", default="1,8,32,64")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = p.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    sizes = sorted({int(x) for x in args.batch_sizes.split(",") if x.strip()})
    if not sizes or sizes[0] < 1 or sizes[-1] > 4096:
        print("error: --batch-sizes must be whole numbers 1-4096", file=sys.stderr)
        return 2
    head, *rows = service_times(args.app_dir.resolve(), sizes, args.seconds)
    print(json.dumps({**head, "points": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
