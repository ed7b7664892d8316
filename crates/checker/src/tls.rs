//! TLS client settings for https checks, built once per distinct setting.
//!
//! keepalived's SSL_GET does not verify certificates; `verify: false` keeps that
//! (the handshake still has to succeed and be correctly signed), `verify: true`
//! checks the chain and name against a CA file or the system's roots.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use md5::Digest as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Why TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("CA file {path}: {message}")]
    CaFile { path: PathBuf, message: String },
    #[error("no usable CA certificates in the system store")]
    NoSystemRoots,
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Verification settings plus the client config they produce; equal when the
/// settings are.
#[derive(Clone)]
pub struct TlsSettings {
    verify: bool,
    ca_file: Option<PathBuf>,
    /// MD5 of the CA file's contents: a rotated CA file is a different setting,
    /// so a reload picks it up.
    ca_digest: Option<[u8; 16]>,
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("verify", &self.verify)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl PartialEq for TlsSettings {
    fn eq(&self, other: &Self) -> bool {
        self.verify == other.verify
            && self.ca_file == other.ca_file
            && self.ca_digest == other.ca_digest
    }
}

impl Eq for TlsSettings {}

impl Hash for TlsSettings {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.verify.hash(state);
        self.ca_file.hash(state);
        self.ca_digest.hash(state);
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsSettings {
    /// keepalived's default: any certificate.
    pub fn insecure() -> Result<Self, TlsConfigError> {
        let provider = provider();
        let verifier = Arc::new(AcceptAnyCertificate(provider.clone()));
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(TlsSettings { verify: false, ca_file: None, ca_digest: None, config: Arc::new(config) })
    }

    /// Verify the chain and the server name, against `ca_file` when given, else
    /// the system's roots.
    pub fn verified(ca_file: Option<&Path>) -> Result<Self, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        let mut ca_digest = None;
        match ca_file {
            Some(path) => {
                let ca_err =
                    |message: String| TlsConfigError::CaFile { path: path.to_path_buf(), message };
                let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
                ca_digest = Some(md5::Md5::digest(&pem).into());
                let certs = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| ca_err(e.to_string()))?;
                if certs.is_empty() {
                    return Err(ca_err("no PEM certificates in it".into()));
                }
                for cert in certs {
                    roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = roots.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(TlsConfigError::NoSystemRoots);
                }
            }
        }
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsSettings {
            verify: true,
            ca_file: ca_file.map(Path::to_path_buf),
            ca_digest,
            config: Arc::new(config),
        })
    }

    pub fn verify(&self) -> bool {
        self.verify
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    pub(crate) fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// `name` as a TLS server name (a DNS name, sent as SNI, or an IP address,
    /// which RFC 6066 keeps out of SNI); configs and the CLI call it to refuse
    /// bad names early.
    pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
        ServerName::try_from(name.to_string())
            .map_err(|e| format!("bad TLS server name {name:?}: {e}"))
    }
}

/// Accepts any certificate but still checks that the handshake is signed by it.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
