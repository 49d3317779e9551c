"""Worst-case cost of the user-document loader (advisor/safe_load.py): time and peak memory.

Valid documents just under the size cap (the slowest inputs the loader accepts) and the
hostile ones it refuses (alias bomb, deep nesting, long numbers). Prints one line per case:
    .venv/bin/python benchmarks/documents.py
"""
from __future__ import annotations

import time
import tracemalloc

from advisor.safe_load import MAX_BYTES, DocumentError, load_json, load_yaml

BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
                 + [f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdefgh", "bcdefghi")]
                 + ["name: *i"])


def fill(make, sep: str, wrap: tuple[str, str] = ("", "")) -> str:
    """The largest document of repeated parts that stays under MAX_BYTES."""
    parts, size, i = [], len(wrap[0]) + len(wrap[1]), 0
    while size + len(make(i)) + len(sep) <= MAX_BYTES:
        parts.append(make(i))
        size += len(parts[-1]) + len(sep)
        i += 1
    return wrap[0] + sep.join(parts) + wrap[1]


CASES = {
    "yaml block map": (load_yaml, fill(lambda i: f"k{i}: {i}", "\n")),
    "yaml flow map": (load_yaml, fill(lambda i: f"k{i}: {i}", ", ", ("{", "}"))),
    "yaml list of flow maps": (load_yaml, fill(lambda i: f"- {{a: {i}, b: x}}", "\n")),
    "json list of objects": (load_json, fill(lambda i: f'{{"a": {i}, "b": "x"}}', ", ", ("[", "]"))),
    "yaml alias bomb (refused)": (load_yaml, BOMB),
    "yaml 60k brackets (refused)": (load_yaml, "[" * 60_000),
    "json 60k brackets (refused)": (load_json, "[" * 60_000),
    "yaml 5000-digit number (refused)": (load_yaml, "x: " + "9" * 5000),
}


def _run(load, text: str) -> str:
    try:
        load(text)
        return "loaded"
    except DocumentError:
        return "refused"


def main() -> None:
    print(f"size cap {MAX_BYTES // 1000} kB; time without tracemalloc (best of 3), then peak memory with it")
    for name, (load, text) in CASES.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            outcome = _run(load, text)
            best = min(best, time.perf_counter() - t0)
        tracemalloc.start()
        _run(load, text)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name:34s} {len(text):7,d} B  {best * 1000:8.1f} ms  peak {peak / 1e6:6.1f} MB  {outcome}")


if __name__ == "__main__":
    main()
