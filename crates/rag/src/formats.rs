//! Format loaders: bytes of a file → chunks, or the reason it is skipped.
//!
//! PDF text comes from `pdf-extract` page by page; HTML goes through an HTML5
//! parser (`scraper`) that keeps headings and body text and drops scripts,
//! styles and navigation; JSON is cut along its object paths using the
//! parser's own spans of the source text, so line numbers stay exact.

use std::collections::HashMap;

use scraper::{Html, Node};
use serde_json::value::RawValue;

use crate::chunk::{chunk, non_blank, windows, Chunk, Kind, WINDOW_LINES};

/// Bytes inspected for NUL when deciding whether a file is binary.
const SNIFF_BYTES: usize = 8_000;

/// Loads a file of `kind` into chunks, or says why it cannot be indexed.
pub fn load(kind: Kind, language: Option<&str>, bytes: &[u8]) -> Result<Vec<Chunk>, String> {
    if kind == Kind::Pdf {
        return pdf(bytes);
    }
    if bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) {
        return Err("binary file".into());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    Ok(match kind {
        Kind::Html => chunk(&html_to_outline(text), Kind::Html, None),
        // Text that is not valid JSON is still indexed, as plain lines.
        Kind::Json => json_sections(text).unwrap_or_else(|| chunk(text, Kind::Text, None)),
        _ => chunk(text, kind, language),
    })
}

fn pdf(bytes: &[u8]) -> Result<Vec<Chunk>, String> {
    // pdf-extract panics on some malformed files; a bad PDF must only skip itself.
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "PDF could not be parsed (malformed file)".to_owned())?
        .map_err(|error| {
            let message = error.to_string();
            if message.to_lowercase().contains("encrypt")
                || message.to_lowercase().contains("password")
            {
                "encrypted PDF (no password support)".to_owned()
            } else {
                format!("PDF could not be read: {message}")
            }
        })?;
    let mut chunks = Vec::new();
    for (index, text) in pages.iter().enumerate() {
        let lines: Vec<&str> = text.lines().collect();
        chunks.extend(windows(&lines, 0, None).into_iter().map(|chunk| Chunk {
            page: Some(index as u32 + 1),
            ..chunk
        }));
    }
    let chunks = non_blank(chunks);
    if chunks.is_empty() {
        return Err("PDF has no text layer (scanned images?)".into());
    }
    Ok(chunks)
}

/// Elements whose content is never main text.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "svg", "form",
    "button", "head",
];
/// Elements that end a line of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "tr",
    "pre",
    "blockquote",
    "dd",
    "dt",
    "br",
    "table",
    "ul",
    "ol",
    "figcaption",
];

/// Renders HTML as a markdown-like outline: `#` headings and one line per
/// block of text, so the markdown chunker can cut it at headings.
fn html_to_outline(html: &str) -> String {
    let document = Html::parse_document(html);
    let mut out = String::new();
    let mut line = String::new();
    walk(document.tree.root(), &mut out, &mut line);
    flush_line(&mut out, &mut line);
    out
}

fn flush_line(out: &mut String, line: &mut String) {
    let text = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        out.push_str(&text);
        out.push('\n');
    }
    line.clear();
}

fn walk(node: ego_tree::NodeRef<'_, Node>, out: &mut String, line: &mut String) {
    match node.value() {
        Node::Text(text) => line.push_str(text),
        Node::Element(element) => {
            let name = element.name();
            if DROPPED.contains(&name) {
                return;
            }
            let heading = name
                .strip_prefix('h')
                .and_then(|level| level.parse::<usize>().ok())
                .filter(|level| (1..=6).contains(level));
            if let Some(level) = heading {
                flush_line(out, line);
                let title: String = node
                    .descendants()
                    .filter_map(|child| child.value().as_text().map(|text| text.to_string()))
                    .collect::<Vec<_>>()
                    .join(" ");
                let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                if !title.is_empty() {
                    out.push_str(&"#".repeat(level));
                    out.push(' ');
                    out.push_str(&title);
                    out.push('\n');
                }
                return;
            }
            let block = BLOCKS.contains(&name);
            if block {
                flush_line(out, line);
            }
            for child in node.children() {
                walk(child, out, line);
            }
            if block {
                flush_line(out, line);
            }
        }
        _ => {
            for child in node.children() {
                walk(child, out, line);
            }
        }
    }
}

/// A JSON value's place in the source: its path and byte span.
struct Member<'a> {
    path: String,
    raw: &'a RawValue,
}

/// Chunks JSON along object paths: each member of the top-level object or
/// array becomes a section; members longer than a window are split one level
/// deeper. `None` when the text is not JSON (it is then chunked as text).
fn json_sections(text: &str) -> Option<Vec<Chunk>> {
    let root: &RawValue = serde_json::from_str(text).ok()?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(index, _)| index + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset);
    let span = |raw: &RawValue| {
        let start = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        (
            line_of(start),
            line_of(start + raw.get().len().saturating_sub(1)),
        )
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut pending = children(root, "");
    if pending.is_empty() {
        return None;
    }
    let mut chunks = Vec::new();
    while let Some(member) = pending.pop() {
        let (first, last) = span(member.raw);
        let nested = children(member.raw, &member.path);
        if last - first + 1 > WINDOW_LINES && !nested.is_empty() {
            pending.extend(nested);
            continue;
        }
        let section = &lines[first - 1..last.min(lines.len())];
        chunks.extend(windows(section, first - 1, Some(&member.path)));
    }
    chunks.sort_by_key(|chunk| (chunk.start_line, chunk.end_line));
    Some(non_blank(chunks))
}

/// The members of an object or array value, in source order.
fn children<'a>(raw: &'a RawValue, path: &str) -> Vec<Member<'a>> {
    let mut members: Vec<Member<'a>> =
        if let Ok(object) = serde_json::from_str::<HashMap<String, &'a RawValue>>(raw.get()) {
            object
                .into_iter()
                .map(|(key, raw)| Member {
                    path: if path.is_empty() {
                        key
                    } else {
                        format!("{path}.{key}")
                    },
                    raw,
                })
                .collect()
        } else if let Ok(array) = serde_json::from_str::<Vec<&'a RawValue>>(raw.get()) {
            array
                .into_iter()
                .enumerate()
                .map(|(index, raw)| Member {
                    path: format!("{path}[{index}]"),
                    raw,
                })
                .collect()
        } else {
            Vec::new()
        };
    // Source order, reversed: the caller pops from the end.
    members.sort_by_key(|member| std::cmp::Reverse(member.raw.get().as_ptr() as usize));
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_headings_and_text_and_drops_chrome() {
        let html = r#"<html><head><title>t</title><style>p{}</style></head><body>
            <nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
            <h1>Guide</h1><p>Install   it.</p><script>alert(1)</script>
            <h2>Linux</h2><ul><li>apt install lumen</li><li>run it</li></ul>
            <footer>© 2026</footer></body></html>"#;
        assert_eq!(
            html_to_outline(html),
            "# Guide\nInstall it.\n## Linux\napt install lumen\nrun it\n"
        );
        let chunks = load(Kind::Html, None, html.as_bytes()).expect("loads");
        assert_eq!(chunks[1].heading.as_deref(), Some("Guide > Linux"));
    }

    #[test]
    fn json_is_cut_by_object_path_with_exact_lines() {
        let mut text = String::from("{\n  \"name\": \"lumen\",\n  \"server\": {\n");
        text.extend((0..50).map(|index| format!("    \"key{index}\": {index},\n")));
        text.push_str("    \"port\": 8420\n  }\n}\n");
        let chunks = load(Kind::Json, None, text.as_bytes()).expect("loads");
        let name = chunks
            .iter()
            .find(|c| c.heading.as_deref() == Some("name"))
            .expect("name");
        assert_eq!((name.start_line, name.end_line), (2, 2));
        let port = chunks
            .iter()
            .find(|c| c.heading.as_deref() == Some("server.port"))
            .expect("port");
        assert_eq!(port.start_line, 54);
        assert!(port.text.contains("8420"));
    }

    #[test]
    fn invalid_json_is_still_indexed_as_text() {
        let chunks = load(Kind::Json, None, b"{ not json").expect("loads");
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].heading, None);
    }

    #[test]
    fn corrupt_pdfs_are_skipped_with_a_reason() {
        let reason = load(Kind::Pdf, None, b"%PDF-1.4 garbage").expect_err("corrupt");
        assert!(reason.starts_with("PDF could not be"), "{reason}");
    }

    #[test]
    fn binary_and_non_utf8_text_are_refused() {
        assert_eq!(
            load(Kind::Text, None, b"ab\0cd").expect_err("binary"),
            "binary file"
        );
        assert_eq!(
            load(Kind::Text, None, b"caf\xe9").expect_err("latin1"),
            "not UTF-8 text"
        );
    }
}
