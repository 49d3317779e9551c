"""Registered-model download and cache reuse for image targets (issue 21), against the Azure fakes.

    .venv/bin/python benchmarks/model_fetch.py [--mb 64] [--files 8] [--repeat 3]

A model version of `--files` files totalling `--mb` MB is registered in the fake Azure ML workspace
(its blobs served through the local TLS proxy, as in the tests); then, through the real azure-ai-ml
client, for each of `--repeat` fresh state dirs:
  plan   `model_fetch.plan_download` (a blob listing: no blob read)
  fetch  first `model_fetch.fetch`: MLClient.models.download + size/servable checks + content hash
  reuse  `model_resolution.resolve` + `fetch` of the same version again (cache hit)
and prints the best time of each, the download throughput, and the requests each step made.
Loopback TLS on a shared machine: compare the ratios, not the absolute figures.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=64.0)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from deployers import model_fetch
    from deployers import model_resolution as mr
    from tests.fakes import azureml as aml_fake
    from tests.fakes.azure import FakeAzure, fake_context
    from tests.fakes.tls_proxy import InterceptingProxy

    work = Path(tempfile.mkdtemp(prefix="bench-model-fetch-"))
    model = work / "fraud-model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  sklearn:\n    pickled_model: part-0.pkl\n", encoding="utf-8")
    each = int(args.mb * 1e6 / args.files)
    for i in range(args.files):
        (model / f"part-{i}.pkl").write_bytes(os.urandom(each))
    total = sum(p.stat().st_size for p in model.iterdir())

    fake = FakeAzure(polls=1)
    aml = aml_fake.install(fake, workspace="mlw-bench", resource_group="rg")
    aml.register_model_files("fraud", "1", model)
    os.environ["AZUREML_WORKSPACE_NAME"] = "mlw-bench"
    best = {"plan": 1e9, "fetch": 1e9, "reuse": 1e9}
    counts: dict[str, tuple[int, int]] = {}
    with InterceptingProxy(work / "tls") as proxy:
        proxy.add(r"\.blob\.core\.windows\.net$", aml.storage.handle)
        os.environ.update(proxy.environ())
        for n in range(args.repeat):
            ctx = fake_context(fake, work / f"home-{n}")
            for step in ("plan", "fetch", "reuse"):
                arm0, blob0 = len(fake.requests), len(aml.storage.requests)
                t0 = time.perf_counter()
                info = mr.resolve("azureml:fraud:1", ctx.state_dir, ctx)
                if step == "plan":
                    model_fetch.plan_download(info, ctx.state_dir, ctx)
                else:
                    model_fetch.fetch(info, ctx.state_dir, ctx)
                best[step] = min(best[step], time.perf_counter() - t0)
                counts[step] = (len(fake.requests) - arm0, len(aml.storage.requests) - blob0)
    print(f"model: {args.files} files, {total / 1e6:.1f} MB; best of {args.repeat}")
    for step in ("plan", "fetch", "reuse"):
        arm, blob = counts[step]
        print(f"  {step:5s} {best[step] * 1000:8.1f} ms   {arm} Azure ML requests, {blob} blob requests")
    print(f"  download throughput {total / 1e6 / best['fetch']:.0f} MB/s; cache reuse "
          f"{best['fetch'] / best['reuse']:.0f}x faster than the first fetch")


if __name__ == "__main__":
    main()
