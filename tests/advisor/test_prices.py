"""The price loader reads any Retail Prices API export; refresh follows pages (no network)."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from advisor.prices import (DEFAULT_SNAPSHOT, PriceBook, PriceError, default_prices, fetch_live, latest_refreshed,
                            load_prices, refresh, refresh_queries, save_snapshot)

from .conftest import DATA

PAGE1 = DATA / "retail-page-1.json"
PAGE2 = DATA / "retail-page-2.json"
NEXT = json.loads(PAGE1.read_text())["NextPageLink"]


def fake_fetch(pages: dict[str, dict]):
    calls: list[str] = []

    def fetch(url: str) -> dict:
        calls.append(url)
        if url not in pages:
            raise AssertionError(f"unexpected URL {url}")
        return pages[url]
    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


def test_bundled_snapshot_is_in_the_api_shape():
    env = json.loads(DEFAULT_SNAPSHOT.read_text())
    assert set(env) >= {"BillingCurrency", "Items", "NextPageLink", "Count"}
    assert env["Count"] == len(env["Items"]) and env["NextPageLink"] is None
    need = {"retailPrice", "unitPrice", "armRegionName", "armSkuName", "meterName", "productName", "serviceName",
            "unitOfMeasure", "type", "effectiveStartDate", "currencyCode"}
    for it in env["Items"]:
        assert need <= set(it), it
        assert it["_source"]  # where the figure was read
    book = default_prices()
    assert book.as_of == "2026-06-18" and book.items_used == len(env["Items"])


@pytest.mark.parametrize("kind,region,key,price", [
    ("vm", "eastus", "Standard_DS3_v2", 0.293),
    ("vm", "westeurope", "Standard_DS3_v2", 0.272),
    ("vm", "eastus", "Standard_NC24ads_A100_v4", 3.673),
    ("appservice", "eastus", "p1v3", 0.155),
    ("appservice", "eastus", "p0v3", 0.0775),
    ("aks-standard", "eastus", "", 0.10),
])
def test_snapshot_figures_from_the_reference(kind, region, key, price):
    assert default_prices().get(kind, region, key) == pytest.approx(price)


def test_container_apps_meters_per_unit():
    book = default_prices()
    assert book.get("aca", "eastus", "Standard vCPU Active Usage") == ((0.0, 0.000024),)
    assert book.get("aca", "eastus", "Standard Requests") == ((0.0, pytest.approx(0.4e-6)),)


def test_fallback_to_eastus_when_a_region_lacks_a_price():
    book = default_prices()
    assert book.lookup("appservice", "westeurope", "p1v3") == (0.155, "eastus")
    assert book.lookup("vm", "westeurope", "Standard_F4s_v2") == (0.194, "westeurope")
    assert book.lookup("vm", "brazilsouth", "Standard_F4s_v2") == (0.169, "eastus")
    assert book.lookup("vm", "eastus", "Standard_Nope") == (None, "")


def test_loader_follows_next_page_link_of_a_recorded_page():
    page2 = json.loads(PAGE2.read_text())
    fetch = fake_fetch({NEXT: page2})
    book = load_prices(PAGE1, fetch=fetch)
    assert fetch.calls == [NEXT]
    # Linux pay-as-you-go only: Spot, Low Priority, Windows, DevTest and Reservation rows are ignored,
    # and the newer DS3 v2 row (0.272, 2026) wins over the older one on page 2 (0.31, 2019).
    assert book.get("vm", "westeurope", "Standard_DS3_v2") == 0.272
    assert book.get("vm", "westeurope", "Standard_F16s") is None
    assert book.get("vm", "westeurope", "Standard_E64-32ds_v4") is None
    assert book.get("vm", "westeurope", "Standard_NC24ads_A100_v4") == 4.775
    assert book.get("appservice", "westeurope", "p1v3") == 0.179  # not the Windows 0.363 row
    assert book.get("appservice", "westeurope", "b1") == 0.018
    assert book.get("aks-standard", "westeurope") == 0.1  # not Long Term Support
    # tiered meter: the zero-price first tier is the free grant
    assert book.get("aca", "westeurope", "Standard vCPU Active Usage") == ((0.0, 0.0), (180000.0, 0.000028))
    assert book.get("aca", "westeurope", "Standard Requests") == ((0.0, 0.0), (2_000_000.0, pytest.approx(0.4e-6)))
    assert book.as_of == "2026-06-18"  # newest effectiveStartDate when the export carries no date


def test_without_fetch_only_the_given_page_is_read():
    book = load_prices(PAGE1)
    assert book.get("vm", "westeurope", "Standard_DS3_v2") == 0.272
    assert book.get("appservice", "westeurope", "p1v3") is None


@pytest.mark.parametrize("shape", ["list_of_pages", "list_of_items", "jsonl", "directory"])
def test_loader_accepts_other_export_shapes(tmp_path, shape):
    p1, p2 = json.loads(PAGE1.read_text()), json.loads(PAGE2.read_text())
    if shape == "list_of_pages":
        src = [p1, p2]
    elif shape == "list_of_items":
        src = p1["Items"] + p2["Items"]
    elif shape == "jsonl":
        src = tmp_path / "export.jsonl"
        src.write_text("\n".join(json.dumps(i) for i in p1["Items"] + p2["Items"]) + "\n")
    else:
        src = tmp_path
        (tmp_path / "a.json").write_text(json.dumps(p1))
        (tmp_path / "b.json").write_text(json.dumps(p2))
    book = load_prices(src)
    assert book.get("vm", "westeurope", "Standard_DS3_v2") == 0.272
    assert book.get("appservice", "westeurope", "p1v3") == 0.179


def test_bad_exports_raise_price_error(tmp_path):
    with pytest.raises(PriceError):
        load_prices(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json\n")
    with pytest.raises(PriceError):
        load_prices(bad)
    with pytest.raises(PriceError):
        load_prices(42)  # type: ignore[arg-type]


def test_refresh_queries_are_filtered_and_case_sensitive():
    urls = refresh_queries("westeurope", ["Standard_DS3_v2"])
    assert len(urls) == 4
    q = urllib.parse.unquote(urls[0])
    assert "serviceName eq 'Virtual Machines'" in q and "armRegionName eq 'westeurope'" in q
    assert "priceType eq 'Consumption'" in q and "armSkuName eq 'Standard_DS3_v2'" in q
    with pytest.raises(PriceError):
        refresh_queries("West Europe", [])


def test_refresh_follows_pages_and_keeps_other_regions(tmp_path):
    p1, p2 = json.loads(PAGE1.read_text()), json.loads(PAGE2.read_text())
    empty = {"BillingCurrency": "USD", "Items": [], "NextPageLink": None, "Count": 0}
    from advisor.catalog import skus
    pages = {u: empty for r in ("westeurope", "eastus") for u in refresh_queries(r, skus().vm)}
    pages[refresh_queries("westeurope", skus().vm)[0]] = p1
    pages[NEXT] = p2
    fetch = fake_fetch(pages)
    book = fetch_live("westeurope", fetch=fetch, today="2026-07-01")
    assert NEXT in fetch.calls and len(fetch.calls) == 9
    assert book.as_of == "2026-07-01"
    assert book.get("vm", "westeurope", "Standard_DS3_v2") == 0.272
    assert book.get("vm", "eastus", "Standard_DS3_v2") is None  # eastus was asked, answered nothing
    assert book.get("vm", "northeurope", "Standard_DS3_v2") is None
    out = save_snapshot(book, tmp_path / "prices-2026-07-01.json")
    again = load_prices(out)
    assert again.as_of == "2026-07-01"
    assert again.get("aca", "westeurope", "Standard Memory Active Usage") == book.get("aca", "westeurope", "Standard Memory Active Usage")


def test_refresh_without_network_raises_a_clear_error(tmp_path):
    def down(url: str) -> dict:
        raise OSError("Name or service not known")
    with pytest.raises(PriceError, match="could not reach the Retail Prices API"):
        refresh("eastus", fetch=down, home=tmp_path)
    assert not list(tmp_path.iterdir())


def test_refresh_saves_a_snapshot_that_becomes_the_default(tmp_path, monkeypatch):
    from advisor.catalog import skus
    from advisor.engine import recommend
    from .conftest import make_profile
    env = json.loads(DEFAULT_SNAPSHOT.read_text())
    eastus = {"BillingCurrency": "USD", "Items": [i for i in env["Items"] if i["armRegionName"] == "eastus"],
              "NextPageLink": None, "Count": 0}
    for it in eastus["Items"]:
        if it.get("armSkuName") == "Standard_F4s_v2":
            it["retailPrice"] = it["unitPrice"] = 0.18
    empty = {"Items": [], "NextPageLink": None}
    pages = {u: empty for u in refresh_queries("eastus", skus().vm)}
    first = refresh_queries("eastus", skus().vm)[0]
    pages[first] = eastus
    home = tmp_path / "home"
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(home))
    path = refresh("eastus", fetch=fake_fetch(pages), today="2026-09-01")
    assert path == home / "prices" / "prices-2026-09-01.json" and path.is_file()
    assert latest_refreshed() == path
    rec = recommend(make_profile())
    assert rec.prices_as_of == "2026-09-01"
    moe = next(o for o in rec.options if o.target == "azureml")
    assert moe.cost.monthly_usd == pytest.approx(3 * 0.18 * 730, abs=0.01)
    # an older refreshed file than the bundled snapshot is ignored
    old = home / "prices" / "prices-2020-01-01.json"
    path.rename(old)
    default_prices.cache_clear()
    assert latest_refreshed() is None and default_prices().as_of == "2026-06-18"


def test_recommend_accepts_an_export(tmp_path):
    from advisor.engine import recommend
    from .conftest import make_profile
    book = load_prices([json.loads(DEFAULT_SNAPSHOT.read_text())], as_of="2030-01-01")
    assert isinstance(book, PriceBook)
    rec = recommend(make_profile(), prices=book)
    assert rec.prices_as_of == "2030-01-01"
    rec2 = recommend(make_profile(), prices=str(DEFAULT_SNAPSHOT))
    assert rec2.prices_as_of == "2026-06-18"


def test_environment_variable_selects_another_export(monkeypatch, tmp_path):
    env = json.loads(DEFAULT_SNAPSHOT.read_text())
    for it in env["Items"]:
        if it.get("armSkuName") == "Standard_F4s_v2" and it["armRegionName"] == "eastus":
            it["retailPrice"] = it["unitPrice"] = 0.2
    env["_snapshot"]["as_of"] = "2027-01-01"
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(env))
    monkeypatch.setenv("DEPLOY_ADVISOR_PRICES", str(path))
    default_prices.cache_clear()
    try:
        book = default_prices()
        assert book.as_of == "2027-01-01" and book.get("vm", "eastus", "Standard_F4s_v2") == 0.2
    finally:
        monkeypatch.delenv("DEPLOY_ADVISOR_PRICES")
        default_prices.cache_clear()
    assert default_prices().as_of == "2026-06-18"
