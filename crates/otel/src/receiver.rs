//! A real OTLP trace receiver on 127.0.0.1, for tests and benchmarks: it
//! decodes what arrives with the OpenTelemetry protobuf definitions, over
//! HTTP/protobuf (`POST /v1/traces`) or gRPC (`TraceService/Export`), and
//! keeps every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The decoded request.
    pub request: ExportTraceServiceRequest,
    /// Its headers (gRPC metadata for gRPC), names in lower case.
    pub headers: Vec<(String, String)>,
}

/// A predicate on requests: those it holds for are refused for good.
type Refusal = Arc<dyn Fn(&ExportTraceServiceRequest) -> bool + Send + Sync>;

/// What the receiver keeps, and how it answers.
#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    /// Waited before each answer (a slow collector).
    delay: Mutex<Duration>,
    /// Requests refused for good (HTTP 400, gRPC `InvalidArgument`).
    refuse: Mutex<Option<Refusal>>,
    refused: Mutex<u32>,
    /// Requests that reached it (answered or not yet).
    arrived: Mutex<u32>,
}

type Log = Arc<Shared>;

impl Shared {
    /// Waits the delay, then keeps the request or refuses it (`false`).
    async fn take(
        &self,
        request: ExportTraceServiceRequest,
        headers: Vec<(String, String)>,
    ) -> bool {
        *self.arrived.lock().expect("receiver arrivals") += 1;
        let delay = *self.delay.lock().expect("receiver delay");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let refuse = self.refuse.lock().expect("receiver refusal").clone();
        if refuse.is_some_and(|refuse| refuse(&request)) {
            *self.refused.lock().expect("receiver refusals") += 1;
            return false;
        }
        self.log
            .lock()
            .expect("receiver log")
            .push(Received { request, headers });
        true
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    address: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn headers_of(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn http_export(
    State(log): State<Log>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        != Some("application/x-protobuf")
    {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            b"expected application/x-protobuf".to_vec(),
        );
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            if !log.take(request, headers_of(&headers)).await {
                return (StatusCode::BAD_REQUEST, b"refused by the test".to_vec());
            }
            (
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(error) => (
            StatusCode::BAD_REQUEST,
            format!("not an ExportTraceServiceRequest: {error}").into_bytes(),
        ),
    }
}

struct Grpc {
    log: Log,
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request
            .metadata()
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => Some((
                    key.as_str().to_owned(),
                    value.to_str().unwrap_or_default().to_owned(),
                )),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        if !self.log.take(request.into_inner(), headers).await {
            return Err(tonic::Status::invalid_argument("refused by the test"));
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Receiver {
    /// An OTLP/HTTP receiver on `address` (`127.0.0.1:0` for any free port).
    pub async fn http(address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let log = Log::default();
        let app = axum::Router::new()
            .route("/v1/traces", post(http_export))
            .with_state(log.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, log, task })
    }

    /// An OTLP/gRPC receiver on `address`.
    pub async fn grpc(address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let log = Log::default();
        let service = TraceServiceServer::new(Grpc { log: log.clone() });
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        Ok(Self { address, log, task })
    }

    /// Where it listens.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far (refused ones not included).
    #[must_use]
    pub fn requests(&self) -> Vec<Received> {
        self.log.log.lock().expect("receiver log").clone()
    }

    /// Waits `delay` before answering each request from now on.
    pub fn set_delay(&self, delay: Duration) {
        *self.log.delay.lock().expect("receiver delay") = delay;
    }

    /// Refuses for good, from now on, each request `refuse` holds for.
    pub fn refuse_when(
        &self,
        refuse: impl Fn(&ExportTraceServiceRequest) -> bool + Send + Sync + 'static,
    ) {
        *self.log.refuse.lock().expect("receiver refusal") = Some(Arc::new(refuse));
    }

    /// How many requests reached it so far, answered or still waiting out
    /// the delay.
    #[must_use]
    pub fn arrived(&self) -> u32 {
        *self.log.arrived.lock().expect("receiver arrivals")
    }

    /// How many requests were refused.
    #[must_use]
    pub fn refused(&self) -> u32 {
        *self.log.refused.lock().expect("receiver refusals")
    }

    /// Every span so far, in arrival order.
    #[must_use]
    pub fn spans(&self) -> Vec<Span> {
        self.spans_after(0)
    }

    /// The spans after the first `skip`, in arrival order (only those are
    /// copied: a long-running receiver polls with what it has shown).
    #[must_use]
    pub fn spans_after(&self, skip: usize) -> Vec<Span> {
        let log = self.log.log.lock().expect("receiver log");
        log.iter()
            .flat_map(|received| &received.request.resource_spans)
            .flat_map(|resource| &resource.scope_spans)
            .flat_map(|scope| &scope.spans)
            .skip(skip)
            .cloned()
            .collect()
    }
}
