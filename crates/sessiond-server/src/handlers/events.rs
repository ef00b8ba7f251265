//! `GET /sessiond/v1/revocations?cursor=N`: the revocation log as server-sent events, for
//! verifiers that are not a `SessionManager` on the store (the axum layer in remote mode).
//!
//! The stream sends every event after `cursor` (0: every event still kept), then
//! `{"kind":"current"}`, then each new event as this process's feed applies it. A client that
//! reconnects with the last cursor it saw misses nothing; if events it had not seen were trimmed,
//! it is told `{"kind":"gap"}` and must check sessions against the service until their tokens
//! have expired. A comment line every 15 s keeps idle connections open through proxies.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use sessiond_api::v1::RevocationMessage;
use sessiond_core::store::EventKind;

use crate::error::ApiError;
use crate::state::AppState;

/// Events read from the store per page.
const PAGE: usize = 512;

/// The query of the revocation stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Cursor {
    /// Resume after this cursor (0 or absent: from the oldest event kept).
    #[serde(default)]
    cursor: u64,
}

fn message(cursor: u64, at: i64, kind: &EventKind) -> RevocationMessage {
    match kind {
        EventKind::Revoked { handle } => {
            RevocationMessage::Revoked { cursor, at, handle: handle.clone() }
        }
        _ => RevocationMessage::KeysReset { cursor, at },
    }
}

fn event(m: &RevocationMessage, cursor: Option<u64>) -> Event {
    let e = Event::default()
        .json_data(m)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"));
    match cursor {
        Some(c) => e.id(c.to_string()),
        None => e,
    }
}

#[utoipa::path(get, path = "/sessiond/v1/revocations", tag = "sessiond", params(Cursor), responses((status = 200, description = "server-sent events: each `data:` is a RevocationMessage (revoked, keys-reset, gap, current)", content_type = "text/event-stream", body = RevocationMessage), (status = 401, description = "missing or invalid API key", body = sessiond_api::ErrorBody), (status = 503, description = "store unavailable", body = sessiond_api::ErrorBody)))]
/// `GET /sessiond/v1/revocations`: the revocation log, then new events as they happen.
pub(crate) async fn revocations(
    State(s): State<AppState>, Query(q): Query<Cursor>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // The first page is read before answering, so a store outage is a 503, not an empty stream.
    let store = std::sync::Arc::clone(s.manager.store());
    let first = store
        .events_since(q.cursor, PAGE)
        .await
        .map_err(|e| ApiError::from(sessiond_core::Error::Store(e)))?;
    let notify = s.manager.revocations().subscribe();
    let state = (store, notify, q.cursor, Some(first), false);
    let stream = futures_util::stream::unfold(
        state,
        |(store, mut notify, cursor, pending, told_current)| async move {
            // Turns one page into events; `None` from the closure means "read the next page".
            let mut cursor = cursor;
            let mut page = pending;
            loop {
                if let Some(p) = page.take() {
                    let mut out = Vec::new();
                    if !p.continuous && cursor != 0 {
                        out.push(Ok(event(&RevocationMessage::Gap, None)));
                    }
                    let full = p.events.len() >= PAGE;
                    for e in &p.events {
                        cursor = e.cursor;
                        out.push(Ok(event(&message(e.cursor, e.at, &e.kind), Some(e.cursor))));
                    }
                    let mut told = told_current;
                    if !full && !told {
                        out.push(Ok(event(&RevocationMessage::Current, None)));
                        told = true;
                    }
                    if !out.is_empty() {
                        let next_page =
                            if full { store.events_since(cursor, PAGE).await.ok() } else { None };
                        return Some((
                            futures_util::stream::iter(out),
                            (store, notify, cursor, next_page, told),
                        ));
                    }
                    if full {
                        page = store.events_since(cursor, PAGE).await.ok();
                        continue;
                    }
                }
                // Wait for this process's feed to apply something new (it follows the store), or
                // poll now and then in case this process has no feed of its own.
                let _ = tokio::time::timeout(Duration::from_secs(1), notify.changed()).await;
                match store.events_since(cursor, PAGE).await {
                    Ok(p) => page = Some(p),
                    // The store is gone: end the stream; the client reconnects from its cursor and
                    // checks sessions against the service meanwhile.
                    Err(_) => return None,
                }
            }
        },
    );
    use futures_util::StreamExt as _;
    // Ends when the server shuts down; clients reconnect (to another process) from their cursor.
    let stream = stream.flatten().take_until(s.stopping.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
