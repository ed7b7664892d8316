//! The demo's client: GETs on the VIP from the client namespace, one every
//! [`INTERVAL`], recorded with their time, so any stretch of the story can be read
//! back as who answered and what failed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use testkit::netns::Netns;

use crate::http::{self, Tally};

/// Between two requests. A request is one TCP connection (so IPVS schedules each).
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Per request: a VIP nobody owns fails here rather than stalling the record.
const TIMEOUT: Duration = Duration::from_millis(500);

/// One request: when it started, and the answering server's name or the error.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub answer: Result<String, String>,
}

/// The running client; [`Traffic::stop`] ends it.
#[derive(Debug)]
pub struct Traffic {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    pub fn start(client: &Netns, target: SocketAddr) -> Traffic {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (record, stopped) = (Arc::clone(&samples), Arc::clone(&stop));
        let thread = client.in_thread(move || {
            while !stopped.load(Ordering::Relaxed) {
                let at = Instant::now();
                let answer = http::get(target, TIMEOUT);
                record.lock().unwrap_or_else(PoisonError::into_inner).push(Sample { at, answer });
                std::thread::sleep(INTERVAL.saturating_sub(at.elapsed()));
            }
        });
        Traffic { samples, stop, thread: Some(thread) }
    }

    /// Every request started in `[from, to)`.
    pub fn between(&self, from: Instant, to: Instant) -> Vec<Sample> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples.iter().filter(|s| s.at >= from && s.at < to).cloned().collect()
    }

    /// The requests started since `from`, counted.
    pub fn tally_since(&self, from: Instant) -> Tally {
        tally(&self.between(from, Instant::now()))
    }

    /// The first request started at or after `from` that `server` answered.
    pub fn first_answer_from(&self, server: &str, from: Instant) -> Option<Instant> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        samples.iter().find(|s| s.at >= from && s.answer.as_deref() == Ok(server)).map(|s| s.at)
    }

    /// The last failed request started in `[from, to)`.
    pub fn last_failure(&self, from: Instant, to: Instant) -> Option<Instant> {
        self.between(from, to).iter().rev().find(|s| s.answer.is_err()).map(|s| s.at)
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn tally(samples: &[Sample]) -> Tally {
    let mut tally = Tally::default();
    for sample in samples {
        match &sample.answer {
            Ok(server) => *tally.by_server.entry(server.clone()).or_default() += 1,
            Err(e) => tally.errors.push(e.clone()),
        }
    }
    tally
}
