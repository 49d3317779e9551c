"""`deploy-advisor deploy --target containerapps ... --yes` in-process, signed in (the fake's credential and
transport are what the CLI's context gets), with the scope variables from the environment; then status,
invoke and destroy by name, and a bad setting as one line with exit 2."""
from __future__ import annotations

import json

import pytest

from deployers import api, cli
from tests.containerapps.conftest import APP, EXAMPLE, IMAGE_V1
from tests.fakes.azure import SUBSCRIPTION, FakeCredential, client_kwargs


@pytest.fixture
def signed_in(fake, aca, acr, monkeypatch):
    """The scope variables a user sets; the CLI's contexts carry the fake's credential and transport."""
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("AZURE_RESOURCE_GROUP", "rg")
    real = api.context
    monkeypatch.setattr(api, "context", lambda **kw: real(**kw, credential=FakeCredential(),
                                                           client_kwargs=client_kwargs(fake)))
    return fake


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_status_invoke_destroy_from_the_cli(signed_in, aca, model_dir, tmp_path, capsys):
    code, out, err = run(capsys, "deploy", "--target", "containerapps", "--model", str(model_dir), "--name", APP,
                         "--set", f"image={IMAGE_V1}", "--yes", "--output", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "succeeded" and result["endpoint_url"].endswith(".azurecontainerapps.io/score")
    assert aca.traffic(APP) == {result["outputs"]["revision"]: 100}
    code, out, _ = run(capsys, "status", APP, "--output", "json")
    assert code == 0 and json.loads(out)["state"] == "running"
    (tmp_path / "input.json").write_text(json.dumps({"input_data": EXAMPLE}))
    code, out, _ = run(capsys, "invoke", APP, "--data", f"@{tmp_path / 'input.json'}", "--output", "json")
    assert code == 0 and json.loads(out)["status_code"] == 200
    code, out, _ = run(capsys, "destroy", APP, "--yes", "--output", "json")
    assert code == 0 and aca.app(APP) is None


def test_what_cannot_work_is_one_line_and_a_nonzero_exit(signed_in, fake, model_dir, capsys):
    bad_pair = ("--target", "containerapps", "--model", str(model_dir), "--name", APP, "--set", f"image={IMAGE_V1}",
                "--set", "cpu=1.5", "--set", "memory_gib=2")
    code, out, err = run(capsys, "preflight", *bad_pair)
    assert code == 1 and "not an allowed Consumption pair" in out + err and "1.5/3Gi" in out + err
    code, out, err = run(capsys, "deploy", *bad_pair, "--yes")
    assert code == 2 and "Consumption pair" in err and "Traceback" not in err
    code, out, err = run(capsys, "deploy", "--target", "containerapps", "--model", str(model_dir), "--name", APP,
                         "--set", "app_name=Bad_Name", "--yes")
    assert code == 2 and "app_name" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not fake.writes()  # nothing was created
