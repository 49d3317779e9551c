"""`--set schedule="0 2 * * *"`: an Azure ML schedule whose pipeline step invokes the batch endpoint with the
compute cluster's managed identity. Through the real azure-ai-ml SDK against FakeAzure: create, no-op re-apply,
a cron change updates, destroy twice (disable, then delete), a bad cron in one line, the export loads with
load_schedule, the step's own code submits a job, and no secret in any of it."""
from __future__ import annotations

import importlib.util
import json
import re
import uuid

import pytest

from deployers import api, cli
from deployers.errors import InputError
from tests.fakes.azure import FAKE_TOKEN

from .conftest import NAME, arm_writes, make_spec

EP = NAME
SCHEDULE = f"{EP}-schedule"
COMPUTE = "nightly-scor-cpu"
INPUT = "azureml://datastores/workspaceblobstore/paths/incoming/"
NIGHTLY = {"schedule": "0 2 * * *", "schedule_input": INPUT}
DATA_SCIENTIST = "f6c7c914-8db3-469d-8ca1-694a8f32e121"
# applying a schedule uploads the step's code to the workspace datastore (the Blob Storage fake behind a proxy)
pytestmark = pytest.mark.usefixtures("blob_proxy")


def _short(path: str) -> str:
    """An ARM path after the workspace, generated names replaced (R: role assignment, C: code, V: version)."""
    path = re.sub(r"^.*/providers/Microsoft\.Authorization/roleAssignments/[^/]+$", "roleAssignments/R", path)
    path = re.sub(r"^.*?/workspaces/[^/]+/", "", path)
    return re.sub(r"/versions/[^/]+", "/versions/V", re.sub(r"^codes/[^/]+", "codes/C", path))


def kinds(plan) -> list[tuple[str, str, str]]:
    return [(a.kind, a.resource_type, a.resource) for a in plan.actions]


def test_a_schedule_is_created_after_the_endpoint_with_the_clusters_identity_and_a_role_on_the_workspace(
        fake, batch, aml, ctx):
    plan = api.plan(make_spec(**NIGHTLY), ctx)
    assert ("create", "schedule", SCHEDULE) in kinds(plan)
    assert not [f for f in plan.findings if f.level == "fail"]
    api.apply(plan, ctx)

    # the request sequence of creating a schedule (after the deploy's own writes)
    writes = [(r.method, _short(r.path)) for r in fake.requests
              if r.host == "management.azure.com" and r.method in ("PUT", "POST", "DELETE") and not r.fault]
    assert writes == [
        ("PUT", f"computes/{COMPUTE}"), ("PUT", f"batchEndpoints/{EP}"), ("PUT", f"batchEndpoints/{EP}/deployments/blue"),
        ("PUT", f"batchEndpoints/{EP}"),                                   # the deploy; then the schedule:
        ("PUT", "roleAssignments/R"),                                      # AzureML Data Scientist, workspace scope
        ("PUT", "environments/CliV2AnonymousEnvironment/versions/V"),      # the step's environment
        ("POST", "codes/C/versions/V/startPendingUpload"), ("PUT", "codes/C/versions/V"),  # the step's code
        ("PUT", "components/azureml_anonymous/versions/V"),                # the step's component
        ("PUT", f"schedules/{SCHEDULE}")]
    # the cluster has a system-assigned identity, which holds AzureML Data Scientist on the workspace
    compute = fake.get(batch.compute_id(COMPUTE))
    assert compute["identity"]["type"].lower() == "systemassigned"
    principal = compute["identity"]["principalId"]
    [ra] = batch.role_assignments()
    assert ra["properties"]["principalId"] == principal and ra["properties"]["scope"] == aml.ws_id
    assert ra["properties"]["roleDefinitionId"].endswith(DATA_SCIENTIST)
    assert ra["name"] == str(uuid.uuid5(uuid.NAMESPACE_URL, f"{aml.ws_id.lower()}|{principal}|{DATA_SCIENTIST}"))

    body = fake.calls("PUT", rf"/schedules/{SCHEDULE}$")[-1].body["properties"]
    assert body["trigger"]["triggerType"] == "Cron" and body["trigger"]["expression"] == "0 2 * * *"
    assert body["trigger"]["timeZone"] == "UTC" and body.get("isEnabled", True) is True
    assert body["tags"]["managed-by"] == "deploy-advisor" and body["tags"]["deploy-advisor-deployment"] == NAME
    job = body["action"]["jobDefinition"]
    assert body["action"]["actionType"] == "CreateJob" and job["jobType"] == "Pipeline"
    [step] = job["jobs"].values()
    assert step["type"] == "command" and step["identity"] == {"identity_type": "Managed"}
    assert str(step["computeId"]).endswith(f"/computes/{COMPUTE}")
    assert batch.schedule(SCHEDULE)["properties"]["provisioningState"] == "Succeeded"

    status = api.status(NAME, ctx)
    assert status.details["schedule"] == {"name": SCHEDULE, "cron": "0 2 * * *", "time_zone": "UTC",
                                          "enabled": True, "ours": True}
    assert status.message.endswith(f"; schedule {SCHEDULE} '0 2 * * *' (UTC)")


def test_reapplying_the_same_schedule_changes_nothing(fake, batch, ctx):
    api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    writes = len(arm_writes(fake))
    plan = api.plan(make_spec(**NIGHTLY), ctx)
    assert ("no-op", "schedule", SCHEDULE) in kinds(plan) and not plan.has_changes
    assert api.apply(plan, ctx).status == "no-change"
    assert len(arm_writes(fake)) == writes


def test_a_new_cron_and_time_zone_update_the_schedule_in_place(fake, batch, ctx):
    api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    roles = len(fake.calls("PUT", r"/roleAssignments/"))
    plan = api.plan(make_spec(schedule="30 4 * * 1-5", schedule_input=INPUT,
                              schedule_time_zone="W. Europe Standard Time"), ctx)
    [action] = [a for a in plan.actions if a.resource_type == "schedule"]
    assert action.kind == "update" and action.changes == {"cron": ["0 2 * * *", "30 4 * * 1-5"],
                                                          "time_zone": ["UTC", "W. Europe Standard Time"]}
    assert [a.kind for a in plan.actions if a.resource_type != "schedule"] == ["no-op"] * 4
    api.apply(plan, ctx)
    trigger = batch.schedule(SCHEDULE)["properties"]["trigger"]
    assert (trigger["expression"], trigger["timeZone"]) == ("30 4 * * 1-5", "W. Europe Standard Time")
    assert len(fake.calls("PUT", r"/roleAssignments/")) == roles  # the role is already there
    assert len(fake.ids(r"/schedules/[^/]+$")) == 1


def test_dropping_the_schedule_setting_disables_then_deletes_it(fake, batch, ctx):
    api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    plan = api.plan(make_spec(), ctx)
    assert ("delete", "schedule", SCHEDULE) in kinds(plan)
    api.apply(plan, ctx)
    assert batch.schedule(SCHEDULE) is None and batch.role_assignments() == []
    sched_calls = [(r.method, r.body.get("properties", {}).get("isEnabled") if isinstance(r.body, dict) else None)
                   for r in fake.calls(None, rf"/schedules/{SCHEDULE}$") if r.method in ("PUT", "DELETE")]
    assert sched_calls[-2:] == [("PUT", False), ("DELETE", None)]


def test_destroy_disables_and_deletes_the_schedule_and_its_role_then_is_a_no_op(fake, batch, ctx):
    api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    first = api.destroy(NAME, ctx)
    assert f"schedule/{SCHEDULE}" in first.deleted and any(d.startswith("roleAssignment/") for d in first.deleted)
    assert batch.schedule(SCHEDULE) is None and batch.role_assignments() == [] and batch.endpoint(EP) is None
    deletes = [r for r in fake.calls("DELETE", r"") if r.host == "management.azure.com" and not r.fault]
    assert deletes[0].path.endswith(f"/schedules/{SCHEDULE}")  # before the endpoint it invokes
    second = api.destroy(NAME, ctx)
    assert second.already_absent and second.deleted == []


def test_a_schedule_we_did_not_create_is_never_touched(fake, batch, ctx):
    batch.seed_schedule(SCHEDULE, tags={"owner": "data-team"})
    plan = api.plan(make_spec(**NIGHTLY), ctx)
    [finding] = [f for f in plan.findings if f.check == "schedule"]
    assert finding.level == "fail" and "not created by deploy-advisor" in finding.message
    assert ("no-op", "schedule", SCHEDULE) in kinds(plan)
    api.apply(api.plan(make_spec(), ctx), ctx)  # without a schedule: still no delete of theirs
    api.destroy(NAME, ctx)
    assert batch.schedule(SCHEDULE)["properties"]["tags"] == {"owner": "data-team"}
    assert not fake.calls("PUT|DELETE", rf"/schedules/{SCHEDULE}$")


@pytest.mark.parametrize("cron, says", [
    ("0 2 * *", "has 4 field(s)"), ("0 2 1 * *", "ignores the days field"), ("61 2 * * *", "outside minutes 0-59"),
    ("0 2 * * mon-fry", "outside days of week"), ("0 */0 * * *", "not a valid hours value")])
def test_a_bad_cron_is_refused_in_one_line(fake, batch, ctx, cron, says):
    with pytest.raises(ValueError) as err:
        api.plan(make_spec(schedule=cron, schedule_input=INPUT), ctx)
    assert says in str(err.value)
    assert not fake.calls("PUT", r"/schedules/")


def test_the_cli_refuses_a_bad_cron_with_exit_2_and_one_line(batch, ctx, monkeypatch, capsys, tmp_path):
    from dataclasses import replace

    monkeypatch.setattr(api, "context", lambda **kw: replace(ctx, deployment="", run_id=""))
    monkeypatch.chdir(tmp_path)
    code = cli.main(["plan", "--target", "azureml-batch", "--model", "azureml:propensity:1", "--name", NAME,
                     "--set", "workspace=mlw-test", "--set", "schedule=0 2 * *", "--set", f"schedule_input={INPUT}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "has 4 field(s)" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 2  # the error, and at most its hint


def test_settings_refuse_a_schedule_without_an_azure_input_and_an_unknown_time_zone():
    from deployers.azureml_batch import AzureMLBatchSettings

    for bad, says in [({"schedule": "0 2 * * *"}, "needs schedule_input"),
                      ({"schedule": "0 2 * * *", "schedule_input": "./data"}, "not a local path"),
                      ({"schedule": "0 2 * * *", "schedule_input": INPUT, "schedule_time_zone": "Mars/Olympus"},
                       "not an Azure ML time zone")]:
        with pytest.raises(ValueError, match=says):
            AzureMLBatchSettings.model_validate(bad)
    ok = AzureMLBatchSettings.model_validate({"schedule": " 0  2 * * SUN,sat ", "schedule_input": INPUT,
                                              "schedule_time_zone": "pacific standard time"})
    assert ok.schedule == "0 2 * * SUN,sat" and ok.schedule_time_zone == "Pacific Standard Time"


def test_the_exported_schedule_loads_with_load_schedule_and_holds_no_secret(batch, ctx, tmp_path):
    from azure.ai.ml.entities._load_functions import load_schedule  # not re-exported by azure.ai.ml 1.35
    from azure.ai.ml.entities import CronTrigger, JobSchedule, PipelineJob

    plan = api.plan(make_spec(**NIGHTLY), ctx)
    out = tmp_path / "export"
    written = {p.relative_to(out).as_posix() for p in api.export(plan, out)}
    assert {"schedule/schedule.yml", "schedule/code/invoke_endpoint.py", "schedule/environment/conda.yaml"} <= written
    schedule = load_schedule(out / "schedule" / "schedule.yml")
    assert isinstance(schedule, JobSchedule) and schedule.name == SCHEDULE
    assert isinstance(schedule.trigger, CronTrigger) and schedule.trigger.expression == "0 2 * * *"
    assert isinstance(schedule.create_job, PipelineJob)
    [step] = schedule.create_job.jobs.values()
    assert step.compute == COMPUTE and step.identity.type == "managed_identity"
    texts = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for secret in (FAKE_TOKEN, "sig=", "AccountKey", "client_secret", "primaryKey"):
        assert secret not in texts


def test_the_schedule_and_job_definitions_sent_to_azure_hold_no_secret(fake, batch, ctx):
    api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    sent = json.dumps([r.body for r in fake.calls("PUT", r"/schedules/|/components/|/environments/|/codes/")])
    for secret in (FAKE_TOKEN, "sig=", "AccountKey", "primaryKey", "Bearer"):
        assert secret not in sent


def test_the_scheduled_steps_code_submits_a_job_on_the_scheduled_input(fake, aml, batch, ctx, tmp_path):
    """The rendered invoke_endpoint.py, imported and run with an MLClient on the fake (in Azure it builds one
    from the cluster's managed identity): it submits one job to the endpoint's default deployment."""
    from deployers.azureml_batch import AzureMLBatchDeployer

    plan = api.plan(make_spec(**{**NIGHTLY, "schedule_input": "https://data.example.com/samples/sample.csv"}), ctx)
    api.apply(plan, ctx)
    script = tmp_path / "invoke_endpoint.py"
    script.write_text(plan.artifacts["schedule/code/invoke_endpoint.py"])
    spec = importlib.util.spec_from_file_location("invoke_endpoint", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    deployer = AzureMLBatchDeployer()
    ml, _c = deployer._client_for(NAME, ctx)
    before = len(batch.jobs_submitted)
    job = module.submit(ml)
    assert len(batch.jobs_submitted) == before + 1 and job.startswith(f"{EP}-scheduled-")
    sent = batch.jobs_submitted[-1]["properties"]
    assert "https://data.example.com/samples/sample.csv" in json.dumps(sent)
    assert f"/paths/deploy-advisor/{EP}/{job}/" in json.dumps(sent)


def test_a_local_schedule_input_is_refused_before_any_request(fake, batch, ctx):
    with pytest.raises((InputError, ValueError)):
        api.plan(make_spec(schedule="0 2 * * *", schedule_input="data/"), ctx)
    assert not fake.requests or not fake.calls("PUT", r"")


def test_adding_a_schedule_later_gives_our_cluster_an_identity_first(fake, batch, ctx):
    api.apply(api.plan(make_spec(), ctx), ctx)
    assert not (fake.get(batch.compute_id(COMPUTE)).get("identity") or {}).get("principalId")  # none needed yet
    plan = api.plan(make_spec(**NIGHTLY), ctx)
    [compute] = [a for a in plan.actions if a.resource_type == "compute"]
    assert compute.kind == "update" and compute.changes["identity"] == [None, "system_assigned"]
    api.apply(plan, ctx)
    principal = fake.get(batch.compute_id(COMPUTE))["identity"]["principalId"]
    assert [ra["properties"]["principalId"] for ra in batch.role_assignments()] == [principal]
    assert batch.schedule(SCHEDULE) is not None


def test_a_foreign_cluster_without_an_identity_fails_preflight_and_is_not_changed(fake, batch, ctx):
    batch.seed_compute("shared-cpu", tags={"owner": "platform"})
    plan = api.plan(make_spec(compute_name="shared-cpu", **NIGHTLY), ctx)
    [finding] = [f for f in plan.findings if f.check == "schedule"]
    assert finding.level == "fail" and "--identity-type system_assigned" in finding.hint
    assert ("no-op", "compute", "shared-cpu") in kinds(plan)


def test_no_right_to_grant_the_role_stops_before_the_schedule_with_the_owners_command(fake, batch, ctx):
    from deployers.errors import AuthError

    batch.permissions = ["Microsoft.MachineLearningServices/*"]  # Contributor-like: no roleAssignments/write
    with pytest.raises(AuthError) as err:
        api.apply(api.plan(make_spec(**NIGHTLY), ctx), ctx)
    assert "AzureML Data Scientist" in err.value.one_line() and "az role assignment create" in err.value.hint
    assert '--role "AzureML Data Scientist"' in err.value.hint
    assert batch.schedule(SCHEDULE) is None and batch.default(EP) == "blue"  # the endpoint itself is deployed
    batch.permissions = ["*"]
    plan = api.plan(make_spec(**NIGHTLY), ctx)
    assert [a.kind for a in plan.actions if a.resource_type == "schedule"] == ["create"]
    api.apply(plan, ctx)
    assert batch.schedule(SCHEDULE) is not None


def test_a_schedule_on_a_realtime_profile_is_planned_with_a_warning(batch, ctx):
    plan = api.plan(make_spec(profile={"inference": {"mode": "realtime"}}, **NIGHTLY), ctx)
    [warning] = [f for f in plan.findings if f.check == "schedule-profile"]
    assert warning.level == "warn" and "realtime" in warning.message
    assert ("create", "schedule", SCHEDULE) in kinds(plan)
