//! Rate limits per API key and per anonymous client address: a counter per subject and minute,
//! in Redis when configured (shared by every instance), in process otherwise or when Redis fails.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Caller, Role};
use crate::error::{Error, Result};
use crate::shared::SharedStore;

/// Default requests per minute by kind of caller.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// Per anonymous client address.
    pub anonymous: u32,
    /// Per partner key.
    pub partner: u32,
    /// Per provider, editor or admin key.
    pub staff: u32,
}

/// Where a caller stands in its minute, sent as `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset` (seconds until the next minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests per minute.
    pub limit: u32,
    /// Requests left this minute.
    pub remaining: u32,
    /// Seconds until the counter starts again.
    pub reset: u64,
}

impl Allowance {
    /// Adds the three headers to a response.
    pub fn write(&self, headers: &mut axum::http::HeaderMap) {
        for (name, value) in [
            ("ratelimit-limit", u64::from(self.limit)),
            ("ratelimit-remaining", u64::from(self.remaining)),
            ("ratelimit-reset", self.reset),
        ] {
            headers.insert(name, axum::http::HeaderValue::from(value));
        }
    }
}

/// The limiter.
pub struct RateLimiter {
    quotas: Quotas,
    shared: SharedStore,
    local: Mutex<(u64, HashMap<String, u32>)>,
}

impl RateLimiter {
    /// A limiter with these quotas (0 means unlimited).
    pub fn new(quotas: Quotas, shared: SharedStore) -> RateLimiter {
        RateLimiter { quotas, shared, local: Mutex::new((0, HashMap::new())) }
    }

    fn quota(&self, caller: &Caller) -> u32 {
        match caller {
            Caller::Anonymous => self.quotas.anonymous,
            Caller::Key { quota: Some(q), .. } => *q,
            Caller::Key { role: Role::Partner, .. } => self.quotas.partner,
            Caller::Key { .. } => self.quotas.staff,
        }
    }

    /// Counts one request: where the caller stands (nothing when unlimited), or `RATE_LIMITED`
    /// with the seconds to wait when over quota.
    pub async fn check(&self, caller: &Caller, addr: Option<IpAddr>) -> Result<Option<Allowance>> {
        let quota = self.quota(caller);
        if quota == 0 {
            return Ok(None);
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let minute = now / 60;
        let subject = match caller {
            Caller::Anonymous => format!("ip:{}", addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string())),
            Caller::Key { id, .. } => format!("key:{id}"),
        };
        let key = format!("rl:{subject}:{minute}");
        let count = match self.shared.incr(&key, 1, Duration::from_secs(120)).await {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => self.local_incr(&key, minute),
        };
        let reset = 60 - now % 60;
        if count > quota {
            return Err(Error::RateLimited { retry_after: reset });
        }
        Ok(Some(Allowance { limit: quota, remaining: quota - count, reset }))
    }

    fn local_incr(&self, key: &str, minute: u64) -> u32 {
        let Ok(mut guard) = self.local.lock() else { return 0 };
        let (current, counts) = &mut *guard;
        if *current != minute {
            *current = minute;
            counts.clear();
        }
        let n = counts.entry(key.to_owned()).or_insert(0);
        *n += 1;
        *n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_request_over_quota_is_refused_with_a_delay() {
        let limiter = RateLimiter::new(Quotas { anonymous: 3, partner: 0, staff: 0 }, SharedStore::none());
        let addr = Some("192.0.2.1".parse().expect("address"));
        for left in [2, 1, 0] {
            let allowance = limiter.check(&Caller::Anonymous, addr).await.expect("within quota").expect("limited");
            assert_eq!((allowance.limit, allowance.remaining), (3, left));
            assert!((1..=60).contains(&allowance.reset));
        }
        match limiter.check(&Caller::Anonymous, addr).await {
            Err(Error::RateLimited { retry_after }) => assert!((1..=60).contains(&retry_after)),
            other => panic!("expected RATE_LIMITED, got {other:?}"),
        }
        // Another address has its own quota.
        limiter.check(&Caller::Anonymous, Some("192.0.2.2".parse().expect("address"))).await.expect("own quota");
    }
}
