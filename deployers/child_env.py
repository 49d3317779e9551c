"""The environment of every child process that loads a model (scoring server and its workers,
tree compiler, benchmark): built from an allow-list, never the caller's whole environment.

Why: loading a model runs its pickle, which is code from whoever made the model. The CLI and
the UI hold Azure credentials in their environment (AZURE_CLIENT_SECRET, IDENTITY_HEADER,
MLFLOW_TRACKING_TOKEN, ...); a deny-list of those misses the next one, so only variables a
Python process needs to start and run a model pass (locale, temp dir, thread counts and our own
non-secret serving settings). Everything else, credentials included, stays behind.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]

# What Python and numeric libraries need to start and behave the same as in the parent.
SYSTEM = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
          "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT",  # Windows: a Python child does not start without them
          "VIRTUAL_ENV", "PYTHONHOME", "PYTHONHASHSEED", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE",
          "PYTHONIOENCODING", "PYTHONUTF8", "PYTHONWARNINGS", "PYTHONFAULTHANDLER")
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
           "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
           "ORT_DISABLE_TELEMETRY")
# Our own serving settings (none of them secret): the scoring script and server read these.
SETTINGS = ("DEPLOY_ADVISOR_WORKERS", "DEPLOY_ADVISOR_COMPILED", "DEPLOY_ADVISOR_PYFUNC",
            "DEPLOY_ADVISOR_ORT_THREADS")
PREFIXES = ("LC_",)


def child_env(extra: Optional[Mapping[str, str]] = None, *,
              source: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The allowed variables of `source` (default os.environ), PYTHONPATH led by this checkout
    (so `python -m deployers...` imports the code that launched it), then `extra` on top."""
    source = os.environ if source is None else source
    allowed = set(SYSTEM) | set(THREADS) | set(SETTINGS)
    env = {k: v for k, v in source.items() if k in allowed or k.startswith(PREFIXES)}
    paths = [str(ROOT), *(source.get("PYTHONPATH") or "").split(os.pathsep)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
    env.update(extra or {})
    return env
