//! Over-HTTP rates: sessiond's router and a bare axum handler, driven by keep-alive HTTP/1.1
//! connections from the same process.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::json;
use sessiond_core::jose::Algorithm;
use sessiond_core::{NewSession, SessionManager};
use sessiond_server::{AppState, HttpOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::harness::{self, BoxedOp, Plan};
use crate::manager;
use crate::report::Report;

async fn listen<S>(svc: S) -> SocketAddr
where
    S: tower::Service<
            axum::extract::Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::ServiceExt::into_make_service(svc)).await;
    });
    addr
}

/// A bare axum app: parses the same JSON body, answers a small JSON object.
async fn bare() -> SocketAddr {
    async fn handler(body: axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
        std::hint::black_box(&body);
        axum::Json(serde_json::json!({"status": "OK"}))
    }
    listen(Router::new().route("/bare", post(handler))).await
}

/// sessiond's router over `m`.
async fn sessiond(m: &SessionManager) -> SocketAddr {
    listen(sessiond_server::service(AppState::new(m.clone()), &HttpOptions::default())).await
}

type Sender = http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// `connections` keep-alive connections to `addr`, one per task.
async fn connections(connections: usize, addr: SocketAddr) -> Arc<Vec<Mutex<Sender>>> {
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(Mutex::new(connect(addr).await));
    }
    Arc::new(conns)
}

/// Sends `req` on `conn`, checks the answer is 200 and reads its body.
async fn exchange(conn: &mut Sender, req: hyper::Request<Full<Bytes>>) {
    conn.ready().await.expect("connection ready");
    let resp = conn.send_request(req).await.expect("send");
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    std::hint::black_box(bytes);
}

/// An operation that sends `request(i)` over `connections` keep-alive connections (one per
/// task); every response must be 200.
async fn request_op<R>(connections: usize, addr: SocketAddr, request: R) -> BoxedOp
where
    R: Fn(u64) -> hyper::Request<Full<Bytes>> + Send + Sync + 'static,
{
    let conns = self::connections(connections, addr).await;
    let request = Arc::new(request);
    harness::boxed(move |task, i| {
        let (conns, request) = (Arc::clone(&conns), Arc::clone(&request));
        Box::pin(async move {
            let req = request(i);
            exchange(&mut *conns[task].lock().await, req).await;
        })
    })
}

/// The body of the `i`th request.
type Body = Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// An operation that POSTs `body(i)` to `path`, as JSON.
async fn post_op(connections: usize, addr: SocketAddr, path: &'static str, body: Body) -> BoxedOp {
    request_op(connections, addr, move |i| {
        hyper::Request::post(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body(i))))
            .expect("request")
    })
    .await
}

/// A request with an empty body, and `cookie` if any.
fn cookie_request(method: &str, path: &str, cookie: Option<&str>) -> hyper::Request<Full<Bytes>> {
    let mut b = hyper::Request::builder().method(method).uri(path).header("host", "127.0.0.1");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    // sessiond-axum puts new sessions in cookies when asked so (supertokens-web-js asks).
    b = b.header("st-auth-mode", "cookie");
    b.body(Full::new(Bytes::new())).expect("request")
}

/// Sends one request with an empty body (and `cookie`, if any) on `conn`.
pub(crate) async fn send(
    conn: &mut Sender, method: &str, path: &str, cookie: Option<&str>,
) -> hyper::Response<hyper::body::Incoming> {
    conn.ready().await.expect("connection ready");
    conn.send_request(cookie_request(method, path, cookie)).await.expect("send")
}

/// An operation that sends `method path` with `cookies[i % len]` (none when empty).
pub(crate) async fn cookie_op(
    connections: usize, addr: SocketAddr, method: &'static str, path: &'static str,
    cookies: Arc<Vec<String>>,
) -> BoxedOp {
    request_op(connections, addr, move |i| {
        let cookie = (!cookies.is_empty()).then(|| cookies[(i as usize) % cookies.len()].as_str());
        cookie_request(method, path, cookie)
    })
    .await
}

/// sessiond's router on `m` beside a bare axum handler that parses the same JSON body: verify
/// and create, over `plan.concurrency` keep-alive connections each.
pub(crate) async fn figures(report: &mut Report, plan: Plan, m: &SessionManager, alg: Algorithm) {
    let bare_addr = bare().await;
    let sessiond_addr = sessiond(m).await;
    let tokens = manager::access_tokens(m, 256, |i| NewSession::new(format!("http-{i}"))).await;
    let verify_body: Body = Arc::new(move |i| {
        json!({"accessToken": tokens[(i as usize) % tokens.len()], "doAntiCsrfCheck": false, "checkDatabase": false})
            .to_string()
            .into_bytes()
    });
    let create_body: Body = Arc::new(|i| {
        json!({"userId": format!("user-{}", i % 10_000), "userDataInJWT": {"role": "user"}, "userDataInDatabase": {}, "enableAntiCsrf": false, "useDynamicSigningKey": true})
            .to_string()
            .into_bytes()
    });
    let n = plan.concurrency;
    for (what, path, body) in [
        ("verify", "/recipe/session/verify", verify_body),
        ("create", "/public/recipe/session", create_body),
    ] {
        let op = post_op(n, sessiond_addr, path, Arc::clone(&body)).await;
        let bare = post_op(n, bare_addr, "/bare", body).await;
        report.pair(
            format!("HTTP {what:<11} sqlite {alg}"),
            harness::pair(plan, move |t, i| op(t, i), move |t, i| bare(t, i)).await,
            "bare axum handler, same body",
        );
    }
}
