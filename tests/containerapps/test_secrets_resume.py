"""The scoring key never leaks (a canary key Azure holds is read back, used and never written
anywhere), an apply killed while Azure was creating the new revision resumes from the ledger without
a second revision, and the shared image path builds the image in a registry it chooses itself."""
from __future__ import annotations

import json

import pytest

from deployers import api
from deployers.base import DeployContext
from deployers.containerapps import KEY_SECRET
from deployers.errors import DeployError, RemoteError
from tests.conftest import file_texts
from tests.containerapps.conftest import APP, EXAMPLE, IMAGE_V2, IMAGE_V3, make_spec

CANARY = "CANARY-aca-scoring-key-4b7e1d9c2a6f8e0b"


def app_puts(fake, since: int = 0):
    return [r for r in fake.requests[since:] if r.method == "PUT" and r.path.endswith(f"/containerApps/{APP}")]


def test_canary_key_never_leaks(ctx, fake, aca, model_dir, tmp_path, capsys, events, debug_log):
    plan1 = api.plan(make_spec(model_dir), ctx)
    api.apply(plan1, ctx)
    first_key = aca.secrets[APP][KEY_SECRET]
    aca.secrets[APP][KEY_SECRET] = CANARY  # from now on Azure holds the canary: it must be read back and reused
    plan2 = api.plan(make_spec(model_dir, image=IMAGE_V2), ctx)
    result2 = api.apply(plan2, ctx)
    assert aca.secrets[APP][KEY_SECRET] == CANARY
    assert all(p.body["properties"]["configuration"]["secrets"] == [{"name": KEY_SECRET, "value": CANARY}]
               for p in app_puts(fake)[-2:])  # the key went to Azure on the wire, and only there
    assert api.invoke(APP, {"input_data": EXAMPLE}, ctx).status_code == 200
    (rev,) = aca.traffic(APP)
    aca.logs[rev.lower()] = ["starting", f"DEBUG key={CANARY}", "READY"]
    logs = api.logs(APP, ctx)
    status = api.status(APP, ctx)
    # a broken model server that echoes the key back in its error
    aca.scorer = lambda app, r, payload: (500, {"error": f"bad input; headers: Bearer {CANARY}"})
    plan3 = api.plan(make_spec(model_dir, image=IMAGE_V3), ctx)
    with pytest.raises(RemoteError) as err:
        api.apply(plan3, ctx)
    aca.scorer = None
    destroyed = api.destroy(APP, ctx)
    out, errout = capsys.readouterr()
    haystacks = {
        "stdout": out, "stderr": errout, "log file": debug_log.read_text(errors="replace"),
        "events": json.dumps([e.to_dict() for e in events.events], default=str),
        "plans": plan1.to_json() + plan2.to_json() + plan3.to_json(),
        "results": result2.model_dump_json() + status.model_dump_json() + destroyed.model_dump_json(),
        "error": f"{err.value.one_line()} {err.value.hint} {err.value!r}", "logs": logs,
    }
    for p in api.export(plan2, tmp_path / "export"):
        haystacks[f"export {p.name}"] = p.read_text(errors="replace")
    for p, text in file_texts(ctx.state_dir).items():
        haystacks[f"state {p.name}"] = text
    assert any(name.startswith("state ") and ".db" in name for name in haystacks)
    assert "READY" in logs and "***" in logs
    # LRO continuation tokens in the ledger are base64 (of JSON holding the base64 response): look inside too
    for name, text in list(haystacks.items()):
        haystacks[f"{name} (base64 decoded)"] = _unbase64(_unbase64(text))
    assert any("deserialized_data" in t for n, t in haystacks.items() if n.startswith("state") and "decoded" in n)
    for what, secret in {"canary key": CANARY, "first key": first_key}.items():
        for where, text in haystacks.items():
            assert secret not in text, f"{what} leaked into {where}"


def _unbase64(text: str) -> str:
    import base64
    import binascii
    import re

    out = []
    for chunk in re.findall(r"[A-Za-z0-9+/_-]{24,}={0,2}", text):
        try:
            out.append(base64.b64decode(chunk + "=" * (-len(chunk) % 4), altchars=b"-_" if "-" in chunk or "_" in chunk
                                        else None).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return text + "\n" + "\n".join(out)


def test_killed_mid_rollout_resumes_from_the_ledger(ctx, fake, aca, model_dir):
    api.apply(api.plan(make_spec(model_dir), ctx), ctx)
    (old,) = aca.traffic(APP)
    plan = api.plan(make_spec(model_dir, image=IMAGE_V2), ctx)
    n = len(fake.requests)

    def kill_while_azure_creates_the_revision(event):
        ctx.events(event)
        if event.kind == "progress" and event.message == f"waiting for container app {APP}":
            ctx.cancel.set()
    fake.default_polls = 10**9  # Azure is still creating the revision when the process dies
    with pytest.raises(DeployError) as err:
        api.apply(plan, DeployContext(**{**ctx.__dict__, "events": kill_while_azure_creates_the_revision}))
    assert err.value.category == "interrupted"
    fake.default_polls = 1
    fake.finish_all()  # meanwhile Azure finished it
    assert len(app_puts(fake, n)) == 1 and aca.traffic(APP) == {old: 100}  # accepted by Azure, not finished
    ctx.cancel.clear()
    result = api.apply(plan, ctx)  # the same plan: the ledger hands over the continuation token
    assert result.status == "succeeded"
    puts = app_puts(fake, n)
    pinned = [p for p in puts if p.body["properties"]["configuration"]["ingress"]["traffic"]
              == [{"revisionName": old, "weight": 100}]]
    assert len(pinned) == 1  # the revision PUT was not sent again: its operation was polled to the end
    v2 = [r["name"] for r in aca.revisions(APP) if r["properties"]["template"]["containers"][0]["image"] == IMAGE_V2]
    assert len(v2) == 1 and aca.traffic(APP) == {v2[0]: 100}


def test_image_built_in_the_registry_the_shared_rule_chooses(ctx, fake, aca, acr, model_dir):
    from deployers import images

    spec = make_spec(model_dir, image=None, registry=None)  # no registry given, none tagged as ours: create one
    plan = api.plan(spec, ctx)
    name = images.default_registry_name(ctx.subscription_id, "rg")
    assert plan.settings["registry"] == name and plan.settings["registry_how"] == "new"
    assert plan.settings["image"].startswith(f"{name}.azurecr.io/deploy-advisor/{APP}:c")
    assert [a.resource_type for a in plan.actions][:2] == ["Microsoft.ContainerRegistry/registries",
                                                           "Microsoft.App/managedEnvironments"]
    assert any(a.resource_type == "image" for a in plan.actions)
    result = api.apply(plan, ctx)
    assert result.status == "succeeded" and len(acr.uploads) == 1
    app = aca.app(APP)
    assert app["properties"]["template"]["containers"][0]["image"] == plan.settings["image"]
    assert app["properties"]["configuration"]["registries"] == [{"server": f"{name}.azurecr.io", "identity": "system"}]
    # the same model again: same tag, nothing rebuilt, nothing redeployed
    again = api.plan(spec, ctx)
    assert again.settings["image"] == plan.settings["image"] and not again.has_changes
    assert api.apply(again, ctx).status == "no-change" and len(acr.uploads) == 1
    out = api.destroy(APP, ctx)
    assert f"registry {name}" in out.deleted  # we created it and nothing else uses it


def test_first_deploy_killed_while_the_bootstrap_revision_is_created_resumes(ctx, fake, aca, model_dir):
    plan = api.plan(make_spec(model_dir), ctx)

    def kill_during_the_bootstrap(event):
        ctx.events(event)
        if event.kind == "step" and event.message.startswith(f"create container app {APP}"):
            fake.default_polls = 10**9  # Azure is still creating it when the process dies
        if event.kind == "progress" and event.message == f"waiting for container app {APP} (bootstrap)":
            ctx.cancel.set()
    with pytest.raises(DeployError) as err:
        api.apply(plan, DeployContext(**{**ctx.__dict__, "events": kill_during_the_bootstrap}))
    assert err.value.category == "interrupted"
    fake.default_polls = 1
    fake.finish_all()
    ctx.cancel.clear()
    result = api.apply(plan, ctx)
    assert result.status == "succeeded"
    boots = [p for p in app_puts(fake) if p.body["properties"]["template"].get("revisionSuffix") == "bootstrap"]
    assert len(boots) == 1  # followed to its end, not sent again
    assert [r["name"] for r in aca.revisions(APP)][0] == f"{APP}--bootstrap"
    assert aca.active(APP) == [result.outputs["revision"]] and aca.traffic(APP) == {result.outputs["revision"]: 100}
    assert fake.calls("PUT", r"/roleAssignments/")  # the identity got AcrPull on the resumed run
