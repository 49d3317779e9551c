"""`deploy-advisor`: the headless way in (DESIGN.md §5).

Exit codes: 0 ok / no change, 1 failed, 2 bad input (one line, no traceback),
3 plan has changes (with --detailed-exitcode) or drift (status --check-drift), 130 interrupted.
`--output json` prints exactly one JSON document on stdout; progress goes to stderr
(JSON lines with --output json). Several specs at once (`-f DIR`) exit with the worst
code of their items: interrupted > failed > bad input > changes > ok.

Non-interactive by design: never prompts without a terminal (apply needs --yes
there unless a saved plan is given). The first Ctrl-C stops starting new work and
lets calls in flight stop at their next safe point (runs are marked interrupted,
the next apply resumes them); the second aborts at once.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

EXAMPLES = """\
examples:
  deploy-advisor recommend --profile examples/profiles/churn-realtime.yaml
  deploy-advisor recommend --profile P.yaml --model models:/sample-classifier/1 --output json
  deploy-advisor deploy --target local --model models:/sample-classifier/1 --name demo
  deploy-advisor invoke demo --data '{"input_data": [[...]]}'
  deploy-advisor plan --target azureml --model azureml:churn:3 --profile P.yaml -o out/
  deploy-advisor apply out/plan.json --yes
  deploy-advisor status demo ; deploy-advisor destroy demo --yes
  deploy-advisor plan -f examples/specs/ --detailed-exitcode      # every *.yaml spec in the folder
  deploy-advisor apply -f deployment.yaml --yes --output json     # in CI: one JSON document on stdout
  deploy-advisor apply -f specs/ --parallel 8 --yes
  deploy-advisor status -f specs/ --check-drift                   # exit 3 when live state drifted
  deploy-advisor export --target azureml --model azureml:churn:3 --profile P.yaml --out deploy/
  deploy-advisor doctor --repair                                  # a damaged ledger: rebuild the deployment list
"""

# Set on the first Ctrl-C: deployers check it (DeployContext.cancel) and stop at a safe point.
CANCEL = threading.Event()



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
        self.prefix_names = False  # several deployments at once: say whose event it is
        self._lock = threading.RLock()  # fleet workers print from several threads; the SIGINT handler too

    def doc(self, data: Any) -> None:
        print(json.dumps(data, indent=2, sort_keys=False, default=str))

    def line(self, text: str = "") -> None:
        if not self.json:
            print(text)

    def event(self, event) -> None:
        if self.json:
            line = json.dumps({**event.to_dict(), "elapsed_s": round(time.monotonic() - self.t0, 3)}, default=str)
            with self._lock:
                print(line, file=sys.stderr, flush=True)
        elif not self.quiet and event.kind != "debug":
            mark = {"error": "!", "warning": "~", "done": "✓"}.get(event.kind, "·")
            who = f"{event.deployment}: " if self.prefix_names and event.deployment else ""
            with self._lock:
                print(f"[{time.monotonic() - self.t0:6.1f}s] {mark} {who}{event.message}", file=sys.stderr, flush=True)

    def note(self, text: str, kind: str = "info") -> None:
        """A line for people on stderr (stdout is the document's); a JSON event line with --output json."""
        if self.json:
            from .events import Event

            self.event(Event(kind=kind, message=text))
        elif not self.quiet:
            with self._lock:
                print(text, file=sys.stderr, flush=True)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*[str(x) for x in r]) for r in rows]
    return "\n".join(lines)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    from advisor.safe_load import load_json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--set {pair!r}: expected key=value")
        try:
            out[key.strip()] = load_json(value, "--set")
        except ValueError:  # not JSON (or refused: too deep, too long a number): the text itself
            out[key.strip()] = value
    return out


def _profile(path: Optional[str]):
    from advisor.models import WorkloadProfile, load_profile

    return load_profile(path) if path else WorkloadProfile()


def _ctx(args):
    """Flags, then env (AZURE_SUBSCRIPTION_ID, AZURE_RESOURCE_GROUP, AZURE_LOCATION, DEPLOY_ADVISOR_HOME)."""
    from . import api

    kw: dict[str, Any] = {"credential_kind": getattr(args, "credential", None) or "default", "cancel": CANCEL}
    for flag, key in (("subscription", "subscription_id"), ("resource_group", "resource_group"),
                      ("location", "location")):
        value = getattr(args, flag, None)
        if value:
            kw[key] = value
    return api.context(**kw)


_FLAG_ENV = (("subscription", "AZURE_SUBSCRIPTION_ID"), ("resource_group", "AZURE_RESOURCE_GROUP"),
             ("location", "AZURE_LOCATION"), ("workspace", "AZUREML_WORKSPACE_NAME"))
_SCOPE_RE = r"^[A-Za-z0-9][A-Za-z0-9._()-]{0,89}$"


def _export_flags(args) -> None:
    """Explicit flags win over the environment: export them so every part (the context, model
    resolution, each plugin's settings defaults) sees the same value. Validated first: they reach
    resource ids, URLs and exported workflows."""
    import re

    for flag, var in _FLAG_ENV:
        value = getattr(args, flag, None)
        if value is None:
            continue
        if not re.match(_SCOPE_RE, value):
            raise CliError(f"--{flag.replace('_', '-')} {value!r}: use letters, digits, '.', '_', '-', '(' or ')'")
        os.environ[var] = value


@contextlib.contextmanager
def _plain_sigint() -> Iterator[None]:
    """While asking a question, Ctrl-C means 'no' at once (not 'finish what is running')."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _confirm(args, what: str) -> None:
    """Never prompt without a terminal: outside one, --yes is required."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise CliError(f"refusing to {what} without a terminal: pass --yes")
    print(f"{what}? [y/N] ", end="", file=sys.stderr, flush=True)  # stdout holds only the document
    try:
        with _plain_sigint():
            answer = sys.stdin.readline().strip().lower()
    except KeyboardInterrupt:
        answer = ""
    if answer not in ("y", "yes"):
        raise CliError("cancelled", code=1)


def install_sigint_handler(out: Optional[Out] = None) -> None:
    """First Ctrl-C: set CANCEL (no new work; calls in flight stop at a safe point). Second: abort."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        if CANCEL.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        CANCEL.set()
        text = ("interrupting: no new work starts; calls in flight stop at their next safe point and are "
                "recorded as interrupted (apply again to resume). Ctrl-C again to abort now.")
        if out is not None and out.json:  # stderr stays JSON lines
            from .events import Event

            out.event(Event(kind="warning", message=text, data={"signal": "SIGINT"}))
        else:
            print(f"\ndeploy-advisor: {text}", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)


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
    print(f"Profile {profile.name!r} in {', '.join(profile.active_regions)}: {profile.inference.mode}, "
          f"peak {profile.inference.peak_rps:g} rps, p95 ≤ {profile.inference.p95_latency_ms:g} ms, "
          f"GPU {profile.inference.gpu}")
    if rec.headline:
        print(f"\n{rec.headline}")
    rows = []
    for i, o in enumerate(rec.options, 1):
        fits = "" if o.fits_budget is None else (" (fits budget)" if o.fits_budget else " (over budget)")
        rows.append([str(i), o.target, f"{o.score:.1f}", f"${o.cost.monthly_usd:,.0f}{fits}",
                     f"{o.sizing.sku} × {o.sizing.instances} ({o.sizing.min}–{o.sizing.max})"])
    print()
    print(_table(rows, ["#", "target", "score", "per month", "size (autoscale)"]))
    marks = {"met": "✓", "met-with-change": "~", "not-met": "✗"}
    for o in rec.options[:3]:
        print(f"\n{o.target}:")
        for v in o.verdicts:
            change = f" → {v.change}" if v.change and v.status != "met" else ""
            print(f"  {marks[v.status]} {v.requirement.replace('_', ' ')}: {v.detail}{change}")
        for r in o.reasons[:4]:
            print(f"  • {r}")
    if rec.excluded:
        print("\nExcluded:")
        for e in rec.excluded:
            print(f"  - {e.target}: {'; '.join(e.reasons)}")
    if rec.sensitivity:
        print("\nWhat would change the answer:")
        for s in rec.sensitivity:
            print(f"  * {s.said or s.change} ({s.change}) → {s.new_winner}: {s.explanation}")
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
    return _spec_and_notes(args)[0]


def _spec_and_notes(args):
    """A DeploymentSpec from --target/--model/--profile/--name/--set; `auto` notes which target won and why."""
    from . import api

    profile = _profile(args.profile)
    settings = _parse_sets(args.set)
    if args.target == "auto":
        from . import specs

        loaded = specs.LoadedSpec(path=Path("command line"), doc=specs._InlineProfileSpec(model=args.model),
                                  profile=profile, profile_source=args.profile or "defaults", model=args.model)
        target, notes, profile = specs.choose_target(loaded, _ctx(args))
        return api.make_spec(args.name, target, args.model, profile, settings), notes
    if args.model:
        try:
            profile, _, _ = api.profile_with_model(profile, args.model, _ctx(args))
        except Exception:
            pass  # the deployer reports model problems with context
    return api.make_spec(args.name, args.target, args.model, profile, settings), []


def _with_notes(plan, notes: list[str]):
    plan.notes[:0] = [n for n in notes if n not in plan.notes]  # first: why this target
    return plan


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

    if args.file:
        return _plan_files(args, out)
    if not (args.target and args.model):
        raise CliError("plan: give --target and --model, or -f FILE|DIR (deployment specs)")
    spec, notes = _spec_and_notes(args)
    ctx = _ctx(args)
    ctx.events = out.event
    plan = _with_notes(api.plan(spec, ctx), notes)
    if args.out:
        _write_plan(plan, Path(args.out), out)
    if out.json:
        out.doc(plan.model_dump(mode="json"))
    else:
        _print_plan(plan, out)
    if args.detailed_exitcode and plan.has_changes:
        return 3
    return 0


def _write_plan(plan, dest: Path, out: Optional[Out] = None) -> list[Path]:
    from . import api

    if dest.suffix == ".json":
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(plan.to_json(), encoding="utf-8")
        written = [dest]
    else:
        written = api.export(plan, dest)
    if out is not None and out.json:
        out.note(f"wrote {len(written)} file(s) under {dest}")  # stderr stays JSON lines
    else:
        print(f"wrote {len(written)} file(s) under {dest}", file=sys.stderr)
    return written


# ---------------------------------------------------------------- spec files (-f FILE|DIR)

def _load_specs(args):
    from . import specs

    return specs.load_all(args.file)


def _use_files(args, single: Optional[str], verb: str, short: str, long: str) -> bool:
    """True for -f FILE|DIR; a CliError when both it and the single NAME / plan, or neither, were given."""
    if args.file and single:
        raise CliError(f"{verb}: give {short} or -f FILE|DIR, not both")
    if not args.file and not single:
        raise CliError(f"{verb}: give {long} or -f FILE|DIR")
    return bool(args.file)


def _some_names(items) -> str:
    return ", ".join(i.name for i in items[:5]) + (", ..." if len(items) > 5 else "")


def _single(args) -> bool:
    """-f FILE (one file, not a folder) answers like the one-deployment commands; anything else
    answers with a fleet summary."""
    return len(args.file) == 1 and Path(args.file[0]).is_file()


def _fleet_ctx(args, out: Out, loaded: list):
    ctx = _ctx(args)
    ctx.events = out.event
    out.prefix_names = len(loaded) > 1
    return ctx


def _item_error(item) -> int:
    msg = (item.error or f"{item.file}: {item.status}") + (f" (hint: {item.hint})" if item.hint else "")
    print(f"deploy-advisor: error: {msg}", file=sys.stderr)
    return item.exit_code


def _detail(item) -> str:
    if item.error:
        return item.error[:120]
    if item.drift:
        return f"{len(item.drift)} difference(s): {item.drift[0][:80]}"
    if item.result and item.result.get("endpoint_url"):
        return item.result["endpoint_url"]
    if item.plan is not None:
        kinds: dict[str, int] = {}
        for a in item.plan.actions:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in kinds.items()) or "nothing to do"
    if item.result and item.result.get("message"):
        return str(item.result["message"])[:120]
    return ""


def _report(report, out: Out, code: int) -> int:
    """The fleet summary: one JSON document, or a table with each spec's outcome."""
    if out.json:
        doc = report.to_dict()
        doc["exit_code"] = code
        out.doc(doc)
        return code
    rows = [[i.file, i.name or "-", i.target or "-", i.status, _detail(i)] for i in report.items]
    print(_table(rows, ["spec", "name", "target", "status", "detail"]))
    for i in report.items:
        if i.error and i.hint:
            print(f"  {i.file}: hint: {i.hint}")
        for d in i.drift or []:
            print(f"  {i.name}: {d}")
    counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
    print(f"{len(report.items)} spec(s), --parallel {report.parallel}, {report.elapsed_s:.1f} s: {counts}"
          + (" (interrupted)" if report.interrupted else "") + f"; exit {code}")
    return code


def _codes(report, detailed: bool) -> int:
    from .fleet import worst

    return worst([0 if (i.exit_code == 3 and not detailed) else i.exit_code for i in report.items])


def _plan_files(args, out: Out) -> int:
    from . import fleet

    loaded = _load_specs(args)
    ctx = _fleet_ctx(args, out, loaded)
    install_sigint_handler(out)
    report = fleet.plan_all(loaded, ctx, args.parallel)
    code = _codes(report, args.detailed_exitcode)
    if _single(args):
        item = report.items[0]
        if item.plan is None:
            return _item_error(item)
        if args.out:
            _write_plan(item.plan, Path(args.out), out)
        if out.json:
            out.doc(item.plan.model_dump(mode="json"))
        else:
            _print_plan(item.plan, out)
        return code
    if args.out:
        for item in report.items:
            if item.plan is not None:
                _write_plan(item.plan, Path(args.out) / item.name, out)
    if not out.json:
        for item in report.items:
            if item.plan is not None:
                _print_plan(item.plan, out)
                out.line()
    return _report(report, out, code)


def _apply_files(args, out: Out) -> int:
    """Plan every spec, confirm once (unless --yes), apply; an interrupted run of the same spec resumes.

    With --yes nobody reviews the plans first, so each spec is planned and applied by one
    worker without waiting for the others (no barrier between the phases).
    """
    from . import fleet

    loaded = _load_specs(args)
    ctx = _fleet_ctx(args, out, loaded)
    install_sigint_handler(out)
    if args.yes:
        report = fleet.deploy_all(loaded, ctx, args.parallel)
    else:
        report = fleet.plan_all(loaded, ctx, args.parallel, resume=True)
        changing = [i for i in report.items if i.plan is not None and i.changes and i.exit_code in (0, 3)]
        if not out.json:
            for item in report.items:
                if item.plan is not None:
                    _print_plan(item.plan, out)
        if changing and not CANCEL.is_set():
            n = sum(sum(1 for a in i.plan.actions if a.kind != "no-op") for i in changing)
            _confirm(args, f"apply {n} change(s) to {len(changing)} deployment(s) ({_some_names(changing)})")
        if not CANCEL.is_set():
            fleet.apply_planned(report, ctx, args.parallel)
    report.interrupted = report.interrupted or CANCEL.is_set()
    code = _codes(report, detailed=False)
    if _single(args):
        item = report.items[0]
        if item.result is None:
            return _item_error(item)
        from .models import DeploymentResult

        if args.yes and not out.json and item.plan is not None:
            _print_plan(item.plan, out)
        _print_result(DeploymentResult.model_validate(item.result), out)
        return code
    return _report(report, out, code)


def _destroy_files(args, out: Out) -> int:
    from . import fleet

    loaded = _load_specs(args)
    ctx = _fleet_ctx(args, out, loaded)
    named = fleet.resolve_all(loaded, ctx, args.parallel)
    bad = [i for i in named.items if i.spec is None or i.exit_code]
    if bad:
        return _item_error(bad[0]) if _single(args) else _report(named, out, _codes(named, False))
    _confirm(args, f"destroy {len(named.items)} deployment(s) ({_some_names(named.items)}) and the resources "
                   "deploy-advisor created")
    install_sigint_handler(out)
    report = fleet.destroy_all(loaded, ctx, args.parallel)
    code = _codes(report, detailed=False)
    if _single(args):
        item = report.items[0]
        if item.result is None:
            return _item_error(item)
        if out.json:
            out.doc(item.result)
        else:
            print(item.result.get("message") or f"destroyed {item.name}")
        return code
    return _report(report, out, code)


def _status_files(args, out: Out) -> int:
    from . import fleet

    loaded = _load_specs(args)
    ctx = _fleet_ctx(args, out, loaded)
    report = fleet.status_all(loaded, ctx, args.parallel, check_drift=args.check_drift)
    code = _codes(report, detailed=True)
    if _single(args):
        item = report.items[0]
        if item.result is None:
            return _item_error(item)
        from .models import Status

        st = Status.model_validate(item.result)
        if args.check_drift:
            return _print_drift(st, item.drift or [], out)
        _print_status(st, out)
        return code
    return _report(report, out, code)


def _print_status(st, out: Out) -> None:
    if out.json:
        out.doc(st.model_dump(mode="json"))
    else:
        print(f"{st.name}: {st.state} ({st.target or 'unknown target'}) {st.endpoint_url}")
        if st.message:
            print(f"  {st.message}")


def _print_drift(st, diffs: list[str], out: Out) -> int:
    """Exit 3 when the live deployment differs from the last applied plan (like a plan with changes)."""
    if out.json:
        out.doc({"name": st.name, "target": st.target, "state": st.state, "in_sync": not diffs, "drift": diffs,
                 "status": st.model_dump(mode="json")})
    elif diffs:
        print(f"{st.name}: DRIFT — {len(diffs)} difference(s) from the last applied plan:")
        for d in diffs:
            print(f"  - {d}")
        print("  (apply the spec again to converge)")
    else:
        print(f"{st.name}: in sync with the last applied plan ({st.state})")
    return 3 if diffs else 0


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

    spec, notes = _spec_and_notes(args)
    ctx = _ctx(args)
    ctx.events = out.event
    install_sigint_handler(out)
    plan = _with_notes(api.plan(spec, ctx), notes)
    if not out.json or args.dry_run:
        _print_plan(plan, Out("table") if not out.json else out)
    if args.dry_run:
        if out.json:
            out.doc(plan.model_dump(mode="json"))
        return 0
    missing = api.credentials_missing(spec.target, ctx, spec)
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

    if _use_files(args, args.plan, "apply", "a saved plan", "a saved plan (plan.json or a `plan -o` folder)"):
        return _apply_files(args, out)
    if Path(args.plan).is_dir():
        args.plan = str(Path(args.plan) / "plan.json")
    ctx = _ctx(args)
    ctx.events = out.event
    install_sigint_handler(out)
    plan = api.load_plan(args.plan)
    missing = api.credentials_missing(plan.target, ctx, plan.spec)
    if missing:
        raise CliError(f"cannot apply to {plan.target}: {missing}", code=1)
    return _apply(plan, ctx, out)  # a saved plan is the confirmation


def cmd_status(args, out: Out) -> int:
    from . import api

    if _use_files(args, args.name, "status", "a NAME", "a deployment NAME"):
        return _status_files(args, out)
    ctx = _ctx(args)
    st = api.status(args.name, ctx)
    if args.check_drift:
        if st.state == "not-found" and not api.get_deployment(args.name, ctx):
            raise CliError(f"no deployment named {args.name!r} in the ledger (see `deploy-advisor list`)", code=1)
        return _print_drift(st, api.drift(args.name, ctx), out)
    _print_status(st, out)
    from .fleet import STATUS_EXIT

    return STATUS_EXIT.get(st.state, 0)


def cmd_invoke(args, out: Out) -> int:
    from advisor.safe_load import REQUEST_BYTES, DocumentError, load_json, short_text

    from . import api

    if args.input:  # a job-based target (azureml-batch): submit a job over files, not a request body
        return _invoke_job(args, out)
    if args.wait or args.out:
        raise CliError("invoke: --wait and --out go with --input (a batch job)")
    data = args.data
    if data is None:
        raise CliError("invoke: give --data FILE or --data JSON (or --input PATH|URI for a batch endpoint)")
    if data.startswith("@"):
        data = data[1:]
    if not data.lstrip().startswith(("{", "[")):
        try:
            data = Path(data).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"--data {short_text(data)}: not JSON and no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"--data {short_text(data)}: not JSON and not a readable file ({e.__class__.__name__})") \
                from None
    try:
        payload = load_json(data, "--data", max_bytes=REQUEST_BYTES)
    except DocumentError as e:
        raise CliError(str(e)) from None
    res = api.invoke(args.name, payload, _ctx(args))
    if out.json:
        out.doc(res.model_dump(mode="json"))
    else:
        print(f"HTTP {res.status_code} in {res.latency_ms:.1f} ms")
        print(json.dumps(res.response, indent=2)[:4000])
    return 0 if 200 <= res.status_code < 300 else 1


def _invoke_job(args, out: Out) -> int:
    """`invoke NAME --input PATH|azureml://...|https://... [--wait] [--out DIR]`: one scoring job."""
    from . import api

    if args.data is not None:
        raise CliError("invoke: give either --data (a request) or --input (a batch job), not both")
    source = args.input
    if not source.startswith(("azureml:", "https://", "http://")):
        if not Path(source).expanduser().exists():
            raise CliError(f"--input {source}: no such file or folder")
        source = str(Path(source).expanduser().resolve())
    payload = {"input": source, "wait": bool(args.wait or args.out),
               "out": str(Path(args.out).expanduser().resolve()) if args.out else None}
    ctx = _ctx(args)
    ctx.events = out.event
    install_sigint_handler(out)
    res = api.invoke(args.name, payload, ctx)
    job = res.response if isinstance(res.response, dict) else {}
    if out.json:
        out.doc(res.model_dump(mode="json"))
    else:
        print(f"job {job.get('job', res.request_id)}: {job.get('status', '?')}")
        print(f"output: {job.get('output', '-')}")
        if job.get("error"):
            print(f"error: {job['error']}")
        if job.get("downloaded_to"):
            print(f"downloaded {len(job.get('files') or [])} file(s) to {job['downloaded_to']}")
    return 0 if 200 <= res.status_code < 300 else 1


def cmd_destroy(args, out: Out) -> int:
    from . import api

    if _use_files(args, args.name, "destroy", "a NAME", "a deployment NAME"):
        return _destroy_files(args, out)
    ctx = _ctx(args)
    install_sigint_handler(out)
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


def cmd_doctor(args, out: Out) -> int:
    from . import api

    report = api.doctor(_ctx(args), repair=args.repair)
    if out.json:
        out.doc(report.to_dict())
    else:
        for check in report.checks:
            hint = f" ({check.hint})" if check.hint else ""
            print(f"{'ok ' if check.ok else 'BAD'}  {check.name}: {check.message}{hint}")
        for row in report.rebuilt:
            print(f"     re-added {row['name']} ({row['target']}, {row['status']})")
        if args.repair and not report.rebuilt:
            print("     nothing to re-add: the ledger lists every deployment the local state shows")
    bad = next((c for c in report.checks if not c.ok), None)
    if bad is not None:
        raise CliError(f"{bad.name}: {bad.message}" + (f" (hint: {bad.hint})" if bad.hint else ""), code=1)
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def cmd_logs(args, out: Out) -> int:
    from . import api

    text = api.logs(args.name, _ctx(args), tail=args.tail, **({"job": args.job} if args.job else {}))
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
    for kind, title in (("batch", "In process, by batch size:"), ("http", "Over HTTP on 127.0.0.1, by concurrency:")):
        rows = [row for row in curve if row.get("kind", "batch") == kind]
        if rows:
            keys = [k for k in rows[0] if k != "kind"]
            print(f"\n{title}")
            print(_table([[_fmt(row.get(k)) for k in keys] for row in rows], keys))
    print("\nstored with the model's facts: `recommend --model` and `plan` now size from these measurements")
    return 0


def _fmt(v: Any) -> str:
    return f"{v:,.2f}" if isinstance(v, float) else str(v)


def cmd_prices(args, out: Out) -> int:
    from advisor import prices

    try:
        path = prices.refresh(args.region)
    except prices.PriceError as e:  # offline, or the API answered something we cannot read
        raise CliError(str(e), code=1) from None
    if out.json:
        out.doc({"region": args.region, "snapshot": str(path)})
    else:
        print(f"saved a fresh price snapshot for {args.region} to {path}")
    return 0


def cmd_export(args, out: Out) -> int:
    from . import export as exporter

    ctx = _ctx(args)
    ctx.events = out.event
    model_ref = None
    if args.file:
        from . import specs

        loaded = specs.load_spec(args.file)
        resolved = specs.resolve(loaded, ctx)
        spec, notes = resolved.spec, resolved.notes
        if loaded.model != loaded.doc.model:  # a local model folder: keep it relative to the new spec file
            model_ref = os.path.relpath(loaded.model, Path(args.out).resolve())
    else:
        if not (args.target and args.model):
            raise CliError("export: give --target and --model (and --profile), or -f deployment.yaml")
        spec, notes = _spec_and_notes(args)
    result = exporter.export_deployment(spec, Path(args.out), ctx, notes=notes, repo_path=args.repo_path,
                                        branch=args.branch, environment=args.environment,
                                        install=args.install, model_ref=model_ref)
    for w in result.warnings:
        out.note(f"warning: {w}", kind="warning")
    if out.json:
        out.doc(result.to_dict())
        return 0
    print(f"Exported {result.plan.target} deployment {result.plan.name} (plan {result.plan.plan_id}) "
          f"to {result.out_dir}/ — {len(result.files)} file(s):")
    base = result.out_dir.resolve()
    for rel in sorted(f.resolve().relative_to(base).as_posix() for f in result.files):
        print(f"  {rel}")
    print(f"Start with {result.out_dir / 'EXPORT.md'}.")
    return 0


def _parallel(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError("must be between 1 and 64")
    return n


def streamlit_flags(config_text: str) -> list[str]:
    """ui/config.toml as `streamlit run` flags: Streamlit reads its config file only from the current folder
    or ~/.streamlit, so the installed app passes the same settings on its command line."""
    import tomllib

    flags: list[str] = []
    for section, options in tomllib.loads(config_text).items():
        for key, value in options.items():
            for item in value if isinstance(value, list) else [value]:
                text = str(item).lower() if isinstance(item, bool) else str(item)
                flags += [f"--{section}.{key}", text]
    return flags


def cmd_ui(args, out: Out) -> int:
    """Run the installed package's Streamlit app (ui/streamlit_app.py) until Ctrl-C."""
    import subprocess
    from importlib import resources

    from .extras import needs_extra

    with needs_extra("ui"):
        import streamlit  # noqa: F401  (fail here with the extra's name, not inside the child)
    if not 1 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: use 1-65535")
    ui = resources.files("ui")
    command = [sys.executable, "-m", "streamlit", "run", str(ui / "streamlit_app.py"),
               *streamlit_flags((ui / "config.toml").read_text(encoding="utf-8")), "--server.port", str(args.port)]
    out.line(f"Deploy Advisor UI: http://127.0.0.1:{args.port}  (Ctrl-C stops it)")
    child = subprocess.Popen(command)
    # SIGTERM (a service manager, a test) stops Streamlit too: no server is left behind without its parent.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.terminate())
    try:
        return child.wait()
    except KeyboardInterrupt:  # the child got the same Ctrl-C: let it shut down
        return child.wait() or 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            child.wait(30)


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="deploy-advisor",
        description="Recommend where on Azure to serve an ML model (Azure ML endpoint, AKS, App Service, batch, "
                    "Container Apps), size and price it, then deploy it — or serve it locally with no Azure account.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"deploy-advisor {package_version()}")
    p.add_argument("--verbose", "-v", action="count", default=0,
                   help="log what happens (-v); -vv adds debug logs, Azure SDK HTTP requests included")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", "-v", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    common.add_argument("--output", "-O", choices=["table", "json"], default="table",
                        help="json: one JSON document on stdout, events as JSON lines on stderr")
    common.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    common.add_argument("--credential", choices=["default", "cli", "managed-identity", "environment", "workload-identity"],
                        default=os.environ.get("DEPLOY_ADVISOR_CREDENTIAL", "default"),
                        help="which azure-identity credential to use (Azure targets); in CI pick one explicitly")
    common.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: AZURE_SUBSCRIPTION_ID)")
    common.add_argument("--resource-group", metavar="RG", help="Azure resource group (default: AZURE_RESOURCE_GROUP)")
    common.add_argument("--location", metavar="REGION", help="Azure region for new resources (default: AZURE_LOCATION)")
    common.add_argument("--workspace", metavar="WS", help="Azure ML workspace (default: AZUREML_WORKSPACE_NAME); "
                                                             "a spec's `settings.workspace` wins")
    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("-f", "--file", action="append", default=[], metavar="FILE|DIR",
                       help="deployment spec file(s); a folder means every *.yaml spec in it (repeatable)")
    files.add_argument("--parallel", "-P", type=_parallel, default=4, metavar="N",
                       help="with several specs: at most N at once (default 4)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, func, with_files: bool = False, **kw) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text, description=help_text,
                            parents=[common, files] if with_files else [common], **kw)
        sp.set_defaults(func=func)
        return sp

    def deploy_args(sp: argparse.ArgumentParser, target_default: Optional[str] = None, spec_files: bool = False) -> None:
        required = target_default is None and not spec_files
        sp.add_argument("--target", "-t", default=target_default, required=required,
                        help="local | azureml | aks | appservice | containerapps | auto (= the advisor's top viable choice)")
        sp.add_argument("--model", "-m", required=not spec_files,
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
    sp = add("plan", "Dry run: what apply would do, and the files it would use. "
                     "Either --target/--model/--profile or -f deployment spec(s).", cmd_plan, with_files=True)
    deploy_args(sp, spec_files=True)
    sp.add_argument("-o", "--out", help="write plan.json (if it ends in .json) or the plan + artifacts into a folder "
                                        "(with several specs: one subfolder per deployment)")
    sp.add_argument("--detailed-exitcode", action="store_true",
                    help="exit 3 when a plan has changes, 0 when none (with several specs: the worst of them)")
    sp = add("deploy", "Plan and apply in one step.", cmd_deploy)
    deploy_args(sp, target_default="local")
    sp.add_argument("--dry-run", action="store_true", help="plan only")
    sp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation (required without a terminal)")
    sp = add("apply", "Apply a saved plan (plan.json from `plan -o`), or plan and apply deployment spec(s) with -f. "
                      "An interrupted apply of the same spec resumes.", cmd_apply, with_files=True)
    sp.add_argument("plan", nargs="?", help="plan.json, or a folder written by `plan -o DIR`")
    sp.add_argument("--yes", "-y", action="store_true",
                    help="apply without asking (required with -f outside a terminal; a saved plan needs none)")
    for name, text, func in (("status", "Show a deployment's live state (NAME, or -f spec files).", cmd_status),
                             ("destroy", "Delete a deployment (only what deploy-advisor created).", cmd_destroy),
                             ("logs", "Show a deployment's recent server logs.", cmd_logs)):
        sp = add(name, text, func, with_files=name != "logs")
        sp.add_argument("name", nargs="?" if name != "logs" else None)
        if name == "destroy":
            sp.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        if name == "status":
            sp.add_argument("--check-drift", action="store_true",
                            help="re-plan and list every difference from the last applied plan; exit 3 on drift")
        if name == "logs":
            sp.add_argument("--tail", type=int, default=100)
            sp.add_argument("--job", help="batch endpoints: the job whose logs to show (default: the latest)")
    sp = add("export", "Write everything needed to deploy without this tool: the target's artifacts, plan.json, "
                       "deployment.yaml and a GitHub Actions workflow (OIDC sign-in, `apply -f`).", cmd_export)
    deploy_args(sp, spec_files=True)
    sp.add_argument("-f", "--file", help="export from a deployment spec instead of --target/--model/--profile")
    sp.add_argument("--out", "-o", required=True, help="folder to write (created if missing)")
    sp.add_argument("--repo-path", help="where --out will sit in your repository (default: its path relative to "
                                        "the current folder); the workflow's `-f` and path filter use it")
    sp.add_argument("--branch", default="main", help="branch whose pushes deploy (default main)")
    sp.add_argument("--environment", help="GitHub environment for the deploy job (approvals, scoped secrets)")
    sp.add_argument("--install", default=None, metavar="GIT_PIN|WHEEL",
                    help="the pinned deploy-advisor the workflow installs: 'deploy-advisor @ git+https://…@COMMIT' "
                         "(40-hex commit) or a wheel file, copied next to the workflow and sha256-checked "
                         "(default: DEPLOY_ADVISOR_INSTALL, else the git commit this copy was installed from; "
                         "export refuses when it cannot name one)")
    sp = add("invoke", "Send a scoring request to a deployment, or submit a job to a batch endpoint (--input).",
             cmd_invoke)
    sp.add_argument("name")
    sp.add_argument("--data", "-d", help="JSON text, or a file holding it")
    sp.add_argument("--input", "-i", help="batch endpoints: a local file or folder (uploaded to the workspace's "
                                          "datastore), azureml://... or https://...")
    sp.add_argument("--wait", action="store_true", help="batch endpoints: follow the job until it ends")
    sp.add_argument("--out", help="batch endpoints: download the job's output here (implies --wait)")
    sp = add("list", "List deployments recorded in the ledger.", cmd_list)
    sp.add_argument("--all", action="store_true", help="include destroyed deployments")
    sp = add("doctor", "Check the state dir and the ledger. --repair moves a damaged ledger aside (never deletes "
                       "it) and rebuilds the deployment list from the targets' local state.", cmd_doctor)
    sp.add_argument("--repair", action="store_true",
                    help="fix what can be fixed: a damaged ledger, deployments missing from it")
    sp = add("benchmark", "Measure the model's service time and throughput here; sizing then uses it.", cmd_benchmark)
    sp.add_argument("--model", "-m", required=True)
    sp = add("ui", "Start the web UI (Streamlit) on this machine only (127.0.0.1).", cmd_ui)
    sp.add_argument("--port", type=int, default=8501, help="port to listen on (default 8501)")
    sp = add("prices", "Refresh the price snapshot from the Azure Retail Prices API (needs a network).", cmd_prices)
    psub = sp.add_subparsers(dest="prices_cmd", metavar="ACTION", required=True)
    pr = psub.add_parser("refresh", help="fetch current prices for a region", parents=[common])
    pr.add_argument("--region", required=True)
    return p


def package_version() -> str:
    """The installed distribution's version (pyproject.toml is the only place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deploy-advisor")
    except PackageNotFoundError:
        return "(not installed: run from a source checkout)"


def configure_logging(verbosity: int) -> None:
    """-v: this tool's INFO logs and Azure's HTTP request lines (azure-core's HttpLoggingPolicy: method,
    URL, status, headers with secrets redacted); -vv: DEBUG for everything. Bodies are never logged:
    `logging_enable` (azure-core's network trace) would print keys that list-keys calls return."""
    import logging

    if verbosity <= 0:
        return
    level = logging.DEBUG if verbosity > 1 else logging.INFO
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("deployers", "advisor", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(name).setLevel(level)
    if verbosity > 1:
        logging.getLogger("azure").setLevel(logging.DEBUG)


def main(argv: Optional[list[str]] = None) -> int:
    """The console script: a closed stdout (`| head`) ends quietly, like any Unix tool."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader went away: point stdout at /dev/null so the interpreter's final flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def _main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args.verbose)
    out = Out(args.output, quiet=args.quiet)
    try:
        _export_flags(args)
    except CliError as e:
        print(f"deploy-advisor: error: {e}", file=sys.stderr)
        return e.code
    from advisor.models import ProfileError

    from .errors import DeployError
    from .extras import missing_extra_error
    from .specs import SpecError
    CANCEL.clear()  # main() may run more than once in a process (tests, library callers)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    try:
        return args.func(args, out)
    except CliError as e:
        print(f"deploy-advisor: error: {e}", file=sys.stderr)
        return e.code
    except SpecError as e:  # one line per bad spec file, each naming the file and the field
        for problem in e.problems:
            print(f"deploy-advisor: error: {problem}", file=sys.stderr)
        return 2
    except ProfileError as e:
        print(f"deploy-advisor: error: {e}", file=sys.stderr)
        return 2
    except DeployError as e:
        print(f"deploy-advisor: error: {e.one_line()}", file=sys.stderr)
        return e.exit_code
    except ModuleNotFoundError as e:  # an optional SDK import nobody wrapped in extras.needs_extra
        missing = missing_extra_error(e)
        if missing is None:
            raise
        print(f"deploy-advisor: error: {missing.one_line()}", file=sys.stderr)
        return missing.exit_code
    except KeyboardInterrupt:
        print("deploy-advisor: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader went away: main() ends quietly
        raise
    except Exception as e:  # the last resort (OSError, sqlite3, RecursionError, MemoryError, bugs): one line
        from .errors import from_exception

        err = from_exception(e)
        print(f"deploy-advisor: error: {err.one_line()}", file=sys.stderr)
        return err.exit_code
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    sys.exit(main())
