//! Spacing out requests to an API with a per-account request rate.
//!
//! A [`Pacer`] hands out start times at most one per `interval`, first come first served: the
//! first call starts at once, each further one `interval` after the one before it, or at once if
//! that moment has passed. Clones share one schedule, so every client holding a clone of the same
//! pacer (in flip-dns: every Route 53 call of the process) is paced together. A pacer does not
//! know about other processes or other callers in the account; its rate should leave them room.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A shared schedule of request start times, `interval` apart.
#[derive(Debug, Clone)]
pub struct Pacer {
    interval: Duration,
    /// The earliest moment the next request may start; `None` before the first one.
    next: Arc<Mutex<Option<Instant>>>,
}

impl Pacer {
    /// At most one request per `interval`; `Duration::ZERO` does not pace at all.
    pub fn new(interval: Duration) -> Self {
        Pacer {
            interval,
            next: Arc::new(Mutex::new(None)),
        }
    }

    /// At most `requests_per_second` requests per second, which must be a positive finite number
    /// (the interval is its reciprocal, in seconds).
    pub fn per_second(requests_per_second: f64) -> Self {
        Pacer::new(Duration::from_secs_f64(1.0 / requests_per_second))
    }

    /// The time between two request starts.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this request's turn: returns at once when the previous turn is at least
    /// `interval` ago, else sleeps until it is. Each call takes one turn.
    pub async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let start = {
            // The lock is held for the arithmetic only, never across the sleep.
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let now = Instant::now();
            let start = next.map_or(now, |at| at.max(now));
            *next = Some(start + self.interval);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_request_starts_at_once_and_each_further_one_an_interval_later() {
        let pacer = Pacer::new(Duration::from_millis(200));
        let begin = Instant::now();
        pacer.wait().await;
        assert!(
            begin.elapsed() < Duration::from_millis(100),
            "first at once"
        );
        for _ in 0..4 {
            pacer.wait().await;
        }
        let elapsed = begin.elapsed();
        assert!(
            elapsed >= Duration::from_millis(800),
            "4 further turns take 4 intervals: {elapsed:?}"
        );
    }

    #[tokio::test]
    async fn clones_share_one_schedule_even_from_concurrent_tasks() {
        let pacer = Pacer::per_second(25.0);
        assert_eq!(pacer.interval(), Duration::from_millis(40));
        let begin = Instant::now();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let pacer = pacer.clone();
                tokio::spawn(async move {
                    pacer.wait().await;
                    begin.elapsed()
                })
            })
            .collect();
        let mut starts = Vec::new();
        for task in tasks {
            starts.push(task.await.unwrap());
        }
        starts.sort();
        // The k-th turn is k intervals after the first; a sleep never ends early (it may end late,
        // so only the lower bound is checked).
        for (k, start) in starts.iter().enumerate() {
            assert!(
                *start >= Duration::from_millis(40) * k as u32,
                "turn {k} before its time: {starts:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_pause_longer_than_the_interval_is_not_saved_up_as_a_burst() {
        let pacer = Pacer::new(Duration::from_millis(40));
        pacer.wait().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let begin = Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        assert!(
            begin.elapsed() >= Duration::from_millis(35),
            "the second call after the pause still waits its interval"
        );
    }

    #[tokio::test]
    async fn a_zero_interval_never_waits() {
        let pacer = Pacer::new(Duration::ZERO);
        let begin = Instant::now();
        for _ in 0..100 {
            pacer.wait().await;
        }
        assert!(begin.elapsed() < Duration::from_millis(50));
    }
}
