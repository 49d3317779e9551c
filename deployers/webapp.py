"""What the two image web-app targets (App Service, Container Apps) do alike, written once.

Both run the scoring image (deployers/images.py) as a web app and follow the same outline: settings,
then the model and the advisor's sizing, then every name resolved (`_resolve`), then the image; Azure
is read only when signed in. A subclass supplies `_resolve`, `_static_findings` and
`_remote_findings(ctx, r)` (the checks that read Azure) and says in `signed_out_skips` which checks
a preflight without Azure credentials leaves out.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

from pydantic import ValidationError

from advisor.models import ModelInfo, Sizing, WorkloadProfile, describe_validation_error

from .azure_common import credentials_missing
from .base import DeployContext, Deployer
from .errors import AuthError, DeployError, InputError, StalePlanError
from .models import DeploymentSpec, DestroyResult, Finding


def credentials_missing_for(r: Any, ctx: DeployContext) -> Optional[str]:
    """How to sign in for the subscription and resource group a resolved deployment `r` names (None: signed in)."""
    return credentials_missing(ctx, subscription_id=r.subscription or None, resource_group=r.resource_group or None)


def auth_and_image_findings(p: WorkloadProfile, r: Any, auth_hint: str) -> list[Finding]:
    """The preflight findings on sign-in (Entra ID is not set up by either target) and the image."""
    out: list[Finding] = []
    if p.security.auth == "entra":
        out.append(Finding(check="auth", level="warn", message="Entra ID auth is not configured; the app uses the "
                           "scoring key", hint=auth_hint))
    if r.image_source == "acr-build" and not r.image:
        out.append(Finding(check="image", level="fail", message="the scoring image cannot be built for this model",
                           hint="give a ready image with --set image=..."))
    else:
        out.append(Finding(check="image", level="pass", message=f"image {r.image} ({r.image_source})"))
    return out


def smoke_outcome(ctx: DeployContext, info: Optional[ModelInfo], score: Callable[[Any], tuple[int, float, Any]],
                  what: str) -> tuple[bool, str, Optional[dict]]:
    """The shared smoke test (images.smoke_test) through `score(payload)`: (ok, why, smoke), where smoke is
    {"latency_ms", "response"} when the input example was scored, else None."""
    from . import images

    out = images.smoke_test(ctx, info, score, what)
    if not out.ok or out.skipped:
        return out.ok, out.why, None
    return True, "", {"latency_ms": out.latency_ms, "response": out.response}


class ImageWebAppDeployer(Deployer):
    """Base of the App Service and Container Apps deployers (see the module docstring)."""

    signed_out_skips: ClassVar[str] = "Azure checks"  # e.g. "name, region and quota checks"

    def credentials_missing(self, ctx: DeployContext) -> Optional[str]:
        return credentials_missing(ctx)

    def _settings(self, spec: DeploymentSpec) -> Any:
        try:
            return self.Settings.model_validate(spec.settings)
        except ValidationError as e:
            raise InputError(describe_validation_error(e, "settings"),
                             f"see `deploy-advisor settings {self.name}`") from None

    def _model_and_sizing(self, spec: DeploymentSpec, ctx: DeployContext) -> tuple[Optional[ModelInfo], Optional[Sizing]]:
        from . import planning
        return planning.model_and_sizing(self.name, spec, ctx)

    def _model_for_plan(self, spec: DeploymentSpec, ctx: DeployContext,
                        s: Any) -> tuple[Optional[ModelInfo], Optional[Sizing], Optional[Any]]:
        """(model, sizing, download action or None) for a plan: a registered model is sized from its
        listing and downloaded on apply, never while planning."""
        from .images import plan_model_download

        info, sizing = self._model_and_sizing(spec, ctx)
        download = None
        if not s.image and info is not None:
            signed_in = credentials_missing(ctx, subscription_id=s.subscription, resource_group=s.resource_group) is None
            info, download = plan_model_download(ctx, info, read_azure=signed_in)
        return info, sizing, download

    # ---- preflight -------------------------------------------------------------------------
    def preflight(self, spec: DeploymentSpec, ctx: DeployContext) -> list[Finding]:
        from . import images

        s = self._settings(spec)
        try:
            info, sizing = self._model_and_sizing(spec, ctx)
        except DeployError as e:
            info, sizing = None, None
            ctx.emit("warning", f"model not resolved: {e.message}")
        try:
            r, _notes = self._resolve(spec, s, ctx, info, sizing)
        except InputError as e:
            return [Finding(check="settings", level="fail", message=e.message, hint=e.hint)]
        missing = credentials_missing_for(r, ctx)
        if r.image_source == "acr-build":
            try:
                images.plan_web_image(ctx, r, info, given=s.registry, given_resource_group=s.registry_resource_group,
                                      read_azure=not missing, with_files=info is not None and bool(info.local_path))
            except DeployError as e:
                ctx.emit("warning", e.message)
        findings = self._static_findings(spec, r, info)
        if missing:
            findings.append(Finding(check="credentials", level="warn", message=f"not signed in to Azure: "
                                    f"{self.signed_out_skips} skipped (plan and export still work)", hint=missing))
            return findings
        findings.append(Finding(check="credentials", level="pass",
                                message=f"subscription {r.subscription}, resource group {r.resource_group}"))
        findings += self._remote_findings(ctx, r)
        return findings

    @staticmethod
    def _state_not_read_note(missing: str) -> str:
        """The plan's note when it was made without reading Azure."""
        return (f"Azure state not read ({missing}): every resource is shown as created; sign in and plan "
                "again before applying")

    # ---- apply and the commands that find a deployment by name ------------------------------
    @staticmethod
    def _require_applyable(r: Any, ctx: DeployContext) -> None:
        """Apply's first check: signed in, and the plan was made with Azure read."""
        missing = credentials_missing_for(r, ctx)
        if missing:
            raise AuthError("not signed in to Azure", missing)
        if not r.state_read:
            raise StalePlanError("this plan was made without reading Azure (not signed in then)",
                                 "plan again now that you are signed in")

    def _refuse_if_changed(self, plan: Any, observed: dict, r: Any) -> None:
        """A fresh apply (not a resumed one) needs Azure as the plan saw it (`_state_hash`)."""
        if plan.state_fingerprint and self._state_hash(observed) != plan.state_fingerprint:
            raise StalePlanError(f"{r.app_name} changed in Azure since this plan was made",
                                 "run plan again and review the new actions")

    def _destroyed(self, name: str, rg: str, deleted: list[str], kept: list[str]) -> DestroyResult:
        """What destroy says: what it deleted, and what it left alone and why."""
        msg = ("deleted " + ", ".join(deleted)) if deleted else f"nothing of {name} left in {rg}"
        if kept:
            msg += "; left alone: " + ", ".join(kept)
        return DestroyResult(name=name, target=self.name, deleted=deleted, already_absent=not deleted, message=msg)

    def _remembered(self, ctx: DeployContext, name: str) -> dict[str, Any]:
        from .azure_common import remembered
        return remembered(ctx, self.name, name)

    def _remembered_scope(self, name: str, ctx: DeployContext) -> tuple[dict, str, str, str]:
        """(memory, subscription, resource group, app name) for a deployment name: from what apply
        remembered, else this context's defaults."""
        mem = self._remembered(ctx, name)
        sub = mem.get("subscription") or ctx.subscription_id or ""
        rg = mem.get("resource_group") or ctx.resource_group or ""
        if not sub or not rg:
            raise AuthError(f"no subscription / resource group known for {name}",
                            "set AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP (or --set them)")
        return mem, sub, rg, mem.get("app_name") or name
