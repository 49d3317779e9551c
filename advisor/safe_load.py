"""The one loader for YAML and JSON the user hands us (profiles, specs, `--set`, request bodies).

`yaml.safe_load` is safe from code execution but not from size: a few hundred
bytes of nested aliases expand to gigabytes, 100k brackets exhaust the stack and
a 5000-digit number trips Python's int limit. Every user document goes through
here instead, so each of those is one `DocumentError` line naming the place:

- the raw text is capped (`MAX_BYTES`) before parsing;
- aliases (`*name`, and so `<<: *name` merges) are refused: a profile or spec never needs them;
- nesting deeper than `MAX_DEPTH` is refused while composing, before Python recurses;
- numbers longer than `MAX_NUMBER_CHARS` are refused;
- a key given twice in one mapping is an error (YAML keeps the last one silently);
- JSON is strict JSON (no NaN/Infinity, no comments), with the same caps.

`short()` is the bounded repr every error message uses for a rejected value.
"""
from __future__ import annotations

import json
import re
import reprlib
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.resolver import Resolver

MAX_BYTES = 64_000  # a real profile or spec is a few kB; this bounds the worst parse to under a second
REQUEST_BYTES = 10 * 1024 * 1024  # a scoring request body (`invoke --data`, the UI's try-it box): the server's limit
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100
SHORT_CHARS = 80


class DocumentError(ValueError):
    """A document we refuse to load; str() is one line naming the source and the place."""


_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = SHORT_CHARS
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6


def short(value: Any, limit: int = SHORT_CHARS) -> str:
    """repr() that does bounded work and returns at most `limit` characters, on one line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        text = f"<a {value.bit_length()}-bit number>"  # repr of a huge int is slow and hits the digit limit
    else:
        try:
            text = _repr.repr(value)
        except Exception:  # an object whose repr fails must not turn an error message into a traceback
            text = f"<{type(value).__name__}>"
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_text(text: str, limit: int = 2 * SHORT_CHARS) -> str:
    """A message part that may quote user input: one line, at most `limit` characters."""
    text = text[: limit + 1].replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def _check_size(text: str, source: str, max_bytes: int) -> None:
    # len() is characters; a character is at most 4 UTF-8 bytes, so only a near-limit text needs encoding
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode("utf-8")) > max_bytes):
        raise DocumentError(f"{_where(source)}larger than {max_bytes // 1000} kB: refusing to parse it")


_BRACKETS = re.compile(r"[\[\]{}]")


def _check_flow_depth(text: str, source: str) -> None:
    """Refuse `[[[[...` before libyaml scans it: it looks ahead over every open flow level.

    Counts brackets without regard to quoting, so it can only over-estimate, and only a text
    with more than MAX_DEPTH unbalanced brackets inside strings is refused by mistake."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_DEPTH:
            line = text.count("\n", 0, m.start()) + 1
            raise DocumentError(f"{_where(source)}not valid YAML at line {line}: nested deeper than {MAX_DEPTH} levels")


# ---------------------------------------------------------------- YAML


class _BoundedComposer(Composer):
    """PyYAML's composer, refusing aliases and depth beyond MAX_DEPTH (the composer recurses)."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.get_event()
            raise ConstructorError(None, None, f"aliases (*{short(event.anchor, 40)}) are not allowed here: "
                                               "write the value out", event.start_mark)
        if self.check_event(SequenceStartEvent, MappingStartEvent):
            self._depth += 1
            try:
                if self._depth > MAX_DEPTH:
                    raise ConstructorError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                           self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


class _StrictConstructor(SafeConstructor):
    """SafeConstructor with duplicate keys and over-long numbers as errors."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: {...}`: merging may override keys by design
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                raise ConstructorError(None, None, "a mapping key must be a plain value", key_node.start_mark) from None
            if duplicate:
                raise ConstructorError(None, None, f"duplicate key {short(key, 40)}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def _check_number(self, node) -> None:
        if len(node.value) > MAX_NUMBER_CHARS:
            raise ConstructorError(None, None, f"a number longer than {MAX_NUMBER_CHARS} characters",
                                   node.start_mark)

    def construct_yaml_int(self, node):
        self._check_number(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        self._check_number(node)
        return super().construct_yaml_float(node)


_StrictConstructor.add_constructor("tag:yaml.org,2002:int", _StrictConstructor.construct_yaml_int)
_StrictConstructor.add_constructor("tag:yaml.org,2002:float", _StrictConstructor.construct_yaml_float)
_StrictConstructor.add_constructor("tag:yaml.org,2002:map", _StrictConstructor.construct_yaml_map)


try:
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    CParser = None

if CParser is not None:
    class _Loader(_BoundedComposer, CParser, _StrictConstructor, Resolver):
        """libyaml's C parser scans and parses; composing and constructing stay in Python (bounded)."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    class _Loader(_BoundedComposer, yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[no-redef]
                  _StrictConstructor, Resolver):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            _BoundedComposer.__init__(self)
            _StrictConstructor.__init__(self)
            Resolver.__init__(self)


def load_yaml(text: str, source: str = "", *, max_bytes: int = MAX_BYTES, what: str = "YAML") -> Any:
    """One YAML document (JSON is YAML too), or DocumentError; empty text is None.

    `what` names the format in messages ("not valid YAML at line 2, column 1: ...")."""
    _check_size(text, source, max_bytes)
    _check_flow_depth(text, source)
    loader = None
    try:
        loader = _Loader(text)  # libyaml checks the characters here already
        return loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or getattr(e, "reason", None) or "invalid YAML"
        raise DocumentError(f"{_where(source)}not valid {what}{at}: {short_text(str(problem))}") from None
    except (RecursionError, MemoryError) as e:  # belt and braces: the caps above should stop these first
        raise DocumentError(f"{_where(source)}too large or too deeply nested to load ({type(e).__name__})") from None
    finally:
        if loader is not None:
            loader.dispose()


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(value: Any, **kwargs: Any) -> str:
    """yaml.safe_dump that never writes anchors and aliases (PyYAML does for an object used twice),
    so what we write, load_yaml reads back."""
    return yaml.dump(value, Dumper=_NoAliasDumper, **{"sort_keys": False, **kwargs})


# ---------------------------------------------------------------- JSON


def _json_number(text: str, convert):
    if len(text) > MAX_NUMBER_CHARS:
        raise DocumentError(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return convert(text)


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise DocumentError(f"duplicate key {short(key, 40)}")
        out[key] = value
    return out


def _json_constant(name: str):
    raise DocumentError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, iteratively (the value may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((child, level + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def load_json(text: str | bytes, source: str = "", *, max_bytes: int = MAX_BYTES) -> Any:
    """Strict JSON (RFC 8259) with the same caps as YAML, or DocumentError."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_bytes:
            raise DocumentError(f"{_where(source)}larger than {max_bytes // 1000} kB: refusing to parse it")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError(f"{_where(source)}not UTF-8 text") from None
    _check_size(text, source, max_bytes)
    try:
        value = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant,
                           parse_int=lambda s: _json_number(s, int), parse_float=lambda s: _json_number(s, float))
    except json.JSONDecodeError as e:
        raise DocumentError(f"{_where(source)}not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except DocumentError as e:
        raise DocumentError(f"{_where(source)}not valid JSON: {e}") from None
    except RecursionError:
        raise DocumentError(f"{_where(source)}not valid JSON: nested deeper than {MAX_DEPTH} levels") from None
    except MemoryError:
        raise DocumentError(f"{_where(source)}too large to load") from None
    if _depth(value) > MAX_DEPTH:
        raise DocumentError(f"{_where(source)}not valid JSON: nested deeper than {MAX_DEPTH} levels")
    return value

