//! Configuration: built-in defaults, then a TOML file, then `SCIMD_*` environment variables, then
//! command-line flags (each layer overrides the one before). Unknown keys in the file are errors that
//! name the key, so a typo never silently falls back to a default. An unknown `SCIMD_*` variable
//! cannot be an error (the environment is shared with other programs and inherited from shells),
//! so [`unknown_env_vars`] names them and the binary logs a warning for each.
//!
//! # One table
//! Each setting is declared once, as a row of the `settings!` table below. From that row come the
//! field of [`Settings`] (what one layer gives; its name is the TOML key), the `SCIMD_<KEY>`
//! variable and how its text is read (every one may also be `SCIMD_<KEY>_FILE`), the field of
//! [`Config`] (the resolved value), the rule that resolves and validates it, its line in
//! [`Config::describe`] (`scimd check-config`, secrets masked) and its entry in [`SETTINGS`].
//! Adding a setting is adding a row, then documenting it in `packaging/scimd.toml` and the README's
//! table (a test below checks both).
//!
//! A macro rather than figment (lldap's choice): figment would only layer the sources, while the
//! resolving, the cross-setting checks and `describe` would still list every setting by hand, and
//! it would change what operators see today (TOML errors with byte offsets, errors naming the
//! variable such as `SCIMD_PLAIN_HTTP`, `yes`/`on` booleans, comma-separated lists).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::logging::LogFormat;
use crate::net::{Cidr, SCIM_PREFIX};
use crate::scim::schema::{ExtensionDecl, Registry};
use crate::service::passwords::PasswordStorage;
use crate::service::ratelimit::{self, Limits, Rate};

/// Configuration file read when none is named (the packaged location).
pub const DEFAULT_CONFIG: &str = "/etc/scimd/scimd.toml";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./scimd-data";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8443";
/// Default request body limit (1 MiB): large enough for a group PATCH adding thousands of members.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Default time a webhook retries one SET before its subscription is dead-lettered.
pub const DEFAULT_DEAD_LETTER_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// Default console idle timeout: long enough to read a report, short enough for a shared desk.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// Default absolute console session lifetime: a working day.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// `SCIMD_*` variables that are not settings: `SCIMD_CONFIG` names the file (read by
/// [`Config::resolve`]), `SCIMD_LOG` is the log filter (read by `logging`).
pub const OTHER_ENV_VARS: [&str; 2] = ["SCIMD_CONFIG", "SCIMD_LOG"];

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
    /// An environment variable's text does not read as its setting's type.
    #[error("invalid {var}: {message}")]
    Env {
        /// The variable (`SCIMD_PLAIN_HTTP`), so the operator knows where to look.
        var: String,
        /// Why.
        message: String,
    },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

/// One row of the table, for code that needs the names rather than the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The TOML key, also the field name in [`Settings`] and [`Config`].
    pub key: &'static str,
    /// Whether `SCIMD_<KEY>` (or `SCIMD_<KEY>_FILE`) sets it; `false`: only the file can.
    pub from_env: bool,
}

impl Setting {
    /// `SCIMD_<KEY>`, or `None` for a file-only setting.
    pub fn env_var(&self) -> Option<String> {
        self.from_env.then(|| env_name(self.key))
    }
}

/// The variable of a setting: `listen` → `SCIMD_LISTEN`.
fn env_name(key: &str) -> String {
    format!("SCIMD_{}", key.to_ascii_uppercase())
}

/// Generates, from the rows of the table: [`Settings`] with its overlay and environment reader,
/// [`Config`] with its resolver and `describe`, and [`SETTINGS`]. A row is
///
/// ```text
/// /// docs (become the docs of both fields)
/// key: RawType => ResolvedType {
///     env: reader,      // a function of `from_env` (`text`, `path`, `flag`, …; `none`: file only)
///     resolve: |raw: Option<RawType>| -> Result<ResolvedType, ConfigError>,
///     show: |value: &ResolvedType| -> Show,
/// }
/// ```
///
/// Rows resolve in table order, and a row's `resolve` may use the resolved values of the rows
/// above it by their keys (`admin_socket` defaults to a path under `data_dir`). The table order is
/// also the order of `describe`'s lines.
macro_rules! settings {
    ($(
        $(#[$doc:meta])*
        $key:ident: $raw:ty => $value:ty {
            env: $reader:ident,
            resolve: $resolve:expr,
            show: $show:expr $(,)?
        }
    )*) => {
        /// The settings a file, the environment or flags may give; `None` = not given at this
        /// layer. Field names are the TOML keys.
        #[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
        #[serde(deny_unknown_fields)]
        pub struct Settings {
            $( $(#[$doc])* pub $key: Option<$raw>, )*
        }

        impl Settings {
            /// Overlay `other` on top of `self`: whatever `other` gives wins.
            fn overlay(self, other: Settings) -> Settings {
                Settings { $( $key: other.$key.or(self.$key), )* }
            }

            /// The environment layer: each row's `SCIMD_<KEY>` through its reader.
            fn from_vars(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
                Ok(Settings { $( $key: from_env::$reader(get, stringify!($key))?, )* })
            }
        }

        /// The effective configuration: every setting resolved, defaults filled in.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct Config {
            $( $(#[$doc])* pub $key: $value, )*
        }

        impl Config {
            /// Resolve the rows in table order (each may read the ones above it).
            fn from_settings(s: Settings) -> Result<Self, ConfigError> {
                $( let $key: $value = resolve_with(s.$key, $resolve)?; )*
                Ok(Config { $( $key, )* })
            }

            /// The effective settings as TOML, secrets masked (`scimd check-config`).
            pub fn describe(&self) -> String {
                let mut out = String::new();
                $( show_with(&self.$key, $show).write(&mut out, stringify!($key)); )*
                out
            }
        }

        /// Every setting, in table order.
        pub const SETTINGS: &[Setting] = &[
            $( Setting { key: stringify!($key), from_env: settings!(@reads_env $reader) }, )*
        ];
    };
    (@reads_env none) => { false };
    (@reads_env $reader:ident) => { true };
}

/// Calls a row's `resolve` (a function, so the closure's argument type is known).
fn resolve_with<R, V>(
    raw: Option<R>,
    resolve: impl FnOnce(Option<R>) -> Result<V, ConfigError>,
) -> Result<V, ConfigError> {
    resolve(raw)
}

/// Calls a row's `show`.
fn show_with<V>(value: &V, show: impl FnOnce(&V) -> Show) -> Show {
    show(value)
}

settings! {
    /// Where the database lives, with the generated certificate and (by default) the admin
    /// socket (`--data-dir`).
    data_dir: PathBuf => PathBuf {
        env: path,
        resolve: |v| Ok(v.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))),
        show: |v| Show::path(v),
    }
    /// Address and port to listen on (`--listen`).
    listen: String => SocketAddr {
        env: text,
        resolve: |v| {
            let text = v.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
            text.parse()
                .map_err(|_| invalid("listen", format!("'{text}' is not ADDRESS:PORT")))
        },
        show: |v| Show::text(&v.to_string()),
    }
    /// Serve plain HTTP instead of HTTPS, behind a TLS-terminating proxy or on loopback
    /// (`--plain-http`).
    plain_http: bool => bool {
        env: flag,
        resolve: |v| Ok(v.unwrap_or(false)),
        show: Show::plain,
    }
    /// PEM certificate chain (`--tls-cert`); with `tls_key`, or neither for a self-signed
    /// certificate in the data directory. `%d/NAME` is a systemd credential.
    tls_cert: PathBuf => Option<PathBuf> {
        env: path,
        resolve: |v| Ok(v.map(credential_path)),
        show: |v| v.as_deref().map_or(Show::Omit, Show::path),
    }
    /// PEM private key of `tls_cert` (`--tls-key`).
    tls_key: PathBuf => Option<PathBuf> {
        env: path,
        resolve: |v| match (&tls_cert, v) {
            (Some(_), Some(k)) => Ok(Some(credential_path(k))),
            (None, None) => Ok(None),
            _ => Err(invalid(
                "tls_cert/tls_key",
                "give both the certificate and the key, or neither",
            )),
        },
        show: |v| v.as_deref().map_or(Show::Omit, Show::path),
    }
    /// PEM bundle of CAs whose client certificates the SCIM endpoint then requires (mutual TLS).
    client_ca: PathBuf => Option<PathBuf> {
        env: path,
        resolve: |v| {
            if plain_http && v.is_some() {
                return Err(invalid(
                    "client_ca",
                    "client certificates need TLS; remove plain_http",
                ));
            }
            Ok(v.map(credential_path))
        },
        show: |v| v.as_deref().map_or(Show::Omit, Show::path),
    }
    /// Externally reachable root URL, e.g. `https://scim.example.com:8443`; `None`: derived from
    /// each request.
    public_url: String => Option<String> {
        env: text,
        resolve: |v| match v {
            Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(invalid(
                "public_url",
                format!("'{u}' must start with https:// or http://"),
            )),
            v => Ok(v.map(|u| u.trim_end_matches('/').to_owned())),
        },
        show: |v| v.as_deref().map_or(Show::Omit, Show::text),
    }
    /// The unix socket through which CLI commands reach the running server; default
    /// `<data_dir>/admin.sock`.
    admin_socket: PathBuf => PathBuf {
        env: path,
        resolve: |v| Ok(v.unwrap_or_else(|| data_dir.join("admin.sock"))),
        show: |v| Show::path(v),
    }
    /// Largest accepted request body in bytes (also advertised as `bulk.maxPayloadSize`).
    max_body_bytes: usize => usize {
        env: bytes,
        resolve: |v| match v.unwrap_or(DEFAULT_MAX_BODY) {
            n if n < 1024 => Err(invalid("max_body_bytes", "must be at least 1024")),
            n => Ok(n),
        },
        show: Show::plain,
    }
    /// Memory for the database's page cache, in MiB (sled's cache; views and recent log pages).
    cache_mb: u32 => usize {
        env: count,
        resolve: |v| match v.map_or(crate::store::DEFAULT_CACHE_MB, |n| n as usize) {
            n if n < 8 => Err(invalid("cache_mb", "must be at least 8")),
            n if n > 1 << 20 => Err(invalid("cache_mb", "must be at most 1048576 (1 TiB)")),
            n => Ok(n),
        },
        show: Show::plain,
    }
    /// What happens to input attributes of unknown names or undeclared schemas.
    unknown_attributes: String => UnknownAttributes {
        env: text,
        resolve: |v| choice(
            "unknown_attributes",
            // The message repeats the value lower-cased: it is compared case-insensitively.
            v.map(|v| v.to_ascii_lowercase()),
            UnknownAttributes::Reject,
            UnknownAttributes::parse,
            "is neither 'reject' nor 'ignore'",
        ),
        show: |v| Show::text(v.as_str()),
    }
    /// What happens to passwords sent by clients: `discard` (default) or `hash`.
    password_storage: String => PasswordStorage {
        env: text,
        resolve: |v| choice(
            "password_storage",
            v,
            PasswordStorage::Discard,
            PasswordStorage::parse,
            "is neither 'discard' nor 'hash'",
        ),
        show: |v| Show::text(match v {
            PasswordStorage::Discard => "discard",
            PasswordStorage::Hash => "hash",
        }),
    }
    /// How long a console session may stay idle: `90s`, `30m`, `8h`.
    admin_session_idle: String => Duration {
        env: text,
        resolve: |v| choice(
            "admin_session_idle",
            v,
            DEFAULT_SESSION_IDLE,
            parse_duration,
            "is not a duration such as 90s, 30m or 8h",
        ),
        show: |v| Show::text(&format!("{}s", v.as_secs())),
    }
    /// Longest a console session lasts after sign-in, however busy: `12h` (the default), `30m`.
    admin_session_lifetime: String => Duration {
        env: text,
        resolve: |v| choice(
            "admin_session_lifetime",
            v,
            DEFAULT_SESSION_LIFETIME,
            parse_duration,
            "is not a duration such as 90s, 30m or 12h",
        ),
        show: |v| Show::text(&format!("{}s", v.as_secs())),
    }
    /// Addresses or CIDR blocks whose clients may reach the console (`/admin`; comma-separated in
    /// the environment; default: any). Others get 403. Behind a proxy listed in
    /// `trusted_proxies`, the forwarded client address counts.
    admin_allow: Vec<String> => Vec<Cidr> {
        env: list,
        resolve: |v| cidr_list("admin_allow", v, &["0.0.0.0/0", "::/0"]),
        show: |v| Show::list(v),
    }
    /// Serve the console on its own listener (e.g. `127.0.0.1:8444`, for an SSH tunnel) instead of
    /// on `listen`; that listener serves nothing else. Same TLS as `listen`.
    admin_listen: String => Option<SocketAddr> {
        env: text,
        resolve: |v| match v.filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                invalid("admin_listen", format!("'{text}' is not ADDRESS:PORT"))
            }),
        },
        show: |v| v.map_or(Show::Omit, |a| Show::text(&a.to_string())),
    }
    /// Peers (addresses or CIDR blocks) whose `Forwarded`, `X-Forwarded-For`, `X-Forwarded-Host`
    /// and `X-Forwarded-Proto` headers are believed: the reverse proxy in front of scimd. From
    /// anyone else they are ignored (default: none).
    trusted_proxies: Vec<String> => Vec<Cidr> {
        env: list,
        resolve: |v| cidr_list("trusted_proxies", v, &[]),
        show: |v| Show::list(v),
    }
    /// Log output: `auto`, `text`, `json` or `journald` (`--log-format`).
    log_format: String => LogFormat {
        env: text,
        resolve: |v| choice(
            "log_format",
            v,
            LogFormat::Auto,
            LogFormat::parse,
            "is not auto, text, json or journald",
        ),
        show: |v| Show::text(v.as_str()),
    }
    /// Addresses or CIDR blocks allowed to read `/metrics` (comma-separated in the environment;
    /// default: loopback only).
    metrics_allow: Vec<String> => Vec<Cidr> {
        env: list,
        resolve: |v| cidr_list("metrics_allow", v, &["127.0.0.0/8", "::1"]),
        show: |v| Show::list(v),
    }
    /// A bearer token that also grants `/metrics` (a secret: give it as `SCIMD_METRICS_TOKEN_FILE`).
    metrics_token: String => Option<String> {
        env: text,
        resolve: |v| Ok(v.filter(|t| !t.is_empty())),
        show: |v| if v.is_some() { Show::Masked } else { Show::Omit },
    }
    /// Requests per bearer token: `200/s` (the default), `12000/m`, `1/h`; a bare number is per
    /// second; `0` turns the limit off. Above it: 429 with `Retry-After`.
    rate_limit_per_token: RateText => Option<Rate> {
        env: rate,
        resolve: |v| rate_setting("rate_limit_per_token", v, ratelimit::DEFAULT_PER_TOKEN),
        show: |v| show_rate(*v),
    }
    /// How many requests a token may send at once before its rate applies (its bucket's size).
    rate_limit_burst: u32 => u32 {
        env: count,
        resolve: |v| match v.unwrap_or(ratelimit::DEFAULT_BURST) {
            0 => Err(invalid("rate_limit_burst", "must be at least 1")),
            n => Ok(n),
        },
        show: Show::plain,
    }
    /// SCIM requests without a valid token, per source address (`20/s`, the default; `0`: off).
    /// The bucket holds one period's worth; requests with valid tokens never draw from it.
    rate_limit_unauthenticated: RateText => Option<Rate> {
        env: rate,
        resolve: |v| rate_setting(
            "rate_limit_unauthenticated",
            v,
            ratelimit::DEFAULT_UNAUTHENTICATED,
        ),
        show: |v| show_rate(*v),
    }
    /// Sign the change feed's SETs (compact JWS, ES256, key published at `/events/jwks.json`)
    /// instead of serving them as plain JSON objects.
    events_signed: bool => bool {
        env: flag,
        resolve: |v| Ok(v.unwrap_or(false)),
        show: Show::plain,
    }
    /// How long a webhook subscription keeps retrying an undeliverable SET before it is put in
    /// the dead-letter state (`30m`, `24h`, the default; `resume` starts it again).
    webhook_dead_letter_after: String => Duration {
        env: text,
        resolve: |v| choice(
            "webhook_dead_letter_after",
            v,
            DEFAULT_DEAD_LETTER_AFTER,
            parse_duration,
            "is not a duration such as 90s, 30m or 24h",
        ),
        show: |v| Show::text(&format!("{}s", v.as_secs())),
    }
    /// Extension schemas (`[[extensions]]`; file only: they are tables, not one-line values).
    extensions: Vec<ExtensionDecl> => Vec<ExtensionDecl> {
        env: none,
        resolve: |v| {
            let extensions = v.unwrap_or_default();
            Registry::with_extensions(&extensions, unknown_attributes.ignores())
                .map_err(|message| invalid("extensions", message))?;
            Ok(extensions)
        },
        show: |v| Show::Comments(
            v.iter()
                .map(|e| format!(
                    "extension {} ({} attributes) for {}",
                    e.schema,
                    e.attributes.len(),
                    e.resource
                ))
                .collect(),
        ),
    }
}

/// What happens to input attributes of unknown names or undeclared extension schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownAttributes {
    /// Answer 400 naming them (the default: a typo in an IdP's mapping shows up at once).
    #[default]
    Reject,
    /// Drop them (lenient setups).
    Ignore,
}

impl UnknownAttributes {
    /// Parse `reject` or `ignore` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "reject" => Some(Self::Reject),
            "ignore" => Some(Self::Ignore),
            _ => None,
        }
    }

    /// The name, as accepted by [`UnknownAttributes::parse`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Ignore => "ignore",
        }
    }

    /// Whether they are dropped.
    pub fn ignores(self) -> bool {
        self == Self::Ignore
    }
}

/// A list of address blocks: `default` when not given; an entry that is no block is an error.
fn cidr_list(
    key: &'static str,
    given: Option<Vec<String>>,
    default: &[&str],
) -> Result<Vec<Cidr>, ConfigError> {
    match given {
        None => Ok(default.iter().filter_map(|c| Cidr::parse(c)).collect()),
        Some(list) => list
            .iter()
            .map(|c| {
                Cidr::parse(c)
                    .ok_or_else(|| invalid(key, format!("'{c}' is not an address or CIDR block")))
            })
            .collect(),
    }
}

/// A rate as the file gives it: `200` or `"200/s"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RateText {
    /// Requests per second (`0`: no limit).
    Number(u64),
    /// `N`, `N/s`, `N/m` or `N/h`.
    Text(String),
}

/// Resolve a rate setting: `default` when not given, `None` for `0`.
fn rate_setting(
    key: &'static str,
    given: Option<RateText>,
    default: Rate,
) -> Result<Option<Rate>, ConfigError> {
    let text = match given {
        None => return Ok(Some(default)),
        Some(RateText::Number(n)) => n.to_string(),
        Some(RateText::Text(t)) => t,
    };
    Rate::parse(&text).ok_or_else(|| {
        invalid(
            key,
            format!("'{text}' is not a rate such as 200/s, 600/m or 0 (off)"),
        )
    })
}

fn show_rate(rate: Option<Rate>) -> Show {
    rate.map_or_else(|| Show::plain(&0), |r| Show::text(&r.to_string()))
}

/// A named choice: `default` when not given, else `parse`d, else an error quoting the value.
fn choice<T>(
    key: &'static str,
    given: Option<String>,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match given {
        None => Ok(default),
        Some(v) => parse(&v).ok_or_else(|| invalid(key, format!("'{v}' {expected}"))),
    }
}

/// `%d/name` is a systemd credential (`LoadCredential=name:/path` in the unit); other paths are
/// kept as given.
fn credential_path(p: PathBuf) -> PathBuf {
    match (
        p.strip_prefix("%d"),
        std::env::var_os("CREDENTIALS_DIRECTORY"),
    ) {
        (Ok(rest), Some(dir)) => PathBuf::from(dir).join(rest),
        _ => p,
    }
}

/// How a resolved setting appears in [`Config::describe`].
enum Show {
    /// Not printed (an optional setting that is not set).
    Omit,
    /// `key = <TOML value>`.
    Value(String),
    /// `key = "********"`: secrets never reach a terminal, a paste or a support ticket.
    Masked,
    /// Comment lines, for settings whose value is no one-liner.
    Comments(Vec<String>),
}

impl Show {
    /// A TOML string.
    fn text(s: &str) -> Self {
        Self::Value(toml::Value::String(s.to_owned()).to_string())
    }

    /// A path, as a TOML string.
    fn path(p: &Path) -> Self {
        Self::text(&p.display().to_string())
    }

    /// A number or a boolean, as is.
    fn plain(v: &impl std::fmt::Display) -> Self {
        Self::Value(v.to_string())
    }

    /// An array of strings.
    fn list<T: std::fmt::Display>(items: &[T]) -> Self {
        let items: Vec<String> = items
            .iter()
            .map(|i| toml::Value::String(i.to_string()).to_string())
            .collect();
        Self::Value(format!("[{}]", items.join(", ")))
    }

    fn write(self, out: &mut String, key: &str) {
        match self {
            Self::Omit => {}
            Self::Value(v) => out.push_str(&format!("{key} = {v}\n")),
            Self::Masked => out.push_str(&format!("{key} = \"********\"\n")),
            Self::Comments(lines) => {
                for line in lines {
                    out.push_str(&format!("# {line}\n"));
                }
            }
        }
    }
}

/// Readers of the environment layer, one per kind of value: each takes the setting's key, reads
/// `SCIMD_<KEY>` and names that variable when the text does not fit.
mod from_env {
    use std::path::PathBuf;

    use super::{env_name, ConfigError};

    type Get<'a> = &'a dyn Fn(&str) -> Option<String>;

    /// Any text.
    pub(super) fn text(get: Get<'_>, key: &str) -> Result<Option<String>, ConfigError> {
        Ok(get(&env_name(key)))
    }

    /// A path.
    pub(super) fn path(get: Get<'_>, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        Ok(get(&env_name(key)).map(PathBuf::from))
    }

    /// `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off`/empty, the spellings unit files use.
    pub(super) fn flag(get: Get<'_>, key: &str) -> Result<Option<bool>, ConfigError> {
        let var = env_name(key);
        match get(&var) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(Some(true)),
                "0" | "false" | "no" | "off" | "" => Ok(Some(false)),
                _ => Err(ConfigError::Env {
                    message: format!("'{v}' is not a boolean"),
                    var,
                }),
            },
        }
    }

    /// A number of bytes.
    pub(super) fn bytes(get: Get<'_>, key: &str) -> Result<Option<usize>, ConfigError> {
        let var = env_name(key);
        match get(&var) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ConfigError::Env {
                message: format!("'{v}' is not a number of bytes"),
                var,
            }),
        }
    }

    /// A whole number.
    pub(super) fn count(get: Get<'_>, key: &str) -> Result<Option<u32>, ConfigError> {
        let var = env_name(key);
        match get(&var) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| ConfigError::Env {
                message: format!("'{v}' is not a whole number"),
                var,
            }),
        }
    }

    /// A rate (checked when resolved, like the file's).
    pub(super) fn rate(get: Get<'_>, key: &str) -> Result<Option<super::RateText>, ConfigError> {
        Ok(get(&env_name(key)).map(super::RateText::Text))
    }

    /// A comma-separated list (blanks around items and empty items dropped).
    pub(super) fn list(get: Get<'_>, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        Ok(get(&env_name(key)).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }))
    }

    /// Not read from the environment (file only).
    pub(super) fn none<T>(_: Get<'_>, _: &str) -> Result<Option<T>, ConfigError> {
        Ok(None)
    }
}

impl Settings {
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
            Some(message) => Err(invalid("environment", message)),
            None => Ok(settings),
        }
    }
}

/// The `SCIMD_*` names among `names` that nothing reads (a typo such as `SCIMD_LISTN`, or
/// `SCIMD_EXTENSIONS`, which only the file can give), sorted. Not an error, because the environment
/// is inherited from shells and service managers; the binary logs a warning naming each.
pub fn unknown_env_vars(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = |name: &str| {
        OTHER_ENV_VARS.contains(&name)
            || SETTINGS.iter().filter_map(Setting::env_var).any(|var| {
                name.strip_prefix(var.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest == "_FILE")
            })
    };
    let mut unknown: Vec<String> = names
        .into_iter()
        .filter(|n| n.starts_with("SCIMD_") && !known(n))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
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
        Self::from_settings(from_file.overlay(Settings::from_env(&env)?).overlay(flags))
    }

    /// The PEM certificate and key files; `None` = self-signed in the data directory.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        self.tls_cert.as_deref().zip(self.tls_key.as_deref())
    }

    /// Whether unknown input attributes are dropped (true) or rejected (false).
    pub fn ignore_unknown(&self) -> bool {
        self.unknown_attributes.ignores()
    }

    /// The schema registry this configuration describes (validated by [`Config::resolve`]).
    pub fn registry(&self) -> Registry {
        Registry::with_extensions(&self.extensions, self.ignore_unknown()).unwrap_or_default()
    }

    /// The rate limits.
    pub fn limits(&self) -> Limits {
        Limits {
            per_token: self.rate_limit_per_token,
            burst: self.rate_limit_burst,
            unauthenticated: self.rate_limit_unauthenticated,
        }
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
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
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
        assert!(c.ignore_unknown());
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

    #[test]
    fn describe_prints_every_setting_in_table_order_with_secrets_masked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scimd.toml");
        std::fs::write(
            &file,
            r#"
data_dir = "/srv/scimd"
listen = "127.0.0.1:9443"
tls_cert = "/etc/scimd/tls/fullchain.pem"
tls_key = "/etc/scimd/tls/privkey.pem"
client_ca = "/etc/scimd/tls/clients.pem"
public_url = "https://scim.example.com:8443/"
max_body_bytes = 4096
unknown_attributes = "IGNORE"
password_storage = "hash"
admin_session_idle = "8h"
admin_session_lifetime = "10h"
admin_allow = ["10.9.0.0/16"]
admin_listen = "127.0.0.1:8444"
trusted_proxies = ["10.0.0.2"]
metrics_allow = ["10.0.0.0/8", "::1"]
metrics_token = "s3cret"
rate_limit_per_token = 0
rate_limit_burst = 50
rate_limit_unauthenticated = "30/m"
[[extensions]]
schema = "urn:x:y:User"
[[extensions.attributes]]
name = "a"
"#,
        )
        .unwrap();
        let c = Config::resolve(
            Some(&file),
            env(&[("SCIMD_LOG_FORMAT", "json")]),
            Settings::default(),
        )
        .unwrap();
        assert_eq!(
            c.describe(),
            r#"data_dir = "/srv/scimd"
listen = "127.0.0.1:9443"
plain_http = false
tls_cert = "/etc/scimd/tls/fullchain.pem"
tls_key = "/etc/scimd/tls/privkey.pem"
client_ca = "/etc/scimd/tls/clients.pem"
public_url = "https://scim.example.com:8443"
admin_socket = "/srv/scimd/admin.sock"
max_body_bytes = 4096
cache_mb = 32
unknown_attributes = "ignore"
password_storage = "hash"
admin_session_idle = "28800s"
admin_session_lifetime = "36000s"
admin_allow = ["10.9.0.0/16"]
admin_listen = "127.0.0.1:8444"
trusted_proxies = ["10.0.0.2/32"]
log_format = "json"
metrics_allow = ["10.0.0.0/8", "::1/128"]
metrics_token = "********"
rate_limit_per_token = 0
rate_limit_burst = 50
rate_limit_unauthenticated = "30/m"
events_signed = false
webhook_dead_letter_after = "86400s"
# extension urn:x:y:User (1 attributes) for User
"#
        );
        assert_eq!(
            c.tls(),
            Some((
                Path::new("/etc/scimd/tls/fullchain.pem"),
                Path::new("/etc/scimd/tls/privkey.pem")
            ))
        );
        // Unset optional settings are left out; the defaults are shown.
        let d = Config::resolve(None, env(&[]), Settings::default()).unwrap();
        assert_eq!(
            d.describe(),
            r#"data_dir = "./scimd-data"
listen = "0.0.0.0:8443"
plain_http = false
admin_socket = "./scimd-data/admin.sock"
max_body_bytes = 1048576
cache_mb = 32
unknown_attributes = "reject"
password_storage = "discard"
admin_session_idle = "1800s"
admin_session_lifetime = "43200s"
admin_allow = ["0.0.0.0/0", "::/0"]
trusted_proxies = []
log_format = "auto"
metrics_allow = ["127.0.0.0/8", "::1/128"]
rate_limit_per_token = "200/s"
rate_limit_burst = 400
rate_limit_unauthenticated = "20/s"
events_signed = false
webhook_dead_letter_after = "86400s"
"#
        );
    }

    #[test]
    fn rate_limits_take_units_and_zero_turns_them_off() {
        let c = Config::resolve(
            None,
            env(&[
                ("SCIMD_RATE_LIMIT_PER_TOKEN", "1/h"),
                ("SCIMD_RATE_LIMIT_BURST", "3"),
                ("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "0"),
            ]),
            Settings::default(),
        )
        .unwrap();
        let limits = c.limits();
        assert_eq!(
            limits.per_token.map(|r| r.to_string()).as_deref(),
            Some("1/h")
        );
        assert_eq!(limits.burst, 3);
        assert_eq!(limits.unauthenticated, None);
        for (var, value) in [
            ("SCIMD_RATE_LIMIT_PER_TOKEN", "fast"),
            ("SCIMD_RATE_LIMIT_BURST", "0"),
            ("SCIMD_RATE_LIMIT_BURST", "many"),
            ("SCIMD_RATE_LIMIT_UNAUTHENTICATED", "5/d"),
        ] {
            let e = Config::resolve(None, env(&[(var, value)]), Settings::default()).unwrap_err();
            let key = var.trim_start_matches("SCIMD_").to_ascii_lowercase();
            assert!(
                e.to_string().contains(&key) || e.to_string().contains(var),
                "{e}"
            );
        }
    }

    #[test]
    fn every_setting_reads_its_own_variable() {
        let keys: Vec<&str> = SETTINGS.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), 26, "{keys:?}");
        assert_eq!(
            SETTINGS
                .iter()
                .filter(|s| !s.from_env)
                .map(|s| s.key)
                .collect::<Vec<_>>(),
            ["extensions"]
        );
        for s in SETTINGS.iter().filter(|s| s.from_env) {
            let var = s.env_var().unwrap();
            assert_eq!(var, format!("SCIMD_{}", s.key.to_ascii_uppercase()));
            // Each variable alone, set to text every kind can carry except booleans: the layer
            // either holds a value or refuses it naming that variable.
            for (name, value) in [(var.clone(), "1024"), (format!("{var}_FILE"), "")] {
                let secret = tempfile::NamedTempFile::new().unwrap();
                std::fs::write(secret.path(), "1024\n").unwrap();
                let value = if value.is_empty() {
                    secret.path().display().to_string()
                } else {
                    value.to_owned()
                };
                match Settings::from_env(env(&[(&name, &value)])) {
                    Ok(got) => assert_ne!(got, Settings::default(), "{name} is not read"),
                    Err(e) => assert!(e.to_string().contains(&var), "{name}: {e}"),
                }
            }
        }
        let e = Settings::from_env(env(&[("SCIMD_MAX_BODY_BYTES", "lots")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid SCIMD_MAX_BODY_BYTES: 'lots' is not a number of bytes"
        );
        let s = Settings::from_env(env(&[
            ("SCIMD_PLAIN_HTTP", "on"),
            ("SCIMD_METRICS_ALLOW", " 10.0.0.0/8, ,::1 "),
        ]))
        .unwrap();
        assert_eq!(s.plain_http, Some(true));
        assert_eq!(
            s.metrics_allow,
            Some(vec!["10.0.0.0/8".to_owned(), "::1".to_owned()])
        );
    }

    #[test]
    fn unknown_scimd_variables_are_named_and_known_ones_are_not() {
        let names = [
            "SCIMD_LISTN",
            "SCIMD_LISTEN",
            "SCIMD_METRICS_TOKEN_FILE",
            "SCIMD_CONFIG",
            "SCIMD_LOG",
            "SCIMD_LOG_FORMAT",
            "SCIMD_EXTENSIONS",
            "SCIMD_LOG_FILE",
            "SCIMD_LISTEN_FILEX",
            "PATH",
            "scimd_listen",
            "SCIMD_LISTN",
        ]
        .map(String::from);
        assert_eq!(
            unknown_env_vars(names),
            [
                "SCIMD_EXTENSIONS",
                "SCIMD_LISTEN_FILEX",
                "SCIMD_LISTN",
                "SCIMD_LOG_FILE"
            ]
        );
        let every_known = SETTINGS
            .iter()
            .filter_map(Setting::env_var)
            .flat_map(|v| [format!("{v}_FILE"), v])
            .chain(OTHER_ENV_VARS.map(String::from));
        assert_eq!(unknown_env_vars(every_known), Vec::<String>::new());
    }

    #[test]
    fn every_setting_is_documented_in_the_shipped_file_and_the_readme() {
        let shipped = include_str!("../packaging/scimd.toml");
        let readme = include_str!("../README.md");
        for s in SETTINGS {
            let key = s.key;
            assert!(
                shipped.lines().any(|l| {
                    let l = l.strip_prefix("# ").unwrap_or(l);
                    l.starts_with(&format!("{key} =")) || l == format!("[[{key}]]")
                }),
                "packaging/scimd.toml does not document {key}"
            );
            let env = s.env_var().map_or("—".to_owned(), |v| format!("`{v}`"));
            assert!(
                readme.lines().any(|l| {
                    (l.starts_with(&format!("| `{key}` |"))
                        || l.starts_with(&format!("| `[[{key}]]` |")))
                        && l.split('|').nth(2).is_some_and(|c| c.contains(&env))
                }),
                "README's configuration table has no row for {key} with {env}"
            );
        }
    }
}
