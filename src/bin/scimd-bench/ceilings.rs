//! The machine's own ceilings, measured in the same run as scimd so every figure reads as a ratio:
//! a bare actix-web handler doing the JSON parse and serialise a SCIM request needs (same workers,
//! same client, no store), and sled's raw durable batch write (one multi-tree transaction and one
//! flush per batch of 64, as scimd's group commit does at best).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use actix_web::{web, App, HttpResponse, HttpServer};

use crate::bodies;

/// A bare actix-web server on a loopback port: `POST /echo` parses the JSON body and serialises
/// it back (the create/PATCH shape), `GET /user` parses a stored user document and serialises it
/// inside a one-item ListResponse (the lookup shape).
pub struct Bare {
    /// Its address.
    pub addr: SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

async fn echo(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => HttpResponse::Created()
            .content_type("application/scim+json")
            .body(v.to_string()),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

async fn user() -> HttpResponse {
    let doc = bodies::stored_user_doc();
    match serde_json::from_str::<serde_json::Value>(&doc) {
        Ok(v) => HttpResponse::Ok()
            .content_type("application/scim+json")
            .body(
                serde_json::json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": 1, "startIndex": 1, "itemsPerPage": 1, "Resources": [v]
                })
                .to_string(),
            ),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

impl Bare {
    /// Start it with actix's default worker count (one per core, as scimd).
    pub fn start() -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let sys = actix_rt::System::new();
            sys.block_on(async move {
                let server = HttpServer::new(|| {
                    App::new()
                        .route("/echo", web::post().to(echo))
                        .route("/user", web::get().to(user))
                })
                .disable_signals()
                .bind(("127.0.0.1", 0));
                let server = match server {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let addr = server.addrs().first().copied();
                let server = server.run();
                let _ = tx.send(
                    addr.map(|a| (a, server.handle()))
                        .ok_or_else(|| std::io::Error::other("no address")),
                );
                let _ = server.await;
            });
        });
        let (addr, handle) = rx
            .recv()
            .map_err(|_| std::io::Error::other("bare server thread died"))??;
        Ok(Self {
            addr,
            handle,
            thread: Some(thread),
        })
    }

    /// Stop it.
    pub fn stop(mut self) {
        crate::load::block_on(self.handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Durable writes per second of sled alone: `batches` batches of 64 records (a log entry, a
/// document and an index entry each) in one transaction over three trees, then one flush.
pub fn sled_batches(dir: &Path, batches: usize) -> std::io::Result<f64> {
    use sled::Transactional;
    let db = sled::Config::new()
        .path(dir)
        .mode(sled::Mode::HighThroughput)
        .open()
        .map_err(std::io::Error::other)?;
    let open = |n: &str| db.open_tree(n).map_err(std::io::Error::other);
    let (log, docs, idx) = (open("log")?, open("docs")?, open("idx")?);
    let doc = bodies::stored_user_doc();
    let start = Instant::now();
    let mut seq = 0u64;
    for _ in 0..batches {
        let first = seq;
        (&log, &docs, &idx)
            .transaction(|(log, docs, idx)| {
                for i in 0..64u64 {
                    let s = first + i;
                    let id = uuid::Uuid::new_v4();
                    log.insert(&s.to_be_bytes(), doc.as_bytes())?;
                    docs.insert(id.as_bytes(), doc.as_bytes())?;
                    idx.insert(format!("user{s}@contoso.com").as_bytes(), id.as_bytes())?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        seq += 64;
        db.flush().map_err(std::io::Error::other)?;
    }
    Ok(seq as f64 / start.elapsed().as_secs_f64())
}
