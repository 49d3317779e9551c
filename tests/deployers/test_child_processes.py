"""Every child process this project starts, read from the source: none through a shell, and every one that
loads a model (its pickle is someone else's code) gets the allow-listed environment of child_env(), never
the caller's, which holds Azure credentials. A new launch has to be added below with the reason it may
inherit the environment, so the question is asked at review time."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCHERS = {"Popen", "run", "call", "check_call", "check_output", "system", "popen", "execv", "execve",
             "execvp", "spawnv", "spawnve", "startfile"}
# (file, function): why this child may inherit the caller's environment. None of them loads a model.
INHERITS = {
    ("deployers/cli.py", "cmd_ui"): "the Streamlit UI is the app itself: it deploys with the user's credentials",
    ("benchmarks/serve.py", "anchors_python"): "python -m venv / pip install of pinned anchors, no model",
    ("benchmarks/serve.py", "wrk"): "wrk, the load generator, loads no model",
    ("benchmarks/recommend.py", "time_process"): "times `deploy-advisor recommend`, the CLI itself",
    ("benchmarks/fleet.py", "_run_child"): "this benchmark's own child against the in-process fake",
    ("benchmarks/install_size.py", "measure"): "uv compile/install and python -m venv: sizes installs, no model",
    ("benchmarks/install_size.py", "main"): "pip wheel of our own sources, no model",
}


def launches() -> list[tuple[str, ast.FunctionDef, ast.Call]]:
    found = []
    for path in sorted([*ROOT.glob("deployers/**/*.py"), *ROOT.glob("benchmarks/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for call in [n for n in ast.walk(fn) if isinstance(n, ast.Call)]:
                f = call.func
                if isinstance(f, ast.Attribute) and f.attr in LAUNCHERS and isinstance(f.value, ast.Name) \
                        and f.value.id in ("subprocess", "os"):
                    found.append((path.relative_to(ROOT).as_posix(), fn, call))
    return found


def _kw(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_no_child_process_goes_through_a_shell():
    calls = launches()
    assert len(calls) >= 8  # the scan does see the launches
    shelled = [(f, fn.name) for f, fn, c in calls
               if not (isinstance(_kw(c, "shell"), ast.Constant) and _kw(c, "shell").value is False)
               and _kw(c, "shell") is not None]
    system = [(f, fn.name) for f, fn, c in calls if c.func.attr in ("system", "popen")]
    assert shelled == [] and system == []


def test_every_child_that_may_load_a_model_gets_the_allow_listed_environment():
    def is_child_env(node) -> bool:
        return isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "child_env"

    def allow_listed(fn: ast.FunctionDef, call: ast.Call) -> bool:
        env = _kw(call, "env")
        if isinstance(env, ast.Name):  # env = child_env(...) earlier in the same function
            return any(isinstance(a, ast.Assign) and is_child_env(a.value)
                       and any(isinstance(t, ast.Name) and t.id == env.id for t in a.targets) for a in ast.walk(fn))
        return is_child_env(env)

    wrong = [f"{file}:{call.lineno} in {fn.name}" for file, fn, call in launches()
             if (file, fn.name) not in INHERITS and not allow_listed(fn, call)]
    assert wrong == []
