//! The commands that run without serving: tokens, console passwords, backup, restore, log
//! export, verify, rebuild-views and check-config. Those that change state or read the whole
//! log ask the running server over the admin socket when there is one, and open the database
//! themselves when there is not (sled lets one process open it).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::cli::{TokenCommand, WebhookCommand};
use crate::config::Config;
use crate::control::{self, Admin, Request, Response};
use crate::scim::schema::Registry;
use crate::service::commands::Commands;
use crate::service::writer::Writer;
use crate::store::{rebuild, Store, StoreError};

use super::{create_private_dir, open_store, refuse_foreign_owner, restrict_existing};

/// `scimd admin set-password NAME`: the new password comes on stdin, never on the command line.
pub(super) fn set_password(config: &Config, name: String) -> anyhow::Result<ExitCode> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("no password on stdin (use: echo 'new password' | scimd admin set-password {name})");
    }
    match admin_request(config, Request::AdminSetPassword { name, password })? {
        Response::PasswordSet { name } => {
            println!("password set for console account '{name}'");
            Ok(ExitCode::SUCCESS)
        }
        Response::Error { message } => {
            eprintln!("scimd: {message}");
            Ok(ExitCode::FAILURE)
        }
        other => bail!("unexpected answer from the server: {other:?}"),
    }
}

/// `scimd rebuild-views`: replace the views with a fresh projection of the log.
pub(super) fn rebuild_views(config: &Config) -> anyhow::Result<ExitCode> {
    let mut store = open_store(config)?;
    let n = rebuild::rebuild_in_place(&mut store)?;
    println!("rebuilt the views from {n} events");
    Ok(ExitCode::SUCCESS)
}

/// Run a streaming request through the running server, or against the database when none runs.
fn stream_request(
    config: &Config,
    req: &Request,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    match control::call_stream(&config.admin_socket, req, out) {
        Ok(Response::Stream) => return Ok(()),
        Ok(Response::Error { message }) => bail!("{message}"),
        Ok(other) => bail!("unexpected answer from the server: {other:?}"),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) => {}
        Err(e) => return Err(e).context("talking to the server"),
    }
    let store = match Store::open_with_cache(&config.data_dir, config.cache_mb) {
        Err(StoreError::Locked(_)) => bail!(
            "the database in {} is in use, but no server answers on {}",
            config.data_dir.display(),
            config.admin_socket.display()
        ),
        other => other?,
    };
    control::stream(&store, req, out).map_err(anyhow::Error::msg)
}

pub(super) fn backup(config: &Config, out: &Path) -> anyhow::Result<ExitCode> {
    // Written next to the target and renamed, so a failed backup never leaves a half file.
    let tmp = out.with_extension("partial");
    let result = (|| -> anyhow::Result<crate::store::backup::Summary> {
        // Owner-only: a backup holds the whole log, token hashes and console password hashes.
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?
        };
        stream_request(config, &Request::Backup, &mut file)?;
        file.sync_all()?;
        let summary = crate::store::backup::check(std::fs::File::open(&tmp)?)
            .context("the backup does not read back correctly")?;
        std::fs::rename(&tmp, out)?;
        Ok(summary)
    })();
    match result {
        Ok(s) => {
            println!(
                "backup written to {}: {} log records, {} console accounts",
                out.display(),
                s.log_records,
                s.admins
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

pub(super) fn restore(config: &Config, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let dir = &config.data_dir;
    if !crate::store::backup::is_empty_dir(dir) {
        if !force {
            bail!(
                "{} is not empty; restore into an empty directory, or add --force to replace it",
                dir.display()
            );
        }
        if control::call(&config.admin_socket, &Request::Ping).is_ok() {
            bail!(
                "a server is running on {}; stop it before restoring",
                dir.display()
            );
        }
        refuse_foreign_owner(dir)?;
        crate::store::backup::clear_dir(dir)?;
    }
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    create_private_dir(dir)?;
    let (summary, store) = crate::store::backup::restore(input, dir)?;
    let diffs = rebuild::verify_in(&store, &dir.join("verify-scratch"), config.cache_mb)?;
    if !diffs.is_empty() {
        bail!("the restored views differ from a rebuild: {diffs:?}");
    }
    println!(
        "restored {} log records and {} console accounts into {}; views rebuilt and verified",
        summary.log_records,
        summary.admins,
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub(super) fn export_log(
    config: &Config,
    format: &str,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    if format != "ndjson" {
        bail!("unknown format '{format}' (only ndjson)");
    }
    match out {
        Some(path) => {
            let mut file = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?,
            );
            stream_request(config, &Request::ExportLog, &mut file)?;
            std::io::Write::flush(&mut file)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            stream_request(config, &Request::ExportLog, &mut lock)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn check_config(config: Config, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let config = match file {
        None => config,
        Some(f) => match Config::resolve(Some(f), |k| std::env::var(k).ok(), Default::default()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("scimd: {e}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let mut problems = Vec::new();
    if let Some((cert, key)) = config.tls() {
        if let Err(e) = crate::tls::check_pair(cert, key) {
            problems.push(format!("TLS: {e}"));
        }
    }
    if let Some(ca) = &config.client_ca {
        if let Err(e) = crate::tls::load_certs(ca) {
            problems.push(format!("client_ca: {e}"));
        }
    }
    if let Some(parent) = config
        .data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        if !parent.exists() {
            problems.push(format!(
                "data_dir: the parent directory {} does not exist",
                parent.display()
            ));
        }
    }
    print!("{}", config.describe());
    if problems.is_empty() {
        eprintln!("configuration is valid");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("scimd: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

pub(super) fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(config)?;
    let diffs = rebuild::verify_in(
        &store,
        &config.data_dir.join("verify-scratch"),
        config.cache_mb,
    )?;
    if diffs.is_empty() {
        let events = store.next_seq()?.saturating_sub(1);
        println!("ok: the views match a rebuild from the log ({events} log records)");
        return Ok(ExitCode::SUCCESS);
    }
    for d in &diffs {
        println!(
            "MISMATCH in {}: {} differing keys; only live {:?}; only rebuilt {:?}; changed {:?}",
            d.tree, d.count, d.only_live, d.only_rebuilt, d.changed
        );
    }
    println!("run `scimd rebuild-views` (server stopped) to replace the views");
    Ok(ExitCode::from(1))
}

/// Run an admin request through the running server, or offline when none runs.
fn admin_request(config: &Config, req: Request) -> anyhow::Result<Response> {
    match control::call(&config.admin_socket, &req) {
        Ok(r) => return Ok(r),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) => {}
        Err(e) => {
            return Err(e).with_context(|| {
                format!("talking to the server at {}", config.admin_socket.display())
            })
        }
    }
    // The directory first: sled would create it (0755) on its own.
    create_private_dir(&config.data_dir)?;
    let store = match Store::open_with_cache(&config.data_dir, config.cache_mb) {
        Err(StoreError::Locked(_)) => bail!(
            "the database in {} is in use, but no server answers on {}; is --data-dir or admin_socket different from the server's?",
            config.data_dir.display(),
            config.admin_socket.display()
        ),
        Ok(store) => {
            restrict_existing(&config.data_dir);
            store
        }
        Err(_) => open_store(config)?,
    };
    let registry = Arc::new(Registry::core());
    let (writer, thread) = Writer::start(store.clone(), registry.clone())?;
    let webhooks = crate::service::webhooks::Webhooks::offline(
        store.clone(),
        registry.clone(),
        writer.subscribe(),
        crate::service::webhooks::Options {
            issuer: config.scim_url(),
            signer: None,
            dead_letter_after: config.webhook_dead_letter_after,
            backoff: crate::service::webhooks::Backoff::default(),
        },
    )?;
    let admin = Admin {
        store,
        commands: Commands::new(writer, registry, config.password_storage),
        scim_url: config.scim_url(),
        webhooks,
    };
    let response = admin.handle(req);
    thread.stop();
    Ok(response)
}

/// `scimd webhook …`: through the running server's admin socket, or on the stopped database.
pub(super) fn webhook(config: &Config, cmd: WebhookCommand) -> anyhow::Result<ExitCode> {
    let change = |id: &str, change: &str, cursor: Option<String>| Request::WebhookChange {
        id: id.to_owned(),
        change: change.to_owned(),
        cursor,
    };
    let (req, json) = match cmd {
        WebhookCommand::Add {
            url,
            secret,
            event,
            resource_type,
            detail,
            from,
            json,
        } => {
            let detail = match detail.as_deref() {
                None => crate::feed::set::Detail::Full,
                Some(d) => d
                    .parse()
                    .map_err(|_| anyhow::anyhow!("detail '{d}' is neither 'full' nor 'notice'"))?,
            };
            let new = crate::service::webhooks::NewWebhook {
                url,
                secret,
                events: event,
                resource_types: resource_type,
                detail,
                from,
            };
            (Request::WebhookAdd { new }, json)
        }
        WebhookCommand::List { json } => (Request::WebhookList, json),
        WebhookCommand::Pause { id } => (change(&id, "pause", None), false),
        WebhookCommand::Resume { id } => (change(&id, "resume", None), false),
        WebhookCommand::Remove { id } => (change(&id, "remove", None), false),
        WebhookCommand::Replay { id, from } => (change(&id, "replay", Some(from)), false),
    };
    respond(config, req, json)
}

pub(super) fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let (req, json) = match &cmd {
        TokenCommand::Add { name, scope, json } => (
            Request::TokenAdd {
                name: name.clone(),
                scopes: scope.clone(),
            },
            *json,
        ),
        TokenCommand::List { json } => (Request::TokenList, *json),
        TokenCommand::Revoke { id_or_name } => (
            Request::TokenRevoke {
                id_or_name: id_or_name.clone(),
            },
            false,
        ),
    };
    respond(config, req, json)
}

fn respond(config: &Config, req: Request, json: bool) -> anyhow::Result<ExitCode> {
    match admin_request(config, req)? {
        Response::Issued(t) if json => println!("{}", serde_json::to_string(&t)?),
        Response::Issued(t) => {
            println!("Token issued for client \"{}\" (id {}).", t.name, t.id);
            println!();
            println!(
                "Scopes:                                   {}",
                t.scopes.join(" ")
            );
            println!("SCIM Server URL (Entra ID: Tenant URL):   {}", t.scim_url);
            println!("Token (Entra ID: Secret Token):           {}", t.token);
            println!();
            println!("The token is shown only this once; scimd keeps only its hash.");
        }
        Response::Tokens { tokens } if json => println!("{}", serde_json::to_string(&tokens)?),
        Response::Tokens { tokens } => {
            if tokens.is_empty() {
                println!("no tokens; issue one with: scimd token add --name \"Entra ID\"");
            }
            for t in tokens {
                println!(
                    "{}  {:<24} {:<22} created {}  last used {}  {}",
                    t.id,
                    t.name,
                    t.scopes.join(","),
                    t.created,
                    t.last_used.as_deref().unwrap_or("never"),
                    t.revoked
                        .map(|r| format!("REVOKED {r}"))
                        .unwrap_or_else(|| "active".into())
                );
            }
        }
        Response::Revoked { id } => println!("revoked token {id}"),
        Response::WebhookCreated(w) if json => println!("{}", serde_json::to_string(&w)?),
        Response::WebhookCreated(w) => {
            println!(
                "Webhook subscription {} created; delivery starts after {}.",
                w.id, w.cursor
            );
            println!();
            println!("Secret (verify X-Scimd-Signature with it):   {}", w.secret);
            println!();
            println!("The secret is shown only this once.");
        }
        Response::Webhooks { webhooks } if json => {
            println!("{}", serde_json::to_string(&webhooks)?);
        }
        Response::Webhooks { webhooks } => {
            if webhooks.is_empty() {
                println!(
                    "no webhook subscriptions; make one with: scimd webhook add --url https://…"
                );
            }
            for w in webhooks {
                println!(
                    "{}  {:<11} lag {:<6} delivered {:<6} {}  {}",
                    w.id,
                    w.state,
                    w.lag,
                    w.delivered,
                    w.url,
                    w.last_error
                        .map(|e| format!("last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        Response::WebhookChanged { id, change } => println!("webhook {id}: {change} done"),
        Response::PasswordSet { name } => println!("password set for '{name}'"),
        Response::Stream => bail!("unexpected streamed answer"),
        Response::Pong => println!("pong"),
        Response::Error { message } => {
            eprintln!("scimd: {message}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
