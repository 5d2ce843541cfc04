//! Administration that works in both process modes. sled lets one process open a database, so while
//! the server runs, `scimd token …` talks to it over an owner-only unix socket (one JSON request line,
//! one JSON response line); when it does not run, the CLI opens the database itself. Both paths end
//! in [`Admin`], so they behave the same.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::command::Command;
use crate::domain::ids::ClientName;
use crate::domain::scope::Scopes;
use crate::domain::write::{Actor, Envelope};
use crate::service::commands::Commands;
use crate::service::tokens::{self, TokenInfo};
use crate::store::Store;

/// Longest request line accepted on the socket.
const MAX_LINE: u64 = 64 * 1024;

/// A request to the admin socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Is anyone there?
    Ping,
    /// Issue a token.
    TokenAdd {
        /// Client name.
        name: String,
        /// Scope names (none: `scim:write`).
        #[serde(default)]
        scopes: Vec<String>,
    },
    /// List tokens.
    TokenList,
    /// Revoke a token by id or (unambiguous) client name.
    TokenRevoke {
        /// Id or name.
        id_or_name: String,
    },
    /// Stream a consistent backup (answer: `Stream`, then the backup bytes).
    Backup,
    /// Stream the log as NDJSON (answer: `Stream`, then the lines).
    ExportLog,
    /// Make a webhook subscription.
    WebhookAdd {
        /// What to make.
        #[serde(flatten)]
        new: crate::service::webhooks::NewWebhook,
    },
    /// List webhook subscriptions.
    WebhookList,
    /// Pause, resume or delete a subscription, or replay it from a cursor.
    WebhookChange {
        /// The subscription.
        id: String,
        /// `pause`, `resume`, `remove` or `replay`.
        change: String,
        /// For `replay`: the cursor (or `start`).
        #[serde(default)]
        cursor: Option<String>,
    },
    /// Set (or create) a console account's password.
    AdminSetPassword {
        /// Account name.
        name: String,
        /// The new password (travels only over the owner-only socket).
        password: String,
    },
}

impl Request {
    /// The operation's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ping => "ping",
            Self::TokenAdd { .. } => "token_add",
            Self::TokenList => "token_list",
            Self::TokenRevoke { .. } => "token_revoke",
            Self::AdminSetPassword { .. } => "admin_set_password",
            Self::Backup => "backup",
            Self::WebhookAdd { .. } => "webhook_add",
            Self::WebhookList => "webhook_list",
            Self::WebhookChange { .. } => "webhook_change",
            Self::ExportLog => "export_log",
        }
    }
}

/// A newly issued token as shown once to the admin (`token add --json` prints exactly this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Token id.
    pub id: String,
    /// Client name.
    pub name: String,
    /// The bearer token (never shown again).
    pub token: String,
    /// The SCIM base URL for the identity provider's Tenant URL.
    pub scim_url: String,
    /// Its scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Response {
    /// To `Ping`.
    Pong,
    /// To `TokenAdd`.
    Issued(IssuedToken),
    /// To `TokenList`.
    Tokens {
        /// The tokens.
        tokens: Vec<TokenInfo>,
    },
    /// To `WebhookAdd`.
    WebhookCreated(crate::service::webhooks::CreatedWebhook),
    /// To `WebhookList`.
    Webhooks {
        /// The subscriptions.
        webhooks: Vec<crate::service::webhooks::WebhookInfo>,
    },
    /// To `WebhookChange`.
    WebhookChanged {
        /// The subscription.
        id: String,
        /// What was done.
        change: String,
    },
    /// To `TokenRevoke`.
    Revoked {
        /// Token id.
        id: String,
    },
    /// Raw bytes follow until the connection closes.
    Stream,
    /// To `AdminSetPassword`.
    PasswordSet {
        /// Account name.
        name: String,
    },
    /// Any failure, in words for the operator.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// The operations, over an open store and a running writer.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The store.
    pub store: Store,
    /// The write service.
    pub commands: Commands,
    /// SCIM base URL to show with new tokens.
    pub scim_url: String,
    /// Webhook subscriptions.
    pub webhooks: crate::service::webhooks::Webhooks,
}

fn cli_actor() -> Actor {
    Actor {
        token_id: None,
        client: "cli".into(),
    }
}

impl Admin {
    /// Carry out one request (blocking: call from a blocking thread).
    pub fn handle(&self, req: Request) -> Response {
        match self.try_handle(req) {
            Ok(r) => r,
            Err(message) => Response::Error { message },
        }
    }

    fn submit(&self, command: Command) -> Result<(), String> {
        let envelope = Envelope {
            actor: cli_actor(),
            request_id: uuid::Uuid::new_v4().simple().to_string(),
            client_addr: None,
        };
        self.commands
            .execute_blocking(&envelope, command)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Write what a streaming request asks for to `out`.
    pub fn stream(&self, req: &Request, out: &mut dyn Write) -> Result<(), String> {
        stream(&self.store, req, out)
    }

    fn try_handle(&self, req: Request) -> Result<Response, String> {
        match req {
            Request::Ping => Ok(Response::Pong),
            Request::Backup | Request::ExportLog => {
                Err("this request streams its answer; use Admin::stream".into())
            }
            Request::TokenAdd { name, scopes } => {
                let name = ClientName::try_from(name.as_str()).map_err(|e| e.to_string())?;
                let scopes = Scopes::parse(&scopes).map_err(|e| e.to_string())?;
                let t = tokens::generate();
                let names = scopes.names().into_iter().map(str::to_owned).collect();
                self.submit(tokens::issue_command(&t, name.clone(), None, scopes))?;
                Ok(Response::Issued(IssuedToken {
                    id: t.id.to_string(),
                    name: name.to_string(),
                    token: t.token,
                    scim_url: self.scim_url.clone(),
                    scopes: names,
                }))
            }
            Request::TokenList => Ok(Response::Tokens {
                tokens: tokens::list(&self.store).map_err(|e| e.to_string())?,
            }),
            Request::AdminSetPassword { name, password } => {
                crate::service::admins::set_password(
                    &self.store,
                    &name,
                    &password,
                    crate::service::writer::now_ms(),
                )
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                Ok(Response::PasswordSet { name })
            }
            Request::WebhookAdd { new } => {
                let created = self.webhooks.add(new).map_err(|e| e.to_string())?;
                Ok(Response::WebhookCreated(created))
            }
            Request::WebhookList => Ok(Response::Webhooks {
                webhooks: self.webhooks.list().map_err(|e| e.to_string())?,
            }),
            Request::WebhookChange { id, change, cursor } => {
                let w = &self.webhooks;
                match change.as_str() {
                    "pause" => w.pause(&id),
                    "resume" => w.resume(&id),
                    "remove" => w.remove(&id),
                    "replay" => w.replay(&id, cursor.as_deref().unwrap_or("start")),
                    other => return Err(format!("unknown webhook change '{other}'")),
                }
                .map_err(|e| e.to_string())?;
                Ok(Response::WebhookChanged { id, change })
            }
            Request::TokenRevoke { id_or_name } => {
                let id = tokens::find(&self.store, &id_or_name).map_err(|e| e.to_string())??;
                self.submit(Command::RevokeToken { id })?;
                Ok(Response::Revoked { id: id.to_string() })
            }
        }
    }
}

/// Listen on `path` (owner-only) and serve requests until the task is dropped.
pub async fn serve(path: PathBuf, admin: Admin) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another scimd answers on {}", path.display()),
            ));
        }
        // A socket left by a crashed server: nobody listens on it any more.
        std::fs::remove_file(&path)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Bind inside a fresh owner-only directory, restrict the socket, then move it into place: the
    // socket is never reachable with looser permissions, whatever the umask or parent directory.
    let staging = path.with_file_name(format!(".scimd-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let staged = staging.join("admin.sock");
    let listener = tokio::net::UnixListener::bind(&staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&staged, &path)?;
    std::fs::remove_dir(&staging)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let admin = admin.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, admin).await {
                    tracing::warn!(error = %e, "admin socket connection failed");
                }
            });
        }
    }))
}

async fn connection(stream: tokio::net::UnixStream, admin: Admin) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(read.take(MAX_LINE))
        .read_line(&mut line)
        .await?;
    let request = serde_json::from_str::<Request>(&line);
    if let Ok(req @ (Request::Backup | Request::ExportLog)) = &request {
        tracing::info!(op = req.name(), "admin socket request");
        write.write_all(b"{\"result\":\"stream\"}\n").await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        let req = req.clone();
        let producer = tokio::task::spawn_blocking(move || {
            let mut sink = ChannelWriter { tx };
            admin.stream(&req, &mut sink)
        });
        while let Some(chunk) = rx.recv().await {
            write.write_all(&chunk).await?;
        }
        if let Ok(Err(e)) = producer.await {
            // The client notices the truncation (backups carry a checksum).
            tracing::error!(error = %e, "streaming over the admin socket failed");
        }
        return write.shutdown().await;
    }
    let response = match request {
        Ok(req) => {
            // Never log the request itself: it may carry a password.
            tracing::info!(op = req.name(), "admin socket request");
            tokio::task::spawn_blocking(move || admin.handle(req))
                .await
                .unwrap_or_else(|e| Response::Error {
                    message: e.to_string(),
                })
        }
        Err(e) => Response::Error {
            message: format!("bad request: {e}"),
        },
    };
    let mut out = serde_json::to_vec(&response).unwrap_or_default();
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

/// Write what a streaming request (backup, log export) asks for from `store` to `out`.
pub fn stream(store: &Store, req: &Request, out: &mut dyn Write) -> Result<(), String> {
    match req {
        Request::Backup => crate::store::backup::write(store, out)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Request::ExportLog => crate::report::activity::export_log(store.trees(), out)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => Err("not a streaming request".into()),
    }
}

/// `Write` into a channel, a chunk per call (runs on a blocking thread).
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(buf.to_vec())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Send a streaming request to a running server and copy the stream into `out`.
pub fn call_stream(path: &Path, req: &Request, out: &mut dyn Write) -> std::io::Result<Response> {
    let mut stream = UnixStream::connect(path)?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    let response: Response = serde_json::from_str(&answer).map_err(std::io::Error::other)?;
    if response == Response::Stream {
        std::io::copy(&mut reader, out)?;
    }
    Ok(response)
}

/// Send one request to a running server. `Err` with `NotFound`/`ConnectionRefused` means none runs.
pub fn call(path: &Path, req: &Request) -> std::io::Result<Response> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    serde_json::from_str(&answer).map_err(std::io::Error::other)
}
