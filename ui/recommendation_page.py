"""Recommendation page: the ranked targets, why, what it costs as traffic grows, and what would change it.

Everything shown comes from `api.recommend` (cached on the profile's JSON); this page lays it out and
lets the user act on it: apply a "what would change the answer" line, compare two options, export.
"""
from __future__ import annotations

from typing import Optional

import altair as alt
import pandas as pd
import streamlit as st

from advisor.models import Option, Recommendation, WorkloadProfile
from ui import forms, render, state, words

MAX_CARDS_PER_ROW = 2  # two per row: figures and badges stay readable at 1100 px with the sidebar open
APPLIED = "rec_applied"  # a note about the change just applied
VERDICT_LOOK = {"met": (":material/check_circle:", "green", "met"),
                "met-with-change": (":material/build_circle:", "orange", "met with a change"),
                "not-met": (":material/cancel:", "red", "not met")}
# distinct colours per target (Tableau 10), so two lines never share one
PALETTE = ["#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1", "#76B7B2", "#EDC948", "#9C755F"]


def _deployable() -> set[str]:
    return {t["name"] for t in state.targets() if t.get("deployable")}


def _card(opt: Option, rank: int, budget: Optional[float], deployable: set[str]) -> None:
    with st.container(border=True, height="stretch", key=f"card_{opt.target}"):
        tags = [(f"#{rank}", "good" if rank == 1 else "grey")]
        if rank == 1:
            tags.append(("Recommended", "good"))
        fits = state.fits_budget(opt, budget)
        if fits is not None:
            tags.append(("fits budget", "good") if fits else ("over budget", "bad"))
        if opt.target not in deployable:
            tags.append(("advice only", "warn"))  # no installed deployer for it
        render.badges(tags)
        st.markdown(f"##### {render.esc(state.target_title(opt.target))}")
        s = opt.sizing
        render.figures([("Per month", render.money(opt.cost.monthly_usd)), ("Score", f"{opt.score:.1f} / 100"),
                        ("Size", f"{s.sku} × {s.instances}")])
        st.caption(f"Autoscale {s.min}–{s.max}"
                   + (f" · predicted p95 {s.predicted_p95_ms:.0f} ms" if s.predicted_p95_ms is not None else "")
                   + f" · service time {s.service_ms:.1f} ms ({'measured' if s.service_time_measured else 'estimated'})")
        _verdicts(opt)
        for reason in opt.reasons[:3]:
            st.markdown("- " + render.linkify(words.plain(reason)))
        with st.expander("Cost and sizing details"):
            if opt.cost.breakdown:
                st.dataframe([{"item": k, "USD / month": round(v, 2)} for k, v in opt.cost.breakdown.items()],
                             hide_index=True, width="stretch")
            for a in opt.cost.assumptions:
                st.markdown("- " + render.linkify(a))
            for n in s.notes:
                st.markdown("- " + render.linkify(n))


def _verdicts(opt: Option) -> None:
    """The advisor's requirement verdicts: what needs a change or is not met in full; what is met in one line."""
    verdicts = getattr(opt, "verdicts", None) or []
    if not verdicts:
        return
    lines = []
    for v in verdicts:
        icon, colour, word = VERDICT_LOOK.get(v.status, (":material/help:", "gray", v.status))
        line = f"{icon} :{colour}[**{render.esc(words.requirement(v.requirement))}** {word}]: {render.esc(v.detail)}"
        if v.change:
            line += f" — {render.esc(v.change)}"
        if getattr(v, "source", ""):
            line += " " + render.source_md(v.source)
        lines.append((v.status, line))
    problems = [line for status, line in lines if status != "met"]
    if problems:
        st.markdown("  \n".join(problems))
    met = [words.requirement(v.requirement) for v in verdicts if v.status == "met"]
    if met:
        st.markdown(":material/check_circle: :green[**Met:**] " + render.esc(" · ".join(met)))
        with st.expander("Each requirement, with its source"):
            st.markdown("  \n".join(line for _s, line in lines))


def _criteria(rec: Recommendation) -> None:
    rows = []
    for opt in rec.options:
        for c in opt.criteria:
            counted = c.weight > 0
            rows.append({"target": words.short(opt.target),
                         "criterion": f"{words.criterion(c.name)} (×{c.weight:g})" if counted
                         else f"{words.criterion(c.name)} (not counted)",
                         "score": round(c.score, 1), "weight": c.weight, "counted": counted,
                         "reason": c.reason, "source": c.source})
    if not rows:
        st.caption("No viable target to compare.")
        return
    df = pd.DataFrame(rows)
    order = [words.short(o.target) for o in rec.options]
    tab_map, tab_table = st.tabs(["Heatmap", "Table"])
    with tab_map:
        base = alt.Chart(df).encode(
            x=alt.X("target:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, orient="top")),
            y=alt.Y("criterion:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)),
        )
        tooltip = ["target", "criterion", "score", "weight", "reason", "source"]
        counted = base.transform_filter("datum.counted").mark_rect(stroke="white", strokeWidth=1).encode(
            color=alt.Color("score:Q", scale=alt.Scale(domain=[0, 100], scheme="redyellowgreen"),
                            legend=alt.Legend(title="score")), tooltip=tooltip)
        ignored = base.transform_filter("!datum.counted").mark_rect(stroke="white", strokeWidth=1,
                                                                    color="#E9ECEF").encode(tooltip=tooltip)
        text = base.mark_text(fontSize=12).encode(text=alt.Text("score:Q", format=".0f"),
                                                  color=alt.value("#1b1b1b"))
        height = 28 * df["criterion"].nunique() + 40
        st.altair_chart((counted + ignored + text).properties(height=height), width="stretch")
        st.caption("The weight of each criterion is in brackets; grey rows do not count for this workload. "
                   "Hover a cell for the reason and its source.")
    with tab_table:
        pivot = df.pivot_table(index=["criterion"], columns="target", values="score", sort=False)
        st.dataframe(pivot[[c for c in order if c in pivot.columns]], width="stretch")
        with st.expander("Every reason with its source"):
            for opt in rec.options:
                st.markdown(f"**{render.esc(state.target_title(opt.target))}**")
                for c in opt.criteria:
                    st.markdown(f"- **{render.esc(words.criterion(c.name))}** {c.score:.0f}: "
                                f"{render.linkify(c.reason)} {render.source_md(c.source)}")


def _cost_chart(p: WorkloadProfile) -> None:
    try:
        with st.spinner("Pricing the traffic range…"):
            rows = state.cost_curve(p)
    except Exception as e:
        render.error(e, "cost chart")
        return
    if not rows:
        st.caption("No viable target over this traffic range.")
        return
    df = pd.DataFrame(rows)
    df["target"] = df["target"].map(words.short)
    names = sorted(df["target"].unique())
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("peak_rps:Q", scale=alt.Scale(type="log"), title="peak requests / s"),
        y=alt.Y("monthly_usd:Q", title="USD / month"),
        color=alt.Color("target:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(domain=names, range=PALETTE[:len(names)])),
        tooltip=["target", "peak_rps", alt.Tooltip("monthly_usd:Q", format="$,.0f"), "sku", "instances", "score"])
    layers = [lines, alt.Chart(pd.DataFrame({"peak_rps": [p.inference.peak_rps]})).mark_rule(
        strokeDash=[4, 4], color="#888").encode(x="peak_rps:Q")]
    budget = p.budget.monthly_usd
    if budget is not None:
        layers.append(alt.Chart(pd.DataFrame({"monthly_usd": [budget], "label": [f"budget {render.money(budget)}"]}))
                      .mark_rule(color="#1B1F24", strokeWidth=2, strokeDash=[10, 4]).encode(y="monthly_usd:Q", tooltip=["label"]))
    st.altair_chart(alt.layer(*layers).properties(height=320), width="stretch")
    st.caption("Each point is a full re-ranking with only the peak traffic changed (average traffic keeps its "
               "ratio to peak). The dashed line is this profile"
               + ("; the long-dashed black line is the budget" if budget is not None else "")
               + ". A target missing at some load was excluded there.")


def _apply(change: str) -> None:
    """Button callback: the profile with one sensitivity change; the Workload form re-seeds from it."""
    from deployers import api

    p = state.profile()
    try:
        new = api.apply_change(p, change)
    except Exception as e:  # shown on the page; the profile is unchanged
        st.session_state[APPLIED] = ("error", str(e))
        return
    state.set_profile(new, "edited")
    forms.clear("wf")
    st.session_state[APPLIED] = ("ok", words.change(change))


def _sensitivity(rec: Recommendation) -> None:
    if not rec.sensitivity:
        st.caption("No single change to the profile would change the winner.")
        return
    for i, sens in enumerate(rec.sensitivity):
        c = st.columns([4, 1], vertical_alignment="center")
        winner = ("no target would fit" if sens.new_winner == "none"
                  else f"**{render.esc(state.target_title(sens.new_winner))}** would be first")
        said = getattr(sens, "said", "") or words.change(sens.change)  # the advisor's own words when it gives them
        c[0].markdown(f":material/swap_horiz: **{render.esc(said)}** → {winner}  \n"
                      f":gray[{render.linkify(words.plain(sens.explanation))}]")
        c[1].button("Apply", key=f"rec_apply_{i}", on_click=_apply, args=(sens.change,),
                    icon=":material/done:", width="stretch", help=f"Sets {sens.change} in the workload")


def _compare(rec: Recommendation) -> None:
    if len(rec.options) < 2:
        st.caption("Only one option: nothing to compare.")
        return
    names = [o.target for o in rec.options]
    c = st.columns(2)
    a = c[0].selectbox("Option A", names, index=0, key="rec_cmp_a", format_func=state.target_title)
    b = c[1].selectbox("Option B", names, index=1, key="rec_cmp_b", format_func=state.target_title)
    oa, ob = (next(o for o in rec.options if o.target == t) for t in (a, b))
    rows = [("Score", f"{oa.score:.1f}", f"{ob.score:.1f}"),
            ("USD / month", render.money(oa.cost.monthly_usd), render.money(ob.cost.monthly_usd)),
            ("Size", f"{oa.sizing.sku} × {oa.sizing.instances}", f"{ob.sizing.sku} × {ob.sizing.instances}"),
            ("Autoscale", f"{oa.sizing.min}–{oa.sizing.max}", f"{ob.sizing.min}–{ob.sizing.max}"),
            ("Predicted p95 (ms)", _ms(oa.sizing.predicted_p95_ms), _ms(ob.sizing.predicted_p95_ms))]
    for item in dict.fromkeys([*oa.cost.breakdown, *ob.cost.breakdown]):
        rows.append((f"Cost: {words.readable(item)}", render.money(oa.cost.breakdown.get(item)), render.money(ob.cost.breakdown.get(item))))
    crit_b = {x.name: x for x in ob.criteria}
    for x in oa.criteria:
        y = crit_b.get(x.name)
        label = f"{words.criterion(x.name)} (×{x.weight:g})" if x.weight > 0 else f"{words.criterion(x.name)} (not counted)"
        rows.append((label, f"{x.score:.0f}", f"{y.score:.0f}" if y else "—"))
    st.dataframe(pd.DataFrame(rows, columns=["", words.short(a), words.short(b)]), hide_index=True, width="stretch",
                 height=min(36 * (len(rows) + 1) + 4, 560))


def _ms(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.0f}"


def _export(rec: Recommendation, p: WorkloadProfile) -> None:
    from deployers import api

    model = state.model_uri()
    c = st.columns(2)
    c[0].download_button("Export as Markdown", lambda: api.recommendation_markdown(rec, p, model, state.TITLES),
                         file_name=f"recommendation-{p.name}.md", mime="text/markdown", key="rec_export_md",
                         icon=":material/description:", on_click="ignore", width="stretch")
    c[1].download_button("Export as JSON", lambda: api.recommendation_json(rec, p, model),
                         file_name=f"recommendation-{p.name}.json", mime="application/json", key="rec_export_json",
                         icon=":material/data_object:", on_click="ignore", width="stretch")


def main() -> None:
    state.ensure()
    render.page_header("Recommendation", "Where to serve this model on Azure, and why.")
    render.context_bar()
    p = state.profile()
    try:
        rec = state.recommend(p)
    except Exception as e:
        render.error(e, "could not rank the targets")
        return
    applied = st.session_state.pop(APPLIED, None)
    if applied:
        (st.success if applied[0] == "ok" else st.error)(
            ("Applied: " if applied[0] == "ok" else "Could not apply the change: ") + render.esc(applied[1]),
            icon=":material/done:" if applied[0] == "ok" else ":material/error:")
    if getattr(rec, "headline", ""):
        (st.info if getattr(rec, "meets_all", True) else st.warning)(render.esc(rec.headline),
                                                                     icon=":material/fact_check:")
    top = rec.top
    if top is None:
        st.error("No Azure target fits this profile. The reasons are below; relax a hard requirement "
                 "on the Workload page.", icon=":material/block:")
    else:
        st.success(f"**{render.esc(state.target_title(top.target))}** — score {top.score:.1f}, "
                   f"about {render.money(top.cost.monthly_usd)} a month on {render.code(top.sizing.sku)} × "
                   f"{top.sizing.instances}.", icon=":material/recommend:")
    deployable = _deployable()
    per_row = max(1, min(MAX_CARDS_PER_ROW, len(rec.options)))
    for i in range(0, len(rec.options), per_row):
        cols = st.columns(per_row)
        for j, opt in enumerate(rec.options[i:i + per_row]):
            with cols[j]:
                _card(opt, i + j + 1, p.budget.monthly_usd, deployable)
    if rec.excluded:
        st.subheader("Excluded")
        for x in rec.excluded:
            with st.container(border=True):
                st.markdown(f":material/block: **{render.esc(state.target_title(x.target))}**")
                for r in x.reasons:
                    st.markdown("- " + render.linkify(words.plain(r)))
    st.subheader("What would change the answer")
    _sensitivity(rec)
    st.subheader("Compare two options")
    _compare(rec)
    st.subheader("Criteria")
    _criteria(rec)
    st.subheader("Monthly cost against peak traffic")
    _cost_chart(p)
    st.subheader("Export")
    _export(rec, p)
    st.caption(f"Prices as of {render.esc(rec.prices_as_of)} (Azure Retail Prices snapshot).")
    if rec.inputs:
        with st.expander("How the inputs were obtained", icon=":material/info:"):
            for k, v in rec.inputs.items():
                st.markdown(f"- **{render.esc(words.readable(k))}**: {render.linkify(v)}")


main()
