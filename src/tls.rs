//! TLS for the `stomp_tls` and `websocket_tls` listeners: the rustls server
//! configuration built from `[tls]` (ring provider, TLS 1.2 and 1.3 only,
//! optional client certificates), and the login a client certificate names.
//! Built at start and again on SIGHUP; a handshake uses the configuration
//! current when it begins, so reloading never touches open connections.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use thiserror::Error;

use crate::settings::Tls;

/// Why the TLS configuration could not be built; names the file.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("tls: cannot read {what} '{path}': {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("tls: '{0}' holds no certificate")]
    NoCertificate(String),
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: client CA: {0}")]
    ClientCa(String),
}

fn file_error(
    what: &'static str,
    path: &Path,
) -> impl FnOnce(rustls_pki_types::pem::Error) -> TlsError {
    let path = path.display().to_string();
    move |e| TlsError::File {
        what,
        path,
        reason: e.to_string(),
    }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(file_error("certificate file", path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_error("certificate file", path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.display().to_string()));
    }
    Ok(certs)
}

/// The server configuration `[tls]` describes.
// rustls 0.23.48 deprecates ring's provider (no post-quantum key exchange);
// it is still the one that builds without a C toolchain for aws-lc.
#[allow(deprecated)]
pub fn server_config(tls: &Tls) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&tls.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(file_error("key file", &tls.key_file))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = if tls.client_ca_file.as_os_str().is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in certificates(&tls.client_ca_file)? {
            roots
                .add(ca)
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if tls.require_client_cert {
            verifier
        } else {
            verifier.allow_unauthenticated()
        };
        builder.with_client_cert_verifier(
            verifier
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?,
        )
    };
    let mut config = builder.with_single_cert(chain, key)?;
    // STOMP and HTTP/1.1 (the WebSocket upgrade) both work without ALPN;
    // offering none keeps a client asking for h2 from being refused.
    config.alpn_protocols.clear();
    Ok(Arc::new(config))
}

/// The common name of a verified client certificate: the client's login.
pub fn certificate_login(conn: &rustls::ServerConnection) -> Option<String> {
    let cert = conn.peer_certificates()?.first()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}
