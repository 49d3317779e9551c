"""Recommendation page: the ranked targets, why, what it costs as traffic grows, and what would change it.

Everything shown comes from `api.recommend` (cached on the profile's JSON);
this page only lays it out.
"""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from advisor.models import Option, Recommendation
from ui import render, state
from ui.streamlit_app import page

MAX_CARDS_PER_ROW = 4
SHORT = {"azureml": "Azure ML", "aks": "AKS", "appservice": "App Service", "containerapps": "Container Apps",
         "azureml-batch": "Azure ML batch", "local": "Local"}


#: one icon per requirement verdict (met / met with a change / not met)
VERDICT_ICONS = {"met": ":material/check_circle:", "met-with-change": ":material/build:",
                 "not-met": ":material/cancel:"}


def _short(target: str) -> str:
    return SHORT.get(target, target)


def _card(opt: Option, rank: int) -> None:
    with st.container(border=True, height="stretch", key=f"card_{opt.target}"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.badge(f"#{rank}", color="green" if rank == 1 else "gray")
            if rank == 1:
                st.badge("Recommended", icon=":material/star:", color="green")
        st.markdown(f"##### {render.esc(state.target_title(opt.target))}")
        m = st.columns(2)
        m[0].metric("Score", f"{opt.score:.1f}", help="Weighted mean of the soft criteria, 0–100")
        m[1].metric("Per month", render.money(opt.cost.monthly_usd), help="Monthly cost from the dated price snapshot")
        s = opt.sizing
        st.markdown(f":material/dns: {render.code(s.sku)} × **{s.instances}** "
                    f"(autoscale {s.min}–{s.max})")
        if s.predicted_p95_ms is not None:
            st.caption(f"Predicted p95 {s.predicted_p95_ms:.0f} ms · service time {s.service_ms:.1f} ms "
                       f"({'measured' if s.service_time_measured else 'estimated'})")
        if opt.fits_budget is not None:
            st.caption(":material/payments: " + ("fits the budget" if opt.fits_budget else "over the budget"))
        for v in opt.verdicts:
            icon = VERDICT_ICONS[v.status]
            change = f" → {render.esc(v.change)}" if v.change and v.status != "met" else ""
            st.markdown(f"{icon} **{v.requirement.replace('_', ' ')}**: {render.esc(v.detail)}{change}")
        for reason in opt.reasons[:3]:
            st.markdown("- " + render.esc(reason))
        with st.expander("Cost and sizing details"):
            if opt.cost.breakdown:
                st.dataframe([{"item": k, "USD / month": round(v, 2)} for k, v in opt.cost.breakdown.items()],
                             hide_index=True, width="stretch")
            for a in opt.cost.assumptions:
                st.caption("• " + render.esc(a))
            for n in s.notes:
                st.caption("• " + render.esc(n))


def _criteria(rec: Recommendation) -> None:
    rows = []
    for opt in rec.options:
        for c in opt.criteria:
            rows.append({"target": _short(opt.target), "criterion": c.name, "score": round(c.score, 1),
                         "weight": c.weight, "reason": c.reason, "source": c.source})
    if not rows:
        st.caption("No viable target to compare.")
        return
    df = pd.DataFrame(rows)
    order = [_short(o.target) for o in rec.options]
    tab_map, tab_table = st.tabs(["Heatmap", "Table"])
    with tab_map:
        base = alt.Chart(df).encode(
            x=alt.X("target:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, orient="top")),
            y=alt.Y("criterion:N", title=None, sort=None),
        )
        heat = base.mark_rect(stroke="white", strokeWidth=1).encode(
            color=alt.Color("score:Q", scale=alt.Scale(domain=[0, 100], scheme="redyellowgreen"),
                            legend=alt.Legend(title="score")),
            tooltip=["target", "criterion", "score", "weight", "reason", "source"])
        text = base.mark_text(fontSize=12).encode(text=alt.Text("score:Q", format=".0f"),
                                                  color=alt.value("#1b1b1b"))
        height = 28 * df["criterion"].nunique() + 40
        st.altair_chart((heat + text).properties(height=height), width="stretch")
        st.caption("Hover a cell for the reason and its source.")
    with tab_table:
        pivot = df.pivot_table(index=["criterion", "weight"], columns="target", values="score", sort=False)
        st.dataframe(pivot[[c for c in order if c in pivot.columns]], width="stretch")
        with st.expander("Every reason with its source"):
            st.dataframe(df[["target", "criterion", "score", "reason", "source"]], hide_index=True, width="stretch",
                         column_config={"source": st.column_config.LinkColumn("source"),
                                        "reason": st.column_config.TextColumn(width="large")})


def _cost_chart(p) -> None:
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
    df["target"] = df["target"].map(_short)
    lines = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("peak_rps:Q", scale=alt.Scale(type="log"), title="peak requests / s"),
        y=alt.Y("monthly_usd:Q", title="USD / month"),
        color=alt.Color("target:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["target", "peak_rps", alt.Tooltip("monthly_usd:Q", format="$,.0f"), "sku", "instances", "score"])
    now = alt.Chart(pd.DataFrame({"peak_rps": [p.inference.peak_rps]})).mark_rule(
        strokeDash=[4, 4], color="#888").encode(x="peak_rps:Q")
    st.altair_chart((lines + now).properties(height=320), width="stretch")
    st.caption("Each point is a full re-ranking with only the peak traffic changed (average traffic keeps its "
               "ratio to peak). The dashed line is this profile. A target missing at some load was excluded there.")


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
    top = rec.top
    if top is None:
        st.error("No Azure target fits this profile. The reasons are below; relax a hard requirement "
                 "on the Workload page.", icon=":material/block:")
    else:
        if rec.headline:
            (st.info if rec.meets_all else st.warning)(render.esc(rec.headline), icon=":material/fact_check:")
        st.success(f"**{render.esc(state.target_title(top.target))}** — score {top.score:.1f}, "
                   f"about {render.money(top.cost.monthly_usd)} a month on {render.code(top.sizing.sku)} × "
                   f"{top.sizing.instances}.", icon=":material/recommend:")
    per_row = max(1, min(MAX_CARDS_PER_ROW, len(rec.options)))
    for i in range(0, len(rec.options), per_row):
        cols = st.columns(per_row)
        for j, opt in enumerate(rec.options[i:i + per_row]):
            with cols[j]:
                _card(opt, i + j + 1)
    if rec.excluded:
        st.subheader("Excluded")
        for x in rec.excluded:
            with st.container(border=True):
                st.markdown(f":material/block: **{render.esc(state.target_title(x.target))}**")
                for r in x.reasons:
                    st.markdown("- " + render.esc(r))
    st.subheader("Criteria")
    _criteria(rec)
    st.subheader("Monthly cost against peak traffic")
    _cost_chart(p)
    st.subheader("What would change the answer")
    if rec.sensitivity:
        for sens in rec.sensitivity:
            said = render.esc(sens.said) if sens.said else f"If {render.code(sens.change)}"
            st.markdown(f":material/swap_horiz: {said} → "
                        f"**{render.esc(state.target_title(sens.new_winner))}**  \n"
                        f":gray[{render.esc(sens.explanation)}]")
    else:
        st.caption("No single change to the profile would change the winner.")
    st.caption(f"Prices as of {render.esc(rec.prices_as_of)} (Azure Retail Prices snapshot).")
    if rec.inputs:
        with st.expander("How the inputs were obtained", icon=":material/info:"):
            for k, v in rec.inputs.items():
                st.markdown(f"- **{render.esc(k)}**: {render.esc(v)}")
    st.page_link(page("deploy_page.py"), label="Next: deploy it", icon=":material/arrow_forward:")


main()
