//! The switch's TLS identity and trust: the three PEM files read and checked (each error
//! names its file), the rustls server and client configurations built from them, and the
//! controller-certificate verifier that checks the chain against the CA without checking names.

use datapath::config::SslFiles;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest PEM file read.
const PEM_MAX_BYTES: u64 = 1 << 20;

/// One of the three files, named as the configuration file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslFile {
    /// The private key.
    PrivateKey,
    /// The certificate chain.
    Certificate,
    /// The CA certificate.
    CaCert,
}

impl SslFile {
    /// The `[switch]` key of the config file.
    pub fn key(self) -> &'static str {
        match self {
            SslFile::PrivateKey => "ssl_private_key",
            SslFile::Certificate => "ssl_certificate",
            SslFile::CaCert => "ssl_ca_cert",
        }
    }

    /// The column of the database's `SSL` table.
    pub fn column(self) -> &'static str {
        match self {
            SslFile::PrivateKey => "private_key",
            SslFile::Certificate => "certificate",
            SslFile::CaCert => "ca_cert",
        }
    }

    pub(super) fn path(self, files: &SslFiles) -> &Path {
        match self {
            SslFile::PrivateKey => &files.private_key,
            SslFile::Certificate => &files.certificate,
            SslFile::CaCert => &files.ca_cert,
        }
    }
}

/// Why the TLS files cannot be used: which file, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslError {
    /// The file at fault.
    pub file: SslFile,
    /// Its path.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for SslError {}

/// The switch's identity and trust root, read and parsed.
struct Identity {
    key: PrivateKeyDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    roots: Arc<RootCertStore>,
}

/// The *ring* provider, explicitly (not the process default, so another crate's choice of
/// rustls features cannot change it). rustls 0.23.48 deprecated this function because *ring*
/// has no post-quantum key exchange; its alternative, aws-lc-rs, needs cmake and a longer
/// build, and OVS peers (OpenSSL 3.0) offer none either, so *ring* it is, on purpose.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn error(file: SslFile, files: &SslFiles, message: impl Into<String>) -> SslError {
    SslError {
        file,
        path: file.path(files).to_path_buf(),
        message: message.into(),
    }
}

/// The PEM text of `file`.
fn read_pem(file: SslFile, files: &SslFiles) -> Result<String, SslError> {
    crate::conffile::read_bounded(file.path(files), PEM_MAX_BYTES)
        .map_err(|e| error(file, files, format!("cannot read: {e}")))
}

/// Every certificate of `file`; at least one.
fn certificates(file: SslFile, files: &SslFiles) -> Result<Vec<CertificateDer<'static>>, SslError> {
    let pem = read_pem(file, files)?;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(file, files, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(error(
            file,
            files,
            "no certificate in it (expected PEM \"BEGIN CERTIFICATE\" blocks)",
        ));
    }
    Ok(certs)
}

fn load(files: &SslFiles, provider: &CryptoProvider) -> Result<Identity, SslError> {
    use SslFile::*;
    let pem = read_pem(PrivateKey, files)?;
    let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no private key in it (expected a PEM PKCS#8, RSA or EC private key)".to_string()
            }
            e => format!("bad PEM: {e}"),
        };
        error(PrivateKey, files, why)
    })?;
    provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|e| error(PrivateKey, files, format!("unusable private key: {e}")))?;
    let chain = certificates(Certificate, files)?;
    ParsedCertificate::try_from(&chain[0])
        .map_err(|e| error(Certificate, files, format!("bad certificate: {e}")))?;
    let mut roots = RootCertStore::empty();
    for (i, c) in certificates(CaCert, files)?.into_iter().enumerate() {
        roots.add(c).map_err(|e| {
            error(
                CaCert,
                files,
                format!("certificate {} is not a usable CA certificate: {e}", i + 1),
            )
        })?;
    }
    Ok(Identity {
        key,
        chain,
        roots: Arc::new(roots),
    })
}

/// What a config error about a key that does not match the certificate says.
fn mismatch(e: rustls::Error, files: &SslFiles) -> SslError {
    match e {
        rustls::Error::InconsistentKeys(_) => error(
            SslFile::Certificate,
            files,
            format!(
                "its public key does not match the private key {}",
                files.private_key.display()
            ),
        ),
        e => error(SslFile::Certificate, files, e.to_string()),
    }
}

/// The configuration of a `pssl:` listener: the switch's identity, and client certificates
/// required and verified against the CA.
pub fn server_config(files: &SslFiles) -> Result<Arc<ServerConfig>, SslError> {
    let p = provider();
    let id = load(files, &p)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(id.roots.clone(), p.clone())
        .build()
        .map_err(|e| error(SslFile::CaCert, files, e.to_string()))?;
    let cfg = ServerConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(SslFile::PrivateKey, files, e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain, id.key)
        .map_err(|e| mismatch(e, files))?;
    Ok(Arc::new(cfg))
}

/// The configuration of an `ssl:` controller connection: the switch's identity as its client
/// certificate, and the controller's certificate verified against the CA (names unchecked,
/// see the module docs).
pub fn client_config(files: &SslFiles) -> Result<Arc<ClientConfig>, SslError> {
    let p = provider();
    let id = load(files, &p)?;
    let verifier = Arc::new(CaVerifier {
        roots: id.roots,
        algorithms: p.signature_verification_algorithms,
    });
    let cfg = ClientConfig::builder_with_provider(p)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(SslFile::PrivateKey, files, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(id.chain, id.key)
        .map_err(|e| mismatch(e, files))?;
    Ok(Arc::new(cfg))
}

/// Check that `files` make a usable identity and trust root (for front ends: every check the
/// server makes when it starts a TLS listener or connection).
pub fn check(files: &SslFiles) -> Result<(), SslError> {
    server_config(files)?;
    client_config(files)?;
    Ok(())
}

/// Verifies a controller's certificate chain against the CA, without checking its names.
#[derive(Debug)]
struct CaVerifier {
    roots: Arc<RootCertStore>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for CaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
