"""Shared helpers for the advisor tests: build profiles from dotted overrides."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from advisor.models import WorkloadProfile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "profiles"
DATA = Path(__file__).parent / "data"


def make_profile(overrides: dict[str, Any] | None = None, **base: Any) -> WorkloadProfile:
    """WorkloadProfile from dotted keys, e.g. make_profile({"inference.peak_rps": 50})."""
    data: dict[str, Any] = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        node = data
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return WorkloadProfile.model_validate(data)


@pytest.fixture
def profile():
    return make_profile


@pytest.fixture(autouse=True)
def _bundled_prices(monkeypatch, tmp_path):
    """Hermetic prices: no refreshed snapshot from the developer's home, no override."""
    from advisor.prices import DEFAULT_SNAPSHOT, default_prices

    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DEPLOY_ADVISOR_PRICES", raising=False)
    if default_prices().source != str(DEFAULT_SNAPSHOT):
        default_prices.cache_clear()
    yield
    if default_prices().source != str(DEFAULT_SNAPSHOT):
        default_prices.cache_clear()
