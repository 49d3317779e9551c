"""Deployment spec files: strict schema, errors that name the file and the field, profile paths,
`target: auto`, and the example specs users copy."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

from .conftest import write_spec


@pytest.mark.parametrize("content, needle", [
    ("target: filestore\nmodel: m\nreplicas: 3\n", "replicas: unknown field"),
    ("target: filestore\n", "model: is required"),
    ("target: filestore\nmodel: m\nprofile:\n  inference:\n    peak_rps: -1\n",
     "profile.inference.peak_rps: must be >= 0 (got -1)"),
    ("target: filestore\nmodel: m\nprofile:\n  scale: {colour: blue}\n", "profile.scale.colour: unknown field"),
    ("target: filestore\nmodel: m\nsettings: {delay_s: -2}\n", "settings.delay_s: must be >= 0"),
    ("target: filestore\nmodel: m\nsettings: {bogus: 1}\n", "settings.bogus: unknown field"),
    ("target: filestore\nmodel: m\nname: Bad_Name\n", "name: invalid deployment name"),
    ("target: nowhere\nmodel: m\n", "target: unknown target 'nowhere'"),
    ("target: auto\nmodel: m\nsettings: {delay_s: 1}\n", "settings.delay_s: with `target: auto`, key the settings"),
    ("target: filestore\nmodel: m\nprofile: 42\n", "profile: must be a mapping or a path"),
    ("target: filestore\nmodel: m\nprofile: nothere.yaml\n", "profile: ")],
    ids=["unknown-key", "missing-model", "profile-range", "profile-unknown", "settings-range", "settings-unknown",
         "bad-name", "unknown-target", "auto-flat-settings", "profile-type", "profile-missing-file"])
def test_bad_spec_names_file_and_field(tmp_path, fleet_env, content, needle):
    spec = tmp_path / "bad.yaml"
    spec.write_text(content)
    out = cli("plan", "-f", str(spec), env=fleet_env)
    assert out.returncode == 2, (out.stdout, out.stderr)
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"{spec}: " in err and needle in err, err


def test_yaml_syntax_and_shape_errors(tmp_path, fleet_env):
    (tmp_path / "a.yaml").write_text("model: [m\n")
    (tmp_path / "b.yaml").write_text("- a list\n")
    (tmp_path / "c.yaml").write_text("")
    out = cli("plan", "-f", str(tmp_path), env=fleet_env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    # every bad file is reported, one line each, before anything runs
    assert len(lines) == 3, lines
    assert "a.yaml: not valid YAML at line 2, column 1" in lines[0]
    assert "b.yaml: a deployment spec must be a mapping" in lines[1] and "(got a list)" in lines[1]
    assert "c.yaml: a deployment spec must be a mapping" in lines[2] and "(got empty)" in lines[2]


def test_one_bad_spec_stops_the_whole_batch(tmp_path, fleet_env, isolated_home):
    write_spec(tmp_path, "good-one")
    write_spec(tmp_path, "bad-one", settings={"delay_s": "slow"})
    out = cli("apply", "-f", str(tmp_path), "--yes", env=fleet_env)
    assert out.returncode == 2 and "bad-one.yaml: settings.delay_s:" in out.stderr
    assert not (isolated_home / "filestore").exists()  # the good spec was not applied either


def test_duplicate_names_in_a_folder_are_refused(tmp_path, fleet_env):
    write_spec(tmp_path, "one", name="same-name")
    write_spec(tmp_path, "two", name="same-name")
    out = cli("plan", "-f", str(tmp_path), env=fleet_env)
    assert out.returncode == 2
    assert "two.yaml: name: 'same-name' is also used by" in out.stderr and "one.yaml" in out.stderr


def test_missing_file_and_empty_folder(tmp_path, fleet_env):
    out = cli("plan", "-f", str(tmp_path / "nope.yaml"), env=fleet_env)
    assert out.returncode == 2 and "nope.yaml: no such spec file or folder" in out.stderr
    (tmp_path / "empty").mkdir()
    out = cli("status", "-f", str(tmp_path / "empty"), env=fleet_env)
    assert out.returncode == 2 and "no *.yaml deployment specs in this folder" in out.stderr


def test_profile_path_is_relative_to_the_spec_file(tmp_path, monkeypatch, fleet_env):
    from deployers import specs

    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.yaml").write_text("name: fraud\ninference: {peak_rps: 7}\n")
    spec = tmp_path / "deploy" / "d.yaml"
    spec.parent.mkdir()
    spec.write_text("target: filestore\nmodel: m\nprofile: ../profiles/p.yaml\n")
    monkeypatch.chdir("/")  # not the spec's folder
    loaded = specs.load_spec(spec)
    assert loaded.profile.inference.peak_rps == 7 and loaded.profile_source.endswith("profiles/p.yaml")
    resolved = specs.resolve(loaded)
    assert resolved.spec.name == "fraud-filestore"  # default name: <profile name>-<target>
    assert any("profile from" in n for n in resolved.notes)

    (tmp_path / "profiles" / "p.yaml").write_text("inference: {gpu: sometimes}\n")
    with pytest.raises(specs.SpecError) as e:
        specs.load_spec(spec)
    assert "d.yaml: profile: " in str(e.value) and "p.yaml: inference.gpu: must be one of" in str(e.value)


def test_a_local_model_folder_is_relative_to_the_spec_file(tmp_path, monkeypatch, fleet_env):
    from deployers import specs

    (tmp_path / "model").mkdir()
    spec = write_spec(tmp_path, "local-path", model="./model")
    monkeypatch.chdir("/")
    assert specs.load_spec(spec).model == str((tmp_path / "model").resolve())
    # a URI is passed through untouched
    assert specs.load_spec(write_spec(tmp_path, "uri", model="azureml:churn:3")).model == "azureml:churn:3"


def test_target_auto_picks_the_advisors_top_choice_and_says_so_in_the_plan(tmp_path):
    from advisor.engine import recommend
    from deployers import registry, specs

    spec = tmp_path / "auto.yaml"
    spec.write_text("name: fraud-auto\ntarget: auto\nmodel: azureml:fraud:1\n"
                    "profile: {name: fraud, inference: {peak_rps: 50, p95_latency_ms: 200}}\n"
                    "settings:\n  azureml: {instance_count: 2}\n  aks: {namespace: fraud}\n")
    loaded = specs.load_spec(spec)
    expected = next(o.target for o in recommend(loaded.profile).options if o.target in registry.installed_targets())
    resolved = specs.resolve(loaded)
    assert resolved.spec.target == expected
    assert resolved.spec.settings == loaded.settings_for(expected)  # only the chosen target's settings
    plan_note = resolved.notes[0]
    assert plan_note.startswith(f"target auto -> {expected}: the advisor's top viable choice (score ")
    out = cli("plan", "-f", str(spec), "--output", "json")
    assert out.returncode == 0, out.stderr
    import json

    plan = json.loads(out.stdout)  # the note travels with the plan (plan.json, the ledger)
    assert plan["target"] == expected and plan["notes"][0].startswith(f"target auto -> {expected}")


def test_example_specs_validate():
    from deployers import specs

    files = sorted((ROOT / "examples" / "specs").glob("*.yaml"))
    assert len(files) >= 3
    loaded = specs.load_all([ROOT / "examples" / "specs"])
    assert [Path(s.path).name for s in loaded] == [f.name for f in files]
    assert any(s.target == "auto" for s in loaded)
    assert any(s.profile_source not in ("inline", "defaults") for s in loaded)  # one uses a profile file
