//! Clients that stop reading while the server is writing to them (PROTOCOL.md `§limits`,
//! `§transport`): however the server got stuck writing (relays piling up, or its own replies to
//! a pipelined burst), the connection must end by itself, free the name, and never hold up a
//! graceful shutdown. None of these clients reads a single byte, so nothing here drains the
//! socket on the server's behalf.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Client, WAIT, server};
use jim_server::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects with a tiny receive buffer (so the server's writes block soon) and logs in as
/// `name` with a spec presence; never reads.
async fn lazy(addr: SocketAddr, name: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let presence = json!({"action":"presence","time":1,"type":"status",
                          "user":{"account_name":name,"status":"x"}});
    stream.write_all(format!("{presence}\n").as_bytes()).await.unwrap();
    stream
}

/// Waits until `name` is logged in (a message to it no longer gets 404).
async fn until_online(c: &mut Client, name: &str) {
    for _ in 0..500 {
        c.msg(name, "ping").await;
        if c.recv().await["response"] == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never logged in");
}

/// Waits until `name` can be logged in again by someone else, i.e. the old session ended.
async fn until_free(addr: SocketAddr, name: &str) -> bool {
    for _ in 0..300 {
        let mut c = Client::connect(addr).await;
        c.send(json!({"action":"presence","time":1,"type":"status",
                      "user":{"account_name":name,"status":"x"}}))
            .await;
        if c.recv().await["response"] == 200 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Logs in as `name` with a 60 KB public key, reads the 200, then pipelines 256
/// `pubkey_need` requests for that key (each exactly 64 bytes, so every 4 KiB the server reads
/// holds 64 of them) and never reads again: about 15 MB of replies for a client whose receive
/// buffer is tiny. The server gets stuck writing while it answers a burst.
async fn stuck_writer(addr: SocketAddr, name: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let presence = json!({"action":"presence","time":1,
                          "user":{"account_name":name,"pubkey":"k".repeat(60_000)}});
    stream.write_all(format!("{presence}\n").as_bytes()).await.unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while byte[0] != b'\n' {
        tokio::time::timeout(WAIT, stream.read_exact(&mut byte)).await.unwrap().unwrap();
        line.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&line).contains("200"), "login failed");
    let request = format!("{{\"action\":\"pubkey_need\",\"account_name\":\"{name}\"}}");
    let pad = 64 - request.len() - 1;
    let request = format!("{request}{}\n", " ".repeat(pad));
    assert_eq!(request.len(), 64);
    stream.write_all(request.repeat(256).as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn a_kicked_client_that_never_reads_is_really_disconnected() {
    let srv = server(Config { outbound_queue_bytes: 8 * 1024, ..Config::default() }).await;
    let _lazy = lazy(srv.addr(), "Lazy").await;
    let mut sender = Client::spec(srv.addr(), "Sender").await;
    until_online(&mut sender, "Lazy").await;
    let text = "z".repeat(500);
    let mut kicked = false;
    for _ in 0..20_000 {
        sender.msg("Lazy", &text).await;
        if sender.recv().await["response"] != 200 {
            kicked = true;
            break;
        }
    }
    assert!(kicked, "the queue of a client that never reads never overflowed");
    // The server said it disconnected Lazy; without Lazy reading a byte, the name comes free.
    assert!(until_free(srv.addr(), "Lazy").await, "the kicked session still holds its name");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_client_that_pipelines_and_never_reads_ends_at_the_idle_timeout() {
    let srv =
        server(Config { idle_timeout: Some(Duration::from_millis(500)), ..Config::default() })
            .await;
    let _pipe = stuck_writer(srv.addr(), "Pipe").await;
    assert!(until_free(srv.addr(), "Pipe").await, "a stuck writer outlived the idle timeout");
    srv.shutdown().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_client_that_never_reads() {
    let srv = server(Config {
        flush_timeout: Duration::from_millis(200),
        idle_timeout: None,
        ..Config::default()
    })
    .await;
    let _pipe = stuck_writer(srv.addr(), "Pipe").await;
    // Once the server has read the burst it is stuck answering it; others are still served.
    let mut other = Client::spec(srv.addr(), "Other").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    other.barrier().await;
    let stopped = tokio::time::timeout(WAIT, srv.shutdown()).await;
    assert!(stopped.is_ok(), "graceful shutdown hangs on a client that never reads");
}
