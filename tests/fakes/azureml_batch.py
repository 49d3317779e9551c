"""Azure ML batch provider for FakeAzure: compute clusters, batch endpoints and deployments, the
endpoint's job-submission URI, jobs whose status advances over polls, and schedules.

Install it on top of tests/fakes/azureml.py (which provides the workspace, models, usages, VM sizes
and the `workspaceblobstore` datastore backed by FakeBlobStorage):

    aml = azureml.install(fake, workspace="mlw-test")
    batch = azureml_batch.install(fake, aml)

Rules it enforces, as Azure does: a batch deployment needs its endpoint, an existing compute cluster
and a registered model; the default deployment must exist; a deployment that is the endpoint's
default cannot be deleted; invoking needs an Entra bearer token (batch endpoints accept nothing
else) and at least one deployment; the input must exist (datastore blobs or an https URL the
test declared).

A job (POST https://{ep}.{region}.inference.ml.azure.com/jobs) is stored as a workspace job of
type Pipeline and advances one status per GET: NotStarted -> Queued -> Running -> Completed
(or Failed, for deployments listed in `batch.failing`). On completion it writes the scoring
output (`predictions.csv`, one line per input row: file name, row number, prediction) to the job's output
path in the datastore so downloads find it. `batch.job_log(name)` holds its log lines.
"""
from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

from .acr import install_role_assignments
from .azure import FAKE_TOKEN, FakeAzure, RecordedRequest, now_iso
from .azureml import DATASTORE, PROVIDER, WS_RE, AzureMLFake

BEP_RE = WS_RE + r"/batchEndpoints/(?P<ep>[^/]+)"
BDEP_RE = BEP_RE + r"/deployments/(?P<dep>[^/]+)"
COMPUTE_RE = WS_RE + r"/computes/(?P<compute>[^/]+)"
SCHEDULE_RE = WS_RE + r"/schedules/(?P<schedule>[^/]+)"
JOB_STEPS = ("NotStarted", "Queued", "Running", "Completed")
STEP_SUFFIX = "-scoring"  # a job's child run (its parallel scoring step)
MINI_BATCH_REPORT = "processed_mini-batches.csv"


@dataclass
class BatchFake:
    """Handle on the batch provider: declare public inputs, make deployments fail, read jobs."""
    aml: AzureMLFake
    failing: dict[str, str] = field(default_factory=dict)  # deployment -> error message of its jobs
    public_inputs: dict[str, bytes] = field(default_factory=dict)  # https URL -> file content
    jobs_submitted: list[dict] = field(default_factory=list)  # the bodies POSTed to /jobs
    logs: dict[str, list[str]] = field(default_factory=dict)  # job name -> log lines
    permissions: list[str] = field(default_factory=lambda: ["*"])  # the caller's actions (role assignments)
    not_actions: list[str] = field(default_factory=list)

    @property
    def fake(self) -> FakeAzure:
        return self.aml.fake

    def endpoint_id(self, ep: str) -> str:
        return f"{self.aml.ws_id}/batchEndpoints/{ep}"

    def deployment_id(self, ep: str, dep: str) -> str:
        return f"{self.endpoint_id(ep)}/deployments/{dep}"

    def compute_id(self, name: str) -> str:
        return f"{self.aml.ws_id}/computes/{name}"

    def job_id(self, name: str) -> str:
        return f"{self.aml.ws_id}/jobs/{name}"

    def endpoint(self, ep: str) -> Optional[dict]:
        return self.fake.get(self.endpoint_id(ep))

    def deployments(self, ep: str) -> list[dict]:
        return self.fake.children(self.endpoint_id(ep) + "/deployments")

    def default(self, ep: str) -> str:
        return (((self.endpoint(ep) or {}).get("properties") or {}).get("defaults") or {}).get("deploymentName") or ""

    def job(self, name: str) -> Optional[dict]:
        return self.fake.get(self.job_id(name))

    def jobs(self) -> list[dict]:
        return [j for j in self.fake.children(f"{self.aml.ws_id}/jobs") if j["properties"].get("jobType") == "Pipeline"]

    def seed_compute(self, name: str, *, tags: Optional[dict] = None, size: str = "Standard_DS3_v2",
                     max_nodes: int = 4) -> dict:
        """A cluster that already exists (made by hand or by another team)."""
        return self.fake.put(self.compute_id(name), {"location": self.aml.location, "tags": tags or {},
                                                      "properties": _compute_props(size, 0, max_nodes, 120)})

    def job_log(self, name: str) -> list[str]:
        return list(self.logs.get(name, []))

    def schedule_id(self, name: str) -> str:
        return f"{self.aml.ws_id}/schedules/{name}"

    def schedule(self, name: str) -> Optional[dict]:
        return self.fake.get(self.schedule_id(name))

    def seed_schedule(self, name: str, *, tags: Optional[dict] = None, enabled: bool = True) -> dict:
        """A schedule someone else made (a pipeline job on a cron trigger)."""
        return self.fake.put(self.schedule_id(name), {"properties": {
            "displayName": name, "description": "made by hand", "tags": tags or {}, "properties": {},
            "isEnabled": enabled, "provisioningState": "Succeeded",
            "trigger": {"triggerType": "Cron", "expression": "0 3 * * *", "timeZone": "UTC"},
            "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline", "jobs": {},
                                                                    "settings": {}, "inputs": {}, "outputs": {}}}}})

    def role_assignments(self) -> list[dict]:
        return [self.fake.get(i) for i in self.fake.ids(r"/providers/microsoft\.authorization/roleassignments/[^/]+$")]


def _compute_props(size: str, lo: int, hi: int, idle_s: int) -> dict:
    return {"computeType": "AmlCompute", "computeLocation": "", "description": "", "isAttachedCompute": False,
            "disableLocalAuth": True, "properties": {
                "vmSize": size, "vmPriority": "Dedicated", "osType": "Linux",
                "scaleSettings": {"minNodeCount": lo, "maxNodeCount": hi,
                                  "nodeIdleTimeBeforeScaleDown": f"PT{idle_s}S"},
                "currentNodeCount": 0, "targetNodeCount": 0, "allocationState": "Steady",
                "remoteLoginPortPublicAccess": "Disabled", "enableNodePublicIp": True}}


def install(fake: FakeAzure, aml: AzureMLFake) -> BatchFake:
    """Register the batch routes and behaviours on `fake` (after tests/fakes/azureml.install)."""
    batch = BatchFake(aml)

    def bad(message: str, code: str = "UserError") -> Any:
        return fake.error(400, code, message)

    def endpoint_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        ep = body["name"]
        props = body.setdefault("properties", {})
        props["scoringUri"] = f"https://{ep}.{aml.location}.inference.ml.azure.com/jobs"
        props["swaggerUri"] = None
        props.setdefault("authMode", "AADToken")
        props.setdefault("properties", {})
        props["properties"].setdefault("BatchEndpointCreationApiVersion", "2023-10-01")
        props.setdefault("defaults", None)
        body.setdefault("location", aml.location)
        body.setdefault("kind", "")
        body.setdefault("identity", {"type": "SystemAssigned"})

    def compute_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        props = body.setdefault("properties", {})
        inner = props.setdefault("properties", {})
        inner.setdefault("vmPriority", "Dedicated")
        inner.setdefault("currentNodeCount", 0)
        inner.setdefault("targetNodeCount", 0)
        inner.setdefault("allocationState", "Steady")
        props.setdefault("isAttachedCompute", False)
        props.setdefault("computeLocation", aml.location)
        identity = body.get("identity") or {}
        if "systemassigned" in str(identity.get("type", "")).lower():  # the service issues the identity's ids
            old = (existing or {}).get("identity") or {}
            identity["principalId"] = old.get("principalId") or str(uuid.uuid5(uuid.NAMESPACE_URL, req.path.lower()))
            identity["tenantId"] = "00000000-0000-0000-0000-0000000000aa"

    def schedule_transform(_f: FakeAzure, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
        props = body.setdefault("properties", {})
        props["provisioningState"] = "Succeeded"
        props.setdefault("isEnabled", True)
        props.setdefault("properties", {})

    fake.behaviour(BEP_RE + r"$", create_status=201, update_status=200, transform=endpoint_transform)
    fake.behaviour(BDEP_RE + r"$", create_status=201, update_status=200)
    fake.behaviour(COMPUTE_RE + r"$", create_status=201, update_status=200, transform=compute_transform)
    fake.behaviour(SCHEDULE_RE + r"$", create_status=201, update_status=200, transform=schedule_transform)
    install_role_assignments(fake, batch)

    @fake.route("PUT", SCHEDULE_RE + r"$")
    def put_schedule(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A job schedule: a cron of 5 fields, a pipeline job whose steps run on a cluster of the workspace."""
        props = (req.body or {}).get("properties") or {}
        trigger = props.get("trigger") or {}
        if trigger.get("triggerType") == "Cron" and len(str(trigger.get("expression") or "").split()) != 5:
            return bad(f"Invalid cron expression {trigger.get('expression')!r}")
        action = props.get("action") or {}
        job = action.get("jobDefinition") or {}
        if action.get("actionType") != "CreateJob" or job.get("jobType") != "Pipeline":
            return bad("a job schedule creates a pipeline job")
        for step in (job.get("jobs") or {}).values():
            compute = str((step or {}).get("computeId") or (step or {}).get("compute") or "")
            name = compute.rsplit("/", 1)[-1].removeprefix("azureml:")
            if name and f.get(batch.compute_id(name)) is None:
                return bad(f"Compute {name} not found in the workspace")
        return None

    @fake.route("DELETE", SCHEDULE_RE + r"$")
    def delete_schedule(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """Learn (how-to-schedule-pipeline-job): a schedule must be disabled to be deleted."""
        body = batch.schedule(m["schedule"])
        if body is not None and body["properties"].get("isEnabled", True):
            return bad(f"Schedule {m['schedule']} is enabled: disable it before deleting it")
        return None

    @fake.route("PUT", BEP_RE + r"$")
    def put_endpoint(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        props = (req.body or {}).get("properties") or {}
        auth = str(props.get("authMode") or "")
        if auth and auth.lower() != "aadtoken":
            return bad(f"Batch endpoints support only AADToken auth, not {auth}")
        default = (props.get("defaults") or {}).get("deploymentName")
        if default and f.get(batch.deployment_id(m["ep"], default)) is None:
            return bad(f"Default deployment {default} does not exist on endpoint {m['ep']}")
        return None

    @fake.route("PUT", BDEP_RE + r"$")
    def put_deployment(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if batch.endpoint(m["ep"]) is None:
            return f.error(404, "ResourceNotFound", f"Batch endpoint {m['ep']} not found")
        props = (req.body or {}).get("properties") or {}
        compute = str(props.get("compute") or "")
        if not compute or f.get(batch.compute_id(compute.rsplit("/", 1)[-1])) is None:
            return bad(f"Compute {compute or '(none)'} not found in the workspace")
        model = ((props.get("model") or {}).get("assetId")) or ""
        if not model or f.get(model) is None:
            return bad(f"Model {model or '(none)'} not found")
        return None

    @fake.route("DELETE", BDEP_RE + r"$")
    def delete_deployment(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if batch.default(m["ep"]) == m["dep"] and len(batch.deployments(m["ep"])) > 1:
            return bad(f"Deployment {m['dep']} is the default deployment of {m['ep']}: set another default first")
        return None

    @fake.route("PUT", COMPUTE_RE + r"$")
    def put_compute(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        inner = (((req.body or {}).get("properties") or {}).get("properties") or {})
        size = str(inner.get("vmSize") or "")
        if size.lower() not in {s[0].lower() for s in _vm_sizes()}:
            return bad(f"VM size {size} is not supported in {aml.location}", code="SkuNotAvailable")
        return None

    @fake.route("GET", WS_RE + r"/jobs/(?P<job>[^/]+)$")
    def get_job(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """Each GET of a running batch job moves it one status on (the service runs while we poll)."""
        job = f.get(batch.job_id(m["job"]))
        if job is None or job["properties"].get("jobType") != "Pipeline":
            return None
        _advance(batch, job)
        return f.json(200, f.get(batch.job_id(m["job"])))

    @fake.data_plane(r"^(?P<ep>[a-z0-9-]+)\.(?P<region>[a-z0-9]+)\.inference\.ml\.azure\.com$", method="POST",
                     path=r"^/jobs$")
    def submit(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        ep = req.host.split(".", 1)[0]
        body = batch.endpoint(ep)
        if body is None:
            return None  # not a batch endpoint: the online endpoint's route answers
        if req.auth != FAKE_TOKEN:
            return f.error(401, "Unauthorized", "Batch endpoints accept only a Microsoft Entra token")
        deps = {d["name"] for d in batch.deployments(ep)}
        target = next((v for k, v in req.headers.items() if k.lower() == "azureml-model-deployment"), "") \
            or batch.default(ep)
        if not deps or not target:
            return f.error(400, "UserError", "No deployment exists for this endpoint")
        if target not in deps:
            return f.error(404, "UserError", f"Deployment {target} not found")
        props = (req.body or {}).get("properties") or {}
        rows = _input_rows(batch, props.get("inputData") or props.get("InputData") or {})
        if isinstance(rows, str):
            return f.error(400, "UserError", rows)
        batch.jobs_submitted.append(req.body)
        dep = f.get(batch.deployment_id(ep, target)) or {}
        name = str(props.get("name") or "batchjob-" + uuid.uuid4().hex)
        out = _output_path(props, name)
        job = {"properties": {
            "jobType": "Pipeline", "status": "NotStarted", "displayName": name, "experimentName": ep,
            "description": f"batch scoring on {ep}/{target}", "isArchived": False,
            "computeId": dep.get("properties", {}).get("compute"),
            "tags": {"azureml.batchrun": "true", "azureml.deploymentname": target, "azureml.jobtype": "azureml.batchjob",
                     "azureml.endpointname": ep},
            "properties": {"azureml.batchrun": "true", "azureml.deploymentname": target,
                           "azureml.endpointname": ep},
            "inputs": {}, "jobs": {}, "settings": {},
            "outputs": {"score": {"jobOutputType": "uri_folder", "uri": out, "mode": "ReadWriteMount"}},
            "services": {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}", "jobServiceType": "Studio"}},
        }}
        f.put(batch.job_id(name), job)
        batch.logs[name] = [f"job {name} submitted to {ep}/{target}: {len(rows)} row(s)"]
        _pending[name] = (rows, out, ep, target)
        return f.json(200, {"id": f"{aml.ws_id}/batchEndpoints/{ep}/jobs/{name}", "name": name,
                            "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
                            "properties": {"status": "NotStarted", "name": name}})

    @fake.data_plane(r"^(?P<region>[a-z0-9]+)\.api\.azureml\.ms$", method="GET", path=r"^/discovery$")
    def discovery(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """The workspace's discoveryUrl: azure-ai-ml finds the run-history service here."""
        base = f"https://{aml.location}.api.azureml.ms"
        return f.json(200, {"api": base, "catalog": base, "experimentation": base, "gallery": base,
                            "history": base, "hyperdrive": base, "labeling": base, "modelmanagement": base,
                            "pipelines": base, "studiocoreservices": base})

    @fake.data_plane(r"\.api\.azureml\.ms$", method="GET",
                     path=r"^/mferp/managementfrontend/subscriptions/.*/batchEndpoints/(?P<ep>[^/]+)/jobs$")
    def list_jobs(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """The endpoint's jobs, newest first (the 2020-09-01-dataplanepreview shape azure-ai-ml reads)."""
        if req.auth != FAKE_TOKEN:
            return f.error(401, "Unauthorized", "Microsoft Entra token required")
        jobs = [j for j in batch.jobs() if (j["properties"].get("tags") or {}).get("azureml.endpointname") == m["ep"]]
        jobs.sort(key=lambda j: j["systemData"]["createdAt"], reverse=True)
        return f.json(200, {"value": [
            {"id": f"{batch.endpoint_id(m['ep'])}/jobs/{j['name']}", "name": j["name"],
             "type": "Microsoft.MachineLearningServices/workspaces/batchEndpoints/jobs",
             "properties": {"status": j["properties"]["status"],
                            "deploymentName": j["properties"]["tags"].get("azureml.deploymentname")}}
            for j in jobs]})

    @fake.data_plane(r"\.api\.azureml\.ms$", method="GET",
                     path=r"^/history/v1\.0/.*/workspaces/[^/]+/runs/(?P<run>[^/]+)/details$")
    def run_details(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A run record: status, error and log files (SAS URLs into the workspace storage). A job's scoring step
        (`<job>-scoring`) lists the parallel run's processed_mini-batches.csv report once it has started."""
        if req.auth != FAKE_TOKEN:
            return f.error(401, "Unauthorized", "Microsoft Entra token required")
        run = m["run"]
        step = run.endswith(STEP_SUFFIX)
        job = batch.job(run[:-len(STEP_SUFFIX)] if step else run)
        if job is None:
            return f.error(404, "NotFound", f"run {run} not found")
        props = job["properties"]
        sas = aml.storage.issue_sas(aml.storage_account)
        base = f"https://{aml.storage_account}.blob.core.windows.net/azureml/ExperimentRun/dcid.{run}"
        names = ["logs/azureml/job_log.txt"]
        if step and props["status"] in ("Running", "Completed", "Failed"):
            names.append(f"logs/sys/job_report/{MINI_BATCH_REPORT}")
        doc: dict[str, Any] = {"runId": run, "status": props["status"], "target": props.get("computeId"),
                               "tags": props.get("tags") or {}, "properties": props.get("properties") or {},
                               "logFiles": {n: f"{base}/{n}?{sas}" for n in names}}
        if props.get("error") and not step:
            doc["error"] = {"error": props["error"]}
        return f.json(200, doc)

    @fake.data_plane(r"\.api\.azureml\.ms$", method="GET",
                     path=r"^/history/v1\.0/.*/workspaces/[^/]+/runs/(?P<run>[^/]+)/children$")
    def run_children(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A batch job's one child run: its scoring step."""
        job = batch.job(m["run"])
        if job is None:
            return f.error(404, "NotFound", f"run {m['run']} not found")
        return f.json(200, {"value": [{"runId": m["run"] + STEP_SUFFIX, "parentRunId": m["run"],
                                       "displayName": "batchscoring", "status": job["properties"]["status"],
                                       "experimentId": job["properties"].get("experimentName"), "tags": {},
                                       "properties": {}}], "nextLink": None})

    @fake.data_plane(r"\.blob\.core\.windows\.net$", method="GET",
                     path=r"^/azureml/ExperimentRun/dcid\.(?P<run>[^/]+)/logs/")
    def run_log(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        """A log file behind its SAS URL (the SAS must be one listSecrets/run details handed out)."""
        from urllib.parse import unquote
        sig = unquote(req.query.get("sig", ""))
        if sig not in aml.storage.accounts[aml.storage_account].sas_tokens:
            return f.text(403, "AuthenticationFailed")
        run = m["run"]
        if req.path.endswith(MINI_BATCH_REPORT) and run.endswith(STEP_SUFFIX):
            return f.text(200, _mini_batch_report(batch, run[:-len(STEP_SUFFIX)]), content_type="text/csv")
        return f.text(200, "\n".join(batch.logs.get(run.removesuffix(STEP_SUFFIX), [])) + "\n")

    _pending: dict[str, tuple[list, str, str, str]] = {}
    batch._pending = _pending  # type: ignore[attr-defined]
    return batch


def _vm_sizes() -> list[tuple]:
    from .azureml import VM_SIZES
    return VM_SIZES


def _output_path(props: dict, job: str) -> str:
    """Where the scores go: the `score` output the caller set, else the datastore's default folder."""
    outputs = props.get("outputData") or props.get("outputs") or {}
    for value in (outputs.values() if isinstance(outputs, dict) else []):
        if isinstance(value, dict) and value.get("uri"):
            return str(value["uri"])
    ds = props.get("outputDataset") or {}
    if ds.get("path"):
        return f"azureml://datastores/{DATASTORE}/paths/{ds['path'].strip('/')}/"
    return f"azureml://datastores/{DATASTORE}/paths/azureml/{job}/score/"


def _input_rows(batch: BatchFake, data: dict) -> Any:
    """[(file name, row)] of every input row, or an error message when the input does not exist."""
    spec = next(iter(data.values()), None) if data else None
    if not isinstance(spec, dict) or not spec.get("uri"):
        return "the job needs an input (a uri_folder or uri_file)"
    uri = str(spec["uri"])
    if uri.startswith("https://") and uri in batch.public_inputs:
        files = {uri.rsplit("/", 1)[-1]: batch.public_inputs[uri]}
    elif "/datastores/" in uri and "/paths/" in uri:
        rel = uri.split("/paths/", 1)[1]
        files = batch.aml.uploaded(rel.rstrip("/") + "/") or batch.aml.uploaded(rel)
        files = {k.rsplit("/", 1)[-1]: v for k, v in files.items() if k == rel or k.startswith(rel.rstrip("/") + "/")}
    else:
        files = {}
    if not files:
        return f"input {uri} not found or empty"
    rows = []
    for fname, data_bytes in sorted(files.items()):
        text = data_bytes.decode("utf-8", "replace")
        reader = list(csv.reader(io.StringIO(text)))
        for row in reader[1:] if reader and not _numeric(reader[0]) else reader:
            if row:
                rows.append((fname, row))
    return rows


def _numeric(row: list[str]) -> bool:
    try:
        [float(x) for x in row]
        return True
    except ValueError:
        return False


def _advance(batch: BatchFake, job: dict) -> None:
    """Move a running job one status on; on its last step write the scores (or fail it)."""
    props = job["properties"]
    status = props["status"]
    if status not in JOB_STEPS[:-1]:
        return
    name = job["name"]
    rows, out, ep, dep = batch._pending.get(name, ([], "", "", ""))  # type: ignore[attr-defined]
    nxt = JOB_STEPS[JOB_STEPS.index(status) + 1]
    log = batch.logs.setdefault(name, [])
    if nxt == "Completed" and dep in batch.failing:
        props["status"] = "Failed"
        props["error"] = {"code": "UserError", "message": batch.failing[dep]}
        log.append(f"mini-batch 1 failed: {batch.failing[dep]}")
        log.append(f"Traceback (most recent call last):\n  File \"batch_driver.py\", line 1, in run\n"
                   f"RuntimeError: {batch.failing[dep]}")
    elif nxt == "Completed":
        counts: dict[str, int] = {}
        lines = []  # what append_row leaves: one "file,row,prediction" line per input row (a row's width as the score)
        for fname, row in rows:
            counts[fname] = counts.get(fname, 0) + 1
            lines.append(f"{fname},{counts[fname] - 1},{float(len(row))}")
        rel = out.split("/paths/", 1)[1].rstrip("/") + "/predictions.csv" if "/paths/" in out else \
            f"azureml/{name}/score/predictions.csv"
        _write_blob(batch, rel, ("\n".join(lines) + "\n").encode())
        props["status"] = "Completed"
        log.append(f"{len(rows)} row(s) scored into {rel}")
    else:
        props["status"] = nxt
        log.append(f"status {nxt}")
    props.setdefault("properties", {})["azureml.lastStatusAt"] = now_iso()
    batch.fake.put(batch.job_id(name), job)


def _mini_batch_report(batch: BatchFake, name: str) -> str:
    """The parallel run's logs/sys/job_report/processed_mini-batches.csv (columns as the ParallelRunStep tuning
    guide lists them): half the mini-batches while Running, all when Completed; when the deployment fails, its
    last mini-batch failed twice (a retry: Picked Count 2)."""
    job = batch.job(name) or {"properties": {}}
    status = job["properties"].get("status")
    rows, _out, ep, dep = batch._pending.get(name, ([], "", "", ""))  # type: ignore[attr-defined]
    size = int(((batch.fake.get(batch.deployment_id(ep, dep)) or {}).get("properties") or {}).get(
        "miniBatchSize") or 10)
    files = list(dict.fromkeys(fname for fname, _row in rows))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    shown = batches[:(len(batches) + 1) // 2] if status == "Running" else batches
    head = ("Mini-batch Id,Picked Count,Process,Process Start Time,Total,Succeeded,Failed,Elapsed Seconds,"
            "Process Seconds,Run Method Seconds,Status,Error Category,Error Message,Mini-batch Detail")
    lines = [head]
    for i, group in enumerate(shown):
        failing = status == "Failed" and i == len(shown) - 1
        for picked in ((1, 2) if failing else (1,)):
            ok = 0 if failing else len(group)
            lines.append(f"{i},{picked},worker-0,2026-12-06T02:00:00,{len(group)},{ok},{len(group) - ok},1.0,0.9,"
                         f"0.8,{'RUN_EXCEPTION' if failing else 'RUN_DONE'},{'UserError' if failing else ''},"
                         f"{'boom' if failing else ''},\"{group}\"")
    return "\n".join(lines) + "\n"


def _write_blob(batch: BatchFake, name: str, data: bytes) -> None:
    """What the job's compute writes into the workspace's default container."""
    import base64
    import hashlib

    from .blob_storage import Blob

    storage = batch.aml.storage
    with storage._lock:
        container = storage.account(batch.aml.storage_account, batch.aml.blob_container).containers[
            batch.aml.blob_container]
        container[name] = Blob(data, content_type="text/csv",
                               content_md5=base64.b64encode(hashlib.md5(data).digest()).decode())


__all__ = ["BatchFake", "install", "PROVIDER"]
