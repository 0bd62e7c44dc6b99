//! OpenTelemetry export for CodexOS: stored runs become OTLP spans with the
//! `GenAI` semantic conventions ([`spans`]), sent to any number of endpoints
//! over HTTP/protobuf or gRPC ([`export`]); W3C trace context joins a run
//! to its caller's trace and passes it to remote providers
//! ([`TraceParent`]). What is sent when, and what is kept while an
//! endpoint is down, is the runtime's (`codexos_runtime::telemetry`).

pub mod export;
#[cfg(feature = "receiver")]
pub mod receiver;
pub mod spans;
mod traceparent;

pub use export::{Accepted, Endpoint, Error, Exporter, Protocol};
pub use opentelemetry_proto::tonic as proto;
pub use opentelemetry_proto::tonic::trace::v1::Span;
pub use spans::{run_spans, Content, RunInfo};
pub use traceparent::TraceParent;
