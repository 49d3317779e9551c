"""Prices from any Azure Retail Prices API export, plus a live refresh.

The API (https://prices.azure.com/api/retail/prices) answers pages shaped like
`{"BillingCurrency", "Items": [...], "NextPageLink", "Count"}`. `load_prices`
accepts one page, a list of pages, a bare list of items, JSON Lines, or a
directory of page files; with `fetch=` it also follows `NextPageLink`.
`refresh(region)` queries the live API with urllib (the only network code in
the advisor; `recommend` never calls it) and returns a `PriceBook`, which
`save_snapshot` writes back in the same shape.

Rules for picking a price (azure-targets.md, "Recipe for an endpoint VM price"):
`type` Consumption only; Spot and Low Priority meters dropped; Windows VM
products dropped (endpoints run Linux); App Service rows only from products
ending "- Linux"; when several rows match, the latest `effectiveStartDate`
wins, then the lowest price (deterministic).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import urllib.parse
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from .catalog import DATA_DIR

API_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
DEFAULT_SNAPSHOT = DATA_DIR / "prices-2026-06-18.json"
FALLBACK_REGION = "eastus"
MAX_PAGES = 200

ACA_METERS = ("Standard vCPU Active Usage", "Standard vCPU Idle Usage", "Standard Memory Active Usage",
              "Standard Memory Idle Usage", "Standard Requests")

Fetch = Callable[[str], dict]


class PriceError(ValueError):
    """A price export could not be read."""


def plan_key(name: str) -> str:
    """An App Service plan name as the price book keys it: "P1 v3" / "P1v3" / "p1_v3" -> "p1v3"."""
    return re.sub(r"[\s_]+", "", name or "").lower()


_UNIT_RE = re.compile(r"^\s*([\d.]+)\s*([KM]?)\s*(.*)$", re.I)


def _unit_divisor(unit: str) -> tuple[float, str]:
    """'1 Hour' -> (1, 'hour'); '100 Hours' -> (100, 'hour'); '1M' -> (1e6, ''); '1 GiB Second' -> (1, 'gib second')."""
    m = _UNIT_RE.match(unit or "")
    if not m:
        return 1.0, (unit or "").strip().lower()
    n = float(m.group(1) or 1)
    mult = {"": 1.0, "K": 1e3, "M": 1e6}[m.group(2).upper()]
    rest = m.group(3).strip().lower().rstrip("s")
    if rest.endswith("hour"):
        rest = rest[:-4] + "hour"
    return n * mult, rest


class PriceBook:
    """Prices indexed for the advisor. Keys:

    - ("vm", region, armSkuName) -> USD per hour (Linux, pay-as-you-go)
    - ("appservice", region, "p1v3") -> USD per plan instance-hour (Linux)
    - ("aks-standard", region, "") -> USD per cluster-hour (Standard tier, Uptime SLA meter)
    - ("aca", region, meterName) -> list of (tierMinimumUnits, USD per unit) with units
      of seconds, GiB-seconds or single requests
    """

    def __init__(self, as_of: str, currency: str = "USD", source: str = "", note: str = "") -> None:
        self.as_of = as_of
        self.currency = currency
        self.source = source
        self.note = note
        # key -> (effective date, price, value, source items)
        self._rows: dict[tuple[str, str, str], tuple[str, float, Any, list]] = {}
        self._resolved: dict[str, dict] = {}
        self._regions: dict[str, RegionPrices] = {}
        self.items_read = 0
        self.items_used = 0

    # ---------------------------------------------------------------- building
    def add_item(self, it: dict) -> bool:
        """Index one Retail Prices API item; returns whether it was used."""
        self.items_read += 1
        if str(it.get("type", "Consumption")) != "Consumption":
            return False
        meter = str(it.get("meterName", ""))
        sku_name = str(it.get("skuName", ""))
        if "Spot" in meter or "Low Priority" in meter or "Spot" in sku_name or "Low Priority" in sku_name:
            return False
        try:
            price = float(it.get("retailPrice", it.get("unitPrice")))
        except (TypeError, ValueError):
            return False
        region = str(it.get("armRegionName", "")).lower()
        service = str(it.get("serviceName", ""))
        product = str(it.get("productName", ""))
        div, unit = _unit_divisor(str(it.get("unitOfMeasure", "1 Hour")))
        date = str(it.get("effectiveStartDate", ""))[:10]
        key: Optional[tuple[str, str, str]] = None
        value: Any = None
        if service == "Virtual Machines":
            arm = str(it.get("armSkuName", ""))
            if not arm or product.rstrip().endswith("Windows") or unit != "hour":
                return False
            key, value = ("vm", region, arm), price / div
        elif service == "Azure App Service":
            if not product.rstrip().endswith("- Linux") or "Plan" not in product or unit != "hour":
                return False
            key, value = ("appservice", region, plan_key(sku_name or meter.replace(" App", ""))), price / div
        elif service == "Azure Kubernetes Service":
            if meter != "Standard Uptime SLA" or unit != "hour":
                return False
            key, value = ("aks-standard", region, ""), price / div
        elif service == "Azure Container Apps":
            if meter not in ACA_METERS:
                return False
            tier = float(it.get("tierMinimumUnits") or 0.0)
            key = ("aca", region, meter)
            per_unit = price / div
            prev = self._rows.get(key)
            if prev and prev[0] > date:
                return False
            same = prev is not None and prev[0] == date
            tiers = dict(prev[2]) if same else {}
            tiers[tier * div] = per_unit
            items = (prev[3] + [it]) if same else [it]
            self._rows[key] = (date, per_unit, tuple(sorted(tiers.items())), items)
            self._resolved.clear()
            self._regions.clear()
            self.items_used += 1
            return True
        if key is None:
            return False
        prev = self._rows.get(key)
        if prev is not None and (prev[0], -prev[1]) >= (date, -value):
            return False
        self._rows[key] = (date, value, value, [it])
        self._resolved.clear()
        self._regions.clear()
        self.items_used += 1
        return True

    def add_items(self, items: Iterable[dict]) -> "PriceBook":
        for it in items:
            if isinstance(it, dict):
                self.add_item(it)
        return self

    # ---------------------------------------------------------------- reading
    def get(self, kind: str, region: str, key: str = "") -> Any:
        row = self._rows.get((kind, region, key))
        return row[2] if row is not None else None

    def item(self, kind: str, region: str, key: str = "") -> Optional[dict]:
        row = self._rows.get((kind, region, key))
        return row[3][0] if row is not None else None

    def regions(self) -> list[str]:
        return sorted({k[1] for k in self._rows})

    def keys(self) -> list[tuple[str, str, str]]:
        return sorted(self._rows)

    def lookup(self, kind: str, region: str, key: str = "") -> tuple[Any, str]:
        """(value, region used); falls back to eastus; (None, "") when unknown anywhere."""
        v = self.get(kind, region, key)
        if v is not None:
            return v, region
        v = self.get(kind, FALLBACK_REGION, key)
        if v is not None:
            return v, FALLBACK_REGION
        return None, ""

    def resolved(self, region: str) -> dict:
        """All lookups for one region, computed once and cached: {(kind, key): (value, region_used)}."""
        table = self._resolved.get(region)
        if table is None:
            table = {}
            for kind, _r, key in self._rows:
                if (kind, key) not in table:
                    table[(kind, key)] = self.lookup(kind, region, key)
            self._resolved[region] = table
        return table

    def for_region(self, region: str) -> "RegionPrices":
        """The prices a recommendation in `region` reads (built once per region)."""
        rp = self._regions.get(region)
        if rp is None:
            rp = self._regions[region] = RegionPrices(self, region)
        return rp

    # ---------------------------------------------------------------- export
    def to_envelope(self) -> dict:
        items = [it for _k, row in sorted(self._rows.items()) for it in row[3]]
        return {"BillingCurrency": self.currency, "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                "_snapshot": {"as_of": self.as_of, "source": self.source, "note": self.note},
                "Items": items, "NextPageLink": None, "Count": len(items)}


class RegionPrices:
    """A book's prices for one region, each with the region it came from (eastus when the region has none)."""

    def __init__(self, book: PriceBook, region: str) -> None:
        self.book = book
        self.region = region
        self.as_of = book.as_of
        self._table = book.resolved(region)

    def get(self, kind: str, key: str = "") -> tuple[Any, str]:
        """(value, region used), or (None, "") when no region has it. Kinds as in PriceBook."""
        return self._table.get((kind, key), (None, ""))

    def hourly(self, kind: str, key: str) -> Optional[tuple[float, str]]:
        """(USD per hour, region used) of a VM size ("vm") or an App Service plan ("appservice"), or None."""
        v = self._table.get((kind, key))
        return None if v is None or v[0] is None else v

    @property
    def source(self) -> str:
        """Where the prices came from: the bundled file (a path independent of the checkout), or the export."""
        src = self.book.source.replace("\\", "/")
        if not src:
            return "advisor/data"
        if "/advisor/data/" in src:
            return "advisor/data/" + src.rsplit("/", 1)[-1]
        return src


# ---------------------------------------------------------------- reading exports

def _iter_pages(data: Any, fetch: Optional[Fetch]) -> Iterator[dict]:
    """Yield envelopes; follow NextPageLink through `fetch` when given."""
    if isinstance(data, dict):
        page: Optional[dict] = data
        seen = 0
        while page is not None:
            yield page
            seen += 1
            nxt = page.get("NextPageLink")
            if not nxt or fetch is None or seen >= MAX_PAGES:
                break
            page = fetch(nxt)
    elif isinstance(data, list):
        if data and all(isinstance(x, dict) and "Items" in x for x in data):
            for env in data:
                yield from _iter_pages(env, None)
        else:
            yield {"Items": data}
    else:
        raise PriceError("a Retail Prices export must be a JSON object with Items, a list of pages or a list of items")


def _read_json_file(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise PriceError(f"{path}: line {n}: not JSON ({e.msg})") from None
        if rows and all("Items" in r for r in rows if isinstance(r, dict)):
            return rows
        return rows


_DATE_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def load_prices(source: Union[str, Path, dict, list, None] = None, *, as_of: Optional[str] = None,
                fetch: Optional[Fetch] = None) -> PriceBook:
    """Read a Retail Prices API export into a PriceBook.

    `source`: a path to a page file (JSON or JSON Lines), a directory of page
    files, an in-memory page / list of pages / list of items, or None for the
    bundled snapshot. `as_of` defaults to the snapshot's own date, then a date
    in the file name, then the newest `effectiveStartDate`.
    """
    if source is None:
        return default_prices()
    label = ""
    pages: list[dict] = []
    if isinstance(source, (str, Path)):
        p = Path(source)
        label = str(p)
        if p.is_dir():
            files = sorted(p.glob("*.json")) + sorted(p.glob("*.jsonl"))
            if not files:
                raise PriceError(f"{p}: no .json page files")
            for f in files:
                pages.extend(_iter_pages(_read_json_file(f), None))
        elif p.is_file():
            pages.extend(_iter_pages(_read_json_file(p), fetch))
        else:
            raise PriceError(f"{p}: no such price file")
    else:
        pages.extend(_iter_pages(source, fetch))
    currency = "USD"
    meta_as_of = None
    note = ""
    for env in pages:
        if not isinstance(env, dict) or not isinstance(env.get("Items", []), list):
            raise PriceError(f"{label or 'prices'}: a page's Items must be a list")
        currency = str(env.get("BillingCurrency", currency))
        meta = env.get("_snapshot") or {}
        meta_as_of = meta_as_of or meta.get("as_of")
        note = note or meta.get("note", "")
    if as_of is None:
        as_of = meta_as_of
    if as_of is None and label:
        m = _DATE_IN_NAME.search(Path(label).name)
        as_of = m.group(1) if m else None
    book = PriceBook(as_of or "", currency=currency, source=label, note=note)
    for env in pages:
        book.add_items(env.get("Items", []))
    if not book.as_of:
        dates = [row[0] for row in book._rows.values() if row[0]]
        book.as_of = max(dates) if dates else "unknown"
    return book


PRICES_ENV = "DEPLOY_ADVISOR_PRICES"


def prices_home() -> Path:
    """Where `refresh` keeps snapshots: $DEPLOY_ADVISOR_HOME/prices (default ~/.deploy-advisor/prices)."""
    home = os.environ.get("DEPLOY_ADVISOR_HOME") or str(Path.home() / ".deploy-advisor")
    return Path(home).expanduser() / "prices"


def _bundled_date() -> str:
    m = _DATE_IN_NAME.search(DEFAULT_SNAPSHOT.name)
    return m.group(1) if m else ""


def latest_refreshed(home: Optional[Path] = None) -> Optional[Path]:
    """The newest snapshot written by `refresh` that is not older than the bundled one."""
    folder = home or prices_home()
    if not folder.is_dir():
        return None
    dated = sorted((m.group(1), p) for p in folder.glob("prices-*.json") if (m := _DATE_IN_NAME.search(p.name)))
    if not dated or dated[-1][0] < _bundled_date():
        return None
    return dated[-1][1]


@lru_cache(maxsize=1)
def default_prices() -> PriceBook:
    """The price book used when none is given, loaded once per process.

    In order: the export named by $DEPLOY_ADVISOR_PRICES; the newest snapshot
    `deploy-advisor prices refresh` saved under $DEPLOY_ADVISOR_HOME/prices;
    the bundled dated snapshot (advisor/data/prices-2026-06-18.json). A refreshed
    snapshot that cannot be read is skipped (the book's note says so)."""
    override = os.environ.get(PRICES_ENV)
    if override:
        return load_prices(override)
    latest = latest_refreshed()
    if latest is not None:
        try:
            return load_prices(latest)
        except (PriceError, OSError, ValueError) as e:
            book = load_prices(DEFAULT_SNAPSHOT)
            book.note = f"{latest} could not be read ({e}); using the bundled snapshot. " + book.note
            return book
    return load_prices(DEFAULT_SNAPSHOT)


# ---------------------------------------------------------------- live refresh

def _urllib_fetch(url: str, timeout: float = 30.0) -> dict:
    req = urllib.request.Request(url, headers={"User-Agent": "deploy-advisor", "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - fixed https host
        return json.loads(resp.read().decode("utf-8"))


def refresh_queries(region: str, vm_skus: Iterable[str]) -> list[str]:
    """The Retail Prices API URLs `refresh` asks (filter values are case-sensitive)."""
    if not re.fullmatch(r"[a-z][a-z0-9]{1,40}", region or ""):
        raise PriceError(f"region {region!r}: expected an Azure region name such as eastus")
    skus = sorted(set(vm_skus))
    vm_or = " or ".join(f"armSkuName eq '{s}'" for s in skus)
    filters = [
        f"serviceName eq 'Virtual Machines' and armRegionName eq '{region}' and priceType eq 'Consumption' and ({vm_or})",
        f"serviceName eq 'Azure App Service' and armRegionName eq '{region}' and priceType eq 'Consumption'",
        f"serviceName eq 'Azure Kubernetes Service' and armRegionName eq '{region}' and priceType eq 'Consumption'",
        f"serviceName eq 'Azure Container Apps' and armRegionName eq '{region}' and priceType eq 'Consumption'",
    ]
    return [f"{API_URL}?api-version={API_VERSION}&currencyCode=USD&$filter=" + urllib.parse.quote(f, safe="")
            for f in filters]


def fetch_live(region: str, *, fetch: Optional[Fetch] = None, base: Optional[PriceBook] = None,
               today: Optional[str] = None) -> PriceBook:
    """Fetch live prices for `region` (and eastus, the fallback) from the Retail Prices API.

    Follows every NextPageLink. `fetch(url) -> dict` defaults to urllib; tests
    pass a function that serves recorded pages. Items of `base` (default: the
    current default prices) for other regions are kept so fallbacks still work.
    Raises PriceError when the API cannot be reached.
    """
    from .catalog import skus as sku_table

    fetch = fetch or _urllib_fetch
    skus = list(sku_table().vm)
    as_of = today or _dt.date.today().isoformat()
    book = PriceBook(as_of, source=API_URL, note=f"Fetched live from the Retail Prices API for {region} on {as_of}.")
    fetched_regions = [region] if region == FALLBACK_REGION else [region, FALLBACK_REGION]
    for r in fetched_regions:
        for url in refresh_queries(r, skus):
            try:
                first = fetch(url)
            except PriceError:
                raise
            except Exception as e:  # network errors, HTTP errors, bad JSON
                raise PriceError(f"could not reach the Retail Prices API ({e.__class__.__name__}: {e})") from None
            for env in _iter_pages(first, fetch):
                book.add_items(env.get("Items", []))
    base = base if base is not None else default_prices()
    for (kind, reg, key), row in list(base._rows.items()):
        if reg not in fetched_regions and (kind, reg, key) not in book._rows:
            book._rows[(kind, reg, key)] = row
    return book


def refresh(region: str, *, fetch: Optional[Fetch] = None, home: Optional[Path] = None,
            today: Optional[str] = None) -> Path:
    """`deploy-advisor prices refresh --region R`: fetch live prices, save them as
    <home>/prices-<date>.json (home: $DEPLOY_ADVISOR_HOME/prices) and make them the
    default for later recommendations. Returns the file written; raises PriceError
    without a network."""
    book = fetch_live(region, fetch=fetch, today=today)
    path = save_snapshot(book, (home or prices_home()) / f"prices-{book.as_of}.json")
    default_prices.cache_clear()
    return path


def save_snapshot(book: PriceBook, path: Union[str, Path]) -> Path:
    """Write the book as one Retail Prices API page (sorted, stable)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(book.to_envelope(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return p
