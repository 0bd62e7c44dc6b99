//! TLS for the team server (rustls): a certificate chain and its private
//! key, PEM files. Handshakes run beside the accept loop, so a slow or
//! silent client never holds up the others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
pub use tokio_rustls::TlsAcceptor;

use super::ApiError;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Handshakes finished and not yet served, at most.
const BACKLOG: usize = 128;

/// Handshakes under way, at most: a flood of silent connections waits at
/// the door instead of holding a file each.
const HANDSHAKING: usize = 256;

/// A certificate chain and its key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (the server's first).
    pub certificate: PathBuf,
    /// Its private key (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
}

fn unreadable(path: &Path, what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!(
        "cannot read the TLS {what} `{}`: {error}",
        path.display()
    ))
}

/// The acceptor for `files`; the error says which file is wrong and how.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, ApiError> {
    let chain = CertificateDer::pem_file_iter(&files.certificate)
        .map_err(|error| unreadable(&files.certificate, "certificate", error))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(&files.certificate, "certificate", error))?;
    if chain.is_empty() {
        return Err(ApiError::invalid(format!(
            "`{}` holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
            files.certificate.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|error| unreadable(&files.key, "private key", error))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ApiError::internal(format!("TLS set-up failed: {error}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| {
            ApiError::invalid(format!(
                "the TLS key `{}` does not fit the certificate `{}`: {error}",
                files.key.display(),
                files.certificate.display()
            ))
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A listener whose connections are TLS streams.
pub(crate) struct TlsListener {
    local: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accepts on `listener`, handshaking each connection on its own task.
    pub(crate) fn new(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, ready) = tokio::sync::mpsc::channel(BACKLOG);
        let slots = Arc::new(tokio::sync::Semaphore::new(HANDSHAKING));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    // The server stopped: let go of the port now.
                    () = sender.closed() => break,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                stream.set_nodelay(true).ok();
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            sender.send((stream, peer)).await.ok();
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop never ends while this listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
