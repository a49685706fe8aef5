"""The portfolio's own code location: the analysts' portfolio copy and the portfolio view, rebuilt
after any business's run succeeds (a run-status sensor watching every code location)."""

# no `from __future__ import annotations`: Dagster reads the context annotations at runtime
from pathlib import Path

import dagster as dg

from kpi_pipeline import version
from kpi_pipeline.portfolio.businesses import businesses, load_all
from kpi_pipeline.portfolio.copy import build_portfolio_copy
from kpi_pipeline.reporting.portfolio import portfolio_html as render
from kpi_pipeline.reporting.portfolio import portfolio_rows

PORTFOLIO_KEY = dg.AssetKey(["portfolio", "portfolio_duckdb"])
VIEW_KEY = dg.AssetKey(["portfolio", "portfolio_html"])
JOB = "portfolio_refresh"


def portfolio_definitions(root: str) -> dg.Definitions:
    base = Path(root)

    @dg.asset(key=PORTFOLIO_KEY, group_name="portfolio", kinds={"duckdb"}, pool="portfolio")
    def portfolio_duckdb(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """data/portfolio_analytics.duckdb: every business's published tables (attached read-only),
        business_id on every row, and portfolio.businesses."""
        good, bad = load_all(businesses(base))
        result = build_portfolio_copy(
            base, good, {s: str(e).splitlines()[0] for s, e in bad.items()}
        )
        for slug, why in result.missing.items():
            context.log.warning(f"{slug} is not in the portfolio copy: {why}")
        for note in result.notes:
            context.log.warning(note)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(result.path)),
                "businesses": len(result.included),
                "tables": result.tables,
                "left_out": ", ".join(result.missing) or "none",
            }
        )

    @dg.asset(key=VIEW_KEY, deps=[PORTFOLIO_KEY], group_name="portfolio", kinds={"html"})
    def portfolio_html() -> dg.MaterializeResult:
        """data/reports/portfolio.html: one row per business, who needs a call first."""
        good, bad = load_all(businesses(base))
        rows = portfolio_rows(
            good,
            {s: f"kpi.yaml is invalid: {str(e).splitlines()[0]}" for s, e in bad.items()},
            "month",
        )
        out = base / "data" / "reports" / "portfolio.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(render(rows, "month", version(), out), encoding="utf-8")
        tmp.replace(out)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(out)),
                "businesses": len(rows),
                "first": rows[0].slug if rows else "none",
            }
        )

    job = dg.define_asset_job(
        JOB,
        selection=[PORTFOLIO_KEY, VIEW_KEY],
        description="Rebuild the portfolio copy and view from the businesses' published copies.",
    )

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitor_all_code_locations=True,
        request_job=job,
        name="after_a_business_run",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def after_a_business_run(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        run = context.dagster_run
        if run.job_name == JOB:
            return dg.SkipReason("the portfolio's own run")
        return dg.RunRequest(run_key=f"portfolio-after-{run.run_id}")

    return dg.Definitions(
        assets=[portfolio_duckdb, portfolio_html],
        jobs=[job],
        sensors=[after_a_business_run],
        executor=dg.in_process_executor,
    )
