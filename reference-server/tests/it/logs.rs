//! What peers can make the server log: a flood of connections or bad input must not become a
//! flood of log lines (every line costs the operator disk and attention).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{Client, server};
use jim_server::Config;

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap()).matches(needle).count()
    }
}

#[tokio::test]
async fn connections_over_the_limit_do_not_flood_the_log() {
    let log = Captured::default();
    let sink = log.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
    // The test runtime has one thread, so the server's tasks log through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let srv = server(Config { max_connections: 1, ..Config::default() }).await;
    let _holder = Client::spec(srv.addr(), "Holder").await;
    for _ in 0..50 {
        let mut over = Client::connect(srv.addr()).await;
        assert!(over.expect_closed().await.is_empty());
    }
    let lines = log.count("connection limit reached");
    assert!(lines >= 1, "the limit is not reported at all");
    assert!(lines <= 3, "{lines} log lines for 50 rejected connections");
    srv.shutdown().await;
}
