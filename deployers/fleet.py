"""Run many deployment specs at once: a bounded pool, one result per spec, the worst exit code overall.

Why not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a
second Ctrl-C could not abort a fleet whose calls are stuck. Here the workers
are daemon threads fed from a shared counter; the main thread waits in short
slices so signal handlers run promptly.

Cancellation is the shared `DeployContext.cancel` event (the CLI sets it on the
first Ctrl-C): no new spec starts, calls in flight stop at their next check
(deployers record their continuation first), the api marks their runs
`interrupted`, and the next apply of the same spec resumes from the stored
plan and its checkpoints.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .base import DeployContext
from .errors import DeployError, InputError, Interrupted
from .specs import LoadedSpec, _rel, resolve

# Exit codes from least to most severe (DESIGN.md §5): ok, changes, bad input, failed, interrupted.
SEVERITY = (0, 3, 2, 1, 130)
MAX_PARALLEL = 64


def worst(codes: list[int]) -> int:
    """The most severe exit code: interrupted > failed > bad input > changes > ok."""
    rank = {c: i for i, c in enumerate(SEVERITY)}
    return max(codes, key=lambda c: rank.get(c, rank[1]), default=0)


@dataclass
class FleetItem:
    """One spec's journey through a fleet command (resolve -> plan -> apply | status | destroy)."""

    file: str
    loaded: Optional[LoadedSpec] = None
    name: str = ""
    target: str = ""
    status: str = "not-started"
    exit_code: int = 130  # until something runs, the item counts as interrupted
    error: str = ""
    hint: str = ""
    notes: list[str] = field(default_factory=list)
    spec: Any = None  # DeploymentSpec
    plan: Any = None  # DeploymentPlan
    result: Optional[dict] = None
    drift: Optional[list[str]] = None
    resumed_run: str = ""
    elapsed_s: float = 0.0

    @property
    def changes(self) -> bool:
        return bool(self.plan is not None and self.plan.has_changes)

    def fail(self, exc: BaseException) -> None:
        """Record an error as this item's outcome (secrets scrubbed, one line)."""
        from .azure_common import scrub
        from .errors import from_exception

        if isinstance(exc, Exception) and not isinstance(exc, DeployError):
            exc = from_exception(exc)  # OSError, sqlite3, RecursionError, a bug: a message and a hint
        if isinstance(exc, Interrupted):
            self.status, self.exit_code = "interrupted", 130
        elif isinstance(exc, DeployError):
            self.status = "bad-input" if isinstance(exc, InputError) else "failed"
            self.exit_code = exc.exit_code
        else:  # a bug or an unmapped SDK error: still one line per spec, the fleet goes on
            self.status, self.exit_code = "failed", 1
        if isinstance(exc, DeployError):
            self.error, self.hint = scrub(exc.message), scrub(exc.hint)
        else:
            self.error = scrub(f"{exc.__class__.__name__}: {exc}")

    def to_dict(self, *, artifacts: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "name": self.name, "target": self.target, "status": self.status,
                             "exit_code": self.exit_code, "changes": self.changes, "elapsed_s": round(self.elapsed_s, 3)}
        if self.error:
            d["error"] = self.error
            if self.hint:
                d["hint"] = self.hint
        if self.notes:
            d["notes"] = self.notes
        if self.resumed_run:
            d["resumed_run"] = self.resumed_run
        if self.plan is not None:
            plan = self.plan.model_dump(mode="json", exclude=None if artifacts else {"artifacts"})
            if not artifacts:
                plan["artifact_files"] = sorted(self.plan.artifacts)
            d["plan"] = plan
        if self.result is not None:
            d["result"] = self.result
        if self.drift is not None:
            d["drift"] = self.drift
        return d


@dataclass
class FleetReport:
    command: str
    items: list[FleetItem]
    parallel: int
    interrupted: bool = False
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return worst([i.exit_code for i in self.items])

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i.status] = out.get(i.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "specs": len(self.items), "parallel": self.parallel,
                "exit_code": self.exit_code, "interrupted": self.interrupted, "elapsed_s": round(self.elapsed_s, 3),
                "counts": self.counts(), "items": [i.to_dict() for i in self.items]}


# ---------------------------------------------------------------- the pool


def run_bounded(jobs: list[Callable[[], None]], parallel: int, cancel: threading.Event,
                poll_s: float = 0.2) -> list[bool]:
    """Run jobs on at most `parallel` daemon threads; returns which jobs started.

    A job that has not started when `cancel` is set never starts. Jobs must catch
    their own errors; anything that escapes is re-raised here after the pool drains.
    """
    n = len(jobs)
    started = [False] * n
    escaped: list[BaseException] = []
    counter = itertools.count()
    lock = threading.Lock()

    def worker() -> None:
        while not cancel.is_set():
            with lock:
                i = next(counter)
                if i >= n:
                    return
                started[i] = True
            try:
                jobs[i]()
            except BaseException as e:  # noqa: BLE001 - surfaced to the caller below
                escaped.append(e)

    threads = [threading.Thread(target=worker, name=f"fleet-{k}", daemon=True)
               for k in range(max(1, min(parallel, n, MAX_PARALLEL)))]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(poll_s)  # short slices: the SIGINT handler runs between them
    if escaped:
        raise escaped[0]
    return started


def _timed(item: FleetItem, fn: Callable[[FleetItem], None]) -> Callable[[], None]:
    def job() -> None:
        t0 = time.monotonic()
        try:
            fn(item)
        except BaseException as e:  # noqa: BLE001 - each spec reports its own error
            item.fail(e)
        finally:
            item.elapsed_s += time.monotonic() - t0
    return job


def _run_each(items: list[FleetItem], one: Callable[[FleetItem], None], parallel: int, ctx: DeployContext) -> None:
    """one(item) for every item on the bounded pool; each item records its own outcome and time."""
    run_bounded([_timed(i, one) for i in items], parallel, ctx.cancel)


def _items(loaded: list[LoadedSpec]) -> list[FleetItem]:
    return [FleetItem(file=_rel(s.path), loaded=s, name=s.name or "", target=s.target) for s in loaded]


def _resolve(item: FleetItem, ctx: DeployContext, overrides: Optional[dict[str, Any]]) -> None:
    r = resolve(item.loaded, ctx, overrides)
    item.spec, item.name, item.target = r.spec, r.spec.name, r.spec.target
    item.notes = list(r.notes)


def _name_taken(item: FleetItem, other: FleetItem) -> None:
    item.status, item.exit_code, item.plan = "bad-input", 2, None
    item.error = f"{item.file}: name: {item.name!r} is also the deployment of {other.file}"
    item.hint = "give each spec its own `name:`"


def _dedupe(items: list[FleetItem]) -> None:
    """Two specs that resolve to one deployment name would fight over it: refuse both."""
    seen: dict[str, FleetItem] = {}
    for it in items:
        if it.spec is None:
            continue
        other = seen.get(it.name)
        if other is None:
            seen[it.name] = it
            continue
        _name_taken(it, other)
        _name_taken(other, it)


# ---------------------------------------------------------------- commands


def resumable_plan(spec: Any, ctx: DeployContext) -> Optional[tuple[Any, str]]:
    """The plan of this deployment's last apply if it was interrupted after recording progress.

    Applying that same plan (same plan_id) hands its checkpoints to the deployer, which
    resumes instead of starting over. Only when the spec is unchanged since.
    """
    from . import api
    from .models import DeploymentPlan

    led = api.ledger(ctx.state_dir)
    led.reap_dead()
    last = led.last_run(spec.name, kind="apply")
    if not last or last["status"] != "interrupted" or not last.get("checkpoints") or not last.get("plan"):
        return None
    try:
        stored = DeploymentPlan.model_validate(last["plan"])
    except ValueError:
        return None
    if stored.spec.model_dump(mode="json") != spec.model_dump(mode="json"):
        return None
    return stored, last["id"]


def plan_all(loaded: list[LoadedSpec], ctx: DeployContext, parallel: int = 4, *,
             overrides: Any = None, resume: bool = False) -> FleetReport:
    """Resolve and plan every spec (read-only). With resume, an interrupted run's plan is reused."""
    t0 = time.monotonic()
    items = _items(loaded)
    _run_each(items, lambda item: _plan_one(item, ctx, overrides, resume), parallel, ctx)
    _dedupe(items)
    return FleetReport("plan", items, parallel, interrupted=ctx.cancel.is_set(), elapsed_s=time.monotonic() - t0)


def _plan_one(item: FleetItem, ctx: DeployContext, overrides: Any, resume: bool) -> None:
    _resolve(item, ctx, overrides)
    _plan_resolved(item, ctx, resume)


def _plan_resolved(item: FleetItem, ctx: DeployContext, resume: bool) -> None:
    from . import api

    stored = resumable_plan(item.spec, ctx) if resume else None
    if stored:
        item.plan, item.resumed_run = stored
        item.notes.append(f"resumes interrupted run {item.resumed_run} (plan {item.plan.plan_id})")
    else:
        item.plan = api.plan(item.spec, ctx)
    item.plan.notes[:0] = [n for n in item.notes if n not in item.plan.notes]  # ours first: why this target
    item.status = "changes" if item.plan.has_changes else "no-changes"
    item.exit_code = 3 if item.plan.has_changes else 0


def _apply_one(item: FleetItem, ctx: DeployContext) -> None:
    from . import api

    missing = api.credentials_missing(item.target, ctx, item.plan.spec if item.plan else None)
    if missing:
        item.status, item.exit_code = "failed", 1
        item.error, item.hint = f"cannot apply to {item.target}: {missing}", "sign in, then apply again"
        return
    item.status, item.exit_code = "applying", 130
    result = api.apply(item.plan, ctx)
    item.result = result.model_dump(mode="json")
    item.status = result.status
    item.exit_code = 1 if result.status == "failed" else 0
    if result.status == "failed" and result.message:
        item.error = result.message


def deploy_all(loaded: list[LoadedSpec], ctx: DeployContext, parallel: int = 4, *,
               overrides: Any = None) -> FleetReport:
    """Plan and apply each spec in one worker, no barrier between the phases (CI with --yes:
    nobody reviews the plans first, so spec 1 need not wait for spec 50 to be planned)."""
    t0 = time.monotonic()
    items = _items(loaded)
    claimed: dict[str, FleetItem] = {}
    claim_lock = threading.Lock()

    def one(item: FleetItem) -> None:
        _resolve(item, ctx, overrides)
        with claim_lock:  # two specs resolving to one name must not both deploy it
            other = claimed.setdefault(item.name, item)
        if other is not item:
            _name_taken(item, other)
            return
        _plan_resolved(item, ctx, resume=True)
        if ctx.cancel.is_set():
            item.status, item.exit_code = "not-started", 130
            return
        _apply_one(item, ctx)

    _run_each(items, one, parallel, ctx)
    return FleetReport("apply", items, parallel, interrupted=ctx.cancel.is_set(), elapsed_s=time.monotonic() - t0)


def apply_planned(report: FleetReport, ctx: DeployContext, parallel: int = 4) -> FleetReport:
    """Apply every successfully planned item (also no-change ones: the run is recorded)."""
    t0 = time.monotonic()
    todo = [i for i in report.items if i.plan is not None and i.exit_code in (0, 3)]
    for i in todo:
        i.status, i.exit_code = "not-started", 130
    _run_each(todo, lambda item: _apply_one(item, ctx), parallel, ctx)
    report.command = "apply"
    report.interrupted = report.interrupted or ctx.cancel.is_set()
    report.elapsed_s += time.monotonic() - t0
    return report


def destroy_all(loaded: list[LoadedSpec], ctx: DeployContext, parallel: int = 4, *,
                overrides: Any = None) -> FleetReport:
    """Destroy each spec's deployment; the spec's target is passed so an empty ledger
    (a fresh CI runner) still finds the tagged resources."""
    from . import api

    t0 = time.monotonic()
    items = _items(loaded)

    def one(item: FleetItem) -> None:
        _resolve(item, ctx, overrides)
        res = api.destroy(item.name, ctx, target=item.target)
        item.result = res.model_dump(mode="json")
        item.status = "absent" if res.already_absent else "destroyed"
        item.exit_code = 0

    _run_each(items, one, parallel, ctx)
    _dedupe(items)
    return FleetReport("destroy", items, parallel, interrupted=ctx.cancel.is_set(), elapsed_s=time.monotonic() - t0)


def resolve_all(loaded: list[LoadedSpec], ctx: DeployContext, parallel: int = 4, *,
                overrides: Any = None) -> FleetReport:
    """Only name and target each spec (what destroy needs to ask for confirmation)."""
    items = _items(loaded)

    def one(item: FleetItem) -> None:
        _resolve(item, ctx, overrides)
        item.status, item.exit_code = "resolved", 0

    _run_each(items, one, parallel, ctx)
    _dedupe(items)
    return FleetReport("resolve", items, parallel, interrupted=ctx.cancel.is_set())


STATUS_EXIT = {"running": 0, "not-found": 1, "failed": 1}


def status_all(loaded: list[LoadedSpec], ctx: DeployContext, parallel: int = 4, *, check_drift: bool = False,
               overrides: Any = None) -> FleetReport:
    """Live status of each spec's deployment; with check_drift, every difference from the last
    applied plan (exit 3 when there is any)."""
    from . import api

    t0 = time.monotonic()
    items = _items(loaded)

    def one(item: FleetItem) -> None:
        _resolve(item, ctx, overrides)
        st = api.status(item.name, ctx, target=item.target)
        item.result = st.model_dump(mode="json")
        item.status = st.state
        item.exit_code = STATUS_EXIT.get(st.state, 0)
        if check_drift:
            item.drift = api.drift(item.name, ctx, spec=item.spec)
            item.status = "drift" if item.drift else "in-sync"
            item.exit_code = 3 if item.drift else 0

    _run_each(items, one, parallel, ctx)
    _dedupe(items)
    return FleetReport("status", items, parallel, interrupted=ctx.cancel.is_set(), elapsed_s=time.monotonic() - t0)
