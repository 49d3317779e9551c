"""Secrets never leak (canary key and App Insights connection string), and an apply that
crashed mid-swap resumes without swapping twice; an image built with ACR Tasks is deployed."""
from __future__ import annotations

import json

import pytest

from deployers import api
from deployers.appservice import KEY_SETTING, AppServiceDeployer
from deployers.base import DeployContext
from deployers.errors import DeployError, RemoteError
from tests.appservice.conftest import EXAMPLE, IMAGE_V1, IMAGE_V2, make_spec
from tests.conftest import file_texts

APP = "fraud-app"
CANARY = "CANARY-scoring-key-7f3c9a1e5b2d4c6a8e0f"
IMAGE_V3 = "myregistry.azurecr.io/deploy-advisor/fraud:v3"


def test_canary_key_never_leaks(ctx, fake, web, model_dir, tmp_path, capsys, events, debug_log):
    profile = {"operations": {"integrations": ["app-insights"]}}
    plan1 = api.plan(make_spec(model_dir, profile=profile), ctx)
    api.apply(plan1, ctx)
    first_key = web.app_settings(APP)[KEY_SETTING]
    insights = web.app_settings(APP)["APPLICATIONINSIGHTS_CONNECTION_STRING"]
    assert insights.startswith("InstrumentationKey=")
    # the key Azure holds from now on is the canary: the deployer must read it back and reuse it
    web.settings[(APP, "production")][KEY_SETTING] = CANARY
    web.logs[APP] = f"2026-01-01T00:00:00 starting\nDEBUG key={CANARY}\nREADY http://0.0.0.0:8080\n"
    plan2 = api.plan(make_spec(model_dir, profile=profile, image=IMAGE_V2), ctx)
    result2 = api.apply(plan2, ctx)
    assert result2.status == "succeeded"
    assert web.app_settings(APP)[KEY_SETTING] == CANARY  # clients' key unchanged across the swap
    assert api.invoke(APP, {"input_data": EXAMPLE}, ctx).status_code == 200
    logs = api.logs(APP, ctx)
    assert "READY" in logs and "scm.azurewebsites.net/api/logstream" in logs
    status = api.status(APP, ctx)
    # a broken model server that echoes the request back in its error
    web.scorer = lambda app, slot, payload: (500, {"error": f"bad input; headers: Bearer {CANARY}"})
    plan3 = api.plan(make_spec(model_dir, profile=profile, image=IMAGE_V3), ctx)
    with pytest.raises(RemoteError) as err:
        api.apply(plan3, ctx)
    assert err.value.code == "StagingUnhealthy"
    web.scorer = None
    destroyed = api.destroy(APP, ctx)
    out, errout = capsys.readouterr()
    assert fake.calls("POST", "^/score$", host=r"azurewebsites\.net$")  # the key was really used on the wire
    secrets = {"canary key": CANARY, "first key": first_key, "App Insights": insights}
    haystacks = {
        "stdout": out, "stderr": errout, "log file": debug_log.read_text(errors="replace"),
        "events": json.dumps([e.to_dict() for e in events.events], default=str),
        "plans": plan1.to_json() + plan2.to_json() + plan3.to_json(),
        "results": result2.model_dump_json() + status.model_dump_json() + destroyed.model_dump_json(),
        "error": f"{err.value.one_line()} {err.value.hint} {err.value!r}",
        "logs": logs,
    }
    for p in api.export(plan2, tmp_path / "export"):
        haystacks[f"export {p.name}"] = p.read_text(errors="replace")
    for p, text in file_texts(ctx.state_dir).items():  # the ledger DB (and its WAL), the deployer's state file
        haystacks[f"state {p.name}"] = text
    assert any(name.startswith("state ") and ".db" in name for name in haystacks)
    for what, secret in secrets.items():
        for where, text in haystacks.items():
            assert secret not in text, f"{what} leaked into {where}"


def test_crash_mid_swap_resumes_without_swapping_twice(ctx, fake, web, model_dir):
    api.apply(api.plan(make_spec(model_dir), ctx), ctx)
    plan = api.plan(make_spec(model_dir, image=IMAGE_V2), ctx)
    recorded: dict = {}
    run = DeployContext(**{**ctx.__dict__, "checkpoints": {}, "on_checkpoint": recorded.__setitem__})
    # the swap is carried out by Azure but its answer is lost (connection reset)
    fake.timeout("POST", r"/slotsswap$", kind="response")
    with pytest.raises(DeployError) as err:
        AppServiceDeployer().apply(plan, run)
    assert err.value.category == "network"
    assert web.swaps == [(APP, "staging", "production")] and recorded["appservice.phase"] == "swapping"
    resumed = DeployContext(**{**ctx.__dict__, "checkpoints": dict(recorded), "on_checkpoint": None})
    result = AppServiceDeployer().apply(plan, resumed)
    assert result.status == "succeeded"
    assert len(web.swaps) == 1 and web.image(APP) == IMAGE_V2 and web.image(APP, "staging") == IMAGE_V1


def test_interrupted_before_the_swap_resumes_through_the_ledger(ctx, fake, web, model_dir):
    api.apply(api.plan(make_spec(model_dir), ctx), ctx)
    plan = api.plan(make_spec(model_dir, image=IMAGE_V2), ctx)

    def cancel_on_swap(event):
        if event.kind == "step" and event.message.startswith("swap staging"):
            ctx.cancel.set()
    interrupted = DeployContext(**{**ctx.__dict__, "events": cancel_on_swap})
    with pytest.raises(DeployError) as err:
        api.apply(plan, interrupted)
    assert err.value.category == "interrupted"
    ctx.cancel.clear()
    result = api.apply(plan, ctx)  # same plan: the api hands over the checkpoints
    assert result.status == "succeeded"
    assert len(web.swaps) == 1 and web.image(APP) == IMAGE_V2


def test_image_built_with_acr_tasks(ctx, fake, web, acr, model_dir):
    spec = make_spec(model_dir, image=None)
    plan = api.plan(spec, ctx)
    image = plan.settings["image"]
    assert image.startswith("myregistry.azurecr.io/deploy-advisor/fraud-app:")
    assert any(a.resource_type == "image" and a.kind == "create" for a in plan.actions)
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and web.image(APP) == image
    repo, tag = image.split(".azurecr.io/", 1)[1].rsplit(":", 1)
    assert tag in acr.tags[("myregistry", repo)] and len(acr.uploads) == 1
    assert "Dockerfile" in acr.uploads[0]["files"] and "app/score.py" in acr.uploads[0]["files"]
    assert web.config(APP)["acrUseManagedIdentityCreds"] is True
    # unchanged model: same tag, nothing rebuilt, nothing redeployed
    again = api.plan(spec, ctx)
    assert again.settings["image"] == image and not again.has_changes
    assert api.apply(again, ctx).status == "no-change" and len(acr.uploads) == 1
