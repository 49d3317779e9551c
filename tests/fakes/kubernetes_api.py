"""A fake Kubernetes API server on 127.0.0.1 for the real `kubernetes` Python client.

It implements the few REST paths the aks deployer uses: server-side apply
(PATCH application/apply-patch+yaml), GET, DELETE, label-selector lists,
pod logs, GET /version, the Deployment status a controller would write, and a load
balancer IP for LoadBalancer Services. Deployment rollouts are scripted:
`rollout(obj) -> "ready" | "stall" | "crash"` decides whether a new
generation becomes available or ends in ProgressDeadlineExceeded.

It also runs a tiny "pod backend" (`backend_port`) answering POST /score
with the scoring contract, checking the bearer key against the Secret
the deployer applied: a test sets `service_port=backend_port` so the
smoke test really reaches it through the load balancer IP 127.0.0.1.
"""
from __future__ import annotations

import base64
import copy
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

import yaml

TOKEN = "fake-kube-token-0123456789"

# plural -> (kind, apiVersion, namespaced)
RESOURCES = {
    ("", "v1", "namespaces"): ("Namespace", "v1", False),
    ("", "v1", "secrets"): ("Secret", "v1", True),
    ("", "v1", "services"): ("Service", "v1", True),
    ("", "v1", "pods"): ("Pod", "v1", True),
    ("apps", "v1", "deployments"): ("Deployment", "apps/v1", True),
    ("autoscaling", "v2", "horizontalpodautoscalers"): ("HorizontalPodAutoscaler", "autoscaling/v2", True),
    ("policy", "v1", "poddisruptionbudgets"): ("PodDisruptionBudget", "policy/v1", True),
}
PATH_RE = re.compile(r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
                     r"(?:/namespaces/(?P<ns>[^/]+)(?=/))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status|log))?$")
# an object's own path: /api/v1/namespaces/{name} (the namespace itself)
NS_RE = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)$")


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _matches(labels: dict, selector: str) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.strip().rstrip("=")) != v.strip().lstrip("="):
                return False
        elif labels.get(term.strip()) is None:
            return False
    return True


class _NoDelay(BaseHTTPRequestHandler):
    """Keep-alive handler with Nagle off: headers and body go out as two writes, and a delayed ACK
    would otherwise add ~40 ms to every request."""
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class FakeKubernetes:
    """Start with `with FakeKubernetes() as k8s:`; `k8s.url` goes into the kubeconfig."""

    def __init__(self, *, token: str = TOKEN, ready_after: int = 1, lb_after: int = 0,
                 rollout: Optional[Callable[[dict], str]] = None):
        self.token = token
        self.ready_after = ready_after  # status reads before a "ready" rollout is available
        self.lb_after = lb_after  # service reads before the load balancer has an IP
        self.rollout = rollout or (lambda obj: "ready")
        self.objects: dict[tuple[str, str, str], dict] = {}  # (kind, namespace, name) -> object
        self.requests: list[dict] = []
        self.scored: list[dict] = []  # requests the pod backend answered
        self.score_error: Optional[int] = None  # make the pods answer /score with this status
        self.logs: dict[str, str] = {}
        self._lock = threading.RLock()
        self._reads: dict[tuple[str, str, str], int] = {}
        self._rv = 100
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.backend = ThreadingHTTPServer(("127.0.0.1", 0), self._backend_handler())
        self.server.daemon_threads = self.backend.daemon_threads = True
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True) for s in (self.server, self.backend)]

    # ---- lifecycle ------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def backend_port(self) -> int:
        return self.backend.server_address[1]

    def start(self) -> "FakeKubernetes":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        for s in (self.server, self.backend):
            s.shutdown()
            s.server_close()

    def __enter__(self) -> "FakeKubernetes":
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()

    def kubeconfig(self, user: Optional[dict] = None) -> str:
        """What AKS's listClusterUserCredential would hand out, pointing at this server."""
        return yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "clusterUser"}}],
            "users": [{"name": "clusterUser", "user": user or {"token": self.token}}],
        })

    # ---- assertions -------------------------------------------------------------
    def get(self, kind: str, name: str, namespace: str = "") -> Optional[dict]:
        with self._lock:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def names(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(f"{ns}/{n}".lstrip("/") for (k, ns, n) in self.objects if k == kind)

    def calls(self, method: str, path_regex: str = ".*") -> list[dict]:
        rx = re.compile(path_regex)
        with self._lock:
            return [r for r in self.requests if r["method"] == method and rx.search(r["path"])]

    # ---- object store ---------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _apply(self, kind: str, api_version: str, ns: str, name: str, body: dict, manager: str) -> tuple[int, dict]:
        key = (kind, ns, name)
        old = self.objects.get(key)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = copy.deepcopy(body)
        body["apiVersion"], body["kind"] = api_version, kind
        meta = body.setdefault("metadata", {})
        meta["name"] = name
        if ns:
            meta["namespace"] = ns
        if kind == "Secret" and "stringData" in body:  # the API server folds stringData into data
            data = body.setdefault("data", {})
            for k, v in body.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        if old is None:
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now, generation=1, resourceVersion=self._next_rv())
            meta["managedFields"] = [{"manager": manager, "operation": "Apply", "time": now}]
            obj = body
            if kind == "Deployment":
                obj.setdefault("spec", {}).setdefault("replicas", 1)
            code = 201
        else:
            obj = copy.deepcopy(old)
            spec_changed = "spec" in body and body["spec"] != {k: v for k, v in (old.get("spec") or {}).items()
                                                               if k in body["spec"]}
            for k, v in body.items():
                if k == "metadata":
                    for mk in ("labels", "annotations"):
                        if mk in v:
                            obj["metadata"][mk] = v[mk]
                elif k != "status":
                    if k == "spec" and kind == "Deployment" and "replicas" not in v:
                        v = dict(v, replicas=(old.get("spec") or {}).get("replicas", 1))  # owned by the HPA
                    obj[k] = v
            if spec_changed:
                obj["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
            obj["metadata"]["resourceVersion"] = self._next_rv()
            code = 200
        if kind == "Deployment":
            self._schedule(obj, new=old is None or obj["metadata"]["generation"] != old["metadata"]["generation"])
        if kind == "Service":
            obj.setdefault("status", {}).setdefault("loadBalancer", {})
            obj["spec"].setdefault("clusterIP", "10.0.0.10")
        if kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        self.objects[key] = obj
        self._reads[key] = 0
        return code, obj

    def _schedule(self, dep: dict, new: bool) -> None:
        """Controller: a new generation starts unavailable; reads later it becomes ready or stalls."""
        if not new:
            return
        replicas = dep["spec"].get("replicas", 1)
        dep["status"] = {"observedGeneration": dep["metadata"]["generation"] - 1 if dep["metadata"]["generation"] > 1 else 0,
                         "replicas": replicas, "updatedReplicas": 0, "availableReplicas": 0,
                         "unavailableReplicas": replicas}
        dep["_mode"] = self.rollout(copy.deepcopy(dep))
        ns = dep["metadata"]["namespace"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        for key in [k for k, o in self.objects.items() if k[0] == "Pod" and k[1] == ns
                    and o["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == labels.get("app.kubernetes.io/instance")]:
            del self.objects[key]
        mode = dep["_mode"]
        for i in range(replicas):
            pname = f"{dep['metadata']['name']}-{dep['metadata']['generation']:x}{i:02d}-pod{i}"
            container = {"name": "scoring", "image": dep["spec"]["template"]["spec"]["containers"][0]["image"],
                         "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
            self.objects[("Pod", ns, pname)] = {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pname, "namespace": ns, "labels": dict(labels)},
                "status": {"phase": "Pending", "containerStatuses": [container]}, "_mode": mode}
            self.logs[pname] = "scoring server starting\nmodel loaded\n" if mode == "ready" else \
                "scoring server starting\nTraceback (most recent call last):\nRuntimeError: model failed to load\n"

    def _progress(self, key: tuple[str, str, str], obj: dict) -> None:
        """Advance a Deployment's rollout on reads (deterministic, no background thread)."""
        self._reads[key] = self._reads.get(key, 0) + 1
        if obj["kind"] == "Service" and obj["spec"].get("type") == "LoadBalancer" and self._reads[key] > self.lb_after:
            obj["status"]["loadBalancer"] = {"ingress": [{"ip": "127.0.0.1"}]}
        if obj["kind"] != "Deployment" or self._reads[key] <= self.ready_after:
            return
        st, gen, replicas = obj["status"], obj["metadata"]["generation"], obj["spec"].get("replicas", 1)
        if st.get("observedGeneration") == gen and st.get("_done"):
            return
        st["observedGeneration"] = gen
        ns = obj["metadata"]["namespace"]
        pods = [p for (k, n, _), p in self.objects.items() if k == "Pod" and n == ns
                and p["metadata"]["labels"].get("app.kubernetes.io/instance") == obj["metadata"]["name"]]
        if obj["_mode"] == "ready":
            st.update(replicas=replicas, updatedReplicas=replicas, readyReplicas=replicas, availableReplicas=replicas,
                      unavailableReplicas=0, _done=True,
                      conditions=[{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                                  {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}])
            for p in pods:
                p["status"] = {"phase": "Running", "containerStatuses": [{
                    "name": "scoring", "ready": True, "restartCount": 0, "state": {"running": {}}}]}
        else:
            st.update(replicas=replicas, updatedReplicas=replicas, availableReplicas=0, unavailableReplicas=replicas,
                      _done=True, conditions=[
                          {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
                          {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f"ReplicaSet \"{obj['metadata']['name']}\" has timed out progressing."}])
            for p in pods:
                p["status"] = {"phase": "Running", "containerStatuses": [{
                    "name": "scoring", "ready": False, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}}]}

    @staticmethod
    def _public(obj: dict) -> dict:
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if "status" in out and isinstance(out["status"], dict):
            out["status"] = {k: v for k, v in out["status"].items() if not k.startswith("_")}
        return out

    # ---- HTTP -----------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, Any, str]:
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "content_type": headers.get("content-type", ""),
                                  "authorized": headers.get("authorization") == f"Bearer {self.token}"})
            if headers.get("authorization") != f"Bearer {self.token}":
                return 401, _status(401, "Unauthorized", "Unauthorized"), "application/json"
            if path.rstrip("/") == "/version" and method == "GET":  # what preflight reads: does the API server answer?
                return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2"}, "application/json"
            m = NS_RE.match(path)
            if m:
                kind, api_version, ns, name, sub, namespaced = "Namespace", "v1", "", m["name"], None, False
            else:
                m = PATH_RE.match(path)
                if not m:
                    return 404, _status(404, "NotFound", f"the server could not find {path}"), "application/json"
                group, version = (m["g"], m["v"]) if m["g"] else ("", m["cv"])
                res = RESOURCES.get((group, version, m["plural"]))
                if res is None:
                    return 404, _status(404, "NotFound", f"no resource {m['plural']}"), "application/json"
                kind, api_version, namespaced = res
                ns, name, sub = m["ns"] or "", m["name"], m["sub"]
            key = (kind, ns, name or "")
            if name is None:  # collection
                if method != "GET":
                    return 405, _status(405, "MethodNotAllowed", "only GET on collections"), "application/json"
                sel = (query.get("labelSelector") or [""])[0]
                items = [self._public(o) for (k, n, _), o in sorted(self.objects.items())
                         if k == kind and (not ns or n == ns) and _matches(o["metadata"].get("labels") or {}, sel)]
                return 200, {"kind": f"{kind}List", "apiVersion": api_version,
                             "metadata": {"resourceVersion": str(self._rv)}, "items": items}, "application/json"
            if namespaced and ns and ("Namespace", "", ns) not in self.objects and method != "GET":
                return 404, _status(404, "NotFound", f'namespaces "{ns}" not found'), "application/json"
            if method == "PATCH":
                ctype = headers.get("content-type", "")
                if not ctype.startswith("application/apply-patch"):
                    return 415, _status(415, "UnsupportedMediaType", f"only server-side apply, got {ctype}"), "application/json"
                if "fieldManager" not in query:
                    return 422, _status(422, "Invalid", "fieldManager is required for apply patch"), "application/json"
                doc = yaml.safe_load(body.decode() or "{}")
                if (doc.get("metadata") or {}).get("name") != name or doc.get("kind") != kind:
                    return 400, _status(400, "BadRequest", "name/kind in the body do not match the URL"), "application/json"
                code, obj = self._apply(kind, api_version, ns, name, doc, query["fieldManager"][0])
                return code, self._public(obj), "application/json"
            obj = self.objects.get(key)
            plural = path.rstrip("/").split("/")[-1 if sub is None else -2]
            if obj is None:
                return 404, _status(404, "NotFound", f'{plural} "{name}" not found'), "application/json"
            if method == "GET":
                if sub == "log":
                    tail = int((query.get("tailLines") or ["0"])[0] or 0)
                    lines = self.logs.get(name, "").splitlines()
                    return 200, "\n".join(lines[-tail:] if tail else lines) + "\n", "text/plain"
                self._progress(key, obj)
                return 200, self._public(obj), "application/json"
            if method == "DELETE":
                del self.objects[key]
                if kind == "Namespace":  # everything in it goes too
                    for k in [k for k in self.objects if k[1] == name]:
                        del self.objects[k]
                    gone = self._public(obj)
                    gone["status"] = {"phase": "Terminating"}
                    return 200, gone, "application/json"
                if kind == "Deployment":
                    for k in [k for k, o in self.objects.items() if k[0] == "Pod" and k[1] == ns and
                              o["metadata"]["labels"].get("app.kubernetes.io/instance") == name]:
                        del self.objects[k]
                if kind == "Service":
                    return 200, self._public(obj), "application/json"
                return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": name, "kind": plural, "uid": obj["metadata"].get("uid")}}, "application/json"
            return 405, _status(405, "MethodNotAllowed", method), "application/json"

    def _handler(self):
        fake = self

        class Handler(_NoDelay):

            def log_message(self, *args: Any) -> None:
                return None

            def _do(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, payload, ctype = fake.handle(self.command, parts.path, parse_qs(parts.query), headers, body)
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PATCH = do_DELETE = do_POST = do_PUT = _do

        return Handler

    def _scoring_key(self) -> Optional[str]:
        with self._lock:
            for (kind, _ns, name), obj in self.objects.items():
                if kind == "Secret" and name.endswith("-scoring-key"):
                    return base64.b64decode(obj["data"]["key"]).decode()
        return None

    def _backend_handler(self):
        fake = self

        class Backend(_NoDelay):
            """The pods behind the load balancer: the scoring contract, with the key from the Secret."""

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                key = fake._scoring_key()
                ok = key is not None and self.headers.get("Authorization") == f"Bearer {key}"
                with fake._lock:
                    fake.scored.append({"path": self.path, "authorized": ok, "body": body})
                if self.path != "/score":
                    return self._send(404, {"error": "not found"})
                if not ok:
                    return self._send(401, {"error": "missing or wrong key"})
                if fake.score_error:
                    return self._send(fake.score_error, {"error": "model raised: ValueError: bad input shape"})
                rows = body.get("input_data") if isinstance(body, dict) else None
                n = len(rows.get("data", [])) if isinstance(rows, dict) else (len(rows) if isinstance(rows, list) else 1)
                return self._send(200, [0] * max(n, 1))

        return Backend
