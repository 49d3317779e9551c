"""Every example profile loads, says what it represents, and gets a sensible answer."""
from __future__ import annotations

import pytest

from advisor.engine import recommend
from advisor.models import load_profile

from .conftest import EXAMPLES

EXPECTED_WINNER = {
    "sample.yaml": "azureml",
    "churn-realtime.yaml": "azureml",
    "web-dashboard.yaml": "appservice",
    "gpu-platform-aks.yaml": "aks",
    "nightly-batch.yaml": "azureml-batch",
    "sporadic-internal-tool.yaml": "containerapps",
    "regulated-onprem.yaml": "aks",
    "regulated-custom-vnet.yaml": "containerapps",
    "llm-managed-gpu.yaml": "azureml",
    "canary-shadow-drift.yaml": "azureml",
    "startup-budget.yaml": "appservice",
}
FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def test_at_least_eight_examples_plus_the_sample():
    assert len(FILES) >= 9 and "sample.yaml" in FILES
    assert set(FILES) == set(EXPECTED_WINNER)


@pytest.mark.parametrize("name", FILES)
def test_example_loads_and_recommends(name):
    path = EXAMPLES / name
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and len(first) > 20  # says what it represents
    rec = recommend(load_profile(path))
    assert rec.options, rec.excluded
    assert rec.options[0].target == EXPECTED_WINNER[name]
    top = rec.options[0]
    # a cost of zero must say why: the user's own hardware (on-premises) or an existing plan that already pays
    marginal = any(w in a for a in top.cost.assumptions for w in ("On-premises", "Existing App Service plan"))
    assert (top.cost.monthly_usd > 0 or marginal) and top.sizing.instances >= 1
    assert rec.inputs["service_time"] == "estimated"


def test_sample_suits_the_bundled_random_forest():
    p = load_profile(EXAMPLES / "sample.yaml")
    assert (p.model.framework, p.model.format, p.inference.mode) == ("sklearn", "mlflow", "realtime")
    assert p.model.size_mb < 5
