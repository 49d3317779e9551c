"""A sixth target plugs in through the `deploy_advisor.targets` entry point: one module + its data rows.

The package in tests/advisor_target_pkg is installed for real (pip, entry points) into a private folder;
a fresh interpreter with that folder on its path ranks it next to the built-in targets.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

PKG = ROOT / "tests" / "advisor_target_pkg"


@pytest.fixture(scope="module")
def aci_site(tmp_path_factory) -> Path:
    site, build = tmp_path_factory.mktemp("aci-site"), tmp_path_factory.mktemp("aci-src")
    shutil.copytree(PKG, build / "pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(site), str(build / "pkg")],
                   check=True, capture_output=True, text=True, timeout=300)
    return site


def run(site: Path, profile: dict, tmp_path: Path) -> dict:
    code = ("import json, sys; from advisor.engine import recommend; from advisor.models import WorkloadProfile;"
            "from advisor.catalog import targets;"
            "rec = recommend(WorkloadProfile.model_validate(json.loads(sys.argv[1])));"
            "print(json.dumps({'targets': list(targets()), 'rec': rec.model_dump(mode='json')}))")
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}", DEPLOY_ADVISOR_HOME=str(tmp_path / "home"))
    env.pop("DEPLOY_ADVISOR_PRICES", None)
    out = subprocess.run([sys.executable, "-c", code, json.dumps(profile)], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_plugged_in_target_is_ranked_with_the_built_in_ones(aci_site, tmp_path):
    doc = run(aci_site, {"team": {"kind": "app-dev"}, "inference": {"peak_rps": 5, "average_rps": 2}}, tmp_path)
    assert doc["targets"] == ["azureml", "aks", "appservice", "containerapps", "azureml-batch", "aci"]
    options = {o["target"]: o for o in doc["rec"]["options"]}
    aci = options["aci"]
    assert 0 < aci["score"] <= 100
    assert [c["name"] for c in aci["criteria"]] == [c["name"] for c in options["azureml"]["criteria"]]
    assert all(c["source"] for c in aci["criteria"])
    # sized by the shared instance sizing: two groups for 99.9%, no autoscale; priced from its own rates
    assert aci["sizing"]["instances"] == 2 and aci["sizing"]["min"] == aci["sizing"]["max"] == 2
    assert aci["cost"]["monthly_usd"] > 0 and any("plug-in's data file" in a for a in aci["cost"]["assumptions"])
    assert aci["reasons"][0].startswith("Azure Container Instances:")


def test_the_generic_hard_constraints_apply_to_a_plugged_in_target(aci_site, tmp_path):
    doc = run(aci_site, {"security": {"network": "managed-vnet"}, "scale": {"scale_to_zero": True}}, tmp_path)
    excluded = {e["target"]: e["reasons"] for e in doc["rec"]["excluded"]}
    assert any("Azure Container Instances cannot scale to zero" in r for r in excluded["aci"])
    doc = run(aci_site, {"team": {"needs_kubernetes_api": True}}, tmp_path)
    assert "aci" in {e["target"] for e in doc["rec"]["excluded"]}
