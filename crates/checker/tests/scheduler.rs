//! The scheduler end to end: real probes against a real nginx, real (short)
//! timings, from the first UP to a DOWN when nginx goes away.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::time::{Duration, Instant};

use checker::{
    Change, CheckKind, CheckSpec, Digest, Event, Failure, HttpCheck, NetProber, Scheduler,
    SchedulerConfig, Target, Timing, UrlCheck,
};
use testkit::{site, Nginx};
use tokio::sync::mpsc::UnboundedReceiver;

const DELAY_LOOP: Duration = Duration::from_millis(200);
const DELAY_BEFORE_RETRY: Duration = Duration::from_millis(100);

fn spec(nginx: &Nginx, url: UrlCheck) -> CheckSpec {
    CheckSpec {
        target: Target::new(nginx.http_addr()),
        kind: CheckKind::Http(HttpCheck { virtualhost: None, urls: vec![url] }),
        timing: Timing {
            delay_loop: DELAY_LOOP,
            connect_timeout: Duration::from_secs(1),
            retry: 1,
            delay_before_retry: DELAY_BEFORE_RETRY,
            warmup: Some(Duration::ZERO),
            alpha: false,
        },
    }
}

async fn next(events: &mut UnboundedReceiver<Event<&'static str>>) -> Event<&'static str> {
    tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .expect("an event within 2 s")
        .expect("the scheduler is alive")
}

#[tokio::test]
async fn http_check_goes_up_then_down_with_the_reason() {
    let Some(mut nginx) = Nginx::start_or_skip() else { return };
    let started = Instant::now();
    let (mut scheduler, mut events) = Scheduler::new(NetProber, SchedulerConfig::default());

    let fixed = UrlCheck {
        digest: Some(Digest::parse(site::FIXED_MD5).unwrap()),
        ..UrlCheck::new(site::FIXED_PATH)
    };
    let web = scheduler.subscribe("web", spec(&nginx, fixed));
    let up = next(&mut events).await;
    assert_eq!((up.subscriber, up.check), ("web", web));
    assert_eq!(up.change, Change::Up { weight: None, first: true });
    assert_eq!(up.report.digest.as_deref(), Some(site::FIXED_MD5));

    // A second check on the 503 page: its first verdict is DOWN, reached only
    // after the retry (two failed probes, delay_before_retry apart).
    let subscribed = Instant::now();
    let bad = scheduler.subscribe("bad", spec(&nginx, UrlCheck::new(site::DOWN_PATH)));
    assert_ne!(bad, web);
    let down = next(&mut events).await;
    assert_eq!((down.subscriber, down.change), ("bad", Change::Down { first: true }));
    assert!(subscribed.elapsed() >= DELAY_BEFORE_RETRY, "{:?}", subscribed.elapsed());
    let reason = down.report.failure().unwrap().to_string();
    assert_eq!(reason, "GET /down: status 503, expected 200-299");

    // nginx goes away: the next regular probe fails, so does its retry, then DOWN.
    nginx.stop();
    let stopped = Instant::now();
    let down = next(&mut events).await;
    let took = stopped.elapsed();
    assert_eq!((down.subscriber, down.change), ("web", Change::Down { first: false }));
    assert_eq!(down.report.failure(), Some(&Failure::Refused));
    assert!(
        took >= DELAY_BEFORE_RETRY
            && took < DELAY_LOOP + DELAY_BEFORE_RETRY + Duration::from_millis(1500),
        "DOWN {took:?} after nginx stopped"
    );
    let status = scheduler.status(&"web").unwrap();
    assert!(!status.up && status.has_verdict);
    assert!(status.failed_probes >= 2, "{status:?}");
    assert_eq!(status.last.as_ref().and_then(|r| r.failure()), Some(&Failure::Refused));
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
}
