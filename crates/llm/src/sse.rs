//! Server-sent events: splitting a byte stream into `event:`/`data:` records,
//! whatever way the network cut it into chunks.

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Incremental parser: feed chunks, take whole events.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: Vec<u8>,
}

/// Most bytes one event may take before the stream is called malformed.
const MAX_EVENT_BYTES: usize = 16 << 20;

impl SseParser {
    /// Adds `chunk` and returns the events it completed. An error means the
    /// peer sent one event larger than any real response.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buffer.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some((end, separator)) = find_blank_line(&self.buffer) {
            let record: Vec<u8> = self.buffer.drain(..end + separator).take(end).collect();
            if let Some(event) = parse_record(&String::from_utf8_lossy(&record)) {
                events.push(event);
            }
        }
        if self.buffer.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "an event exceeded {} MiB without ending",
                MAX_EVENT_BYTES >> 20
            ));
        }
        Ok(events)
    }

    /// The last event when the stream ended without a blank line after it.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buffer);
        parse_record(&String::from_utf8_lossy(&rest))
    }
}

/// Position and length of the first blank line (`\n\n`, `\r\n\r\n`, `\r\r`).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    let mut index = 0;
    while index < buffer.len() {
        for separator in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"] {
            if buffer[index..].starts_with(separator) {
                return Some((index, separator.len()));
            }
        }
        index += 1;
    }
    None
}

fn parse_record(record: &str) -> Option<SseEvent> {
    let mut event = String::new();
    let mut data: Vec<&str> = Vec::new();
    for line in record.lines() {
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => value.clone_into(&mut event),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() && event.is_empty() {
        return None;
    }
    Some(SseEvent {
        event,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let stream = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: one\r\ndata: two\r\n\r\ndata: [DONE]\n\n";
        for cut in 1..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.feed(&stream[..cut]).expect("small");
            events.extend(parser.feed(&stream[cut..]).expect("small"));
            assert_eq!(
                events,
                vec![
                    SseEvent {
                        event: "message_start".into(),
                        data: "{\"a\":1}".into()
                    },
                    SseEvent {
                        event: String::new(),
                        data: "one\ntwo".into()
                    },
                    SseEvent {
                        event: String::new(),
                        data: "[DONE]".into()
                    },
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_last_event_without_blank_line_is_kept() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b"data: tail").expect("ok").is_empty());
        assert_eq!(parser.finish().map(|event| event.data), Some("tail".into()));
    }
}
