"""The one way to read the repository's `templates/` folder, from a checkout and from an installed wheel alike.

The wheel ships `templates/` as package data in `deployers/templates/` (pyproject.toml maps the package
`deployers.templates` to the top-level folder); in a source checkout (PYTHONPATH or an editable install) the
folder sits next to `deployers/`. Files are read through importlib.resources, not opened by path. `DEPLOY_ADVISOR_TEMPLATES`
points at another folder with the same layout (a user's own templates, or a test's).
"""
from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2

CHECKOUT = Path(__file__).resolve().parents[1] / "templates"


def template_root() -> Traversable:
    """The templates folder: the override, else the installed package data, else the checkout's folder."""
    override = os.environ.get("DEPLOY_ADVISOR_TEMPLATES")
    if override:
        return Path(override)
    installed = resources.files("deployers") / "templates"
    return installed if installed.is_dir() else CHECKOUT  # a checkout: templates/ sits next to deployers/


def _node(name: str) -> Traversable:
    node = template_root()
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise jinja2.TemplateNotFound(name)
        node = node.joinpath(part)
    return node


def read_template(name: str) -> str:
    """A file under templates/ as text, e.g. `appservice/azuredeploy.json` (not rendered)."""
    node = _node(name)
    if not node.is_file():
        raise FileNotFoundError(f"template {name!r} is not in {template_root()}")
    return node.read_text(encoding="utf-8")


class TemplateLoader(jinja2.BaseLoader):
    """Jinja2 loader over one sub-folder of templates/ (includes resolve inside that sub-folder)."""

    def __init__(self, folder: str = ""):
        self.folder = folder.strip("/")

    def get_source(self, environment: jinja2.Environment, template: str):
        name = f"{self.folder}/{template}" if self.folder else template
        node = _node(name)
        if not node.is_file():
            raise jinja2.TemplateNotFound(name)
        return node.read_text(encoding="utf-8"), None, lambda: True


def environment(folder: str = "", **filters: Any) -> jinja2.Environment:
    """A strict Jinja2 environment over templates/FOLDER: undefined names fail, no HTML escaping, trailing
    newlines kept (the outputs are YAML, Python, shell and Dockerfiles)."""
    env = jinja2.Environment(loader=TemplateLoader(folder), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True)
    env.filters.update(filters)
    return env
