//! The analytics dashboard: runs, failures, tokens, cost, latency
//! percentiles and fallback rate over a date range, day by day and broken
//! down by flow, node, provider, model or project, with the slowest and the
//! most expensive nodes — read from the store's daily roll-ups — and the runs
//! behind any figure.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use codexos_store::analytics::{quantile, Rollup, DIMENSIONS};
use codexos_store::{RunSummary, Store};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, Runtime};

/// What the dashboard shows.
#[derive(Debug, Clone, Deserialize, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DashboardQuery {
    /// First day, `YYYY-MM-DD` (UTC; none: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, included (none: today, UTC).
    pub to: Option<String>,
    /// `flow`, `node`, `provider`, `model` or `project`.
    pub by: String,
}

/// Figures of a set of spans.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Runs (or node runs, or model calls: the breakdown's unit).
    #[specta(type = u32)]
    pub count: u64,
    /// Of those, failed.
    #[specta(type = u32)]
    pub failures: u64,
    /// Cancelled runs.
    #[specta(type = u32)]
    pub cancelled: u64,
    /// Median latency, ms (estimated from the histogram, within 12%).
    pub p50_ms: Option<f64>,
    /// 95th percentile latency, ms.
    pub p95_ms: Option<f64>,
    /// Model calls.
    #[specta(type = u32)]
    pub model_calls: u64,
    /// Prompt tokens.
    #[specta(type = u32)]
    pub tokens_in: u64,
    /// Generated tokens.
    #[specta(type = u32)]
    pub tokens_out: u64,
    /// Prompt tokens from a cache.
    #[specta(type = u32)]
    pub cached: u64,
    /// Dollars of the priced calls.
    pub cost_usd: f64,
    /// Remote calls with no price.
    #[specta(type = u32)]
    pub unpriced_calls: u64,
    /// Share of model calls that needed a fallback (none without calls).
    pub fallback_rate: Option<f64>,
    /// Median model-call latency, ms.
    pub model_p50_ms: Option<f64>,
    /// 95th percentile model-call latency, ms.
    pub model_p95_ms: Option<f64>,
}

/// One day of the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DayFigures {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Its runs' figures.
    pub figures: Figures,
}

/// One value of the dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    /// The value (`flow › node` for nodes).
    pub value: String,
    /// Its figures.
    pub figures: Figures,
}

/// One value of the dimension, day by day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ValueDays {
    /// The value.
    pub value: String,
    /// Its count each day of the range (runs, node runs or model calls).
    #[specta(type = Vec<u32>)]
    pub counts: Vec<u64>,
    /// Its dollars each day.
    pub cost_usd: Vec<f64>,
}

/// The dashboard over a date range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// The query answered.
    pub from: String,
    /// Last day.
    pub to: String,
    /// Dimension of the breakdown.
    pub by: String,
    /// What a breakdown row's `count` counts: `runs`, `node runs` or
    /// `model calls`.
    pub unit: String,
    /// The whole range (its `count` is runs).
    pub totals: Figures,
    /// Day by day, every day of the range.
    pub days: Vec<DayFigures>,
    /// By the dimension, most counted first (at most 100).
    pub breakdown: Vec<Breakdown>,
    /// The five most counted values of the dimension, day by day.
    pub top_days: Vec<ValueDays>,
    /// Nodes by 95th percentile duration, slowest first (10).
    pub slowest_nodes: Vec<Breakdown>,
    /// Nodes by model cost, most expensive first (10).
    pub costliest_nodes: Vec<Breakdown>,
    /// Spans added to the roll-ups by this query (stored since the last).
    #[specta(type = u32)]
    pub rolled_up: u64,
    /// Milliseconds the query took.
    pub query_ms: f64,
}

const DAY_LIMIT: i64 = 3_660;
const BREAKDOWN_ROWS: usize = 100;
const TOP_SERIES: usize = 5;

/// Day-by-day counts and cost of the first values of `breakdown`.
fn top_series(
    rows: &[Rollup],
    breakdown: &[Breakdown],
    unit: &str,
    from: i64,
    to: i64,
) -> Vec<ValueDays> {
    let length = usize::try_from(to - from + 1).unwrap_or(0);
    let mut series: Vec<ValueDays> = breakdown
        .iter()
        .take(TOP_SERIES)
        .map(|row| ValueDays {
            value: row.value.clone(),
            counts: vec![0; length],
            cost_usd: vec![0.0; length],
        })
        .collect();
    for row in rows {
        let Some(line) = series.iter_mut().find(|line| line.value == row.value) else {
            continue;
        };
        let Some(day) = usize::try_from(row.day - from)
            .ok()
            .filter(|day| *day < length)
        else {
            continue;
        };
        if row.kind == unit {
            line.counts[day] += row.count;
        }
        if row.kind == "model" {
            line.cost_usd[day] += row.cost_usd;
        }
    }
    series
}

fn parse_day(text: &str) -> Result<i64> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        Error::InvalidAnalytics {
            message: format!("cannot read `{text}` as a date: write YYYY-MM-DD (2026-12-01)"),
        }
    })?;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    Ok((date - epoch).num_days())
}

/// The days of a range: `to` defaults to today (UTC), `from` to 29 days
/// before it.
fn range(from: Option<&str>, to: Option<&str>) -> Result<(i64, i64)> {
    let to = match to {
        Some(to) => parse_day(to)?,
        None => chrono::Utc::now().timestamp().div_euclid(86_400),
    };
    let from = from.map_or(Ok(to - 29), parse_day)?;
    if to < from {
        return Err(Error::InvalidAnalytics {
            message: format!(
                "the range ends ({}) before it starts ({})",
                day_text(to),
                day_text(from)
            ),
        });
    }
    if to - from >= DAY_LIMIT {
        return Err(Error::InvalidAnalytics {
            message: format!(
                "the range is {} days long: ask for at most {DAY_LIMIT}",
                to - from + 1
            ),
        });
    }
    Ok((from, to))
}

fn day_text(day: i64) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (epoch + Duration::days(day)).format("%Y-%m-%d").to_string()
}

/// The span kind a dimension's rows count.
fn primary(by: &str) -> &'static str {
    match by {
        "node" => "node",
        "provider" | "model" => "model",
        _ => "run",
    }
}

fn figures<'a>(rows: impl IntoIterator<Item = &'a Rollup>, primary: &str) -> Figures {
    let mut main = Rollup::empty(0, primary, "");
    let mut model = Rollup::empty(0, "model", "");
    for row in rows {
        if row.kind == primary {
            main.add(row);
        }
        if row.kind == "model" {
            model.add(row);
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "a share of a count")]
    let fallback_rate = (model.count > 0).then(|| model.fell_back as f64 / model.count as f64);
    Figures {
        count: main.count,
        failures: main.failures,
        cancelled: main.cancelled,
        p50_ms: quantile(&main.histogram, 0.5),
        p95_ms: quantile(&main.histogram, 0.95),
        model_calls: model.count,
        tokens_in: model.tokens_in,
        tokens_out: model.tokens_out,
        cached: model.cached,
        cost_usd: model.cost_usd,
        unpriced_calls: model.unpriced,
        fallback_rate,
        model_p50_ms: quantile(&model.histogram, 0.5),
        model_p95_ms: quantile(&model.histogram, 0.95),
    }
}

fn by_value(rows: &[Rollup], primary: &str) -> Vec<Breakdown> {
    let mut groups: BTreeMap<&str, Vec<&Rollup>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.value.as_str()).or_default().push(row);
    }
    groups
        .into_iter()
        .map(|(value, rows)| Breakdown {
            value: value.to_owned(),
            figures: figures(rows, primary),
        })
        .collect()
}

/// The dashboard of `store` for `query`.
pub fn dashboard(store: &Store, query: &DashboardQuery) -> Result<Dashboard> {
    let started = Instant::now();
    if !DIMENSIONS.contains(&query.by.as_str()) {
        return Err(Error::InvalidAnalytics {
            message: format!(
                "cannot break figures down by `{}`: choose one of {}",
                query.by,
                DIMENSIONS.join(", ")
            ),
        });
    }
    let (from, to) = range(query.from.as_deref(), query.to.as_deref())?;
    let rolled_up = store.catch_up_rollups()?;
    let all = store.rollups("all", from, to)?;
    let mut per_day: BTreeMap<i64, Vec<&Rollup>> = BTreeMap::new();
    for row in &all {
        per_day.entry(row.day).or_default().push(row);
    }
    let days = (from..=to)
        .map(|day| DayFigures {
            date: day_text(day),
            figures: figures(per_day.get(&day).into_iter().flatten().copied(), "run"),
        })
        .collect();
    let unit = primary(&query.by);
    let rows = store.rollups(&query.by, from, to)?;
    let mut breakdown = by_value(&rows, unit);
    breakdown.sort_by(|a, b| {
        b.figures
            .count
            .cmp(&a.figures.count)
            .then(a.value.cmp(&b.value))
    });
    let nodes = if query.by == "node" {
        breakdown.clone()
    } else {
        by_value(&store.rollups("node", from, to)?, "node")
    };
    breakdown.truncate(BREAKDOWN_ROWS);
    let top_days = top_series(&rows, &breakdown, unit, from, to);
    let mut slowest = nodes.clone();
    slowest.retain(|node| node.figures.p95_ms.is_some());
    slowest.sort_by(|a, b| {
        b.figures
            .p95_ms
            .partial_cmp(&a.figures.p95_ms)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    slowest.truncate(10);
    let mut costliest = nodes;
    costliest.retain(|node| node.figures.cost_usd > 0.0);
    costliest.sort_by(|a, b| b.figures.cost_usd.total_cmp(&a.figures.cost_usd));
    costliest.truncate(10);
    Ok(Dashboard {
        from: day_text(from),
        to: day_text(to),
        by: query.by.clone(),
        unit: match unit {
            "node" => "node runs",
            "model" => "model calls",
            _ => "runs",
        }
        .to_owned(),
        totals: figures(&all, "run"),
        days,
        top_days,
        breakdown,
        slowest_nodes: slowest,
        costliest_nodes: costliest,
        rolled_up,
        query_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The runs behind a figure: those with a span from `from` to `to`
/// (`YYYY-MM-DD`, included; defaults as the dashboard's) where `by` (a dimension, or `all`) is `value`.
pub fn figure_runs(
    store: &Store,
    by: &str,
    value: &str,
    from: Option<&str>,
    to: Option<&str>,
    limit: u32,
) -> Result<Vec<RunSummary>> {
    if by != "all" && !DIMENSIONS.contains(&by) {
        return Err(Error::InvalidAnalytics {
            message: format!(
                "no dimension `{by}`: choose all or one of {}",
                DIMENSIONS.join(", ")
            ),
        });
    }
    let day_ms = 86_400_000;
    let (from, to) = range(from, to)?;
    Ok(store.span_runs(by, value, from * day_ms, (to + 1) * day_ms, limit)?)
}

impl Runtime {
    /// The analytics dashboard of this data home.
    pub fn dashboard(&self, query: &DashboardQuery) -> Result<Dashboard> {
        dashboard(&self.store, query)
    }

    /// The runs behind a dashboard figure, newest first.
    pub fn figure_runs(
        &self,
        by: &str,
        value: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RunSummary>> {
        figure_runs(&self.store, by, value, from, to, limit)
    }
}
