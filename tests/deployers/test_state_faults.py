"""Broken local state (issue 17 items 5 and 6): every CLI command, one line, never a traceback.

The commands are enumerated from the argparse parser, so a new command fails
`test_every_command_has_arguments_here` until it is given arguments below and so joins
the matrix. Damaged ledgers run in this process (`cli.main`); a read-only state dir and a
full disk run in one child each (tests/deployers/cli_matrix.py explains how they are
simulated without mounts).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from deployers import cli, statedir
from deployers.errors import StateError
from deployers.ledger import SCHEMA, SCHEMA_VERSION, Ledger
from tests.conftest import ROOT
from tests.deployers.cli_matrix import NOBODY, run_all

SAMPLE = "models:/sample-classifier/1"
NO_NETWORK = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "",
              "NO_PROXY": ""}


def parser_commands() -> set[str]:
    """Every leaf command of the CLI ("list", "models register", ...), from the parser itself."""
    def walk(parser: argparse.ArgumentParser, prefix: list[str]):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield " ".join(prefix)
            return
        for name, sub in subs[0].choices.items():
            yield from walk(sub, prefix + [name])
    return set(walk(cli.build_parser(), []))


def command_argvs(work: Path) -> dict[str, list[str]]:
    """One invocation per command, aimed at the state dir's deployment `demo` and the sample model."""
    argvs = {
        "recommend": ["recommend"],
        "targets": ["targets"],
        "settings": ["settings", "local"],
        "models register": ["models", "register", str(work / "model"), "--name", "copy"],
        "models list": ["models", "list"],
        "models prepare-sample": ["models", "prepare-sample"],
        "models show": ["models", "show", SAMPLE],
        "preflight": ["preflight", "-t", "local", "-m", SAMPLE],
        "plan": ["plan", "-t", "local", "-m", SAMPLE, "-o", str(work / "plan")],
        "deploy": ["deploy", "-t", "local", "-m", SAMPLE, "-n", "demo2", "--yes"],
        "apply": ["apply", "-f", str(work / "deployment.yaml"), "--yes"],
        "status": ["status", "demo"],
        "destroy": ["destroy", "demo", "--yes"],
        "logs": ["logs", "demo"],
        "export": ["export", "-t", "local", "-m", SAMPLE, "-o", str(work / "export")],
        "invoke": ["invoke", "demo", "--data", '{"input_data": []}'],
        "list": ["list"],
        "benchmark": ["benchmark", "-m", "models:/not-registered/1"],  # a real run takes ~10 s: resolution reads the state
        "prices refresh": ["prices", "refresh", "--region", "eastus"],  # NO_NETWORK: fails fast, never leaves the box
        "doctor": ["doctor"],
    }
    return {name: argv + ["-q"] for name, argv in argvs.items()}


#: commands that serve until stopped, so they cannot run to an exit code here: `ui` starts Streamlit, whose
#: pages report state errors inline (tests/ui covers them)
SERVERS = {"ui"}


def test_every_command_has_arguments_here(tmp_path):
    assert parser_commands() - SERVERS == set(command_argvs(tmp_path))


# ---------------------------------------------------------------- building broken state dirs


def _healthy_state(sample_home: Path, root: Path) -> tuple[Path, Path]:
    """A state dir with the sample model, a ledger listing `demo` (its server gone), and a work folder."""
    home, work = root / "home", root / "work"
    shutil.copytree(sample_home, home)
    os.chmod(home, 0o700)
    work.mkdir()
    shutil.copytree(next((home / "models" / "sample-classifier").glob("1")), work / "model")
    (work / "deployment.yaml").write_text(f"name: demo2\ntarget: local\nmodel: {SAMPLE}\n")
    local = home / "local" / "demo"
    local.mkdir(parents=True)
    (local / "state.json").write_text(json.dumps({"pid": 2**22 + 7, "port": 9, "app_dir": str(local / "app"),
                                                  "log": str(local / "server.log"), "auth": False}))
    from deployers import model_resolution

    model_resolution.resolve(SAMPLE, home)  # the cache remembers the registry's path: the copy's, from now on
    led = Ledger(home)
    led.upsert_deployment("demo", "local", "running", endpoint_url="http://127.0.0.1:9/score")
    led.close()
    assert not (home / "ledger.db-wal").exists()
    return home, work


def _check(names: list[str], results: list[dict], mode: str) -> dict[str, dict]:
    """One line on stderr at most, an error line when failing, an exit code in {0, 1, 2}; by command name."""
    assert len(results) == len(names)
    for name, r in zip(names, results):
        argv, code, err = r["argv"], r["code"], r["stderr"]
        lines = [line for line in err.splitlines() if line.strip()]
        where = f"{mode}: {' '.join(argv)} -> {code}: {err[-600:]}"
        assert code in (0, 1, 2), where
        assert "Traceback" not in err and len(lines) <= 1, where
        if code != 0 and name != "status":  # status: exit 1 = the deployment failed, said on stdout
            assert lines and lines[0].startswith("deploy-advisor: error: "), where
    return dict(zip(names, results))


@pytest.fixture
def no_network(monkeypatch):
    for k, v in NO_NETWORK.items():
        monkeypatch.setenv(k, v)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_every_command_on_a_damaged_ledger(sample_home, tmp_path, monkeypatch, no_network, damage):
    home, work = _healthy_state(sample_home, tmp_path)
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(home))
    ledger = home / "ledger.db"
    ledger.write_bytes(os.urandom(8192) if damage == "garbage" else b"")
    before = ledger.read_bytes()
    argvs = command_argvs(work)
    by_name = _check(list(argvs), run_all(list(argvs.values())), damage)
    for needs_ledger in ("list", "status", "destroy", "deploy", "apply", "invoke", "logs", "doctor"):
        assert by_name[needs_ledger]["code"] == 1, by_name[needs_ledger]
    damaged = [r for r in by_name.values() if "ledger" in r["stderr"]]
    assert damaged and all("is damaged" in r["stderr"] and "doctor --repair" in r["stderr"] for r in damaged)
    assert ledger.read_bytes() == before  # reported, never silently recreated

    # doctor --repair: moves it aside, rebuilds `demo` from the local server's state file
    [repair] = run_all([["doctor", "--repair", "-q"]])
    assert repair["code"] == 0, repair
    assert [p.read_bytes() for p in home.glob("ledger.db.damaged-*")] == [before]
    rows = Ledger(home).list_deployments()
    assert [(r["name"], r["target"]) for r in rows] == [("demo", "local")]


def _run_child(mode: str, argvs: list[list[str]], home: Path, cwd: Path) -> list[dict]:
    env = {**os.environ, **NO_NETWORK, "DEPLOY_ADVISOR_HOME": str(home), "PYTHONPATH": str(ROOT),
           "HOME": str(cwd), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "tests.deployers.cli_matrix", mode], input=json.dumps(argvs),
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, int(p.stat().st_mtime_ns)) for p in folder.rglob("*")}


def test_every_command_on_a_read_only_state_dir(sample_home):
    # As root the child runs as nobody (root ignores modes): everything must be reachable for it.
    root = Path(tempfile.mkdtemp(prefix="h17-ro-"))
    try:
        os.chmod(root, 0o755)
        home, work = _healthy_state(sample_home, root)
        for p in [root, *root.rglob("*")]:
            if os.geteuid() == 0:
                os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
        for p in [home, *home.rglob("*")]:  # the state dir read-only, the work folder writable
            if not p.is_symlink():
                os.chmod(p, 0o500 if p.is_dir() else 0o400)
        before = _snapshot(home)
        argvs = command_argvs(work)
        by_name = _check(list(argvs), _run_child("read-only", list(argvs.values()), home, work), "read-only")
        assert _snapshot(home) == before  # nothing written, nothing recreated
        assert by_name["list"]["code"] == 0 and "demo" in by_name["list"]["stdout"]
        assert "demo" in by_name["status"]["stdout"]  # the server is gone: it says so, from the ledger
        assert "ledger" not in by_name["invoke"]["stderr"]  # fails at the (absent) server, not the ledger
        for name in ("models show", "preflight", "plan", "export", "logs", "doctor"):  # read, write elsewhere
            assert by_name[name]["code"] == 0, by_name[name]
        for name in ("destroy", "deploy", "apply"):
            assert by_name[name]["code"] == 1 and "cannot be written" in by_name[name]["stderr"], by_name[name]
        assert "Permission denied" in by_name["models register"]["stderr"]
    finally:
        for p in [root, *root.rglob("*")]:
            if not p.is_symlink():
                os.chmod(p, 0o700)
        shutil.rmtree(root, ignore_errors=True)


def test_every_command_on_a_full_disk(sample_home, tmp_path):
    home, work = _healthy_state(sample_home, tmp_path)
    before = (home / "ledger.db").read_bytes()
    argvs = command_argvs(work)
    by_name = _check(list(argvs), _run_child("full", list(argvs.values()), home, work), "full")
    assert by_name["list"]["code"] == 0 and "demo" in by_name["list"]["stdout"]  # reading still works
    destroy = by_name["destroy"]
    assert destroy["code"] == 1 and "cannot write the ledger" in destroy["stderr"], destroy
    assert (home / "ledger.db").read_bytes() == before
    assert Ledger(home).get_deployment("demo")["status"] == "running"


def test_unwritable_out_is_one_line(sample_home, tmp_path, monkeypatch, capsys):
    home, work = _healthy_state(sample_home, tmp_path)
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(home))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for argv in (["plan", "-t", "local", "-m", SAMPLE, "-o", str(blocker / "plan.json")],
                 ["export", "-t", "local", "-m", SAMPLE, "-o", str(blocker / "out")],
                 ["plan", "-t", "local", "-m", SAMPLE, "-o", "/proc/no/plan.json"]):
        code = cli.main(argv + ["-q"])
        err = capsys.readouterr().err.strip()
        assert code in (1, 2) and "\n" not in err and err.startswith("deploy-advisor: error: "), (argv, err)
        assert "Traceback" not in err


# ---------------------------------------------------------------- the ledger itself


def test_old_unversioned_ledger_migrates_and_keeps_its_rows(tmp_path):
    db = sqlite3.connect(tmp_path / "ledger.db")
    db.executescript(SCHEMA)  # what every ledger before versioning looked like (user_version 0)
    db.execute("INSERT INTO deployments VALUES ('old', 'local', 'running', '', '', NULL, NULL, '{}', 1, 2)")
    db.commit()
    db.close()
    led = Ledger(tmp_path)
    assert [r["name"] for r in led.list_deployments()] == ["old"]
    assert led.schema_version == SCHEMA_VERSION == 1


def test_ledger_from_a_newer_version_is_refused(tmp_path):
    Ledger(tmp_path).upsert_deployment("x", "local", "running")
    db = sqlite3.connect(tmp_path / "ledger.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="schema version 99"):
        Ledger(tmp_path).list_deployments()


def test_reading_creates_nothing_writing_creates_a_private_ledger(tmp_path):
    home = tmp_path / "home"
    led = Ledger(home)
    assert led.list_deployments() == [] and led.get_deployment("x") is None and not home.exists()
    led.upsert_deployment("x", "local", "running")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for f in home.iterdir():  # ledger.db and, while open, its -wal and -shm
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert not list(home.glob(".ledger.db.*"))  # the temp file it was built in is gone


def test_truncated_ledger_is_reported_for_reads_and_writes(tmp_path):
    Ledger(tmp_path).upsert_deployment("x", "local", "running")
    (tmp_path / "ledger.db").write_bytes(b"")
    for call in (lambda led: led.list_deployments(), lambda led: led.upsert_deployment("y", "local", "running")):
        with pytest.raises(StateError, match=r"damaged \(0 bytes: truncated\)") as e:
            call(Ledger(tmp_path))
        assert "doctor --repair" in e.value.hint
    assert (tmp_path / "ledger.db").stat().st_size == 0


# ---------------------------------------------------------------- permissions (item 6)


def test_first_command_creates_the_state_dir_0700_and_its_databases_0600(tmp_path):
    from deployers import model_resolution

    home = tmp_path / "fresh" / "home"
    model_resolution.registry_uri(home)  # what `models prepare-sample` / `register` do first
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "mlflow").stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "mlflow" / "mlflow.db").stat().st_mode) == 0o600


def test_prepared_sample_state_is_private(sample_home):
    """The session's `models prepare-sample` run (a real CLI process): registry database 0600."""
    assert stat.S_IMODE((sample_home / "mlflow").stat().st_mode) == 0o700
    assert stat.S_IMODE((sample_home / "mlflow" / "mlflow.db").stat().st_mode) == 0o600


def test_wider_state_dir_gets_a_warning_not_a_chmod(tmp_path, caplog):
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o755)
    statedir._checked.discard(home.absolute())
    with caplog.at_level("WARNING", logger="deployers.state"):
        Ledger(home).upsert_deployment("x", "local", "running")
        Ledger(home).list_deployments()
    warnings = [r.getMessage() for r in caplog.records if r.name == "deployers.state"]
    assert len(warnings) == 1 and "open to other users (mode 755)" in warnings[0] and "chmod 700" in warnings[0]
    assert stat.S_IMODE(home.stat().st_mode) == 0o755  # left as the user set it


def test_local_server_log_and_key_are_private(home_with_sample):
    from deployers import api

    api.deploy(api.make_spec("perm", "local", SAMPLE, api.parse_profile({})))
    try:
        folder = home_with_sample / "local" / "perm"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        for name in ("server.log", "key", "../../ledger.db"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    finally:
        api.destroy("perm")


# ---------------------------------------------------------------- the error tree and doctor


def test_low_level_errors_map_to_one_line_with_a_hint():
    import errno

    from deployers.errors import DeployError, InputError, from_exception

    cases = [
        (OSError(errno.ENOSPC, "No space left on device", "/s/ledger.db"), DeployError, "free space", 1),
        (PermissionError(errno.EACCES, "Permission denied", "/out/plan.json"), DeployError, "you can write", 1),
        (OSError(errno.ENAMETOOLONG, "File name too long", "x" * 5000), InputError, "shorter path", 2),
        (sqlite3.OperationalError("database or disk is full"), StateError, "free space", 1),
        (RecursionError("maximum recursion depth exceeded"), InputError, "64 levels", 2),
        (MemoryError(), DeployError, "too large", 1),
        (KeyError("x" * 10_000), DeployError, "this is a bug", 1),
    ]
    for exc, kind, hint, code in cases:
        err = from_exception(exc)
        line = err.one_line()
        assert isinstance(err, kind) and hint in err.hint and err.exit_code == code, (exc, line)
        assert "\n" not in line and len(line) < 400, line


def test_doctor_repair_re_adds_a_deployment_the_ledger_does_not_list(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    Ledger(home).upsert_deployment("listed", "local", "running")
    ghost = home / "local" / "ghost"
    ghost.mkdir(parents=True)
    (ghost / "state.json").write_text(json.dumps({"pid": None, "port": 9, "app_dir": str(ghost / "app"),
                                                  "log": str(ghost / "server.log")}))  # a killed first deploy
    monkeypatch.setenv("DEPLOY_ADVISOR_HOME", str(home))
    assert cli.main(["doctor"]) == 0
    capsys.readouterr()
    assert cli.main(["doctor", "--repair", "--output", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["rebuilt"] == [{"name": "ghost", "target": "local", "status": "failed"}]
    rows = {r["name"]: r for r in Ledger(home).list_deployments()}
    assert set(rows) == {"listed", "ghost"} and rows["ghost"]["target"] == "local"
    assert rows["ghost"]["status"] == "failed"  # no server runs: said so, not "running"
