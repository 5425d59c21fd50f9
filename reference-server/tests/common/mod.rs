//! A small test client over real sockets: every wait is bounded, silence is checked with a
//! round-trip barrier on the same connection (never with a sleep).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use jim_protocol::codec::{parse_raw, to_bytes};
use jim_protocol::{FrameDecoder, FrameError, Framing};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest wait for anything the server should send.
pub const WAIT: Duration = Duration::from_secs(10);

/// A test connection to the server.
pub struct Client {
    pub stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
    barriers: u32,
    pub label: String,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
            decoder: FrameDecoder::new(1 << 20),
            barriers: 0,
            label: String::from("client"),
        }
    }

    /// Connects and logs in with a spec presence (type + status).
    pub async fn spec(addr: SocketAddr, name: &str) -> Self {
        let mut c = Self::connect(addr).await;
        c.label = name.to_owned();
        c.send(json!({"action":"presence","time":1.5,"type":"status",
                      "user":{"account_name":name,"status":"here"}}))
            .await;
        c.expect_code(200).await;
        c
    }

    /// Connects and logs in with a course presence (with a pubkey, which reveals the dialect).
    pub async fn course(addr: SocketAddr, name: &str) -> Self {
        let mut c = Self::connect(addr).await;
        c.label = name.to_owned();
        c.send(json!({"action":"presence","time":1.5,
                      "user":{"account_name":name,"pubkey":format!("KEY-{name}")}}))
            .await;
        c.expect_code(200).await;
        c
    }

    pub async fn send(&mut self, value: Value) {
        let bytes = to_bytes(&value, Framing::Newline);
        self.send_raw(&bytes).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        tokio::time::timeout(WAIT, self.stream.write_all(bytes))
            .await
            .expect("write timed out")
            .expect("write failed");
    }

    /// The next decoded item, or `None` at EOF (or reset).
    pub async fn next_item(&mut self) -> Option<Result<Value, FrameError>> {
        tokio::time::timeout(WAIT, self.next_item_unbounded())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing arrived within {WAIT:?}", self.label))
    }

    async fn next_item_unbounded(&mut self) -> Option<Result<Value, FrameError>> {
        loop {
            if let Some(raw) = self.decoder.next_raw(&mut self.buf, false) {
                return Some(raw.and_then(parse_raw));
            }
            self.buf.reserve(4096);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => {
                    return self
                        .decoder
                        .next_raw(&mut self.buf, true)
                        .map(|r| r.and_then(parse_raw));
                }
                Ok(_) => {}
            }
        }
    }

    /// The next JSON value (panics on EOF or a decoding error).
    pub async fn recv(&mut self) -> Value {
        match self.next_item().await {
            Some(Ok(v)) => v,
            Some(Err(e)) => panic!("{}: undecodable item: {e}", self.label),
            None => panic!("{}: connection closed while waiting for a message", self.label),
        }
    }

    /// The next value, which must be a response with `code`; checks `time` and the text key.
    pub async fn expect_code(&mut self, code: u16) -> Value {
        let v = self.recv().await;
        assert_eq!(v["response"], json!(code), "{}: expected {code}, got {v}", self.label);
        assert!(v["time"].is_f64(), "{}: response without a float time: {v}", self.label);
        let key = if code >= 400 { "error" } else { "alert" };
        assert!(v.get(key).is_some(), "{}: response without {key}: {v}", self.label);
        if (400..500).contains(&code) {
            let text = v["error"].as_str().unwrap();
            assert!(text.contains("(see §"), "{}: error text cites no section: {v}", self.label);
        }
        v
    }

    /// Consumes `n` 205 pushes (course sessions get one per login or leave of someone else).
    pub async fn pushes(&mut self, n: usize) {
        for _ in 0..n {
            self.expect_code(205).await;
        }
    }

    /// The error text of the next response, which must have `code`.
    pub async fn expect_error(&mut self, code: u16) -> String {
        self.expect_code(code).await["error"].as_str().unwrap().to_owned()
    }

    /// Sends a uniquely named unknown action and asserts that its 400 is the very next thing
    /// that arrives: everything the server sent before it is an unexpected message.
    pub async fn barrier(&mut self) {
        self.barriers += 1;
        let name = format!("barrier-{}", self.barriers);
        self.send(json!({"action": name, "time": 1.5})).await;
        let v = self.recv().await;
        assert_eq!(
            v["response"],
            json!(400),
            "{}: unexpected message before barrier: {v}",
            self.label
        );
        let text = v["error"].as_str().unwrap_or_default();
        assert!(text.contains(&name), "{}: unexpected message before barrier: {v}", self.label);
    }

    /// Asserts that the server closes the connection (after possibly sending `allowed` more
    /// values, which are returned).
    pub async fn expect_closed(&mut self) -> Vec<Value> {
        let mut got = Vec::new();
        loop {
            match self.next_item().await {
                None => return got,
                Some(Ok(v)) => got.push(v),
                Some(Err(e)) => panic!("{}: undecodable item before close: {e}", self.label),
            }
            assert!(got.len() < 10_000, "{}: too much data before close", self.label);
        }
    }

    /// Raw bytes: whatever one read returns (after anything already buffered), or empty at
    /// EOF. Bounded by [`WAIT`].
    pub async fn read_raw(&mut self) -> Vec<u8> {
        // A newline left over from the last decoded value is not news.
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            self.buf.clear();
        } else {
            return self.buf.split().to_vec();
        }
        let mut chunk = vec![0u8; 65536];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{}: nothing arrived within {WAIT:?}", self.label))
            .unwrap_or(0);
        chunk.truncate(n);
        chunk
    }

    /// Asserts that nothing arrives within `quiet` (only for peers that cannot answer a
    /// barrier, such as a zombie server).
    pub async fn expect_nothing_for(&mut self, quiet: Duration) {
        let mut chunk = [0u8; 256];
        if let Ok(got) = tokio::time::timeout(quiet, self.stream.read(&mut chunk)).await {
            let n = got.unwrap_or(0);
            panic!(
                "{}: expected silence, got {:?}",
                self.label,
                String::from_utf8_lossy(&chunk[..n])
            );
        }
    }

    pub async fn msg(&mut self, to: &str, text: &str) {
        self.send(json!({"action":"msg","time":1.5,"to":to,"from":self.label,"message":text}))
            .await;
    }

    pub async fn message(&mut self, to: &str, text: &str) {
        self.send(
            json!({"action":"message","time":1.5,"from":self.label,"to":to,"mess_text":text}),
        )
        .await;
    }
}

/// A server for one test: the given config on 127.0.0.1 port 0.
pub async fn server(config: jim_server::Config) -> jim_server::RunningServer {
    jim_server::spawn(config).await.expect("server failed to start")
}
