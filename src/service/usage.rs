//! Requests and failures per token over the last 24 hours, for the Tokens page. Reads are not
//! logged, so these are counted in memory (hourly buckets) from the moment the server started.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::ids::TokenId;

/// One hour's counts.
#[derive(Debug, Clone, Copy, Default)]
struct Hour {
    hour: u64,
    requests: u64,
    failures: u64,
}

/// The counters; shared by every worker.
#[derive(Debug, Default)]
pub struct Usage {
    tokens: Mutex<HashMap<TokenId, [Hour; 24]>>,
}

fn hour_of(ms: i64) -> u64 {
    u64::try_from(ms.max(0) / 3_600_000).unwrap_or(0)
}

impl Usage {
    /// Count one request made with `token`; `failed` for 4xx/5xx answers.
    pub fn record(&self, token: TokenId, now_ms: i64, failed: bool) {
        let hour = hour_of(now_ms);
        let Ok(mut map) = self.tokens.lock() else {
            return;
        };
        let ring = map.entry(token).or_insert([Hour::default(); 24]);
        let slot = &mut ring[usize::try_from(hour % 24).unwrap_or(0)];
        if slot.hour != hour {
            *slot = Hour {
                hour,
                ..Hour::default()
            };
        }
        slot.requests += 1;
        if failed {
            slot.failures += 1;
        }
    }

    /// Requests and failures with `token` in the 24 hours up to `now_ms`.
    pub fn last_24h(&self, token: TokenId, now_ms: i64) -> (u64, u64) {
        let hour = hour_of(now_ms);
        let Ok(map) = self.tokens.lock() else {
            return (0, 0);
        };
        map.get(&token).map_or((0, 0), |ring| {
            ring.iter()
                .filter(|h| h.hour + 24 > hour && h.hour <= hour)
                .fold((0, 0), |(r, f), h| (r + h.requests, f + h.failures))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_expire_after_a_day() {
        let u = Usage::default();
        let t = TokenId::random();
        let h = 3_600_000;
        u.record(t, 10 * h, false);
        u.record(t, 10 * h + 5, true);
        u.record(t, 20 * h, false);
        assert_eq!(u.last_24h(t, 20 * h), (3, 1));
        assert_eq!(u.last_24h(t, 34 * h), (1, 0));
        assert_eq!(u.last_24h(t, 50 * h), (0, 0));
        assert_eq!(u.last_24h(TokenId::random(), 20 * h), (0, 0));
    }
}
