"""Bad input never shows a traceback: one line naming the file and field, exit code 2."""
from __future__ import annotations

import json

import pytest

from tests.conftest import cli


@pytest.mark.parametrize("content, needle", [
    ("inference:\n  peak_rps: -5\n", "inference.peak_rps: must be >= 0 (got -5)"),
    ("inference:\n  gpu: sometimes\n", "inference.gpu: must be one of"),
    ("scale:\n  colour: blue\n", "scale.colour: unknown field"),
    ("inference:\n  peak_rps: lots\n", "inference.peak_rps:"),
    ("inference: [1, 2\n", "not valid YAML or JSON at line"),
    ("- just\n- a list\n", "a profile must be a mapping"),
    ('{"budget": {"monthly_usd": -1}}', "budget.monthly_usd: must be >= 0"),
])
def test_recommend_bad_profile(tmp_path, content, needle):
    p = tmp_path / "p.yaml"
    p.write_text(content)
    out = cli("recommend", "--profile", str(p))
    assert out.returncode == 2, out.stdout
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(p) in err and needle in err


def test_missing_profile_file():
    out = cli("recommend", "--profile", "/nope/p.yaml")
    assert out.returncode == 2 and "/nope/p.yaml: no such profile file" in out.stderr


def test_empty_profile_is_valid(tmp_path):
    p = tmp_path / "p.json"
    p.write_text("{}")
    out = cli("recommend", "--profile", str(p), "--output", "json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"options", "excluded", "prices_as_of"} <= set(doc)
    assert doc["options"] and {"target", "score", "criteria", "sizing", "cost", "reasons"} <= set(doc["options"][0])


def test_unknown_command_and_bad_set_and_bad_name():
    assert cli("frobnicate").returncode == 2
    out = cli("plan", "--target", "local", "--model", "x", "--set", "novalue")
    assert out.returncode == 2 and "expected key=value" in out.stderr
    out = cli("plan", "--target", "local", "--model", "x", "--name", "Bad_Name")
    assert out.returncode == 2 and "invalid deployment name" in out.stderr
    out = cli("plan", "--target", "local", "--model", "x", "--name", "okname", "--set", "port=-3")
    assert out.returncode == 2 and "settings: port" in out.stderr and "Traceback" not in out.stderr


def test_help_teaches():
    out = cli("--help")
    assert out.returncode == 0 and "examples:" in out.stdout and "recommend" in out.stdout
    out = cli("deploy", "--help")
    assert "--dry-run" in out.stdout and "auto" in out.stdout
