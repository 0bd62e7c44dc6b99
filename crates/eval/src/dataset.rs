//! Datasets: cases of `input`, `expected` and `metadata`, read from JSONL
//! (one object per line) or CSV (a header row), with line numbers in every
//! error; appending a case never rewrites what is there.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::scorer::Scorer;
use crate::{Error, Result};

/// Datasets larger than this are refused (they are read whole).
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One case of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct EvalCase {
    /// Its id (`id` in the file, else `case-N` from its line).
    pub id: String,
    /// The run's input: an object, or a plain value for a flow with one
    /// input field.
    #[specta(type = codexos_flow::JsonValue)]
    pub input: Value,
    /// What the scorers compare the output with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<codexos_flow::JsonValue>)]
    pub expected: Option<Value>,
    /// Anything else (the run it came from, tags, a `file` to be cited …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[specta(type = codexos_flow::JsonValue)]
    pub metadata: Map<String, Value>,
    /// Scorers for this case in place of the eval's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scorers: Option<Vec<Scorer>>,
}

/// A dataset read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// File it came from.
    pub path: PathBuf,
    /// The cases, in file order.
    pub cases: Vec<EvalCase>,
    /// sha256 of the file's bytes.
    pub hash: String,
}

/// Whether a path is read as CSV (by its extension).
fn is_csv(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| ext.eq_ignore_ascii_case("csv"))
}

/// Reads a dataset: `.csv` as CSV, anything else as JSONL.
pub fn load(path: &Path) -> Result<Dataset> {
    let io = |error: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_BYTES {
        return Err(Error::Dataset {
            path: path.to_path_buf(),
            line: 0,
            message: format!(
                "the file is {} MiB; datasets are read whole, at most {} MiB — split it",
                size / (1024 * 1024),
                MAX_BYTES / (1024 * 1024)
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| Error::Dataset {
        path: path.to_path_buf(),
        line: 0,
        message: "the file is not UTF-8 text".into(),
    })?;
    // Spreadsheets and some editors start UTF-8 files with a byte-order mark.
    let body = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let cases = if is_csv(path) {
        parse_csv(body)
    } else {
        parse_jsonl(body)
    }
    .map_err(|(line, message)| Error::Dataset {
        path: path.to_path_buf(),
        line,
        message,
    })?;
    Ok(Dataset {
        path: path.to_path_buf(),
        cases,
        hash: hex::encode(Sha256::digest(&bytes)),
    })
}

type Parsed = std::result::Result<Vec<EvalCase>, (usize, String)>;

/// Cases from JSONL text: one JSON object per line; blank lines and lines
/// starting with `//` are skipped.
pub fn parse_jsonl(text: &str) -> Parsed {
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let value: Value = serde_json::from_str(line)
            .map_err(|error| (number, format!("not a JSON object: {error}")))?;
        let Value::Object(fields) = value else {
            return Err((
                number,
                "each line must be a JSON object with `input`".into(),
            ));
        };
        cases.push(case_from(fields, number)?);
    }
    finish(cases)
}

fn case_from(
    mut fields: Map<String, Value>,
    line: usize,
) -> std::result::Result<EvalCase, (usize, String)> {
    let id = match fields.remove("id") {
        None | Some(Value::Null) => format!("case-{line}"),
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        Some(Value::Number(number)) => number.to_string(),
        Some(_) => return Err((line, "`id` must be a non-empty string".into())),
    };
    let input = fields
        .remove("input")
        .ok_or((line, "the case has no `input`".to_owned()))?;
    let expected = fields.remove("expected");
    let metadata = match fields.remove("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(metadata)) => metadata,
        Some(_) => return Err((line, "`metadata` must be an object".into())),
    };
    let scorers = match fields.remove("scorers") {
        None | Some(Value::Null) => None,
        Some(value) => Some(
            serde_json::from_value(value).map_err(|error| (line, format!("`scorers`: {error}")))?,
        ),
    };
    if let Some(key) = fields.keys().next() {
        return Err((
            line,
            format!("unknown key `{key}` (a case has id, input, expected, metadata, scorers)"),
        ));
    }
    Ok(EvalCase {
        id,
        input,
        expected,
        metadata,
        scorers,
    })
}

fn finish(cases: Vec<EvalCase>) -> Parsed {
    let mut seen = BTreeSet::new();
    for case in &cases {
        if !seen.insert(case.id.as_str()) {
            return Err((0, format!("case id `{}` is used twice", case.id)));
        }
    }
    if cases.is_empty() {
        return Err((0, "the dataset has no case".into()));
    }
    Ok(cases)
}

/// A CSV cell as JSON: objects, arrays, numbers and booleans are parsed,
/// anything else stays text.
fn cell(text: &str) -> Value {
    let trimmed = text.trim();
    let looks_json = trimmed.starts_with('{')
        || trimmed.starts_with('[')
        || trimmed == "true"
        || trimmed == "false"
        || trimmed.parse::<f64>().is_ok();
    if looks_json {
        if let Ok(value) = serde_json::from_str(trimmed) {
            return value;
        }
    }
    Value::String(text.to_owned())
}

/// Cases from CSV text with a header: `id`, `input` (an object or a plain
/// value), `input.FIELD` columns, `expected`, `metadata` (an object) and
/// `metadata.KEY` columns.
pub fn parse_csv(text: &str) -> Parsed {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| (1, format!("cannot read the header row: {error}")))?
        .clone();
    for header in &headers {
        let known = matches!(header, "id" | "input" | "expected" | "metadata")
            || header.starts_with("input.")
            || header.starts_with("metadata.");
        if !known {
            return Err((
                1,
                format!("unknown column `{header}` (use id, input, input.FIELD, expected, metadata, metadata.KEY)"),
            ));
        }
    }
    if !headers
        .iter()
        .any(|header| header == "input" || header.starts_with("input."))
    {
        return Err((
            1,
            "the header has no `input` or `input.FIELD` column".into(),
        ));
    }
    let mut cases = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|error| {
            let line = error
                .position()
                .map_or(0, |position| position.line() as usize);
            (line, error.to_string())
        })?;
        let line = record
            .position()
            .map_or(0, |position| position.line() as usize);
        let mut fields = Map::new();
        let mut input = Map::new();
        let mut metadata = Map::new();
        let mut whole_input = None;
        for (header, text) in headers.iter().zip(record.iter()) {
            if let Some(field) = header.strip_prefix("input.") {
                input.insert(field.to_owned(), cell(text));
            } else if let Some(key) = header.strip_prefix("metadata.") {
                if !text.is_empty() {
                    metadata.insert(key.to_owned(), cell(text));
                }
            } else if header == "input" {
                whole_input = Some(cell(text));
            } else if header == "metadata" {
                match cell(text) {
                    Value::Object(object) => metadata.extend(object),
                    Value::String(empty) if empty.trim().is_empty() => {}
                    _ => return Err((line, "`metadata` must be a JSON object".into())),
                }
            } else if !text.is_empty() {
                fields.insert(header.to_owned(), cell(text));
            }
        }
        let input = match (whole_input, input.is_empty()) {
            (Some(Value::Object(mut whole)), _) => {
                whole.extend(input);
                Value::Object(whole)
            }
            (Some(value), true) => value,
            (Some(_), false) => {
                return Err((
                    line,
                    "`input` must be an object when `input.FIELD` columns are used".into(),
                ))
            }
            (None, _) => Value::Object(input),
        };
        fields.insert("input".into(), input);
        if let Some(Value::String(id)) = fields.get("id") {
            if id.trim().is_empty() {
                fields.remove("id");
            }
        }
        fields.insert("metadata".into(), Value::Object(metadata));
        cases.push(case_from(fields, line)?);
    }
    finish(cases)
}

/// A case as one JSONL line.
#[must_use]
pub fn to_line(case: &EvalCase) -> String {
    serde_json::to_string(case).unwrap_or_default()
}

/// Appends a case to a JSONL dataset (created when missing), refusing an id
/// it already has. CSV datasets are not appended to: their columns are the
/// author's.
pub fn append(path: &Path, case: &EvalCase) -> Result<()> {
    if is_csv(path) {
        return Err(Error::Dataset {
            path: path.to_path_buf(),
            line: 0,
            message: "cases are added to JSONL datasets; this one is CSV".into(),
        });
    }
    if path.exists() {
        let existing = load(path);
        match existing {
            Ok(dataset) if dataset.cases.iter().any(|known| known.id == case.id) => {
                return Err(Error::Dataset {
                    path: path.to_path_buf(),
                    line: 0,
                    message: format!("it already has a case `{}`", case.id),
                })
            }
            Ok(_) => {}
            Err(Error::Dataset {
                line: 0,
                ref message,
                ..
            }) if message.contains("no case") => {}
            Err(error) => return Err(error),
        }
    }
    let io = |error: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        message: error.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let needs_newline =
        std::fs::read(path).is_ok_and(|bytes| bytes.last().is_some_and(|last| *last != b'\n'));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let mut line = String::new();
    if needs_newline {
        line.push('\n');
    }
    line.push_str(&to_line(case));
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_cases_with_ids_defaults_and_errors() {
        let cases = parse_jsonl(
            "{\"input\":{\"q\":\"a\"},\"expected\":\"A\"}\n\n// note\n{\"id\":\"two\",\"input\":\"b\",\"metadata\":{\"file\":\"x.md\"}}\n",
        )
        .expect("parses");
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].id, "case-1");
        assert_eq!(cases[0].expected, Some(Value::from("A")));
        assert_eq!(cases[1].id, "two");
        assert_eq!(cases[1].metadata["file"], "x.md");

        let (line, message) = parse_jsonl("{\"input\":1}\n{oops}\n").expect_err("bad JSON");
        assert_eq!(line, 2);
        assert!(message.contains("not a JSON object"), "{message}");
        let (_, message) = parse_jsonl("{\"expected\":1}\n").expect_err("no input");
        assert!(message.contains("no `input`"), "{message}");
        let (_, message) = parse_jsonl("{\"input\":1,\"expect\":2}\n").expect_err("typo");
        assert!(message.contains("unknown key `expect`"), "{message}");
        let (_, message) = parse_jsonl("{\"id\":\"a\",\"input\":1}\n{\"id\":\"a\",\"input\":2}\n")
            .expect_err("dup");
        assert!(message.contains("used twice"), "{message}");
        assert!(parse_jsonl("\n").is_err(), "an empty dataset is refused");
    }

    #[test]
    fn csv_columns_become_input_fields_and_metadata() {
        let cases = parse_csv(
            "id,input.question,input.k,expected,metadata.file\nq1,\"What is x, really?\",3,42,docs/x.md\n,plain,1,\"{\"\"a\"\":1}\",\n",
        )
        .expect("parses");
        assert_eq!(cases[0].id, "q1");
        assert_eq!(cases[0].input["question"], "What is x, really?");
        assert_eq!(cases[0].input["k"], 3);
        assert_eq!(cases[0].expected, Some(Value::from(42)));
        assert_eq!(cases[0].metadata["file"], "docs/x.md");
        assert_eq!(cases[1].id, "case-3");
        assert_eq!(cases[1].expected, Some(serde_json::json!({"a": 1})));
        let (line, message) = parse_csv("question,expected\na,b\n").expect_err("unknown column");
        assert_eq!(line, 1);
        assert!(message.contains("unknown column `question`"), "{message}");
        let (line, _) = parse_csv("input,expected\na,b\nc\n").expect_err("short row");
        assert_eq!(line, 3);
    }

    #[test]
    fn append_adds_a_line_and_refuses_a_known_id() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("sets/new.jsonl");
        let case = EvalCase {
            id: "from-run".into(),
            input: serde_json::json!({"q": "a"}),
            expected: Some(Value::from("A")),
            metadata: Map::new(),
            scorers: None,
        };
        append(&path, &case).expect("created");
        std::fs::write(
            &path,
            std::fs::read_to_string(&path).expect("read").trim_end(),
        )
        .expect("no newline");
        let second = EvalCase {
            id: "second".into(),
            ..case.clone()
        };
        append(&path, &second).expect("appended after a missing newline");
        let dataset = load(&path).expect("loads");
        assert_eq!(dataset.cases, vec![case.clone(), second]);
        let error = append(&path, &case).expect_err("same id");
        assert!(
            error.to_string().contains("already has a case `from-run`"),
            "{error}"
        );
        let csv = folder.path().join("set.csv");
        assert!(append(&csv, &case).is_err(), "CSV is the author's");
    }
}
