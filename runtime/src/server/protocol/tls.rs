//! TLS on both listeners (`--tls-cert`, `--tls-key`, and `--tls-client-ca` for mutual TLS),
//! with rustls and its `ring` provider: the certificates are read once at start, and a
//! handshake that does not finish within the header timeout is dropped.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A certificate setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert and --tls-key go together: {0} is missing")]
    Half(&'static str),
    #[error("--tls-client-ca needs --tls-cert and --tls-key")]
    ClientCaAlone,
    #[error("{flag} {path}: {message}")]
    File { flag: &'static str, path: PathBuf, message: String },
    #[error("the TLS settings are refused: {0}")]
    Config(String),
}

/// The certificate files of the server's configuration.
pub struct TlsFiles<'a> {
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub client_ca: Option<&'a Path>,
}

/// The acceptors for the HTTP/1.1 listener and the gRPC (HTTP/2) one, which differ only in
/// the protocol they announce (ALPN); `None` when no certificate is set.
pub struct Acceptors {
    pub http: TlsAcceptor,
    pub grpc: TlsAcceptor,
    /// Whether clients must present a certificate signed by `--tls-client-ca`.
    pub mutual: bool,
}

impl TlsFiles<'_> {
    pub fn acceptors(&self) -> Result<Option<Acceptors>, TlsError> {
        let (cert, key) = match (self.cert, self.key) {
            (None, None) if self.client_ca.is_some() => return Err(TlsError::ClientCaAlone),
            (None, None) => return Ok(None),
            (Some(_), None) => return Err(TlsError::Half("--tls-key")),
            (None, Some(_)) => return Err(TlsError::Half("--tls-cert")),
            (Some(cert), Some(key)) => (cert, key),
        };
        let chain = certificates("--tls-cert", cert)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_error("--tls-key", key, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match self.client_ca {
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for ca in certificates("--tls-client-ca", path)? {
                    roots.add(ca).map_err(|e| file_error("--tls-client-ca", path, e))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| TlsError::Config(e.to_string()))?;
        let with_alpn = |protocol: &[u8]| {
            let mut config = config.clone();
            config.alpn_protocols = vec![protocol.to_vec()];
            TlsAcceptor::from(Arc::new(config))
        };
        Ok(Some(Acceptors { http: with_alpn(b"http/1.1"), grpc: with_alpn(b"h2"), mutual: self.client_ca.is_some() }))
    }
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(flag, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(flag, path, e))?;
    if chain.is_empty() {
        return Err(TlsError::File {
            flag,
            path: path.to_path_buf(),
            message: "no PEM certificate in the file".into(),
        });
    }
    Ok(chain)
}

fn file_error(flag: &'static str, path: &Path, error: impl std::fmt::Display) -> TlsError {
    TlsError::File { flag, path: path.to_path_buf(), message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_or_unreadable_settings_are_named() {
        let none = TlsFiles { cert: None, key: None, client_ca: None };
        assert!(none.acceptors().expect("no TLS").is_none());
        let ca_alone = TlsFiles { cert: None, key: None, client_ca: Some(Path::new("ca.pem")) };
        assert!(matches!(ca_alone.acceptors(), Err(TlsError::ClientCaAlone)));
        let half = TlsFiles { cert: Some(Path::new("c.pem")), key: None, client_ca: None };
        assert_eq!(
            half.acceptors().err().map(|e| e.to_string()).as_deref(),
            Some("--tls-cert and --tls-key go together: --tls-key is missing")
        );
        let missing = TlsFiles {
            cert: Some(Path::new("/nonexistent/c.pem")),
            key: Some(Path::new("/nonexistent/k.pem")),
            client_ca: None,
        };
        let message = missing.acceptors().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.starts_with("--tls-cert /nonexistent/c.pem: "), "{message}");
    }
}
