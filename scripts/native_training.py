"""The workload a profile-guided build of the compiled advisor is trained on.

    python scripts/native_training.py PACKAGE_ROOT

scripts/build_native.py compiles the advisor once with GCC's profiling
instrumentation, runs this script against that build (PACKAGE_ROOT holds the
`advisor` package with the instrumented extension files), then compiles again
using the recorded branch and call counts: hot paths are laid out together and
error paths move out of the way, so the code spends less time waiting on the
instruction cache. The output is the same either way; only speed changes.

The workload is `recommend()` over every profile in examples/profiles/ and
systematic variations of it (traffic from 0.3 to 3,000 rps, each GPU need,
public and private networks, Kubernetes skill, a tight budget and none), so
every target, hard constraint, sizing path and sensitivity probe runs. It is not
the benchmark's profile generator (benchmarks/recommend.py), which the build
never reads.
"""
from __future__ import annotations

import copy
import itertools
import sys
from pathlib import Path
from typing import Iterator

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "profiles"

PEAKS = (0.3, 3.0, 30.0, 300.0, 3000.0)
GPUS = ("none", "preferred", "required")
NETWORKS = ("public", "custom-vnet")
SKILLS = ("none", "expert")
BUDGETS = (None, 200.0)


def variations() -> Iterator[dict]:
    """Each example profile with each combination of the inputs above (as plain data)."""
    import yaml

    for path in sorted(EXAMPLES.glob("*.yaml")):
        base = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for peak, gpu, net, skill, budget in itertools.product(PEAKS, GPUS, NETWORKS, SKILLS, BUDGETS):
            data = copy.deepcopy(base)
            inf = data.setdefault("inference", {})
            ratio = (inf.get("average_rps") or 0.0) / inf["peak_rps"] if inf.get("peak_rps") else 0.2
            inf.update(peak_rps=peak, average_rps=round(peak * min(ratio, 1.0), 3), gpu=gpu)
            data.setdefault("security", {})["network"] = net
            data.setdefault("team", {})["kubernetes_skill"] = skill
            data.setdefault("budget", {})["monthly_usd"] = budget
            yield data


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: native_training.py PACKAGE_ROOT", file=sys.stderr)
        return 2
    sys.path.insert(0, argv[0])
    import advisor
    from advisor.engine import recommend
    from advisor.models import parse_profile

    if not advisor.native_mode().startswith("compiled"):
        print(f"native_training: the advisor under {argv[0]} is not compiled ({advisor.native_mode()})", file=sys.stderr)
        return 1
    n = 0
    for data in variations():
        try:
            profile = parse_profile(data)
        except ValueError:  # a combination the schema refuses
            continue
        recommend(profile)
        n += 1
    print(f"native_training: {n} recommendations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
