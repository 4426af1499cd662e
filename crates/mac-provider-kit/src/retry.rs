//! How often and how long to retry, and what the server asked for (`Retry-After`).

use std::time::{Duration, SystemTime};

/// How often and how long a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: no retry).
    pub attempts: u32,
    /// The first backoff; each next one doubles, with jitter.
    pub base: Duration,
    /// The longest wait between two attempts, `Retry-After` included.
    pub max_delay: Duration,
    /// No retry starts after this much time on one request.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, from 200 ms, at most 10 s apart, within 60 s.
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            budget: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy { attempts: 1, ..RetryPolicy::default() }
    }

    /// The default policy with `attempts` in all (at least 1): a provider's `retries` setting.
    pub fn with_attempts(attempts: u32) -> RetryPolicy {
        RetryPolicy { attempts: attempts.max(1), ..RetryPolicy::default() }
    }

    /// The wait before attempt `attempt + 1`: the server's `Retry-After` when it gave one,
    /// else the backoff, never more than `max_delay`.
    pub(crate) fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after.unwrap_or_else(|| backoff(self.base, attempt)).min(self.max_delay)
    }
}

/// `base × 2^(attempt-1)`, with ±25% jitter so that parallel retries spread out.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    // The clock's nanoseconds are random enough to spread retries; no generator needed.
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |now| now.subsec_nanos());
    let jitter = 0.75 + f64::from(nanos % 1000) / 2000.0;
    exponential.mul_f64(jitter)
}

/// A `Retry-After` header's wait: delay-seconds (`120`) or an HTTP date, from `now`
/// (a date in the past is no wait); `None` when it is neither.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO), "already past");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let policy = RetryPolicy::default();
        for attempt in 1..=4 {
            let delay = policy.delay(attempt, None);
            let nominal = Duration::from_millis(200 * (1 << (attempt - 1)));
            assert!(delay >= nominal.mul_f64(0.75) && delay <= nominal.mul_f64(1.25), "{attempt}: {delay:?}");
        }
        assert_eq!(policy.delay(20, None), policy.max_delay);
        assert_eq!(policy.delay(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(policy.delay(1, Some(Duration::from_secs(3600))), policy.max_delay);
        assert_eq!(RetryPolicy::with_attempts(0).attempts, 1);
    }
}
