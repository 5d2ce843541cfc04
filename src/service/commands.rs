//! The write service: the one door every write goes through — SCIM handlers, `/Bulk`, the admin
//! API and the admin socket.
//!
//! [`Commands::execute`] takes who is writing (an [`Envelope`]) and what they ask for, prepares the
//! command (parses and validates the body against the schemas, hashes a password on the blocking
//! pool), submits it to the writer, records a refusal at any stage as a log record (so the activity
//! report shows every failed write; the request body goes along with the submission, moved rather
//! than copied, and the log keeps it, masked, only when the write is refused), and returns [`Written`]: the target's id, the sequence number
//! of its last event and its row as the append transaction left it. A caller renders that row; it
//! never reads the views again after a write.

use std::sync::Arc;

use serde_json::Value;

use crate::domain::command::{Command, IfMatch};
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::write::{Answer, Envelope, Outcome, Sent, Submission, Written};
use crate::scim::error::ScimError;
use crate::scim::patch;
use crate::scim::resource::parse_request;
use crate::scim::schema::{Registry, ResourceKind};

use super::error::{Result, ServiceError};
use super::passwords::{self, PasswordStorage};
use super::writer::Writer;

/// The four SCIM writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// POST
    Create,
    /// PUT
    Replace,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Write {
    /// The action recorded when the write is refused.
    pub fn action(self, kind: ResourceKind) -> Action {
        let user = kind == ResourceKind::User;
        match self {
            Self::Create if user => Action::CreateUser,
            Self::Create => Action::CreateGroup,
            Self::Replace if user => Action::ReplaceUser,
            Self::Replace => Action::ReplaceGroup,
            Self::Patch if user => Action::PatchUser,
            Self::Patch => Action::PatchGroup,
            Self::Delete if user => Action::DeleteUser,
            Self::Delete => Action::DeleteGroup,
        }
    }
}

/// A SCIM write as the HTTP layer received it.
#[derive(Debug, Clone)]
pub struct ResourceWrite {
    /// Users or Groups.
    pub kind: ResourceKind,
    /// Which write.
    pub write: Write,
    /// The target id from the path (`None` for a create).
    pub id: Option<String>,
    /// The body, or why it could not be read (recorded as a refusal like any other).
    pub body: std::result::Result<Value, BadBody>,
    /// `If-Match`.
    pub if_match: Option<IfMatch>,
}

/// A body that could not be read as JSON: why, and the bytes that came (a refusal's record keeps
/// them, masked).
#[derive(Debug, Clone)]
pub struct BadBody {
    /// The error the client gets.
    pub error: ScimError,
    /// The first bytes received (at most [`crate::domain::write::BODY_CAP`]).
    pub head: Vec<u8>,
    /// Bytes received in all (as far as they were read).
    pub size: u64,
}

impl From<BadBody> for Sent {
    fn from(b: BadBody) -> Self {
        Self::Unparsed {
            head: b.head,
            size: b.size,
        }
    }
}

/// What a caller asks the write service to do.
#[derive(Debug, Clone)]
pub enum WriteRequest {
    /// A SCIM write.
    Resource(ResourceWrite),
    /// A command the caller built itself (issuing or revoking a token).
    Command(Command),
}

/// The write service.
#[derive(Clone, Debug)]
pub struct Commands {
    writer: Writer,
    reg: Arc<Registry>,
    passwords: PasswordStorage,
}

impl Commands {
    /// A write service over `writer`.
    pub fn new(writer: Writer, reg: Arc<Registry>, passwords: PasswordStorage) -> Self {
        Self {
            writer,
            reg,
            passwords,
        }
    }

    /// The writer behind it (for readiness and the live tail's durable sequence number).
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Prepare, submit and answer one write. `answer` says whether the row handed back carries
    /// the memberships after the write.
    pub async fn execute(
        &self,
        envelope: &Envelope,
        request: WriteRequest,
        answer: Answer,
    ) -> Result<Written> {
        let (action, target, prepared, sent) = match request {
            WriteRequest::Command(command) => {
                (command.action(), command.target_id(), Ok(command), None)
            }
            WriteRequest::Resource(w) => {
                let target = match w.write {
                    Write::Create => None,
                    _ => w.id.clone(),
                };
                let action = w.write.action(w.kind);
                let prepared = match prepare(&self.reg, &w) {
                    Ok((command, None)) => Ok(command),
                    Ok((command, Some(password))) => self.keep_password(command, password).await,
                    Err(e) => Err(e),
                };
                // The body goes along (moved, not copied) in case the write is refused.
                let sent = match (w.write, w.body) {
                    (Write::Delete, _) => Sent::Nothing,
                    (_, Ok(v)) => Sent::Json(v),
                    (_, Err(bad)) => bad.into(),
                };
                (action, target, prepared, Some(sent))
            }
        };
        let command = match prepared {
            Ok(command) => command,
            Err(e) => return Err(self.refuse(envelope, action, target, sent, e).await),
        };
        let outcome = self
            .writer
            .submit(Submission {
                command,
                envelope: envelope.clone(),
                answer,
                sent,
            })
            .await?;
        accepted(outcome)
    }

    /// [`Commands::execute`] of a command built by the caller, from a thread outside the async
    /// runtime (the admin socket).
    pub fn execute_blocking(&self, envelope: &Envelope, command: Command) -> Result<Written> {
        let outcome = self.writer.submit_blocking(Submission::new(
            command,
            envelope.clone(),
            Answer::default(),
        ))?;
        accepted(outcome)
    }

    /// Record a write refused before it became a command, then hand back the error for the client.
    async fn refuse(
        &self,
        envelope: &Envelope,
        action: Action,
        target_id: Option<String>,
        sent: Option<Sent>,
        error: ServiceError,
    ) -> ServiceError {
        let ServiceError::Rejected(rejection) = &error else {
            return error;
        };
        let refused = Command::Refused {
            action,
            target_id,
            rejection: rejection.clone(),
        };
        let submitted = self
            .writer
            .submit(Submission {
                command: refused,
                envelope: envelope.clone(),
                answer: Answer::default(),
                sent,
            })
            .await;
        if let Err(e) = submitted {
            tracing::warn!(error = %e, "cannot record a refused write");
        }
        error
    }

    /// Hash the password into the command, or drop it, as configured. Hashing is deliberately
    /// slow, so it runs on the blocking pool.
    async fn keep_password(&self, mut command: Command, password: String) -> Result<Command> {
        if self.passwords == PasswordStorage::Discard {
            return Ok(command);
        }
        let hashed = tokio::task::spawn_blocking(move || passwords::hash(&password))
            .await
            .map_err(|_| ServiceError::WriterGone)?
            .map_err(|e| {
                ServiceError::Store(crate::store::StoreError::Io(format!(
                    "password hashing failed: {e}"
                )))
            })?;
        if let Command::CreateUser { password_hash, .. }
        | Command::ReplaceUser { password_hash, .. }
        | Command::PatchUser { password_hash, .. } = &mut command
        {
            *password_hash = Some(hashed);
        }
        Ok(command)
    }
}

/// An outcome as the caller sees it: what was written, or the rejection as an error.
fn accepted(outcome: Outcome) -> Result<Written> {
    match outcome {
        Outcome::Written(w) => Ok(w),
        Outcome::Refused { rejection, .. } => Err(rejection.into()),
    }
}

/// Parse an id from the path; an id that cannot exist is simply not found.
fn target_id(kind: ResourceKind, id: &str) -> Result<[u8; 16]> {
    UserId::try_from(id).map(|u| *u.as_bytes()).map_err(|_| {
        Rejection::NotFound {
            kind,
            id: id.to_owned(),
        }
        .into()
    })
}

/// Turn a write request into a command (validation at the boundary), and take out the clear-text
/// password if the request carries one. Creates get a fresh random id here: sled may re-run the
/// append transaction, and `decide` is pure.
fn prepare(reg: &Registry, w: &ResourceWrite) -> Result<(Command, Option<String>)> {
    let kind = w.kind;
    let raw = match (w.write, w.id.as_deref()) {
        (Write::Create, _) => match kind {
            ResourceKind::User => *UserId::time_ordered().as_bytes(),
            ResourceKind::Group => *GroupId::time_ordered().as_bytes(),
        },
        (_, Some(id)) => target_id(kind, id)?,
        (_, None) => {
            return Err(ScimError::InvalidValue("the request names no resource id".into()).into())
        }
    };
    let body = || -> Result<&Value> {
        match &w.body {
            Ok(v) => Ok(v),
            Err(bad) => Err(bad.error.clone().into()),
        }
    };
    let (user, group) = (UserId::from_bytes(raw), GroupId::from_bytes(raw));
    let if_match = w.if_match.clone();
    let mut password = None;
    let command = match (w.write, kind) {
        (Write::Create, _) => {
            let mut input = parse_request(reg, kind, body()?)?;
            password = input.password.take();
            match kind {
                ResourceKind::User => Command::CreateUser {
                    id: user,
                    input,
                    password_hash: None,
                },
                ResourceKind::Group => Command::CreateGroup { id: group, input },
            }
        }
        (Write::Replace, _) => {
            let mut input = parse_request(reg, kind, body()?)?;
            password = input.password.take();
            match kind {
                ResourceKind::User => Command::ReplaceUser {
                    id: user,
                    input,
                    if_match,
                    password_hash: None,
                },
                ResourceKind::Group => Command::ReplaceGroup {
                    id: group,
                    input,
                    if_match,
                },
            }
        }
        (Write::Patch, ResourceKind::User) => {
            let mut ops = patch::parse_patch(body()?)?;
            password = patch::take_password(&mut ops);
            Command::PatchUser {
                id: user,
                ops,
                if_match,
                password_hash: None,
            }
        }
        (Write::Patch, ResourceKind::Group) => {
            let ops = patch::parse_patch(body()?)?;
            let (ops, members) = patch::split_members(reg, ops)?;
            Command::PatchGroup {
                id: group,
                ops,
                members,
                if_match,
            }
        }
        (Write::Delete, ResourceKind::User) => Command::DeleteUser { id: user, if_match },
        (Write::Delete, ResourceKind::Group) => Command::DeleteGroup {
            id: group,
            if_match,
        },
    };
    Ok((command, password.filter(|p| !p.is_empty())))
}
