//! The voice endpoint's TLS certificate, and the trust bundle that makes clients accept it.
//!
//! songbird always connects to `wss://{endpoint}` and trusts what rustls-native-certs
//! loads. That crate reads `SSL_CERT_FILE` on every call, and it *replaces* the system
//! roots, so the bundle holds the system's CA certificates plus ours. tokio-websockets
//! (songbird's `tws` transport) builds a new connector, and so reloads the roots, for
//! every connection: the variable must be set before each voice connect, not before the
//! first TLS use of the process.
//!
//! One certificate per process ([`OnceLock`]): every local server in the process
//! presents it, so the variable is set once however many servers tests start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use tokio_rustls::rustls;

/// The system bundle included in trust bundles when present (Debian's path).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The name of every bundle [`write_trust_bundle`] writes.
const BUNDLE_FILE: &str = "voice-trust.pem";

pub(crate) struct LocalCertificate {
    pub pem: String,
    pub tls: Arc<rustls::ServerConfig>,
}

static CERTIFICATE: OnceLock<Result<LocalCertificate, String>> = OnceLock::new();
static BUNDLE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
static ENV_SET: Once = Once::new();

/// The process's certificate for `localhost` (and 127.0.0.1), made on first use.
pub(crate) fn certificate() -> io::Result<&'static LocalCertificate> {
    CERTIFICATE
        .get_or_init(|| generate().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| io::Error::other(format!("local voice certificate: {e}")))
}

fn generate() -> Result<LocalCertificate, Box<dyn std::error::Error>> {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    let cert_der = key.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    // An explicit provider: the process may link more than one rustls backend.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)?;
    Ok(LocalCertificate {
        pem: key.cert.pem(),
        tls: Arc::new(tls),
    })
}

/// The local certificate as PEM, for clients that take extra roots directly.
pub fn certificate_pem() -> io::Result<String> {
    Ok(certificate()?.pem.clone())
}

/// Writes `dir/voice-trust.pem`: the roots the process would trust otherwise
/// (`SSL_CERT_FILE` if set, else the system bundle if present) plus the local
/// certificate. Pass its path as `SSL_CERT_FILE` to a child process that connects to
/// this process's voice endpoint.
pub fn write_trust_bundle(dir: &Path) -> io::Result<PathBuf> {
    let mut bundle = String::new();
    let inherited = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| SYSTEM_BUNDLE.into());
    // A bundle we wrote ourselves is never folded in again.
    if !is_written_bundle(&inherited)
        && let Ok(existing) = std::fs::read_to_string(&inherited)
    {
        bundle.push_str(&existing);
        if !bundle.ends_with('\n') {
            bundle.push('\n');
        }
    }
    bundle.push_str(&certificate()?.pem);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(BUNDLE_FILE);
    let tmp = dir.join(format!(".{BUNDLE_FILE}.{}", std::process::id()));
    std::fs::write(&tmp, bundle)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Whether `path` is a bundle [`write_trust_bundle`] wrote (and so one this crate may
/// change), not a system bundle.
pub fn is_written_bundle(path: &Path) -> bool {
    path.file_name() == Some(BUNDLE_FILE.as_ref())
}

/// Adds this process's certificate to the trust bundle at `path` (another process's
/// `SSL_CERT_FILE`, written by [`write_trust_bundle`]), so that process's clients also
/// trust this process's endpoint. Replaces the file in one rename. Any other file is
/// refused: a system bundle must never collect test certificates (hundreds with one
/// subject make certificate checks give up).
pub fn add_to_bundle(path: &Path) -> io::Result<()> {
    if !is_written_bundle(path) {
        return Err(io::Error::other(format!(
            "{} is not a bundle written by write_trust_bundle ({BUNDLE_FILE}): left alone",
            path.display()
        )));
    }
    let mut bundle = std::fs::read_to_string(path)?;
    if !bundle.ends_with('\n') {
        bundle.push('\n');
    }
    bundle.push_str(&certificate()?.pem);
    let tmp = path.with_extension(format!("pem.{}", std::process::id()));
    std::fs::write(&tmp, bundle)?;
    std::fs::rename(&tmp, path)
}

/// The process's trust bundle, written once under the temp dir in a folder named for
/// this process (folders of processes that have exited are removed on the way).
pub fn trust_bundle() -> io::Result<PathBuf> {
    BUNDLE
        .get_or_init(|| {
            let root = std::env::temp_dir().join("minstrel-voice-trust");
            sweep_dead(&root);
            write_trust_bundle(&root.join(std::process::id().to_string()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(io::Error::other)
}

/// Removes bundle folders whose process is gone (Linux: no `/proc/<pid>`).
fn sweep_dead(root: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Makes in-process voice clients (songbird) trust the local endpoint: writes
/// [`trust_bundle`] and sets `SSL_CERT_FILE` to it, once per process.
///
/// # Safety
///
/// Setting an environment variable races with any other thread reading the environment
/// outside `std::env` (libc's `getenv`, e.g. inside `getaddrinfo`). Call it while the
/// process has one thread (before starting a runtime), or when every other thread that
/// could read the environment is blocked in this same call (the first caller sets the
/// variable while later callers wait on the [`Once`]): a test binary whose tests all
/// call this first, before starting their runtimes, satisfies that.
pub unsafe fn trust_in_this_process() -> io::Result<PathBuf> {
    let path = trust_bundle()?;
    ENV_SET.call_once(|| {
        // SAFETY: the caller upholds the contract above.
        unsafe { std::env::set_var("SSL_CERT_FILE", &path) };
    });
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificates(path: &Path) -> usize {
        let text = std::fs::read_to_string(path).unwrap();
        text.matches("BEGIN CERTIFICATE").count()
    }

    #[test]
    fn only_a_bundle_written_here_takes_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let system = dir.join("ca-certificates.crt");
        std::fs::write(&system, "system roots\n").unwrap();
        assert!(add_to_bundle(&system).is_err());
        assert_eq!(std::fs::read_to_string(&system).unwrap(), "system roots\n");

        let written = write_trust_bundle(&dir.join("written")).unwrap();
        let before = certificates(&written);
        add_to_bundle(&written).unwrap();
        assert_eq!(certificates(&written), before + 1);
    }
}
