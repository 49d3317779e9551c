"""Small render helpers shared by the pages.

User-supplied text (names, paths, error messages quoting input) is either
shown through plain-text elements (st.text, st.code, dataframes) or escaped
with `esc` before it reaches Markdown, so it can never become markup or HTML.
"""
from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Iterable, Optional

import streamlit as st

from deployers.errors import DeployError, from_exception

log = logging.getLogger("deploy_advisor.ui")
if not log.handlers:  # errors hidden from the page (showErrorDetails = "none") still reach the server log
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_handler)
    log.propagate = False

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def esc(text: Any) -> str:
    """Escape Markdown (and Streamlit's `:color[..]`/`$math$` directives) in user text."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def code(text: Any) -> str:
    """User text as an inline code span: nothing inside a code span is markup; backticks would end it."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def error(e: BaseException, what: str = "") -> None:
    """Show an error as message + hint; unexpected errors are logged, not dumped on the page."""
    from advisor.models import ProfileError

    prefix = f"{what}: " if what else ""
    if isinstance(e, (OSError, sqlite3.Error, RecursionError, MemoryError)):
        e = from_exception(e)  # a full or read-only state dir, input nested too deeply: what to do about it
    if isinstance(e, DeployError):
        st.error(prefix + esc(e.message) + (f" [{esc(e.code)}]" if e.code else ""), icon=":material/error:")
        if e.hint:
            st.caption("Hint: " + esc(e.hint))
    elif isinstance(e, (ProfileError, ValueError)):
        st.error(prefix + esc(str(e)), icon=":material/error:")
    else:
        log.exception("UI action failed: %s", what or e.__class__.__name__)
        st.error(prefix + f"unexpected {esc(e.__class__.__name__)}; the details are in the server log",
                 icon=":material/error:")


def ago(ts: Optional[float], now: Optional[float] = None) -> str:
    """'3 min ago' style age of a UNIX timestamp."""
    if not ts:
        return ""
    s = max(0.0, (now or time.time()) - float(ts))
    if s < 60:
        return f"{int(s)} s ago"
    if s < 3600:
        return f"{int(s // 60)} min ago"
    if s < 86400:
        return f"{s / 3600:.1f} h ago"
    return f"{s / 86400:.1f} d ago"


def clock(ts: Optional[float]) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else ""


def money(usd: Optional[float]) -> str:
    if usd is None:
        return "—"
    return f"${usd:,.0f}" if usd >= 100 else f"${usd:,.2f}"


def event_lines(events: Iterable[dict]) -> str:
    """Events as terminal-style lines (plain text: rendered with st.code)."""
    out = []
    for e in events:
        kind = e.get("kind", "")
        out.append(f"{clock(e.get('ts'))}  {kind:<8} {e.get('message', '')}")
    return "\n".join(out)


def events_table(events: list[dict]) -> None:
    rows = [{"id": e.get("id"), "time": clock(e.get("ts")), "run": e.get("run_id", ""), "kind": e.get("kind", ""),
             "message": e.get("message", "")} for e in events]
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"id": st.column_config.NumberColumn("#", width="small"),
                                "message": st.column_config.TextColumn("message", width="large")})


LEVEL_COLOURS = {"pass": "#DFF3E4", "warn": "#FFF1D6", "fail": "#FBDADA"}
ACTION_COLOURS = {"create": "#DFF3E4", "update": "#E3EEFB", "no-op": "#F1F3F5", "delete": "#FBDADA"}


def _tinted(rows: list[dict], column: str, colours: dict[str, str]):
    """A table whose `column` cells are tinted by value (plain text, no emoji fonts needed)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.style.map(lambda v: f"background-color: {colours.get(v, 'transparent')}; font-weight: 600",
                        subset=[column])


def findings_table(findings: list) -> None:
    rows = [{"result": f.level, "check": f.check, "message": f.message, "hint": f.hint} for f in findings]
    st.dataframe(_tinted(rows, "result", LEVEL_COLOURS), hide_index=True, width="stretch",
                 column_config={"result": st.column_config.TextColumn(width="small"),
                                "message": st.column_config.TextColumn(width="large"),
                                "hint": st.column_config.TextColumn(width="large")})


def actions_table(actions: list) -> None:
    rows = [{"action": a.kind, "type": a.resource_type, "resource": a.resource, "detail": a.detail,
             "changes": ", ".join(sorted(a.changes)) if a.changes else ""} for a in actions]
    st.dataframe(_tinted(rows, "action", ACTION_COLOURS), hide_index=True, width="stretch",
                 column_config={"action": st.column_config.TextColumn(width="small"),
                                "detail": st.column_config.TextColumn(width="large")})


def artifacts_zip(the_plan) -> bytes:
    """The plan's exported artifacts (the deployer's export + plan.json) as a zip, in memory."""
    from deployers import api

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="da-export-") as tmp:
        out = Path(tmp) / the_plan.name
        files = api.export(the_plan, out)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, Path(the_plan.name) / path.relative_to(out))
    return buf.getvalue()


LANGS = {".py": "python", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".sh": "bash", ".toml": "toml",
         ".txt": "text", ".md": "markdown", ".j2": "jinja2", ".bicep": "bicep", ".tf": "hcl"}


def language_for(path: str) -> str:
    name = Path(path).name
    if name == "Dockerfile" or name.endswith(".Dockerfile"):
        return "dockerfile"
    return LANGS.get(Path(path).suffix.lower(), "text")


def pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, default=str)
    except (TypeError, ValueError):
        return str(value)


def page_header(title: str, subtitle: str) -> None:
    st.title(title)
    st.caption(subtitle)


def context_bar() -> None:
    """One line that says which profile and model the page is working with."""
    from ui import state

    p = state.profile()
    cols = st.columns([3, 3, 2], vertical_alignment="center")
    cols[0].markdown(f":material/tune: **Workload** {code(p.name)} · {esc(p.region)}")
    cols[1].markdown(f":material/model_training: **Model** {code(state.model_uri())}")
    cols[2].caption(esc(st.session_state.get(state.PROFILE_SOURCE, "")))


# ---------------------------------------------------------------- figures and page styles

# The app's only style rules: a constant (no user text ever reaches HTML; tests/ui/test_helpers.py checks it).
CSS = """
<style>
[data-testid="stColumn"]:has(.st-key-live_ranking) { position: sticky; top: 3.8rem; align-self: flex-start;
                                                      z-index: 2; }
[class*="st-key-dl_destroy"] button { background: #C4314B; border-color: #C4314B; color: #fff; }
[class*="st-key-dl_destroy"] button:disabled { background: #F3C9D0; border-color: #F3C9D0; }
</style>
"""


def styles() -> None:
    """The sticky live ranking and the destructive Destroy button."""
    st.html(CSS)


def figures(items: list[tuple[str, str]]) -> None:
    """Label/value figures as Markdown lines, which wrap instead of clipping (st.metric cuts a value to '$2…')."""
    st.markdown("  \n".join(f":gray[{esc(label)}] **{esc(value)}**" for label, value in items))


BADGE_COLOURS = {"good": "green", "bad": "red", "warn": "orange", "info": "blue", "grey": "gray"}


def badges(items: list[tuple[str, str]]) -> None:
    """Small coloured labels (Markdown badges: they wrap); tone is good | bad | warn | info | grey."""
    st.markdown(" ".join(f":{BADGE_COLOURS.get(tone, 'gray')}-badge[{esc(text)}]" for text, tone in items))


_URL = re.compile(r"https?://[^\s)\]]+")


def linkify(text: Any) -> str:
    """Escaped Markdown in which each web address is a clickable link labelled with its page name."""
    out, last = [], 0
    s = str(text)
    for m in _URL.finditer(s):
        url = m.group(0).rstrip(".,;")
        out.append(esc(s[last:m.start()]))
        tail = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1] or url
        out.append(f"[{esc(tail)}]({url.replace(')', '%29')})")
        last = m.start() + len(url)
    out.append(esc(s[last:]))
    return "".join(out)


def source_md(source: Any) -> str:
    """A fact's source: a web page as a link; a note in this repository as inline text (it is not a web page)."""
    s = str(source or "").strip()
    if not s:
        return ""
    if s.startswith(("http://", "https://")):
        return linkify(s)
    path, _, anchor = s.partition("#")
    where = Path(path).name + (f" § {anchor.replace('-', ' ')}" if anchor else "")
    return ":gray[" + esc(f"from {where}") + "]"
