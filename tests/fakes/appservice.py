"""App Service (Microsoft.Web) provider for FakeAzure: plans, web apps, slots, app settings,
slot-sticky settings, slot swap, restart, container logs, name availability, geo regions,
usages, and the data plane `https://<app>[-<slot>].azurewebsites.net` (/, /ready, /score).

It enforces the service rules the deployer must respect, so a wrong request fails here
as it would in Azure: a site needs an existing Linux plan, slots need the Standard tier
or above and an existing site, a plan that still hosts apps cannot be deleted, and the
data plane checks the `Authorization: Bearer` key against the slot's own app setting.

Swap moves the image, the site config and the non-sticky app settings between the two
slots; settings listed in `slotConfigNames` stay where they are (as in App Service).

    from tests.fakes.appservice import install
    web = install(fake, resource_group="rg")
    web.unhealthy.add(("myacr.azurecr.io/m:v2", None))   # image never ready on any slot
    web.unhealthy.add(("myacr.azurecr.io/m:v2", "production"))  # ready on staging, not production
    web.ready_after = 2                                  # /ready answers 503 twice per new start
"""
from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .azure import SUBSCRIPTION, FakeAzure, RecordedRequest

PROVIDER = "Microsoft.Web"
RG_RE = r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
PLAN_RE = RG_RE + r"/providers/Microsoft\.Web/serverfarms/(?P<plan>[^/]+)"
SITE_RE = RG_RE + r"/providers/Microsoft\.Web/sites/(?P<app>[^/]+)"
SLOT_RE = SITE_RE + r"/slots/(?P<slot>[^/]+)"
ANY_SITE_RE = SITE_RE + r"(?:/slots/(?P<slot>[^/]+))?"
PRODUCTION = "production"
NO_SLOTS = {"free", "shared", "basic"}
# Per tier: number of slots besides production (App Service limits).
SLOT_LIMITS = {"standard": 5, "premiumv2": 20, "premiumv3": 20, "premiummv3": 20}
TIERS = {"B": "Basic", "S": "Standard", "F": "Free", "D": "Shared"}
SWAPPED_CONFIG = ("linuxFxVersion", "appCommandLine", "acrUseManagedIdentityCreds", "healthCheckPath",
                  "http20Enabled", "minTlsVersion", "ftpsState")


def tier_of(sku: dict) -> str:
    if sku.get("tier"):
        return str(sku["tier"])
    name = str(sku.get("name") or "")
    if name.lower().endswith("mv3"):
        return "PremiumMV3"
    if name.lower().endswith("v3"):
        return "PremiumV3"
    if name.lower().endswith("v2"):
        return "PremiumV2"
    return TIERS.get(name[:1].upper(), "Standard")


@dataclass
class AppServiceFake:
    """Handle on the installed provider: seed plans/apps, script health, read what was sent."""
    fake: FakeAzure
    subscription: str
    resource_group: str
    location: str
    taken: set[str] = field(default_factory=set)  # names taken globally (by someone else)
    unhealthy: set[tuple[str, Optional[str]]] = field(default_factory=set)  # (image, slot or None=any)
    ready_after: int = 0  # /ready answers 503 this many times after each (re)start
    scorer: Optional[Callable[[str, str, Any], tuple[int, Any]]] = None  # (app, slot, payload) -> (status, body)
    regions: list[str] = field(default_factory=lambda: ["East US", "West Europe", "Sweden Central"])
    usages: dict[str, tuple[int, int]] = field(default_factory=dict)  # tier -> (current, limit)
    logs: dict[str, str] = field(default_factory=dict)  # app -> container log text
    settings: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (app, slot) -> settings
    configs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (app, slot) -> siteConfig
    sticky: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # app -> slotConfigNames
    starts: dict[tuple[str, str], int] = field(default_factory=dict)  # (app, slot) -> /ready polls since start
    swaps: list[tuple[str, str, str]] = field(default_factory=list)  # (app, source slot, target slot)
    restarts: list[tuple[str, str]] = field(default_factory=list)
    scored: list[tuple[str, str, Any]] = field(default_factory=list)  # (app, slot, payload)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ---- ids -----------------------------------------------------------------
    def rg_id(self, rg: Optional[str] = None) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg or self.resource_group}"

    def plan_id(self, plan: str, rg: Optional[str] = None) -> str:
        return f"{self.rg_id(rg)}/providers/Microsoft.Web/serverfarms/{plan}"

    def site_id(self, app: str, slot: Optional[str] = None, rg: Optional[str] = None) -> str:
        base = f"{self.rg_id(rg)}/providers/Microsoft.Web/sites/{app}"
        return f"{base}/slots/{slot}" if slot and slot != PRODUCTION else base

    # ---- reads for assertions --------------------------------------------------
    def plan(self, plan: str) -> Optional[dict]:
        return self.fake.get(self.plan_id(plan))

    def site(self, app: str, slot: Optional[str] = None) -> Optional[dict]:
        return self.fake.get(self.site_id(app, slot))

    def image(self, app: str, slot: str = PRODUCTION) -> Optional[str]:
        fx = (self.configs.get((app.lower(), slot)) or {}).get("linuxFxVersion")
        return fx.split("|", 1)[-1] if fx else None

    def app_settings(self, app: str, slot: str = PRODUCTION) -> dict[str, str]:
        return dict(self.settings.get((app.lower(), slot)) or {})

    def config(self, app: str, slot: str = PRODUCTION) -> dict[str, Any]:
        return dict(self.configs.get((app.lower(), slot)) or {})

    # ---- seeding ---------------------------------------------------------------
    def seed_plan(self, name: str, sku: str = "P1v3", *, linux: bool = True, tags: Optional[dict] = None,
                  capacity: int = 1) -> dict:
        return self.fake.put(self.plan_id(name), {
            "location": self.location, "kind": "linux" if linux else "app", "tags": tags or {},
            "sku": {"name": sku, "tier": tier_of({"name": sku}), "capacity": capacity},
            "properties": {"reserved": linux}})

    def seed_site(self, app: str, plan: str, image: str = "nginx:latest", *, tags: Optional[dict] = None) -> dict:
        body = {"location": self.location, "kind": "app,linux,container", "tags": tags or {},
                "properties": {"serverFarmId": self.plan_id(plan), "siteConfig": {"linuxFxVersion": f"DOCKER|{image}"}}}
        stored = self.fake.put(self.site_id(app), body)
        _site_transform(self, None, stored, None, app, PRODUCTION)
        self.fake.resources[self.site_id(app).lower()] = stored
        return stored

    # ---- health ------------------------------------------------------------------
    def is_healthy(self, app: str, slot: str) -> bool:
        img = self.image(app, slot) or ""
        return (img, None) not in self.unhealthy and (img, slot) not in self.unhealthy

    def restart(self, app: str, slot: str) -> None:
        self.starts[(app.lower(), slot)] = 0


def install(fake: FakeAzure, *, resource_group: str = "rg", subscription: str = SUBSCRIPTION,
            location: Optional[str] = None, lro: Optional[str] = None, polls: Optional[int] = None) -> AppServiceFake:
    """Add the Microsoft.Web routes. lro="location" answers plan/site PUTs with 202 + Location
    (the other style azure-mgmt-web accepts); the default answers 200 at once."""
    web = AppServiceFake(fake=fake, subscription=subscription, resource_group=resource_group,
                         location=location or fake.location)
    put_status = 202 if lro == "location" else 200
    fake.behaviour(r"/providers/Microsoft\.Web/serverfarms/[^/]+$", create_status=put_status,
                   update_status=put_status, lro=lro, polls=polls, delete_status=200, delete_lro=None,
                   transform=lambda f, req, body, existing: _plan_transform(web, req, body, existing))
    for rx, is_slot in ((SITE_RE + "$", False), (SLOT_RE + "$", True)):
        fake.behaviour(rx, create_status=put_status, update_status=put_status, lro=lro, polls=polls,
                       delete_status=200, delete_lro=None,
                       transform=lambda f, req, body, existing, s=is_slot: _site_put(web, req, body, existing, s),
                       on_delete=lambda f, rid: _forget(web, rid))

    # Autoscale settings: create/update answer 201/200 synchronously, delete 200 (azure-mgmt-monitor accepts
    # [200, 201] and [200, 204]). Application Insights components get a connection string, as Azure adds one.
    fake.behaviour(r"/providers/microsoft\.insights/autoscalesettings/[^/]+$", create_status=201, update_status=200,
                   lro=None, delete_status=200, delete_lro=None)
    fake.behaviour(r"/providers/microsoft\.insights/components/[^/]+$",
                   transform=lambda f, req, body, existing: _insights_transform(web, body, existing))

    # ---- plans ---------------------------------------------------------------------
    @fake.route("GET", PLAN_RE + "$")
    def get_plan(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = f.resources.get(req.path.lower().rstrip("/"))
        if body is None:
            return None
        body = json.loads(json.dumps(body))
        body.setdefault("properties", {})["numberOfSites"] = len(_sites_on(f, req.path))
        return f.json(200, body)

    @fake.route("DELETE", PLAN_RE + "$")
    def delete_plan(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if _sites_on(f, req.path):
            return f.error(409, "Conflict", "Server farm cannot be deleted because it has web app(s) assigned to it.")
        return None

    # ---- sites and slots: validation before the generic store writes -------------------
    @fake.route("PUT", ANY_SITE_RE + "$")
    def put_site(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        body = req.body if isinstance(req.body, dict) else {}
        props = body.get("properties") or {}
        app, slot = m.group("app"), m.group("slot")
        if slot:
            parent = f.resources.get(web.site_id(app, rg=m.group("rg")).lower())
            if parent is None:
                return f.error(404, "ResourceNotFound", f"The Resource 'Microsoft.Web/sites/{app}' under resource "
                               f"group '{m.group('rg')}' was not found.")
            farm = props.get("serverFarmId") or (parent.get("properties") or {}).get("serverFarmId")
        else:
            farm = props.get("serverFarmId")
            existing = f.resources.get(req.path.lower().rstrip("/"))
            if existing is None and app.lower() in {t.lower() for t in web.taken}:
                return f.error(409, "Conflict", f"Website with given name {app} already exists.")
            farm = farm or ((existing or {}).get("properties") or {}).get("serverFarmId")
        plan = f.resources.get(str(farm or "").lower().rstrip("/"))
        if plan is None:
            return f.error(404, "NotFound", f"Server farm with name {str(farm).rsplit('/', 1)[-1]} not found.")
        linux_fx = str(((props.get("siteConfig") or {}).get("linuxFxVersion")) or "")
        if linux_fx.upper().startswith("DOCKER|") and not (plan.get("properties") or {}).get("reserved"):
            return f.error(400, "BadRequest", "LinuxFxVersion has an invalid value: containers need a Linux plan.")
        if slot:
            tier = tier_of(plan.get("sku") or {}).lower()
            siblings = f.children(web.site_id(app, rg=m.group("rg")) + "/slots")
            new = f.resources.get(req.path.lower().rstrip("/")) is None
            if tier in NO_SLOTS or (new and len(siblings) >= SLOT_LIMITS.get(tier, 5)):
                return f.error(409, "Conflict", "Cannot complete the operation because the site will exceed the "
                               f"number of slots allowed for the '{tier_of(plan.get('sku') or {})}' SKU.")
        return None  # fall through to the generic store (behaviour + transform)

    # ---- configuration ------------------------------------------------------------------
    @fake.route("GET", ANY_SITE_RE + r"/config/web$")
    def get_config(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        key = _key(m)
        if f.resources.get(_site_path(req.path, "/config/web")) is None:
            return _not_found(f, m)
        return f.json(200, {"id": req.path, "name": "web", "type": "Microsoft.Web/sites/config",
                            "properties": web.configs.get(key) or {}})

    @fake.route("POST", ANY_SITE_RE + r"/config/appsettings/list$")
    def list_settings(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/config/appsettings/list")) is None:
            return _not_found(f, m)
        return f.json(200, {"id": req.path, "name": "appsettings", "type": "Microsoft.Web/sites/config",
                            "properties": web.settings.get(_key(m)) or {}})

    @fake.route("PUT", ANY_SITE_RE + r"/config/appsettings$")
    def put_settings(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/config/appsettings")) is None:
            return _not_found(f, m)
        web.settings[_key(m)] = dict(((req.body or {}).get("properties")) or {})
        web.restart(*_key(m))
        return f.json(200, {"id": req.path, "name": "appsettings", "properties": web.settings[_key(m)]})

    @fake.route("GET", SITE_RE + r"/config/slotConfigNames$")
    def get_sticky(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/config/slotConfigNames")) is None:
            return _not_found(f, m)
        props = web.sticky.get(m.group("app").lower()) or {"appSettingNames": [], "connectionStringNames": []}
        return f.json(200, {"id": req.path, "name": "slotConfigNames", "properties": props})

    @fake.route("PUT", SITE_RE + r"/config/slotConfigNames$")
    def put_sticky(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/config/slotConfigNames")) is None:
            return _not_found(f, m)
        props = dict(((req.body or {}).get("properties")) or {})
        web.sticky[m.group("app").lower()] = {"appSettingNames": list(props.get("appSettingNames") or []),
                                              "connectionStringNames": list(props.get("connectionStringNames") or [])}
        return f.json(200, {"id": req.path, "name": "slotConfigNames", "properties": web.sticky[m.group("app").lower()]})

    # ---- operations --------------------------------------------------------------------
    @fake.route("POST", SLOT_RE + r"/slotsswap$")
    def swap(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        app, source = m.group("app").lower(), m.group("slot")
        target = str(((req.body or {}).get("targetSlot")) or PRODUCTION)
        for s in (source, target):
            if f.resources.get(web.site_id(app, s, rg=m.group("rg")).lower()) is None:
                return f.error(404, "ResourceNotFound", f"slot {s} of {app} not found")
        failure = f._failure_for("POST", req.path)  # fake.fail_operation(..., method="POST") makes a swap fail
        if failure is not None:
            return f.error(409 if failure.code == "Conflict" else 400, failure.code, failure.message)
        _swap(web, app, source, target)
        return f.json(200, None) if lro != "location" else _location_op(f, req.path)

    @fake.route("POST", ANY_SITE_RE + r"/restart$")
    def restart(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/restart")) is None:
            return _not_found(f, m)
        web.restarts.append(_key(m))
        web.restart(*_key(m))
        return f.json(200, None)

    @fake.route("POST", SITE_RE + r"/containerlogs$")
    def container_logs(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        if f.resources.get(_site_path(req.path, "/containerlogs")) is None:
            return _not_found(f, m)
        text = web.logs.get(m.group("app").lower(), "")
        return f.text(200, text, content_type="application/octet-stream") if text else f.json(204, None)

    @fake.route("POST", r"/subscriptions/[^/]+/providers/Microsoft\.Web/checknameavailability$")
    def check_name(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        name = str((req.body or {}).get("name") or "").lower()
        exists = any(re.search(r"/providers/microsoft\.web/sites/" + re.escape(name) + "$", k) for k in f.resources)
        if name in {t.lower() for t in web.taken} or exists:
            return f.json(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                "message": f"Hostname '{name}' already exists. Please select a different name."})
        return f.json(200, {"nameAvailable": True})

    @fake.route("GET", r"/subscriptions/[^/]+/providers/Microsoft\.Web/geoRegions$")
    def geo_regions(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        return f.json(200, {"value": [
            {"id": f"/subscriptions/{web.subscription}/providers/Microsoft.Web/geoRegions/{name}", "name": name,
             "type": "Microsoft.Web/geoRegions", "properties": {"displayName": name, "orgDomain": "PUBLIC"}}
            for name in web.regions]})

    @fake.route("GET", r"/subscriptions/[^/]+/providers/Microsoft\.Web/locations/(?P<loc>[^/]+)/usages$")
    def usages(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        return f.json(200, {"value": [
            {"name": {"value": f"{tier}VMs", "localizedValue": f"Current Limit ({tier} VMs)"}, "unit": "Count",
             "currentValue": cur, "limit": lim} for tier, (cur, lim) in sorted(web.usages.items())]})

    # ---- data plane -----------------------------------------------------------------------
    @fake.data_plane(r"\.azurewebsites\.net$")
    def data_plane(f: FakeAzure, req: RecordedRequest, m: re.Match) -> Any:
        found = _by_host(f, req.host)
        if found is None:
            return f.text(404, "Web app not found")
        app, slot = found
        if req.method == "GET" and req.path in ("", "/"):
            return f.json(200, {"status": "alive"})
        if req.method == "GET" and req.path == "/ready":
            with web.lock:
                n = web.starts.get((app, slot), 0)
                web.starts[(app, slot)] = n + 1
            if n < web.ready_after or not web.is_healthy(app, slot):
                return f.json(503, {"status": "loading" if n < web.ready_after else "unhealthy"})
            return f.json(200, {"status": "ready"})
        if req.method == "POST" and req.path == "/score":
            if not web.is_healthy(app, slot):
                return f.text(502, "Bad Gateway")
            key = (web.settings.get((app, slot)) or {}).get("SCORING_KEY")
            if not key or req.auth != key:
                return f.json(401, {"error": "missing or wrong key"})
            payload = req.body
            web.scored.append((app, slot, payload))
            if web.scorer is not None:
                status, body = web.scorer(app, slot, payload)
                return f.json(status, body)
            return f.json(200, [0] * _rows(payload))
        return f.text(404, "Not Found")

    return web


# ----------------------------------------------------------------- internals


def _rows(payload: Any) -> int:
    """Rows in an Azure ML-style body: {"input_data": ...} or {"data": [...]}, split or records."""
    body = payload.get("input_data", payload) if isinstance(payload, dict) else payload
    if isinstance(body, dict):
        body = body.get("data") or []
    return max(len(body), 1) if isinstance(body, list) else 1


def _key(m: re.Match) -> tuple[str, str]:
    return m.group("app").lower(), (m.groupdict().get("slot") or PRODUCTION)


def _site_path(path: str, suffix: str) -> str:
    return path[: -len(suffix)].lower().rstrip("/")


def _not_found(f: FakeAzure, m: re.Match) -> Any:
    return f.error(404, "ResourceNotFound", f"The Resource 'Microsoft.Web/sites/{m.group('app')}' under resource group "
                   f"'{m.group('rg')}' was not found.")


def _sites_on(f: FakeAzure, plan_path: str) -> list[str]:
    pid = plan_path.lower().rstrip("/")
    return [k for k, v in f.resources.items()
            if re.search(r"/providers/microsoft\.web/sites/[^/]+$", k)
            and str(((v.get("properties") or {}).get("serverFarmId")) or "").lower() == pid]


def _plan_transform(web: AppServiceFake, req: RecordedRequest, body: dict, existing: Optional[dict]) -> None:
    sku = body.setdefault("sku", {})
    if existing and sku.get("capacity") is None:
        sku["capacity"] = ((existing.get("sku") or {}).get("capacity")) or 1
    sku.setdefault("capacity", 1)
    sku["tier"] = tier_of(sku)
    props = body.setdefault("properties", {})
    props.setdefault("reserved", False)
    props["status"] = "Ready"
    props["numberOfWorkers"] = sku["capacity"]
    props["maximumNumberOfWorkers"] = 30 if "premium" in sku["tier"].lower() else 10 if sku["tier"] == "Standard" else 3


def _insights_transform(web: AppServiceFake, body: dict, existing: Optional[dict]) -> None:
    props = body.setdefault("properties", {})
    old = (existing or {}).get("properties") or {}
    ikey = old.get("InstrumentationKey") or str(uuid.uuid4())
    props["InstrumentationKey"] = ikey
    props["ConnectionString"] = old.get("ConnectionString") or (
        f"InstrumentationKey={ikey};IngestionEndpoint=https://{web.location}-0.in.applicationinsights.azure.com/")


def _site_put(web: AppServiceFake, req: RecordedRequest, body: dict, existing: Optional[dict], is_slot: bool) -> None:
    m = re.search(SLOT_RE + "$" if is_slot else SITE_RE + "$", req.path, re.I)
    app = m.group("app") if m else body.get("name", "")
    slot = m.group("slot") if (m and is_slot) else PRODUCTION
    _site_transform(web, req, body, existing, app, slot)


def _site_transform(web: AppServiceFake, req: Optional[RecordedRequest], body: dict, existing: Optional[dict],
                    app: str, slot: str) -> None:
    """Server-side fields; app settings and site config move to their own stores (as ARM keeps them)."""
    props = body.setdefault("properties", {})
    key = (app.lower(), slot)
    conf = dict(props.pop("siteConfig", None) or {})
    settings = conf.pop("appSettings", None)
    with web.lock:
        if settings is not None:
            web.settings[key] = {s["name"]: s.get("value", "") for s in settings}
        elif key not in web.settings:
            web.settings[key] = {}
        merged = dict(web.configs.get(key) or {})
        merged.update({k: v for k, v in conf.items() if v is not None})
        web.configs[key] = merged
        web.restart(app, slot)
    host = f"{app.lower()}.azurewebsites.net" if slot == PRODUCTION else f"{app.lower()}-{slot.lower()}.azurewebsites.net"
    old = (existing or {}).get("properties") or {}
    if slot != PRODUCTION and not props.get("serverFarmId"):
        parent = web.fake.resources.get(web.site_id(app).lower()) or {}
        props["serverFarmId"] = (parent.get("properties") or {}).get("serverFarmId")
    props.setdefault("serverFarmId", old.get("serverFarmId"))
    props["defaultHostName"] = host
    props["hostNames"] = [host]
    props["enabledHostNames"] = [host, host.replace(".azurewebsites.net", ".scm.azurewebsites.net")]
    props["state"] = "Running"
    props["siteConfig"] = {"linuxFxVersion": merged.get("linuxFxVersion")}
    identity = body.get("identity") or {}
    if str(identity.get("type") or "").lower().startswith("systemassigned"):
        prev = (existing or {}).get("identity") or {}
        identity["principalId"] = prev.get("principalId") or str(uuid.uuid4())
        identity["tenantId"] = prev.get("tenantId") or "11111111-1111-1111-1111-111111111111"
        body["identity"] = identity


def _forget(web: AppServiceFake, resource_id: str) -> None:
    m = re.search(ANY_SITE_RE + "$", resource_id, re.I)
    if not m:
        return
    app, slot = _key(m)
    with web.lock:
        for store in (web.settings, web.configs, web.starts):
            for k in [k for k in store if k[0] == app and (slot == PRODUCTION or k[1] == slot)]:
                del store[k]
        if slot == PRODUCTION:
            web.sticky.pop(app, None)


def _swap(web: AppServiceFake, app: str, source: str, target: str) -> None:
    """Exchange image/config and non-sticky settings between two slots (sticky ones stay)."""
    with web.lock:
        sticky = set((web.sticky.get(app) or {}).get("appSettingNames") or [])
        a, b = (app, source), (app, target)
        ca, cb = dict(web.configs.get(a) or {}), dict(web.configs.get(b) or {})
        for k in SWAPPED_CONFIG:
            va, vb = ca.get(k), cb.get(k)
            ca[k], cb[k] = vb, va
        web.configs[a], web.configs[b] = ca, cb
        sa, sb = dict(web.settings.get(a) or {}), dict(web.settings.get(b) or {})
        na = {k: v for k, v in sa.items() if k in sticky} | {k: v for k, v in sb.items() if k not in sticky}
        nb = {k: v for k, v in sb.items() if k in sticky} | {k: v for k, v in sa.items() if k not in sticky}
        web.settings[a], web.settings[b] = na, nb
        for key, conf in ((a, ca), (b, cb)):
            rid = web.site_id(app, key[1]).lower()
            stored = web.fake.resources.get(rid)
            if stored is not None:
                stored.setdefault("properties", {})["siteConfig"] = {"linuxFxVersion": conf.get("linuxFxVersion")}
        web.swaps.append((app, source, target))
        # a swap warms the source first; both slots then serve what they received
        web.starts[a] = max(web.starts.get(a, 0), web.ready_after)
        web.starts[b] = max(web.starts.get(b, 0), web.ready_after)


def _by_host(f: FakeAzure, host: str) -> Optional[tuple[str, str]]:
    host = host.lower()
    for rid, body in list(f.resources.items()):
        m = re.search(ANY_SITE_RE + "$", rid, re.I)
        if m and str(((body.get("properties") or {}).get("defaultHostName")) or "").lower() == host:
            return _key(m)
    return None


def _location_op(f: FakeAzure, path: str) -> Any:
    """202 + Location for a POST that azure-mgmt-web polls (uses the core fake's operation table)."""
    op = f._new_operation("put", path, f.default_polls, "location", None)
    return f.json(202, None, f._op_headers(op, path, "location"))
