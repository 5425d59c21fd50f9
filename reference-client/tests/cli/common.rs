//! Test partners: the reference server in a background thread, scripted fake servers, the
//! Python example server, and helpers to run `jim-client` with a time bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use jim_protocol::FrameDecoder;
use serde_json::Value;

/// Upper bound for any single jim-client run in these tests.
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// `jim-client` with a time bound.
pub fn jim() -> assert_cmd::Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("jim-client");
    cmd.timeout(RUN_LIMIT);
    cmd
}

/// Host and port arguments for `addr`.
pub fn hp(addr: SocketAddr) -> [String; 2] {
    [addr.ip().to_string(), addr.port().to_string()]
}

/// A loopback port with nothing listening on it.
pub fn dead_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

enum Ctl {
    Probe,
    Stop,
}

/// The reference server, running on its own tokio runtime in a background thread.
pub struct RefServer {
    pub addr: SocketAddr,
    ctl: tokio::sync::mpsc::UnboundedSender<Ctl>,
    thread: Option<JoinHandle<()>>,
}

impl RefServer {
    pub fn start(config: jim_server::Config) -> Self {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (ctl, mut ctl_rx) = tokio::sync::mpsc::unbounded_channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let server = jim_server::spawn(config).await.unwrap();
                addr_tx.send(server.addr()).unwrap();
                while let Some(c) = ctl_rx.recv().await {
                    match c {
                        Ctl::Probe => server.probe_all(),
                        Ctl::Stop => break,
                    }
                }
                server.shutdown().await;
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Self { addr, ctl, thread: Some(thread) }
    }

    /// Open mode: any name logs in.
    pub fn open() -> Self {
        Self::start(jim_server::Config::default())
    }

    /// Accounts mode with the given `(name, password)` pairs.
    pub fn accounts(pairs: &[(&str, &str)]) -> Self {
        let accounts = jim_server::Accounts::from_pairs(pairs.iter().copied());
        Self::start(jim_server::Config { accounts: Some(accounts), ..Default::default() })
    }

    /// Sends a probe to every logged-in session.
    pub fn probe_all(&self) {
        let _ = self.ctl.send(Ctl::Probe);
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.ctl.send(Ctl::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One accepted connection of a fake server.
pub struct FakeConn {
    pub stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl FakeConn {
    /// Reads the next complete JSON value (None on close, timeout or bad JSON).
    pub fn read_value(&mut self) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(Ok(raw)) = self.decoder.next_raw(&mut self.buf, false) {
                return serde_json::from_slice(&raw).ok();
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return None,
            }
        }
    }

    /// Reads whatever one `read` call returns (None on close or after 10 s).
    pub fn read_chunk(&mut self) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(chunk[..n].to_vec()),
        }
    }

    /// Writes bytes in one write.
    pub fn write(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
        let _ = self.stream.flush();
    }

    /// Waits until the client closes (or 10 s pass).
    pub fn wait_close(&mut self) {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = self.stream.read(&mut chunk) {
            if n == 0 {
                break;
            }
        }
    }
}

/// A scripted fake server: runs `handler` on each of the first `connections` connections, one
/// after another.
pub struct Fake {
    pub addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    pub fn start(connections: usize, handler: impl Fn(&mut FakeConn) + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((stream, _)) = listener.accept() else { return };
                stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut conn =
                    FakeConn { stream, buf: BytesMut::new(), decoder: FrameDecoder::new(65536) };
                handler(&mut conn);
            }
        });
        Self { addr, thread: Some(thread) }
    }

    /// A fake that reads one value, writes `reply` in one write, then runs `after`.
    pub fn reply(reply: &'static [u8], close: bool) -> Self {
        Self::start(1, move |c| {
            c.read_value();
            c.write(reply);
            if !close {
                c.wait_close();
            }
        })
    }

    /// Waits for the fake's thread (bounded by its read timeouts).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A jim-client running in the background with piped stdio.
pub struct Background {
    child: Child,
    pub stdin: Option<ChildStdin>,
    stdout_rx: mpsc::Receiver<String>,
    stderr_rx: mpsc::Receiver<String>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

fn pump_lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Background {
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("jim-client"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout_rx = pump_lines(child.stdout.take().unwrap());
        let stderr_rx = pump_lines(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Self { child, stdin, stdout_rx, stderr_rx, stdout: Vec::new(), stderr: Vec::new() }
    }

    fn drain(&mut self) {
        while let Ok(l) = self.stdout_rx.try_recv() {
            self.stdout.push(l);
        }
        while let Ok(l) = self.stderr_rx.try_recv() {
            self.stderr.push(l);
        }
    }

    /// Waits until a line of stdout (or stderr) contains `needle`; panics after 15 s.
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.drain();
            if self.stdout.iter().chain(&self.stderr).any(|l| l.contains(needle)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}\nstdout: {:#?}\nstderr: {:#?}",
                self.stdout,
                self.stderr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Writes a line to stdin.
    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin and waits for the exit (killing the child after 15 s); returns the status.
    pub fn finish(&mut self) -> Option<i32> {
        self.stdin.take();
        self.wait_exit(Duration::from_secs(15))
    }

    /// Waits for the exit WITHOUT closing stdin, killing the child after `limit`; returns the
    /// status (`None` when it had to be killed).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                break s.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the pump threads deliver the last lines.
        std::thread::sleep(Duration::from_millis(50));
        self.drain();
        status
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The Python example server (spec dialect), on a free port; stopped on drop.
pub struct PyServer {
    pub addr: SocketAddr,
    child: Child,
}

impl PyServer {
    /// Starts it, or returns None when python3 is not installed.
    pub fn start() -> Option<Self> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/python/server.py");
        let mut child = Command::new("python3")
            .args(["-u", script, "-p", "0", "-a", "127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let lines = pump_lines(child.stdout.take()?);
        let line = lines.recv_timeout(Duration::from_secs(10)).ok()?;
        let addr = line.trim().strip_prefix("listening on ")?.parse().ok()?;
        Some(Self { addr, child })
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stdout of a finished command as a string.
pub fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stderr of a finished command as a string.
pub fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that nothing looks like a Rust panic or backtrace.
pub fn assert_no_panic(out: &std::process::Output) {
    let err = stderr_of(out);
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
}
