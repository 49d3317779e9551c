"""Forms generated from pydantic models: the workload profile and each deployer's Settings.

Field types pick the widget (bool -> toggle, Literal -> select, number -> number
input with the model's bounds, list of choices -> multiselect, anything
structured -> a YAML box); `description` (or the help map) becomes the help
text. Validation stays in the pydantic model: `validate` maps its errors back
to the fields so the page can show each one next to its widget.
"""
from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Optional, Union

import annotated_types as at
import streamlit as st
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from advisor.safe_load import DocumentError, dump_yaml, load_yaml

ACRONYMS = {"rps": "RPS", "ms": "ms", "kb": "KB", "mb": "MB", "gb": "GB", "sla": "SLA", "sku": "SKU", "gpu": "GPU",
            "usd": "USD", "aks": "AKS", "acr": "ACR", "url": "URL", "id": "ID", "vnet": "VNet", "api": "API",
            "cpu": "CPU", "p95": "p95", "dns": "DNS", "tls": "TLS", "ip": "IP", "s": "s", "http": "HTTP"}
SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key", "key_value")


def humanize(name: str) -> str:
    words = name.split("_")
    out = [ACRONYMS.get(w, w) for w in words]
    if out and out[0] == words[0]:
        out[0] = out[0][:1].upper() + out[0][1:]
    return " ".join(out)


@dataclass
class FieldSpec:
    path: str  # dotted path inside the model, e.g. "inference.peak_rps"
    name: str
    kind: str  # bool|int|float|choice|multichoice|text|secret|lines|yaml
    label: str
    help: str = ""
    optional: bool = False
    options: list[Any] = field(default_factory=list)
    min: Optional[float] = None
    max: Optional[float] = None
    max_chars: Optional[int] = None
    default: Any = None
    group: str = ""
    choice_labels: dict[Any, str] = field(default_factory=dict)  # value -> what the dropdown shows


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(args) < len(typing.get_args(tp)):
            return args[0], True
    return tp, False


def _bounds(info: FieldInfo) -> tuple[Optional[float], Optional[float], Optional[int]]:
    lo = hi = max_len = None
    for m in info.metadata:
        if isinstance(m, (at.Ge, at.Gt)):
            lo = getattr(m, "ge", None) if isinstance(m, at.Ge) else getattr(m, "gt", None)
        elif isinstance(m, (at.Le, at.Lt)):
            hi = getattr(m, "le", None) if isinstance(m, at.Le) else getattr(m, "lt", None)
        elif isinstance(m, at.MaxLen):
            max_len = m.max_length
    return lo, hi, max_len


def _default(info: FieldInfo) -> Any:
    if info.default is not PydanticUndefined:
        return info.default
    if info.default_factory is not None:
        try:
            return info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return None
    return None


def field_specs(model: type[BaseModel], help_map: Optional[dict[str, str]] = None,
                labels: Optional[dict[str, str]] = None, prefix: str = "", group: str = "",
                skip: tuple[str, ...] = (), choices: Optional[dict[str, dict[Any, str]]] = None) -> list[FieldSpec]:
    """Flatten a model into widget specs; nested models become groups. `choices`: dropdown labels by path."""
    help_map, labels, choices = help_map or {}, labels or {}, choices or {}
    out: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if path in skip:
            continue
        tp, optional = _unwrap_optional(info.annotation)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and not optional:  # optional ones: one YAML field
            out.extend(field_specs(tp, help_map, labels, prefix=f"{path}.", group=path, skip=skip, choices=choices))
            continue
        spec = FieldSpec(path=path, name=name, kind="yaml", label=labels.get(path) or humanize(name),
                         help=info.description or help_map.get(path, ""), optional=optional,
                         default=_default(info), group=group, choice_labels=choices.get(path, {}))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        lo, hi, max_len = _bounds(info)
        if tp is bool:
            spec.kind = "bool"
        elif tp is int or tp is float:
            spec.kind = "int" if tp is int else "float"
            spec.min, spec.max = lo, hi
        elif origin is Literal:
            spec.kind, spec.options = "choice", list(args)
        elif isinstance(tp, type) and issubclass(tp, Enum):
            spec.kind, spec.options = "choice", [m.value for m in tp]
        elif tp is SecretStr or (tp is str and any(w in name.lower() for w in SECRET_WORDS)):
            spec.kind = "secret"
        elif tp is str:
            spec.kind, spec.max_chars = "text", max_len
        elif origin in (list, tuple, set) and args and typing.get_origin(args[0]) is Literal:
            spec.kind, spec.options = "multichoice", list(typing.get_args(args[0]))
        elif origin in (list, tuple, set) and args and args[0] is str:
            spec.kind = "lines"
        out.append(spec)
    return out


# ---------------------------------------------------------------- values <-> session state

def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(data, BaseModel):
            data = getattr(data, part, None)
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _to_widget(spec: FieldSpec, value: Any) -> Any:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if spec.kind == "int":
        return None if value is None else int(value)
    if spec.kind == "float":
        return None if value is None else float(value)
    if spec.kind == "bool":
        return bool(value)
    if spec.kind == "multichoice":
        return list(value or [])
    if spec.kind == "lines":
        return "\n".join(str(v) for v in (value or []))
    if spec.kind in ("text", "secret"):
        return "" if value is None else str(value)
    if spec.kind == "yaml":
        return "" if value in (None, {}, []) else dump_yaml(value).strip()
    return value


def seed(key_prefix: str, specs: list[FieldSpec], values: Any, force: bool = False) -> None:
    """Put values into the widgets' session keys (all of them when `force`, else only missing ones)."""
    for spec in specs:
        key = f"{key_prefix}.{spec.path}"
        if force or key not in st.session_state:
            v = _get(values, spec.path) if values is not None else None
            if v is None and values is None:
                v = spec.default
            st.session_state[key] = _to_widget(spec, v)


def clear(key_prefix: str) -> None:
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(key_prefix + ".")]:
        del st.session_state[key]


def collect(key_prefix: str, specs: list[FieldSpec], only_changed: bool = False) -> tuple[dict, dict[str, str]]:
    """Read widget values back into a nested dict; returns (data, per-field parse errors)."""
    data: dict = {}
    errors: dict[str, str] = {}
    for spec in specs:
        key = f"{key_prefix}.{spec.path}"
        raw = st.session_state.get(key)
        if spec.kind in ("text", "secret"):
            value: Any = raw if raw not in ("",) else (None if spec.optional else "")
            if spec.kind == "secret" and value:
                value = str(value)
        elif spec.kind == "lines":
            value = [line.strip() for line in str(raw or "").splitlines() if line.strip()]
        elif spec.kind == "yaml":
            text = str(raw or "").strip()
            if not text:
                value = spec.default
            else:
                try:
                    value = load_yaml(text)
                except DocumentError as e:
                    errors[spec.path] = str(e)
                    continue
        else:
            value = raw
        if only_changed and value == _to_plain(spec.default):
            continue
        node = data
        parts = spec.path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return data, errors


def _to_plain(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, SecretStr):
        return v.get_secret_value()
    return v


def describe_error(err: dict) -> str:
    """One pydantic error as a short sentence for the field it belongs to."""
    kind, ctx, got = err.get("type", ""), err.get("ctx") or {}, err.get("input")
    ops = {"greater_than_equal": ("at least", "ge"), "greater_than": ("more than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
    if kind in ops:
        word, k = ops[kind]
        return f"must be {word} {ctx.get(k)} (got {got})"
    if kind == "string_pattern_mismatch":
        return f"{got!r} does not have the expected form"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "is required"
    return str(err.get("msg", "invalid value")).rstrip(".").lower()


def validate(model: type[BaseModel], data: dict) -> tuple[Optional[BaseModel], dict[str, str]]:
    """Validate with the pydantic model; errors keyed by dotted field path ('' for the whole model)."""
    try:
        return model.model_validate(data), {}
    except ValidationError as e:
        known = {s.path for s in field_specs(model)}
        errors: dict[str, str] = {}
        for err in e.errors():
            parts = [str(p) for p in err["loc"]]
            owner = list(parts)
            while owner and ".".join(owner) not in known:  # an error inside a dict/list belongs to its field
                owner.pop()
            path = ".".join(owner) if owner else ".".join(parts)
            msg = describe_error(err)
            if len(owner) < len(parts) and owner:
                msg = f"{'.'.join(parts[len(owner):])}: {msg}"
            errors.setdefault(path, msg)
        return None, errors


# ---------------------------------------------------------------- widgets

def _fmt_choice(v: Any) -> str:
    return "—" if v is None else str(v)


def render_field(spec: FieldSpec, key_prefix: str, error: str = "", container: Any = None,
                 disabled: bool = False) -> None:
    """Draw one widget bound to `<key_prefix>.<path>`; its error (if any) right under it."""
    c = container or st
    key = f"{key_prefix}.{spec.path}"
    help_ = spec.help or None
    if key in st.session_state:
        # Re-assert the value so Streamlit sends it with the widget on every run. Without this, a value seeded
        # in a run that a newer rerun stopped before the widget was drawn is not sent when the widget is next
        # drawn: the browser mounts it at its default (min_value, 0.0 for "> 0") and sends that back.
        st.session_state[key] = st.session_state[key]
    if spec.kind == "bool":
        c.toggle(spec.label, key=key, help=help_, disabled=disabled)
    elif spec.kind in ("int", "float"):
        cast = int if spec.kind == "int" else float
        if key not in st.session_state and spec.default is not None:
            # A number_input with no state starts at min_value, which breaks `gt` bounds (0.0 for "> 0").
            st.session_state[key] = _to_widget(spec, spec.default)
        lo = cast(spec.min) if spec.min is not None else None
        hi = cast(spec.max) if spec.max is not None else None
        step = cast(1) if spec.kind == "int" else _float_step(st.session_state.get(key), lo, hi)
        c.number_input(spec.label, min_value=lo, max_value=hi, step=step, key=key, help=help_, disabled=disabled,
                       placeholder="not set" if spec.optional else None,
                       format=None if spec.kind == "int" else "%g")
    elif spec.kind == "choice":
        options = ([None] if spec.optional else []) + list(spec.options)
        c.selectbox(spec.label, options, key=key, help=help_, disabled=disabled,
                    format_func=lambda v: spec.choice_labels.get(v) or _fmt_choice(v))
    elif spec.kind == "multichoice":
        c.multiselect(spec.label, spec.options, key=key, help=help_, disabled=disabled,
                      format_func=lambda v: spec.choice_labels.get(v) or _fmt_choice(v))
    elif spec.kind == "secret":
        c.text_input(spec.label, key=key, help=help_, type="password", disabled=disabled, autocomplete="off")
    elif spec.kind == "text":
        c.text_input(spec.label, key=key, help=help_, max_chars=spec.max_chars, disabled=disabled)
    elif spec.kind == "lines":
        c.text_area(spec.label, key=key, help=(help_ or "") + " (one per line)", height=90, disabled=disabled)
    else:
        c.text_area(spec.label, key=key, help=(help_ or "") + " (YAML)", height=90, disabled=disabled)
    if error:
        c.error(f"{spec.label}: {_esc(error)}", icon=":material/error:")


def _float_step(value: Any, lo: Optional[float], hi: Optional[float]) -> float:
    if hi is not None and hi <= 100 and (lo or 0) >= 0 and hi - (lo or 0) <= 100:
        return 0.1 if hi <= 10 else 1.0
    return 1.0


def _esc(text: str) -> str:
    from ui.render import esc

    return esc(text)


def render_fields(specs: list[FieldSpec], key_prefix: str, errors: dict[str, str], columns: int = 2,
                  disabled: bool = False) -> None:
    """Lay out specs in rows of `columns`; each error under its own widget."""
    for i in range(0, len(specs), columns):
        row = specs[i:i + columns]
        cols = st.columns(columns)
        for spec, col in zip(row, cols):
            render_field(spec, key_prefix, errors.get(spec.path, ""), container=col, disabled=disabled)
