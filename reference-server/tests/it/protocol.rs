//! Every action of both dialects against the in-process server over real loopback sockets:
//! exact codes, exact recipients, and silence (checked with a barrier) where nothing may arrive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::time::Duration;

use common::{Client, server};
use jim_server::{Accounts, Config};
use serde_json::json;

#[tokio::test]
async fn presence_in_both_dialects_answers_200_with_time_and_alert() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::course(srv.addr(), "Bob").await;
    // A lesson-3 presence without type or pubkey.
    let mut g = Client::connect(srv.addr()).await;
    g.send(json!({"action":"presence","time":1,"user":{"account_name":"Guest"}})).await;
    let ok = g.expect_code(200).await;
    assert_eq!(ok["alert"], "OK");
    // Reading variants of the name (spec-marked with `type`, so they get no 205 pushes).
    for v in [
        json!({"action":"presence","type":"status","user":{"client_name":"V1"}}),
        json!({"action":"presence","type":"status","user":"V2"}),
        json!({"action":"presence","type":"status","account_name":"V3","time":"12.5"}),
        json!({"action":"presence","type":"status","time":"yesterday","user":{"account_name":"V4"}}),
    ] {
        let mut c = Client::connect(srv.addr()).await;
        c.send(v).await;
        c.expect_code(200).await;
        c.barrier().await;
    }
    a.barrier().await;
    b.pushes(9).await; // Guest and V1..V4 logged in after Bob, V1..V4 left
    b.barrier().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn presence_conflicts_and_bad_shapes() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut dup = Client::connect(srv.addr()).await;
    dup.send(json!({"action":"presence","time":1,"user":{"account_name":"Alice"}})).await;
    assert!(dup.expect_error(409).await.contains("Alice"));
    // The connection lives on and can pick another name.
    dup.send(json!({"action":"presence","time":1,"user":{"account_name":"Alice2"}})).await;
    dup.expect_code(200).await;

    let mut c = Client::connect(srv.addr()).await;
    c.send(json!({"action":"presence","time":1})).await;
    assert!(c.expect_error(400).await.contains("user"));
    c.send(json!({"action":"presence","time":1,"user":{}})).await;
    assert!(c.expect_error(400).await.contains("user.account_name"));
    c.send(json!({"action":"presence","user":{"account_name":5}})).await;
    assert!(c.expect_error(400).await.contains("must be a string"));
    c.send(json!({"action":"presence","user":[]})).await;
    c.expect_error(400).await;
    c.send(json!({"action":"presence","user":{"account_name":"x".repeat(26)}})).await;
    assert!(c.expect_error(400).await.contains("§limits"));
    c.send(json!({"action":"presence","user":{"account_name":""}})).await;
    c.expect_error(400).await;
    c.send(json!({"action":"presence","user":{"account_name":"#room"}})).await;
    c.expect_error(400).await;
    // 25 characters (not bytes) is fine.
    c.send(json!({"action":"presence","user":{"account_name":"ж".repeat(25)}})).await;
    c.expect_code(200).await;
    // Same connection, same name again (a probe answer) -> 200; another name -> 400.
    a.send(json!({"action":"presence","time":1,"type":"status","user":{"account_name":"Alice"}}))
        .await;
    a.expect_code(200).await;
    a.send(json!({"action":"presence","time":1,"user":{"account_name":"Other"}})).await;
    assert!(a.expect_error(400).await.contains("name already set"));
    srv.shutdown().await;
}

#[tokio::test]
async fn requests_before_presence_get_401() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    for req in [
        json!({"action":"get_contacts","time":1}),
        json!({"action":"msg","time":1,"to":"x","message":"hi"}),
        json!({"action":"join","time":1,"room":"#r"}),
        json!({"action":"get_users","time":1}),
        // Field checks come after the login check (§errors).
        json!({"action":"msg","time":1}),
    ] {
        c.send(req).await;
        assert!(c.expect_error(401).await.contains("presence first"));
    }
    srv.shutdown().await;
}

#[tokio::test]
async fn direct_messages_cross_dialects_and_reach_only_the_addressee() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::course(srv.addr(), "Bob").await;
    let mut c = Client::spec(srv.addr(), "Carol").await;
    b.pushes(1).await;

    // spec sender -> course recipient, with a forged "from".
    a.send(json!({"action":"msg","time":1,"to":"Bob","from":"Mallory","encoding":"ascii","message":"hi Bob"}))
        .await;
    a.expect_code(200).await;
    let relay = b.recv().await;
    assert_eq!(relay["action"], "message");
    assert_eq!(relay["from"], "Alice", "from must be the session name: {relay}");
    assert_eq!(relay["to"], "Bob");
    assert_eq!(relay["mess_text"], "hi Bob");
    assert!(relay["time"].is_f64());
    assert!(relay.get("message").is_none() && relay.get("encoding").is_none());

    // course sender -> spec recipient.
    b.message("Alice", "hi Alice").await;
    b.expect_code(200).await;
    let relay = a.recv().await;
    assert_eq!(
        relay,
        json!({"action":"msg","time":relay["time"],"to":"Alice","from":"Bob","message":"hi Alice"})
    );

    // Reading variants of a course message.
    b.send(json!({"action":"message","sender":"Bob","destination":"Alice","message_text":"v"}))
        .await;
    b.expect_code(200).await;
    assert_eq!(a.recv().await["message"], "v");

    // Nobody else saw anything.
    c.barrier().await;
    a.barrier().await;
    b.barrier().await;

    // To oneself: the relay, then the 200.
    a.msg("Alice", "me").await;
    let first = a.recv().await;
    assert_eq!(first["action"], "msg");
    assert_eq!(first["from"], "Alice");
    a.expect_code(200).await;

    // Unknown user: 404; offline without accounts: 404 too.
    a.msg("Nobody", "x").await;
    assert!(a.expect_error(404).await.contains("Nobody"));
    c.send(json!({"action":"quit"})).await;
    c.expect_closed().await;
    a.msg("Carol", "x").await;
    a.expect_error(404).await;

    // Bad requests.
    a.send(json!({"action":"msg","time":1,"message":"no to"})).await;
    assert!(a.expect_error(400).await.contains("to"));
    a.send(json!({"action":"msg","time":1,"to":"Bob"})).await;
    assert!(a.expect_error(400).await.contains("message"));
    a.send(json!({"action":"msg","time":1,"to":null,"message":"x"})).await;
    a.expect_error(400).await;
    a.send(json!({"action":"msg","time":1,"to":"Bob","message":"x".repeat(501)})).await;
    assert!(a.expect_error(400).await.contains("§limits"));
    a.send(json!({"action":"msg","time":1,"to":"Bob","message":"x".repeat(500)})).await;
    a.expect_code(200).await;
    b.pushes(1).await; // Carol left
    assert_eq!(b.recv().await["mess_text"].as_str().unwrap().len(), 500);
    srv.shutdown().await;
}

#[tokio::test]
async fn rooms_fan_out_to_other_members_only() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::course(srv.addr(), "Bob").await;
    let mut c = Client::spec(srv.addr(), "Carol").await;
    let mut d = Client::spec(srv.addr(), "Dave").await;
    b.pushes(2).await;

    a.msg("#lobby", "anyone?").await;
    assert!(a.expect_error(404).await.contains("#lobby"));
    for x in [&mut a, &mut b, &mut c] {
        x.send(json!({"action":"join","time":1,"room":"#lobby"})).await;
        x.expect_code(200).await;
    }
    // Joining twice is fine.
    c.send(json!({"action":"join","time":1,"room":"#lobby"})).await;
    c.expect_code(200).await;
    // `join` revealed the spec dialect; `get_users` switches Bob back to course.
    b.send(json!({"action":"get_users","time":1})).await;
    assert!(b.expect_code(202).await["data_list"].is_array());
    // Non-member: 403.
    d.msg("#lobby", "let me in").await;
    assert!(d.expect_error(403).await.contains("#lobby"));

    a.msg("#lobby", "hello all").await;
    a.expect_code(200).await;
    let to_b = b.recv().await;
    assert_eq!(to_b["action"], "message");
    assert_eq!(to_b["to"], "#lobby");
    assert_eq!(to_b["from"], "Alice");
    assert_eq!(to_b["mess_text"], "hello all");
    let to_c = c.recv().await;
    assert_eq!(to_c["action"], "msg");
    assert_eq!(to_c["message"], "hello all");
    a.barrier().await; // never back to the sender
    d.barrier().await; // never to non-members

    // Leave: 200, then 404; a left member gets nothing more.
    c.send(json!({"action":"leave","time":1,"room":"#lobby"})).await;
    c.expect_code(200).await;
    c.send(json!({"action":"leave","time":1,"room":"#lobby"})).await;
    c.expect_error(404).await;
    b.message("#lobby", "after").await;
    b.expect_code(200).await;
    assert_eq!(a.recv().await["message"], "after");
    c.barrier().await;

    // Bad room names.
    a.send(json!({"action":"join","time":1,"room":"lobby"})).await;
    assert!(a.expect_error(400).await.contains("§rooms"));
    a.msg("#", "x").await;
    a.expect_error(400).await;
    a.send(json!({"action":"join","time":1})).await;
    a.expect_error(400).await;

    // A disconnect leaves the room; the last one out deletes it.
    b.send(json!({"action":"exit","time":1,"account_name":"Bob"})).await;
    b.expect_closed().await;
    a.send(json!({"action":"leave","time":1,"room":"#lobby"})).await;
    a.expect_code(200).await;
    a.msg("#lobby", "gone?").await;
    a.expect_error(404).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn quit_frees_the_name_and_pushes_205_to_course_sessions_only() {
    let srv = server(Config::default()).await;
    let mut watcher = Client::course(srv.addr(), "Watcher").await;
    let mut spec = Client::spec(srv.addr(), "SpecUser").await;
    assert_eq!(watcher.recv().await["response"], 205, "login push");
    let mut a = Client::spec(srv.addr(), "Alice").await;
    watcher.expect_code(205).await;
    a.send(json!({"action":"join","time":1,"room":"#r"})).await;
    a.expect_code(200).await;
    // Quit: no reply, close, and bytes after it in the same write are discarded.
    a.send_raw(b"{\"action\":\"quit\"}\n{\"action\":\"get_contacts\",\"time\":1}\n").await;
    assert!(a.expect_closed().await.is_empty(), "quit must not be answered");
    watcher.expect_code(205).await;
    spec.barrier().await; // spec sessions never get 205
    watcher.barrier().await;
    // The name is free again and the room is gone.
    let mut again = Client::spec(srv.addr(), "Alice").await;
    again.msg("#r", "x").await;
    again.expect_error(404).await;
    // Quit before presence just closes.
    let mut anon = Client::connect(srv.addr()).await;
    anon.send(json!({"action":"exit"})).await;
    assert!(anon.expect_closed().await.is_empty());
    // The ignored `account_name` of an exit cannot keep a client from leaving.
    let mut odd = Client::course(srv.addr(), "Odd").await;
    odd.send(json!({"action":"exit","time":1,"account_name":5})).await;
    assert!(odd.expect_closed().await.is_empty(), "exit with a numeric account_name");
    srv.shutdown().await;
}

#[tokio::test]
async fn contacts_in_both_spellings() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let _b = Client::spec(srv.addr(), "Bob").await;
    let mut c = Client::course(srv.addr(), "Carol").await;

    a.send(json!({"action":"get_contacts","time":1})).await;
    assert_eq!(a.expect_code(202).await["alert"], json!([]));
    a.send(json!({"action":"add_contact","time":1,"user_id":"Nobody"})).await;
    a.expect_error(404).await;
    a.send(json!({"action":"add_contact","time":1,"user_id":"Carol"})).await;
    a.expect_code(200).await;
    a.send(json!({"action":"add_contact","time":1,"user_id":"Bob"})).await;
    a.expect_code(200).await;
    a.send(json!({"action":"add_contact","time":1,"user_id":"Bob"})).await;
    a.expect_code(200).await; // already there: still 200
    a.send(json!({"action":"get_contacts","time":1,"user_login":"Alice"})).await;
    assert_eq!(a.expect_code(202).await["alert"], json!(["Bob", "Carol"]));
    a.send(json!({"action":"del_contact","time":1,"user_id":"Bob"})).await;
    a.expect_code(200).await;
    a.send(json!({"action":"del_contact","time":1,"user_id":"Bob"})).await;
    a.expect_error(404).await;
    a.send(json!({"action":"add_contact","time":1})).await;
    a.expect_error(400).await;

    // Course spellings and list shape.
    c.send(json!({"action":"add","time":1,"user":"Carol","account_name":"Alice"})).await;
    c.expect_code(200).await;
    c.send(json!({"action":"get_contacts","time":1,"user":"Carol"})).await;
    let list = c.expect_code(202).await;
    assert_eq!(list["data_list"], json!(["Alice"]));
    assert_eq!(list["alert"], "accepted");
    c.send(json!({"action":"remove","time":1,"user":"Carol","account_name":"Alice"})).await;
    c.expect_code(200).await;
    c.send(json!({"action":"remove_contact","time":1,"account_name":"Alice"})).await;
    c.expect_error(404).await;
    c.send(json!({"action":"get_contacts","time":1,"user":"Carol"})).await;
    assert_eq!(c.expect_code(202).await["data_list"], json!([]));
    srv.shutdown().await;
}

#[tokio::test]
async fn get_users_and_pubkey_need() {
    let srv = server(Config::default()).await;
    let mut a = Client::course(srv.addr(), "Alice").await;
    let mut b = Client::spec(srv.addr(), "Bob").await;
    a.pushes(1).await; // Bob's login
    a.send(json!({"action":"get_users","time":1,"account_name":"Alice"})).await;
    assert_eq!(a.expect_code(202).await["data_list"], json!(["Alice", "Bob"]));
    a.send(json!({"action":"pubkey_need","time":1,"account_name":"Alice"})).await;
    let key = a.expect_code(511).await;
    assert_eq!(key["bin"], "KEY-Alice");
    a.send(json!({"action":"pubkey_need","time":1,"account_name":"Bob"})).await;
    assert!(a.expect_error(400).await.contains("no public key"));
    a.send(json!({"action":"pubkey_need","time":1})).await;
    a.expect_error(400).await;
    // A bare presence (no type, no status) is what course clients send: course lists.
    let mut bare = Client::connect(srv.addr()).await;
    bare.send(json!({"action":"presence","time":1,"user":{"account_name":"Bare"}})).await;
    bare.expect_code(200).await;
    bare.send(json!({"action":"get_contacts","time":1})).await;
    assert_eq!(bare.expect_code(202).await["data_list"], json!([]));
    a.pushes(1).await; // Bare's login
    // get_users reveals the course dialect: a spec connection switches.
    b.send(json!({"action":"get_users","time":1})).await;
    assert!(b.expect_code(202).await["data_list"].is_array());
    srv.shutdown().await;
}

#[tokio::test]
async fn probes_on_request_and_on_interval() {
    let srv = server(Config::default()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut anon = Client::connect(srv.addr()).await;
    srv.probe_all();
    let probe = a.recv().await;
    assert_eq!(probe["action"], "probe");
    assert!(probe["time"].is_f64());
    a.send(json!({"action":"presence","time":1,"type":"status","user":{"account_name":"Alice"}}))
        .await;
    a.expect_code(200).await;
    anon.barrier().await; // only logged-in sessions are probed
    // A client may not send probe.
    a.send(json!({"action":"probe","time":1})).await;
    assert!(a.expect_error(400).await.contains("unknown action"));
    srv.shutdown().await;

    let srv =
        server(Config { probe_interval: Some(Duration::from_millis(100)), ..Config::default() })
            .await;
    let mut a = Client::course(srv.addr(), "Alice").await;
    assert_eq!(a.recv().await["action"], "probe");
    assert_eq!(a.recv().await["action"], "probe");
    srv.shutdown().await;
}

fn accounts() -> Config {
    Config {
        accounts: Some(Accounts::from_pairs([
            ("Alice", "secret"),
            ("Guest", "пароль"),
            ("Bob", "pw"),
        ])),
        ..Config::default()
    }
}

#[tokio::test]
async fn spec_authenticate_then_presence() {
    let srv = server(accounts()).await;
    let mut c = Client::connect(srv.addr()).await;
    // A spec-marked presence without authenticate: 401.
    c.send(json!({"action":"presence","time":1,"type":"status","user":{"account_name":"Alice","status":"x"}}))
        .await;
    assert!(c.expect_error(401).await.contains("authenticate"));
    let auth = |pw: &str| json!({"action":"authenticate","time":1,"user":{"account_name":"Alice","password":pw}});
    c.send(auth("wrong")).await;
    c.expect_error(402).await;
    c.send(json!({"action":"authenticate","time":1,"user":{"account_name":"Zed","password":"x"}}))
        .await;
    c.expect_error(402).await;
    c.send(json!({"action":"authenticate","time":1,"user":{"account_name":"Alice"}})).await;
    c.expect_error(400).await;
    c.send(auth("secret")).await;
    c.expect_code(200).await;
    // The presence must use the authenticated name.
    c.send(json!({"action":"presence","time":1,"type":"status","user":{"account_name":"Bob"}}))
        .await;
    c.expect_error(401).await;
    c.send(json!({"action":"presence","time":1,"type":"status","user":{"account_name":"Alice"}}))
        .await;
    c.expect_code(200).await;
    c.send(auth("secret")).await;
    assert!(c.expect_error(400).await.contains("already logged in"));

    // Offline account: 410; unknown: 404.
    c.msg("Bob", "x").await;
    assert!(c.expect_error(410).await.contains("offline"));
    c.msg("Nobody", "x").await;
    c.expect_error(404).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn course_511_login_with_python_vectors() {
    // Answers computed with CPython (hashlib.pbkdf2_hmac + hmac md5 + base64), as in
    // protocol/src/course_login.rs and PROTOCOL.md §course-login.
    for (name, challenge, answer) in [
        ("Alice", "0".repeat(128), "fNQN8KWKQNB9JJBlnWDyOg==\n"),
        ("Guest", "0123456789abcdef".repeat(8), "q7ctGupklhl+auoK5MKB7g=="),
    ] {
        let srv = server(Config { fixed_challenge: Some(challenge.clone()), ..accounts() }).await;
        let mut c = Client::connect(srv.addr()).await;
        c.send(json!({"action":"presence","time":1,"user":{"account_name":name,"pubkey":"PEM"}}))
            .await;
        let ch = c.expect_code(511).await;
        assert_eq!(ch["bin"], json!(challenge));
        // Other requests while the challenge is pending: 401.
        c.send(json!({"action":"get_contacts","time":1})).await;
        c.expect_error(401).await;
        c.send(json!({"response":511,"bin":answer})).await;
        c.expect_code(200).await;
        c.send(json!({"action":"get_users","time":1})).await;
        assert!(c.expect_code(202).await["data_list"].as_array().unwrap().contains(&json!(name)));
        srv.shutdown().await;
    }
}

#[tokio::test]
async fn course_511_random_challenge_wrong_answer_and_unknown_account() {
    let srv = server(accounts()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(json!({"action":"presence","time":1,"user":{"account_name":"Bob"}})).await;
    let ch = c.expect_code(511).await;
    let challenge = ch["bin"].as_str().unwrap().to_owned();
    assert!(jim_protocol::course_login::is_challenge(&challenge), "{challenge}");
    assert_eq!(challenge, challenge.to_lowercase());
    // A new presence replaces the challenge with a fresh one.
    c.send(json!({"action":"presence","time":1,"user":{"account_name":"Bob"}})).await;
    let fresh = c.expect_code(511).await["bin"].as_str().unwrap().to_owned();
    assert_ne!(fresh, challenge);
    let answer = jim_protocol::course_login::answer("Bob", "pw", &fresh);
    c.send(json!({"response":"511","time":1,"bin":answer})).await;
    c.expect_code(200).await;

    let mut w = Client::connect(srv.addr()).await;
    w.send(json!({"action":"presence","time":1,"user":{"account_name":"Alice"}})).await;
    let ch = w.expect_code(511).await["bin"].as_str().unwrap().to_owned();
    let wrong = jim_protocol::course_login::answer("Alice", "nope", &ch);
    w.send(json!({"response":511,"bin":wrong})).await;
    w.expect_error(402).await;
    assert!(w.expect_closed().await.is_empty());

    let mut u = Client::connect(srv.addr()).await;
    u.send(json!({"action":"presence","time":1,"user":{"account_name":"Stranger"}})).await;
    u.expect_code(511).await; // a challenge even for an unknown account
    u.send(json!({"response":511,"bin":"AAAAAAAAAAAAAAAAAAAAAA=="})).await;
    u.expect_error(402).await;
    u.expect_closed().await;

    // A stray 511 without a pending challenge is ignored.
    c.send(json!({"response":511,"bin":"x"})).await;
    c.barrier().await;
    srv.shutdown().await;
}

#[tokio::test]
async fn open_mode_authenticate_accepts_any_password() {
    let srv = server(Config::default()).await;
    let mut c = Client::connect(srv.addr()).await;
    c.send(json!({"action":"authenticate","time":1,"user":{"account_name":"Al","password":"x"}}))
        .await;
    c.expect_code(200).await;
    c.send(json!({"action":"presence","time":1,"user":{"account_name":"Other"}})).await;
    c.expect_error(401).await;
    c.send(json!({"action":"presence","time":1,"user":{"account_name":"Al"}})).await;
    c.expect_code(200).await;
    srv.shutdown().await;
}

#[tokio::test]
async fn sqlite_keeps_users_contacts_and_history_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("chat.sqlite");
    let config = || Config { db: Some(db.clone()), ..Config::default() };
    let srv = server(config()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    let mut b = Client::spec(srv.addr(), "Bob").await;
    a.send(json!({"action":"add_contact","time":1,"user_id":"Bob"})).await;
    a.expect_code(200).await;
    a.msg("Bob", "remember me").await;
    a.expect_code(200).await;
    b.recv().await;
    srv.shutdown().await;

    let history = jim_server::store::read_history(&db).unwrap();
    assert_eq!(history, vec![("Alice".into(), "Bob".into(), "remember me".into())]);

    let srv = server(config()).await;
    let mut a = Client::spec(srv.addr(), "Alice").await;
    a.send(json!({"action":"get_contacts","time":1})).await;
    assert_eq!(a.expect_code(202).await["alert"], json!(["Bob"]));
    // Bob is a recorded user now: offline means 410, not 404.
    a.msg("Bob", "are you there?").await;
    a.expect_error(410).await;
    a.send(json!({"action":"get_users","time":1})).await;
    assert_eq!(a.expect_code(202).await["data_list"], json!(["Alice", "Bob"]));
    srv.shutdown().await;
}
