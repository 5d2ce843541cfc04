//! A small HTTP/1.1 keep-alive client on tokio for the load runs: one connection per task, requests
//! written whole, responses read by `Content-Length` or chunked framing. It does nothing but frame
//! bytes, so its own cost stays far below the server's and the figures measure scimd.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request as the load runs send it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// Path and query, e.g. `/scim/v2/Users?filter=…`.
    pub path: String,
    /// JSON body, if any.
    pub body: Option<String>,
}

impl Request {
    /// A request without a body.
    pub fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            body: None,
        }
    }

    /// A request with a JSON body.
    pub fn with_body(method: &'static str, path: String, body: String) -> Self {
        Self {
            method,
            path,
            body: Some(body),
        }
    }
}

/// A response: status and body bytes.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The (de-chunked) body.
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    /// `Authorization` header line (with CRLF), or empty.
    auth: String,
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    /// A connection to `addr` sending `token` as bearer (connects lazily).
    pub fn new(addr: SocketAddr, token: Option<&str>) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(64 * 1024),
            auth: token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n")),
        }
    }

    /// Send `req` and read its response; reconnects when the server closed the connection.
    pub async fn send(&mut self, req: &Request) -> std::io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        let result = self.exchange(req).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange(&mut self, req: &Request) -> std::io::Result<Response> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(bad("not connected"));
        };
        let body = req.body.as_deref().unwrap_or("");
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n{}Accept: application/scim+json\r\n",
            req.method, req.path, self.addr, self.auth
        );
        if req.body.is_some() {
            head.push_str(&format!(
                "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_bytes());
        stream.write_all(&out).await?;

        // Head.
        let end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p + 4;
            }
            read_more(stream, &mut self.buf).await?;
        };
        let head = std::str::from_utf8(&self.buf[..end]).map_err(|_| bad("head not UTF-8"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| bad("no status"))?;
        let mut length = None;
        let mut chunked = false;
        let mut close = false;
        for line in head.split("\r\n").skip(1) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.eq_ignore_ascii_case("chunked");
            } else if k.eq_ignore_ascii_case("connection") {
                close = v.eq_ignore_ascii_case("close");
            }
        }
        self.buf.drain(..end);

        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(p) = find(&self.buf, b"\r\n") {
                        break p;
                    }
                    read_more(stream, &mut self.buf).await?;
                };
                let size_text = std::str::from_utf8(&self.buf[..line_end])
                    .map_err(|_| bad("chunk size not UTF-8"))?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| bad("bad chunk size"))?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    read_more(stream, &mut self.buf).await?;
                }
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break;
                }
            }
            body
        } else {
            let n = length.unwrap_or(0);
            while self.buf.len() < n {
                read_more(stream, &mut self.buf).await?;
            }
            self.buf.drain(..n).collect()
        };
        if close {
            self.stream = None;
        }
        Ok(Response { status, body })
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    buf.extend_from_slice(&chunk[..n]);
    Ok(())
}
