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
use sessiond_core::SessionManager;
use sessiond_server::telemetry::Metrics;
use sessiond_server::{AppState, HttpOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

pub(crate) async fn listen(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn listen_service<S>(svc: S) -> SocketAddr
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
pub(crate) async fn bare() -> SocketAddr {
    async fn handler(body: axum::Json<serde_json::Value>) -> axum::Json<serde_json::Value> {
        std::hint::black_box(&body);
        axum::Json(serde_json::json!({"status": "OK"}))
    }
    listen(Router::new().route("/bare", post(handler))).await
}

/// sessiond's router over `m`.
pub(crate) async fn sessiond(m: &SessionManager) -> SocketAddr {
    let state = AppState {
        manager: m.clone(),
        anti_csrf_default: false,
        metrics: Metrics::default(),
        stopping: Default::default(),
    };
    listen_service(sessiond_server::service(state, &HttpOptions::default())).await
}

type Sender = http1::SendRequest<Full<Bytes>>;

pub(crate) async fn connect(addr: SocketAddr) -> Sender {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender
}

/// An operation that POSTs `body(i)` to `path` over `connections` keep-alive connections (one
/// per task); every response must be 200.
pub(crate) async fn post_op<B>(
    connections: usize,
    addr: SocketAddr,
    path: &'static str,
    body: B,
) -> impl Fn(usize, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static
where
    B: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
{
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(Mutex::new(connect(addr).await));
    }
    let conns = Arc::new(conns);
    let body = Arc::new(body);
    move |task, i| {
        let conns = Arc::clone(&conns);
        let body = Arc::clone(&body);
        Box::pin(async move {
            let mut c = conns[task].lock().await;
            let req = hyper::Request::post(path)
                .header("host", "127.0.0.1")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body(i))))
                .expect("request");
            let resp = c.send_request(req).await.expect("send");
            assert_eq!(resp.status(), 200);
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            std::hint::black_box(bytes);
        })
    }
}

/// Sends one request with an empty body (and `cookie`, if any) on `conn`.
pub(crate) async fn send(
    conn: &mut Sender,
    method: &str,
    path: &str,
    cookie: Option<&str>,
) -> hyper::Response<hyper::body::Incoming> {
    let mut b = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    // sessiond-axum puts new sessions in cookies when asked so (supertokens-web-js asks).
    b = b.header("st-auth-mode", "cookie");
    let req = b.body(Full::new(Bytes::new())).expect("request");
    conn.ready().await.expect("connection ready");
    conn.send_request(req).await.expect("send")
}

/// An operation that sends `method path` with `cookies[i % len]` (none when empty) over
/// `connections` keep-alive connections; every response must be 200.
pub(crate) async fn cookie_op(
    connections: usize,
    addr: SocketAddr,
    method: &'static str,
    path: &'static str,
    cookies: Arc<Vec<String>>,
) -> impl Fn(usize, u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
+ Send
+ Sync
+ 'static {
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(Mutex::new(connect(addr).await));
    }
    let conns = Arc::new(conns);
    move |task, i| {
        let conns = Arc::clone(&conns);
        let cookies = Arc::clone(&cookies);
        Box::pin(async move {
            let mut c = conns[task].lock().await;
            let cookie =
                (!cookies.is_empty()).then(|| cookies[(i as usize) % cookies.len()].as_str());
            let resp = send(&mut c, method, path, cookie).await;
            assert_eq!(resp.status(), 200);
            let bytes = resp.into_body().collect().await.expect("body").to_bytes();
            std::hint::black_box(bytes);
        })
    }
}
