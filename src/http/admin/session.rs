//! Console sessions, in memory. A session is a random 256-bit id in an HttpOnly, SameSite=Strict
//! cookie, bound to a CSRF token that every mutating request must echo in `X-CSRF-Token`. It ends
//! after [`Sessions::idle`] without use, [`Sessions::lifetime`] after sign-in however busy, at
//! sign-out, when its account's password changes (from the console or `scimd admin set-password`:
//! each session remembers the account's password stamp and is checked against it on every use),
//! when the account signs out its other sessions, or at restart.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use rand::RngCore;
use serde::Serialize;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::super::error::{AdminFailure, ApiError};
use super::super::AppState;
use crate::scim::resource::format_time_ms;
use crate::service::writer::now_ms;

/// Name of the session cookie.
pub const COOKIE: &str = "scimd_session";
/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Default absolute session lifetime.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Longest `User-Agent` kept for the session list (it is the client's to choose).
const MAX_AGENT_CHARS: usize = 200;

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The id the session list shows: a hash prefix, so the list never hands out a usable cookie.
fn public_id(id: &str) -> String {
    hex::encode(&sha2::Sha256::digest(id.as_bytes())[..8])
}

#[derive(Debug, Clone)]
struct Session {
    username: String,
    csrf: String,
    started: Instant,
    last_seen: Instant,
    started_ms: i64,
    last_seen_ms: i64,
    /// The account's password stamp when the session began.
    stamp: Option<u64>,
    client_addr: Option<String>,
    user_agent: String,
}

/// Who is signing in, for the session list.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's address.
    pub addr: Option<String>,
    /// Its `User-Agent` (capped).
    pub user_agent: String,
}

/// One of an account's sessions, as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// A hash of the session id (not the id).
    pub id: String,
    /// When it began (RFC 3339).
    pub started: String,
    /// When it was last used.
    pub last_seen: String,
    /// Client address at sign-in.
    pub client_addr: Option<String>,
    /// Browser at sign-in.
    pub user_agent: String,
    /// Whether it is the session asking.
    pub current: bool,
}

/// The live sessions.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Idle time after which a session ends.
    pub idle: Duration,
    /// Time after sign-in at which a session ends, used or not.
    pub lifetime: Duration,
}

/// A live session's facts, as [`Sessions::touch`] finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// The account.
    pub username: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The account's password stamp at sign-in.
    pub stamp: Option<u64>,
}

impl Sessions {
    /// No sessions; `idle` is the idle expiry, the lifetime [`DEFAULT_LIFETIME`].
    pub fn new(idle: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// The same with an absolute lifetime.
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    fn alive(&self, s: &Session) -> bool {
        s.last_seen.elapsed() < self.idle && s.started.elapsed() < self.lifetime
    }

    /// Start a session; returns its id and CSRF token.
    pub fn create(&self, username: &str) -> (String, String) {
        self.start(username, None, Client::default())
    }

    /// Start a session for an account whose password stamp is `stamp`.
    pub fn start(&self, username: &str, stamp: Option<u64>, client: Client) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| self.alive(s));
            let now = Instant::now();
            let ms = now_ms();
            map.insert(
                id.clone(),
                Session {
                    username: username.to_owned(),
                    csrf: csrf.clone(),
                    started: now,
                    last_seen: now,
                    started_ms: ms,
                    last_seen_ms: ms,
                    stamp,
                    client_addr: client.addr,
                    user_agent: client.user_agent.chars().take(MAX_AGENT_CHARS).collect(),
                },
            );
        }
        (id, csrf)
    }

    /// The facts of a live session, and mark it used.
    pub fn touch(&self, id: &str) -> Option<Live> {
        let mut map = self.map.lock().ok()?;
        let s = map.get(id)?;
        if !self.alive(s) {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = Instant::now();
        s.last_seen_ms = now_ms();
        Some(Live {
            username: s.username.clone(),
            csrf: s.csrf.clone(),
            stamp: s.stamp,
        })
    }

    /// Whether session `id` is still live (without marking it used: the live tail asks this).
    pub fn is_live(&self, id: &str) -> bool {
        self.peek(id).is_some()
    }

    /// The facts of a live session, without marking it used.
    pub fn peek(&self, id: &str) -> Option<Live> {
        let map = self.map.lock().ok()?;
        let s = map.get(id).filter(|s| self.alive(s))?;
        Some(Live {
            username: s.username.clone(),
            csrf: s.csrf.clone(),
            stamp: s.stamp,
        })
    }

    /// End a session.
    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    /// End every session of `username` except `keep`; returns how many ended.
    pub fn end_others(&self, username: &str, keep: &str) -> usize {
        let Ok(mut map) = self.map.lock() else {
            return 0;
        };
        let before = map.len();
        map.retain(|id, s| id == keep || s.username != username);
        before - map.len()
    }

    /// Give session `id` a new password stamp (the password was changed from it).
    pub fn restamp(&self, id: &str, stamp: Option<u64>) {
        if let Ok(mut map) = self.map.lock() {
            if let Some(s) = map.get_mut(id) {
                s.stamp = stamp;
            }
        }
    }

    /// The live sessions of `username`, newest first; `current` marks the asking one.
    pub fn list(&self, username: &str, current: &str) -> Vec<SessionInfo> {
        let Ok(map) = self.map.lock() else {
            return Vec::new();
        };
        let mut out: Vec<(i64, SessionInfo)> = map
            .iter()
            .filter(|(_, s)| s.username == username && self.alive(s))
            .map(|(id, s)| {
                (
                    s.started_ms,
                    SessionInfo {
                        id: public_id(id),
                        started: format_time_ms(s.started_ms),
                        last_seen: format_time_ms(s.last_seen_ms),
                        client_addr: s.client_addr.clone(),
                        user_agent: s.user_agent.clone(),
                        current: id == current,
                    },
                )
            })
            .collect();
        out.sort_by_key(|o| std::cmp::Reverse(o.0));
        out.into_iter().map(|(_, i)| i).collect()
    }
}

/// A signed-in console user; extracting it checks the session and, for mutating methods, CSRF.
#[derive(Debug, Clone)]
pub struct AdminSession {
    /// The session id (cookie value).
    pub id: String,
    /// The admin's name.
    pub username: String,
    /// The CSRF token bound to the session.
    pub csrf: String,
}

impl FromRequest for AdminSession {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req))
    }
}

/// Whether session `id` still stands: live, and its account's password unchanged since it began
/// (a long-running response such as the live tail asks this as it goes).
pub fn still_valid(state: &AppState, id: &str) -> bool {
    state.sessions.peek(id).is_some_and(|live| {
        matches!(state.directory.admin_stamp(&live.username), Ok(Some(s)) if Some(s) == live.stamp)
    })
}

fn check(req: &HttpRequest) -> Result<AdminSession, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    let id = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    let live = state
        .sessions
        .touch(&id)
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    // A password changed anywhere (console, CLI, another session) ends the sessions begun before.
    let stamp = state
        .directory
        .admin_stamp(&live.username)
        .map_err(|e| ApiError::Admin(e.into()))?;
    if stamp.is_none() || stamp != live.stamp {
        state.sessions.remove(&id);
        return Err(ApiError::Admin(AdminFailure::SignInRequired));
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(live.csrf.as_bytes())) {
            return Err(ApiError::Admin(AdminFailure::Csrf));
        }
    }
    Ok(AdminSession {
        id,
        username: live.username,
        csrf: live.csrf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_removed_too_old_or_signed_out_elsewhere() {
        let live = |s: &Sessions, id: &str| s.touch(id).map(|l| l.username);
        let s = Sessions::new(Duration::from_millis(50));
        let (id, csrf) = s.create("admin");
        assert_eq!(s.touch(&id).map(|l| l.csrf), Some(csrf));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(live(&s, &id), None);
        let (id, _) = s.create("admin");
        s.remove(&id);
        assert_eq!(live(&s, &id), None);

        // The absolute lifetime ends a session that is in constant use.
        let s = Sessions::new(Duration::from_secs(60)).with_lifetime(Duration::from_millis(80));
        let (id, _) = s.create("admin");
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(30));
            let _ = s.touch(&id);
        }
        assert!(!s.is_live(&id));

        // Signing out the others keeps this one and other accounts' sessions.
        let s = Sessions::new(Duration::from_secs(60));
        let (a, _) = s.create("admin");
        let (b, _) = s.create("admin");
        let (c, _) = s.create("ops");
        assert_eq!(s.list("admin", &a).len(), 2);
        assert!(s.list("admin", &a).iter().any(|i| i.current));
        assert!(!s.list("admin", &a).iter().any(|i| i.id == a || i.id == b));
        assert_eq!(s.end_others("admin", &a), 1);
        assert!(s.is_live(&a) && !s.is_live(&b) && s.is_live(&c));
    }
}
