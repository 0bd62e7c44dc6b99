//! Syntax-aware chunking of source code with tree-sitter.
//!
//! A file is parsed, and its top-level items (functions, types, impls,
//! classes …) are packed into chunks of whole items, each labelled with the
//! symbol path of what it holds (`Server::bind`, `Config.{load, save}`). An
//! item too large for one chunk is opened up: containers (impl blocks,
//! classes, modules) and function bodies are split at their children, with
//! the item's header kept in the first piece; anything else falls back to
//! line windows that keep the symbol path. Comments stay with the item they
//! document. Languages without a grammar here use line windows.

use tree_sitter::{Language as Grammar, Node, Parser};

use crate::chunk::{windows, Chunk};

/// Most characters of whole items packed into one chunk. The embedder reads
/// at most 256 tokens, and code runs at roughly four characters per token.
pub(crate) const CODE_MAX_CHARS: usize = 1_200;

/// The language of a source file, by extension (`None` when not code).
#[must_use]
pub fn language_for_path(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "rs" => "rust",
        "py" | "pyi" => "python",
        "ts" | "mts" | "cts" => "typescript",
        "tsx" => "tsx",
        "js" | "jsx" | "mjs" | "cjs" => "javascript",
        "go" => "go",
        "java" => "java",
        "kt" | "kts" => "kotlin",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "rb" => "ruby",
        "php" => "php",
        "swift" => "swift",
        "scala" => "scala",
        "sh" | "bash" | "zsh" => "shell",
        "lua" => "lua",
        "sql" => "sql",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "css" | "scss" => "css",
        "vue" => "vue",
        "svelte" => "svelte",
        "zig" => "zig",
        "ex" | "exs" => "elixir",
        "hs" => "haskell",
        "ml" => "ocaml",
        _ => return None,
    })
}

fn grammar(language: &str) -> Option<Grammar> {
    Some(match language {
        "rust" => tree_sitter_rust::LANGUAGE.into(),
        "python" => tree_sitter_python::LANGUAGE.into(),
        "typescript" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        "tsx" => tree_sitter_typescript::LANGUAGE_TSX.into(),
        "javascript" => tree_sitter_javascript::LANGUAGE.into(),
        "go" => tree_sitter_go::LANGUAGE.into(),
        _ => return None,
    })
}

/// Chunks `text` along its syntax tree, or `None` when `language` has no
/// grammar here (the caller then uses line windows).
pub(crate) fn code_chunks(text: &str, language: &str) -> Option<Vec<Chunk>> {
    let grammar = grammar(language)?;
    let mut parser = Parser::new();
    parser.set_language(&grammar).ok()?;
    let tree = parser.parse(text, None)?;
    let lines: Vec<&str> = text.lines().collect();
    let mut splitter = Splitter {
        lines: &lines,
        source: text.as_bytes(),
        separator: if language == "rust" { "::" } else { "." },
        chunks: Vec::new(),
    };
    splitter.children(tree.root_node(), &[], None);
    Some(splitter.chunks)
}

/// Whole items packed so far into the next chunk.
struct Group {
    start: usize,
    end: usize,
    names: Vec<String>,
}

struct Splitter<'a> {
    lines: &'a [&'a str],
    source: &'a [u8],
    separator: &'static str,
    chunks: Vec<Chunk>,
}

/// Last row a node covers (a node ending at column 0 ends on the row before).
fn end_row(node: Node<'_>) -> usize {
    let end = node.end_position();
    if end.column == 0 && end.row > node.start_position().row {
        end.row - 1
    } else {
        end.row
    }
}

fn is_comment(node: Node<'_>) -> bool {
    node.kind().contains("comment")
}

/// The declaration inside a wrapper (`export …`, a decorated Python def).
fn unwrap(node: Node<'_>) -> Node<'_> {
    ["declaration", "definition"]
        .iter()
        .find_map(|field| node.child_by_field_name(field))
        .filter(|_| matches!(node.kind(), "export_statement" | "decorated_definition"))
        .unwrap_or(node)
}

impl Splitter<'_> {
    fn chars(&self, start: usize, end: usize) -> usize {
        self.lines
            .get(start..=end.min(self.lines.len().saturating_sub(1)))
            .map_or(0, |lines| lines.iter().map(|line| line.len() + 1).sum())
    }

    fn text(&self, node: Node<'_>) -> &str {
        node.utf8_text(self.source).unwrap_or_default()
    }

    /// The name an item is known by, if it declares one.
    fn symbol(&self, node: Node<'_>) -> Option<String> {
        let node = unwrap(node);
        let kind = node.kind();
        if kind.contains("import") || kind.contains("use_") || kind.contains("package") {
            return None;
        }
        match kind {
            // `impl Trait for Type` is found by the type's name.
            "impl_item" => node
                .child_by_field_name("type")
                .map(|name| self.text(name).to_owned()),
            "method_declaration" => {
                let name = self.text(node.child_by_field_name("name")?);
                let receiver = node
                    .child_by_field_name("receiver")
                    .map(|receiver| self.text(receiver))
                    .and_then(|text| text.split_whitespace().last())
                    .map(|text| text.trim_matches(|c| matches!(c, '(' | ')' | '*')))
                    .map(|text| text.split('[').next().unwrap_or(text));
                Some(match receiver {
                    Some(receiver) if !receiver.is_empty() => {
                        format!("{receiver}{}{name}", self.separator)
                    }
                    _ => name.to_owned(),
                })
            }
            "lexical_declaration" | "variable_declaration" | "type_declaration" => {
                let mut cursor = node.walk();
                let first = node
                    .named_children(&mut cursor)
                    .find(|child| matches!(child.kind(), "variable_declarator" | "type_spec"))?;
                first
                    .child_by_field_name("name")
                    .map(|name| self.text(name).to_owned())
            }
            _ => node
                .child_by_field_name("name")
                .map(|name| self.text(name).to_owned()),
        }
        .filter(|name| !name.is_empty() && !name.contains('\n'))
    }

    fn heading(&self, path: &[String], names: &[String]) -> Option<String> {
        let mut parts: Vec<String> = path.to_vec();
        match names {
            [] => {}
            [one] => parts.push(one.clone()),
            many => parts.push(format!("{{{}}}", many.join(", "))),
        }
        (!parts.is_empty()).then(|| parts.join(self.separator))
    }

    fn flush(&mut self, group: &mut Option<Group>, path: &[String]) {
        if let Some(group) = group.take() {
            let text = self.lines[group.start..=group.end].join("\n");
            self.chunks.push(Chunk {
                start_line: group.start as u32 + 1,
                end_line: group.end as u32 + 1,
                heading: self.heading(path, &group.names),
                page: None,
                text,
            });
        }
    }

    /// Packs the children of `parent` into chunks. `lead` is the first row
    /// of a header (the `impl X {` line, a signature) that belongs with the
    /// first piece.
    fn children(&mut self, parent: Node<'_>, path: &[String], lead: Option<usize>) {
        let mut group: Option<Group> = None;
        // Start of comments (or a header) waiting for the item they precede.
        let mut pending = lead;
        let mut cursor = parent.walk();
        let children: Vec<Node<'_>> = parent.named_children(&mut cursor).collect();
        for child in children {
            if is_comment(child) {
                pending.get_or_insert(child.start_position().row);
                continue;
            }
            let start = pending
                .take()
                .unwrap_or(child.start_position().row)
                .min(child.start_position().row);
            let end = end_row(child).max(start);
            let name = self.symbol(child);
            if self.chars(start, end) > CODE_MAX_CHARS {
                self.flush(&mut group, path);
                self.large_item(child, start, end, path, name);
                continue;
            }
            if let Some(current) = &group {
                if self.chars(current.start, end) > CODE_MAX_CHARS {
                    self.flush(&mut group, path);
                }
            }
            let current = group.get_or_insert(Group {
                start,
                end,
                names: Vec::new(),
            });
            current.end = end;
            current.names.extend(name);
        }
        if let Some(start) = pending {
            // Trailing comments (or a header with no children at all).
            let end = end_row(parent).max(start);
            let current = group.get_or_insert(Group {
                start,
                end,
                names: Vec::new(),
            });
            current.end = current.end.max(end);
        }
        self.flush(&mut group, path);
    }

    /// An item larger than one chunk: split at its body's children when it
    /// has a body, else into line windows under its symbol path.
    fn large_item(
        &mut self,
        node: Node<'_>,
        start: usize,
        end: usize,
        path: &[String],
        name: Option<String>,
    ) {
        let mut inner: Vec<String> = path.to_vec();
        inner.extend(name);
        let declaration = unwrap(node);
        let body = declaration
            .child_by_field_name("body")
            .filter(|body| body.named_child_count() > 1);
        if let Some(body) = body {
            self.children(body, &inner, Some(start));
        } else {
            let heading = self.heading(&inner, &[]);
            self.chunks.extend(windows(
                &self.lines[start..=end.min(self.lines.len() - 1)],
                start,
                heading.as_deref(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(chunks: &[Chunk]) -> Vec<(u32, u32, Option<String>)> {
        chunks
            .iter()
            .map(|chunk| (chunk.start_line, chunk.end_line, chunk.heading.clone()))
            .collect()
    }

    #[test]
    fn languages_follow_extensions() {
        assert_eq!(language_for_path("src/lib.rs"), Some("rust"));
        assert_eq!(language_for_path("app/View.TSX"), Some("tsx"));
        assert_eq!(language_for_path("README.md"), None);
        assert_eq!(language_for_path("Makefile"), None);
    }

    #[test]
    fn small_rust_items_share_a_chunk_named_by_their_symbols() {
        let text = "use std::io;\n\n/// A server.\npub struct Server;\n\nfn main() {}\n";
        let chunks = code_chunks(text, "rust").expect("grammar");
        assert_eq!(
            summary(&chunks),
            vec![(1, 6, Some("{Server, main}".into()))]
        );
    }

    #[test]
    fn a_large_impl_is_split_at_methods_with_symbol_paths_and_doc_comments() {
        let body = "        let x = 1;\n".repeat(40);
        let text = format!(
            "impl Server {{\n    /// Binds.\n    pub fn bind(&self) {{\n{body}    }}\n\n    pub fn run(&self) {{\n{body}    }}\n}}\n"
        );
        let chunks = code_chunks(&text, "rust").expect("grammar");
        let headings: Vec<_> = chunks.iter().filter_map(|c| c.heading.clone()).collect();
        assert!(
            headings.iter().any(|h| h.starts_with("Server::bind")),
            "{headings:?}"
        );
        assert!(
            headings.iter().any(|h| h.starts_with("Server::run")),
            "{headings:?}"
        );
        // The header line and the doc comment travel with the first method.
        assert_eq!(chunks[0].start_line, 1);
        assert!(chunks[0].text.contains("/// Binds."));
        assert!(chunks.iter().all(|c| c.text.len() <= CODE_MAX_CHARS * 2));
    }

    #[test]
    fn python_classes_and_decorated_functions() {
        let method = format!("    def load(self):\n{}", "        x = 1\n".repeat(100));
        let text = format!(
            "import os\n\n@cache\ndef helper():\n    return 1\n\nclass Config:\n    \"\"\"Settings.\"\"\"\n{method}\n    def save(self):\n        pass\n"
        );
        let chunks = code_chunks(&text, "python").expect("grammar");
        let headings: Vec<_> = chunks.iter().filter_map(|c| c.heading.clone()).collect();
        assert_eq!(headings[0], "helper");
        assert!(
            headings.iter().any(|h| h.starts_with("Config.load")),
            "{headings:?}"
        );
        assert!(headings.iter().any(|h| h == "Config.save"), "{headings:?}");
    }

    #[test]
    fn typescript_exports_and_go_methods_are_named() {
        let chunks = code_chunks(
            "export function start(port: number) {}\nexport const stop = () => {};\nexport class App {}\n",
            "typescript",
        )
        .expect("grammar");
        assert_eq!(chunks[0].heading.as_deref(), Some("{start, stop, App}"));
        let chunks = code_chunks(
            "package main\n\ntype Server struct{}\n\nfunc (s *Server) Start() error { return nil }\n",
            "go",
        )
        .expect("grammar");
        assert_eq!(chunks[0].heading.as_deref(), Some("{Server, Server.Start}"));
        let chunks = code_chunks("const a = require('x');\nfunction b() {}\n", "javascript")
            .expect("grammar");
        assert_eq!(chunks[0].heading.as_deref(), Some("{a, b}"));
    }

    #[test]
    fn broken_code_still_chunks_and_other_languages_have_no_grammar() {
        let chunks = code_chunks("fn broken( {\n let x = ;\n", "rust").expect("grammar");
        assert!(!chunks.is_empty());
        assert!(code_chunks("SELECT 1;", "sql").is_none());
    }
}
