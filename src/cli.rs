//! The command line contract (kept stable: operators and tests depend on it; see README "CLI").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Settings;

/// scimd: an on-prem SCIM 2.0 provisioning target for Entra ID, Okta and any RFC 7644 client.
#[derive(Debug, Parser)]
#[command(name = "scimd", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

/// Options every subcommand takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// TOML configuration file (also SCIMD_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory [default: ./scimd-data] (also SCIMD_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log format: auto, text, json or journald [default: auto] (also SCIMD_LOG_FORMAT).
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the server (HTTPS on 0.0.0.0:8443 unless configured otherwise).
    Serve(ServeArgs),
    /// Issue, list and revoke bearer tokens (through the running server's admin socket, or offline).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Webhook subscriptions of the change feed (through the running server's admin socket, or
    /// offline).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Console accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Validate the configuration (file, environment, flags) and print the effective settings,
    /// secrets masked; exit 1 with the reason when something is wrong.
    CheckConfig {
        /// The file to check (instead of --config / SCIMD_CONFIG / /etc/scimd/scimd.toml).
        file: Option<PathBuf>,
    },
    /// Write a consistent backup (the log and the console accounts, with a checksum); works while
    /// the server runs (through the admin socket) and when it is stopped.
    Backup {
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Restore a backup into --data-dir (which must be empty, unless --force) and rebuild the views.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace a non-empty data directory.
        #[arg(long)]
        force: bool,
    },
    /// Write the whole log, oldest first, one JSON object per line (for audit archives).
    ExportLog {
        /// Output format (only `ndjson`).
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// Where to write it [default: stdout].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Rebuild the views from the log in a scratch space and compare (exit 1 on any difference).
    Verify,
    /// Replace the views with a rebuild from the log (server stopped).
    RebuildViews,
}

/// `scimd serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Listen address [default: 0.0.0.0:8443] (also SCIMD_LISTEN).
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// PEM certificate chain (with --tls-key); default: a self-signed certificate in the data dir.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (with --tls-cert).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP (behind a TLS-terminating proxy, or on loopback for tests).
    #[arg(long)]
    pub plain_http: bool,
}

/// `scimd admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Set (or create) a console account's password, read from the first line of stdin.
    SetPassword {
        /// Account name, e.g. "admin".
        name: String,
    },
}

/// `scimd webhook …`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Subscribe a URL to the change feed; prints the subscription id and its HMAC secret (once).
    Add {
        /// Where SETs are POSTed (https://…, or http://… on a trusted network).
        #[arg(long)]
        url: String,
        /// The HMAC-SHA256 secret (at least 16 characters; default: a random one, printed).
        #[arg(long)]
        secret: Option<String>,
        /// Events wanted; repeat for several: prov:create, prov:put, prov:patch, prov:delete,
        /// prov:activate, prov:deactivate (default: all).
        #[arg(long, value_name = "EVENT")]
        event: Vec<String>,
        /// Resource types wanted; repeat for both: User, Group (default: both).
        #[arg(long, value_name = "TYPE")]
        resource_type: Vec<String>,
        /// full (SETs carry the data; the default) or notice (they name what changed).
        #[arg(long)]
        detail: Option<String>,
        /// Where delivery starts: a feed cursor, or `start` for the whole log (default: now).
        #[arg(long, value_name = "CURSOR")]
        from: Option<String>,
        /// Print exactly one JSON object {"id","secret","cursor"}.
        #[arg(long)]
        json: bool,
    },
    /// List subscriptions with their state, lag, deliveries and last error.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop delivering to a subscription until it is resumed.
    Pause {
        /// Subscription id.
        id: String,
    },
    /// Deliver again after a pause or the dead-letter state, from where it stopped.
    Resume {
        /// Subscription id.
        id: String,
    },
    /// Deliver again everything after a cursor (`start`: the whole log).
    Replay {
        /// Subscription id.
        id: String,
        /// The cursor.
        #[arg(long, value_name = "CURSOR")]
        from: String,
    },
    /// Delete a subscription.
    Remove {
        /// Subscription id.
        id: String,
    },
}

/// `scimd token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token for a client; prints the SCIM base URL and the token (shown once).
    Add {
        /// Client name, e.g. "Entra ID".
        #[arg(long)]
        name: String,
        /// What the token may do; repeat for several: scim:write (identity providers; the
        /// default), scim:read (read-only SCIM), events:read (the change feed only).
        #[arg(long, value_name = "SCOPE")]
        scope: Vec<String>,
        /// Print exactly one JSON object {"id","name","token","scim_url","scopes"}.
        #[arg(long)]
        json: bool,
    },
    /// List tokens with their client, creation, last use and revocation.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id or by client name (takes effect on the next request).
    Revoke {
        /// Token id, or the client name of exactly one active token.
        id_or_name: String,
    },
}

impl Cli {
    /// The flag layer of the configuration.
    pub fn settings(&self) -> Settings {
        let mut s = Settings {
            data_dir: self.common.data_dir.clone(),
            log_format: self.common.log_format.clone(),
            ..Settings::default()
        };
        if let CliCommand::Serve(a) = &self.command {
            s.listen = a.listen.clone();
            s.tls_cert = a.tls_cert.clone();
            s.tls_key = a.tls_key.clone();
            if a.plain_http {
                s.plain_http = Some(true);
            }
        }
        s
    }
}
