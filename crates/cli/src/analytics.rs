//! `codexos analytics`: the dashboard's figures in the terminal.

use std::sync::Arc;

use clap::Args;
use codexos_runtime::{Breakdown, Dashboard, DashboardQuery, Figures, Runtime};

use crate::flow::dollars;
use crate::render::print_json;

/// `codexos analytics …`.
#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// First day, YYYY-MM-DD (UTC; default: 29 days before --to).
    #[arg(long)]
    from: Option<String>,
    /// Last day, included (default: today, UTC).
    #[arg(long)]
    to: Option<String>,
    /// Break figures down by flow, node, provider, model or project.
    #[arg(long, default_value = "flow")]
    by: String,
    /// List the runs behind this value of --by instead (`all` for every run
    /// of the range).
    #[arg(long)]
    runs: Option<String>,
}

fn seconds(ms: Option<f64>) -> String {
    match ms {
        None => "—".to_owned(),
        Some(ms) if ms < 1.0 => "<1 ms".to_owned(),
        Some(ms) if ms < 1000.0 => format!("{ms:.0} ms"),
        Some(ms) => format!("{:.1} s", ms / 1000.0),
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".to_owned(), |share| format!("{:.1}%", share * 100.0))
}

fn line(figures: &Figures, unit: &str) -> String {
    // "1 run", "1 node run", "1 model call"; the plural otherwise.
    let unit = if figures.count == 1 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    let mut parts = vec![format!("{} {unit}", figures.count)];
    if figures.failures > 0 {
        parts.push(format!("{} failed", figures.failures));
    }
    if figures.cancelled > 0 {
        parts.push(format!("{} cancelled", figures.cancelled));
    }
    parts.push(format!(
        "p50 {} · p95 {}",
        seconds(figures.p50_ms),
        seconds(figures.p95_ms)
    ));
    // Rows of model calls (`--by model`, `--by provider`) counted and timed
    // the calls already.
    let calls_counted = unit.starts_with("model call");
    if figures.model_calls > 0 {
        let tokens = format!(
            "{} in → {} out tokens · {}",
            figures.tokens_in,
            figures.tokens_out,
            dollars(figures.cost_usd)
        );
        if calls_counted {
            parts.push(tokens);
        } else {
            parts.push(format!(
                "{} model call{} · {tokens}",
                figures.model_calls,
                if figures.model_calls == 1 { "" } else { "s" },
            ));
        }
        if figures.unpriced_calls > 0 {
            parts.push(format!("{} unpriced", figures.unpriced_calls));
        }
        if calls_counted {
            parts.push(format!("fallback {}", percent(figures.fallback_rate)));
        } else {
            parts.push(format!(
                "fallback {} · model p50 {} p95 {}",
                percent(figures.fallback_rate),
                seconds(figures.model_p50_ms),
                seconds(figures.model_p95_ms)
            ));
        }
    }
    parts.join(" · ")
}

fn rows(title: &str, rows: &[Breakdown], unit: &str) {
    if rows.is_empty() {
        return;
    }
    println!("{title}:");
    for row in rows {
        println!("  {:<36} {}", row.value, line(&row.figures, unit));
    }
}

fn print(dashboard: &Dashboard) {
    println!(
        "analytics {} … {} (UTC days) · by {} · {:.1} ms",
        dashboard.from, dashboard.to, dashboard.by, dashboard.query_ms
    );
    if dashboard.totals.count == 0 && dashboard.totals.model_calls == 0 {
        println!(
            "no runs in this range — run a flow (`codexos run FLOW.json`) or widen --from/--to"
        );
        return;
    }
    println!("total: {}", line(&dashboard.totals, "runs"));
    println!(
        "  {:<10} {:>6} {:>7} {:>9} {:>9} {:>10} {:>10}",
        "day", "runs", "failed", "p50", "p95", "tokens", "cost"
    );
    for day in dashboard.days.iter().filter(|day| day.figures.count > 0) {
        let figures = &day.figures;
        println!(
            "  {:<10} {:>6} {:>7} {:>9} {:>9} {:>10} {:>10}",
            day.date,
            figures.count,
            figures.failures,
            seconds(figures.p50_ms),
            seconds(figures.p95_ms),
            figures.tokens_in + figures.tokens_out,
            dollars(figures.cost_usd)
        );
    }
    rows(
        &format!("by {}", dashboard.by),
        &dashboard.breakdown,
        &dashboard.unit,
    );
    rows("slowest nodes (p95)", &dashboard.slowest_nodes, "node runs");
    rows(
        "most expensive nodes",
        &dashboard.costliest_nodes,
        "node runs",
    );
}

pub fn analytics(runtime: &Arc<Runtime>, args: AnalyticsArgs, json: bool) -> anyhow::Result<()> {
    let query = DashboardQuery {
        from: args.from,
        to: args.to,
        by: args.by,
    };
    if let Some(value) = args.runs {
        let by = if value == "all" {
            "all"
        } else {
            query.by.as_str()
        };
        let runs =
            runtime.figure_runs(by, &value, query.from.as_deref(), query.to.as_deref(), 100)?;
        return crate::flow::print_runs(
            &runs,
            json,
            &format!("no runs with {by} = {value} in this range"),
        );
    }
    let dashboard = runtime.dashboard(&query)?;
    if json {
        return print_json(&dashboard);
    }
    print(&dashboard);
    Ok(())
}

/// `codexos bench analytics`, with its progress.
pub fn bench(
    runtime: &Runtime,
    setup: &codexos_runtime::BenchSetup,
    runs: u64,
    days: u32,
    keep: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    let spinner = crate::render::spinner(json, "generating runs…");
    let bench = runtime.bench_analytics(runs, days, keep, &|written| {
        spinner.set_message(format!("generating runs… {written} of {runs}"));
    })?;
    spinner.finish_and_clear();
    crate::show(setup, json, &bench, crate::render::analytics_bench)
}

/// `codexos bench diff`, with its progress.
pub fn bench_diff(
    runtime: &Runtime,
    setup: &codexos_runtime::BenchSetup,
    nodes: u32,
    repeats: u32,
    json: bool,
) -> anyhow::Result<()> {
    let spinner = crate::render::spinner(json, "writing two runs and comparing them…");
    let bench = runtime.bench_compare(nodes, repeats)?;
    spinner.finish_and_clear();
    crate::show(setup, json, &bench, crate::render::compare_bench)
}
