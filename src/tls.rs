//! TLS material: the configured PEM certificate and key, or a self-signed certificate generated once
//! into the data directory (ECDSA P-256, names: this host, localhost, 127.0.0.1, ::1). TLS 1.2 and
//! 1.3 only, via rustls with the ring provider.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

/// TLS set-up failures; each names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM data holds no certificate or no key.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        what: String,
    },
    /// rustls refused the certificate/key pair.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
}

/// A ready server configuration and facts to log about it.
#[derive(Debug)]
pub struct TlsSetup {
    /// For the listener.
    pub config: rustls::ServerConfig,
    /// SHA-256 fingerprint of the leaf certificate, `AA:BB:…`.
    pub fingerprint: String,
    /// Where the certificate came from.
    pub cert_path: PathBuf,
    /// Whether it was generated just now.
    pub generated: bool,
    /// The swappable certificate (SIGHUP reload).
    pub resolver: Arc<Reloadable>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Paths of the generated certificate and key inside `data_dir`.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The certificate in use, swappable while connections are open: SIGHUP loads the files again and
/// new handshakes get the new certificate; established connections keep theirs.
#[derive(Debug)]
pub struct Reloadable {
    cert: PathBuf,
    key: PathBuf,
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
}

impl Reloadable {
    fn load(
        cert: &Path,
        key: &Path,
    ) -> Result<(Arc<rustls::sign::CertifiedKey>, String), TlsError> {
        let certs = load_certs(cert)?;
        let fingerprint = fingerprint(&certs[0]);
        let signing = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(load_key(key)?)?;
        let certified = rustls::sign::CertifiedKey::new(certs, signing);
        certified.keys_match().map_err(|e| TlsError::Pem {
            path: key.to_owned(),
            what: format!(
                "the key does not belong to the certificate in {}: {e}",
                cert.display()
            ),
        })?;
        Ok((Arc::new(certified), fingerprint))
    }

    /// Load the files again; on error the old certificate stays in use. Returns the new fingerprint.
    pub fn reload(&self) -> Result<String, TlsError> {
        let (certified, fingerprint) = Self::load(&self.cert, &self.key)?;
        if let Ok(mut cur) = self.current.write() {
            *cur = certified;
        }
        Ok(fingerprint)
    }
}

impl rustls::server::ResolvesServerCert for Reloadable {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// Check that a configured certificate and key load and belong together; returns the fingerprint.
pub fn check_pair(cert: &Path, key: &Path) -> Result<String, TlsError> {
    Reloadable::load(cert, key).map(|(_, fp)| fp)
}

/// Load `configured` (cert, key), or the self-signed pair in `data_dir`, generating it if absent.
/// With `client_ca`, clients may present a certificate signed by one of those CAs (checked by the
/// SCIM endpoint when it requires one).
pub fn setup(
    configured: Option<(&Path, &Path)>,
    data_dir: &Path,
    client_ca: Option<&Path>,
) -> Result<TlsSetup, TlsError> {
    let (cert, key, generated) = match configured {
        Some((c, k)) => (c.to_owned(), k.to_owned(), false),
        None => {
            let (c, k) = self_signed_paths(data_dir);
            let generated = if c.exists() && k.exists() {
                false
            } else {
                generate(&c, &k)?;
                true
            };
            (c, k, generated)
        }
    };
    let (certified, fingerprint) = Reloadable::load(&cert, &key)?;
    let resolver = Arc::new(Reloadable {
        cert: cert.clone(),
        key,
        current: std::sync::RwLock::new(certified),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in load_certs(ca)? {
                roots.add(c).map_err(|e| TlsError::Pem {
                    path: ca.to_owned(),
                    what: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Pem {
                path: ca.to_owned(),
                what: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsSetup {
        config,
        fingerprint,
        cert_path: cert,
        generated,
        resolver,
    })
}

/// Load a PEM certificate chain (leaf first).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(path))?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(io_err(path))?
        .ok_or_else(|| TlsError::Pem {
            path: path.to_owned(),
            what: "no PEM private key found".into(),
        })
}

/// SHA-256 fingerprint, colon-separated upper-case hex (as browsers show it).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn generate(cert: &Path, key: &Path) -> Result<(), TlsError> {
    let names = vec![
        crate::config::hostname(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ck =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Generate(e.to_string()))?;
    if let Some(dir) = cert.parent() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    write_private(key, ck.key_pair.serialize_pem().as_bytes())?;
    std::fs::write(cert, ck.cert.pem()).map_err(io_err(cert))?;
    Ok(())
}

/// Write a file readable by its owner only.
fn write_private(path: &Path, data: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(data).map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = setup(None, dir.path(), None).unwrap();
        assert!(first.generated);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = setup(None, dir.path(), None).unwrap();
        assert!(!again.generated);
        assert_eq!(first.fingerprint, again.fingerprint);
        use std::os::unix::fs::PermissionsExt;
        let (_, key) = self_signed_paths(dir.path());
        assert_eq!(
            std::fs::metadata(key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn missing_or_empty_pem_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = setup(Some((&empty, &empty)), dir.path(), None).unwrap_err();
        assert!(e.to_string().contains("empty.pem"), "{e}");
        let gone = dir.path().join("gone.pem");
        let e = setup(Some((&gone, &gone)), dir.path(), None).unwrap_err();
        assert!(e.to_string().contains("gone.pem"), "{e}");
    }
}
