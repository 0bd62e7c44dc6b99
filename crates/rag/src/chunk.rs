//! Splitting text into retrievable chunks with line ranges.
//!
//! This is the foundation's simple strategy: markdown is cut at headings (and
//! long sections into line windows), everything else into overlapping line
//! windows. Each chunk keeps 1-based inclusive line numbers so citations point
//! at the source.

use serde::Serialize;

/// Lines per window for code and plain text.
pub(crate) const WINDOW_LINES: usize = 40;
/// Lines shared by consecutive windows, so a passage cut at a boundary is still
/// found whole in one of them.
const OVERLAP_LINES: usize = 5;
/// A window is also closed once it holds this many characters (long lines).
const MAX_CHARS: usize = 1_600;

/// What a file holds, which decides how it is chunked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Markdown or similar prose with `#` headings.
    Markdown,
    /// Source code.
    Code,
    /// PDF: text per page, page numbers kept.
    Pdf,
    /// JSON: chunked by object path.
    Json,
    /// HTML: main text and headings; scripts, styles and navigation dropped.
    Html,
    /// Anything else that is text.
    Text,
}

impl Kind {
    /// The kind for a file name, by extension.
    #[must_use]
    pub fn for_path(path: &str) -> Self {
        let extension = path
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase());
        match extension.as_deref() {
            Some("md" | "markdown" | "mdx" | "rst" | "adoc") => Self::Markdown,
            Some("pdf") => Self::Pdf,
            Some("json") => Self::Json,
            Some("html" | "htm" | "xhtml") => Self::Html,
            Some(
                "rs" | "py" | "js" | "jsx" | "ts" | "tsx" | "go" | "java" | "kt" | "c" | "h" | "cc"
                | "cpp" | "hpp" | "cs" | "rb" | "php" | "swift" | "scala" | "sh" | "bash" | "zsh"
                | "lua" | "sql" | "toml" | "yaml" | "yml" | "css" | "scss" | "vue" | "svelte"
                | "zig" | "ex" | "exs" | "hs" | "ml",
            ) => Self::Code,
            _ => Self::Text,
        }
    }

    /// Lower-case name, as stored.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Markdown => "markdown",
            Self::Code => "code",
            Self::Pdf => "pdf",
            Self::Json => "json",
            Self::Html => "html",
            Self::Text => "text",
        }
    }
}

/// A piece of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
    /// Where the chunk sits: markdown/HTML heading path (`Install > Linux`),
    /// JSON object path (`server.port`) or code symbol path (`Server::bind`).
    pub heading: Option<String>,
    /// PDF page, 1-based (lines then count within the page).
    pub page: Option<u32>,
    /// The chunk's text.
    pub text: String,
}

/// Splits text: markdown-like text (markdown, and HTML once
/// [`crate::load`] has turned it into an outline) at headings, code with a
/// grammar for `language` along its syntax tree, everything else into line
/// windows. Format-aware loading of PDF, JSON and HTML is
/// [`crate::load`]'s job. Blank chunks are dropped.
#[must_use]
pub fn chunk(text: &str, kind: Kind, language: Option<&str>) -> Vec<Chunk> {
    let lines: Vec<&str> = text.lines().collect();
    let chunks = match kind {
        Kind::Markdown | Kind::Html => markdown_sections(&lines),
        Kind::Code => language
            .and_then(|language| crate::code::code_chunks(text, language))
            .unwrap_or_else(|| windows(&lines, 0, None)),
        Kind::Json | Kind::Text | Kind::Pdf => windows(&lines, 0, None),
    };
    non_blank(chunks)
}

pub(crate) fn non_blank(chunks: Vec<Chunk>) -> Vec<Chunk> {
    chunks
        .into_iter()
        .filter(|chunk| !chunk.text.trim().is_empty())
        .collect()
}

/// Heading level of a markdown ATX heading line (`## x` → 2).
fn heading_level(line: &str) -> Option<(usize, &str)> {
    let hashes = line.bytes().take_while(|&byte| byte == b'#').count();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
        Some((hashes, line[hashes..].trim()))
    } else {
        None
    }
}

fn markdown_sections(lines: &[&str]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut section_start = 0;
    let mut in_fence = false;
    let heading_of = |path: &[(usize, String)]| {
        (!path.is_empty()).then(|| {
            path.iter()
                .map(|(_, title)| title.as_str())
                .collect::<Vec<_>>()
                .join(" > ")
        })
    };
    for (index, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~") {
            in_fence = !in_fence;
        }
        let Some((level, title)) = (!in_fence).then(|| heading_level(line)).flatten() else {
            continue;
        };
        if index > section_start {
            chunks.extend(windows(
                &lines[section_start..index],
                section_start,
                heading_of(&path).as_deref(),
            ));
        }
        path.retain(|(existing, _)| *existing < level);
        path.push((level, title.to_owned()));
        section_start = index;
    }
    if section_start < lines.len() {
        chunks.extend(windows(
            &lines[section_start..],
            section_start,
            heading_of(&path).as_deref(),
        ));
    }
    chunks
}

/// Overlapping windows over `lines`, whose first line is line `offset + 1`.
pub(crate) fn windows(lines: &[&str], offset: usize, heading: Option<&str>) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < lines.len() {
        let mut end = start;
        let mut chars = 0;
        while end < lines.len() && end - start < WINDOW_LINES {
            chars += lines[end].len() + 1;
            end += 1;
            if chars >= MAX_CHARS {
                break;
            }
        }
        let mut text = lines[start..end].join("\n");
        if text.len() > MAX_CHARS * 2 {
            // One enormous line (minified code): keep a bounded prefix.
            let mut cut = MAX_CHARS * 2;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        chunks.push(Chunk {
            start_line: (offset + start + 1) as u32,
            end_line: (offset + end) as u32,
            heading: heading.map(str::to_owned),
            page: None,
            text,
        });
        if end == lines.len() {
            break;
        }
        start = if end - start > OVERLAP_LINES {
            end - OVERLAP_LINES
        } else {
            end
        };
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_cut_at_headings_with_heading_paths() {
        let text = "intro\n# Install\nrun it\n## Linux\napt install\n# Usage\nuse it\n";
        let chunks = chunk(text, Kind::Markdown, None);
        let summary: Vec<_> = chunks
            .iter()
            .map(|c| (c.start_line, c.end_line, c.heading.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, 1, None),
                (2, 3, Some("Install".into())),
                (4, 5, Some("Install > Linux".into())),
                (6, 7, Some("Usage".into())),
            ]
        );
    }

    #[test]
    fn headings_inside_code_fences_are_not_headings() {
        let text = "# A\n```sh\n# not a heading\n```\ntext\n";
        let chunks = chunk(text, Kind::Markdown, None);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].end_line, 5);
    }

    #[test]
    fn windows_overlap_and_cover_every_line() {
        let text = (1..=100)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        let chunks = chunk(&text, Kind::Code, None);
        assert_eq!(chunks[0].start_line, 1);
        assert_eq!(chunks[0].end_line, 40);
        assert_eq!(chunks[1].start_line, 36);
        assert_eq!(chunks.last().map(|c| c.end_line), Some(100));
        for pair in chunks.windows(2) {
            assert!(pair[1].start_line <= pair[0].end_line + 1);
        }
    }

    #[test]
    fn long_lines_close_windows_early_and_are_bounded() {
        let line = "x".repeat(10_000);
        let text = format!("{line}\n{line}\n");
        let chunks = chunk(&text, Kind::Text, None);
        assert_eq!(chunks.len(), 2);
        assert!(chunks.iter().all(|c| c.text.len() <= MAX_CHARS * 2));
    }

    #[test]
    fn kinds_follow_extensions() {
        assert_eq!(Kind::for_path("docs/README.md"), Kind::Markdown);
        assert_eq!(Kind::for_path("src/main.RS"), Kind::Code);
        assert_eq!(Kind::for_path("LICENSE"), Kind::Text);
    }
}
