//! Wiring: turn a parsed command line into a running server or a finished admin command.
//! `run` takes an already bound listener, so tests can bind `127.0.0.1:0`.

use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{middleware, web, App, HttpServer};
use anyhow::{bail, Context};

use crate::cli::{AdminCommand, Cli, CliCommand, TokenCommand};
use crate::config::Config;
use crate::control::{self, Admin, Request, Response};
use crate::http::{self, AppState};
use crate::scim::schema::Registry;
use crate::service::commands::Commands;
use crate::service::query::Directory;
use crate::service::writer::now_ms;
use crate::service::writer::Writer;
use crate::store::{rebuild, Store, StoreError};

/// The configuration a command line asks for: defaults < file < environment < flags.
pub fn config(cli: &Cli) -> anyhow::Result<Config> {
    Ok(Config::resolve(
        cli.common.config.as_deref(),
        |k| std::env::var(k).ok(),
        cli.settings(),
    )?)
}

/// Run a command line; the exit code is the command's verdict (verify: 1 on differences).
pub fn main(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        CliCommand::Serve(_) => {
            serve(config)?;
            Ok(ExitCode::SUCCESS)
        }
        CliCommand::Token(cmd) => token(&config, cmd),
        CliCommand::Admin(AdminCommand::SetPassword { name }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            let password = line.trim_end_matches(['\n', '\r']).to_owned();
            if password.is_empty() {
                bail!("no password on stdin (use: echo 'new password' | scimd admin set-password {name})");
            }
            match admin_request(&config, Request::AdminSetPassword { name, password })? {
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
        CliCommand::Verify => verify(&config),
        CliCommand::Backup { out } => backup(&config, &out),
        CliCommand::Restore { file, force } => restore(&config, &file, force),
        CliCommand::ExportLog { format, out } => export_log(&config, &format, out.as_deref()),
        CliCommand::CheckConfig { file } => check_config(config, file.as_deref()),
        CliCommand::RebuildViews => {
            let store = open_store(&config.data_dir)?;
            let n = rebuild::rebuild_in_place(&store)?;
            println!("rebuilt the views from {n} events");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open_store(dir: &Path) -> anyhow::Result<Store> {
    create_private_dir(dir)?;
    refuse_foreign_owner(dir)?;
    Store::open(dir).with_context(|| format!("opening the database in {}", dir.display()))
}

/// Root must not write into a data directory that belongs to the service user: the files it
/// created would be root's, and the service could no longer open its own database.
fn refuse_foreign_owner(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user of this process.
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    let owner = std::fs::metadata(dir).map(|m| m.uid()).ok();
    if let (Some(0), Some(owner)) = (me, owner) {
        if owner != 0 {
            bail!(
                "{} belongs to uid {owner}, not root: run this as that user (e.g. `sudo -u scimd scimd …`) so the service can still open its database",
                dir.display()
            );
        }
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
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
    let store = match Store::open(&config.data_dir) {
        Err(StoreError::Locked(_)) => bail!(
            "the database in {} is in use, but no server answers on {}",
            config.data_dir.display(),
            config.admin_socket.display()
        ),
        other => other?,
    };
    control::stream(&store, req, out).map_err(anyhow::Error::msg)
}

fn backup(config: &Config, out: &Path) -> anyhow::Result<ExitCode> {
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

fn restore(config: &Config, file: &Path, force: bool) -> anyhow::Result<ExitCode> {
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
    let diffs = rebuild::verify(&store)?;
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

fn export_log(config: &Config, format: &str, out: Option<&Path>) -> anyhow::Result<ExitCode> {
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

fn check_config(config: Config, file: Option<&Path>) -> anyhow::Result<ExitCode> {
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

fn verify(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(&config.data_dir)?;
    let diffs = rebuild::verify(&store)?;
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
    let store = match Store::open(&config.data_dir) {
        Err(StoreError::Locked(_)) => bail!(
            "the database in {} is in use, but no server answers on {}; is --data-dir or admin_socket different from the server's?",
            config.data_dir.display(),
            config.admin_socket.display()
        ),
        other => {
            create_private_dir(&config.data_dir)?;
            match other {
                Ok(s) => s,
                Err(_) => open_store(&config.data_dir)?,
            }
        }
    };
    let registry = Arc::new(Registry::core());
    let (writer, thread) = Writer::start(store.clone(), registry.clone())?;
    let admin = Admin {
        store,
        commands: Commands::new(writer, registry, config.password_storage),
        scim_url: config.scim_url(),
    };
    let response = admin.handle(req);
    thread.stop();
    Ok(response)
}

fn token(config: &Config, cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let (req, json) = match &cmd {
        TokenCommand::Add { name, json } => (Request::TokenAdd { name: name.clone() }, *json),
        TokenCommand::List { json } => (Request::TokenList, *json),
        TokenCommand::Revoke { id_or_name } => (
            Request::TokenRevoke {
                id_or_name: id_or_name.clone(),
            },
            false,
        ),
    };
    match admin_request(config, req)? {
        Response::Issued(t) if json => println!("{}", serde_json::to_string(&t)?),
        Response::Issued(t) => {
            println!("Token issued for client \"{}\" (id {}).", t.name, t.id);
            println!();
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
                    "{}  {:<24} created {}  last used {}  {}",
                    t.id,
                    t.name,
                    t.created,
                    t.last_used.as_deref().unwrap_or("never"),
                    t.revoked
                        .map(|r| format!("REVOKED {r}"))
                        .unwrap_or_else(|| "active".into())
                );
            }
        }
        Response::Revoked { id } => println!("revoked token {id}"),
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

/// Open everything and serve until SIGINT/SIGTERM.
pub fn serve(config: Config) -> anyhow::Result<()> {
    let listener =
        TcpListener::bind(config.listen).with_context(|| format!("binding {}", config.listen))?;
    actix_web::rt::System::new().block_on(run(listener, config))
}

/// Take over SIGTERM and SIGINT now (before anyone is told we are up, so an early signal is a
/// clean stop, not a kill); the returned future completes at the first of them.
fn stop_signals() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Reload the certificate and key on every SIGHUP (`systemctl reload scimd`).
async fn reload_on_hangup(
    mut hup: tokio::signal::unix::Signal,
    resolver: Option<Arc<crate::tls::Reloadable>>,
) {
    while hup.recv().await.is_some() {
        crate::systemd::notify("RELOADING=1");
        match &resolver {
            Some(r) => match r.reload() {
                Ok(fp) => tracing::info!(sha256_fingerprint = %fp, "TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS certificate reload failed; keeping the old one")
                }
            },
            None => tracing::info!("SIGHUP: nothing to reload (plain HTTP)"),
        }
        crate::systemd::notify("READY=1");
    }
}

/// Serve on an already bound listener until SIGINT/SIGTERM; then finish in-flight writes, flush, return.
pub async fn run(listener: TcpListener, config: Config) -> anyhow::Result<()> {
    let store = open_store(&config.data_dir)?;
    if rebuild::rebuild_interrupted(&store)? {
        bail!("a `scimd rebuild-views` was interrupted; run it again before serving");
    }
    if store.views_outdated()? {
        // Same log, new projection: derive the views again before answering from them.
        tracing::warn!(data_dir = %config.data_dir.display(), "the views were built by an older scimd; rebuilding them from the log");
        let events = rebuild::rebuild_in_place(&store)?;
        tracing::info!(events, "views rebuilt");
    }
    let registry = Arc::new(config.registry());
    let metrics = Arc::new(crate::service::metrics::Metrics::default());
    let (writer, writer_thread) =
        Writer::start_with(store.clone(), registry.clone(), metrics.clone())?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let commands = Commands::new(writer.clone(), registry.clone(), config.password_storage);
    let state = web::Data::new(AppState {
        directory: Directory::new(store.clone(), registry.clone()),
        commands: commands.clone(),
        registry,
        public_url: config.public_url.clone(),
        max_body_bytes: config.max_body_bytes,
        sessions: Arc::new(http::admin::session::Sessions::new(
            config.admin_session_idle,
        )),
        throttle: Arc::new(http::admin::session::Throttle::default()),
        usage: Arc::new(crate::service::usage::Usage::default()),
        shutdown: shutdown_rx,
        metrics,
        metrics_allow: config.metrics_allow.clone(),
        metrics_token: config.metrics_token.clone(),
        require_client_cert: config.client_ca.is_some(),
    });
    let factory = move || {
        App::new()
            .app_data(state.clone())
            .wrap(middleware::from_fn(http::access_log))
            .configure(http::configure)
            .default_service(web::to(http::no_route))
    };
    // Signals are handled below, so live-tail streams can be ended before the graceful stop.
    let server = HttpServer::new(factory)
        .shutdown_timeout(30)
        .disable_signals()
        .on_connect(|conn, ext| {
            type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
            if let Some(tls) = conn.downcast_ref::<Tls>() {
                // The verifier already checked the chain; presence is what the SCIM routes need.
                if tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .is_some_and(|c| !c.is_empty())
                {
                    ext.insert(http::context::ClientCertificate);
                }
            }
        });
    let mut resolver = None;
    let (server, scheme) = if config.plain_http {
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "serving PLAIN HTTP on a non-loopback address: bearer tokens cross the network unencrypted; use this only behind a TLS-terminating proxy");
        }
        (server.listen(listener)?, "http")
    } else {
        let tls = crate::tls::setup(config.tls(), &config.data_dir, config.client_ca.as_deref())?;
        tracing::info!(
            certificate = %tls.cert_path.display(),
            sha256_fingerprint = %tls.fingerprint,
            generated = tls.generated,
            client_certificates_required = config.client_ca.is_some(),
            "TLS certificate loaded"
        );
        resolver = Some(tls.resolver.clone());
        (server.listen_rustls_0_23(listener, tls.config)?, "https")
    };
    let admin = Admin {
        store: store.clone(),
        commands,
        scim_url: config.scim_url(),
    };
    let socket_task = control::serve(config.admin_socket.clone(), admin)
        .await
        .with_context(|| format!("admin socket {}", config.admin_socket.display()))?;
    let console = format!(
        "{}/admin/",
        config.scim_url().trim_end_matches(http::SCIM_PREFIX)
    );
    if let Some(password) = crate::service::admins::ensure_initial(&store, now_ms())? {
        // Shown once: only its hash is stored.
        tracing::warn!(
            user = crate::service::admins::INITIAL_ADMIN,
            %password,
            console = %console,
            "first start: created the console account; sign in and change the password with `scimd admin set-password admin`"
        );
    }
    if crate::store::read::tokens(store.trees())?.is_empty() {
        tracing::info!(console = %console, "no tokens yet: add one in the console (Tokens → Add Token) or with `scimd token add --name \"Entra ID\"`");
    }
    let stop = stop_signals()?;
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tracing::info!(%addr, scim_url = %config.scim_url(), admin_socket = %config.admin_socket.display(), "scimd ready");
    // One line on stdout for scripts and tests: where we listen.
    println!("scimd listening on {scheme}://{addr}");
    let server = server.run();
    let handle = server.handle();
    // The listener is bound and the store is open: tell systemd (Type=notify).
    crate::systemd::notify(&format!("READY=1\nSTATUS=serving {scheme}://{addr}"));
    let watchdog_writer = writer.clone();
    let watchdog = tokio::spawn(crate::systemd::watchdog(move || {
        watchdog_writer.is_running()
    }));
    let reload = tokio::spawn(reload_on_hangup(hup, resolver));
    let failure = writer.failure();
    let signals = tokio::spawn(async move {
        let failed = tokio::select! {
            () = stop => false,
            () = writer_failed(failure) => true,
        };
        crate::systemd::notify("STOPPING=1");
        if failed {
            tracing::error!("stopping: the log can no longer be made durable");
        } else {
            tracing::info!("stopping: finishing in-flight requests and writes");
        }
        let _ = shutdown_tx.send(true);
        handle.stop(!failed).await;
    });
    let result = server.await;
    signals.abort();
    reload.abort();
    watchdog.abort();
    socket_task.abort();
    let _ = std::fs::remove_file(&config.admin_socket);
    let failure = writer.failure().borrow().clone();
    drop(writer);
    writer_thread.stop_async().await;
    if let Some(why) = failure {
        // Exit non-zero: systemd restarts scimd, which reopens the store from what is on disk.
        bail!("{why}; stopped without acknowledging the failed batch");
    }
    tracing::info!("scimd stopped; all writes flushed");
    result.map_err(Into::into)
}

/// Resolves once the writer reports a failed flush (never, while it is healthy).
async fn writer_failed(mut failure: tokio::sync::watch::Receiver<Option<String>>) {
    loop {
        if failure.borrow_and_update().is_some() {
            return;
        }
        if failure.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
