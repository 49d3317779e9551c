"""`plan|apply|status|destroy -f FILE|DIR`: machine-readable output, --parallel, worst exit code,
--yes outside a terminal, --detailed-exitcode, and the flags/env that reach the deploy context."""
from __future__ import annotations

import json

from tests.conftest import cli

from .conftest import json_lines, write_spec


def _overlap(intervals: list[tuple[float, float]]) -> int:
    """Most intervals open at one instant."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda p: (p[0], p[1]))
    most = cur = 0
    for _, d in points:
        cur += d
        most = max(most, cur)
    return most


def test_plan_folder_json_document_and_detailed_exitcode(tmp_path, fleet_env):
    for n in ("alpha", "bravo", "charlie"):
        write_spec(tmp_path, n)
    out = cli("plan", "-f", str(tmp_path), "--parallel", "2", "--detailed-exitcode", "--output", "json", env=fleet_env)
    assert out.returncode == 3, out.stderr
    doc = json.loads(out.stdout)  # the whole of stdout is one JSON document
    assert doc["command"] == "plan" and doc["specs"] == 3 and doc["parallel"] == 2 and doc["exit_code"] == 3
    assert [(i["name"], i["status"], i["changes"]) for i in doc["items"]] == [
        ("alpha", "changes", True), ("bravo", "changes", True), ("charlie", "changes", True)]
    assert doc["items"][0]["plan"]["actions"][0]["kind"] == "create"
    assert doc["items"][0]["plan"]["artifact_files"] == ["message.txt"]
    json_lines(out.stderr)
    # without --detailed-exitcode a plan with changes is a success
    assert cli("plan", "-f", str(tmp_path), env=fleet_env).returncode == 0


def test_apply_folder_in_parallel_reports_each_spec_and_exits_with_the_worst(tmp_path, fleet_env):
    from deployers import api

    for n in ("ok-one", "ok-two", "ok-three"):
        write_spec(tmp_path, n, settings={"delay_s": 0.3})
    write_spec(tmp_path, "broken", settings={"fail": True})
    out = cli("apply", "-f", str(tmp_path), "--parallel", "2", "--yes", "--output", "json", env=fleet_env)
    assert out.returncode == 1, out.stderr  # failed (1) is worse than ok (0)
    doc = json.loads(out.stdout)
    items = {i["name"]: i for i in doc["items"]}
    assert doc["exit_code"] == 1 and doc["counts"] == {"succeeded": 3, "failed": 1}
    assert items["broken"]["status"] == "failed" and "refused the write" in items["broken"]["error"]
    assert items["broken"]["hint"] == "set fail: false"
    for n in ("ok-one", "ok-two", "ok-three"):
        assert items[n]["status"] == "succeeded" and items[n]["result"]["endpoint_url"].startswith("file://")
    events = json_lines(out.stderr)  # every progress line is one JSON object
    done = {e["deployment"] for e in events if e["kind"] == "done"}
    assert done == {"ok-one", "ok-two", "ok-three"}
    assert any(e["kind"] == "error" and e["deployment"] == "broken" for e in events)
    # --parallel 2 means two at a time: never more, and really two (the ledger's run times say so)
    runs = [r for n in items for r in api.runs(n)]
    assert len(runs) == 4 and _overlap([(r["started_at"], r["ended_at"]) for r in runs]) == 2

    # the next plan: only the failed one still has changes
    plan = cli("plan", "-f", str(tmp_path), "--detailed-exitcode", "--output", "json", env=fleet_env)
    assert plan.returncode == 3
    assert {i["name"]: i["changes"] for i in json.loads(plan.stdout)["items"]} == {
        "ok-one": False, "ok-two": False, "ok-three": False, "broken": True}
    (tmp_path / "broken.yaml").unlink()
    assert cli("plan", "-f", str(tmp_path), "--detailed-exitcode", env=fleet_env).returncode == 0
    again = cli("apply", "-f", str(tmp_path), "--yes", "--output", "json", env=fleet_env)
    assert again.returncode == 0 and json.loads(again.stdout)["counts"] == {"no-change": 3}


def test_bad_input_in_one_spec_is_worse_than_changes_but_not_than_failure(tmp_path, fleet_env):
    write_spec(tmp_path, "fine")
    write_spec(tmp_path, "no-model", model="/does-not-exist/model", target="local")
    out = cli("plan", "-f", str(tmp_path), "--detailed-exitcode", "--output", "json", env=fleet_env)
    doc = json.loads(out.stdout)
    items = {i["name"]: i for i in doc["items"]}
    assert items["fine"]["exit_code"] == 3 and items["no-model"]["exit_code"] == 2
    assert items["no-model"]["status"] == "bad-input" and "does-not-exist" in items["no-model"]["error"]
    assert out.returncode == 2 == doc["exit_code"]


def test_apply_needs_yes_without_a_terminal_unless_a_saved_plan_is_given(tmp_path, fleet_env, isolated_home):
    spec = write_spec(tmp_path, "needs-yes")
    out = cli("apply", "-f", str(spec), env=fleet_env)  # stdin is not a terminal
    assert out.returncode == 2 and "without a terminal: pass --yes" in out.stderr
    assert not (isolated_home / "filestore").exists()
    saved = tmp_path / "plan.json"
    assert cli("plan", "-f", str(spec), "-o", str(saved), env=fleet_env).returncode == 0
    assert cli("apply", str(saved), env=fleet_env).returncode == 0  # a saved plan is the confirmation
    out = cli("destroy", "-f", str(spec), env=fleet_env)
    assert out.returncode == 2 and "pass --yes" in out.stderr
    assert (isolated_home / "filestore" / "needs-yes.json").exists()


def test_single_spec_file_answers_like_the_one_deployment_commands(tmp_path, fleet_env):
    spec = write_spec(tmp_path, "single", settings={"message": "hi"})
    plan = cli("plan", "-f", str(spec), "--output", "json", env=fleet_env)
    assert plan.returncode == 0 and json.loads(plan.stdout)["plan_id"]
    first = cli("apply", "-f", str(spec), "--yes", "--output", "json", env=fleet_env)
    assert first.returncode == 0 and json.loads(first.stdout)["status"] == "succeeded"
    second = cli("apply", "-f", str(spec), "--yes", "--output", "json", env=fleet_env)
    assert json.loads(second.stdout)["status"] == "no-change"
    status = cli("status", "-f", str(spec), "--output", "json", env=fleet_env)
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "running"
    text = cli("status", "-f", str(spec), env=fleet_env)
    assert text.stdout.startswith("single: running (filestore)")
    gone = cli("destroy", "-f", str(spec), "--yes", "--output", "json", env=fleet_env)
    assert gone.returncode == 0 and json.loads(gone.stdout)["deleted"] == ["single"]
    assert cli("status", "-f", str(spec), env=fleet_env).returncode == 1  # not found


def test_usage_errors_are_one_line_exit_2(tmp_path, fleet_env):
    spec = write_spec(tmp_path, "x-spec")
    for args, needle in ((("plan",), "give --target and --model, or -f"),
                         (("apply",), "give a saved plan"),
                         (("apply", "p.json", "-f", str(spec)), "not both"),
                         (("status",), "give a deployment NAME or -f"),
                         (("destroy", "x", "-f", str(spec)), "not both"),
                         (("plan", "-f", str(spec), "--parallel", "0"), "must be between 1 and 64"),
                         (("status", "-f", str(spec), "--resource-group", "rg;rm -rf"), "--resource-group")):
        out = cli(*args, env=fleet_env)
        assert out.returncode == 2, (args, out.stderr)
        assert needle in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)


def test_credential_and_scope_flags_reach_the_deploy_context(tmp_path):
    """--credential picks the azure-identity credential kind; --resource-group beats the environment.

    No network: without the credential's variables nothing is signed in, so the plan says exactly
    what is missing for *that* credential kind, and apply stops before touching anything.
    """
    spec = tmp_path / "aml.yaml"
    spec.write_text("name: churn-aml\ntarget: azureml\nmodel: azureml:churn:3\n")
    env = {"AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000", "AZUREML_WORKSPACE_NAME": "mlw-ci",
           "AZURE_CONFIG_DIR": str(tmp_path / "no-az-cli")}

    def failed_checks(*flags):
        out = cli("plan", "-f", str(spec), "--output", "json", *flags, env=env)
        assert out.returncode == 0, out.stderr
        return {f["check"]: f["hint"] for f in json.loads(out.stdout)["findings"] if f["level"] == "fail"}

    plain = failed_checks("--credential", "environment")
    assert "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET" in plain["credentials"]
    assert "workspace-config" in plain  # no resource group anywhere yet
    flagged = failed_checks("--credential", "workload-identity", "--resource-group", "rg-ci")
    assert "set AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID and AZURE_TENANT_ID" in flagged["credentials"]
    assert "workspace-config" not in flagged  # the flag filled the resource group
    out = cli("apply", "-f", str(spec), "--yes", "--credential", "environment", "--resource-group", "rg-ci", env=env)
    assert out.returncode == 1 and "cannot apply to azureml: set AZURE_CLIENT_ID" in out.stderr


def test_credential_flag_is_the_context_credential_kind():
    from deployers import cli as dcli

    args = dcli.build_parser().parse_args(["status", "x", "--credential", "managed-identity",
                                           "--subscription", "sub-1", "--location", "westeurope"])
    ctx = dcli._ctx(args)
    assert ctx.credential_kind == "managed-identity" and ctx.subscription_id == "sub-1"
    assert ctx.location == "westeurope" and ctx.cancel is dcli.CANCEL
