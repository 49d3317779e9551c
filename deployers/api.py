"""THE facade: the UI, the CLI and library callers do everything through here.

It owns the bookkeeping every target shares — the ledger run and lock, the
event fan-out, resume checkpoints, the recommendation-driven `auto` target —
so deployer plugins only talk to their platform.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import BaseModel, ValidationError

from advisor.models import (ModelInfo, ProfileError, Recommendation, WorkloadProfile, describe_validation_error,
                            load_profile, parse_profile, parse_profile_text)

from . import registry, statedir
from .base import DeployContext, Deployer, default_state_dir
from .errors import DeployError, InputError, Interrupted, ModelResolutionError, StateError
from .events import Event, EventSink, null_sink
from .ledger import Ledger
from .models import (DeploymentPlan, DeploymentResult, DeploymentSpec, DestroyResult, Finding, InvokeResult,
                     Status, validate_deployment_name)

__all__ = [
    "ProfileError", "load_profile", "parse_profile", "parse_profile_text", "recommend", "targets", "settings_model",
    "resolve_model", "list_models", "register_model", "prepare_sample", "make_spec", "preflight", "plan", "apply",
    "deploy", "start_apply", "status", "invoke", "destroy", "list_deployments", "deployment_events", "logs",
    "export", "credentials_missing", "context", "ledger", "benchmark", "drift", "doctor",
    "regions", "apply_change", "recommendation_json", "recommendation_markdown", "save_ui_draft", "load_ui_draft",
]

_ledgers: dict[Path, Ledger] = {}
_ledger_lock = threading.Lock()


# ---------------------------------------------------------------- context and ledger

def context(**kwargs: Any) -> DeployContext:
    """A DeployContext with defaults from the environment (DEPLOY_ADVISOR_HOME, AZURE_*)."""
    return DeployContext(**kwargs)


def ledger(state_dir: Optional[Path] = None) -> Ledger:
    path = Path(state_dir or default_state_dir()).resolve()
    with _ledger_lock:
        if path not in _ledgers:
            _ledgers[path] = Ledger(path)
        return _ledgers[path]


def _ctx(ctx: Optional[DeployContext]) -> DeployContext:
    return ctx if ctx is not None else DeployContext()


# ---------------------------------------------------------------- advice

def recommend(profile: WorkloadProfile, model: Optional[str] = None,
              ctx: Optional[DeployContext] = None) -> Recommendation:
    """Rank the targets for a profile; with `model`, its resolved facts fill `profile.model`."""
    from advisor.engine import recommend as _recommend

    if model:
        profile, _info, _note = profile_with_model(profile, model, ctx)
    return _recommend(profile)


def profile_with_model(profile: WorkloadProfile, model: str,
                       ctx: Optional[DeployContext] = None) -> tuple[WorkloadProfile, Optional[ModelInfo], str]:
    """Fill the profile's model facts from a model reference.

    An `azureml:` model that cannot be reached (offline, no credentials) keeps
    the profile's facts and says so; other resolution errors propagate.
    """
    ctx = _ctx(ctx)
    try:
        info = resolve_model(model, ctx)
    except ModelResolutionError as e:
        if model.startswith("azureml:"):
            return profile, None, f"{e.message}; using the profile's model facts"
        raise
    facts = info.facts(profile.model)
    calib = _stored_calibration(info, ctx)
    if calib is not None:
        facts = facts.model_copy(update={"calibration": calib})
    return profile.model_copy(update={"model": facts}), info, ""


def targets() -> list[dict]:
    """Every installed deployer, plus the advice-only targets the advisor ranks."""
    out = []
    for name in registry.available():
        d = registry.describe(name)
        if d:
            out.append({**d, "deployable": True})
    advice_only = {
        "azureml-batch": "Azure ML batch endpoint: asynchronous scoring of large data sets (advice and export only)",
    }
    for name, text in advice_only.items():
        if name not in {t["name"] for t in out}:
            out.append({"name": name, "title": name, "description": text, "requires_azure": True, "deployable": False})
    return out


def settings_model(target: str) -> type[BaseModel]:
    return registry.get_class(target).Settings


def credentials_missing(target: str, ctx: Optional[DeployContext] = None,
                        spec: Optional[DeploymentSpec] = None) -> Optional[str]:
    """None when apply can run; otherwise the exact way to sign in. A spec's own
    `subscription` / `resource_group` settings count as configured scope."""
    ctx = _ctx(ctx)
    if spec is not None:
        from dataclasses import replace

        scope = {k: v for k, v in (("subscription_id", spec.settings.get("subscription")),
                                   ("resource_group", spec.settings.get("resource_group"))) if v}
        if scope:
            ctx = replace(ctx, **scope)
    return registry.get(target).credentials_missing(ctx)


# ---------------------------------------------------------------- models

def resolve_model(uri: str, ctx: Optional[DeployContext] = None) -> ModelInfo:
    from . import model_resolution

    ctx = _ctx(ctx)
    return model_resolution.resolve(uri, ctx.state_dir, ctx)


def list_models(ctx: Optional[DeployContext] = None) -> list[ModelInfo]:
    from . import model_resolution

    return model_resolution.list_registered(_ctx(ctx).state_dir)


def register_model(path: str, name: str, ctx: Optional[DeployContext] = None) -> ModelInfo:
    from . import model_resolution

    return model_resolution.register(path, name, _ctx(ctx).state_dir)


def prepare_sample(ctx: Optional[DeployContext] = None) -> ModelInfo:
    from . import model_resolution

    return model_resolution.prepare_sample(_ctx(ctx).state_dir)


def _calibration_path(info: ModelInfo, ctx: DeployContext) -> Path:
    from .models import fingerprint

    key = fingerprint([info.uri, info.version, info.size_mb])
    return ctx.state_dir / "calibrations" / f"{key}.json"


def _stored_calibration(info: ModelInfo, ctx: DeployContext):
    from advisor.models import Calibration

    path = _calibration_path(info, ctx)
    if not path.is_file():
        return None
    try:
        import json
        return Calibration.model_validate(json.loads(path.read_text())["calibration"])
    except (ValueError, KeyError, ValidationError):
        return None


def benchmark(model: str, ctx: Optional[DeployContext] = None,
              progress: Optional[Callable[[str], None]] = None, **options: Any) -> tuple[Any, list[dict]]:
    """Measure service time and throughput on this machine and store the calibration
    with the model's facts (the advisor's sizing then uses it)."""
    import json
    import tempfile

    from . import benchmarking, model_resolution, scoring

    ctx = _ctx(ctx)
    info = resolve_model(model, ctx)
    with tempfile.TemporaryDirectory(prefix="da-bench-") as tmp:
        # Measured from the pickle, not compiled trees: Azure ML's managed endpoints load the pickle,
        # and sizing every target from the slower path never under-provisions one.
        app_dir = scoring.build_app_dir(info, model_resolution.local_model_dir(info), Path(tmp) / "app")
        calibration, curve = benchmarking.measure(app_dir, progress=progress, **options)
    path = _calibration_path(info, ctx)
    statedir.subdir(ctx.state_dir, path.parent.name)
    path.write_text(json.dumps({"model": info.uri, "calibration": calibration.model_dump(mode="json"),
                                "curve": curve}, indent=2))
    return calibration, curve


def stored_benchmark(model: str, ctx: Optional[DeployContext] = None) -> Optional[dict]:
    import json

    ctx = _ctx(ctx)
    path = _calibration_path(resolve_model(model, ctx), ctx)
    return json.loads(path.read_text()) if path.is_file() else None


# ---------------------------------------------------------------- specs and plans

def make_spec(name: Optional[str], target: str, model: str, profile: WorkloadProfile,
              settings: Optional[dict[str, Any]] = None) -> DeploymentSpec:
    """Build and validate a spec; target `auto` means the advisor's top viable choice."""
    if target == "auto":
        rec = recommend(profile, model)
        deployable = set(registry.available())
        choice = next((o.target for o in rec.options if o.target in deployable), None)
        if choice is None:
            raise InputError("no deployable target fits this profile",
                             "see `deploy-advisor recommend` for the reasons, or pick --target")
        target = choice
    else:
        registry.get_class(target)  # unknown target -> InputError naming the choices
    if not name:
        base = (profile.name or "model").lower()
        import re
        base = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:24] or "model"
        if not base[0].isalpha():
            base = "m-" + base
        name = f"{base}-{target}"[:32].rstrip("-")
    try:
        validate_deployment_name(name)
        spec = DeploymentSpec(name=name, target=target, model=model, profile=profile, settings=settings or {})
        registry.get(target).settings_for(spec)
    except ValidationError as e:
        raise InputError(describe_validation_error(e, "settings"), f"see `deploy-advisor settings {target}`") from None
    except ValueError as e:
        raise InputError(str(e)) from None
    return spec


def preflight(spec: DeploymentSpec, ctx: Optional[DeployContext] = None) -> list[Finding]:
    ctx = _ctx(ctx)
    return registry.get(spec.target).preflight(spec, ctx.for_deployment(spec.name))


def plan(spec: DeploymentSpec, ctx: Optional[DeployContext] = None) -> DeploymentPlan:
    ctx = _ctx(ctx)
    ctx = ctx.for_deployment(spec.name)
    ctx.previous_plan = _previous_plan(spec.name, ctx)
    return registry.get(spec.target).plan(spec, ctx)


def _previous_plan(name: str, ctx: DeployContext) -> Optional[dict]:
    row = ledger(ctx.state_dir).get_deployment(name)
    return row.get("plan") if row else None


# ---------------------------------------------------------------- apply

def apply(the_plan: DeploymentPlan, ctx: Optional[DeployContext] = None,
          events: Optional[EventSink] = None) -> DeploymentResult:
    """Execute a plan under the deployment's lock, recording the run and its events.

    If the last run of this deployment was interrupted (a killed process) and
    used the same plan, its checkpoints are handed to the deployer to resume.
    """
    ctx = _ctx(ctx)
    led = ledger(ctx.state_dir)
    name, target = the_plan.spec.name, the_plan.target
    deployer = registry.get(target)
    led.reap_dead()
    previous = led.last_run(name, kind="apply")
    resume: dict[str, Any] = {}
    if previous and previous["status"] == "interrupted" and previous.get("plan_id") == the_plan.plan_id:
        resume = dict(previous.get("checkpoints") or {})
    run = led.begin_run(name, target, "apply", plan_json=the_plan.model_dump_json(), plan_id=the_plan.plan_id)
    run_id = run["id"]
    user_sink = events or ctx.events or null_sink

    def sink(event: Event) -> None:
        event.deployment, event.run_id = name, run_id
        led.add_event(event)
        user_sink(event)

    run_ctx = ctx.for_deployment(name, run_id)
    run_ctx.events = sink
    run_ctx.checkpoints = resume
    run_ctx.on_checkpoint = lambda k, v: led.checkpoint(run_id, k, v)
    run_ctx.previous_plan = _previous_plan(name, ctx)
    if resume:
        run_ctx.emit("info", f"resuming interrupted run {previous['id']}", resumed_from=previous["id"])
    first = led.get_deployment(name) is None
    if first:  # write-ahead: a first apply killed at any point stays visible to list, status and destroy
        led.upsert_deployment(name, target, "provisioning", model_uri=the_plan.spec.model,
                              spec=the_plan.spec.model_dump(mode="json"))
    run_ctx.emit("step", f"apply {target} deployment {name} (plan {the_plan.plan_id})")
    started = time.monotonic()
    try:
        result = deployer.apply(the_plan, run_ctx)
    except (KeyboardInterrupt, Interrupted) as e:
        run_ctx.emit("error", "interrupted; run apply again to resume")
        led.finish_run(run_id, "interrupted", error="interrupted by the user")
        if isinstance(e, KeyboardInterrupt):
            raise Interrupted("interrupted by the user", "run the same apply again to resume") from None
        raise
    except DeployError as e:
        run_ctx.emit("error", e.one_line(), category=e.category, code=e.code)
        led.finish_run(run_id, "failed", error=e.one_line())
        if first:
            led.set_status(name, "failed")
        raise
    except Exception as e:  # a bug or an unmapped SDK error: keep the run honest, then surface it
        run_ctx.emit("error", f"unexpected error: {e.__class__.__name__}: {e}")
        led.finish_run(run_id, "failed", error=f"{e.__class__.__name__}: {e}")
        if first:
            led.set_status(name, "failed")
        raise
    result.run_id = run_id
    elapsed = time.monotonic() - started
    led.upsert_deployment(name, target, "running" if result.status != "failed" else "failed",
                          endpoint_url=result.endpoint_url, model_uri=the_plan.spec.model,
                          spec=the_plan.spec.model_dump(mode="json"),
                          plan=the_plan.model_dump(mode="json") if result.status != "failed" else None,
                          outputs=result.outputs)
    led.finish_run(run_id, result.status, result=result.model_dump(mode="json"))
    run_ctx.emit("done", f"{result.status} in {elapsed:.1f} s" + (f": {result.endpoint_url}" if result.endpoint_url else ""),
                 status=result.status, elapsed_s=round(elapsed, 3))
    return result


def deploy(spec: DeploymentSpec, ctx: Optional[DeployContext] = None,
           events: Optional[EventSink] = None) -> DeploymentResult:
    ctx = _ctx(ctx)
    return apply(plan(spec, ctx), ctx, events)


class BackgroundApply:
    """An apply running in a thread; the UI polls the ledger's events, so a browser reload loses nothing."""

    def __init__(self, the_plan: DeploymentPlan, ctx: DeployContext):
        self.plan, self.ctx = the_plan, ctx
        self.result: Optional[DeploymentResult] = None
        self.error: Optional[BaseException] = None
        self.started = time.time()
        self.thread = threading.Thread(target=self._run, name=f"apply-{the_plan.name}", daemon=True)

    def _run(self) -> None:
        try:
            self.result = apply(self.plan, self.ctx)
        except BaseException as e:  # reported to the page, recorded in the ledger by apply()
            self.error = e

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    def cancel(self) -> None:
        self.ctx.cancel.set()


_background: dict[str, BackgroundApply] = {}


def start_apply(the_plan: DeploymentPlan, ctx: Optional[DeployContext] = None) -> BackgroundApply:
    job = BackgroundApply(the_plan, _ctx(ctx))
    _background[the_plan.name] = job
    job.thread.start()
    return job


def background_apply(name: str) -> Optional[BackgroundApply]:
    return _background.get(name)


# ---------------------------------------------------------------- operate

def _target_of(name: str, ctx: DeployContext) -> Optional[str]:
    """The deployment's target from the ledger; without a row (a ledger moved aside or rebuilt),
    the target that keeps local state for it (the local target's server), so that `status` and
    `destroy` still find what we started."""
    row = ledger(ctx.state_dir).get_deployment(name)
    if row:
        return row["target"]
    for target in registry.installed_targets():
        if name in registry.get(target).recorded(ctx):
            return target
    return None


def status(name: str, ctx: Optional[DeployContext] = None, target: Optional[str] = None) -> Status:
    ctx = _ctx(ctx)
    target = target or _target_of(name, ctx)
    if target is None:
        return Status(name=name, target="", state="not-found", message=f"no deployment named {name!r} in the ledger")
    st = registry.get(target).status(name, ctx.for_deployment(name))
    led = ledger(ctx.state_dir)
    row = led.get_deployment(name)
    if row and row["status"] != st.state and st.state in ("running", "failed", "stopped", "degraded"):
        try:
            led.set_status(name, st.state)
        except StateError:  # bookkeeping only: status works on a read-only or full state dir
            pass
    return st


def invoke(name: str, payload: Any, ctx: Optional[DeployContext] = None,
           target: Optional[str] = None) -> InvokeResult:
    ctx = _ctx(ctx)
    target = target or _target_of(name, ctx)
    if target is None:
        raise InputError(f"no deployment named {name!r}", "see `deploy-advisor list`")
    return registry.get(target).invoke(name, payload, ctx.for_deployment(name))


def destroy(name: str, ctx: Optional[DeployContext] = None, events: Optional[EventSink] = None,
            target: Optional[str] = None) -> DestroyResult:
    """Delete what we created for a deployment; a missing deployment succeeds."""
    ctx = _ctx(ctx)
    led = ledger(ctx.state_dir)
    target = target or _target_of(name, ctx)
    if target is None:
        return DestroyResult(name=name, target="", already_absent=True, message=f"{name}: nothing to destroy")
    led.reap_dead()
    run = led.begin_run(name, target, "destroy")
    user_sink = events or ctx.events or null_sink

    def sink(event: Event) -> None:
        event.deployment, event.run_id = name, run["id"]
        led.add_event(event)
        user_sink(event)

    run_ctx = ctx.for_deployment(name, run["id"])
    run_ctx.events = sink
    try:
        result = registry.get(target).destroy(name, run_ctx)
    except DeployError as e:
        led.finish_run(run["id"], "failed", error=e.one_line())
        raise
    except BaseException as e:
        led.finish_run(run["id"], "failed", error=f"{e.__class__.__name__}: {e}")
        raise
    led.finish_run(run["id"], "succeeded", result=result.model_dump(mode="json"))
    led.set_status(name, "destroyed")
    run_ctx.emit("done", result.message or f"destroyed {name}")
    return result


def doctor(ctx: Optional[DeployContext] = None, repair: bool = False):
    """Check the state dir and the ledger; `repair` moves a damaged ledger aside and rebuilds the
    deployment list from the targets' local state (see deployers/doctor.py)."""
    from .doctor import diagnose

    ctx = _ctx(ctx)
    return diagnose(ctx, ledger(ctx.state_dir), repair=repair)


def list_deployments(ctx: Optional[DeployContext] = None, include_destroyed: bool = False) -> list[dict]:
    rows = ledger(_ctx(ctx).state_dir).list_deployments()
    return [r for r in rows if include_destroyed or r["status"] != "destroyed"]


def get_deployment(name: str, ctx: Optional[DeployContext] = None) -> Optional[dict]:
    return ledger(_ctx(ctx).state_dir).get_deployment(name)


def deployment_events(name: str, after_id: int = 0, ctx: Optional[DeployContext] = None,
                      run_id: Optional[str] = None) -> list[dict]:
    return ledger(_ctx(ctx).state_dir).events(deployment=name, run_id=run_id, after_id=after_id)


def runs(name: str, ctx: Optional[DeployContext] = None) -> list[dict]:
    return ledger(_ctx(ctx).state_dir).runs(name)


def logs(name: str, ctx: Optional[DeployContext] = None, tail: int = 100, **options: Any) -> str:
    """Recent logs; `options` go to the target (e.g. job=NAME for a batch endpoint's job)."""
    ctx = _ctx(ctx)
    target = _target_of(name, ctx)
    if target is None:
        raise InputError(f"no deployment named {name!r}", "see `deploy-advisor list`")
    import inspect

    read = registry.get(target).logs
    unknown = [k for k in options if k not in inspect.signature(read).parameters]
    if unknown:
        raise InputError(f"{target} logs take no {', '.join(unknown)} option", "--job is for batch endpoint jobs")
    return read(name, ctx.for_deployment(name), tail=tail, **options)


def drift(name: str, ctx: Optional[DeployContext] = None, spec: Optional[DeploymentSpec] = None) -> list[str]:
    """Every way the live deployment differs from the last applied plan (empty = in sync).

    Re-plans the spec stored in the ledger (read-only) and reports each action that is
    not a no-op, then the live status when it is not `running`. `spec` (e.g. from a
    spec file) is the reference when the ledger has no record, as on a fresh CI runner.
    Added for `status --check-drift` (issue 8).
    """
    import json

    ctx = _ctx(ctx)
    row = ledger(ctx.state_dir).get_deployment(name)
    if row and row.get("spec"):
        reference = DeploymentSpec.model_validate(row["spec"])
    elif spec is not None:
        reference = spec
    else:
        raise InputError(f"no deployment named {name!r} in the ledger",
                         "pass its spec file (status -f deployment.yaml --check-drift) or see `deploy-advisor list`")
    live = status(name, ctx, target=reference.target)
    if row and row.get("status") == "destroyed":
        return [] if live.state == "not-found" else [f"status: {live.state}, but the ledger says it was destroyed"]
    diffs: list[str] = []
    for a in plan(reference, ctx).actions:
        if a.kind == "no-op":
            continue
        line = f"{a.kind} {a.resource_type} {a.resource}" + (f": {a.detail}" if a.detail else "")
        if a.changes:
            line += f" {json.dumps(a.changes, sort_keys=True, default=str)[:300]}"
        diffs.append(line)
    if live.state != "running":
        diffs.append(f"status: {live.state} (expected running)" + (f": {live.message}" if live.message else ""))
    recorded_url = (row or {}).get("endpoint_url") or ""
    if recorded_url and live.endpoint_url and live.endpoint_url != recorded_url:
        diffs.append(f"endpoint: {live.endpoint_url} (applied: {recorded_url})")
    return diffs


def export(the_plan: DeploymentPlan, out_dir: Path) -> list[Path]:
    """Write the plan's artifacts plus plan.json (no secrets in either)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = registry.get(the_plan.target).export(the_plan, out)
    plan_path = out / "plan.json"
    plan_path.write_text(the_plan.to_json(), encoding="utf-8")
    return [*written, plan_path]


def load_plan(path: Path | str) -> DeploymentPlan:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such plan file")
    try:
        return DeploymentPlan.model_validate_json(p.read_text(encoding="utf-8"))
    except ValidationError as e:
        raise InputError(describe_validation_error(e, str(p))) from None
    except ValueError as e:
        raise InputError(f"{p}: not a plan file ({e.__class__.__name__})") from None


# ---------------------------------------------------------------- for the web UI: regions, changes, export, draft

REFERENCE_SKU = "Standard_DS3_v2"  # the VM every target can run on: its hourly price compares regions


def regions() -> list[dict]:
    """Azure regions a profile may name, each with its geography and whether the price snapshot has its own
    prices (`vm_hourly_usd`: the reference VM's pay-as-you-go price there), priced regions first."""
    from advisor.models import known_regions
    from advisor.prices import default_prices

    book = default_prices()
    facts: dict[str, dict] = dict(known_regions())
    names = sorted(set(facts) | set(book.regions()))
    out = []
    for name in names:
        hourly = book.get("vm", name, REFERENCE_SKU)
        info = facts.get(name) or {}
        out.append({"name": name, "geography": info.get("geography", ""), "priced": hourly is not None,
                    "vm_hourly_usd": hourly, "reference_sku": REFERENCE_SKU,
                    "restricted": bool(info.get("restricted")), "coming_soon": bool(info.get("coming_soon"))})
    return sorted(out, key=lambda r: (not r["priced"], r["name"]))


_CHANGE = re.compile(r"^\s*([a-z_]+(?:\.[a-z_]+)?)\s*(=|>=|<=|>|<)\s*(.+?)\s*$")


def apply_change(profile: WorkloadProfile, change: str) -> WorkloadProfile:
    """The profile with one sensitivity change applied (`section.field=value`, `section.field > N`, ...).

    `> N` sets the smallest round value above N (N + 1), `< N` the largest below (N - 1, at least half N).
    ProfileError when the change does not name a profile field or its value does not fit it."""
    m = _CHANGE.match(change or "")
    if not m:
        from advisor.safe_load import short

        raise ProfileError(f"not a profile change: {short(change)}")
    path, op, raw = m.groups()
    data = profile.model_dump(mode="json")
    node = data
    *parents, name = path.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            raise ProfileError(f"{path}: not a profile field")
        node = node[part]
    if name not in node:
        raise ProfileError(f"{path}: not a profile field")
    if op == "=":
        from advisor.safe_load import DocumentError, load_yaml

        try:
            value: Any = load_yaml(raw, "change") if raw not in ("", "none", "null") else None
        except DocumentError as e:
            raise ProfileError(str(e)) from None
        if isinstance(node[name], str) and value is not None:
            value = raw
    else:
        try:
            bound = float(raw.split()[0])
        except ValueError:
            raise ProfileError(f"{path}: {raw!r} is not a number") from None
        if op in (">", ">="):
            value = bound + (1.0 if op == ">" else 0.0)
        else:
            value = bound - 1.0 if op == "<" and bound > 2 else (bound / 2 if op == "<" else bound)
        if isinstance(node[name], int) and not isinstance(node[name], bool):
            value = int(value)
    node[name] = value
    return parse_profile(data, "change")


def recommendation_json(rec: Recommendation, profile: WorkloadProfile, model: Optional[str] = None) -> str:
    """The recommendation with the profile it answers, as one JSON document (DESIGN.md §5 plus inputs)."""
    import json

    doc = {"profile": profile.model_dump(mode="json"), "model": model,
           "recommendation": rec.model_dump(mode="json")}
    return json.dumps(doc, indent=2)


def recommendation_markdown(rec: Recommendation, profile: WorkloadProfile, model: Optional[str] = None,
                            titles: Optional[dict[str, str]] = None) -> str:
    """The recommendation as a short Markdown report a person can paste into a ticket or a review."""
    titles = titles or {}

    def title(t: str) -> str:
        return titles.get(t, t)

    inf = profile.inference
    lines = [f"# Deployment recommendation: {profile.name}", "",
             f"- Model: `{model or '-'}`",
             f"- Region: {profile.region}",
             f"- Traffic: peak {inf.peak_rps:g} rps, average {inf.average_rps:g} rps, p95 target "
             f"{inf.p95_latency_ms:g} ms",
             f"- Budget: {'$%s / month' % format(profile.budget.monthly_usd, ',.0f') if profile.budget.monthly_usd is not None else 'none set'}",
             f"- Prices as of {rec.prices_as_of}", ""]
    headline = getattr(rec, "headline", "")
    if headline:
        lines += [f"**{headline}**", ""]
    top = rec.top
    if top is None:
        lines += ["No Azure target fits this profile.", ""]
    else:
        lines += [f"**Recommended: {title(top.target)}**, score {top.score:.1f}, about "
                  f"${top.cost.monthly_usd:,.0f} a month on {top.sizing.sku} x {top.sizing.instances}.", ""]
    lines += ["## Ranking", "", "| # | Target | Score | USD / month | Size | Fits budget |", "|---|---|---|---|---|---|"]
    for i, o in enumerate(rec.options, 1):
        fits = getattr(o, "fits_budget", None)
        if fits is None and profile.budget.monthly_usd is not None:
            fits = o.cost.monthly_usd <= profile.budget.monthly_usd
        lines.append(f"| {i} | {title(o.target)} | {o.score:.1f} | {o.cost.monthly_usd:,.2f} | "
                     f"{o.sizing.sku} x {o.sizing.instances} (autoscale {o.sizing.min}-{o.sizing.max}) | "
                     f"{'-' if fits is None else ('yes' if fits else 'no')} |")
    for o in rec.options:
        lines += ["", f"### {title(o.target)}", ""]
        lines += [f"- {r}" for r in o.reasons]
        for v in getattr(o, "verdicts", []) or []:
            lines.append(f"- Requirement {v.requirement}: {v.status} - {v.detail}"
                         + (f" ({v.change})" if v.change else ""))
    if rec.excluded:
        lines += ["", "## Excluded", ""]
        lines += [f"- {title(x.target)}: {'; '.join(x.reasons)}" for x in rec.excluded]
    if rec.sensitivity:
        lines += ["", "## What would change the answer", ""]
        lines += [f"- {s.change}: {title(s.new_winner)} ({s.explanation})" for s in rec.sensitivity]
    return "\n".join(lines) + "\n"


DRAFT_FILE = "ui-draft.json"
DRAFT_MAX_BYTES = 64_000


def save_ui_draft(draft: dict, ctx: Optional[DeployContext] = None) -> Path:
    """Keep the web UI's work (profile, model, preset) in the state dir, so a reload can restore it."""
    import json
    import os

    path = _ctx(ctx).state_dir / DRAFT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(draft), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_ui_draft(ctx: Optional[DeployContext] = None) -> Optional[dict]:
    """The saved UI draft, or None when there is none or it cannot be read (a draft is never worth an error)."""
    import json

    path = _ctx(ctx).state_dir / DRAFT_FILE
    try:
        if not path.is_file() or path.stat().st_size > DRAFT_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
