//! Where a request comes from and who may reach the console: the client's address, scheme and
//! host as the request's origin (forwarded headers — `Forwarded`, `X-Forwarded-For`,
//! `X-Forwarded-Host`, `X-Forwarded-Proto` — count only from a `trusted_proxies` peer; from anyone
//! else the connection itself says), the console's `admin_allow` list and its optional own
//! listener (`admin_listen`), and the key of the console's device cookies.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header;
use actix_web::HttpRequest;

use crate::net::Cidr;

use super::admin::device::DeviceKey;

/// The local address a connection arrived at; set by the server's connection hook.
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub SocketAddr);

/// The access policy, shared by every worker.
#[derive(Debug)]
pub struct Access {
    /// Peers whose forwarded headers are believed.
    pub trusted_proxies: Vec<Cidr>,
    /// Client addresses that may reach `/admin`.
    pub admin_allow: Vec<Cidr>,
    /// When the console has its own listener: its bound address (the main one then has no console).
    pub admin_listener: Option<SocketAddr>,
    /// Names a direct client may use in `Host` for the URLs we show it (besides the address it
    /// connected to): the machine's name and the public URL's host.
    pub known_hosts: Vec<String>,
    /// Signs device cookies.
    pub device: DeviceKey,
}

impl Default for Access {
    /// No proxies trusted, the console open to every address on the main listener.
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            admin_allow: ["0.0.0.0/0", "::/0"]
                .into_iter()
                .filter_map(Cidr::parse)
                .collect(),
            admin_listener: None,
            known_hosts: vec!["localhost".into()],
            device: DeviceKey::default(),
        }
    }
}

/// Where a request says it comes from, after the proxy rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub client: Option<IpAddr>,
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]` for URLs shown to the client.
    pub host: String,
}

impl Access {
    /// Whether the direct peer is a trusted proxy.
    pub fn from_proxy(&self, req: &HttpRequest) -> bool {
        req.peer_addr()
            .is_some_and(|p| self.trusted_proxies.iter().any(|c| c.contains(p.ip())))
    }

    /// The request's origin: from a trusted proxy its forwarded headers, else the connection.
    pub fn origin(&self, req: &HttpRequest) -> Origin {
        let peer = req.peer_addr().map(|a| a.ip());
        if self.from_proxy(req) {
            let info = req.connection_info();
            let client = info.realip_remote_addr().and_then(parse_ip).or(peer);
            return Origin {
                client,
                scheme: info.scheme().to_owned(),
                host: info.host().to_owned(),
            };
        }
        let scheme = if req.app_config().secure() {
            "https"
        } else {
            "http"
        };
        let local = req
            .conn_data::<LocalAddr>()
            .map_or_else(|| req.app_config().local_addr(), |l| l.0);
        let sent = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let host = if self.host_is_ours(sent, local) {
            sent.to_owned()
        } else {
            local.to_string()
        };
        Origin {
            client: peer,
            scheme: scheme.to_owned(),
            host,
        }
    }

    /// Whether a direct client's `Host` names this server: its address, `localhost`, the machine's
    /// name (also as the first label of a longer name) or the public URL's host.
    fn host_is_ours(&self, sent: &str, local: SocketAddr) -> bool {
        let name = match sent.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
            _ => sent,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b))
        {
            return false;
        }
        if parse_ip(name.trim_matches(['[', ']'])) == Some(local.ip()) {
            return true;
        }
        let name = name.to_ascii_lowercase();
        let first = name.split('.').next().unwrap_or("");
        self.known_hosts
            .iter()
            .any(|k| k.eq_ignore_ascii_case(&name) || k.eq_ignore_ascii_case(first))
    }

    /// Whether `req` may reach the console: the right listener and an allowed client address.
    pub fn console_allowed(&self, req: &HttpRequest) -> bool {
        if let Some(admin) = self.admin_listener {
            if req.app_config().local_addr() != admin {
                return false;
            }
        }
        let client = self.origin(req).client;
        client.is_some_and(|ip| self.admin_allow.iter().any(|c| c.contains(ip)))
            // In-process tests have no peer; a real connection always does.
            || (client.is_none() && req.peer_addr().is_none())
    }

    /// Whether `req` arrived on the console's own listener (which serves nothing else).
    pub fn on_admin_listener(&self, req: &HttpRequest) -> bool {
        self.admin_listener
            .is_some_and(|a| req.app_config().local_addr() == a)
    }
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn access(trusted: &[&str]) -> Access {
        Access {
            trusted_proxies: trusted.iter().filter_map(|c| Cidr::parse(c)).collect(),
            known_hosts: vec![
                "localhost".into(),
                "scimd-01".into(),
                "scim.example.com".into(),
            ],
            ..Access::default()
        }
    }

    fn req(peer: &str, headers: &[(&str, &str)]) -> HttpRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for (k, v) in headers {
            r = r.insert_header((*k, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let spoof = [
            ("host", "evil.example"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9;host=evil.example;proto=https"),
        ];
        let direct = access(&[]).origin(&req("192.0.2.7:5000", &spoof));
        assert_eq!(direct.client, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(direct.scheme, "http");
        assert!(!direct.host.contains("evil"), "{direct:?}");
        let proxied = access(&["192.0.2.0/24"]).origin(&req("192.0.2.7:5000", &spoof));
        assert_eq!(proxied.client, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(proxied.scheme, "https");
        assert_eq!(proxied.host, "evil.example");
    }

    #[test]
    fn a_direct_clients_host_is_kept_when_it_names_this_server() {
        let a = access(&[]);
        for ok in [
            "scimd-01:8443",
            "scimd-01.corp.example:8443",
            "scim.example.com",
            "localhost:8443",
        ] {
            let o = a.origin(&req("192.0.2.7:5000", &[("host", ok)]));
            assert_eq!(o.host, ok);
        }
        let o = a.origin(&req("192.0.2.7:5000", &[("host", "other.example:1")]));
        assert_ne!(o.host, "other.example:1");
    }
}
