//! Request rate limits: a token bucket per key (a credential, an address),
//! refilled continuously, in memory (a restart forgives).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Limits;

/// Buckets by key.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes one request from `key`'s bucket of `per_minute`; `Err` holds
    /// how long until one is free.
    pub(crate) fn take(&self, key: &str, per_minute: u32) -> Result<(), Duration> {
        let capacity = f64::from(per_minute.max(1));
        let rate = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = super::lock(&self.buckets);
        if buckets.len() > 100_000 {
            // Forget full buckets (idle keys) rather than grow without end.
            buckets.retain(|_, (level, at)| {
                *level + now.duration_since(*at).as_secs_f64() * rate < capacity
            });
        }
        let (level, at) = buckets.entry(key.to_owned()).or_insert((capacity, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(capacity);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *level) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_keys_are_apart() {
        let limiter = Limiter::new(Limits::default());
        for _ in 0..3 {
            limiter.take("a", 3).expect("within the limit");
        }
        let wait = limiter.take("a", 3).expect_err("over the limit");
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        limiter
            .take("b", 3)
            .expect("another key has its own bucket");
    }
}
