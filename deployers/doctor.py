"""`deploy-advisor doctor`: check the local state, and rebuild the ledger's deployment list from it.

The ledger is the index; the targets' own state files (a local server's state.json,
the Azure targets' coordinates) are the evidence. When the ledger is damaged or
truncated, `repair` moves it aside (never deletes it) and writes a new one with a
row for each deployment the evidence shows, so `list`, `status` and `destroy` find
them again. Runs and events of the old ledger are not recovered.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import registry
from .base import DeployContext
from .errors import StateError
from .ledger import Ledger


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    hint: str = ""


@dataclass
class Report:
    state_dir: Path
    checks: list[Check] = field(default_factory=list)
    moved_aside: Optional[Path] = None
    rebuilt: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict:
        return {"state_dir": str(self.state_dir), "ok": self.ok,
                "checks": [vars(c) for c in self.checks],
                "moved_aside": str(self.moved_aside) if self.moved_aside else None, "rebuilt": self.rebuilt}


def _check_dir(state_dir: Path) -> Check:
    if not state_dir.exists():
        return Check("state dir", True, f"{state_dir} does not exist yet (the first deploy creates it, mode 700)")
    mode = stat.S_IMODE(state_dir.stat().st_mode)
    if mode & 0o077:
        return Check("state dir", False, f"{state_dir} is open to other users (mode {mode:o})",
                     f"chmod 700 {state_dir}")
    return Check("state dir", True, f"{state_dir} (mode {mode:o})")


def _check_ledger(led: Ledger) -> tuple[Check, bool]:
    """The ledger's check, and whether it is damaged (repairable by moving it aside)."""
    try:
        verdict = led.check()
    except StateError as e:
        return Check("ledger", False, e.message, e.hint), "damaged" in e.message
    if verdict == "missing":
        return Check("ledger", True, f"{led.path} does not exist yet (no deployments recorded)"), False
    rows = led.list_deployments()
    return Check("ledger", True, f"{led.path}: schema version {led.schema_version}, {len(rows)} deployment(s)"), False


def _evidence(ctx: DeployContext) -> list[tuple[str, str]]:
    """(target, name) for every deployment a target keeps local state for."""
    found: list[tuple[str, str]] = []
    for target in registry.available():
        try:
            names = registry.get(target).recorded(ctx)
        except Exception:  # a plugin that cannot list its state must not stop the repair of the others
            continue
        found.extend((target, name) for name in names)
    return found


def diagnose(ctx: DeployContext, led: Ledger, repair: bool = False) -> Report:
    """Check the state dir and the ledger; with `repair`, move a damaged ledger aside and re-add
    every deployment the targets' local state shows that the ledger does not list."""
    report = Report(state_dir=Path(ctx.state_dir))
    report.checks.append(_check_dir(report.state_dir))
    ledger_check, damaged = _check_ledger(led)
    report.checks.append(ledger_check)
    evidence = _evidence(ctx)
    if not repair:
        return report
    aside = led.move_aside() if damaged else None
    report.moved_aside = aside
    known = {row["name"] for row in led.list_deployments()}
    for target, name in evidence:
        if name in known:
            continue
        deployer = registry.get(target)
        status, url = "unknown", ""
        if not deployer.requires_azure:  # local evidence can be checked here; Azure's needs a sign-in
            live = deployer.status(name, ctx.for_deployment(name))
            status, url = live.state, live.endpoint_url or ""
        led.upsert_deployment(name, target, status, endpoint_url=url)
        known.add(name)
        report.rebuilt.append({"name": name, "target": target, "status": status})
    if aside is not None:
        ledger_check.ok = True
        ledger_check.message = f"moved the damaged ledger to {aside.name}; started a new one"
        ledger_check.hint = ""
    return report
