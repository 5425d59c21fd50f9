//! List responses stay readable (PROTOCOL.md `§limits`, `§get-users`, `§contacts`): however many
//! names peers register, a 202 list never exceeds the 65 536 bytes every reader in this project
//! accepts, so one peer cannot break everyone else's `get_users`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use common::{Client, server};
use jim_protocol::codec::to_bytes;
use jim_protocol::limits::DEFAULT_MAX_MESSAGE_BYTES;
use jim_protocol::{Framing, Timestamp};
use jim_server::Config;
use serde_json::json;

/// A 25-character name that JSON-escapes to 133 bytes.
fn long_name(i: usize) -> String {
    format!("{}{i:04}", "ж".repeat(21))
}

#[tokio::test]
async fn get_users_fits_in_one_message_and_keeps_the_connected_users() {
    let srv = server(Config::default()).await;
    // 700 users come and go: their names alone take about 93 KB.
    for i in 0..700 {
        let mut c = Client::connect(srv.addr()).await;
        c.send(json!({"action":"presence","time":1,"user":{"account_name":long_name(i)}})).await;
        c.expect_code(200).await;
    }
    let _alice = Client::spec(srv.addr(), "Alice").await;
    let _late = Client::spec(srv.addr(), &long_name(9999)).await;
    let mut me = Client::course(srv.addr(), "Zed").await;
    me.send(json!({"action":"get_users","time":Timestamp::now().0,"account_name":"Zed"})).await;
    let v = me.expect_code(202).await;
    let size = to_bytes(&v, Framing::Bare).len();
    assert!(size <= DEFAULT_MAX_MESSAGE_BYTES, "get_users answer is {size} bytes");
    let names: Vec<&str> =
        v["data_list"].as_array().unwrap().iter().filter_map(|n| n.as_str()).collect();
    for connected in ["Alice", "Zed", &long_name(9999)] {
        assert!(names.contains(&connected), "{connected} is connected but not listed");
    }
    assert!(names.len() > 400, "the list is cut, not emptied: {} names", names.len());
    assert!(names.windows(2).all(|w| w[0] < w[1]), "still sorted");
    srv.shutdown().await;
}

#[tokio::test]
async fn a_contact_list_never_outgrows_one_message() {
    let srv = server(Config::default()).await;
    for i in 0..700 {
        let mut c = Client::connect(srv.addr()).await;
        c.send(json!({"action":"presence","time":1,"user":{"account_name":long_name(i)}})).await;
        c.expect_code(200).await;
    }
    let mut me = Client::spec(srv.addr(), "Hoarder").await;
    let mut refused = 0;
    for i in 0..700 {
        me.send(json!({"action":"add_contact","time":1,"user_id":long_name(i)})).await;
        let v = me.recv().await;
        match v["response"].as_u64() {
            Some(200) => {}
            Some(400) => {
                refused += 1;
                assert!(v["error"].as_str().unwrap().contains("§limits"), "{v}");
            }
            _ => panic!("unexpected {v}"),
        }
    }
    assert!(refused > 0, "700 long contacts were all accepted");
    me.send(json!({"action":"get_contacts","time":1})).await;
    let v = me.expect_code(202).await;
    let size = to_bytes(&v, Framing::Bare).len();
    assert!(size <= DEFAULT_MAX_MESSAGE_BYTES, "get_contacts answer is {size} bytes");
    assert_eq!(v["alert"].as_array().unwrap().len(), 700 - refused);
    // Removing one makes room for another.
    me.send(json!({"action":"del_contact","time":1,"user_id":long_name(0)})).await;
    me.expect_code(200).await;
    me.send(json!({"action":"add_contact","time":1,"user_id":long_name(699)})).await;
    me.expect_code(200).await;
    srv.shutdown().await;
}
