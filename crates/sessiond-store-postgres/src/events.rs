//! Push for the revocation log: every append runs `pg_notify(channel, last cursor)` in its own
//! statement (so the notification is sent at commit, and only if it commits), and one background
//! task per store `LISTEN`s on a connection of its own and turns notifications into a
//! `tokio::sync::watch` change. Readers still poll every [`POLL_INTERVAL`] as a safety net (a
//! notification sent while the listener was reconnecting is lost).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::{oneshot, watch};

/// How often followers read the log even without a notification.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Longest wait between attempts to re-establish the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The notification channel of a schema: `sessiond_events_<schema>`, or, when that would pass
/// PostgreSQL's 63-byte identifier limit, `sessiond_events_<16 hex digits of a hash of the
/// schema>` (channels are per database, so the schema keeps deployments apart).
pub(crate) fn channel_name(schema: &str) -> String {
    let plain = format!("sessiond_events_{schema}");
    if plain.len() <= 63 {
        return plain;
    }
    // FNV-1a: stable across builds and platforms (a collision only costs spurious wake-ups).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in schema.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("sessiond_events_{h:016x}")
}

/// The push side of one store: the signal, and the listener task once somebody asked for it.
pub(crate) struct Push {
    /// Holds the highest cursor known to be appended; changes on every notification, on every
    /// append through this store, and after the listener (re)subscribes.
    signal: Arc<watch::Sender<u64>>,
    channel: String,
    /// A pool of one connection for the listener, apart from the store's pool so `LISTEN` never
    /// takes a connection operations need.
    pool: PgPool,
    /// Dropping (or sending on) it stops the listener.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

impl Push {
    pub(crate) fn new(options: PgConnectOptions, schema: &str, timeout: Duration) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(timeout)
            // The listener holds its connection for good; nothing idles out.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        Self {
            signal: Arc::new(watch::channel(0).0),
            channel: channel_name(schema),
            pool,
            stop: Mutex::new(None),
        }
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    /// An append through this store committed up to `cursor`: readers of this process need not
    /// wait for the notification to come back.
    pub(crate) fn appended(&self, cursor: u64) {
        self.signal.send_modify(|v| *v = (*v).max(cursor));
    }

    /// A receiver of the signal; starts the listener on first use (`None` outside a Tokio
    /// runtime: readers then poll).
    pub(crate) fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if stop.is_none() {
            let rt = tokio::runtime::Handle::try_current().ok()?;
            let (tx, rx) = oneshot::channel();
            rt.spawn(listen(self.pool.clone(), self.channel.clone(), Arc::clone(&self.signal), rx));
            *stop = Some(tx);
        }
        Some(self.signal.subscribe())
    }

    /// Stops the listener and closes its connection.
    pub(crate) async fn close(&self) {
        let stop = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        self.pool.close().await;
    }
}

/// Listens until `stop` fires or is dropped (the store is gone), re-establishing the
/// subscription with backoff whenever it fails. Each time it is (re)subscribed it wakes the
/// readers once, since notifications sent meanwhile are lost.
async fn listen(
    pool: PgPool, channel: String, signal: Arc<watch::Sender<u64>>, mut stop: oneshot::Receiver<()>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut subscribed = false;
        let run = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(&channel).await?;
            subscribed = true;
            signal.send_modify(|_| {});
            tracing::debug!(channel, "listening for revocation events");
            loop {
                match listener.try_recv().await? {
                    Some(n) => match n.payload().parse::<u64>() {
                        Ok(cursor) => signal.send_modify(|v| *v = (*v).max(cursor)),
                        Err(_) => signal.send_modify(|_| {}),
                    },
                    // The connection was lost and has been re-established (and re-subscribed):
                    // anything sent in between is lost, so readers look.
                    None => signal.send_modify(|_| {}),
                }
            }
        };
        let outcome: Result<(), sqlx::Error> = tokio::select! {
            _ = &mut stop => return,
            r = run => r,
        };
        if let Err(e) = outcome {
            if matches!(e, sqlx::Error::PoolClosed) {
                return;
            }
            tracing::debug!(error = %e, "the revocation-event listener failed; readers poll until it is back");
        }
        if subscribed {
            backoff = Duration::from_millis(100);
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_fit_an_identifier() {
        assert_eq!(channel_name("sessiond"), "sessiond_events_sessiond");
        let long = "s".repeat(63);
        let c = channel_name(&long);
        assert!(c.len() <= 63, "{c}");
        assert_ne!(c, channel_name(&"t".repeat(63)));
        assert_eq!(c, channel_name(&long), "stable");
    }
}
