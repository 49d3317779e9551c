"""Keep a model folder's paths inside the folder.

Why: a model folder comes from whoever made the model. The paths its MLmodel names (the input
example, the flavor's model file) and the symlinks it holds must not pull other files of this
machine into plans, exports, the ledger or an image build context. Every place that reads,
copies or hashes model files goes through `inside` / `files`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Union

from .errors import ModelResolutionError


def inside(root: Union[str, Path], rel: Union[str, Path], what: str = "model") -> Path:
    """`root / rel` with every symlink resolved; ModelResolutionError when that is outside root
    (an absolute path, `..`, or a link that leaves the folder). `what` names the folder in the message."""
    top = Path(root).resolve()
    path = (top / rel).resolve()
    if path != top and top not in path.parents:
        raise ModelResolutionError(
            f"{Path(root).name}: {str(rel)[:80]!r} leads outside the {what} folder",
            f"keep every file the {what} uses inside its folder (copy it in, no links out)")
    return path


def files(root: Union[str, Path], what: str = "model") -> Iterator[Path]:
    """Every regular file under root, walked without following links; a symlink (file or folder)
    that resolves outside root raises ModelResolutionError."""
    root = Path(root)
    for dirpath, dirs, names in os.walk(root, followlinks=False):
        for name in dirs + names:
            path = Path(dirpath) / name
            if path.is_symlink():
                inside(root, path.relative_to(root), what)
        for name in sorted(names):
            yield Path(dirpath) / name


def check(root: Union[str, Path], what: str = "model") -> None:
    """Raise ModelResolutionError when a symlink under root leads outside it (before a copy or upload)."""
    for _ in files(root, what):
        pass
