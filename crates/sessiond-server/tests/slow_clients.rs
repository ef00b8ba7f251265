//! Slow and stalled clients: a header-read timeout, a body-read timeout, a cap on open
//! connections and a deadline on shutdown keep them from starving everyone else.
//!
//! Timings are only ever asserted generously (an answer within 2 s, a close within the
//! timeout plus several seconds); what these tests pin down is that stalled connections are
//! closed at all, and that they never stop others from being served.

#![allow(clippy::unwrap_used)] // tests report failures by panicking

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, start};
use serde_json::json;
use sessiond_server::Settings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const KEY: &str = "slow-client-test-key-0123456789";

/// A server that wants [`KEY`], with the limits `adjust` sets.
async fn start_keyed(adjust: impl FnOnce(&mut Settings)) -> TestServer {
    start(|s| {
        s.api_keys = vec![KEY.into()];
        adjust(s);
    })
    .await
}

/// Half a request line and headers, then nothing.
const HALF_REQUEST: &[u8] = b"POST /public/recipe/session HTTP/1.1\r\nHost: x\r\nContent-Ty";

/// Reads until the peer closes; `true` when it closed (EOF or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// The response head and body of one raw request, read until `\r\n\r\n` plus the body.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => n,
        };
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + len {
                break;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn hello_request() -> Vec<u8> {
    format!("GET /hello HTTP/1.1\r\nHost: x\r\napi-key: {KEY}\r\n\r\n").into_bytes()
}

/// 1,000 connections that sent half a request and stalled: an authenticated request and a
/// create on a new connection are still answered promptly, and every stalled connection is
/// closed once the header timeout has passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stalled_connections_neither_block_others_nor_stay_open() {
    let t = start_keyed(|s| s.header_read_timeout = 2).await;
    let opened = Instant::now();
    let mut stalled = Vec::with_capacity(1000);
    for i in 0..1000 {
        let mut s = TcpStream::connect(t.server.addr)
            .await
            .unwrap_or_else(|e| panic!("connection {i}: {e} (is `ulimit -n` at least 2,100?)"));
        s.write_all(HALF_REQUEST).await.unwrap();
        stalled.push(s);
    }

    // Fresh connections are served at once, authenticated reads and writes alike.
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let r = http.get(format!("{}/hello", t.base)).header("api-key", KEY).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let hello = t0.elapsed();
    let t0 = Instant::now();
    let r = http
        .post(format!("{}/public/recipe/session", t.base))
        .header("api-key", KEY)
        .json(&json!({"userId": "patient"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let create = t0.elapsed();
    assert!(
        hello < Duration::from_secs(2) && create < Duration::from_secs(2),
        "with 1,000 stalled connections: /hello took {hello:?}, a create {create:?}"
    );

    // Every stalled connection is closed after the 2 s header timeout (allowing 10 s more).
    let deadline = opened + Duration::from_secs(12);
    let checks: Vec<_> = stalled
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let left = deadline.saturating_duration_since(Instant::now());
                closed_within(&mut s, left).await
            })
        })
        .collect();
    let mut open = 0;
    for c in checks {
        if !c.await.unwrap() {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} of 1,000 stalled connections still open after 12 s");
    eprintln!(
        "1,000 stalled: /hello {hello:?}, create {create:?}, all closed {:?} after opening",
        opened.elapsed()
    );
}

/// A client that sends its headers and then stalls its body gets 408 `REQUEST_TIMEOUT` after
/// the body timeout, and the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408_after_the_body_timeout() {
    let t = start_keyed(|s| s.body_read_timeout = 2).await;
    for partial in [&b""[..], b"{\"userId\":"] {
        let mut s = TcpStream::connect(t.server.addr).await.unwrap();
        let head = format!(
            "POST /public/recipe/session HTTP/1.1\r\nHost: x\r\napi-key: {KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(partial).await.unwrap();
        let sent = Instant::now();
        let resp = read_response(&mut s, Duration::from_secs(12))
            .await
            .expect("no answer within 12 s to a stalled body (2 s body timeout)");
        assert!(resp.starts_with("HTTP/1.1 408"), "{resp}");
        assert!(resp.contains("REQUEST_TIMEOUT"), "{resp}");
        assert!(
            sent.elapsed() >= Duration::from_millis(1500),
            "408 before the timeout: {:?}",
            sent.elapsed()
        );
        assert!(
            closed_within(&mut s, Duration::from_secs(5)).await,
            "the connection stays open after the 408"
        );
    }
    // A body that does arrive in time is served.
    let c = t.create("on-time").await;
    assert_eq!(c["status"], "OK");
}

/// Over `max_connections`, new connections wait (in the listen backlog) and the connections
/// being served keep being served; once stalled ones are closed, the waiting one is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_wait_without_hurting_served_ones() {
    let t = start_keyed(|s| {
        s.max_connections = 8;
        s.header_read_timeout = 5;
    })
    .await;
    // Four keep-alive connections that are being served...
    let mut served = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(t.server.addr).await.unwrap();
        s.write_all(&hello_request()).await.unwrap();
        let r = read_response(&mut s, Duration::from_secs(2)).await.unwrap();
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        served.push(s);
    }
    // ...and four stalled ones: the cap of 8 is reached.
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(t.server.addr).await.unwrap();
        s.write_all(HALF_REQUEST).await.unwrap();
        stalled.push(s);
    }
    // A ninth connection is accepted by the kernel but not served yet.
    let mut waiting = TcpStream::connect(t.server.addr).await.unwrap();
    waiting.write_all(&hello_request()).await.unwrap();
    // The served connections are still served at once.
    for s in &mut served {
        let t0 = Instant::now();
        s.write_all(&hello_request()).await.unwrap();
        let r = read_response(s, Duration::from_secs(2))
            .await
            .expect("a served connection got no answer within 2 s at the cap");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(t0.elapsed() < Duration::from_secs(2));
    }
    assert!(
        read_response(&mut waiting, Duration::from_millis(300)).await.is_none_or(|r| r.is_empty()),
        "a connection over the cap was served while 8 were open"
    );
    // The stalled and idle ones are closed by the 5 s header timeout; then it is served.
    let r = read_response(&mut waiting, Duration::from_secs(15))
        .await
        .expect("the waiting connection was never served");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    drop(stalled);
}

/// Shutdown with a stalled client connected (one mid-body, one mid-headers): the server stops
/// within the shutdown deadline instead of waiting for them, and closes their connections.
/// (`sessiond`'s own tests send the real SIGTERM to the binary.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_stalled_clients_ends_within_the_deadline() {
    let t = start(|s| {
        s.shutdown_timeout = 2;
        s.header_read_timeout = 120;
        s.body_read_timeout = 120;
    })
    .await;
    let addr = t.server.addr;
    let mut mid_body = TcpStream::connect(addr).await.unwrap();
    mid_body
        .write_all(
            b"POST /public/recipe/session HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"us",
        )
        .await
        .unwrap();
    let mut mid_headers = TcpStream::connect(addr).await.unwrap();
    mid_headers.write_all(HALF_REQUEST).await.unwrap();
    // A normal request still works, and gives the stalled ones time to reach the server.
    let r = reqwest::get(format!("{}/healthz", t.base)).await.unwrap();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let t0 = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), t.server.shutdown())
        .await
        .expect("the server did not stop within 10 s (shutdown timeout 2 s)")
        .unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "stopped before the deadline with a request in flight: {took:?}"
    );
    assert!(closed_within(&mut mid_body, Duration::from_secs(2)).await);
    assert!(closed_within(&mut mid_headers, Duration::from_secs(2)).await);
    eprintln!("shutdown with stalled clients: stopped after {took:?} (deadline 2 s)");
}
