//! The load engine counts deliveries, losses and refusals correctly.
//!
//! A small in-test JIM fake (presence, join, msg to a user or a room) can drop every k-th relay
//! or refuse logins past a limit; the engine must report exactly what the fake did. Counts only,
//! never timings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use jim_load::hold::{self, HoldOptions};
use jim_load::traffic::{self, TrafficOptions, TrafficShape};
use jim_load::{LoadConfig, LossReasons, Names, block_on_local};
use jim_protocol::FrameDecoder;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How the fake misbehaves.
#[derive(Clone, Copy, Default)]
struct Faults {
    /// Drop every k-th relayed delivery (counted over the whole server).
    drop_every: Option<u64>,
    /// Answer 409 to presences past this many users.
    max_users: Option<usize>,
    /// Answer every k-th `msg` with 410 and relay nothing (counted over the whole server).
    refuse_every: Option<u64>,
    /// Neither answer nor relay every k-th `msg`.
    ignore_every: Option<u64>,
}

#[derive(Default)]
struct State {
    users: HashMap<String, mpsc::UnboundedSender<Vec<u8>>>,
    rooms: HashMap<String, Vec<String>>,
    relays: u64,
    msgs: u64,
}

fn encode(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec(v).unwrap();
    b.push(b'\n');
    b
}

/// Starts the fake on 127.0.0.1:0 on a thread of its own; returns its address.
fn start_fake(faults: Faults) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let state = Arc::new(Mutex::new(State::default()));
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(serve_one(stream, Arc::clone(&state), faults));
            }
        });
    });
    rx.recv().unwrap()
}

async fn serve_one(stream: TcpStream, state: Arc<Mutex<State>>, faults: Faults) {
    let (mut rd, mut wr) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut me: Option<String> = None;
    loop {
        buf.reserve(4096);
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Some(Ok(raw)) = decoder.next_raw(&mut buf, false) {
            let v: Value = serde_json::from_slice(&raw).unwrap();
            let ok = encode(&json!({"response": 200, "time": 1.0}));
            match v["action"].as_str().unwrap_or("") {
                "presence" => {
                    let name = v["user"]["account_name"].as_str().unwrap().to_owned();
                    let mut s = state.lock().unwrap();
                    if faults.max_users.is_some_and(|m| s.users.len() >= m) {
                        let _ = out_tx.send(encode(&json!({"response": 409, "error": "full"})));
                        continue;
                    }
                    s.users.insert(name.clone(), out_tx.clone());
                    me = Some(name);
                    let _ = out_tx.send(ok);
                }
                "join" => {
                    let room = v["room"].as_str().unwrap().to_owned();
                    let name = me.clone().unwrap();
                    state.lock().unwrap().rooms.entry(room).or_default().push(name);
                    let _ = out_tx.send(ok);
                }
                "msg" => {
                    let to = v["to"].as_str().unwrap().to_owned();
                    let from = me.clone().unwrap();
                    let relay = encode(&json!({"action": "msg", "time": 1.0, "to": to,
                        "from": from, "message": v["message"]}));
                    let mut s = state.lock().unwrap();
                    s.msgs += 1;
                    if faults.refuse_every.is_some_and(|k| s.msgs % k == 0) {
                        let _ = out_tx.send(encode(&json!({"response": 410, "error": "gone"})));
                        continue;
                    }
                    if faults.ignore_every.is_some_and(|k| s.msgs % k == 0) {
                        continue;
                    }
                    let recipients: Vec<String> = if to.starts_with('#') {
                        s.rooms[&to].iter().filter(|m| **m != from).cloned().collect()
                    } else {
                        vec![to]
                    };
                    for r in recipients {
                        s.relays += 1;
                        if faults.drop_every.is_some_and(|k| s.relays % k == 0) {
                            continue;
                        }
                        let _ = s.users[&r].send(relay.clone());
                    }
                    let _ = out_tx.send(ok);
                }
                _ => break,
            }
        }
    }
    if let Some(name) = me {
        state.lock().unwrap().users.remove(&name);
    }
}

/// Options for `max_messages` messages. Lossy fakes need a window larger than the losses, so
/// that lost messages (which hold their slot until the deadline) never stall the senders.
fn traffic_opts(shape: TrafficShape, max_messages: u64) -> TrafficOptions {
    TrafficOptions {
        shape,
        window: 16,
        message_bytes: 150,
        // Far longer than the test needs: the message cap ends the sending.
        duration: Duration::from_secs(60),
        max_messages,
        connects_in_flight: 4,
        connect_timeout: Duration::from_secs(5),
        // A delivery later than this counts as lost: generous, so a slow CI machine cannot lose one.
        reply_timeout: Duration::from_secs(1),
        names: Names::new("t").unwrap(),
        dialect: jim_protocol::Dialect::Spec,
    }
}

/// `messages` direct messages over one pair against a fake with `faults`.
fn one_pair(faults: Faults, messages: u64) -> traffic::TrafficReport {
    let addr = start_fake(faults);
    block_on_local(async {
        let opts = traffic_opts(TrafficShape::Direct { pairs: 1 }, messages);
        traffic::prepare(addr, opts).await.unwrap().run().await
    })
    .unwrap()
}

#[test]
fn direct_relay_counts_every_third_message_lost() {
    let report = one_pair(Faults { drop_every: Some(3), ..Faults::default() }, 30);
    assert_eq!(report.sent, 30, "{report}");
    assert_eq!(report.expected_deliveries, 30, "{report}");
    assert_eq!(report.delivered, 20, "{report}");
    assert_eq!(report.lost, 10, "{report}");
    assert_eq!(report.acks, 30, "{report}");
    assert_eq!(report.unexpected, 0, "{report}");
    assert!(!report.clean());
    assert_eq!(report.latency.count, 20);
    let because = LossReasons { acknowledged_not_delivered: 10, ..LossReasons::default() };
    assert_eq!(report.lost_because, because, "{report}");
}

/// Issue 15 item 6: the report says why messages were lost, and the reasons add up.
#[test]
fn losses_are_told_apart_refused_and_never_answered() {
    let faults = Faults { refuse_every: Some(5), ignore_every: Some(7), ..Faults::default() };
    let report = one_pair(faults, 30);
    // Messages 5, 10, ..., 30 refused with 410; 7, 14, 21, 28 neither answered nor relayed.
    assert_eq!((report.sent, report.delivered, report.lost), (30, 20, 10), "{report}");
    let mut refused = std::collections::BTreeMap::new();
    refused.insert("410".to_owned(), 6);
    let because = LossReasons { refused, never_acknowledged: 4, ..LossReasons::default() };
    assert_eq!(report.lost_because, because, "{report}");
    assert_eq!(report.lost_because.total(), report.lost);
    let text = report.to_string();
    assert!(text.contains("lost because: 6 refused with 410, 4 never acknowledged"), "{text}");
    let ru = jim_text::Lang::Ru.say(&report.lost_because);
    assert_eq!(ru, "отказ с кодом 410: 6, ответа не было: 4");
    assert!(jim_text::Lang::Ru.say(&report).contains("причины потерь: отказ с кодом 410: 6"));
}

#[test]
fn room_fan_out_counts_every_delivery() {
    let addr = start_fake(Faults { drop_every: Some(3), ..Faults::default() });
    let shape = TrafficShape::Room { members: 4, senders: 2 };
    let report = block_on_local(async {
        traffic::prepare(addr, traffic_opts(shape, 12)).await.unwrap().run().await
    })
    .unwrap();
    // 12 messages, each to the 3 other members: 36 relays, every third dropped.
    assert_eq!(report.sent, 12, "{report}");
    assert_eq!(report.expected_deliveries, 36, "{report}");
    assert_eq!(report.delivered, 24, "{report}");
    assert_eq!(report.lost, 12, "{report}");
    assert_eq!(report.unexpected, 0, "{report}");
    assert_eq!(report.lost_because.acknowledged_not_delivered, 12, "{report}");
    assert_eq!(report.lost_because.total(), 12, "{report}");
}

#[test]
fn a_faithful_target_loses_nothing() {
    let addr = start_fake(Faults::default());
    let shape = TrafficShape::Room { members: 5, senders: 3 };
    let (direct, room) = block_on_local(async {
        let direct = traffic::prepare(addr, traffic_opts(TrafficShape::Direct { pairs: 3 }, 200))
            .await
            .unwrap()
            .run()
            .await;
        let room = traffic::prepare(addr, traffic_opts(shape, 60)).await.unwrap().run().await;
        (direct, room)
    })
    .unwrap();
    assert!(direct.clean(), "{direct}");
    assert_eq!((direct.sent, direct.delivered, direct.lost), (200, 200, 0));
    assert!(room.clean(), "{room}");
    assert_eq!((room.sent, room.delivered, room.lost), (60, 240, 0));
    assert_eq!(room.messages_per_sec > 0.0, room.delivered > 0);
}

#[test]
fn refused_logins_are_counted_and_the_ramp_stops() {
    let addr = start_fake(Faults { max_users: Some(5), ..Faults::default() });
    let held = block_on_local(async {
        let opts = HoldOptions {
            connections: 40,
            connects_in_flight: 1,
            connects_per_sec: 0,
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(5),
            stop_after_failures: 10,
            names: Names::new("t").unwrap(),
            dialect: jim_protocol::Dialect::Spec,
        };
        let held = hold::hold(addr, &opts).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let open = held.still_open();
        (held.report, open)
    })
    .unwrap();
    let (report, open) = held;
    assert_eq!(report.held, 5, "{report}");
    assert_eq!(report.failed, 10, "{report}");
    assert_eq!(report.attempted, 15, "{report}");
    assert!(report.stopped_early.is_some(), "{report}");
    assert!(report.problems[0].to_string().contains("409"), "{report}");
    assert_eq!(open, 5);
}

#[test]
fn the_whole_check_passes_on_a_faithful_target() {
    let addr = start_fake(Faults::default());
    let config = LoadConfig {
        host: addr.ip().to_string(),
        port: addr.port(),
        connections: 20,
        connects_per_sec: 0,
        pairs: 3,
        room_members: 4,
        room_senders: 2,
        phase_duration: Duration::from_secs(30),
        max_messages: 100,
        ..LoadConfig::default()
    };
    let report = jim_load::run(&config).unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.connections.held, 20);
    assert_eq!(report.still_open, 20);
    assert_eq!(report.messages_sent, 200);
    assert_eq!(report.deliveries_expected, 100 + 300);
    assert_eq!(report.deliveries_lost, 0);
    assert!(report.survived);
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["direct"]["status"], "ran");
    assert_eq!(json["room"]["lost"], 0);
    assert!(report.to_string().contains("PASS"));
}

#[test]
fn an_unreachable_target_is_an_error_not_a_report() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = LoadConfig { port, ..LoadConfig::default() };
    let err = jim_load::run(&config).unwrap_err();
    assert!(err.to_string().contains("cannot connect"), "{err}");
    let alive = block_on_local(hold::alive(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "x",
        jim_protocol::Dialect::Spec,
        Duration::from_secs(1),
        Duration::from_secs(1),
    ))
    .unwrap();
    assert!(alive.is_err());
}

#[test]
fn echo_baseline_counts_round_trips_and_stream() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        block_on_local(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let _ = jim_load::echo::serve(listener).await;
        })
        .unwrap();
    });
    let addr = rx.recv().unwrap();
    let (rt, stream) = block_on_local(async move {
        let t = Duration::from_secs(5);
        let rt = jim_load::echo::round_trips(addr, 150, 50, Duration::from_secs(60), t).await;
        let st = jim_load::echo::stream(addr, 150, 16, Duration::from_millis(100), t).await;
        (rt.unwrap(), st.unwrap())
    })
    .unwrap();
    assert_eq!(rt.completed, 50, "{rt}");
    assert!(rt.problem.is_none());
    assert!(stream.written > 0, "{stream}");
    assert_eq!(stream.echoed, stream.written, "{stream}");
    assert!(stream.problem.is_none(), "{stream}");
}
