"""Deployment spec files (`deployment.yaml`): a reviewed, committed description of one deployment.

CI pipelines and platform teams deploy without a browser: the spec in their
repository is what they review, and `plan|apply|status|destroy -f FILE|DIR`
act on it. A spec names the model, the workload profile (inline or a path
relative to the spec file), the target (`auto` = the advisor's top viable
choice) and the target's settings. Validation is strict (unknown keys are
errors) and every message names the file and the field, so a bad spec fails
a pipeline with one readable line.

```yaml
name: churn-prod                    # optional: default <profile name>-<target>
target: azureml                     # local | azureml | aks | appservice | containerapps | auto | a plugin's target
model: azureml:churn-model:3        # models:/NAME/VERSION, azureml:NAME:VERSION or a model folder
profile: profiles/churn.yaml        # or an inline mapping; omitted = every default
settings:                           # the target's settings (`deploy-advisor settings TARGET`)
  instance_count: 2
```

With `target: auto` the settings are keyed by target (`settings: {azureml: {...},
aks: {...}}`) because which keys are valid depends on the choice.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from advisor.models import ProfileError, WorkloadProfile, describe_validation_error, load_profile
from advisor.safe_load import MAX_BYTES, DocumentError, dump_yaml, load_yaml, short, short_text

from .errors import InputError

SPEC_SUFFIXES = (".yaml", ".yml")
TARGET_RE = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
# Model references with a scheme are passed through; anything else is a local path.
_URI_RE = re.compile(r"^(models:/|azureml:|runs:/|file://|https?://|s3://|gs://|abfss?://|wasbs?://|dbfs:/)")
MAX_SPEC_BYTES = MAX_BYTES


class SpecError(InputError):
    """One or more spec files are invalid; every problem names its file and field (exit 2)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(self.problems[0] if len(self.problems) == 1 else
                         f"{len(self.problems)} invalid spec files: " + " | ".join(self.problems))


# ---------------------------------------------------------------- schema


class _SpecBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = Field(default=1, description="spec format version")
    name: Optional[str] = Field(default=None, description="deployment name (3-32 lowercase letters, digits, dashes)")
    target: str = Field(default="auto", description="target id, or auto = the advisor's top viable choice")
    model: str = Field(min_length=1, max_length=1000, description="model reference")
    settings: dict[str, Any] = Field(default_factory=dict, description="the target's settings")

    @field_validator("name")
    @classmethod
    def _name(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        from .models import validate_deployment_name

        return validate_deployment_name(v)

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if not TARGET_RE.match(v):
            raise ValueError(f"invalid target id {short(v)}")
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if v != v.strip() or any(c in v for c in "\n\r\t\0"):
            raise ValueError("must be one line without surrounding spaces")
        return v


class _InlineProfileSpec(_SpecBase):
    profile: WorkloadProfile = Field(default_factory=WorkloadProfile)


class _PathProfileSpec(_SpecBase):
    profile: str = Field(min_length=1, max_length=1000, description="profile file, relative to the spec file")


SpecDoc = Union[_InlineProfileSpec, _PathProfileSpec]


@dataclass
class LoadedSpec:
    """A validated spec file: the document plus the profile it points at, ready to resolve."""

    path: Path
    doc: SpecDoc
    profile: WorkloadProfile
    profile_source: str  # "inline", "defaults" or the profile file's path
    model: str  # the model reference, a local path made absolute against the spec's folder

    @property
    def target(self) -> str:
        return self.doc.target

    @property
    def name(self) -> Optional[str]:
        return self.doc.name

    def settings_for(self, target: str) -> dict[str, Any]:
        """The settings that apply once the target is known (auto specs key them by target)."""
        if self.doc.target == "auto":
            return dict(self.doc.settings.get(target) or {})
        return dict(self.doc.settings)


@dataclass
class ResolvedSpec:
    """A spec turned into a DeploymentSpec (the target chosen when it said auto)."""

    loaded: LoadedSpec
    spec: Any  # DeploymentSpec
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- loading


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_spec(path: Path | str, *, check_settings: bool = True) -> LoadedSpec:
    """Read and validate one spec file; raises SpecError naming the file and the field."""
    p = Path(path)
    where = short_text(_rel(p))
    try:
        if not p.is_file():
            raise SpecError([f"{where}: no such spec file"])
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError([f"{where}: larger than {MAX_SPEC_BYTES // 1000} kB: not a deployment spec"])
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError([f"{where}: cannot read ({e.__class__.__name__})"]) from None
    return parse_spec_text(text, where, base_dir=p.resolve().parent, check_settings=check_settings, path=p)


def parse_spec_text(text: str, where: str, base_dir: Path, *, check_settings: bool = True,
                    path: Optional[Path] = None) -> LoadedSpec:
    try:
        data = load_yaml(text, where) if text.strip() else None
    except DocumentError as e:
        raise SpecError([str(e)]) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError([f"{where}: a deployment spec must be a mapping with at least `model:` (got {kind})"])
    raw_profile = data.get("profile")
    model_cls: type[_SpecBase] = _PathProfileSpec if isinstance(raw_profile, str) else _InlineProfileSpec
    if raw_profile is None and "profile" in data:
        data = {k: v for k, v in data.items() if k != "profile"}  # `profile:` left empty = defaults
    try:
        doc = model_cls.model_validate(data)
    except ValidationError as e:
        if raw_profile is not None and not isinstance(raw_profile, (str, dict)):
            raise SpecError([f"{where}: profile: must be a mapping or a path to a profile file "
                             f"(got {type(raw_profile).__name__})"]) from None
        raise SpecError([describe_validation_error(e, where)]) from None

    if isinstance(doc, _PathProfileSpec):
        ppath = Path(doc.profile)
        ppath = ppath if ppath.is_absolute() else base_dir / ppath
        try:
            profile = load_profile(ppath)
        except ProfileError as e:
            raise SpecError([f"{where}: profile: {e}"]) from None
        source = _rel(ppath)
    else:
        profile = doc.profile
        source = "inline" if "profile" in data else "defaults"

    model = doc.model
    if not _URI_RE.match(model):
        mpath = Path(model).expanduser()
        candidate = mpath if mpath.is_absolute() else base_dir / mpath
        if candidate.exists():
            model = str(candidate.resolve())

    loaded = LoadedSpec(path=path or base_dir / "deployment.yaml", doc=doc, profile=profile,
                        profile_source=source, model=model)
    _check_target(loaded, where, check_settings)
    return loaded


def _check_target(loaded: LoadedSpec, where: str, check_settings: bool) -> None:
    """The target must be installed; its settings must fit its Settings model."""
    from . import registry

    known = registry.available()
    target = loaded.doc.target
    if target != "auto" and target not in known:
        raise SpecError([f"{where}: target: unknown target {target!r} (choose one of: auto, "
                         f"{', '.join(sorted(known))})"])
    settings = loaded.doc.settings
    if target == "auto":
        bad = [k for k, v in settings.items() if k not in known or not isinstance(v, dict)]
        if bad:
            raise SpecError([f"{where}: settings.{bad[0]}: with `target: auto`, key the settings by target "
                             f"(e.g. settings: {{azureml: {{instance_count: 2}}}}); targets: {', '.join(sorted(known))}"])
        if check_settings:
            for t, values in settings.items():
                _check_settings(where, t, values, f"settings.{t}")
    elif check_settings:
        _check_settings(where, target, settings, "settings")


def _check_settings(where: str, target: str, values: dict, prefix: str) -> None:
    from . import registry

    try:
        cls = registry.get_class(target)
    except InputError as e:
        raise SpecError([f"{where}: target: {e.message}"]) from None
    try:
        cls.Settings.model_validate(values)
    except ValidationError as e:
        raise SpecError([describe_validation_error(e, f"{where}: {prefix}").replace(f"{prefix}: ", f"{prefix}.", 1)]) \
            from None


def discover(paths: list[str | Path]) -> list[Path]:
    """FILE or DIR arguments -> spec files. A DIR means every *.yaml / *.yml directly in it (sorted)."""
    found: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        p = Path(raw)
        try:
            p.stat()
        except FileNotFoundError:
            pass
        except OSError as e:  # a name too long, a loop of links, no permission
            problems.append(f"{short_text(_rel(p))}: cannot read ({e.strerror or e.__class__.__name__})")
            continue
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in SPEC_SUFFIXES
                           and not f.name.startswith("."))
            if not files:
                problems.append(f"{_rel(p)}: no *.yaml deployment specs in this folder")
            found.extend(files)
        elif p.is_file():
            found.append(p)
        else:
            problems.append(f"{_rel(p)}: no such spec file or folder")
    if problems:
        raise SpecError(problems)
    unique: list[Path] = []
    seen: set[Path] = set()
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def load_all(paths: list[str | Path]) -> list[LoadedSpec]:
    """Validate every spec before anything runs: one bad file stops the whole batch (exit 2)."""
    problems: list[str] = []
    loaded: list[LoadedSpec] = []
    for f in discover(paths):
        try:
            loaded.append(load_spec(f))
        except SpecError as e:
            problems.extend(e.problems)
    names: dict[str, str] = {}
    for s in loaded:
        if s.name:
            if s.name in names:
                problems.append(f"{_rel(s.path)}: name: {s.name!r} is also used by {names[s.name]}")
            names.setdefault(s.name, _rel(s.path))
    if problems:
        raise SpecError(problems)
    return loaded


# ---------------------------------------------------------------- resolving


def default_name(profile: WorkloadProfile, target: str) -> str:
    """The name `make_spec` would give: `<profile name>-<target>`, DNS-safe."""
    base = re.sub(r"[^a-z0-9-]+", "-", (profile.name or "model").lower()).strip("-")[:24] or "model"
    base = re.sub(r"-{2,}", "-", base)
    if not base[0].isalpha():
        base = "m-" + base
    return f"{base}-{target}"[:32].rstrip("-")


def choose_target(loaded: LoadedSpec, ctx: Any = None) -> tuple[str, list[str], WorkloadProfile]:
    """`target: auto` -> the advisor's top viable deployable choice, with a note saying why."""
    from . import api, registry

    profile = loaded.profile
    try:
        profile, _info, _note = api.profile_with_model(profile, loaded.model, ctx)
    except InputError:
        pass  # the deployer reports model problems with context when it plans
    from advisor.engine import recommend

    rec = recommend(profile)
    deployable = set(registry.installed_targets())
    options = [o for o in rec.options if o.target in deployable]
    if not options:
        reasons = "; ".join(f"{e.target}: {', '.join(e.reasons)}" for e in rec.excluded[:3])
        raise InputError(f"{_rel(loaded.path)}: target: auto found no deployable target for this profile"
                         + (f" ({reasons})" if reasons else ""), "see `deploy-advisor recommend` or pick a target")
    top = options[0]
    runner_up = f"; next: {options[1].target} {options[1].score:.1f}" if len(options) > 1 else ""
    note = (f"target auto -> {top.target}: the advisor's top viable choice (score {top.score:.1f}{runner_up}; "
            f"prices as of {rec.prices_as_of})")
    skipped = [o.target for o in rec.options if o.target not in deployable]
    notes = [note]
    if skipped:
        notes.append(f"ranked but not deployable here (no deployer installed): {', '.join(skipped)}")
    return top.target, notes, profile


def resolve(loaded: LoadedSpec, ctx: Any = None,
            overrides: Union[None, dict[str, Any], Callable[[str], dict[str, Any]]] = None) -> ResolvedSpec:
    """Pick the target (auto), fill the profile's model facts, name it, validate settings.

    `overrides` (a dict, or target -> dict) are defaults from flags/env; the spec's own settings win.
    """
    from . import api

    notes: list[str] = []
    target = loaded.doc.target
    profile = loaded.profile
    if target == "auto":
        target, notes, profile = choose_target(loaded, ctx)
    else:
        try:
            profile, _info, _note = api.profile_with_model(profile, loaded.model, ctx)
        except InputError:
            pass
    settings = loaded.settings_for(target)
    extra = overrides(target) if callable(overrides) else (overrides or {})
    for key, value in extra.items():
        settings.setdefault(key, value)  # the spec wins over flag/env defaults
    name = loaded.doc.name or default_name(loaded.profile, target)
    where = _rel(loaded.path)
    _check_settings(where, target, settings, f"settings.{target}" if loaded.doc.target == "auto" else "settings")
    try:
        spec = api.make_spec(name, target, loaded.model, profile, settings)
    except InputError as e:
        raise InputError(f"{where}: {e.message}", e.hint) from None
    if loaded.profile_source not in ("inline", "defaults"):
        notes.append(f"profile from {loaded.profile_source}")
    return ResolvedSpec(loaded=loaded, spec=spec, notes=notes)


def to_yaml(spec: Any, *, header: str = "") -> str:
    """A self-contained deployment.yaml (profile inline) for a DeploymentSpec: used by export."""
    import json

    doc: dict[str, Any] = {"version": 1, "name": spec.name, "target": spec.target, "model": spec.model,
                           "profile": json.loads(spec.profile.model_dump_json(exclude_none=True)),
                           "settings": dict(spec.settings)}
    text = dump_yaml(doc, default_flow_style=False)
    return (header + text) if header else text
