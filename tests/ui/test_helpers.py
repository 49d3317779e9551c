"""The UI's safety rails and generated forms: config, escaping, no HTML, forms from pydantic, the artifact zip."""
from __future__ import annotations

import io
import re
import tomllib
import zipfile
from typing import Literal, Optional

import pytest
from pydantic import BaseModel, ConfigDict, Field
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import ROOT
from ui import forms, render


def test_streamlit_config_is_locked_down():
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    assert cfg["server"]["headless"] is True
    assert cfg["server"]["enableXsrfProtection"] is True
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["browser"]["gatherUsageStats"] is False
    # every key is a real option of the installed Streamlit (a typo would be silently ignored)
    from streamlit import config as st_config

    known = st_config._config_options_template
    for section, values in cfg.items():
        if section == "theme":
            continue
        for key in values:
            assert f"{section}.{key}" in known, f"{section}.{key} is not a Streamlit option"


def test_no_page_renders_html():
    """User text never becomes HTML: no unsafe_allow_html or components anywhere in the UI; the one st.html
    call writes a constant style sheet (no placeholders, no script)."""
    from ui import render

    calls = []
    for path in [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py"))]:
        text = path.read_text()
        assert "unsafe_allow_html" not in text, path
        assert not re.search(r"components\.v1|st\.components", text), path
        calls += [(path.name, m) for m in re.findall(r"\bst\.html\(([^)]*)\)", text)]
    assert calls == [("render.py", "CSS")]
    assert render.CSS.strip().startswith("<style>") and render.CSS.strip().endswith("</style>")
    assert "<script" not in render.CSS.lower() and "{" not in render.CSS.replace("{ ", "").split("<style>")[0]


@pytest.mark.parametrize("evil", [
    "<script>alert(1)</script>", "[click](javascript:alert(1))", "![x](http://evil/x.png)", ":red[boom]",
    "$x^2$", "**bold** _it_ `code`", "# heading",
])
def test_esc_neutralises_markdown_and_directives(evil):
    out = render.esc(evil)
    # every markdown-active character is backslash-escaped
    for ch in "<>[]()!*_`$:#":
        assert re.search(r"(?<!\\)" + re.escape(ch), out) is None, (evil, out)


def test_code_span_cannot_be_broken_out_of():
    out = render.code("a`b` [x](y)")
    assert out.startswith("`") and out.endswith("`") and out.count("`") == 2


def test_hostile_profile_name_is_shown_as_text(isolated_home):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("ui/workload_page.py").run()
    at.text_input(key="wf.name").input("<img src=x onerror=alert(1)>").run()
    at.switch_page("ui/recommendation_page.py").run()
    assert not at.exception
    shown = [m.value for m in at.markdown if "img" in m.value]
    assert shown
    for m in shown:  # only inside a code span (shown literally) or escaped
        assert "<img" not in re.sub(r"`[^`]*`", "", m), m


class _Demo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replicas: int = Field(default=2, ge=1, le=10, description="How many copies")
    ratio: float = Field(default=0.5, gt=0, le=1)
    tier: Literal["basic", "premium"] = "basic"
    zone: Optional[Literal["1", "2", "3"]] = None
    public: bool = True
    label: str = Field(default="x", max_length=8)
    api_token: str = ""
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, int] = Field(default_factory=dict)


def test_field_types_pick_the_widgets():
    specs = {s.name: s for s in forms.field_specs(_Demo)}
    assert specs["replicas"].kind == "int" and (specs["replicas"].min, specs["replicas"].max) == (1, 10)
    assert specs["replicas"].help == "How many copies"
    assert specs["ratio"].kind == "float"
    assert specs["tier"].kind == "choice" and specs["tier"].options == ["basic", "premium"]
    assert specs["zone"].kind == "choice" and specs["zone"].optional
    assert specs["public"].kind == "bool"
    assert specs["label"].kind == "text" and specs["label"].max_chars == 8
    assert specs["api_token"].kind == "secret"
    assert specs["tags"].kind == "lines"
    assert specs["extra"].kind == "yaml"


def _demo_form():
    import streamlit as st

    from tests.ui.test_helpers import _Demo
    from ui import forms

    specs = forms.field_specs(_Demo)
    forms.seed("demo", specs, None)
    changed, parse_errors = forms.collect("demo", specs, only_changed=True)
    full, _ = forms.collect("demo", specs)
    _, errors = forms.validate(_Demo, full)
    errors.update(parse_errors)
    forms.render_fields(specs, "demo", errors)
    st.session_state["changed"] = changed


def test_generated_form_validates_inline_and_returns_only_changes(isolated_home):
    at = AppTest.from_function(_demo_form, default_timeout=30).run()
    assert not at.exception and not at.error
    assert at.session_state["changed"] == {}
    assert at.text_input(key="demo.api_token").proto.type == at.text_input(key="demo.api_token").proto.PASSWORD
    at.number_input(key="demo.replicas").set_value(4).run()
    at.selectbox(key="demo.tier").select("premium").run()
    at.text_area(key="demo.tags").input("a\n b \n\n").run()
    assert at.session_state["changed"] == {"replicas": 4, "tier": "premium", "tags": ["a", "b"]}
    at.number_input(key="demo.ratio").set_value(0.0).run()
    assert any(e.value.startswith("Ratio: must be more than 0") for e in at.error)
    at.text_area(key="demo.extra").input("a: [unclosed").run()
    assert any(e.value.startswith("Extra: not valid YAML") for e in at.error)
    at.text_area(key="demo.extra").input("a: notanumber").run()
    assert any(e.value.startswith("Extra:") for e in at.error)


def _seeded_then_interrupted():
    import streamlit as st

    from tests.ui.test_helpers import _Demo
    from ui import forms

    specs = [s for s in forms.field_specs(_Demo) if s.name in ("ratio", "tier")]
    phase = st.session_state.get("phase", "show")
    if phase == "hide":
        return
    forms.seed("demo", specs, None)
    if phase == "interrupted":
        st.stop()  # as when a newer rerun stops this run between seeding and drawing the widgets
    forms.render_fields(specs, "demo", {})


def test_a_seeded_value_reaches_the_browser_after_an_interrupted_run(isolated_home):
    """Shown, hidden, seeded by a run stopped before drawing, shown again: the widget must carry its value.

    Otherwise the browser mounts it at its default (min_value: 0.0 for a "> 0" float) and sends that
    back on the next rerun; this is how the Deploy page's local settings once read 0.0 in the browser test.
    """
    at = AppTest.from_function(_seeded_then_interrupted, default_timeout=30).run()
    for phase in ("hide", "interrupted", "show"):
        at.session_state["phase"] = phase
        at.run()
    ratio = at.number_input(key="demo.ratio").proto
    assert ratio.default == 0.0  # what the browser would show without a value
    assert ratio.set_value and ratio.value == 0.5
    assert at.selectbox(key="demo.tier").proto.set_value


def test_artifact_zip_holds_the_export(home_with_sample):
    from deployers import api

    spec = api.make_spec("ui-zip", "local", "models:/sample-classifier/1", api.parse_profile({}))
    the_plan = api.plan(spec)
    data = render.artifacts_zip(the_plan)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        assert "ui-zip/plan.json" in names
        for rel in the_plan.artifacts:
            assert f"ui-zip/{rel}" in names
            assert zf.read(f"ui-zip/{rel}").decode() == the_plan.artifacts[rel]


def test_age_and_money_formatting():
    assert render.ago(1000.0, now=1030.0) == "30 s ago"
    assert render.ago(1000.0, now=1000.0 + 7200) == "2.0 h ago"
    assert render.money(1234.4) == "$1,234"
    assert render.money(12.345) == "$12.35"
    assert render.money(None) == "—"


def test_sample_uri_matches_the_model_resolution_module():
    from deployers.model_resolution import SAMPLE_URI

    from ui import state

    assert state.SAMPLE_URI == SAMPLE_URI


def test_first_page_modules_do_not_import_pydantic():
    """The Model page opens before pydantic/MLflow load (the <= 3 s start goal); checked in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys, streamlit, ui.state, ui.render; "
            "print(sorted(m for m in ('pydantic', 'mlflow', 'advisor.models', 'deployers.api') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_profile_field_has_a_label_and_help_text():
    from advisor.models import WorkloadProfile
    from ui.profile_help import GROUPS, HELP, LABELS

    specs = forms.field_specs(WorkloadProfile, HELP, LABELS, skip=("model.calibration",))
    assert len(specs) >= 25
    for spec in specs:
        assert spec.help, f"{spec.path} has no help text"
        assert spec.path in LABELS, f"{spec.path} has no label"
        assert spec.group in GROUPS
    assert set(HELP) == {s.path for s in specs}  # no stale help for a field that no longer exists
