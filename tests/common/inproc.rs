//! In-process server: the same `http::configure` the binary mounts, over a temporary sled and a
//! running writer, driven with `actix_web::test` (no sockets, no child process).

use std::sync::Arc;

use actix_web::web;

use scimd::domain::ids::ClientName;
use scimd::domain::write::{Actor, Answer, Envelope, Submission};
use scimd::http::{self, AppState};
use scimd::scim::schema::Registry;
use scimd::service::commands::Commands;
use scimd::service::passwords::PasswordStorage;
use scimd::service::query::Directory;
use scimd::service::tokens;
use scimd::service::writer::Writer;
use scimd::store::Store;

/// A running in-process server.
pub struct InProc {
    /// What every handler gets.
    pub state: web::Data<AppState>,
    /// A bearer token for the client "Test".
    pub token: String,
    /// The store under it (for reading the log).
    pub store: Store,
}

/// The submission that issues token `t` to client `name`, as a test's setup.
pub fn issue_token(t: &tokens::NewToken, name: &str) -> Submission {
    issue_scoped(t, name, &[])
}

/// A submission that issues `t` to `name` with the scopes named (none: `scim:write`).
pub fn issue_scoped(t: &tokens::NewToken, name: &str, scopes: &[&str]) -> Submission {
    Submission {
        command: tokens::issue_command(
            t,
            ClientName::try_from(name).unwrap(),
            None,
            scimd::domain::scope::Scopes::parse(scopes).unwrap(),
        ),
        envelope: Envelope {
            actor: Actor {
                token_id: None,
                client: "test".into(),
            },
            request_id: "setup".into(),
            client_addr: None,
        },
        answer: Answer::default(),
        sent: None,
    }
}

/// Start over a fresh temporary store.
pub async fn start() -> InProc {
    start_on(Store::temporary().unwrap()).await
}

/// Start over `store`, with a token issued.
pub async fn start_on(store: Store) -> InProc {
    start_with(store, Registry::core()).await
}

/// Start over `store` with the schemas of `registry` (extensions declared), with a token issued.
pub async fn start_with(store: Store, registry: Registry) -> InProc {
    let registry = Arc::new(registry);
    let (writer, thread) = Writer::start(store.clone(), registry.clone()).unwrap();
    // The thread lives as long as the test process; tests are short.
    std::mem::forget(thread);
    let t = tokens::generate();
    writer.submit(issue_token(&t, "Test")).await.unwrap();
    let metrics: Arc<scimd::service::metrics::Metrics> = Arc::default();
    let feed =
        scimd::service::feed::Feed::new(store.clone(), registry.clone(), writer.subscribe(), false)
            .unwrap();
    let webhooks = scimd::service::webhooks::Webhooks::start(
        store.clone(),
        registry.clone(),
        writer.subscribe(),
        scimd::service::webhooks::Options {
            issuer: "https://scim.example.com/scim/v2".into(),
            signer: None,
            dead_letter_after: std::time::Duration::from_secs(3600),
            backoff: scimd::service::webhooks::Backoff {
                base: std::time::Duration::from_millis(50),
                max: std::time::Duration::from_millis(400),
            },
        },
    )
    .unwrap();
    let state = web::Data::new(AppState {
        directory: Directory::new(store.clone(), registry.clone()),
        commands: Commands::new(writer, registry.clone(), PasswordStorage::Discard),
        registry,
        public_url: Some("https://scim.example.com".into()),
        max_body_bytes: 1 << 20,
        sessions: Arc::new(http::admin::session::Sessions::new(
            std::time::Duration::from_secs(60),
        )),
        throttle: Arc::new(http::admin::throttle::Throttle::default()),
        access: Arc::default(),
        usage: Arc::new(scimd::service::usage::Usage::default()),
        shutdown: tokio::sync::watch::channel(false).1,
        metrics: metrics.clone(),
        metrics_allow: Vec::new(),
        metrics_token: None,
        require_client_cert: false,
        // No limits: in-process clients are faster than any identity provider, and a test would
        // pass or fail with the machine's speed (tests/rate_limits.rs sets tiny ones instead).
        limiter: Arc::new(scimd::service::ratelimit::RateLimiter::new(
            scimd::service::ratelimit::Limits {
                per_token: None,
                unauthenticated: None,
                ..Default::default()
            },
            metrics,
        )),
        feed,
        webhooks,
    });
    InProc {
        state,
        token: t.token,
        store,
    }
}

/// The app of an [`InProc`], as the binary mounts it: `let app = app!(server);`.
#[allow(unused_macros)]
macro_rules! app {
    ($f:expr) => {
        actix_web::test::init_service(scimd::http::app($f.state.clone())).await
    };
}
#[allow(unused_imports)]
pub(crate) use app;

impl InProc {
    /// The `Authorization` header for the token.
    pub fn auth(&self) -> (&'static str, String) {
        ("Authorization", format!("Bearer {}", self.token))
    }
}
