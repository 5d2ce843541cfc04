//! Serving: open the store (rebuilding views an older scimd built), start the writer, the HTTP
//! server (TLS or plain), the admin socket, signal handling (SIGTERM/SIGINT stop, SIGHUP
//! reloads the certificate), the systemd watchdog, and the non-zero exit when the writer can no
//! longer make the log durable.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, HttpServer};
use anyhow::{bail, Context};

use crate::config::Config;
use crate::control::{self, Admin};
use crate::http::{self, AppState};
use crate::service::commands::Commands;
use crate::service::query::Directory;
use crate::service::ratelimit::{self, RateLimiter};
use crate::service::writer::now_ms;
use crate::service::writer::Writer;
use crate::store::{rebuild, Store};

use super::open_store;

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
/// Returns an error (the process exits non-zero) when the log could not be made durable.
pub async fn run(listener: TcpListener, config: Config) -> anyhow::Result<()> {
    let store = open_store(&config)?;
    run_on(listener, config, store).await
}

/// [`run`] over a store the caller opened from `config.data_dir` (tests inject faults through it).
pub async fn run_on(listener: TcpListener, config: Config, mut store: Store) -> anyhow::Result<()> {
    if rebuild::rebuild_interrupted(&store)? {
        bail!("a `scimd rebuild-views` was interrupted; run it again before serving");
    }
    if store.views_outdated()? {
        // Same log, new projection: derive the views again before answering from them.
        tracing::warn!(data_dir = %config.data_dir.display(), "the views were built by an older scimd; rebuilding them from the log");
        let events = rebuild::rebuild_in_place(&mut store)?;
        tracing::info!(events, "views rebuilt");
    }
    let registry = Arc::new(config.registry());
    let metrics = Arc::new(crate::service::metrics::Metrics::default());
    let (writer, writer_thread) =
        Writer::start_with(store.clone(), registry.clone(), metrics.clone())?;
    let addr = listener.local_addr()?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let commands = Commands::new(writer.clone(), registry.clone(), config.password_storage);
    let limiter = Arc::new(RateLimiter::new(config.limits(), metrics.clone()));
    // The console's own listener, when it has one (bound before anyone is told we are up).
    let admin_listener = match config.admin_listen {
        Some(a) => Some(TcpListener::bind(a).with_context(|| format!("binding admin_listen {a}"))?),
        None => None,
    };
    let admin_addr = match &admin_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let device = crate::http::admin::device::DeviceKey::load_or_create(&config.data_dir)
        .with_context(|| {
            format!(
                "the console's device-cookie key in {}",
                config.data_dir.display()
            )
        })?;
    let mut known_hosts = vec!["localhost".to_owned(), crate::config::hostname()];
    if let Some(host) = config
        .public_url
        .as_deref()
        .and_then(|u| u.split_once("://"))
        .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or(""))
    {
        known_hosts.push(host.to_owned());
    }
    let access = Arc::new(http::access::Access {
        trusted_proxies: config.trusted_proxies.clone(),
        admin_allow: config.admin_allow.clone(),
        admin_listener: admin_addr,
        known_hosts,
        device,
    });
    let feed = crate::service::feed::Feed::new(
        store.clone(),
        registry.clone(),
        writer.subscribe(),
        config.events_signed,
    )?;
    let webhooks = crate::service::webhooks::Webhooks::start(
        store.clone(),
        registry.clone(),
        writer.subscribe(),
        crate::service::webhooks::Options {
            issuer: config.scim_url(),
            signer: feed.signer(),
            dead_letter_after: config.webhook_dead_letter_after,
            backoff: crate::service::webhooks::Backoff::default(),
        },
    )?;
    let state = web::Data::new(AppState {
        directory: Directory::new(store.clone(), registry.clone()),
        commands: commands.clone(),
        registry,
        public_url: config.public_url.clone(),
        max_body_bytes: config.max_body_bytes,
        sessions: Arc::new(
            http::admin::session::Sessions::new(config.admin_session_idle)
                .with_lifetime(config.admin_session_lifetime),
        ),
        throttle: Arc::new(http::admin::throttle::Throttle::default()),
        access,
        usage: Arc::new(crate::service::usage::Usage::default()),
        shutdown: shutdown_rx,
        metrics,
        metrics_allow: config.metrics_allow.clone(),
        metrics_token: config.metrics_token.clone(),
        require_client_cert: config.client_ca.is_some(),
        limiter: limiter.clone(),
        feed,
        webhooks: webhooks.clone(),
    });
    let factory = move || http::app(state.clone());
    // Signals are handled below, so live-tail streams can be ended before the graceful stop.
    let server = HttpServer::new(factory)
        .shutdown_timeout(30)
        .disable_signals()
        .on_connect(|conn, ext| {
            type Tcp = actix_web::rt::net::TcpStream;
            type Tls = actix_tls::accept::rustls_0_23::TlsStream<Tcp>;
            let local = conn
                .downcast_ref::<Tls>()
                .and_then(|t| t.get_ref().0.local_addr().ok())
                .or_else(|| conn.downcast_ref::<Tcp>().and_then(|t| t.local_addr().ok()));
            if let Some(local) = local {
                ext.insert(http::access::LocalAddr(local));
            }
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
        let server = server.listen(listener)?;
        let server = match admin_listener {
            Some(l) => server.listen(l)?,
            None => server,
        };
        (server, "http")
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
        let server = server.listen_rustls_0_23(listener, tls.config.clone())?;
        let server = match admin_listener {
            Some(l) => server.listen_rustls_0_23(l, tls.config)?,
            None => server,
        };
        (server, "https")
    };
    let admin = Admin {
        store: store.clone(),
        commands: commands.clone(),
        scim_url: config.scim_url(),
        webhooks: webhooks.clone(),
    };
    let socket_task = control::serve(config.admin_socket.clone(), admin)
        .await
        .with_context(|| format!("admin socket {}", config.admin_socket.display()))?;
    let console = match admin_addr {
        // The console has its own listener: that is where to sign in.
        Some(a) => format!("{scheme}://{a}/admin/"),
        None => format!(
            "{}/admin/",
            config.scim_url().trim_end_matches(http::SCIM_PREFIX)
        ),
    };
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
    if let Some(a) = admin_addr {
        tracing::info!(addr = %a, "the console has its own listener");
        println!("scimd console listening on {scheme}://{a}");
    }
    let server = server.run();
    let handle = server.handle();
    // The listener is bound and the store is open: tell systemd (Type=notify).
    crate::systemd::notify(&format!("READY=1\nSTATUS=serving {scheme}://{addr}"));
    let watchdog_writer = writer.clone();
    let watchdog = tokio::spawn(crate::systemd::watchdog(move || {
        watchdog_writer.is_running()
    }));
    let reload = tokio::spawn(reload_on_hangup(hup, resolver));
    let refusals = tokio::spawn(record_refusals(limiter.clone(), commands.clone()));
    let failure = writer.failure();
    let signals = tokio::spawn(async move {
        tokio::pin!(stop);
        let failed = tokio::select! {
            () = &mut stop => false,
            () = writer_failed(failure) => true,
        };
        if failed {
            // Linger a moment answering 503 (writes) and "not ready" (/readyz), so clients and
            // health checks see why, then stop; a signal cuts the wait short.
            crate::systemd::notify("STATUS=the log can no longer be made durable; stopping");
            tokio::select! {
                () = &mut stop => {}
                () = tokio::time::sleep(FAILED_LINGER) => {}
            }
        }
        crate::systemd::notify("STOPPING=1");
        if failed {
            tracing::error!("stopping: the log can no longer be made durable");
        } else {
            tracing::info!("stopping: finishing in-flight requests and writes");
        }
        let _ = shutdown_tx.send(true);
        // Graceful either way: requests in flight still get their answer (after a failed flush,
        // a 5xx), not a reset connection.
        handle.stop(true).await;
    });
    let result = server.await;
    refusals.abort();
    // Requests refused by a rate limit since the last record, before the writer stops.
    ratelimit::record_due(&limiter, &commands, now_ms(), true).await;
    signals.abort();
    reload.abort();
    watchdog.abort();
    socket_task.abort();
    let _ = std::fs::remove_file(&config.admin_socket);
    // Delivery threads end; their cursors are in the store (flushed with the writer's last flush).
    let hooks = webhooks.clone();
    let _ = tokio::task::spawn_blocking(move || hooks.stop()).await;
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

/// Record requests refused by a rate limit in the log: checked every few seconds, each client at
/// most once a minute ([`ratelimit::REPORT_EVERY_MS`]).
async fn record_refusals(limiter: Arc<RateLimiter>, commands: Commands) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        every.tick().await;
        ratelimit::record_due(&limiter, &commands, now_ms(), false).await;
    }
}

/// How long a server whose flush failed keeps answering (writes 503, `/readyz` not ready) before
/// it stops.
const FAILED_LINGER: std::time::Duration = std::time::Duration::from_secs(5);

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
