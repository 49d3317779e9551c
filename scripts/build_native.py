"""Compile the advisor's hot modules with mypyc, in place, next to their sources.

    python scripts/build_native.py [--check]

The advisor runs as plain Python everywhere; this build is an optional speed-up
(benchmarks/recommend.py measures both). mypyc compiles the same .py files the
pure mode runs, so there is one source of truth. The build writes
`advisor/_native.json` with a SHA-256 of each compiled source; `advisor/__init__`
loads the compiled modules only when every hash still matches (an edited source
falls back to pure Python, with one warning) and never when DEPLOY_ADVISOR_PURE=1.

With GCC the build is profile-guided: compiled once with instrumentation,
trained on scripts/native_training.py (the example profiles and variations of
them), then compiled again with the recorded counts, so hot code sits together
and error paths move out of the way (about 10% faster; the output is identical).
DEPLOY_ADVISOR_PGO=0, another compiler, or any failure of those steps gives the
plain one-pass build.

A failed build (no C compiler, no Python headers) prints one line and exits 0:
the pure modules keep working. `--check` exits 1 when the build is missing or stale.
An up-to-date build is left alone; DEPLOY_ADVISOR_REBUILD=1 forces a new one.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ["DEPLOY_ADVISOR_PURE"] = "1"  # importing advisor here must not load (or warn about) an old build
from advisor import NATIVE_MODULES, NATIVE_STAMP, compiled_files, native_fingerprint, native_status  # noqa: E402

GROUP = "advisor._native"
PKG = ROOT / "advisor"
WORK = ROOT / "build"  # gitignored: the lock and the record of a failed build
FAILED = WORK / "native-failed.json"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One build at a time per checkout (two `make` targets may start together)."""
    WORK.mkdir(exist_ok=True)
    with open(WORK / "native.lock", "w") as f:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _clean() -> None:
    """Stamp first, so a process starting meanwhile sees no valid build; then the extension files."""
    (PKG / NATIVE_STAMP).unlink(missing_ok=True)
    for name in compiled_files():
        (PKG / name).unlink(missing_ok=True)


def _fresh() -> bool:
    return native_status(ignore_env=True) is None


#: direct calls to mypyc's runtime functions inside the shared library (not through the PLT)
FLAGS = ["-fvisibility=hidden", "-fno-semantic-interposition"]
#: a GCC build is compiled twice: instrumented, trained (scripts/native_training.py), then with the profile
PGO_GEN = ["-fprofile-update=single"]
PGO_USE = ["-fprofile-partial-training", "-Wno-missing-profile", "-Wno-coverage-mismatch"]


def _compile(tmp: str, lib: str, cflags: list[str], ldflags: list[str]) -> tuple[list[Path], str]:
    """mypyc + the C compiler into `tmp` (the C sources and objects always at the same paths, so a profile
    recorded by an instrumented build matches the next one), the extension files into `tmp/<lib>`.
    Returns (the built files, the last line of the compiler's output when none were built)."""
    sources = [f"advisor/{m}.py" for m in NATIVE_MODULES]
    code = (
        "import sys\n"
        "from setuptools import setup\n"
        "from mypyc.build import mypycify\n"
        f"ext = mypycify({sources!r}, opt_level='3', group_name={GROUP!r}, target_dir=sys.argv[1])\n"
        "for e in ext:\n"
        f"    e.extra_compile_args = list(e.extra_compile_args) + {cflags!r}\n"
        f"    e.extra_link_args = list(e.extra_link_args or []) + {ldflags!r}\n"
        "setup(name='deploy-advisor-native', py_modules=[], ext_modules=ext,\n"
        "      script_args=['build_ext', '--force', '--build-temp', sys.argv[1], '--build-lib', sys.argv[2]])\n"
    )
    out = Path(tmp) / lib
    proc = subprocess.run([sys.executable, "-c", code, tmp, str(out)], cwd=ROOT, capture_output=True, text=True)
    built = sorted((out / "advisor").glob("*")) if proc.returncode == 0 else []
    lines = proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no extension built"]
    return built, "" if built else lines[-1][:200]


def _is_gcc() -> bool:
    import sysconfig

    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()  # what setuptools will run
    try:
        out = subprocess.run(cc[:1] + ["--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def _train(tmp: str, built: list[Path], stamp: dict) -> bool:
    """Run scripts/native_training.py against an instrumented build, in a copy of the package."""
    pkg = Path(tmp) / "train" / "advisor"
    shutil.copytree(PKG, pkg, ignore=shutil.ignore_patterns("*.so", "*.pyd", NATIVE_STAMP, "__pycache__"))
    for f in built:
        shutil.copy(f, pkg / f.name)
    (pkg / NATIVE_STAMP).write_text(json.dumps(dict(stamp, extensions={f.name: f.stat().st_size for f in built})),
                                    encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DEPLOY_ADVISOR_PURE"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "native_training.py"), str(pkg.parent)],
                          cwd=tmp, env=env, capture_output=True, text=True)
    return proc.returncode == 0


def build() -> int:
    """Compile into a scratch directory, then install: the files are replaced (never rewritten in place,
    which could crash a process that has them loaded) and the stamp is written last, only if the sources
    did not change while they compiled. With GCC the build is profile-guided; when that fails for any
    reason, a plain build follows."""
    before = native_fingerprint()
    try:
        if json.loads(FAILED.read_text(encoding="utf-8")) == before and not os.environ.get("DEPLOY_ADVISOR_REBUILD"):
            print("build_native: the build failed before for these sources; the advisor stays pure Python "
                  "(DEPLOY_ADVISOR_REBUILD=1 tries again)")
            return 0
    except (OSError, ValueError):
        pass
    pgo = _is_gcc() and os.environ.get("DEPLOY_ADVISOR_PGO", "1") != "0"
    print(f"build_native: compiling {', '.join(NATIVE_MODULES)} with mypyc"
          f"{', profile-guided (about two minutes' if pgo else ' (about a minute'}, once per change)...", flush=True)
    how = "profile-guided"
    with tempfile.TemporaryDirectory(prefix="advisor-native-") as tmp:
        built: list[Path] = []
        why = ""
        if pgo:
            prof = str(Path(tmp) / "profile")
            instr, why = _compile(tmp, "instrumented", FLAGS + PGO_GEN + [f"-fprofile-generate={prof}"],
                                  [f"-fprofile-generate={prof}"])
            if instr and _train(tmp, instr, before):
                built, why = _compile(tmp, "lib", FLAGS + PGO_USE + [f"-fprofile-use={prof}"], [])
        if not built:
            how = "plain"
            built, why = _compile(tmp, "lib", FLAGS if pgo else [], [])
        if not built:
            _clean()
            FAILED.write_text(json.dumps(before), encoding="utf-8")
            print(f"build_native: mypyc build failed, the advisor stays pure Python ({why})")
            return 0
        if native_fingerprint() != before:
            _clean()
            print("build_native: the sources changed while they compiled; nothing installed (run it again)")
            return 0
        _clean()
        for f in built:
            os.replace(f, PKG / f.name)
    stamp = dict(before, extensions=compiled_files())
    (PKG / NATIVE_STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    FAILED.unlink(missing_ok=True)
    print(f"build_native: compiled {', '.join(NATIVE_MODULES)}, {how} (advisor/{NATIVE_STAMP})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="exit 1 when the compiled modules are missing or stale")
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules (pure Python from then on)")
    args = ap.parse_args(argv)
    if args.check:
        reason = native_status(ignore_env=True)
        print("build_native: " + ("up to date" if reason is None else reason))
        return 0 if reason is None else 1
    with _locked():
        if args.clean:
            _clean()
            return 0
        if _fresh() and not os.environ.get("DEPLOY_ADVISOR_REBUILD"):
            return 0
        return build()


if __name__ == "__main__":
    raise SystemExit(main())
