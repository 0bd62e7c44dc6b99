//! Rendering of results, progress and errors: text on a terminal, JSON with
//! `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use codexos_runtime::{
    Answer, Check, CheckStatus, ErrorCode, IngestProgress, ProjectSummary, SearchHit,
};
use codexos_runtime::{IngestReport, SkippedFile};
use indicatif::{ProgressBar, ProgressStyle};

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Reports an error and picks the exit code.
pub fn error(error: &anyhow::Error, json: bool) -> ExitCode {
    if let Some(exit) = error.downcast_ref::<crate::eval::EvalExit>() {
        // With --json a failed threshold is in the report printed already.
        if exit.code != 1 || !json {
            report_error(exit.kind, &exit.message, json);
        }
        return ExitCode::from(exit.code);
    }
    let code = error
        .downcast_ref::<codexos_runtime::Error>()
        .map_or(ErrorCode::Internal, codexos_runtime::Error::code);
    report_error(code, &error.to_string(), json);
    if code == ErrorCode::Cancelled {
        ExitCode::from(130)
    } else {
        ExitCode::FAILURE
    }
}

fn report_error(code: ErrorCode, message: &str, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({ "error": { "code": code, "message": message } })
        );
    } else {
        eprintln!("error: {message}");
    }
}

/// Progress counted in units (objects cloned, bytes copied): a bar once
/// the total is known, on a terminal; nothing with `--json`.
pub struct CountBar {
    bar: ProgressBar,
    verb: &'static str,
    unit: &'static str,
}

impl CountBar {
    pub fn new(json: bool, verb: &'static str, unit: &'static str) -> Self {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, verb, unit }
    }

    pub fn update(&self, done: u64, total: u64) {
        if total > 0 && self.bar.length() != Some(total) {
            let counts = if self.unit == "bytes" {
                "{bytes}/{total_bytes}".to_owned()
            } else {
                format!("{{pos}}/{{len}} {}", self.unit)
            };
            self.bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} {} [{{bar:30.cyan/blue}}] {counts} · {{elapsed}}",
                    self.verb
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.bar.set_length(total);
        }
        self.bar.set_position(done);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Progress of an ingest: a bar on a terminal, nothing otherwise.
pub struct IngestBar {
    bar: ProgressBar,
}

impl IngestBar {
    pub fn new(json: bool) -> Self {
        let bar = if json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new_spinner()
        };
        bar.set_message("scanning…");
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar }
    }

    pub fn update(&self, event: &IngestProgress) {
        match event {
            IngestProgress::Scanned { total, .. } => {
                self.bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{bar:30.cyan/blue}] {pos}/{len} files · {elapsed} (eta {eta}) {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                self.bar.set_length(u64::from(*total));
            }
            IngestProgress::Progress { done, path, .. } => {
                self.bar.set_position(u64::from(*done));
                self.bar.set_message(path.clone());
            }
            IngestProgress::Uploading { done, total, path } => {
                self.bar.set_length(u64::from(*total));
                self.bar.set_position(u64::from(*done));
                self.bar.set_message(format!("sending {path}"));
            }
            IngestProgress::Skipped { .. } | IngestProgress::Finished { .. } => {}
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A spinner for a wait of unknown length.
pub fn spinner(json: bool, message: &'static str) -> ProgressBar {
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub fn ingest_report(report: &IngestReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(report);
    }
    match &report.revision {
        Some(commit) => println!(
            "Indexed project `{}` from {} at commit {}",
            report.project,
            report.root,
            &commit[..commit.len().min(12)]
        ),
        None => println!("Indexed project `{}` from {}", report.project, report.root),
    }
    println!(
        "  files:  {} seen, {} indexed, {} unchanged, {} removed, {} skipped",
        report.files_seen,
        report.files_indexed,
        report.files_unchanged,
        report.files_removed,
        report.skipped.len()
    );
    println!(
        "  chunks: {} added ({} embeddings reused), {} in the project{}",
        report.chunks_added,
        report.chunks_reused,
        report.chunks_total,
        if report.git {
            " · tagged with commits"
        } else {
            ""
        }
    );
    print_skipped(&report.skipped);
    println!("  took {:.1} s", f64::from(report.elapsed_ms) / 1000.0);
    Ok(())
}

pub fn ingest_bench(bench: &codexos_runtime::IngestBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "ingest benchmark: {} files, {} chunks in {:.1} s",
        bench.files, bench.chunks, bench.seconds
    );
    println!("  files/s       {:8.1}", bench.files_per_second);
    println!("  chunks/s      {:8.1}", bench.chunks_per_second);
    println!(
        "  embeddings/s  {:8.1}  (while embedding)",
        bench.embeddings_per_second
    );
    println!(
        "  time: read+parse+chunk {:.0}% · embed {:.0}% · store {:.0}%",
        bench.read_share * 100.0,
        bench.embed_share * 100.0,
        bench.store_share * 100.0
    );
    if let Some(peak) = bench.peak_rss_mib {
        println!("  peak RSS      {peak:8.0} MiB");
    }
    print_skipped(&bench.report.skipped);
    Ok(())
}

/// One line per re-index while watching (NDJSON with `--json`).
pub fn watch_update(report: &IngestReport, json: bool) {
    if json {
        match serde_json::to_string(report) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("error: cannot encode the report: {error}"),
        }
        return;
    }
    println!(
        "{}: {} indexed, {} unchanged, {} removed, {} skipped · {} chunks · {:.1} s",
        report.project,
        report.files_indexed,
        report.files_unchanged,
        report.files_removed,
        report.skipped.len(),
        report.chunks_total,
        f64::from(report.elapsed_ms) / 1000.0
    );
}

fn print_skipped(skipped: &[SkippedFile]) {
    const SHOWN: usize = 20;
    for file in skipped.iter().take(SHOWN) {
        println!("  skipped {}: {}", file.path, file.reason);
    }
    if skipped.len() > SHOWN {
        println!(
            "  … and {} more skipped (see --json for all)",
            skipped.len() - SHOWN
        );
    }
}

pub fn hits(hits: &[SearchHit], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&hits);
    }
    if hits.is_empty() {
        println!("no results");
    }
    for (rank, hit) in hits.iter().enumerate() {
        println!(
            "{}. {}:{}-{}  score {:.3}  [{}]",
            rank + 1,
            hit.path,
            hit.start_line,
            hit.end_line,
            hit.score,
            hit.project
        );
        if let Some(heading) = &hit.heading {
            println!("   § {heading}");
        }
        if let Some(commit) = &hit.commit {
            println!("   @ {}", &commit[..commit.len().min(12)]);
        }
        let preview: String = hit.text.split_whitespace().collect::<Vec<_>>().join(" ");
        let preview: String = preview.chars().take(160).collect();
        println!("   {preview}");
    }
    Ok(())
}

pub fn answer(answer: &Answer, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(answer);
    }
    // The text was streamed already; close it and list the sources.
    println!();
    println!();
    println!("Sources:");
    if answer.citations.is_empty() {
        println!("  (none: no excerpt fitted the prompt)");
    }
    for citation in &answer.citations {
        println!("  [{}] {}", citation.number, citation.label);
    }
    eprintln!(
        "({}, {} prompt + {} answer tokens, {:.1} tok/s)",
        answer.model,
        answer.completion.prompt_tokens,
        answer.completion.completion_tokens,
        answer.completion.tokens_per_second
    );
    if let Some(run) = &answer.run_id {
        eprintln!("(trace: codexos runs show {run})");
    }
    Ok(())
}

pub fn projects(projects: &[ProjectSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&projects);
    }
    if projects.is_empty() {
        println!("no projects yet — run `codexos ingest DIR`");
    }
    for project in projects {
        println!(
            "{}  {} files, {} chunks  {}",
            project.name, project.files, project.chunks, project.root
        );
    }
    Ok(())
}

pub fn checks(checks: &[Check], json: bool) -> anyhow::Result<()> {
    let failed = checks
        .iter()
        .filter(|check| check.status == CheckStatus::Fail)
        .count();
    if json {
        print_json(&checks)?;
    } else {
        for check in checks {
            let mark = match check.status {
                CheckStatus::Ok => "ok  ",
                CheckStatus::Warn => "warn",
                CheckStatus::Fail => "FAIL",
            };
            println!("[{mark}] {}: {}", check.name, check.detail);
            if let Some(fix) = &check.fix {
                println!("       fix: {fix}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
}

pub fn paths(locations: &[(&'static str, PathBuf)], json: bool) -> anyhow::Result<()> {
    if json {
        let map: serde_json::Map<String, serde_json::Value> = locations
            .iter()
            .map(|(name, path)| {
                (
                    (*name).to_owned(),
                    serde_json::Value::from(path.to_string_lossy()),
                )
            })
            .collect();
        return print_json(&map);
    }
    for (name, path) in locations {
        println!("{name:9} {}", path.display());
    }
    Ok(())
}

pub fn done(message: &str, json: bool) {
    if json {
        println!("{}", serde_json::json!({ "ok": true, "message": message }));
    } else {
        println!("{message}");
    }
}

pub fn retrieval_bench(bench: &codexos_runtime::RetrievalBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "retrieval benchmark `{}`: {} questions over {} files ({} chunks); ingest {:.1} s (cached in {})",
        bench.name, bench.questions, bench.files, bench.chunks, bench.ingest_seconds, bench.home
    );
    println!("  held-out questions were never used for tuning: judge changes on them");
    println!(
        "  {:<9} {:<14} {:<12} {:>4} {:>9} {:>9} {:>7} {:>7} {:>8} {:>7}",
        "split",
        "mode",
        "reranker",
        "n",
        "recall@1",
        "recall@5",
        "MRR@5",
        "MRR",
        "nDCG@10",
        "p50 ms"
    );
    for split in ["held-out", "tuning"] {
        for mode in bench.modes.iter().filter(|mode| mode.split.name() == split) {
            println!(
                "  {:<9} {:<14} {:<12} {:>4} {:>9.3} {:>9.3} {:>7.3} {:>7.3} {:>8.3} {:>7.1}",
                split,
                mode.mode,
                mode.reranker,
                mode.questions,
                mode.recall_at_1,
                mode.recall_at_5,
                mode.mrr_at_5,
                mode.mrr,
                mode.ndcg_at_10,
                mode.p50_ms
            );
        }
    }
    Ok(())
}

pub fn search_bench(bench: &codexos_runtime::SearchBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "search stress test: {} synthetic chunks, {} queries; load {:.1} s, indices {:.1} s (ANN index: {})\n  (synthetic vectors: latency under load only; real recall and latency come from `bench search --corpus`)",
        bench.chunks,
        bench.queries,
        bench.load_seconds,
        bench.index_seconds,
        if bench.ann_index { "built" } else { "not built, under the threshold" }
    );
    println!("  {:<28} {:>8} {:>8}", "search", "p50 ms", "p95 ms");
    for (name, (p50, p95)) in [
        ("vector, exact scan", bench.figures.exact_ms),
        ("vector, ANN index", bench.figures.ann_ms),
        ("BM25 full text", bench.figures.bm25_ms),
        ("hybrid + rerank (embeds)", bench.figures.hybrid_ms),
    ] {
        println!("  {name:<28} {p50:>8.1} {p95:>8.1}");
    }
    println!(
        "  ANN recall@10 vs exact: {:.3}",
        bench.figures.ann_recall_at_10
    );
    Ok(())
}

pub fn scale_bench(bench: &codexos_runtime::ScaleBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "search at scale on real embeddings: {} ({} chunks) + {} chunks of {}",
        bench.corpus.join(", "),
        bench.corpus_chunks,
        bench.eval_chunks,
        bench.eval_sets.join(", ")
    );
    println!(
        "  {} held-out questions as queries; ingest this run {:.0} s (cached in {})",
        bench.queries, bench.ingest_seconds, bench.home
    );
    println!(
        "  {:>8} {:>4} {:>10} {:>13} {:>13} {:>13} {:>13} {:>6} {:>6}",
        "chunks",
        "ANN",
        "recall@10",
        "exact p50/95",
        "vector p50/95",
        "bm25 p50/95",
        "hybrid p50/95",
        "R@1",
        "MRR@5"
    );
    let pair = |(p50, p95): (f64, f64)| format!("{p50:.1}/{p95:.1}");
    for point in &bench.sizes {
        println!(
            "  {:>8} {:>4} {:>10.3} {:>13} {:>13} {:>13} {:>13} {:>6.3} {:>6.3}",
            point.chunks,
            if point.ann_index { "yes" } else { "no" },
            point.figures.ann_recall_at_10,
            pair(point.figures.exact_ms),
            pair(point.figures.ann_ms),
            pair(point.figures.bm25_ms),
            pair(point.figures.hybrid_ms),
            point.recall_at_1,
            point.mrr_at_5
        );
    }
    println!("  (milliseconds; recall@10: the vector search users get against an exact scan; R@1 and MRR@5: hybrid + rerank over the whole table, by answering file)");
    Ok(())
}

pub fn embed_bench(bench: &codexos_runtime::EmbedBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "embedding benchmark: {} texts (mean {:.0} chars), {} cores, model {}",
        bench.texts, bench.mean_chars, bench.threads, bench.model
    );
    println!(
        "  {:<9} {:<34} {:>6} {:<18} {:>10}",
        "pipeline", "parallelism", "batch", "batching", "emb/s"
    );
    for run in &bench.runs {
        let parallelism = if run.parallelism == "workers" {
            format!("{} one-thread workers", bench.threads)
        } else {
            format!("one session, {} threads", bench.threads)
        };
        println!(
            "  {:<9} {:<34} {:>6} {:<18} {:>10.1}",
            run.pipeline,
            parallelism,
            run.batch,
            if run.by_length {
                "grouped by length"
            } else {
                "input order"
            },
            run.per_second
        );
    }
    if let Some(speedup) = bench.batch_speedup {
        println!("  codexos batch 32 vs batch 1: ×{speedup:.2}");
    }
    let best = |pipeline: &str| {
        bench
            .runs
            .iter()
            .filter(|run| run.pipeline == pipeline)
            .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
    };
    match (best("codexos"), best("python"), bench.ratio_best_vs_python) {
        (Some(ours), Some(theirs), Some(ratio)) => println!(
            "  best vs best: codexos {:.1}/s (batch {}, {}) vs Python {:.1}/s (batch {}, {}): ×{ratio:.2}",
            ours.per_second,
            ours.batch,
            ours.parallelism,
            theirs.per_second,
            theirs.batch,
            theirs.parallelism
        ),
        _ => println!("  (pass --python to compare with the Python pipeline)"),
    }
    Ok(())
}

pub fn models(models: &[codexos_runtime::models::ModelEntry], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&models);
    }
    println!(
        "  {:<40} {:<10} {:<8} {:>10}  status",
        "name", "kind", "source", "size"
    );
    for model in models {
        println!(
            "{} {:<40} {:<10} {:<8} {:>10}  {}",
            if model.default { "*" } else { " " },
            model.name,
            model.kind,
            model.source,
            if model.installed {
                format!("{:.1} MB", model.bytes as f64 / 1_000_000.0)
            } else {
                "—".to_owned()
            },
            if model.installed {
                "installed".to_owned()
            } else {
                format!(
                    "missing — {}",
                    codexos_runtime::models::pull_hint(&model.name)
                )
            }
        );
    }
    println!("(* = used by the configuration)");
    Ok(())
}

pub fn model_info(info: &codexos_runtime::GgufInfo, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(info);
    }
    let or_unknown = |value: Option<String>| value.unwrap_or_else(|| "unknown".into());
    println!("{}", info.path.display());
    println!("  name            {}", or_unknown(info.name.clone()));
    println!(
        "  architecture    {}",
        or_unknown(info.architecture.clone())
    );
    println!("  parameters      {:.1} M", info.parameters as f64 / 1e6);
    println!(
        "  quantisation    {}",
        or_unknown(info.quantization.clone())
    );
    println!(
        "  context length  {}",
        or_unknown(info.context_length.map(|tokens| format!("{tokens} tokens")))
    );
    println!(
        "  layers          {}",
        or_unknown(info.layers.map(|layers| layers.to_string()))
    );
    println!(
        "  file            {:.1} MB, GGUF v{}",
        info.bytes as f64 / 1e6,
        info.version
    );
    println!(
        "  chat template   {}",
        match (info.has_chat_template, info.supports_tools) {
            (true, true) => "yes, with tool calling (grammar-constrained)",
            (true, false) => "yes, no tool section",
            (false, _) => "none (prompts use ChatML)",
        }
    );
    Ok(())
}

pub fn providers(
    providers: &[codexos_runtime::ProviderInfo],
    offline: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({ "offline": offline, "providers": providers }));
    }
    if offline {
        println!("offline mode: remote providers are skipped");
    }
    for (index, provider) in providers.iter().enumerate() {
        let context = provider
            .context_size
            .map_or_else(|| "context ?".to_owned(), |tokens| format!("{tokens} ctx"));
        println!(
            "{}. {:<14} {:<9} {:<40} {:<10} tools {}{}",
            index + 1,
            provider.name,
            serde_json::to_value(provider.kind)?.as_str().unwrap_or("?"),
            provider.model,
            context,
            if provider.tools { "yes" } else { "no" },
            if provider.remote && offline {
                "  (skipped: offline)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

pub fn attempts(attempts: &[codexos_runtime::AttemptRecord], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&attempts);
    }
    if attempts.is_empty() {
        println!("no LLM requests yet");
    }
    for attempt in attempts {
        let request: String = attempt.request.chars().take(8).collect();
        println!(
            "{request}  {:<14} {:<8} {:>6} ms  {:>5}+{:<5} tokens  {}",
            attempt.provider,
            attempt.outcome,
            attempt.latency_ms,
            attempt.prompt_tokens,
            attempt.completion_tokens,
            attempt.detail
        );
    }
    Ok(())
}

pub fn pulled(pulled: &codexos_runtime::Pulled, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(pulled);
    }
    if pulled.already {
        println!("{} is already installed (sha256 verified)", pulled.name);
    } else {
        println!(
            "installed {} ({})\n  sha256 {}",
            pulled.name, pulled.path, pulled.sha256
        );
    }
    Ok(())
}

pub fn llm_bench(bench: &codexos_runtime::LlmBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "{} · {} threads · prompt {} tokens · generate {} tokens",
        bench.model, bench.threads, bench.prompt_tokens, bench.gen_tokens
    );
    println!("                                    prompt tok/s   generate tok/s   first token");
    let row = |label: &str, run: &codexos_runtime::LlmRun| {
        println!(
            "  {label:<34}{:>12.1}{:>17.1}{:>11.0} ms",
            run.prompt_per_second, run.generate_per_second, run.first_token_ms
        );
    };
    let reference =
        |label: &str, runs: &[codexos_runtime::LlamaBenchRun], ours: &codexos_runtime::LlmRun| {
            for run in runs {
                println!(
                    "  {:<34}{:>12.1}{:>17.1}   (codexos ×{:.2} / ×{:.2})",
                    format!("llama-bench {label}, {}", run.wait_policy.to_lowercase()),
                    run.prompt_per_second,
                    run.generate_per_second,
                    ours.prompt_per_second / run.prompt_per_second.max(f64::EPSILON),
                    ours.generate_per_second / run.generate_per_second.max(f64::EPSILON)
                );
            }
        };
    row("codexos, quiet", &bench.quiet);
    reference("quiet", &bench.llama_bench_quiet, &bench.quiet);
    row("codexos, one core busy", &bench.busy);
    reference("busy", &bench.llama_bench_busy, &bench.busy);
    if bench.llama_bench_quiet.is_empty() {
        println!("  (llama-bench not found: build it with scripts/build-llama-bench.sh)");
    }
    let batch = &bench.batch;
    println!(
        "  {} requests × {} tokens: sequential {:.1} tok/s, batched {:.1} tok/s (×{:.2})",
        batch.requests,
        batch.tokens_each,
        batch.sequential_per_second,
        batch.batched_per_second,
        batch.batched_per_second / batch.sequential_per_second.max(f64::EPSILON)
    );
    Ok(())
}

/// How long ago a Unix time was, in words ("5 min ago").
pub fn age(unix_seconds: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    let seconds = (now - unix_seconds).max(0.0) as u64;
    match seconds {
        0..=59 => format!("{seconds} s ago"),
        60..=3_599 => format!("{} min ago", seconds / 60),
        3_600..=86_399 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

/// `bench flow` figures, with `LangGraph`'s beside them.
pub fn flow_bench(bench: &codexos_runtime::FlowBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    let peer = bench.langgraph.as_ref();
    println!(
        "flow orchestrator · chains of no-op nodes · fan-out of {} items{}",
        bench.fanout_items,
        peer.map(|peer| format!(" · LangGraph {} (Python {})", peer.version, peer.python))
            .unwrap_or_default()
    );
    println!(
        "durable = a SQLite checkpoint committed after every node, before the next starts \
         (LangGraph: SqliteSaver, durability=\"sync\"); NORMAL survives a crash or kill -9, \
         FULL a power cut too"
    );
    println!(
        "  {:<28}{:>12}{:>12}{:>12}{:>12}{:>10}",
        "chain", "CodexOS s", "µs/node", "LangGraph s", "µs/node", "LG/Cx"
    );
    for run in &bench.chains {
        let theirs = peer.and_then(|peer| peer.chains.iter().find(|c| c.nodes == run.nodes));
        let row = |label: String, ours: f64, their: Option<f64>| {
            let nodes = f64::from(run.nodes.max(1));
            let peer_columns = their.map_or_else(String::new, |their| {
                format!(
                    "{their:>12.3}{:>12.1}{:>9.1}×",
                    their * 1e6 / nodes,
                    their / ours.max(f64::MIN_POSITIVE)
                )
            });
            println!(
                "  {label:<28}{ours:>12.4}{:>12.1}{peer_columns}",
                ours * 1e6 / nodes
            );
        };
        row(
            format!("{} nodes, in memory", run.nodes),
            run.memory_s,
            theirs.map(|t| t.memory_s),
        );
        for durable in &run.durable {
            let level = durable.durability.pragma();
            let their = theirs.map(|t| if level == "FULL" { &t.full } else { &t.normal });
            row(
                format!("{} nodes, durable {level}", run.nodes),
                durable.seconds,
                their.map(|t| t.seconds),
            );
            println!(
                "      checkpoint p50 / p99: CodexOS {:.3} / {:.3} ms{}",
                durable.checkpoint_p50_ms,
                durable.checkpoint_p99_ms,
                their.map_or_else(String::new, |t| format!(
                    ", LangGraph {:.3} / {:.3} ms (SQLite says synchronous={}, journal={})",
                    t.checkpoint_p50_ms, t.checkpoint_p99_ms, t.synchronous, t.journal_mode
                ))
            );
        }
    }
    println!(
        "  fan-out, in memory: CodexOS {:.4} s{} · with checkpoints (NORMAL): {:.4} s",
        bench.fanout_memory_s,
        peer.map_or_else(String::new, |peer| format!(
            ", LangGraph {:.4} s (×{:.1})",
            peer.fanout_s,
            peer.fanout_s / bench.fanout_memory_s.max(f64::MIN_POSITIVE)
        )),
        bench.fanout_sqlite_s
    );
    Ok(())
}

/// `bench watch` figures.
pub fn watch_bench(bench: &codexos_runtime::WatchBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "watch latency · {} writes into a watched copy of {} files (new files and edits) · write → found by full-text search",
        bench.writes, bench.files
    );
    println!(
        "  p50 {:.0} ms · p95 {:.0} ms · max {:.0} ms (includes the watcher's {} ms debounce)",
        bench.p50_ms, bench.p95_ms, bench.max_ms, bench.debounce_ms
    );
    Ok(())
}

pub fn otel_bench(bench: &codexos_runtime::OtelBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "OpenTelemetry export · a durable chain of {} no-op nodes, {} runs per mode × {} rounds, modes interleaved",
        bench.nodes, bench.runs, bench.rounds
    );
    let ratio = |value: f64| value / bench.none_us_per_node.max(f64::EPSILON);
    println!(
        "  per node, no endpoint                             {:>8.1} µs (median)",
        bench.none_us_per_node
    );
    println!(
        "  per node, live endpoint, a sender with no pause   {:>8.1} µs  ({:.2}× no endpoint)",
        bench.live_us_per_node,
        ratio(bench.live_us_per_node)
    );
    println!(
        "  per node, dead endpoint, retrying with no pause   {:>8.1} µs  ({:.2}× no endpoint)",
        bench.dead_us_per_node,
        ratio(bench.dead_us_per_node)
    );
    println!(
        "paced: a run every {} ms on average, the app's own exporter loop (1 s tick, 2 s after a send, back-off to a minute)",
        bench.paced_gap_ms
    );
    let baseline = bench.paced.first().map_or(f64::EPSILON, |mode| {
        mode.median_us_per_node.max(f64::EPSILON)
    });
    for mode in &bench.paced {
        let coinciding = mode.coinciding_mean_us_per_node.map_or_else(
            || "none coincided with a pass".to_owned(),
            |mean| {
                format!(
                    "{} coinciding with a pass: mean {mean:.1} µs",
                    mode.coinciding_runs
                )
            },
        );
        println!(
            "  per node, {:<5} {} runs: median {:>7.1} µs ({:.2}×) · mean {:.1} · max {:.1} · {} passes · {coinciding}",
            mode.mode,
            mode.runs,
            mode.median_us_per_node,
            mode.median_us_per_node / baseline,
            mode.mean_us_per_node,
            mode.max_us_per_node,
            mode.passes
        );
    }
    println!(
        "  a run's spans: {} · build {:.2} µs/span · encode {:.2} µs/span ({:.0} bytes) · whole send {:.2} µs/span ({} spans)",
        bench.spans_per_run,
        bench.build_us_per_span,
        bench.encode_us_per_span,
        bench.bytes_per_span,
        bench.export_us_per_span,
        bench.exported_spans
    );
    println!("  spans the receiver decoded: {}", bench.received_spans);
    Ok(())
}

pub fn compare_bench(bench: &codexos_runtime::CompareBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "runs diff · two runs of {} nodes, {} recorded calls each, {:.1} MiB in SQLite · {} repeats after a warm-up",
        bench.nodes,
        bench.calls,
        mib(bench.store_bytes),
        bench.repeats
    );
    println!(
        "  read both runs from SQLite   {:>9.1} ms (median)",
        bench.load_p50_ms
    );
    println!(
        "  compare node by node         {:>9.1} ms",
        bench.compare_p50_ms
    );
    println!(
        "  encode for the app (JSON)    {:>9.1} ms  ({:.1} MiB)",
        bench.json_p50_ms,
        mib(bench.json_bytes as u64)
    );
    println!(
        "  runs diff in all             {:>9.1} ms median · {:.1} ms p95 (goal: under 1,000 ms)",
        bench.total_p50_ms, bench.total_p95_ms
    );
    println!(
        "  first divergence found at {}",
        bench
            .first_divergence
            .as_deref()
            .unwrap_or("— (none: the benchmark is broken)")
    );
    Ok(())
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sizes shown to a tenth of a MiB"
)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

pub fn analytics_bench(bench: &codexos_runtime::AnalyticsBench, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(bench);
    }
    println!(
        "analytics · {} generated runs over {} days, {} spans, {:.0} MiB of SQLite · written in {:.1} s through the run log",
        bench.runs, bench.days, bench.spans, bench.store_mib, bench.generate_s
    );
    println!(
        "  first query: roll-up of every span      {:>8.2} s (once per home)",
        bench.catch_up_s
    );
    println!(
        "  dashboard query ({} queries: 1, 7, 30, {} days × 5 dimensions)  p50 {:.1} ms · p95 {:.1} ms · max {:.1} ms (goal: p95 ≤ 100 ms)",
        bench.queries, bench.days, bench.query_p50_ms, bench.query_p95_ms, bench.query_max_ms
    );
    println!(
        "  query after one more run is stored      {:>8.1} ms",
        bench.after_new_run_ms
    );
    println!(
        "  runs behind a figure ({} drill-downs)   p50 {:.1} ms · p95 {:.1} ms",
        bench.drills, bench.drill_p50_ms, bench.drill_p95_ms
    );
    println!(
        "  model-call p95 latency: {:.0} ms exact, {:.0} ms from the histogram ({:+.1}%)",
        bench.model_p95_exact_ms,
        bench.model_p95_estimate_ms,
        (bench.model_p95_estimate_ms / bench.model_p95_exact_ms.max(f64::MIN_POSITIVE) - 1.0)
            * 100.0
    );
    if let Some(home) = &bench.home {
        println!("  kept in {}", home.display());
    }
    Ok(())
}

/// Unix milliseconds as a UTC time (`2026-12-05 13:04:09Z`).
pub fn utc_ms(at_ms: u64) -> String {
    i64::try_from(at_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || at_ms.to_string(),
            |at| at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}
