//! SIGTERM to the real binary: it stops within `--shutdown-timeout` even with a client stalled
//! mid-request, and says so in its log. (The deadline itself, and the closing of stalled
//! connections, are tested in process in sessiond-server's `slow_clients`.)

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::Serve;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_stalled_client_ends_within_the_shutdown_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Serve::new()
        .sqlite(dir.path())
        .args(&["--shutdown-timeout", "2", "--body-read-timeout", "120"])
        .spawn()
        .await;
    let mut stalled = TcpStream::connect(&p.addr).await.unwrap();
    stalled
        .write_all(
            b"POST /public/recipe/session HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let r = reqwest::get(format!("{}/healthz", p.url())).await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t0 = Instant::now();
    // The shutdown timeout is 2 s: 10 s is plenty.
    let status = p.stop("-TERM", Duration::from_secs(10)).await;
    let took = t0.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(
        took >= Duration::from_millis(1500),
        "exited before the deadline with a request in flight: {took:?}"
    );
    assert!(
        !p.with_message("shutdown deadline reached: closing the connections still open").is_empty(),
        "{}",
        p.text()
    );
}
