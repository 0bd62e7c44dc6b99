//! Retrieval-augmented answers: retrieve, fit the context, generate, cite.

use codexos_flow::taint::{spotlight, DATA_RULE};
use codexos_llm::{ChatMessage, Completion, ProviderKind};
use codexos_rag::Hit;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::exchanges::{ExchangeEnd, ExchangeKind, ExchangeTrace};
use crate::{Result, Runtime, SearchMode};

const SYSTEM_PROMPT: &str = "You are CodexOS, a precise assistant for a software project. \
Answer the question using only the numbered context excerpts from the project's files. \
Cite the excerpts you use as [1], [2]. If the excerpts do not contain the answer, say so plainly.";

/// The system prompt with the rule for spotlighted excerpts.
pub(crate) fn system_prompt() -> String {
    format!("{SYSTEM_PROMPT} {DATA_RULE}")
}

/// Options of [`Runtime::ask`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskOptions {
    /// Restrict retrieval to one project.
    pub project: Option<String>,
    /// Chat model name or path (default: config).
    pub model: Option<String>,
    /// Chunks to retrieve.
    pub k: usize,
    /// The caller's W3C `traceparent` (a traced request): the ask's trace
    /// joins it.
    pub trace_parent: Option<String>,
}

impl Default for AskOptions {
    fn default() -> Self {
        Self {
            project: None,
            model: None,
            k: 6,
            trace_parent: None,
        }
    }
}

/// A source the answer was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Citation {
    /// Number used in the prompt (`[n]`).
    pub number: u32,
    /// Project of the file.
    pub project: String,
    /// Path relative to the project root.
    pub path: String,
    /// First line.
    pub start_line: u32,
    /// Last line, inclusive (within the page for PDFs).
    pub end_line: u32,
    /// PDF page, if any.
    pub page: Option<u32>,
    /// Relevance to the question (hybrid search score).
    pub score: f32,
    /// `path:start-end`, or `path#page` for a PDF.
    pub label: String,
    /// The excerpt exactly as the model saw it.
    pub text: String,
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Answer {
    /// The answer text.
    pub text: String,
    /// The excerpts that went into the prompt.
    pub citations: Vec<Citation>,
    /// Model that answered.
    pub model: String,
    /// Token counts and timing.
    pub completion: Completion,
    /// The run the ask is kept as (its trace), when it could be stored.
    pub run_id: Option<String>,
}

/// Progress of [`Runtime::ask`].
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AskEvent {
    /// Retrieval is done; these excerpts go into the prompt.
    Retrieved {
        /// The excerpts.
        citations: Vec<Citation>,
    },
    /// More answer text.
    Token {
        /// The new text.
        text: String,
    },
}

impl Runtime {
    /// Answers `question` from the ingested projects with the local model,
    /// streaming tokens through `progress`. The ask is kept as a run (see
    /// `Answer::run_id`), failed or stopped ones too.
    pub async fn ask(
        &self,
        question: &str,
        options: &AskOptions,
        progress: &(dyn Fn(AskEvent) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<Answer> {
        let project = options.project.as_deref();
        let mut trace = ExchangeTrace::start(
            ExchangeKind::Ask,
            json!({ "question": question, "project": project }),
            options.trace_parent.clone(),
        );
        let model = options.model.as_deref();
        let mut chat = crate::ChatOptions {
            model: options.model.clone(),
            ..crate::ChatOptions::default()
        };
        let search = crate::SearchRequest::new(options.k as u32, SearchMode::Hybrid, project);
        let hits = match self.search(question, &search).await {
            Ok(hits) => {
                trace.searched();
                hits
            }
            Err(error) => {
                trace.retrieved(question, project, options.k, Err(error.to_string()));
                self.keep_exchange(trace, &[], &chat, ExchangeEnd::of(None, Some(&error)));
                return Err(error);
            }
        };
        let (context_size, count) = self.token_counter(model).await;
        let max_tokens = self.config.llm.max_tokens;
        // Room for the system prompt, the question and the answer; the rest
        // goes to excerpts, best first.
        let system = system_prompt();
        let budget = context_size
            .saturating_sub(max_tokens as usize)
            .saturating_sub(count(&system) + count(question) + 64);
        let citations = fit(&hits, budget, |text| count(text));
        trace.retrieved(question, project, options.k, Ok(&citations));
        progress(AskEvent::Retrieved {
            citations: citations.clone(),
        });
        let messages = vec![
            ChatMessage::system(system),
            ChatMessage::user(user_prompt(question, &citations)),
        ];
        chat.trace_parent = Some(trace.answering());
        let on_token = |text: &str| {
            progress(AskEvent::Token {
                text: text.to_owned(),
            });
        };
        let answered = self
            .chat_to_end(messages.clone(), Vec::new(), &chat, &on_token, cancel)
            .await;
        let completion = match answered {
            Ok(completion) => completion,
            Err(error) => {
                self.keep_exchange(trace, &messages, &chat, ExchangeEnd::of(None, Some(&error)));
                return Err(error);
            }
        };
        let run_id =
            self.keep_exchange(trace, &messages, &chat, ExchangeEnd::Answered(&completion));
        Ok(Answer {
            text: completion.text.trim().to_owned(),
            citations,
            model: completion.model.clone(),
            completion,
            run_id,
        })
    }

    /// The context size and a token counter for the model that will likely
    /// answer: exact with the local model when it comes first, an estimate
    /// (three characters per token) for remote ones.
    pub(crate) async fn token_counter(
        &self,
        model: Option<&str>,
    ) -> (usize, Box<dyn Fn(&str) -> usize + Send + Sync>) {
        let first = self.router().ok().and_then(|router| {
            router
                .providers()
                .iter()
                .find(|provider| model.is_none_or(|name| provider.info().answers_to(name)))
                .map(|provider| provider.info().clone())
        });
        let local = match &first {
            Some(info) if info.kind == ProviderKind::Local => Some(info.model.clone()),
            Some(_) => None,
            None => model.map(str::to_owned),
        };
        if let Some(name) = local {
            if let Ok(loaded) = self.chat_model(Some(&name)).await {
                let context = loaded.context_size() as usize;
                return (context, Box::new(move |text| loaded.count_tokens(text)));
            }
        }
        let context = first
            .and_then(|info| info.context_size)
            .unwrap_or(self.config.llm.context_size) as usize;
        (context, Box::new(|text| text.len() / 3 + 1))
    }
}

fn label(hit: &Hit) -> String {
    match hit.page {
        Some(page) => format!("{}#{page}", hit.path),
        None => format!("{}:{}-{}", hit.path, hit.start_line, hit.end_line),
    }
}

fn excerpt_header(number: usize, hit: &Hit) -> String {
    format!("[{number}] {}", label(hit))
}

/// The best hits whose excerpts fit `budget` tokens, numbered from 1.
pub(crate) fn fit(hits: &[Hit], budget: usize, count: impl Fn(&str) -> usize) -> Vec<Citation> {
    let mut used = 0;
    let mut citations = Vec::new();
    for hit in hits {
        let number = citations.len() + 1;
        let cost =
            count(&excerpt_header(number, hit)) + count(&spotlight(&label(hit), &hit.text)) + 2;
        if used + cost > budget {
            continue;
        }
        used += cost;
        citations.push(Citation {
            number: number as u32,
            project: hit.project.clone(),
            path: hit.path.clone(),
            start_line: hit.start_line,
            end_line: hit.end_line,
            page: hit.page,
            score: hit.score,
            label: label(hit),
            text: hit.text.clone(),
        });
    }
    citations
}

pub(crate) fn user_prompt(question: &str, citations: &[Citation]) -> String {
    let mut prompt = String::from("Context excerpts:\n\n");
    // Excerpts are spotlighted: a document's "ignore previous instructions"
    // stays inside markers the model is told hold data only.
    prompt.extend(citations.iter().map(|citation| {
        format!(
            "[{}] {}\n{}\n\n",
            citation.number,
            citation.label,
            spotlight(&citation.label, &citation.text)
        )
    }));
    if citations.is_empty() {
        prompt.push_str("(no relevant excerpts were found)\n\n");
    }
    prompt.push_str("Question: ");
    prompt.push_str(question);
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(path: &str, text: &str) -> Hit {
        Hit {
            project: "p".into(),
            path: path.into(),
            start_line: 1,
            end_line: 2,
            heading: None,
            page: None,
            kind: "text".into(),
            language: None,
            commit: None,
            author_time: None,
            score: 0.5,
            text: text.into(),
        }
    }

    #[test]
    fn excerpts_that_do_not_fit_are_left_out_and_numbers_stay_dense() {
        let hits = vec![
            hit("a", "short"),
            hit("b", &"long ".repeat(100)),
            hit("c", "short"),
        ];
        let count = |text: &str| text.split_whitespace().count();
        let citations = fit(&hits, 20, count);
        let labels: Vec<_> = citations
            .iter()
            .map(|c| (c.number, c.path.as_str()))
            .collect();
        assert_eq!(labels, vec![(1, "a"), (2, "c")]);
        assert_eq!(citations[0].label, "a:1-2");
    }

    #[test]
    fn pdf_excerpts_are_cited_by_page() {
        let pdf = Hit {
            page: Some(3),
            ..hit("manual.pdf", "text")
        };
        assert_eq!(fit(&[pdf], 100, str::len)[0].label, "manual.pdf#3");
    }

    #[test]
    fn the_prompt_numbers_excerpts_and_ends_with_the_question() {
        let citations = fit(&[hit("a.md", "alpha")], 100, str::len);
        let prompt = user_prompt("what?", &citations);
        assert!(prompt.contains("[1] a.md:1-2\n«data:"), "{prompt}");
        assert!(
            prompt.contains(" a.md:1-2»\nalpha\n«/data:"),
            "spotlighted: {prompt}"
        );
        assert!(prompt.ends_with("Question: what?"));
    }
}
