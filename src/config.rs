//! Configuration: built-in defaults, then a TOML file, then `SCIMD_*` environment variables, then
//! command-line flags (each layer overrides the one before). Unknown keys in the file are errors that
//! name the key, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::logging::LogFormat;
use crate::net::{Cidr, SCIM_PREFIX};
use crate::scim::schema::{ExtensionDecl, Registry};
use crate::service::passwords::PasswordStorage;

/// Configuration file read when none is named (the packaged location).
pub const DEFAULT_CONFIG: &str = "/etc/scimd/scimd.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./scimd-data";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
/// Default request body limit (1 MiB): large enough for a group PATCH adding thousands of members.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// What went wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys / wrong types.
    #[error("configuration file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the key).
        message: String,
    },
    /// A value is not acceptable.
    #[error("invalid {key}: {message}")]
    Invalid {
        /// The setting.
        key: &'static str,
        /// Why.
        message: String,
    },
}

/// The settings a file, the environment or flags may give; `None` = not given at this layer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the database lives (`SCIMD_DATA_DIR`, `--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// Address and port to listen on (`SCIMD_LISTEN`, `--listen`).
    pub listen: Option<String>,
    /// Serve plain HTTP instead of HTTPS (`SCIMD_PLAIN_HTTP`, `--plain-http`).
    pub plain_http: Option<bool>,
    /// PEM certificate chain (`SCIMD_TLS_CERT`, `--tls-cert`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (`SCIMD_TLS_KEY`, `--tls-key`).
    pub tls_key: Option<PathBuf>,
    /// Externally reachable root URL, e.g. `https://scim.example.com:8443` (`SCIMD_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// Admin socket path (`SCIMD_ADMIN_SOCKET`); default `<data_dir>/admin.sock`.
    pub admin_socket: Option<PathBuf>,
    /// Largest accepted request body in bytes (`SCIMD_MAX_BODY_BYTES`).
    pub max_body_bytes: Option<usize>,
    /// `reject` (default) or `ignore` input attributes of unknown names or undeclared schemas
    /// (`SCIMD_UNKNOWN_ATTRIBUTES`).
    pub unknown_attributes: Option<String>,
    /// Extension schemas (`[[extensions]]`, file only).
    pub extensions: Option<Vec<ExtensionDecl>>,
    /// `discard` (default) or `hash` passwords sent by clients (`SCIMD_PASSWORD_STORAGE`).
    pub password_storage: Option<String>,
    /// How long a console session may stay idle: `90s`, `30m`, `8h` (`SCIMD_ADMIN_SESSION_IDLE`).
    pub admin_session_idle: Option<String>,
    /// `auto`, `text`, `json` or `journald` (`SCIMD_LOG_FORMAT`, `--log-format`).
    pub log_format: Option<String>,
    /// PEM bundle of CAs whose client certificates the SCIM endpoint requires (`SCIMD_CLIENT_CA`).
    pub client_ca: Option<PathBuf>,
    /// Addresses or CIDR blocks allowed to read `/metrics` (default: loopback only).
    pub metrics_allow: Option<Vec<String>>,
    /// A bearer token that also grants `/metrics` (`SCIMD_METRICS_TOKEN`, or `…_FILE`).
    pub metrics_token: Option<String>,
}

impl Settings {
    /// Overlay `other` on top of `self`.
    fn overlay(self, other: Settings) -> Settings {
        Settings {
            data_dir: other.data_dir.or(self.data_dir),
            listen: other.listen.or(self.listen),
            plain_http: other.plain_http.or(self.plain_http),
            tls_cert: other.tls_cert.or(self.tls_cert),
            tls_key: other.tls_key.or(self.tls_key),
            public_url: other.public_url.or(self.public_url),
            admin_socket: other.admin_socket.or(self.admin_socket),
            max_body_bytes: other.max_body_bytes.or(self.max_body_bytes),
            unknown_attributes: other.unknown_attributes.or(self.unknown_attributes),
            extensions: other.extensions.or(self.extensions),
            password_storage: other.password_storage.or(self.password_storage),
            admin_session_idle: other.admin_session_idle.or(self.admin_session_idle),
            log_format: other.log_format.or(self.log_format),
            client_ca: other.client_ca.or(self.client_ca),
            metrics_allow: other.metrics_allow.or(self.metrics_allow),
            metrics_token: other.metrics_token.or(self.metrics_token),
        }
    }

    /// Read a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.message().to_owned()
                + &e.span()
                    .map(|s| format!(" (at byte {})", s.start))
                    .unwrap_or_default(),
        })
    }

    /// Read `SCIMD_*` variables through `get` (injectable for tests).
    pub fn from_env(get_var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Every variable may instead be given as `<NAME>_FILE`: the file holds the value (systemd
        // credentials, Docker/Kubernetes secrets). Giving both is an error.
        let file_error = std::cell::RefCell::new(None::<String>);
        let get = |key: &str| -> Option<String> {
            let direct = get_var(key);
            let file_key = format!("{key}_FILE");
            match (direct, get_var(&file_key)) {
                (Some(v), None) => Some(v),
                (None, None) => None,
                (Some(_), Some(_)) => {
                    file_error
                        .borrow_mut()
                        .get_or_insert(format!("set {key} or {file_key}, not both"));
                    None
                }
                (None, Some(path)) => match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text.trim_end_matches(['\n', '\r']).to_owned()),
                    Err(e) => {
                        file_error
                            .borrow_mut()
                            .get_or_insert(format!("{file_key}: cannot read {path}: {e}"));
                        None
                    }
                },
            }
        };
        let settings = Self::from_vars(&get)?;
        match file_error.into_inner() {
            Some(message) => Err(ConfigError::Invalid {
                key: "environment",
                message,
            }),
            None => Ok(settings),
        }
    }

    fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let flag = |key: &'static str| -> Result<Option<bool>, ConfigError> {
            match get(key) {
                None => Ok(None),
                Some(v) => match v.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => Ok(Some(true)),
                    "0" | "false" | "no" | "off" | "" => Ok(Some(false)),
                    _ => Err(ConfigError::Invalid {
                        key,
                        message: format!("'{v}' is not a boolean"),
                    }),
                },
            }
        };
        Ok(Settings {
            data_dir: get("SCIMD_DATA_DIR").map(PathBuf::from),
            listen: get("SCIMD_LISTEN"),
            plain_http: flag("SCIMD_PLAIN_HTTP")?,
            tls_cert: get("SCIMD_TLS_CERT").map(PathBuf::from),
            tls_key: get("SCIMD_TLS_KEY").map(PathBuf::from),
            public_url: get("SCIMD_PUBLIC_URL"),
            admin_socket: get("SCIMD_ADMIN_SOCKET").map(PathBuf::from),
            unknown_attributes: get("SCIMD_UNKNOWN_ATTRIBUTES"),
            extensions: None,
            password_storage: get("SCIMD_PASSWORD_STORAGE"),
            admin_session_idle: get("SCIMD_ADMIN_SESSION_IDLE"),
            log_format: get("SCIMD_LOG_FORMAT"),
            client_ca: get("SCIMD_CLIENT_CA").map(PathBuf::from),
            metrics_allow: get("SCIMD_METRICS_ALLOW").map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            metrics_token: get("SCIMD_METRICS_TOKEN"),
            max_body_bytes: match get("SCIMD_MAX_BODY_BYTES") {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| ConfigError::Invalid {
                    key: "SCIMD_MAX_BODY_BYTES",
                    message: format!("'{v}' is not a number of bytes"),
                })?),
            },
        })
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Database directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// PEM certificate and key; `None` = self-signed in the data directory.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Externally reachable root URL.
    pub public_url: Option<String>,
    /// Admin socket path.
    pub admin_socket: PathBuf,
    /// Body limit.
    pub max_body_bytes: usize,
    /// Drop (true) or reject (false) unknown input attributes.
    pub ignore_unknown: bool,
    /// Declared extension schemas.
    pub extensions: Vec<ExtensionDecl>,
    /// What happens to passwords sent by clients.
    pub password_storage: PasswordStorage,
    /// How long a console session may stay idle.
    pub admin_session_idle: std::time::Duration,
    /// Log output format.
    pub log_format: LogFormat,
    /// CA bundle for required SCIM client certificates.
    pub client_ca: Option<PathBuf>,
    /// Who may read `/metrics`.
    pub metrics_allow: Vec<Cidr>,
    /// Bearer token that also grants `/metrics`.
    pub metrics_token: Option<String>,
}

impl Config {
    /// Resolve defaults < file < environment < flags.
    pub fn resolve(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Settings,
    ) -> Result<Self, ConfigError> {
        // --config, else SCIMD_CONFIG (empty: no file), else the packaged /etc/scimd/scimd.toml if
        // it exists, so `sudo scimd token add …` on an installed host finds the server's settings.
        let file_path = match (file, env("SCIMD_CONFIG")) {
            (Some(f), _) => Some(f.to_owned()),
            (None, Some(v)) if v.is_empty() => None,
            (None, Some(v)) => Some(PathBuf::from(v)),
            (None, None) => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
        };
        let from_file = match &file_path {
            Some(p) => Settings::from_file(p)?,
            None => Settings::default(),
        };
        let s = from_file.overlay(Settings::from_env(&env)?).overlay(flags);
        let data_dir = s
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let listen_text = s.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen = listen_text.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            message: format!("'{listen_text}' is not ADDRESS:PORT"),
        })?;
        let tls = match (s.tls_cert, s.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "tls_cert/tls_key",
                    message: "give both the certificate and the key, or neither".into(),
                })
            }
        };
        if let Some(u) = &s.public_url {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    key: "public_url",
                    message: format!("'{u}' must start with https:// or http://"),
                });
            }
        }
        let max_body_bytes = s.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY);
        if max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "max_body_bytes",
                message: "must be at least 1024".into(),
            });
        }
        let ignore_unknown = match s
            .unknown_attributes
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("reject") => false,
            Some("ignore") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "unknown_attributes",
                    message: format!("'{other}' is neither 'reject' nor 'ignore'"),
                })
            }
        };
        let extensions = s.extensions.unwrap_or_default();
        Registry::with_extensions(&extensions, ignore_unknown).map_err(|message| {
            ConfigError::Invalid {
                key: "extensions",
                message,
            }
        })?;
        let password_storage = match s.password_storage.as_deref() {
            None => PasswordStorage::Discard,
            Some(v) => PasswordStorage::parse(v).ok_or_else(|| ConfigError::Invalid {
                key: "password_storage",
                message: format!("'{v}' is neither 'discard' nor 'hash'"),
            })?,
        };
        let admin_session_idle = match s.admin_session_idle.as_deref() {
            None => std::time::Duration::from_secs(30 * 60),
            Some(v) => parse_duration(v).ok_or_else(|| ConfigError::Invalid {
                key: "admin_session_idle",
                message: format!("'{v}' is not a duration such as 90s, 30m or 8h"),
            })?,
        };
        let log_format = match s.log_format.as_deref() {
            None => LogFormat::Auto,
            Some(v) => LogFormat::parse(v).ok_or_else(|| ConfigError::Invalid {
                key: "log_format",
                message: format!("'{v}' is not auto, text, json or journald"),
            })?,
        };
        let metrics_allow = match s.metrics_allow {
            None => vec![Cidr::parse("127.0.0.0/8"), Cidr::parse("::1")]
                .into_iter()
                .flatten()
                .collect(),
            Some(list) => list
                .iter()
                .map(|c| {
                    Cidr::parse(c).ok_or_else(|| ConfigError::Invalid {
                        key: "metrics_allow",
                        message: format!("'{c}' is not an address or CIDR block"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        let plain_http = s.plain_http.unwrap_or(false);
        if plain_http && s.client_ca.is_some() {
            return Err(ConfigError::Invalid {
                key: "client_ca",
                message: "client certificates need TLS; remove plain_http".into(),
            });
        }
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let resolve_path = |p: PathBuf| -> PathBuf {
            // `%d/name` is a systemd credential (LoadCredential=name:/path in the unit).
            match (p.strip_prefix("%d"), &credentials) {
                (Ok(rest), Some(dir)) => dir.join(rest),
                _ => p,
            }
        };
        Ok(Self {
            client_ca: s.client_ca.map(&resolve_path),
            metrics_allow,
            metrics_token: s.metrics_token.filter(|t| !t.is_empty()),
            log_format,
            admin_session_idle,
            password_storage,
            ignore_unknown,
            extensions,
            admin_socket: s
                .admin_socket
                .unwrap_or_else(|| data_dir.join("admin.sock")),
            data_dir,
            listen,
            plain_http,
            tls: tls.map(|(c, k)| (resolve_path(c), resolve_path(k))),
            public_url: s.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            max_body_bytes,
        })
    }

    /// The effective settings as TOML, secrets masked (`scimd check-config`).
    pub fn describe(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let path = |p: &Path| q(&p.display().to_string());
        let mut out = String::new();
        let mut line = |k: &str, v: String| {
            out.push_str(k);
            out.push_str(" = ");
            out.push_str(&v);
            out.push('\n');
        };
        line("data_dir", path(&self.data_dir));
        line("listen", q(&self.listen.to_string()));
        line("plain_http", self.plain_http.to_string());
        if let Some((c, k)) = &self.tls {
            line("tls_cert", path(c));
            line("tls_key", path(k));
        }
        if let Some(ca) = &self.client_ca {
            line("client_ca", path(ca));
        }
        if let Some(u) = &self.public_url {
            line("public_url", q(u));
        }
        line("admin_socket", path(&self.admin_socket));
        line("max_body_bytes", self.max_body_bytes.to_string());
        line(
            "unknown_attributes",
            q(if self.ignore_unknown {
                "ignore"
            } else {
                "reject"
            }),
        );
        line(
            "password_storage",
            q(match self.password_storage {
                PasswordStorage::Discard => "discard",
                PasswordStorage::Hash => "hash",
            }),
        );
        line(
            "admin_session_idle",
            q(&format!("{}s", self.admin_session_idle.as_secs())),
        );
        line("log_format", q(self.log_format.as_str()));
        let allow: Vec<String> = self
            .metrics_allow
            .iter()
            .map(|c| q(&c.to_string()))
            .collect();
        line("metrics_allow", format!("[{}]", allow.join(", ")));
        if self.metrics_token.is_some() {
            line("metrics_token", q("********"));
        }
        for e in &self.extensions {
            out.push_str(&format!(
                "# extension {} ({} attributes) for {}\n",
                e.schema,
                e.attributes.len(),
                e.resource
            ));
        }
        out
    }

    /// The schema registry this configuration describes (validated by [`Config::resolve`]).
    pub fn registry(&self) -> Registry {
        Registry::with_extensions(&self.extensions, self.ignore_unknown).unwrap_or_default()
    }

    /// The SCIM base URL to hand to an identity provider.
    pub fn scim_url(&self) -> String {
        let root = match &self.public_url {
            Some(u) => u.clone(),
            None => {
                let scheme = if self.plain_http { "http" } else { "https" };
                let host = if self.listen.ip().is_unspecified() {
                    hostname()
                } else {
                    self.listen.ip().to_string()
                };
                format!("{scheme}://{host}:{}", self.listen.port())
            }
        };
        format!("{root}{SCIM_PREFIX}")
    }
}

/// `90s`, `30m`, `8h` (at least one second).
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| std::time::Duration::from_secs(secs))
}

/// This machine's host name (for URLs shown to the admin), or `localhost`.
pub fn hostname() -> String {
    // /etc/hostname stays readable when the unit hides /proc/sys (ProcSubset=pid).
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_file_env_flags_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scimd.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1000\"\ndata_dir = \"/f\"\nmax_body_bytes = 4096\n",
        )
        .unwrap();
        let c = Config::resolve(Some(&file), env(&[]), Settings::default()).unwrap();
        assert_eq!(c.listen.port(), 1000);
        assert_eq!(c.admin_socket, PathBuf::from("/f/admin.sock"));
        let c = Config::resolve(
            Some(&file),
            env(&[("SCIMD_LISTEN", "127.0.0.1:2000")]),
            Settings::default(),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 2000);
        let flags = Settings {
            listen: Some("127.0.0.1:3000".into()),
            ..Settings::default()
        };
        let c = Config::resolve(
            Some(&file),
            env(&[("SCIMD_LISTEN", "127.0.0.1:2000")]),
            flags,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 3000);
        let d = Config::resolve(None, env(&[]), Settings::default()).unwrap();
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(!d.plain_http);
    }

    #[test]
    fn extensions_are_declared_in_the_file_and_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scimd.toml");
        std::fs::write(
            &file,
            r#"
unknown_attributes = "ignore"
[[extensions]]
schema = "urn:ietf:params:scim:schemas:extension:Netskope:2.0:User"
[[extensions.attributes]]
name = "costCode"
[[extensions.attributes]]
name = "badge"
type = "complex"
sub_attributes = [{ name = "number", type = "integer" }]
"#,
        )
        .unwrap();
        let c = Config::resolve(Some(&file), env(&[]), Settings::default()).unwrap();
        assert!(c.ignore_unknown);
        let reg = c.registry();
        assert!(reg
            .extension(
                crate::scim::schema::ResourceKind::User,
                "urn:ietf:params:scim:schemas:extension:netskope:2.0:user"
            )
            .is_some());
        std::fs::write(
            &file,
            "[[extensions]]\nschema = \"urn:x:y\"\n[[extensions.attributes]]\nname = \"a\"\ntype = \"colour\"\n",
        )
        .unwrap();
        let e = Config::resolve(Some(&file), env(&[]), Settings::default()).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(
            parse_duration("90s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("30m"),
            Some(std::time::Duration::from_secs(1800))
        );
        assert_eq!(
            parse_duration("8h"),
            Some(std::time::Duration::from_secs(28800))
        );
        assert_eq!(parse_duration("30"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5d"), None);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scimd.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let e = Config::resolve(Some(&file), env(&[]), Settings::default()).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = Config::resolve(
            None,
            env(&[("SCIMD_PLAIN_HTTP", "maybe")]),
            Settings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("SCIMD_PLAIN_HTTP"), "{e}");
        let flags = Settings {
            tls_cert: Some("/c".into()),
            ..Settings::default()
        };
        assert!(Config::resolve(None, env(&[]), flags).is_err());
    }
}
