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
    Store::open(dir).with_context(|| format!("opening the database in {}", dir.display()))
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
    let (writer, thread) = Writer::start(store.clone(), Arc::new(Registry::core()))?;
    let admin = Admin {
        store,
        writer,
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

/// Wait for SIGTERM or SIGINT.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Reload the certificate and key on every SIGHUP (`systemctl reload scimd`).
async fn reload_on_hangup(resolver: Option<Arc<crate::tls::Reloadable>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
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
    let registry = Arc::new(config.registry());
    let metrics = Arc::new(crate::service::metrics::Metrics::default());
    let (writer, writer_thread) =
        Writer::start_with(store.clone(), registry.clone(), metrics.clone())?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let state = web::Data::new(AppState {
        directory: Directory::new(store.clone(), registry.clone()),
        writer: writer.clone(),
        registry,
        public_url: config.public_url.clone(),
        max_body_bytes: config.max_body_bytes,
        password_storage: config.password_storage,
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
        let tls = crate::tls::setup(
            config.tls.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            &config.data_dir,
            config.client_ca.as_deref(),
        )?;
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
        writer: writer.clone(),
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
    if crate::store::read::tokens(&store.trees)?.is_empty() {
        tracing::info!(console = %console, "no tokens yet: add one in the console (Tokens → Add Token) or with `scimd token add --name \"Entra ID\"`");
    }
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
    let reload = tokio::spawn(reload_on_hangup(resolver));
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        crate::systemd::notify("STOPPING=1");
        tracing::info!("stopping: finishing in-flight requests and writes");
        let _ = shutdown_tx.send(true);
        handle.stop(true).await;
    });
    let result = server.await;
    signals.abort();
    reload.abort();
    watchdog.abort();
    socket_task.abort();
    let _ = std::fs::remove_file(&config.admin_socket);
    drop(writer);
    writer_thread.stop_async().await;
    tracing::info!("scimd stopped; all writes flushed");
    result.map_err(Into::into)
}
