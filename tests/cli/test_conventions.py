"""CLI conventions: --version from the package metadata, -v/--verbose logging, a closed stdout pipe ends
quietly, a missing optional extra is a one-line error naming the extra."""
from __future__ import annotations

import logging
import subprocess
import sys
from importlib import metadata

import pytest

from deployers import cli as cli_module
from tests.conftest import VENV_BIN, cli


def test_version_comes_from_the_package_metadata():
    out = cli("--version")
    assert out.returncode == 0 and out.stdout == f"deploy-advisor {metadata.version('deploy-advisor')}\n"


def test_a_closed_stdout_pipe_ends_quietly(tmp_path):
    """`deploy-advisor ... | head`: the reader is gone before the first write; no traceback, SIGPIPE's status."""
    err = tmp_path / "stderr.txt"
    script = f'"{VENV_BIN / "deploy-advisor"}" targets --output json 2>"{err}" | true; echo "${{PIPESTATUS[0]}}"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "141" and err.read_text() == ""


@pytest.fixture
def restore_logging():
    names = ["", "deployers", "advisor", "azure", "azure.core.pipeline.policies.http_logging_policy"]
    saved = {n: (logging.getLogger(n).level, list(logging.getLogger(n).handlers)) for n in names}
    yield
    for n, (level, handlers) in saved.items():
        logging.getLogger(n).setLevel(level)
        logging.getLogger(n).handlers[:] = handlers


def test_verbose_levels(restore_logging):
    http = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    cli_module.configure_logging(1)  # -v: our INFO logs and Azure's request lines (headers redacted by azure-core)
    assert logging.getLogger("deployers").getEffectiveLevel() == logging.INFO
    assert http.getEffectiveLevel() == logging.INFO
    assert logging.getLogger("azure.identity").getEffectiveLevel() > logging.INFO
    cli_module.configure_logging(2)  # -vv: debug everywhere, azure-core included
    assert logging.getLogger("azure.core").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("deployers.aks").getEffectiveLevel() == logging.DEBUG


def test_verbose_flag_is_accepted_before_and_after_the_command():
    parser = cli_module.build_parser()
    assert parser.parse_args(["-vv", "targets"]).verbose == 2
    assert parser.parse_args(["targets", "-v"]).verbose == 1
    assert parser.parse_args(["targets"]).verbose == 0


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, capsys):
    """As if installed without [ui]: `deploy-advisor ui` says which extra to install, in one line."""
    monkeypatch.setitem(sys.modules, "streamlit", None)  # importing it now raises ModuleNotFoundError
    code = cli_module.main(["ui"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'deploy-advisor[ui]'" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_the_aks_manifest_check_names_its_extra(monkeypatch):
    from deployers import aks
    from deployers.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'deploy-advisor\[aks\]'"):
        aks.validate_manifests([])


def test_an_unwrapped_optional_import_still_names_the_extra():
    from deployers.extras import MissingExtraError, missing_extra_error, needs_extra

    exc = ModuleNotFoundError("No module named 'azure.mgmt.web'", name="azure.mgmt.web")
    assert "deploy-advisor[appservice]" in missing_extra_error(exc).one_line()
    assert missing_extra_error(ModuleNotFoundError("x", name="not_ours")) is None  # a real bug stays a bug
    with pytest.raises(MissingExtraError, match=r"deploy-advisor\[ui\]"):
        with needs_extra("ui"):
            raise ModuleNotFoundError("No module named 'streamlit'", name="streamlit")
