//! Reading a GGUF file's metadata without loading the model: architecture,
//! size, quantisation, context length and chat template come from the
//! header's key–value section and tensor table, read in one buffered pass
//! that skips the (large) vocabulary arrays and never touches tensor data.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What `codexos models info` shows about a GGUF model.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct GgufInfo {
    /// The file.
    pub path: PathBuf,
    /// File size in bytes.
    #[specta(type = f64)]
    pub bytes: u64,
    /// GGUF format version.
    pub version: u32,
    /// `general.name`, when set.
    pub name: Option<String>,
    /// `general.architecture` (`llama`, `qwen2` …).
    pub architecture: Option<String>,
    /// Parameters, counted from the tensor table.
    #[specta(type = f64)]
    pub parameters: u64,
    /// Quantisation (`Q4_K_M`, `Q8_0`, `F16` …) from `general.file_type`.
    pub quantization: Option<String>,
    /// Context length the model was trained for.
    pub context_length: Option<u32>,
    /// Transformer blocks.
    pub layers: Option<u32>,
    /// Whether the file carries a chat template.
    pub has_chat_template: bool,
    /// Whether CodexOS can offer it tools: its template renders tool
    /// definitions, or it is a ChatML model (the built-in ChatML template
    /// with a tools section stands in).
    pub supports_tools: bool,
}

/// Why a file's metadata cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file cannot be opened or read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not a GGUF file, or a damaged one.
    #[error(
        "`{path}` is not a valid GGUF model: {reason} — download it again or pick a .gguf file"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Longest string or array the reader accepts (a guard against garbage
/// lengths in damaged files).
const MAX_LENGTH: u64 = 1 << 30;

/// A metadata value, as far as `info` needs it.
enum Value {
    Text(String),
    Unsigned(u64),
    Other,
}

struct Reader<R> {
    inner: R,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut buffer = [0u8; N];
        self.inner.read_exact(&mut buffer)?;
        Ok(buffer)
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> std::io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn length(&mut self) -> std::io::Result<u64> {
        let length = self.u64()?;
        if length > MAX_LENGTH {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("implausible length {length}"),
            ));
        }
        Ok(length)
    }

    fn skip(&mut self, count: u64) -> std::io::Result<()> {
        let copied = std::io::copy(&mut (&mut self.inner).take(count), &mut std::io::sink())?;
        if copied == count {
            Ok(())
        } else {
            Err(std::io::ErrorKind::UnexpectedEof.into())
        }
    }

    fn string(&mut self) -> std::io::Result<String> {
        let length = self.length()?;
        let mut buffer = vec![0u8; length as usize];
        self.inner.read_exact(&mut buffer)?;
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }

    /// Reads (or skips) a value of GGUF type `kind`.
    fn value(&mut self, kind: u32) -> std::io::Result<Value> {
        Ok(match kind {
            0 | 1 | 7 => Value::Unsigned(u64::from(self.bytes::<1>()?[0])),
            2 | 3 => Value::Unsigned(u64::from(u16::from_le_bytes(self.bytes()?))),
            4 | 5 => Value::Unsigned(u64::from(self.u32()?)),
            6 => {
                self.skip(4)?;
                Value::Other
            }
            8 => Value::Text(self.string()?),
            9 => {
                let item = self.u32()?;
                let count = self.length()?;
                match item_size(item) {
                    Some(size) => self.skip(count * size)?,
                    None => {
                        for _ in 0..count {
                            self.value(item)?;
                        }
                    }
                }
                Value::Other
            }
            10 | 11 => Value::Unsigned(self.u64()?),
            12 => {
                self.skip(8)?;
                Value::Other
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("unknown value type {other}"),
                ))
            }
        })
    }
}

/// Size of a fixed-size GGUF value type (`None` for strings and arrays).
fn item_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// llama.cpp's `general.file_type` numbers, by name.
fn file_type(number: u64) -> Option<&'static str> {
    Some(match number {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        _ => return None,
    })
}

/// Reads the metadata of the GGUF file at `path`.
pub fn read_info(path: &Path) -> Result<GgufInfo, GgufError> {
    let io = |source| GgufError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    let invalid = |reason: String| GgufError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut reader = Reader {
        inner: BufReader::with_capacity(1 << 16, file),
    };
    let header = (|| -> std::io::Result<(u32, u32, u64, u64)> {
        Ok((reader.u32()?, reader.u32()?, reader.u64()?, reader.u64()?))
    })();
    let (magic, version, tensors, entries) =
        header.map_err(|error| invalid(format!("the header is unreadable ({error})")))?;
    if magic != u32::from_le_bytes(*b"GGUF") {
        return Err(invalid("it does not start with the GGUF magic".into()));
    }
    if !(2..=3).contains(&version) {
        return Err(invalid(format!("unsupported GGUF version {version}")));
    }
    let mut info = GgufInfo {
        path: path.to_path_buf(),
        bytes,
        version,
        name: None,
        architecture: None,
        parameters: 0,
        quantization: None,
        context_length: None,
        layers: None,
        has_chat_template: false,
        supports_tools: false,
    };
    let mut numbers: Vec<(String, u64)> = Vec::new();
    for _ in 0..entries {
        let entry = (|| -> std::io::Result<(String, Value)> {
            let key = reader.string()?;
            let kind = reader.u32()?;
            Ok((key, reader.value(kind)?))
        })();
        let (key, value) = entry.map_err(|error| invalid(format!("damaged metadata ({error})")))?;
        match (key.as_str(), value) {
            ("general.name", Value::Text(text)) => info.name = Some(text),
            ("general.architecture", Value::Text(text)) => info.architecture = Some(text),
            ("general.file_type", Value::Unsigned(number)) => {
                info.quantization = file_type(number).map(str::to_owned);
            }
            ("tokenizer.chat_template", Value::Text(template)) => {
                info.has_chat_template = true;
                // ChatML models get the built-in ChatML template's tools section.
                info.supports_tools =
                    template.contains("tools") || template.contains("<|im_start|>");
            }
            (_, Value::Unsigned(number)) => numbers.push((key, number)),
            _ => {}
        }
    }
    if let Some(architecture) = &info.architecture {
        let number = |suffix: &str| {
            let key = format!("{architecture}.{suffix}");
            numbers
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| *value as u32)
        };
        info.context_length = number("context_length");
        info.layers = number("block_count");
    }
    for _ in 0..tensors {
        let tensor = (|| -> std::io::Result<u64> {
            reader.string()?;
            let dimensions = reader.u32()?;
            if dimensions > 8 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{dimensions} dimensions"),
                ));
            }
            let mut elements: u64 = 1;
            for _ in 0..dimensions {
                elements = elements.saturating_mul(reader.u64()?);
            }
            reader.u32()?; // element type
            reader.u64()?; // data offset
            Ok(elements)
        })();
        info.parameters +=
            tensor.map_err(|error| invalid(format!("damaged tensor table ({error})")))?;
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_gguf_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fake = dir.path().join("fake.gguf");
        std::fs::write(&fake, b"not a model at all, just text").expect("write");
        let error = read_info(&fake).expect_err("refused");
        assert!(error.to_string().contains("GGUF magic"), "{error}");
        let short = dir.path().join("short.gguf");
        std::fs::write(&short, b"GGUF").expect("write");
        assert!(read_info(&short)
            .expect_err("short")
            .to_string()
            .contains("header"));
        // A header promising more metadata than the file holds.
        let mut truncated = b"GGUF".to_vec();
        truncated.extend(3u32.to_le_bytes());
        truncated.extend(0u64.to_le_bytes());
        truncated.extend(5u64.to_le_bytes());
        let damaged = dir.path().join("damaged.gguf");
        std::fs::write(&damaged, truncated).expect("write");
        assert!(read_info(&damaged)
            .expect_err("damaged")
            .to_string()
            .contains("damaged metadata"));
        assert!(matches!(
            read_info(&dir.path().join("missing.gguf")),
            Err(GgufError::Io { .. })
        ));
    }

    #[test]
    fn quantisation_names_follow_llama_cpp() {
        assert_eq!(file_type(15), Some("Q4_K_M"));
        assert_eq!(file_type(3), Some("Q4_1"));
        assert_eq!(file_type(999), None);
    }
}
