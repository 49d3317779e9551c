"""The App Service start command really hands the key setting to the scoring server as a file.

Runs the exact command string with /bin/sh; `python` on PATH is a recorder standing in for the
interpreter so no server starts. The recorded arguments must parse with the real server's CLI
and the key file must read back through the server's own `read_key`."""
from __future__ import annotations

import json
import os
import secrets
import shlex
import stat
import subprocess
import sys
from pathlib import Path

from deployers.appservice import KEY_SETTING, startup_command
from deployers.serving.server import build_parser, read_key

RECORDER = """#!{python}
import json, os, sys
json.dump({{"argv": sys.argv[1:], "env_has_key": "{setting}" in os.environ}}, open(os.environ["RECORD"], "w"))
"""


def test_start_command_writes_a_private_key_file_and_starts_the_server(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    recorder = bin_dir / "python"
    recorder.write_text(RECORDER.format(python=sys.executable, setting=KEY_SETTING))
    recorder.chmod(0o755)
    key_file = tmp_path / "run" / "scoring" / "key"
    key = secrets.token_urlsafe(32)
    record = tmp_path / "record.json"
    argv = shlex.split(startup_command(8080, str(key_file)))
    assert argv[:2] == ["sh", "-c"]
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin", KEY_SETTING: key, "RECORD": str(record)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert key not in done.stdout + done.stderr
    seen = json.loads(record.read_text())
    assert seen["env_has_key"] is False  # the server process does not inherit the setting
    assert seen["argv"][:2] == ["-m", "deployers.serving"]
    args = build_parser().parse_args(seen["argv"][2:])
    assert args.port == 8080 and args.allow_public and args.host == "0.0.0.0" and args.key_file == Path(key_file)
    assert read_key(key_file) == key.encode()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
