//! `web.fetch`: a URL's readable text.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::tool::OUTPUT_LIMIT;
use crate::{Error, Result};

/// Arguments of `web.fetch`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FetchArgs {
    /// `http://` or `https://` URL.
    url: String,
}

/// Largest body read.
const BODY_LIMIT: usize = 8 << 20;

pub(crate) async fn fetch(tool: &str, args: FetchArgs) -> Result<Value> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(Error::InvalidArguments {
            tool: tool.to_owned(),
            problems: format!("$.url: `{}` is not an http(s) URL", args.url),
        });
    }
    let client = codexos_net::client()
        .timeout(Duration::from_secs(30))
        .user_agent("CodexOS web.fetch")
        .build()
        .map_err(|error| Error::failed(tool, error.to_string()))?;
    let mut response = codexos_net::send(client.get(&args.url))
        .await
        .map_err(|error| {
            Error::failed(
                tool,
                format!(
                    "cannot fetch `{}`: {}",
                    args.url,
                    codexos_net::explain(&error)
                ),
            )
        })?;
    let status = response.status();
    let kind = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| Error::failed(tool, format!("reading `{}`: {error}", args.url)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > BODY_LIMIT {
            break;
        }
    }
    if !status.is_success() {
        let excerpt: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(Error::failed(
            tool,
            format!("`{}` answered {status}: {excerpt}", args.url),
        ));
    }
    let text = String::from_utf8_lossy(&body);
    if kind.contains("html") || (kind.is_empty() && text.trim_start().starts_with('<')) {
        return Ok(Value::String(readable(&text)));
    }
    if kind.starts_with("text/") || kind.contains("json") || kind.contains("xml") || kind.is_empty()
    {
        return Ok(Value::String(text.into_owned()));
    }
    Err(Error::failed(
        tool,
        format!("`{}` is `{kind}`, not text", args.url),
    ))
}

/// The text of an HTML page: title, then the body's text by block, without
/// scripts, styles and navigation.
fn readable(html: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let mut text = String::new();
    if let Ok(title) = scraper::Selector::parse("title") {
        if let Some(title) = document.select(&title).next() {
            text.push_str("# ");
            text.push_str(title.text().collect::<String>().trim());
            text.push_str("\n\n");
        }
    }
    let Ok(blocks) = scraper::Selector::parse(
        "main h1, main h2, main h3, main p, main li, main pre, article h1, article h2, article p, article li, article pre, body h1, body h2, body h3, body h4, body p, body li, body pre, body td",
    ) else {
        return text;
    };
    let skip = ["script", "style", "nav", "footer", "header", "noscript"];
    let mut seen = std::collections::HashSet::new();
    for element in document.select(&blocks) {
        if !seen.insert(element.id()) {
            continue;
        }
        let hidden = element.ancestors().any(|node| {
            node.value()
                .as_element()
                .is_some_and(|parent| skip.contains(&parent.name()))
        });
        if hidden {
            continue;
        }
        let line = element.text().collect::<String>();
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            continue;
        }
        if element.value().name().starts_with('h') && element.value().name().len() == 2 {
            text.push_str("## ");
        }
        text.push_str(&line);
        text.push_str("\n\n");
        if text.len() > OUTPUT_LIMIT {
            break;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn html_becomes_readable_text() {
        let page = "<html><head><title>Doc</title><script>x()</script></head><body><nav><li>menu</li></nav><h1>Intro</h1><p>Hello <b>world</b>.</p></body></html>";
        assert_eq!(
            super::readable(page),
            "# Doc\n\n## Intro\n\nHello world.\n\n"
        );
    }
}
