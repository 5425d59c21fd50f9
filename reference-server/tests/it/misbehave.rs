//! Every `--misbehave` kind changes what a peer observes, in the way its documentation says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::{Duration, Instant};

use common::{Client, WAIT, server};
use jim_server::{Config, Misbehave, RunningServer, ServerError};
use serde_json::{Value, json};

async fn with(kinds: &[Misbehave]) -> RunningServer {
    server(Config { misbehave: kinds.to_vec(), ..Config::default() }).await
}

fn presence(name: &str) -> Value {
    json!({"action":"presence","time":1,"user":{"account_name":name}})
}

/// Logs in and returns the raw reply bytes.
async fn login_raw(c: &mut Client, name: &str) -> Vec<u8> {
    c.send(presence(name)).await;
    c.read_raw().await
}

#[tokio::test]
async fn wrong_code_swaps_success_and_failure() {
    let srv = with(&[Misbehave::WrongCode]).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    assert_eq!(c.recv().await["response"], 400);
    c.send(json!({"action":"fly","time":1})).await;
    assert_eq!(c.recv().await["response"], 200);
}

#[tokio::test]
async fn string_code_and_no_time_change_the_response_shape() {
    let srv = with(&[Misbehave::StringCode]).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    let v = c.recv().await;
    assert_eq!(v["response"], "200");
    assert!(v.get("time").is_some());

    let srv = with(&[Misbehave::NoTime]).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    let v = c.recv().await;
    assert_eq!(v["response"], 200);
    assert!(v.get("time").is_none(), "{v}");
}

#[tokio::test]
async fn plain_text_and_python_repr_are_not_json() {
    let srv = with(&[Misbehave::PlainText]).await;
    let mut c = Client::connect(srv.addr()).await;
    assert_eq!(login_raw(&mut c, "A").await, b"message received\n");

    let srv = with(&[Misbehave::PythonRepr]).await;
    let mut c = Client::connect(srv.addr()).await;
    let raw = String::from_utf8(login_raw(&mut c, "A").await).unwrap();
    assert!(raw.starts_with("{'response': 200, 'time': "), "{raw}");
    assert!(raw.ends_with(", 'alert': 'OK'}\n"), "{raw}");
}

#[tokio::test]
async fn one_shot_closes_after_the_first_reply() {
    let srv = with(&[Misbehave::OneShot]).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    let rest = c.expect_closed().await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["response"], 200);
}

#[tokio::test]
async fn never_answer_is_a_zombie_and_close_on_accept_closes() {
    let srv = with(&[Misbehave::NeverAnswer]).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    c.expect_nothing_for(Duration::from_millis(500)).await;

    let srv = with(&[Misbehave::CloseOnAccept]).await;
    let mut c = Client::connect(srv.addr()).await;
    assert!(c.read_raw().await.is_empty(), "expected EOF at once");
}

#[tokio::test]
async fn late_replies_arrive_late() {
    let srv = with(&[Misbehave::LateReplies(1)]).await;
    let mut c = Client::connect(srv.addr()).await;
    let started = Instant::now();
    c.send(presence("A")).await;
    assert_eq!(c.recv().await["response"], 200);
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
}

#[tokio::test]
async fn split_writes_arrive_in_pieces() {
    let srv = with(&[Misbehave::SplitWrites]).await;
    let mut c = Client::connect(srv.addr()).await;
    let first = login_raw(&mut c, "A").await;
    assert!(!first.is_empty() && !first.ends_with(b"}\n"), "a whole reply in one read: {first:?}");
    // The rest follows and the whole is one valid reply.
    let mut all = first;
    while !all.ends_with(b"\n") {
        let more = c.read_raw().await;
        assert!(!more.is_empty(), "closed mid-reply");
        all.extend(more);
    }
    let v: Value = serde_json::from_slice(&all).unwrap();
    assert_eq!(v["response"], 200);
}

#[tokio::test]
async fn coalesced_writes_glue_relay_and_ack() {
    let srv = with(&[Misbehave::CoalescedWrites]).await;
    let mut c = Client::connect(srv.addr()).await;
    assert!(login_raw(&mut c, "A").await.starts_with(b"{\"response\":200"));
    c.msg("A", "to myself").await;
    let raw = String::from_utf8(c.read_raw().await).unwrap();
    assert!(raw.starts_with("{\"action\":\"msg\""), "{raw}");
    assert!(raw.contains("}{\"response\":200"), "relay and ack not glued: {raw}");
}

async fn crashes_on(kind: Misbehave, bad: &[u8]) {
    let srv = with(&[kind]).await;
    let addr = srv.addr();
    let mut other = Client::spec(addr, "Bystander").await;
    let mut c = Client::connect(addr).await;
    c.send_raw(bad).await;
    let ended = tokio::time::timeout(WAIT, srv.join()).await.expect("server did not crash");
    assert!(matches!(ended, Err(ServerError::Crashed { .. })), "{ended:?}");
    // Every connection is gone and nobody can connect any more.
    assert!(other.read_raw().await.is_empty());
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "listener still open");
}

#[tokio::test]
async fn crash_on_malformed_stops_the_server() {
    crashes_on(Misbehave::CrashOnMalformed, b"{not json}\n").await;
}

#[tokio::test]
async fn crash_on_missing_field_stops_the_server() {
    crashes_on(Misbehave::CrashOnMissingField, b"{\"action\":\"presence\",\"time\":1}\n").await;
}

#[tokio::test]
async fn correct_server_survives_what_crashes_the_mutants() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send_raw(b"{not json}\n{\"action\":\"presence\",\"time\":1}\n").await;
    c.expect_error(400).await;
    c.expect_error(400).await;
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn read_is_message_breaks_on_coalesced_and_split_requests() {
    let srv = with(&[Misbehave::ReadIsMessage]).await;
    let mut c = Client::connect(srv.addr()).await;
    let two = b"{\"action\":\"presence\",\"time\":1,\"user\":{\"account_name\":\"A\"}}{\"action\":\"get_contacts\",\"time\":1}";
    c.send_raw(two).await;
    assert_eq!(c.recv().await["response"], 400, "two requests read as one message");
    c.barrier().await; // and nothing else came
    c.send_raw(b"{\"action\":\"presence\",\"time\":1,").await;
    assert_eq!(c.recv().await["response"], 400, "half a request read as one message");
}

#[tokio::test]
async fn one_client_at_a_time_makes_the_second_wait() {
    let srv = with(&[Misbehave::OneClientAtATime]).await;
    let first = Client::spec(srv.addr(), "First").await;
    let mut second = Client::connect(srv.addr()).await;
    second.send(presence("Second")).await;
    second.expect_nothing_for(Duration::from_millis(500)).await;
    drop(first);
    assert_eq!(second.recv().await["response"], 200);
}

#[tokio::test]
async fn drop_relays_acks_but_never_delivers() {
    let srv = with(&[Misbehave::DropRelays]).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    let mut b = Client::spec(srv.addr(), "B").await;
    a.msg("B", "lost").await;
    a.expect_code(200).await;
    b.barrier().await;
}

#[tokio::test]
async fn broadcast_direct_and_room_leak_reach_bystanders() {
    let srv = with(&[Misbehave::BroadcastDirect]).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    let mut b = Client::spec(srv.addr(), "B").await;
    let mut c = Client::spec(srv.addr(), "C").await;
    a.msg("B", "for B only").await;
    a.expect_code(200).await;
    assert_eq!(b.recv().await["message"], "for B only");
    assert_eq!(c.recv().await["message"], "for B only", "the bystander got it");

    let srv = with(&[Misbehave::RoomLeak]).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    let mut b = Client::spec(srv.addr(), "B").await;
    let mut c = Client::spec(srv.addr(), "C").await;
    for x in [&mut a, &mut b] {
        x.send(json!({"action":"join","time":1,"room":"#r"})).await;
        x.expect_code(200).await;
    }
    a.msg("#r", "members only").await;
    a.expect_code(200).await;
    assert_eq!(b.recv().await["message"], "members only");
    assert_eq!(c.recv().await["message"], "members only", "the non-member got it");
}

#[tokio::test]
async fn spoofable_from_relays_the_claimed_sender() {
    let srv = with(&[Misbehave::SpoofableFrom]).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    let mut b = Client::spec(srv.addr(), "B").await;
    a.send(json!({"action":"msg","time":1,"to":"B","from":"Mallory","message":"trust me"})).await;
    a.expect_code(200).await;
    assert_eq!(b.recv().await["from"], "Mallory");
}

#[tokio::test]
async fn duplicate_names_are_accepted() {
    let srv = with(&[Misbehave::DuplicateNames]).await;
    let _a = Client::spec(srv.addr(), "Twin").await;
    let mut b = Client::connect(srv.addr()).await;
    b.send(presence("Twin")).await;
    assert_eq!(b.recv().await["response"], 200);
}

#[tokio::test]
async fn silent_errors_send_no_400() {
    let srv = with(&[Misbehave::SilentErrors]).await;
    let mut c = Client::connect(srv.addr()).await;
    // Malformed input and an unknown action get nothing; the next answer is the 401.
    c.send_raw(b"{not json}\n{\"action\":\"fly\"}\n{\"action\":\"get_contacts\",\"time\":1}\n")
        .await;
    assert_eq!(c.recv().await["response"], 401);
}

#[tokio::test]
async fn ignore_quit_keeps_the_session() {
    let srv = with(&[Misbehave::IgnoreQuit]).await;
    let mut a = Client::spec(srv.addr(), "A").await;
    a.send(json!({"action":"quit","time":1})).await;
    a.barrier().await; // still open and answering
    let mut again = Client::connect(srv.addr()).await;
    again.send(presence("A")).await;
    assert_eq!(again.recv().await["response"], 409, "the name stayed taken");
}

#[tokio::test]
async fn several_kinds_combine() {
    let srv = with(&Misbehave::parse_list("no-time,string-code").unwrap()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(presence("A")).await;
    let v = c.recv().await;
    assert_eq!(v, json!({"response":"200","alert":"OK"}));
}

#[test]
fn every_kind_is_documented_in_the_readme() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let (_, after) = readme.split_once("## Misbehaving server").expect("README section missing");
    let section = after.split("\n## ").next().unwrap();
    for kind in Misbehave::ALL {
        assert!(
            section.contains(&format!("`{}", kind.name())),
            "{} is not in the README",
            kind.name()
        );
    }
}
