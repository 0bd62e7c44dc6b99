//! `codexos runs diff A B`: two stored runs side by side, node by node.

use codexos_runtime::{NodeComparison, NodeSide, RunComparison, RunSide};

use crate::flow::{dollars, usage_text};

/// Prints a comparison; `all` lists the nodes that did the same too.
pub fn print(comparison: &RunComparison, all: bool) {
    for (label, side) in [("A", &comparison.a), ("B", &comparison.b)] {
        println!("{label} {}", run_line(side));
    }
    if comparison.a.flow_hash != comparison.b.flow_hash {
        println!("  the flow changed between the runs: nodes whose definition differs say so");
    }
    if comparison.a.input != comparison.b.input {
        println!(
            "  input differs: A {} · B {}",
            comparison.a.input, comparison.b.input
        );
    }
    let same = comparison
        .nodes
        .iter()
        .filter(|node| node.differs.is_empty())
        .count();
    println!(
        "nodes: {same} the same, {} different (of {})",
        comparison.nodes.len() - same,
        comparison.nodes.len()
    );
    let mut folded = 0;
    for node in &comparison.nodes {
        if node.differs.is_empty() && !all {
            folded += 1;
            continue;
        }
        let first = comparison.first_divergence.as_deref() == Some(node.node.as_str());
        println!("{}", node_line(node, first));
    }
    if folded > 0 {
        let nodes = if folded == 1 { "node" } else { "nodes" };
        println!("  … {folded} {nodes} did the same in both (--all lists them)");
    }
    if let Some(node) = comparison
        .first_divergence
        .as_deref()
        .and_then(|id| comparison.nodes.iter().find(|node| node.node == id))
    {
        println!(
            "\nfirst divergence: {} ({})",
            node.node,
            node.differs.join(", ")
        );
        if let (Some(a), Some(b)) = (&node.a, &node.b) {
            details(a, b);
        }
    }
    println!(
        "output: {}",
        if comparison.same_output {
            "the same".to_owned()
        } else {
            format!(
                "different\n{}",
                indent(&text_diff(
                    &pretty(&comparison.a.output),
                    &pretty(&comparison.b.output)
                ))
            )
        }
    );
}

fn run_line(side: &RunSide) -> String {
    let mut parts = vec![
        side.id.clone(),
        side.flow.clone(),
        side.status.clone(),
        format!("flow {}", side.flow_hash),
    ];
    if !side.models.is_empty() {
        parts.push(side.models.join(", "));
    }
    let usage = usage_text(&side.usage);
    if !usage.is_empty() {
        parts.push(usage);
    }
    if let Some(took) = side.duration_ms {
        parts.push(milliseconds(took));
    }
    if let Some(error) = &side.error {
        parts.push(format!("error: {error}"));
    }
    parts.join(" · ")
}

fn milliseconds(took: u64) -> String {
    if took < 1000 {
        format!("{took} ms")
    } else {
        #[expect(clippy::cast_precision_loss, reason = "seconds shown to a tenth")]
        let seconds = took as f64 / 1000.0;
        format!("{seconds:.1} s")
    }
}

/// One side's tokens, cost and time in a few characters.
fn figures(side: Option<&NodeSide>) -> String {
    let Some(side) = side else {
        return "—".to_owned();
    };
    let mut parts = Vec::new();
    if side.usage.model_calls > 0 {
        parts.push(format!(
            "{}+{} tok",
            side.usage.prompt_tokens, side.usage.completion_tokens
        ));
    }
    if let Some(cost) = side.usage.cost_usd {
        parts.push(dollars(cost));
    }
    if let Some(took) = side.duration_ms {
        parts.push(milliseconds(took));
    }
    if parts.is_empty() {
        side.status.clone()
    } else {
        parts.join(" ")
    }
}

fn node_line(node: &NodeComparison, first: bool) -> String {
    let mark = if node.differs.is_empty() {
        "="
    } else if first {
        "▶"
    } else {
        "≠"
    };
    let what = if node.differs.is_empty() {
        String::new()
    } else {
        format!(" ({})", node.differs.join(", "))
    };
    format!(
        "  {mark} {}{what}    A {} │ B {}",
        node.node,
        figures(node.a.as_ref()),
        figures(node.b.as_ref())
    )
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn text_diff(a: &str, b: &str) -> String {
    similar::TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(2)
        .header("A", "B")
        .to_string()
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The parts of the first diverging node that differ, as unified diffs.
fn details(a: &NodeSide, b: &NodeSide) {
    let parts = [
        ("prompt", a.prompt.clone(), b.prompt.clone()),
        ("answer", a.answer.clone(), b.answer.clone()),
        (
            "tools",
            serde_json::to_string_pretty(&a.tools).unwrap_or_default(),
            serde_json::to_string_pretty(&b.tools).unwrap_or_default(),
        ),
        ("wrote", pretty(&a.writes), pretty(&b.writes)),
        (
            "error",
            a.error.clone().unwrap_or_default(),
            b.error.clone().unwrap_or_default(),
        ),
    ];
    for (name, old, new) in parts {
        if old != new {
            println!("  {name}:\n{}", indent(&text_diff(&old, &new)));
        }
    }
}
