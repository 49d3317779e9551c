"""`deploy-advisor`: the headless way in (DESIGN.md §5).

Exit codes: 0 ok / no change, 1 failed, 2 bad input (one line, no traceback),
3 plan has changes (with --detailed-exitcode), 130 interrupted.
`--output json` prints exactly one JSON document on stdout; progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

EXAMPLES = """\
examples:
  deploy-advisor recommend --profile examples/profiles/churn-realtime.yaml
  deploy-advisor recommend --profile P.yaml --model models:/sample-classifier/1 --output json
  deploy-advisor deploy --target local --model models:/sample-classifier/1 --name demo
  deploy-advisor invoke demo --data '{"input_data": [[...]]}'
  deploy-advisor plan --target azureml --model azureml:churn:3 --profile P.yaml -o out/
  deploy-advisor apply out/plan.json --yes
  deploy-advisor status demo ; deploy-advisor destroy demo --yes
"""


class CliError(Exception):
    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- output helpers

class Out:
    """Where things go: one JSON document on stdout with --output json, tables otherwise."""

    def __init__(self, fmt: str, quiet: bool = False):
        self.json = fmt == "json"
        self.quiet = quiet
        self.t0 = time.monotonic()

    def doc(self, data: Any) -> None:
        print(json.dumps(data, indent=2, sort_keys=False, default=str))

    def line(self, text: str = "") -> None:
        if not self.json:
            print(text)

    def event(self, event) -> None:
        if self.json:
            print(json.dumps({**event.to_dict(), "elapsed_s": round(time.monotonic() - self.t0, 3)}, default=str),
                  file=sys.stderr, flush=True)
        elif not self.quiet and event.kind != "debug":
            mark = {"error": "!", "warning": "~", "done": "✓"}.get(event.kind, "·")
            print(f"[{time.monotonic() - self.t0:6.1f}s] {mark} {event.message}", file=sys.stderr, flush=True)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(x) for x in r]) for r in rows]
    return "\n".join(lines)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {pair!r}: expected key=value")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def _profile(path: Optional[str]):
    from advisor.models import WorkloadProfile, load_profile

    return load_profile(path) if path else WorkloadProfile()


def _ctx(args):
    from . import api

    kw: dict[str, Any] = {"credential_kind": getattr(args, "credential", None) or "default"}
    return api.context(**kw)


def _confirm(args, what: str) -> None:
    """Never prompt without a terminal: outside one, --yes is required."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise CliError(f"refusing to {what} without a terminal: pass --yes")
    answer = input(f"{what}? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled", code=1)


# ---------------------------------------------------------------- commands

def cmd_recommend(args, out: Out) -> int:
    from . import api

    profile = _profile(args.profile)
    note = ""
    if args.model:
        profile, _info, note = api.profile_with_model(profile, args.model, _ctx(args))
    from advisor.engine import recommend

    rec = recommend(profile)
    if out.json:
        doc = rec.model_dump(mode="json")
        if note:
            doc["notes"] = [note]
        out.doc(doc)
        return 0
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"Profile {profile.name!r} in {profile.region}: {profile.inference.mode}, peak {profile.inference.peak_rps:g} rps, "
          f"p95 ≤ {profile.inference.p95_latency_ms:g} ms, GPU {profile.inference.gpu}")
    rows = []
    for i, o in enumerate(rec.options, 1):
        rows.append([str(i), o.target, f"{o.score:.1f}", f"${o.cost.monthly_usd:,.0f}",
                     f"{o.sizing.sku} × {o.sizing.instances} ({o.sizing.min}–{o.sizing.max})"])
    print()
    print(_table(rows, ["#", "target", "score", "per month", "size (autoscale)"]))
    for o in rec.options[:3]:
        print(f"\n{o.target}:")
        for r in o.reasons[:4]:
            print(f"  + {r}")
    if rec.excluded:
        print("\nExcluded:")
        for e in rec.excluded:
            print(f"  - {e.target}: {'; '.join(e.reasons)}")
    if rec.sensitivity:
        print("\nWhat would change the answer:")
        for s in rec.sensitivity:
            print(f"  * {s.change} → {s.new_winner}: {s.explanation}")
    print(f"\nPrices as of {rec.prices_as_of} (Azure Retail Prices snapshot; `deploy-advisor prices refresh` updates it).")
    return 0


def cmd_targets(args, out: Out) -> int:
    from . import api

    ts = api.targets()
    if out.json:
        out.doc(ts)
    else:
        print(_table([[t["name"], "yes" if t["deployable"] else "advice only", "Azure" if t["requires_azure"] else "none",
                       t["description"]] for t in ts], ["target", "deploy", "account", "what it is for"]))
    return 0


def cmd_settings(args, out: Out) -> int:
    from . import api

    model = api.settings_model(args.target)
    schema = model.model_json_schema()
    if out.json:
        out.doc(schema)
        return 0
    rows = []
    for name, prop in schema.get("properties", {}).items():
        rows.append([name, prop.get("type", prop.get("anyOf", [{}])[0].get("type", "")), json.dumps(prop.get("default")),
                     prop.get("description", "")])
    print(f"Settings for {args.target} (use --set key=value):")
    print(_table(rows, ["key", "type", "default", "meaning"]))
    return 0


def cmd_models(args, out: Out) -> int:
    from . import api

    ctx = _ctx(args)
    if args.models_cmd == "list":
        models = api.list_models(ctx)
        if out.json:
            out.doc([m.model_dump(mode="json") for m in models])
        elif not models:
            print("no registered models (try: deploy-advisor models prepare-sample)")
        else:
            print(_table([[m.uri, m.framework, m.format, f"{m.size_mb:.1f} MB"] for m in models],
                         ["model", "framework", "format", "size"]))
        return 0
    if args.models_cmd == "register":
        info = api.register_model(args.path, args.name, ctx)
    elif args.models_cmd == "prepare-sample":
        info = api.prepare_sample(ctx)
    else:
        info = api.resolve_model(args.uri, ctx)
    if out.json:
        out.doc(info.model_dump(mode="json"))
    else:
        print(f"{info.uri}: {info.name} {info.version} ({info.flavor or info.framework}, {info.format}, {info.size_mb:.2f} MB)")
        if args.models_cmd == "show":
            if info.signature:
                print(f"  signature: {json.dumps(info.signature)[:400]}")
            if info.requirements:
                print(f"  requirements: {', '.join(info.requirements[:12])}")
    return 0


def _spec_from_args(args):
    from . import api

    profile = _profile(args.profile)
    if args.model and args.target != "auto":
        try:
            profile, _, _ = api.profile_with_model(profile, args.model, _ctx(args))
        except Exception:
            pass  # the deployer reports model problems with context
    return api.make_spec(args.name, args.target, args.model, profile, _parse_sets(args.set))


def _print_findings(findings, out: Out) -> int:
    worst = 0
    for f in findings:
        mark = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}[f.level]
        out.line(f"  {mark} {f.check}: {f.message}" + (f"  → {f.hint}" if f.hint and f.level != "pass" else ""))
        worst = max(worst, {"pass": 0, "warn": 0, "fail": 1}[f.level])
    return worst


def _print_plan(plan, out: Out) -> None:
    out.line(f"Plan {plan.plan_id} for {plan.target} deployment {plan.name} (model {plan.spec.model}):")
    if plan.sizing:
        out.line(f"  size: {plan.sizing.sku} × {plan.sizing.instances} (autoscale {plan.sizing.min}–{plan.sizing.max})")
    for a in plan.actions:
        out.line(f"  {a.kind:>7}  {a.resource_type}: {a.resource}" + (f" — {a.detail}" if a.detail else ""))
    for n in plan.notes:
        out.line(f"  note: {n}")
    out.line(f"  artifacts: {', '.join(sorted(plan.artifacts)) or 'none'}")


def cmd_preflight(args, out: Out) -> int:
    from . import api

    spec = _spec_from_args(args)
    findings = api.preflight(spec, _ctx(args))
    if out.json:
        out.doc([f.model_dump() for f in findings])
        return 1 if any(f.level == "fail" for f in findings) else 0
    out.line(f"Preflight for {spec.target} deployment {spec.name}:")
    return _print_findings(findings, out)


def cmd_plan(args, out: Out) -> int:
    from . import api

    spec = _spec_from_args(args)
    ctx = _ctx(args)
    ctx.events = out.event
    plan = api.plan(spec, ctx)
    if args.out:
        dest = Path(args.out)
        if dest.suffix == ".json":
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(plan.to_json(), encoding="utf-8")
            written = [dest]
        else:
            written = api.export(plan, dest)
        print(f"wrote {len(written)} file(s) under {dest}", file=sys.stderr)
    if out.json:
        out.doc(plan.model_dump(mode="json"))
    else:
        _print_plan(plan, out)
    if args.detailed_exitcode and plan.has_changes:
        return 3
    return 0


def _print_result(result, out: Out) -> None:
    if out.json:
        out.doc(result.model_dump(mode="json"))
        return
    verb = {"succeeded": "Deployed", "no-change": "No change", "failed": "Failed"}[result.status]
    print(f"{verb}: {result.name} ({result.target}) {result.endpoint_url}")
    if result.smoke_latency_ms is not None:
        print(f"  smoke test: {result.smoke_latency_ms:.1f} ms → {json.dumps(result.smoke_response)[:200]}")
    if result.curl:
        print(f"  try it: {result.curl}")


def cmd_deploy(args, out: Out) -> int:
    from . import api

    spec = _spec_from_args(args)
    ctx = _ctx(args)
    ctx.events = out.event
    plan = api.plan(spec, ctx)
    if not out.json or args.dry_run:
        _print_plan(plan, Out("table") if not out.json else out)
    if args.dry_run:
        if out.json:
            out.doc(plan.model_dump(mode="json"))
        return 0
    missing = api.credentials_missing(spec.target, ctx)
    if missing:
        raise CliError(f"cannot apply to {spec.target}: {missing}", code=1)
    if plan.has_changes:
        _confirm(args, f"apply {len(plan.actions)} action(s) to {spec.target} deployment {spec.name}")
    return _apply(plan, ctx, out)


def _apply(plan, ctx, out: Out) -> int:
    from . import api

    result = api.apply(plan, ctx, events=out.event)
    _print_result(result, out)
    return 0 if result.status != "failed" else 1


def cmd_apply(args, out: Out) -> int:
    from . import api

    ctx = _ctx(args)
    ctx.events = out.event
    plan = api.load_plan(args.plan)
    missing = api.credentials_missing(plan.target, ctx)
    if missing:
        raise CliError(f"cannot apply to {plan.target}: {missing}", code=1)
    return _apply(plan, ctx, out)  # a saved plan is the confirmation


def cmd_status(args, out: Out) -> int:
    from . import api

    st = api.status(args.name, _ctx(args))
    if out.json:
        out.doc(st.model_dump(mode="json"))
    else:
        print(f"{st.name}: {st.state} ({st.target or 'unknown target'}) {st.endpoint_url}")
        if st.message:
            print(f"  {st.message}")
    return {"running": 0, "not-found": 1, "failed": 1}.get(st.state, 0)


def cmd_invoke(args, out: Out) -> int:
    from . import api

    data = args.data
    if data is None:
        raise CliError("invoke: give --data FILE or --data JSON")
    if data.startswith("@"):
        data = data[1:]
    if not data.lstrip().startswith(("{", "[")):
        p = Path(data)
        if not p.is_file():
            raise CliError(f"--data {data}: not JSON and no such file")
        data = p.read_text(encoding="utf-8")
    try:
        payload = json.loads(data)
    except ValueError as e:
        raise CliError(f"--data: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})")
    res = api.invoke(args.name, payload, _ctx(args))
    if out.json:
        out.doc(res.model_dump(mode="json"))
    else:
        print(f"HTTP {res.status_code} in {res.latency_ms:.1f} ms")
        print(json.dumps(res.response, indent=2)[:4000])
    return 0 if 200 <= res.status_code < 300 else 1


def cmd_destroy(args, out: Out) -> int:
    from . import api

    ctx = _ctx(args)
    if api.get_deployment(args.name, ctx):
        _confirm(args, f"destroy {args.name}")
    res = api.destroy(args.name, ctx, events=out.event)
    if out.json:
        out.doc(res.model_dump(mode="json"))
    else:
        print(res.message or f"destroyed {args.name}")
    return 0


def cmd_list(args, out: Out) -> int:
    from . import api

    rows = api.list_deployments(_ctx(args), include_destroyed=args.all)
    if out.json:
        out.doc(rows)
        return 0
    if not rows:
        print("no deployments (try: deploy-advisor deploy --target local --model models:/sample-classifier/1)")
        return 0
    now = time.time()
    print(_table([[r["name"], r["target"], r["status"], _age(now - r["updated_at"]), r["endpoint_url"] or "-"]
                  for r in rows], ["name", "target", "status", "updated", "endpoint"]))
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def cmd_logs(args, out: Out) -> int:
    from . import api

    text = api.logs(args.name, _ctx(args), tail=args.tail)
    if out.json:
        out.doc({"name": args.name, "logs": text})
    else:
        print(text)
    return 0


def cmd_benchmark(args, out: Out) -> int:
    from . import api

    def progress(msg: str) -> None:
        if not out.json:
            print(f"  {msg}", file=sys.stderr, flush=True)

    calibration, curve = api.benchmark(args.model, _ctx(args), progress=progress)
    if out.json:
        out.doc({"calibration": calibration.model_dump(mode="json"), "curve": curve})
        return 0
    print(f"service time: {calibration.service_ms_batch1:.2f} ms for 1 row, +{calibration.per_row_ms:.3f} ms per extra row"
          f" (on {calibration.cores} core(s) of {calibration.cpu or 'this CPU'})")
    if curve:
        keys = list(curve[0].keys())
        print(_table([[_fmt(row.get(k)) for k in keys] for row in curve], keys))
    print("stored with the model's facts: `recommend --model` and `plan` now size from these measurements")
    return 0


def _fmt(v: Any) -> str:
    return f"{v:,.2f}" if isinstance(v, float) else str(v)


def cmd_prices(args, out: Out) -> int:
    from advisor import prices

    path = prices.refresh(args.region)
    if out.json:
        out.doc({"region": args.region, "snapshot": str(path)})
    else:
        print(f"saved a fresh price snapshot for {args.region} to {path}")
    return 0


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy-advisor",
        description="Recommend where on Azure to serve an ML model (Azure ML endpoint, AKS, App Service, batch, "
                    "Container Apps), size and price it, then deploy it — or serve it locally with no Azure account.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version="deploy-advisor 0.1.0")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--output", "-O", choices=["table", "json"], default="table",
                        help="json: one JSON document on stdout, events as JSON lines on stderr")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    common.add_argument("--credential", choices=["default", "cli", "managed-identity", "environment", "workload-identity"],
                        default=os.environ.get("DEPLOY_ADVISOR_CREDENTIAL", "default"),
                        help="which azure-identity credential to use (Azure targets)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, func, **kw) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text, parents=[common], **kw)
        sp.set_defaults(func=func)
        return sp

    def deploy_args(sp: argparse.ArgumentParser, target_default: Optional[str] = None) -> None:
        sp.add_argument("--target", "-t", default=target_default, required=target_default is None,
                        help="local | azureml | aks | appservice | auto (= the advisor's top viable choice)")
        sp.add_argument("--model", "-m", required=True,
                        help="models:/NAME/VERSION, azureml:NAME:VERSION, or a local MLflow model folder")
        sp.add_argument("--profile", "-p", help="workload profile YAML/JSON (default: all defaults)")
        sp.add_argument("--name", "-n", help="deployment name (3-32 lowercase letters, digits, dashes)")
        sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a target setting (repeatable); see `deploy-advisor settings TARGET`")

    sp = add("recommend", "Rank the Azure targets for a workload profile, criterion by criterion, with size and cost.",
             cmd_recommend)
    sp.add_argument("--profile", "-p", help="workload profile YAML/JSON (see examples/profiles/)")
    sp.add_argument("--model", "-m", help="fill the profile's model facts from this model")

    add("targets", "List the deployment targets and what each is for.", cmd_targets)
    sp = add("settings", "Show a target's settings (the keys --set accepts).", cmd_settings)
    sp.add_argument("target")

    sp = add("models", "Register, list and inspect models.", cmd_models)
    msub = sp.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)
    r = msub.add_parser("register", help="register a local MLflow model folder", parents=[common])
    r.add_argument("path")
    r.add_argument("--name", required=True)
    msub.add_parser("list", help="list registered models", parents=[common])
    msub.add_parser("prepare-sample", help="train and register the sample model (models:/sample-classifier/1)",
                    parents=[common])
    s = msub.add_parser("show", help="resolve a model reference and show its facts", parents=[common])
    s.add_argument("uri")

    sp = add("preflight", "Run a target's read-only checks for a deployment.", cmd_preflight)
    deploy_args(sp)
    sp = add("plan", "Dry run: what apply would do, and the files it would use.", cmd_plan)
    deploy_args(sp)
    sp.add_argument("-o", "--out", help="write plan.json (if it ends in .json) or the plan + artifacts into a folder")
    sp.add_argument("--detailed-exitcode", action="store_true", help="exit 3 when the plan has changes, 0 when none")
    sp = add("deploy", "Plan and apply in one step.", cmd_deploy)
    deploy_args(sp, target_default="local")
    sp.add_argument("--dry-run", action="store_true", help="plan only")
    sp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (required without a terminal)")
    sp = add("apply", "Apply a saved plan (plan.json from `plan -o`).", cmd_apply)
    sp.add_argument("plan", help="plan.json, or a folder written by `plan -o DIR`")
    sp.add_argument("--yes", "-y", action="store_true", help="accepted for symmetry: a saved plan needs no confirmation")
    for name, text, func in (("status", "Show a deployment's live state.", cmd_status),
                             ("destroy", "Delete a deployment (only what deploy-advisor created).", cmd_destroy),
                             ("logs", "Show a deployment's recent server logs.", cmd_logs)):
        sp = add(name, text, func)
        sp.add_argument("name")
        if name == "destroy":
            sp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        if name == "logs":
            sp.add_argument("--tail", type=int, default=100)
    sp = add("invoke", "Send a scoring request to a deployment.", cmd_invoke)
    sp.add_argument("name")
    sp.add_argument("--data", "-d", help="JSON text, or a file holding it")
    sp = add("list", "List deployments recorded in the ledger.", cmd_list)
    sp.add_argument("--all", action="store_true", help="include destroyed deployments")
    sp = add("benchmark", "Measure the model's service time and throughput here; sizing then uses it.", cmd_benchmark)
    sp.add_argument("--model", "-m", required=True)
    sp = add("prices", "Refresh the price snapshot from the Azure Retail Prices API (needs a network).", cmd_prices)
    psub = sp.add_subparsers(dest="prices_cmd", metavar="ACTION", required=True)
    pr = psub.add_parser("refresh", help="fetch current prices for a region", parents=[common])
    pr.add_argument("--region", required=True)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command == "apply" and Path(args.plan).is_dir():
        args.plan = str(Path(args.plan) / "plan.json")
    out = Out(args.output, quiet=args.quiet)
    from advisor.models import ProfileError

    from .errors import DeployError
    try:
        return args.func(args, out)
    except CliError as e:
        print(f"deploy-advisor: error: {e}", file=sys.stderr)
        return e.code
    except ProfileError as e:
        print(f"deploy-advisor: error: {e}", file=sys.stderr)
        return 2
    except DeployError as e:
        print(f"deploy-advisor: error: {e.one_line()}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("deploy-advisor: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
