//! Sending spans to an OTLP endpoint: HTTP/protobuf (`POST …/v1/traces`)
//! or gRPC (`TraceService/Export`), both through the offline gate.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tonic::transport::{Channel, ClientTlsConfig};

/// The semantic conventions the spans follow.
pub const SCHEMA_URL: &str = "https://opentelemetry.io/schemas/1.41.0";

/// How spans travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
pub enum Protocol {
    /// OTLP/HTTP with protobuf bodies (port 4318 by convention).
    #[default]
    #[serde(rename = "http/protobuf", alias = "http")]
    Http,
    /// OTLP/gRPC (port 4317 by convention).
    #[serde(rename = "grpc")]
    Grpc,
}

impl Protocol {
    /// The name config files and the CLI use.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http/protobuf",
            Self::Grpc => "grpc",
        }
    }
}

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Name (config and status).
    pub name: String,
    /// URL: for HTTP the base (`http://host:4318`, `/v1/traces` is added
    /// unless the path already ends with it) or the full traces URL; for
    /// gRPC `http://host:4317` or `https://…`.
    pub url: String,
    /// HTTP/protobuf or gRPC.
    pub protocol: Protocol,
    /// Extra request headers (gRPC metadata), e.g. `Authorization`.
    pub headers: Vec<(String, String)>,
    /// Longest wait for one export.
    pub timeout: Duration,
}

/// An export that did not go through. Nothing is lost: the caller keeps the
/// spans and sends them again later.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL or a header cannot be used.
    #[error("OTLP endpoint `{name}`: {problem}")]
    Config {
        /// Endpoint name.
        name: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// Offline mode is on.
    #[error(transparent)]
    Offline(#[from] codexos_net::Refused),
    /// No connection, or no answer in time.
    #[error("OTLP endpoint `{name}` ({url}) could not be reached: {reason}")]
    Unreachable {
        /// Endpoint name.
        name: String,
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The endpoint answered with an error.
    #[error("OTLP endpoint `{name}` ({url}) refused the spans: {status}{detail}")]
    Refused {
        /// Endpoint name.
        name: String,
        /// Its URL.
        url: String,
        /// HTTP status or gRPC code.
        status: String,
        /// What it said, prefixed with `: ` when it said anything.
        detail: String,
        /// Whether sending the same request again can never succeed (a
        /// malformed or too large request), as opposed to a refusal the
        /// user fixes (a wrong key, a wrong path) or one that passes.
        permanent: bool,
    },
}

impl Error {
    /// Whether the endpoint will never accept this request as it is.
    #[must_use]
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Refused {
                permanent: true,
                ..
            }
        )
    }
}

/// What an endpoint accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Spans sent.
    pub spans: usize,
    /// Of those, spans the endpoint said it rejected (a partial success).
    pub rejected: u64,
}

/// One endpoint's sender.
pub struct Exporter {
    endpoint: Endpoint,
    transport: Transport,
}

enum Transport {
    Http {
        client: reqwest::Client,
        url: String,
    },
    Grpc {
        client: TraceServiceClient<Channel>,
        metadata: Vec<(
            tonic::metadata::MetadataKey<tonic::metadata::Ascii>,
            tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        )>,
    },
}

/// The spans as one export request, under CodexOS's resource and scope.
#[must_use]
pub fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    let attribute =
        |key: &str, value: &str| crate::spans::pair(key, Value::StringValue(value.to_owned()));
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attribute("service.name", "codexos"),
                    attribute("service.version", env!("CARGO_PKG_VERSION")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "codexos".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: SCHEMA_URL.to_owned(),
            }],
            schema_url: SCHEMA_URL.to_owned(),
        }],
    }
}

impl Exporter {
    /// A sender for `endpoint` (no connection is opened yet).
    pub fn new(endpoint: Endpoint) -> Result<Self, Error> {
        let config = |problem: String| Error::Config {
            name: endpoint.name.clone(),
            problem,
        };
        let parsed = reqwest::Url::parse(&endpoint.url).map_err(|error| {
            config(format!(
                "`{}` is not a URL ({error}); write it like http://127.0.0.1:4318",
                endpoint.url
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config(format!(
                "`{}` must start with http:// or https://",
                endpoint.url
            )));
        }
        let transport = match endpoint.protocol {
            Protocol::Http => {
                let mut headers = reqwest::header::HeaderMap::new();
                for (name, value) in &endpoint.headers {
                    let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| config(format!("`{name}` is not a valid header name")))?;
                    let mut value =
                        reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                            config(format!(
                                "the value of header `{name}` is not valid in a header"
                            ))
                        })?;
                    value.set_sensitive(true);
                    headers.insert(name, value);
                }
                let client = codexos_net::client()
                    .default_headers(headers)
                    .timeout(endpoint.timeout)
                    .connect_timeout(endpoint.timeout.min(Duration::from_secs(10)))
                    .build()
                    .map_err(|error| config(format!("no HTTP client: {error}")))?;
                let url = if parsed.path().trim_end_matches('/').ends_with("/v1/traces") {
                    endpoint.url.clone()
                } else {
                    format!("{}/v1/traces", endpoint.url.trim_end_matches('/'))
                };
                Transport::Http { client, url }
            }
            Protocol::Grpc => {
                let mut channel = Channel::from_shared(endpoint.url.clone())
                    .map_err(|error| {
                        config(format!("`{}` is not a gRPC URL: {error}", endpoint.url))
                    })?
                    .connect_timeout(endpoint.timeout.min(Duration::from_secs(10)))
                    .timeout(endpoint.timeout);
                if parsed.scheme() == "https" {
                    channel = channel
                        .tls_config(ClientTlsConfig::new().with_webpki_roots())
                        .map_err(|error| config(format!("TLS: {error}")))?;
                }
                let mut metadata = Vec::new();
                for (name, value) in &endpoint.headers {
                    let key = tonic::metadata::MetadataKey::from_bytes(
                        name.to_ascii_lowercase().as_bytes(),
                    )
                    .map_err(|_| config(format!("`{name}` is not a valid gRPC metadata name")))?;
                    let mut value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
                        value.parse().map_err(|_| {
                            config(format!("the value of `{name}` is not valid gRPC metadata"))
                        })?;
                    value.set_sensitive(true);
                    metadata.push((key, value));
                }
                Transport::Grpc {
                    client: TraceServiceClient::new(channel.connect_lazy()),
                    metadata,
                }
            }
        };
        Ok(Self {
            endpoint,
            transport,
        })
    }

    /// The endpoint this sends to.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends `spans` in one request; `Ok` once the endpoint accepted them.
    pub async fn export(&self, spans: Vec<Span>) -> Result<Accepted, Error> {
        let count = spans.len();
        let request = request(spans);
        let response = match &self.transport {
            Transport::Http { client, url } => self.over_http(client, url, &request).await?,
            Transport::Grpc { client, metadata } => {
                self.over_grpc(client.clone(), metadata, request).await?
            }
        };
        Ok(Accepted {
            spans: count,
            rejected: response.partial_success.map_or(0, |partial| {
                u64::try_from(partial.rejected_spans).unwrap_or(0)
            }),
        })
    }

    async fn over_http(
        &self,
        client: &reqwest::Client,
        url: &str,
        request: &ExportTraceServiceRequest,
    ) -> Result<ExportTraceServiceResponse, Error> {
        let body = request.encode_to_vec();
        let sent = codexos_net::send(
            client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
                .body(body),
        )
        .await;
        let response = sent.map_err(|error| {
            if codexos_net::is_refused(&error) {
                return Error::Offline(codexos_net::Refused {
                    what: format!("OTLP export to `{}`", self.endpoint.name),
                });
            }
            self.unreachable(codexos_net::explain(&error))
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.unreachable(codexos_net::explain(&error)))?;
        if !status.is_success() {
            let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                .trim()
                .to_owned();
            // 400, 413, 415, 422: this request will never pass (OTLP/HTTP
            // says not to retry them); 401, 403, 404, 429, 5xx: it may.
            let permanent = matches!(status.as_u16(), 400 | 413 | 415 | 422);
            return Err(self.refused(status.to_string(), &detail, permanent));
        }
        // An empty or non-protobuf body is a full success.
        Ok(ExportTraceServiceResponse::decode(bytes.as_ref()).unwrap_or_default())
    }

    async fn over_grpc(
        &self,
        mut client: TraceServiceClient<Channel>,
        metadata: &[(
            tonic::metadata::MetadataKey<tonic::metadata::Ascii>,
            tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
        )],
        request: ExportTraceServiceRequest,
    ) -> Result<ExportTraceServiceResponse, Error> {
        codexos_net::check(&format!("OTLP export to `{}`", self.endpoint.name))?;
        let mut request = tonic::Request::new(request);
        for (key, value) in metadata {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        match client.export(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable
                        | tonic::Code::DeadlineExceeded
                        | tonic::Code::Cancelled
                ) =>
            {
                let source = std::error::Error::source(&status).map(ToString::to_string);
                Err(self.unreachable(source.unwrap_or_else(|| status.message().to_owned())))
            }
            Err(status) => {
                let permanent = matches!(
                    status.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::OutOfRange
                        | tonic::Code::ResourceExhausted
                );
                Err(self.refused(format!("{:?}", status.code()), status.message(), permanent))
            }
        }
    }

    fn unreachable(&self, reason: String) -> Error {
        Error::Unreachable {
            name: self.endpoint.name.clone(),
            url: self.endpoint.url.clone(),
            reason,
        }
    }

    fn refused(&self, status: String, detail: &str, permanent: bool) -> Error {
        Error::Refused {
            name: self.endpoint.name.clone(),
            url: self.endpoint.url.clone(),
            status,
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            },
            permanent,
        }
    }
}
