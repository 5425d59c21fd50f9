//! Measures what hostile clients cost the reference server (issue 16's benchmark figures): the
//! server's RSS per connection that pipelines requests and never reads the replies, and a polite
//! client's round trip while each attack runs. Loopback only, bounded in count and time. Run it
//! on a quiet machine and write the numbers down with the commit they were measured at (the
//! README's benchmark section has the latest):
//!
//! ```sh
//! cargo build --release -p jim-server --example hostile
//! target/release/examples/hostile target/release/jim-server
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Connections of each attack that holds many (hogs, slow-loris).
const MANY: usize = 60;

/// Polite round trips measured under each attack.
const ROUND_TRIPS: usize = 300;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(program: &str, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(["-p", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim_end().strip_prefix("listening on ").unwrap().to_owned();
        Self { child, addr }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A users file with 3,000 accounts of 20 characters (every `get_users` answer is 64 KiB), plus
/// `flood0..7`, `guess0..7` and `polite`, all with the password `pw`.
fn users_file(dir: &Path) -> PathBuf {
    let users = dir.join("users.txt");
    let mut f = std::fs::File::create(&users).unwrap();
    for i in 0..3_000 {
        writeln!(f, "account{i:013}:pw").unwrap();
    }
    for i in 0..8 {
        writeln!(f, "flood{i}:pw\nguess{i}:pw").unwrap();
    }
    writeln!(f, "polite:pw").unwrap();
    users
}

fn login(name: &str) -> String {
    format!(
        "{{\"action\":\"authenticate\",\"time\":1,\"user\":{{\"account_name\":\"{name}\",\"password\":\"pw\"}}}}\n\
         {{\"action\":\"presence\",\"time\":1,\"type\":\"status\",\"user\":{{\"account_name\":\"{name}\",\"status\":\"x\"}}}}\n"
    )
}

/// Longest wait for one answer of the polite client: a server that starves it gets a row that
/// says so instead of a hung benchmark.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Reads until `n` newline-terminated values arrived; `false` when they did not within
/// [`ANSWER_WAIT`] or the server closed.
async fn lines(s: &mut TcpStream, n: usize) -> bool {
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    while got < n {
        match tokio::time::timeout(ANSWER_WAIT, s.read(&mut buf)).await {
            Ok(Ok(k)) if k > 0 => got += buf[..k].iter().filter(|&&b| b == b'\n').count(),
            _ => return false,
        }
    }
    true
}

/// The polite client's `get_contacts` round trips: p50, p99, max in ms, and how many were
/// answered (the rest gave up after [`ANSWER_WAIT`]).
async fn polite(addr: &str) -> (f64, f64, f64, usize) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(login("polite").as_bytes()).await.unwrap();
    let mut times = Vec::new();
    if lines(&mut s, 2).await {
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            s.write_all(b"{\"action\":\"get_contacts\",\"time\":1}\n").await.unwrap();
            if !lines(&mut s, 1).await {
                break;
            }
            times.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    times.sort();
    let ms = |p: f64| {
        times
            .get(((times.len().max(1) - 1) as f64 * p) as usize)
            .map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0)
    };
    (ms(0.5), ms(0.99), ms(1.0), times.len())
}

/// An attack: tasks that run until `stop` is set.
type Attack = fn(String, Arc<AtomicBool>) -> Vec<JoinHandle<()>>;

fn none(_: String, _: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    Vec::new()
}

/// `count` connections: each writes `login(i)`, then `burst` over and over, and reads what comes.
fn floods(
    addr: &str,
    stop: &Arc<AtomicBool>,
    count: usize,
    login: fn(usize) -> String,
    burst: String,
) -> Vec<JoinHandle<()>> {
    (0..count)
        .map(|i| {
            let (addr, stop, burst) = (addr.to_owned(), stop.clone(), burst.clone());
            tokio::spawn(async move {
                let s = TcpStream::connect(&addr).await.unwrap();
                let (mut rd, mut wr) = s.into_split();
                let reader = tokio::spawn(async move {
                    let mut buf = vec![0u8; 1 << 16];
                    while rd.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                });
                wr.write_all(login(i).as_bytes()).await.unwrap();
                while !stop.load(Ordering::Relaxed) && wr.write_all(burst.as_bytes()).await.is_ok()
                {
                }
                reader.abort();
            })
        })
        .collect()
}

/// Eight connections pipeline `get_users` (64 KiB answers) and read the answers.
fn get_users_flood(addr: String, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    let burst = "{\"action\":\"get_users\",\"time\":1}\n".repeat(100);
    floods(&addr, &stop, 8, |i| login(&format!("flood{i}")), burst)
}

/// Two connections pipeline unknown actions and read the 400s.
fn unknown_action_flood(addr: String, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    floods(&addr, &stop, 2, |_| String::new(), "{\"action\":\"fly\"}\n".repeat(10_000))
}

/// [`MANY`] connections pipeline unknown actions and never read.
fn non_readers(addr: String, _: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..MANY)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.set_recv_buffer_size(4096).unwrap();
                let mut s = socket.connect(addr.parse().unwrap()).await.unwrap();
                let _ = s.write_all("{\"action\":\"fly\"}\n".repeat(20_000).as_bytes()).await;
                std::future::pending::<()>().await;
            })
        })
        .collect()
}

/// [`MANY`] connections trickle a message a byte every 100 ms (reconnecting when closed).
fn slow_loris(addr: String, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..MANY)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(&addr).await else { return };
                    for b in
                        b"{\"action\":\"presence\",\"user\":\"".iter().chain([b'x'; 10_000].iter())
                    {
                        if stop.load(Ordering::Relaxed) || s.write_all(&[*b]).await.is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect()
}

/// Password attempts the guessers got answered: checked (a wrong password) and refused.
static CHECKED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);

/// Eight connections guess one account's password, reconnecting when closed.
fn password_guessing(addr: String, stop: Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..8)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            tokio::spawn(async move {
                let guess = "{\"action\":\"authenticate\",\"time\":1,\"user\":{\"account_name\":\"guess0\",\"password\":\"no\"}}\n";
                let mut buf = vec![0u8; 4096];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut s) = TcpStream::connect(&addr).await else { return };
                    while !stop.load(Ordering::Relaxed) {
                        if s.write_all(guess.as_bytes()).await.is_err() {
                            break;
                        }
                        let Ok(n) = s.read(&mut buf).await else { break };
                        let reply = String::from_utf8_lossy(&buf[..n]);
                        if reply.contains("too many login attempts") {
                            REFUSED.fetch_add(1, Ordering::Relaxed);
                        } else if reply.contains("402") {
                            CHECKED.fetch_add(1, Ordering::Relaxed);
                        }
                        if n == 0 || reply.contains("clos") || reply.contains("too many") {
                            break;
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let program = std::env::args().nth(1).unwrap_or_else(|| "target/release/jim-server".into());
    // An optional second argument keeps only the attacks whose description contains it.
    let only = std::env::args().nth(2).unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("jim-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let users = users_file(&dir);
    let users = users.to_str().unwrap();

    println!(
        "| hostile connections ({MANY}) | server RSS before (KiB) | after (KiB) | per connection (KiB) |"
    );
    println!("|---|---|---|---|");
    let hogs_measured = if only.is_empty() { usize::MAX } else { 0 };
    for (what, key, request, count) in [
        ("pipeline 20,000 unknown actions, never read", 0, r#"{"action":"fly"}"#, 20_000),
        (
            "pipeline 2,000 `pubkey_need` of their own 60 KB key, never read",
            60_000,
            r#"{"action":"pubkey_need","account_name":"NAME"}"#,
            2_000,
        ),
    ]
    .into_iter()
    .take(hogs_measured)
    {
        let server = Server::start(&program, &[]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = server.rss_kib();
        let mut hogs = Vec::new();
        for i in 0..MANY {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            let mut s = socket.connect(server.addr.parse().unwrap()).await.unwrap();
            let name = format!("hog{i}");
            let presence = format!(
                "{{\"action\":\"presence\",\"time\":1,\"user\":{{\"account_name\":\"{name}\",\"pubkey\":\"{}\"}}}}\n",
                "k".repeat(key)
            );
            let pipeline = presence + &format!("{request}\n").replace("NAME", &name).repeat(count);
            hogs.push(tokio::spawn(async move {
                let _ = s.write_all(pipeline.as_bytes()).await;
                std::future::pending::<()>().await;
            }));
        }
        // The server answers what the sockets take, then stops reading every hog.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = server.rss_kib();
        let per = after.saturating_sub(before) as f64 / MANY as f64;
        println!("| {what} | {before} | {after} | {per:.1} |");
        hogs.iter().for_each(JoinHandle::abort);
    }

    println!();
    println!(
        "| attack (accounts mode, 3,000 accounts) | polite round trips answered | p50 (ms) | p99 (ms) | max (ms) |"
    );
    println!("|---|---|---|---|---|");
    let attacks: [(&str, Attack); 6] = [
        ("none", none),
        ("8 connections pipeline `get_users` (64 KiB answers) and read them", get_users_flood),
        ("2 connections pipeline unknown actions and read the 400s", unknown_action_flood),
        ("60 connections pipeline 20,000 requests each and never read", non_readers),
        ("60 slow-loris connections (a byte every 100 ms)", slow_loris),
        ("8 connections guess one account's password", password_guessing),
    ];
    let mut guesses = None;
    for (what, attack) in attacks.into_iter().filter(|(what, _)| what.contains(&only)) {
        let server = Server::start(&program, &["--users", users]);
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = attack(server.addr.clone(), stop.clone());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let (p50, p99, max, answered) = polite(&server.addr).await;
        stop.store(true, Ordering::Relaxed);
        tasks.iter().for_each(JoinHandle::abort);
        println!("| {what} | {answered} of {ROUND_TRIPS} | {p50:.2} | {p99:.2} | {max:.2} |");
        let secs = (started.elapsed() + Duration::from_millis(500)).as_secs_f64();
        let (checked, refused) =
            (CHECKED.swap(0, Ordering::Relaxed), REFUSED.swap(0, Ordering::Relaxed));
        if checked + refused > 0 {
            guesses = Some((checked as f64 / secs, refused as f64 / secs, secs));
        }
    }
    if let Some((checked, refused, secs)) = guesses {
        println!();
        println!(
            "Password guessing, 8 connections on one account for {secs:.1} s: {checked:.1} wrong \
             passwords checked per second (the first 10 at once), {refused:.1} attempts per second \
             refused unchecked."
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
