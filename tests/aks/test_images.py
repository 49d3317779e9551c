"""Image build context and ACR Tasks through the real azure-mgmt-containerregistry / azure-containerregistry /
azure-storage-blob clients against the Azure fake; AcrPull through azure-mgmt-authorization."""
from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from deployers import images
from deployers.errors import AuthError, InputError, RemoteError
from deployers.model_resolution import local_model_dir, resolve

REPO = "deploy-advisor/fraud-model"


@pytest.fixture
def files(tiny_model, isolated_home):
    info = resolve(str(tiny_model), isolated_home)
    return images.render_build_context(info, local_model_dir(info), workers=3)


def test_build_context_has_dockerfile_app_server_and_pinned_requirements(files):
    docker = files["Dockerfile"]
    assert docker.startswith("# Scoring image") and f"FROM {images.BASE_IMAGE}\n" in docker
    assert images.IMAGE_RE.match(images.BASE_IMAGE) and "@sha256:" in images.BASE_IMAGE  # pinned by digest
    assert "pip install --no-compile --no-deps -r /tmp/requirements.txt && pip check" in docker
    assert "USER 10001:10001" in docker and "DEPLOY_ADVISOR_WORKERS=3" in docker
    assert ('CMD ["python", "-m", "deployers.serving", "--app-dir", "/app", "--host", "0.0.0.0", "--allow-public", '
            '"--port", "8080", "--key-file", "/var/run/secrets/scoring/key"]') in docker
    assert {"app/score.py", "app/serving.json", "app/model/MLmodel", "deployers/__init__.py",
            "deployers/serving/__main__.py", ".dockerignore"} <= set(files)
    assert not any(k.startswith(("deployers/aks", "deployers/api", "advisor/")) for k in files)  # only the server
    reqs = files["requirements.txt"].splitlines()
    # the model's pins (`mlflow==X` is met by mlflow-skinny X: loading needs no tracking server)
    assert "scikit-learn==1.9.1" in reqs and any(r.startswith("mlflow-skinny==") for r in reqs)
    assert not any(r.startswith(("mlflow==", "flask==", "matplotlib==")) for r in reqs)
    names = {r.split("==")[0].lower() for r in reqs}
    assert {"scipy", "threadpoolctl", "joblib", "h11", "click"} <= names  # indirect dependencies: a full lock
    assert any(r.startswith("uvicorn==") for r in reqs)  # the server's imports, pinned to what was tested
    assert all("==" in r for r in reqs)


def test_content_tag_is_stable_and_follows_the_model(files):
    tag = images.content_tag(files)
    assert tag == images.content_tag(dict(reversed(list(files.items()))))
    assert images.build_context_tarball(files) == images.build_context_tarball(files)  # reproducible
    changed = dict(files, **{"app/model/model.pkl": bytes(files["app/model/model.pkl"]) + b"\0"})
    assert images.content_tag(changed) != tag
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(images.build_context_tarball(files)))) as tar:
        assert sorted(tar.getnames()) == sorted(files)


@pytest.mark.parametrize("line", ["--index-url https://evil.example/simple", "pkg @ https://evil.example/p.whl",
                                  "-e git+https://x", "not a requirement !!"])
def test_model_requirements_cannot_smuggle_pip_options(line):
    with pytest.raises(InputError):
        images.merge_requirements([line], [])


def test_ensure_image_builds_once_then_reuses_the_tag(azure, ctx, files, events):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    ref = images.ensure_image(ctx, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    tag = images.content_tag(files)
    assert ref == f"myregistry.azurecr.io/{REPO}:{tag}"
    assert len(fake.calls("POST", r"/scheduleRun$")) == 1
    run = acr.uploads[0]
    assert run["request"]["imageNames"] == [f"{REPO}:{tag}"] and run["request"]["isPushEnabled"] is True
    assert run["request"]["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert run["files"]["Dockerfile"] == files["Dockerfile"].encode()  # the uploaded tar.gz is the context
    # the ACR Tasks client must speak 2019-06-01-preview (azure-mgmt-containerregistry 14 version trap)
    assert {r.query.get("api-version") for r in fake.calls(None, r"/(scheduleRun|listBuildSourceUploadUrl|runs/)")} \
        == {"2019-06-01-preview"}
    # the tag lookup went through the real ACR token exchange
    assert fake.calls("POST", r"^/oauth2/exchange$") and fake.calls("POST", r"^/oauth2/token$")
    ctx.checkpoints = {}  # a later apply: nothing to resume
    again = images.ensure_image(ctx, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    assert again == ref and len(fake.calls("POST", r"/scheduleRun$")) == 1
    assert any("not rebuilding" in e.message for e in events.events)


def test_throttled_schedule_run_is_retried_with_the_servers_delay(azure, ctx, files):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    fake.inject("POST", r"/scheduleRun$", status=429, retry_after=7, times=1)
    fake.inject("GET", r"/runs/ca1$", status=503, retry_after=None, times=1)
    ref = images.ensure_image(ctx, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    assert ref.endswith(images.content_tag(files))
    assert 7.0 in fake.sleeps  # Retry-After honoured (recorded, not slept)
    assert [r.status for r in fake.calls("POST", r"/scheduleRun$")] == [429, 200]


def test_failed_build_reports_image_build_failure_with_the_log_tail(azure, ctx, files, events):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    acr.fail_next_build("ERROR: No matching distribution found for torch==0.0.1")
    with pytest.raises(RemoteError) as err:
        images.ensure_image(ctx, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    assert err.value.code == "ImageBuildFailure"
    assert "ended Failed" in err.value.message and "az acr task logs -r myregistry --run-id ca1" in err.value.hint
    logs = [e.message for e in events.events if e.kind == "error"]
    assert any("No matching distribution" in m for m in logs)
    assert not any("FAKELOGSIG" in e.message for e in events.events)  # the SAS signature is never shown


def test_resumed_build_polls_the_recorded_run_instead_of_rebuilding(azure, ctx, files):
    fake, acr, _ = azure
    acr.add_registry("rg", "myregistry")
    recorded = {}
    ctx.on_checkpoint = recorded.__setitem__
    fake.timeout("GET", r"/runs/ca1$", kind="request", times=None)  # the network drops while the build runs
    with pytest.raises(RemoteError) as err:
        images.ensure_image(ctx, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    assert err.value.category == "network"
    tag = images.content_tag(files)
    assert recorded == {f"image.run.{tag}": "ca1"}
    fake.clear_faults()
    writes = len(fake.writes())
    resumed = type(ctx)(**{**ctx.__dict__, "checkpoints": dict(recorded)})
    ref = images.ensure_image(resumed, registry_rg="rg", registry_name="myregistry", repository=REPO, files=files)
    assert ref.endswith(tag)
    assert len(fake.calls("POST", r"/scheduleRun$")) == 1 and len(fake.writes()) == writes  # no new upload or run


def test_missing_registry_says_how_to_create_it(azure, ctx, files):
    with pytest.raises(InputError) as err:
        images.ensure_image(ctx, registry_rg="rg", registry_name="nosuchreg", repository=REPO, files=files)
    assert "az acr create -n nosuchreg -g rg --sku Basic" in err.value.hint


def test_acr_pull_is_assigned_once_with_a_deterministic_name(azure, ctx):
    fake, acr, _ = azure
    reg = acr.add_registry("rg", "myregistry")
    principal = "11111111-2222-3333-4444-555555555555"
    assert images.can_assign_roles(ctx, reg["id"])
    assert images.ensure_acr_pull(ctx, registry_id=reg["id"], principal_id=principal) is True
    assert images.ensure_acr_pull(ctx, registry_id=reg["id"], principal_id=principal) is False
    puts = fake.calls("PUT", r"/roleAssignments/")
    assert len(puts) == 1
    assert puts[0].path.endswith(images.acr_pull_assignment_name(reg["id"], principal))
    body = puts[0].body["properties"]
    assert body["roleDefinitionId"].endswith(images.ACR_PULL_ROLE_ID) and body["principalId"] == principal
    assert images.delete_acr_pull(ctx, registry_id=reg["id"], principal_id=principal) is True
    assert images.acr_pull_assignment(ctx, registry_id=reg["id"], principal_id=principal) is None


def test_acr_pull_without_permission_gives_the_exact_fix(azure, ctx):
    fake, acr, _ = azure
    reg = acr.add_registry("rg", "myregistry")
    acr.permissions = ["Microsoft.ContainerRegistry/*/read"]
    assert images.can_assign_roles(ctx, reg["id"]) is False
    with pytest.raises(AuthError) as err:
        images.ensure_acr_pull(ctx, registry_id=reg["id"], principal_id="abc")
    assert err.value.hint.endswith(
        f"az role assignment create --assignee-object-id abc --assignee-principal-type ServicePrincipal "
        f"--role AcrPull --scope {reg['id']}")


def test_the_build_context_alone_runs_the_scoring_server(files, tmp_path):
    """What the image holds is enough: run `python -m deployers.serving` from the exported context only
    (PYTHONPATH = the context, as in the Dockerfile), the way the container's CMD does, on 127.0.0.1."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    root = tmp_path / "ctx"
    images.export_build_context(files, root)
    key = tmp_path / "key"
    key.write_text("test-key-0123456789abcdef")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(PYTHONPATH=str(root), DEPLOY_ADVISOR_WORKERS="1")
    proc = subprocess.Popen([sys.executable, "-m", "deployers.serving", "--app-dir", str(root / "app"),
                             "--host", "127.0.0.1", "--port", str(port), "--key-file", str(key)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        body = json.loads((root / "app" / "serving.json").read_text())["input_example"]
        r = httpx.post(f"http://127.0.0.1:{port}/score", json=body, timeout=10,
                       headers={"Authorization": "Bearer test-key-0123456789abcdef"})
        assert r.status_code == 200, r.text
        assert httpx.post(f"http://127.0.0.1:{port}/score", json=body, timeout=10).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_full_lock_pins_the_whole_closure_or_refuses():
    from importlib import metadata

    lock = images.full_lock(["uvicorn"])
    assert f"uvicorn=={metadata.version('uvicorn')}" in lock and any(r.startswith("h11==") for r in lock)
    assert images.full_lock(["not-installed-here==1.0"]) == ["not-installed-here==1.0"]  # a model's own exact pin
    with pytest.raises(InputError, match="this environment has"):
        images.full_lock(["uvicorn<0.1"])  # an installed release that does not match cannot be locked honestly
