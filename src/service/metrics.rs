//! Counters and histograms for `/metrics` (Prometheus text format 0.0.4), kept in memory: requests
//! by route/method/status and their latency, writes and rejections by action and client, group-commit
//! batch sizes and flush latency, rate-limited requests, and SCIM requests without a valid token by
//! address and by presented token id. Gauges that live in the store (log length, view sizes, tokens'
//! last use) are read when scraped.
//!
//! Label values that come from outside (addresses, presented token ids) are capped at
//! [`MAX_LABEL_VALUES`] per metric; later ones are counted under `other`, so a flood from many
//! addresses cannot grow the exposition without bound.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets, seconds.
const LATENCY: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Batch size buckets, commands.
const BATCH: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// Distinct label values kept per metric whose values come from clients.
pub const MAX_LABEL_VALUES: usize = 1000;
/// The label value counting everything past [`MAX_LABEL_VALUES`].
pub const OTHER: &str = "other";

/// A counter by one label whose values come from outside: at most [`MAX_LABEL_VALUES`] values,
/// then [`OTHER`].
#[derive(Debug, Default)]
struct Bounded(BTreeMap<String, u64>);

impl Bounded {
    fn add(&mut self, value: &str) {
        let key = if self.0.contains_key(value) || self.0.len() < MAX_LABEL_VALUES {
            value
        } else {
            OTHER
        };
        *self.0.entry(key.to_owned()).or_default() += 1;
    }

    fn render(&self, out: &mut String, name: &str, label_name: &str) {
        for (value, n) in &self.0 {
            let _ = writeln!(out, "{name}{{{label_name}=\"{}\"}} {n}", label(value));
        }
    }
}

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        for (b, c) in self.bounds.iter().zip(self.counts.iter_mut()) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    writes: BTreeMap<(&'static str, String, &'static str), u64>,
    batch: Option<Histogram>,
    flush: Option<Histogram>,
    /// By client (names come from issued tokens, so they are few).
    rate_limited: BTreeMap<String, u64>,
    rate_limited_addresses: Bounded,
    unauthenticated_addresses: Bounded,
    unauthenticated_tokens: Bounded,
}

/// The registry; shared by the HTTP layer and the writer.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Escape a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One HTTP request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            *m.requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
            m.latency
                .entry(route.to_owned())
                .or_insert_with(|| Histogram::new(&LATENCY))
                .observe(seconds);
        }
    }

    /// One decided write.
    pub fn write(&self, action: &'static str, client: &str, accepted: bool) {
        if let Ok(mut m) = self.inner.lock() {
            let outcome = if accepted { "accepted" } else { "rejected" };
            *m.writes
                .entry((action, client.to_owned(), outcome))
                .or_default() += 1;
        }
    }

    /// One group commit: how many commands shared it and how long the flush took.
    pub fn commit(&self, batch: usize, flush_seconds: f64) {
        if let Ok(mut m) = self.inner.lock() {
            #[allow(clippy::cast_precision_loss)]
            m.batch
                .get_or_insert_with(|| Histogram::new(&BATCH))
                .observe(batch as f64);
            m.flush
                .get_or_insert_with(|| Histogram::new(&LATENCY))
                .observe(flush_seconds);
        }
    }

    /// One request of an authenticated client refused by its token's rate limit.
    pub fn rate_limited(&self, client: &str) {
        if let Ok(mut m) = self.inner.lock() {
            *m.rate_limited.entry(client.to_owned()).or_default() += 1;
        }
    }

    /// One request without a valid token refused by its address's rate limit.
    pub fn rate_limited_address(&self, address: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.rate_limited_addresses.add(address);
        }
    }

    /// One SCIM request without a valid token, from `address`, presenting `token_id` (the id part
    /// of the token it carried, `none` or `malformed`).
    pub fn unauthenticated(&self, address: &str, token_id: &str) {
        if let Ok(mut m) = self.inner.lock() {
            m.unauthenticated_addresses.add(address);
            m.unauthenticated_tokens.add(token_id);
        }
    }

    /// The text exposition, with the store gauges given by the caller.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        let Ok(m) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP scimd_http_requests_total HTTP requests by route, method and status.\n# TYPE scimd_http_requests_total counter\n");
        for ((route, method, status), n) in &m.requests {
            let _ = writeln!(
                out,
                "scimd_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(route),
                label(method)
            );
        }
        out.push_str("# HELP scimd_http_request_duration_seconds Time to answer, by route.\n# TYPE scimd_http_request_duration_seconds histogram\n");
        for (route, h) in &m.latency {
            h.render(
                &mut out,
                "scimd_http_request_duration_seconds",
                &format!("route=\"{}\"", label(route)),
            );
        }
        out.push_str("# HELP scimd_writes_total Writes decided, by action, client and outcome.\n# TYPE scimd_writes_total counter\n");
        for ((action, client, outcome), n) in &m.writes {
            let _ = writeln!(
                out,
                "scimd_writes_total{{action=\"{action}\",client=\"{}\",outcome=\"{outcome}\"}} {n}",
                label(client)
            );
        }
        out.push_str("# HELP scimd_commit_batch_size Commands per group commit.\n# TYPE scimd_commit_batch_size histogram\n");
        m.batch
            .clone()
            .unwrap_or_else(|| Histogram::new(&BATCH))
            .render(&mut out, "scimd_commit_batch_size", "");
        out.push_str("# HELP scimd_flush_duration_seconds Time to make a batch durable.\n# TYPE scimd_flush_duration_seconds histogram\n");
        m.flush
            .clone()
            .unwrap_or_else(|| Histogram::new(&LATENCY))
            .render(&mut out, "scimd_flush_duration_seconds", "");
        out.push_str("# HELP scimd_rate_limited_total Requests refused by their token's rate limit (429), by client.\n# TYPE scimd_rate_limited_total counter\n");
        for (client, n) in &m.rate_limited {
            let _ = writeln!(
                out,
                "scimd_rate_limited_total{{client=\"{}\"}} {n}",
                label(client)
            );
        }
        out.push_str("# HELP scimd_rate_limited_unauthenticated_total Requests without a valid token refused by their address's rate limit (429), by address.\n# TYPE scimd_rate_limited_unauthenticated_total counter\n");
        m.rate_limited_addresses.render(
            &mut out,
            "scimd_rate_limited_unauthenticated_total",
            "address",
        );
        out.push_str("# HELP scimd_unauthenticated_requests_total SCIM requests without a valid token, by source address.\n# TYPE scimd_unauthenticated_requests_total counter\n");
        m.unauthenticated_addresses.render(
            &mut out,
            "scimd_unauthenticated_requests_total",
            "address",
        );
        out.push_str("# HELP scimd_unauthenticated_requests_by_token_total SCIM requests without a valid token, by the id part of the token presented (none, malformed, or the id of an unknown, revoked or expired token).\n# TYPE scimd_unauthenticated_requests_by_token_total counter\n");
        m.unauthenticated_tokens.render(
            &mut out,
            "scimd_unauthenticated_requests_by_token_total",
            "token_id",
        );
        let _ = write!(
            out,
            "# HELP scimd_log_records Records in the event log.\n# TYPE scimd_log_records gauge\nscimd_log_records {}\n\
             # HELP scimd_users Users in the views.\n# TYPE scimd_users gauge\nscimd_users {}\n\
             # HELP scimd_groups Groups in the views.\n# TYPE scimd_groups gauge\nscimd_groups {}\n",
            gauges.log_records, gauges.users, gauges.groups
        );
        out.push_str("# HELP scimd_token_last_used_timestamp_seconds When each token was last used.\n# TYPE scimd_token_last_used_timestamp_seconds gauge\n");
        for (id, client, secs) in &gauges.tokens {
            let _ = writeln!(
                out,
                "scimd_token_last_used_timestamp_seconds{{token_id=\"{id}\",client=\"{}\"}} {secs}",
                label(client)
            );
        }
        out
    }
}

/// Values read from the store at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Records in the log.
    pub log_records: u64,
    /// Users.
    pub users: usize,
    /// Groups.
    pub groups: usize,
    /// (token id, client, last used in seconds since the epoch).
    pub tokens: Vec<(String, String, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_help_type_and_samples() {
        let m = Metrics::default();
        m.request("/scim/v2/Users", "GET", 200, 0.003);
        m.write("create_user", "Entra \"ID\"", true);
        m.commit(3, 0.002);
        m.rate_limited("Okta");
        m.rate_limited_address("192.0.2.1");
        m.unauthenticated("192.0.2.1", "none");
        let text = m.render(&Gauges {
            log_records: 5,
            users: 2,
            groups: 1,
            tokens: vec![("t".into(), "Okta".into(), 9)],
        });
        assert!(text.contains(
            "scimd_http_requests_total{route=\"/scim/v2/Users\",method=\"GET\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "scimd_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("client=\"Entra \\\"ID\\\"\""));
        assert!(text.contains("scimd_commit_batch_size_bucket{le=\"4\"} 1"));
        assert!(text.contains("scimd_log_records 5"));
        assert!(text
            .contains("scimd_token_last_used_timestamp_seconds{token_id=\"t\",client=\"Okta\"} 9"));
        assert!(text.contains("scimd_rate_limited_total{client=\"Okta\"} 1"));
        assert!(text.contains("scimd_rate_limited_unauthenticated_total{address=\"192.0.2.1\"} 1"));
        assert!(text.contains("scimd_unauthenticated_requests_total{address=\"192.0.2.1\"} 1"));
        assert!(text.contains("scimd_unauthenticated_requests_by_token_total{token_id=\"none\"} 1"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(
                line.rsplit(' ').next().unwrap().parse::<f64>().is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn label_values_from_clients_are_capped() {
        let m = Metrics::default();
        for i in 0..(MAX_LABEL_VALUES + 10) {
            m.unauthenticated(&format!("10.0.{}.{}", i / 256, i % 256), "none");
        }
        m.unauthenticated("10.0.0.0", "none");
        let text = m.render(&Gauges::default());
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("scimd_unauthenticated_requests_total{"))
            .collect();
        assert_eq!(lines.len(), MAX_LABEL_VALUES + 1);
        assert!(lines.contains(&"scimd_unauthenticated_requests_total{address=\"other\"} 10"));
        // Values already kept go on counting under their own name.
        assert!(lines.contains(&"scimd_unauthenticated_requests_total{address=\"10.0.0.0\"} 2"));
        assert!(
            text.contains("scimd_unauthenticated_requests_by_token_total{token_id=\"none\"} 1011")
        );
    }
}
