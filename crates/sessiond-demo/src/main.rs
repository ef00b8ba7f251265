//! `sessiond-demo`: serves the demo app (see the crate documentation).

use clap::Parser;
use sessiond_demo::Args;

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.new_cookie_key {
        match sessiond_cookie::CookieKey::generate() {
            Ok(k) => println!("{}", k.to_base64url()),
            Err(e) => {
                eprintln!("sessiond-demo: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SESSIOND_DEMO_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let (app, manager) = match sessiond_demo::app(&args).await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sessiond-demo: {e}");
            std::process::exit(2);
        }
    };
    if args.users.is_empty() {
        eprintln!("sessiond-demo: no --user NAME:PASSWORD[:ROLE] given; nobody can sign in");
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sessiond-demo: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    let addr = listener.local_addr().map_or(args.listen, |a| a);
    let security = if args.insecure_dev_mode { "dev mode: no Secure" } else { "Secure cookies" };
    match args.sessions {
        sessiond_demo::args::SessionsMode::Stateless => println!(
            "sessiond-demo listening on http://{addr} (stateless cookie sessions, {}, {security}, __Host- prefix)",
            if args.signed { "signed JWS" } else { "encrypted JWE" },
        ),
        mode => println!(
            "sessiond-demo listening on http://{addr} (server-backed sessions, {mode:?}, {security})"
        ),
    }
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(t) => t,
                        Err(_) => return std::future::pending().await,
                    };
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        })
        .await;
    if let Some(m) = manager
        && let Err(e) = m.stop().await
    {
        eprintln!("sessiond-demo: flushing the session store failed: {e}");
    }
    if let Err(e) = served {
        eprintln!("sessiond-demo: {e}");
        std::process::exit(1);
    }
}
