//! Hostile input and hostile peers (PROTOCOL.md `§robustness`): every bad input gets the right
//! 4xx and the connection lives on; split, coalesced and trickled input; slow and silent peers
//! stall no one; limits, idle timeout and graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{Client, WAIT, server};
use jim_server::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `bytes` as one write and returns the error text of the 400 it must get.
async fn bad(c: &mut Client, bytes: &[u8]) -> String {
    c.send_raw(bytes).await;
    c.expect_error(400).await
}

#[tokio::test]
async fn malformed_input_gets_400_and_the_connection_lives_on() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    assert!(bad(&mut c, b"{action: presence}\n").await.contains("§framing"));
    let repr = b"{'action': 'presence', 'time': 1.5, 'user': {'account_name': 'Alice'}}\n";
    assert!(bad(&mut c, repr).await.contains("not valid JSON"));
    let utf8 = b"{\"action\":\"presence\",\"user\":{\"account_name\":\"\xff\"}}\n";
    assert!(bad(&mut c, utf8).await.contains("§encoding"));
    for non_object in [&b"[1,2]\n"[..], b"42\n", b"\"x\"\n", b"null\n", b"true\n"] {
        assert!(bad(&mut c, non_object).await.contains("JSON object"));
    }
    assert!(bad(&mut c, b"{\"foo\":1}\n").await.contains("action"));
    assert!(bad(&mut c, b"{\"action\":\"fly\",\"time\":1}\n").await.contains("unknown action"));
    assert!(bad(&mut c, b"{\"action\":\"MSG\",\"time\":1}\n").await.contains("unknown action"));
    assert!(bad(&mut c, b"{\"action\":5}\n").await.contains("action"));
    // garbage then a request in one write: 400, then the request is handled.
    c.send_raw(
        b"garbage{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Alice\"}}\n",
    )
    .await;
    c.expect_error(400).await;
    c.expect_code(200).await;
    // A stray response is ignored; blank lines are nothing.
    c.send_raw(b"{\"response\":200}\n\n\n   \n").await;
    c.barrier().await;
    // Python bytes repr: 400, the quit inside is handled (closes), nothing after.
    c.send_raw(b"b'{\"action\":\"quit\"}'\n").await;
    c.expect_error(400).await;
    assert!(c.expect_closed().await.is_empty());
    // The server still serves new clients.
    Client::spec(srv.addr(), "Bob").await.barrier().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn oversize_gets_400_then_close_and_exact_limit_is_fine() {
    let srv = server(Config { max_message_bytes: 1000, ..Config::default() }).await;
    let mut ok = Client::spec(srv.addr(), "Alice").await;
    // Exactly the limit is accepted (a stray response object, padded to 1000 bytes).
    let mut exact = br#"{"response":200,"pad":""#.to_vec();
    exact.resize(1000 - 2, b'x');
    exact.extend_from_slice(b"\"}");
    assert_eq!(exact.len(), 1000);
    ok.send_raw(&exact).await;
    ok.barrier().await;

    let mut c = Client::connect(srv.addr()).await;
    let mut big = br#"{"action":"presence","user":{"account_name":"x"},"pad":""#.to_vec();
    big.resize(5000, b'y');
    big.extend_from_slice(b"\"}\n");
    c.send_raw(&big).await;
    assert!(c.expect_error(400).await.contains("larger than 1000 bytes"));
    assert!(c.expect_closed().await.is_empty());
    ok.barrier().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn coalesced_split_and_trickled_requests() {
    let srv = server(Config::default()).await;
    // Two requests in one write: two responses, in order.
    let mut c = Client::connect(srv.addr()).await;
    c.send_raw(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"A\"}}{\"action\":\"get_contacts\",\"time\":1}")
        .await;
    c.expect_code(200).await;
    c.expect_code(202).await;
    // Split in two writes at an awkward place.
    let mut d = Client::connect(srv.addr()).await;
    d.send_raw(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"acc").await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    d.send_raw(b"ount_name\":\"B\"}}\n").await;
    d.expect_code(200).await;
    // One byte per write.
    let mut e = Client::connect(srv.addr()).await;
    for b in br#"{"action":"presence","time":1,"user":{"account_name":"C \"}\" D"}}"# {
        e.send_raw(&[*b]).await;
        tokio::task::yield_now().await;
    }
    e.expect_code(200).await;
    e.send(json!({"action":"get_users","time":1})).await;
    let users = e.expect_code(202).await;
    assert!(users["data_list"].as_array().unwrap().contains(&json!("C \"}\" D")));
    srv.shutdown().await;
}

#[tokio::test]
async fn a_trickling_or_silent_client_blocks_no_one() {
    let srv = server(Config::default()).await;
    let mut silent = Client::connect(srv.addr()).await;
    let mut slow = Client::connect(srv.addr()).await;
    slow.send_raw(b"{\"action\":\"presence\",\"time\":1,").await;
    silent.send_raw(b"{\"action\":\"pres").await;
    // Others are served while both stall.
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::spec(srv.addr(), "Bob").await;
    a.msg("Bob", "hi").await;
    a.expect_code(200).await;
    assert_eq!(b.recv().await["message"], "hi");
    // The slow one finishes, one byte at a time, and is answered.
    for byte in br#""user":{"account_name":"Slow"}}"# {
        slow.send_raw(&[*byte]).await;
    }
    slow.expect_code(200).await;
    // The half message of the silent one, then close: nothing, and the server goes on.
    drop(silent);
    Client::spec(srv.addr(), "Carol").await.barrier().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn connections_that_close_early_or_reset_leave_no_trace() {
    let srv = server(Config::default()).await;
    // Connect and close at once.
    drop(Client::connect(srv.addr()).await);
    // Half a message, then close: the session ends, the name is free.
    let mut half = Client::spec(srv.addr(), "Alice").await;
    half.send_raw(b"{\"action\":\"pres").await;
    drop(half);
    // Abrupt reset after login.
    let reset = Client::spec(srv.addr(), "Bob").await;
    reset.stream.set_zero_linger().unwrap();
    drop(reset);
    // Both names come free (poll with a bounded number of tries: the server learns of the
    // close asynchronously).
    for name in ["Alice", "Bob"] {
        let mut done = false;
        for _ in 0..100 {
            let mut c = Client::connect(srv.addr()).await;
            c.send(json!({"action":"presence","time":1,"user":{"account_name":name}})).await;
            let v = c.recv().await;
            if v["response"] == 200 {
                done = true;
                break;
            }
            assert_eq!(v["response"], 409);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(done, "{name} was never freed");
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn half_close_still_gets_every_answer() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send_raw(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"A\"}}\n{\"action\":\"get_contacts\",\"time\":1}\nhello")
        .await;
    c.stream.shutdown().await.unwrap();
    c.expect_code(200).await;
    c.expect_code(202).await;
    c.expect_error(400).await; // `hello` at end of stream is a complete bad token
    assert!(c.expect_closed().await.is_empty());
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_clients_each_log_in_and_relay() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let srv = server(Config::default()).await;
    let addr = srv.addr();
    const N: usize = 1000;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        tasks.spawn(async move {
            let me = format!("u{i}");
            let partner = format!("u{}", i ^ 1);
            let mut c = Client::spec(addr, &me).await;
            // Wait until the partner is there: 404 means "not yet", retry a bounded number of times.
            let mut delivered = false;
            let mut got_relay = false;
            for _ in 0..500 {
                c.msg(&partner, &format!("from {me}")).await;
                loop {
                    let v = c.recv().await;
                    if v["action"] == "msg" {
                        assert_eq!(v["from"], json!(partner));
                        assert_eq!(v["to"], json!(me));
                        got_relay = true;
                        continue;
                    }
                    match v["response"].as_u64() {
                        Some(200) => delivered = true,
                        Some(404) => {}
                        other => panic!("{me}: unexpected {other:?}: {v}"),
                    }
                    break;
                }
                if delivered {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(delivered, "{me} could not reach {partner}");
            while !got_relay {
                let v = c.recv().await;
                assert_eq!(v["action"], "msg", "{me}: {v}");
                assert_eq!(v["from"], json!(partner));
                got_relay = true;
            }
            c
        });
    }
    let mut clients = Vec::with_capacity(N);
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(done) = tasks.join_next().await {
            clients.push(done.unwrap());
        }
    })
    .await;
    assert!(all.is_ok(), "1000 clients did not finish in time");
    assert_eq!(clients.len(), N);
    // Nobody got anything extra.
    for c in clients.iter_mut().take(50) {
        c.barrier().await;
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_without_stalling_others() {
    let srv = server(Config { outbound_queue_bytes: 8 * 1024, ..Config::default() }).await;
    // A client with a tiny receive buffer that never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut lazy = socket.connect(srv.addr()).await.unwrap();
    lazy.write_all(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Lazy\"}}\n")
        .await
        .unwrap();
    let mut sender = Client::spec(srv.addr(), "Sender").await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::spec(srv.addr(), "Bob").await;
    // Wait until Lazy is logged in.
    for _ in 0..200 {
        sender.send(json!({"action":"get_users","time":1})).await;
        let users = sender.expect_code(202).await;
        if users["data_list"].as_array().unwrap().contains(&json!("Lazy")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let text = "z".repeat(500);
    let mut outcome = None;
    for i in 0..20_000 {
        sender.msg("Lazy", &text).await;
        let v = sender.recv().await;
        match v["response"].as_u64() {
            Some(200) => {}
            Some(code) => {
                outcome = Some((i, code));
                break;
            }
            None => panic!("unexpected {v}"),
        }
        if i % 500 == 0 {
            // Others are served all along.
            a.msg("Bob", "still there?").await;
            a.expect_code(200).await;
            assert_eq!(b.recv().await["message"], "still there?");
        }
    }
    let (after, code) = outcome.expect("the lazy client was never disconnected");
    eprintln!("lazy client disconnected after {after} messages ({code})");
    assert!(code == 410 || code == 404, "got {code} after {after} messages");
    // Its socket is closed by the server: reading drains what was buffered, then EOF.
    let mut sink = vec![0u8; 1 << 16];
    let eof = tokio::time::timeout(WAIT, async {
        loop {
            match lazy.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(eof.is_ok(), "the lazy connection was not closed");
    // The name is free and messages to it now fail with 404.
    sender.msg("Lazy", "x").await;
    sender.expect_error(404).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let srv =
        server(Config { idle_timeout: Some(Duration::from_millis(300)), ..Config::default() })
            .await;
    let mut silent = Client::connect(srv.addr()).await;
    let mut named = Client::spec(srv.addr(), "Idle").await;
    let started = tokio::time::Instant::now();
    assert!(silent.expect_closed().await.is_empty());
    assert!(named.expect_closed().await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(250));
    // The name is free again.
    Client::spec(srv.addr(), "Idle").await;
    srv.shutdown().await;
}

#[tokio::test]
async fn connections_over_the_limit_are_closed_at_once() {
    let srv = server(Config { max_connections: 2, ..Config::default() }).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    let b = Client::spec(srv.addr(), "B").await;
    let mut over = Client::connect(srv.addr()).await;
    assert!(over.expect_closed().await.is_empty());
    a.barrier().await;
    drop(b);
    // A slot comes free once the server has seen B leave.
    let mut served = false;
    for _ in 0..100 {
        let mut c = Client::connect(srv.addr()).await;
        c.send(json!({"action":"presence","time":1,"user":{"account_name":"C"}})).await;
        if let Some(Ok(v)) = c.next_item().await {
            assert_eq!(v["response"], 200);
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
    srv.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_flushes_queued_replies() {
    let srv = server(Config::default()).await;
    let mut c = Client::spec(srv.addr(), "A").await;
    let mut idle = Client::connect(srv.addr()).await;
    let mut batch = Vec::new();
    for _ in 0..50 {
        batch.extend_from_slice(b"{\"action\":\"get_contacts\",\"time\":1}\n");
    }
    c.send_raw(&batch).await;
    c.expect_code(202).await;
    srv.shutdown().await;
    let rest = c.expect_closed().await;
    assert_eq!(rest.len(), 49, "every queued reply is flushed before the close");
    assert!(rest.iter().all(|v| v["response"] == 202));
    assert!(idle.expect_closed().await.is_empty());
}
