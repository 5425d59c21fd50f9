//! Attacks on the reference server, each bounded in time and count and on loopback only: a
//! request must never go unanswered, whatever shape the input takes.
//!
//! Pipelines written in one `write` are the case that found a lost wake-up: the connection
//! stopped reading part-way with the rest of the pipeline sitting in its socket, and every later
//! request went unanswered until the idle timeout. The stall depended on a read racing the
//! arrival of more bytes, so each attack runs several connections at once and many times over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::server;
use jim_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a pipeline may go without a single answer before it counts as stalled.
const STALL: Duration = Duration::from_secs(10);

/// Writes `requests` (newline-terminated values) in one `write_all` while reading the answers
/// on the same connection; returns how many newline-terminated answers arrived before `want`
/// were counted, the connection closed, or nothing came for [`STALL`].
async fn pipeline(addr: SocketAddr, requests: Vec<u8>, want: usize) -> usize {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The whole pipeline in one write, as Python's `sendall` does.
        let _ = wr.write_all(&requests).await;
        wr
    });
    let mut answered = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while answered < want {
        match tokio::time::timeout(STALL, rd.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                answered += chunk[..n].iter().filter(|&&b| b == b'\n').count();
            }
            _ => break,
        }
    }
    writer.abort();
    answered
}

/// Runs `rounds` rounds of `parallel` connections, each pipelining `make(conn, i)` for requests
/// `0..count`, and asserts that every request of every round was answered.
async fn every_request_answered(
    what: &str,
    rounds: usize,
    parallel: usize,
    count: usize,
    make: fn(usize, usize) -> String,
) {
    let srv = server(Config::default()).await;
    let mut short = Vec::new();
    for round in 0..rounds {
        let mut tasks = Vec::new();
        for conn in 0..parallel {
            let mut requests = Vec::new();
            for i in 0..count {
                requests.extend_from_slice(make(conn, i).as_bytes());
                requests.push(b'\n');
            }
            let want = count;
            let addr = srv.addr();
            tasks.push(tokio::spawn(async move { (pipeline(addr, requests, want).await, want) }));
        }
        for task in tasks {
            let (got, want) = task.await.unwrap();
            if got < want {
                short.push(format!("round {round}: {got} of {want} answered"));
            }
        }
    }
    srv.shutdown().await;
    assert!(short.is_empty(), "{what}: requests went unanswered: {short:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_unknown_actions_in_one_write_is_answered_in_full() {
    every_request_answered("100,000 × fly", 20, 2, 100_000, |_, _| {
        String::from(r#"{"action":"fly"}"#)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_presences_in_one_write_is_answered_in_full() {
    every_request_answered("50,000 × presence", 20, 2, 50_000, |conn, i| {
        format!(
            r#"{{"action":"presence","time":1,"user":{{"account_name":"p{conn}x{}"}}}}"#,
            i % 50
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_joins_in_one_write_is_answered_in_full() {
    // Each connection logs in first under a name of its own, then joins 10,000 rooms.
    every_request_answered("10,000 × join", 20, 2, 10_000, |conn, i| {
        if i == 0 {
            format!(r#"{{"action":"presence","time":1,"user":{{"account_name":"j{conn}"}}}}"#)
        } else {
            format!(r##"{{"action":"join","time":1,"room":"#r{conn}x{i}"}}"##)
        }
    })
    .await;
}
