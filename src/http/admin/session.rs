//! Console sessions and sign-in throttling, in memory. A session is a random 256-bit id in an
//! HttpOnly, SameSite=Strict cookie, bound to a CSRF token that every mutating request must echo in
//! `X-CSRF-Token`; it ends after [`Sessions::idle`] without use, at sign-out, or at restart.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::super::error::{AdminFailure, ApiError};
use super::super::AppState;

/// Name of the session cookie.
pub const COOKIE: &str = "scimd_session";
/// Header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn random_hex() -> String {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[derive(Debug, Clone)]
struct Session {
    username: String,
    csrf: String,
    last_seen: Instant,
}

/// The live sessions.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    /// Idle time after which a session ends.
    pub idle: Duration,
}

impl Sessions {
    /// No sessions; `idle` is the idle expiry.
    pub fn new(idle: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// Start a session; returns its id and CSRF token.
    pub fn create(&self, username: &str) -> (String, String) {
        let (id, csrf) = (random_hex(), random_hex());
        if let Ok(mut map) = self.map.lock() {
            let idle = self.idle;
            map.retain(|_, s| s.last_seen.elapsed() < idle);
            map.insert(
                id.clone(),
                Session {
                    username: username.to_owned(),
                    csrf: csrf.clone(),
                    last_seen: Instant::now(),
                },
            );
        }
        (id, csrf)
    }

    /// The user and CSRF token of a live session (and mark it used).
    fn touch(&self, id: &str) -> Option<(String, String)> {
        let mut map = self.map.lock().ok()?;
        let s = map.get_mut(id)?;
        if s.last_seen.elapsed() >= self.idle {
            map.remove(id);
            return None;
        }
        s.last_seen = Instant::now();
        Some((s.username.clone(), s.csrf.clone()))
    }

    /// End a session.
    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
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

fn check(req: &HttpRequest) -> Result<AdminSession, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    let id = req
        .cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    let (username, csrf) = state
        .sessions
        .touch(&id)
        .ok_or(ApiError::Admin(AdminFailure::SignInRequired))?;
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !bool::from(sent.as_bytes().ct_eq(csrf.as_bytes())) {
            return Err(ApiError::Admin(AdminFailure::Csrf));
        }
    }
    Ok(AdminSession { id, username, csrf })
}

/// Failed sign-ins per client address: after [`Throttle::FREE`] failures within
/// [`Throttle::WINDOW`], each further attempt waits, doubling up to [`Throttle::MAX_WAIT`].
#[derive(Debug, Default)]
pub struct Throttle {
    map: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Throttle {
    /// Failures allowed before waiting starts.
    pub const FREE: u32 = 5;
    /// How long failures are remembered.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);
    /// Longest wait.
    pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

    fn wait(failures: u32) -> Duration {
        let extra = failures.saturating_sub(Self::FREE).min(10);
        (Duration::from_secs(1) * 2u32.pow(extra)).min(Self::MAX_WAIT)
    }

    /// `Some(seconds)` if `addr` must wait before trying again.
    pub fn blocked(&self, addr: IpAddr) -> Option<u64> {
        let map = self.map.lock().ok()?;
        let (failures, last) = map.get(&addr)?;
        if *failures < Self::FREE || last.elapsed() >= Self::WINDOW {
            return None;
        }
        let wait = Self::wait(*failures);
        let elapsed = last.elapsed();
        (elapsed < wait).then(|| (wait - elapsed).as_secs().max(1))
    }

    /// Count a failure.
    pub fn failed(&self, addr: IpAddr) {
        if let Ok(mut map) = self.map.lock() {
            // Forget old entries so a scan from many addresses cannot grow the map without end.
            if map.len() > 10_000 {
                map.retain(|_, (_, last)| last.elapsed() < Self::WINDOW);
            }
            let e = map.entry(addr).or_insert((0, Instant::now()));
            if e.1.elapsed() >= Self::WINDOW {
                e.0 = 0;
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
    }

    /// Forget failures after a success.
    pub fn succeeded(&self, addr: IpAddr) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(&addr);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_starts_after_the_free_failures() {
        let t = Throttle::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..Throttle::FREE - 1 {
            t.failed(a);
            assert!(t.blocked(a).is_none());
        }
        t.failed(a);
        t.failed(a);
        assert!(t.blocked(a).is_some());
        assert!(t.blocked("10.0.0.2".parse().unwrap()).is_none());
        t.succeeded(a);
        assert!(t.blocked(a).is_none());
    }

    #[test]
    fn sessions_end_when_idle_or_removed() {
        let s = Sessions::new(Duration::from_millis(50));
        let (id, csrf) = s.create("admin");
        assert_eq!(s.touch(&id), Some(("admin".into(), csrf)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(s.touch(&id), None);
        let (id, _) = s.create("admin");
        s.remove(&id);
        assert_eq!(s.touch(&id), None);
    }
}
