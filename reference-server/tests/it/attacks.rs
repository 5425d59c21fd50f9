//! Attacks on the reference server beyond pipelines (those are in `torture.rs`), each bounded in
//! time and count, on loopback only, and each asserting a structural property (bytes held,
//! requests handled, counts answered, connections closed), never a duration: starvation by
//! expensive requests, clients that never read, password guessing, memory that only grows,
//! slow-loris, and readers that are merely behind. PROTOCOL.md `§limits` documents every bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Client, WAIT, server};
use jim_server::config::LoginRate;
use jim_server::{Accounts, Config, RunningServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Polls `check` every 10 ms until it holds, for at most [`WAIT`].
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A connection with a small receive buffer (so the server's writes block soon).
async fn small_window(addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Reads newline-terminated values from `stream` until `want` arrived or the stream ended;
/// returns how many arrived.
async fn count_lines(stream: &mut (impl AsyncReadExt + Unpin), want: usize) -> usize {
    let mut got = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while got < want {
        match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => got += chunk[..n].iter().filter(|&&b| b == b'\n').count(),
            _ => break,
        }
    }
    got
}

/// Issue 16 item 3: a client that pipelines requests with large answers and never reads them.
/// The server stops reading its requests once a few KiB of answers wait, so what it holds for
/// the client stays bounded (it held 32 answers, 1.9 MB here, before it flushed).
#[tokio::test]
async fn a_client_that_pipelines_and_never_reads_holds_little_memory() {
    let srv = server(Config::default()).await;
    let mut stream = small_window(srv.addr()).await;
    let presence = json!({"action":"presence","time":1,
                          "user":{"account_name":"Hog","pubkey":"k".repeat(60_000)}});
    stream.write_all(format!("{presence}\n").as_bytes()).await.unwrap();
    let request = r#"{"action":"pubkey_need","account_name":"Hog"}"#;
    let pipeline = format!("{request}\n").repeat(2_000);
    let writer = tokio::spawn(async move {
        // Blocks for good once the server stops reading: aborted below.
        let _ = stream.write_all(pipeline.as_bytes()).await;
        stream
    });
    // Ten answers are 600 KB: more than the bound, whatever the kernel buffers take.
    until("the server answered 10 requests", || srv.stats().requests >= 10).await;
    let held = srv.stats().max_queued_bytes;
    writer.abort();
    assert!(held <= 128 * 1024, "{held} bytes waited for a client that does not read");
    srv.shutdown().await;
}

/// 3,000 accounts of 20 characters: every `get_users` answer is the full 64 KiB.
fn many_accounts() -> Accounts {
    Accounts::from_pairs(
        (0..3_000)
            .map(|i| (format!("account{i:013}"), "pw".to_owned()))
            .chain([("Flood".to_owned(), "pw".to_owned()), ("Polite".to_owned(), "pw".to_owned())]),
    )
}

/// Logs in on a fresh connection in accounts mode (spec authenticate, then presence).
async fn login(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr).await;
    c.label = name.to_owned();
    c.send(json!({"action":"authenticate","time":1,"user":{"account_name":name,"password":"pw"}}))
        .await;
    c.expect_code(200).await;
    c.send(json!({"action":"presence","time":1,"type":"status",
                  "user":{"account_name":name,"status":"on"}}))
        .await;
    c.expect_code(200).await;
    c
}

/// Issue 16 item 2: one connection pipelining expensive requests (64 KiB `get_users` answers)
/// must not hold the server while a polite client waits. Counted in requests the server handled
/// between the polite request and its answer: a connection now yields after each turn of 16 KiB
/// of answers (before, it answered up to 128 pipelined requests per turn). The test runtime has
/// one thread, so the count is exact, not a race.
#[tokio::test]
async fn a_pipeline_of_expensive_requests_does_not_starve_others() {
    let srv = server(Config { accounts: Some(many_accounts()), ..Config::default() }).await;
    let flood = login(srv.addr(), "Flood").await;
    let mut polite = login(srv.addr(), "Polite").await;
    let Client { stream, .. } = flood;
    let (mut rd, mut wr) = stream.into_split();
    let pipeline = "{\"action\":\"get_users\",\"time\":1}\n".repeat(600);
    let reader = tokio::spawn(async move { count_lines(&mut rd, 600).await });
    wr.write_all(pipeline.as_bytes()).await.unwrap();
    let mut worst = 0;
    for _ in 0..20 {
        let before = srv.stats().requests;
        polite.send(json!({"action":"get_contacts","time":1})).await;
        polite.expect_code(202).await;
        worst = worst.max(srv.stats().requests - before);
    }
    assert_eq!(reader.await.unwrap(), 600, "the flood was not answered in full");
    assert!(worst <= 8, "{worst} requests were handled while a polite request waited");
    srv.shutdown().await;
}

/// `get_users` is shared until someone logs in or out: a new user appears in the next answer.
#[tokio::test]
async fn get_users_follows_logins() {
    let srv = server(Config::default()).await;
    let mut zed = Client::course(srv.addr(), "Zed").await;
    let names = |v: serde_json::Value| v["data_list"].clone();
    zed.send(json!({"action":"get_users","time":1})).await;
    assert_eq!(names(zed.expect_code(202).await), json!(["Zed"]));
    let amy = Client::spec(srv.addr(), "Amy").await;
    zed.pushes(1).await;
    zed.send(json!({"action":"get_users","time":1})).await;
    assert_eq!(names(zed.expect_code(202).await), json!(["Amy", "Zed"]));
    drop(amy);
    zed.pushes(1).await;
    zed.send(json!({"action":"get_users","time":1})).await;
    assert_eq!(names(zed.expect_code(202).await), json!(["Amy", "Zed"]), "seen this run");
    srv.shutdown().await;
}

/// Accounts mode with a small bucket: 3 attempts at once, then one per 500 ms, waiting at most
/// 1 s. Guesses that arrive within 500 ms of each other meet exactly this bucket, so the counts
/// below do not depend on the machine's speed.
fn guarded() -> Config {
    Config {
        accounts: Some(Accounts::from_pairs([("Alice", "secret")])),
        login_rate: LoginRate {
            burst: 3,
            every: Duration::from_millis(500),
            max_wait: Duration::from_secs(1),
            per_connection: 3,
        },
        ..Config::default()
    }
}

fn authenticate(password: &str) -> serde_json::Value {
    json!({"action":"authenticate","time":1,"user":{"account_name":"Alice","password":password}})
}

/// Issue 16 item 4: a connection gets three wrong passwords, then it is closed.
#[tokio::test]
async fn a_connection_that_guesses_passwords_is_closed() {
    let srv = server(guarded()).await;
    let mut c = Client::connect(srv.addr()).await;
    for _ in 0..2 {
        c.send(authenticate("guess")).await;
        c.expect_code(402).await;
    }
    c.send(authenticate("guess")).await;
    let last = c.expect_error(402).await;
    assert!(last.contains("closing"), "{last}");
    assert!(c.expect_closed().await.is_empty());
    srv.shutdown().await;
}

/// Issue 16 item 4: guesses spread over many connections go through one account's bucket: the
/// burst of 3 is checked at once, 2 wait for their turn (500 ms, 1 s), the other 25 are refused
/// (and closed); the right password still works afterwards.
#[tokio::test]
async fn guesses_on_many_connections_take_turns_per_account() {
    let srv = server(guarded()).await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let addr = srv.addr();
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            c.send(authenticate("guess")).await;
            c.expect_error(402).await
        }));
    }
    let mut refused = 0;
    for task in tasks {
        refused += usize::from(task.await.unwrap().contains("too many login attempts"));
    }
    let held = srv.stats().logins_held;
    assert!(held >= 27, "only {held} of 30 guesses waited for their turn or were refused");
    assert!(refused >= 20, "{refused} of 30 guesses were refused");
    let mut c = Client::connect(srv.addr()).await;
    c.send(authenticate("secret")).await;
    c.expect_code(200).await;
    srv.shutdown().await;
}

/// Issue 16 item 5: rooms are capped in total, and the last one to leave frees a room.
#[tokio::test]
async fn rooms_are_capped_and_freed() {
    let srv = server(Config { max_rooms: 50, ..Config::default() }).await;
    let mut c = Client::spec(srv.addr(), "Builder").await;
    let mut codes = Vec::new();
    for i in 0..60 {
        c.send(json!({"action":"join","time":1,"room":format!("#r{i}")})).await;
        codes.push(c.recv().await["response"].as_u64().unwrap());
    }
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 50);
    assert_eq!(codes.iter().filter(|&&c| c == 400).count(), 10);
    assert_eq!(srv.stats().rooms, 50);
    drop(c);
    until("the rooms were freed", || srv.stats().rooms == 0).await;
    let mut again = Client::spec(srv.addr(), "Again").await;
    again.send(json!({"action":"join","time":1,"room":"#new"})).await;
    again.expect_code(200).await;
    srv.shutdown().await;
}

/// Issue 16 item 5: contacts are capped in total. Lists are kept for the run (`§contacts`: a
/// user who comes back under the same name finds theirs), so the cap is what bounds them;
/// removing a contact frees its entry.
#[tokio::test]
async fn contacts_are_capped_and_kept_for_the_run() {
    let srv = server(Config { max_contacts: 20, ..Config::default() }).await;
    let mut known = Vec::new();
    for i in 0..25 {
        known.push(Client::spec(srv.addr(), &format!("u{i}")).await);
    }
    let mut c = Client::spec(srv.addr(), "Collector").await;
    let mut codes = Vec::new();
    for i in 0..25 {
        c.send(json!({"action":"add_contact","time":1,"user_id":format!("u{i}")})).await;
        codes.push(c.recv().await["response"].as_u64().unwrap());
    }
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 20, "{codes:?}");
    assert_eq!(srv.stats().contacts, 20);
    drop(c);
    until("Collector left", || srv.stats().sessions == 25).await;
    let mut back = Client::spec(srv.addr(), "Collector").await;
    back.send(json!({"action":"get_contacts","time":1})).await;
    assert_eq!(back.expect_code(202).await["alert"].as_array().unwrap().len(), 20);
    back.send(json!({"action":"del_contact","time":1,"user_id":"u0"})).await;
    back.expect_code(200).await;
    back.send(json!({"action":"add_contact","time":1,"user_id":"u24"})).await;
    back.expect_code(200).await;
    assert_eq!(srv.stats().contacts, 20);
    srv.shutdown().await;
}

/// Issue 16 item 6: a message trickled a byte at a time must be complete within the message
/// timeout; the server then says why (400, `§limits`) and closes, however often bytes come.
#[tokio::test]
async fn a_slow_loris_is_closed_after_the_message_timeout() {
    let srv =
        server(Config { message_timeout: Some(Duration::from_millis(300)), ..Config::default() })
            .await;
    let stream = TcpStream::connect(srv.addr()).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let trickle = tokio::spawn(async move {
        let message = format!("{{\"action\":\"presence\",\"user\":\"{}\"}}\n", "x".repeat(1000));
        for byte in message.bytes() {
            if wr.write_all(&[byte]).await.is_err() {
                return;
            }
            // The attack itself: a byte every 20 ms keeps the idle timer from firing.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut got = Vec::new();
    let closed = tokio::time::timeout(WAIT, rd.read_to_end(&mut got)).await;
    trickle.abort();
    assert!(closed.is_ok(), "the connection was still open after {WAIT:?}");
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("\"response\":400") && text.contains("limits"), "{text}");
    srv.shutdown().await;
}

/// Issue 16 item 7: a client that is behind but reads everything in the end is not kicked,
/// however many messages wait for it (the server counts bytes and progress, not messages: it
/// kicked after 256 messages before).
#[tokio::test]
async fn a_reader_that_is_merely_behind_is_not_kicked() {
    // A generous stall timeout: this is about bytes behind, not time (a slow machine must not
    // turn the wait for the sender's acks into a stall).
    let srv = server(Config { stall_timeout: Duration::from_secs(120), ..Config::default() }).await;
    let mut slow = small_window(srv.addr()).await;
    slow.write_all(b"{\"action\":\"presence\",\"time\":1,\"type\":\"status\",\"user\":{\"account_name\":\"Slow\",\"status\":\"x\"}}\n")
        .await
        .unwrap();
    assert_eq!(count_lines(&mut slow, 1).await, 1, "Slow's login");
    let sender = Client::spec(srv.addr(), "Sender").await;
    let text = "z".repeat(500);
    let one = format!(
        "{}\n",
        json!({"action":"msg","time":1,"to":"Slow","from":"Sender","message":text})
    );
    const N: usize = 10_000;
    let Client { stream, .. } = sender;
    let (mut rd, mut wr) = stream.into_split();
    let acks = tokio::spawn(async move {
        let mut all = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while all.iter().filter(|&&b| b == b'\n').count() < N {
            match tokio::time::timeout(WAIT, rd.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => all.extend_from_slice(&chunk[..n]),
                _ => break,
            }
        }
        all
    });
    wr.write_all(one.repeat(N).as_bytes()).await.unwrap();
    // Slow reads nothing until every message was answered: 5.6 MB are behind it.
    let acks = acks.await.unwrap();
    let acks = String::from_utf8_lossy(&acks);
    let other = acks.lines().find(|l| !l.contains("\"response\":200")).unwrap_or_default();
    assert_eq!(acks.matches("\"response\":200").count(), N, "not all 200: {other}");
    assert_eq!(count_lines(&mut slow, N).await, N, "Slow did not get every message");
    assert_eq!(srv.stats().kicked, 0);
    srv.shutdown().await;
}

/// A client that stops reading is still disconnected: after the stall timeout without taking a
/// byte, the next message to it finds it kicked (410), whatever the bytes waiting.
#[tokio::test]
async fn a_client_that_stops_reading_is_kicked_after_the_stall_timeout() {
    let srv: RunningServer =
        server(Config { stall_timeout: Duration::from_millis(200), ..Config::default() }).await;
    let mut lazy = small_window(srv.addr()).await;
    lazy.write_all(b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"Lazy\"}}\n")
        .await
        .unwrap();
    assert_eq!(count_lines(&mut lazy, 1).await, 1);
    let mut sender = Client::spec(srv.addr(), "Sender").await;
    let text = "z".repeat(500);
    let mut kicked = false;
    for _ in 0..20_000 {
        sender.msg("Lazy", &text).await;
        if sender.recv().await["response"] != 200 {
            kicked = true;
            break;
        }
    }
    assert!(kicked, "a client that never reads was never disconnected");
    assert!(srv.stats().max_queued_bytes < Config::default().outbound_queue_bytes);
    srv.shutdown().await;
}

/// Issue 16 item 11: `"time": 1e400` is valid JSON beyond a double's range; like any unusable
/// time it counts as absent (`§time`), so the request is served.
#[tokio::test]
async fn a_time_beyond_a_double_counts_as_absent() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send_raw(b"{\"action\":\"presence\",\"time\":1e400,\"user\":{\"account_name\":\"Big\"}}\n")
        .await;
    c.expect_code(200).await;
    srv.shutdown().await;
}
