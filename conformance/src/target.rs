//! What is judged: a server at an address, a command the runner starts (and restarts), or the
//! embedded reference server. The runner only ever asks a target for its address, whether it is
//! alive, and to restart; everything else goes over TCP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::time::Instant;

use crate::process::{SharedTail, capture, kill_group, spawn_group, tail_text};
use crate::vocab::TargetKind;

/// How to reach the target, as given on the command line.
#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// A server somebody else started (`--host/--port`).
    Address {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A command to start (`--spawn "CMD {port}"`): `{port}` becomes a free port, `{host}`
    /// becomes `127.0.0.1`. Run with `sh -c`.
    Spawn {
        /// The command template.
        command: String,
    },
    /// The reference server, in this process, with this configuration. Cases that need
    /// accounts run against a second instance in accounts mode with generated accounts.
    Embedded(Box<jim_server::Config>),
}

impl TargetSpec {
    /// The embedded reference server with its default (correct) configuration.
    pub fn embedded() -> Self {
        Self::Embedded(Box::default())
    }
}

/// Why a target could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// A host name that does not resolve.
    #[error("cannot resolve {host}: {message}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        message: String,
    },
    /// The command could not be started, died, or never listened.
    #[error("{message}")]
    Spawn {
        /// What happened, with the command.
        message: String,
        /// The last lines it printed.
        output: String,
    },
    /// The embedded server could not start.
    #[error("cannot start the embedded reference server: {0}")]
    Embedded(String),
}

/// Credentials made up for the embedded accounts-mode server.
#[derive(Debug, Clone)]
pub struct EmbeddedAccounts {
    /// Where the accounts-mode instance listens.
    pub addr: SocketAddr,
    /// An account name.
    pub user: String,
    /// Its password.
    pub password: String,
    /// An account that never logs in (for 410).
    pub offline: String,
}

/// A started target.
#[derive(Debug)]
pub struct RunningTarget {
    spec: TargetSpec,
    addr: SocketAddr,
    child: Option<Child>,
    output: SharedTail,
    embedded: Option<jim_server::RunningServer>,
    accounts_server: Option<jim_server::RunningServer>,
    /// Credentials of the embedded accounts-mode instance, if any.
    pub accounts: Option<EmbeddedAccounts>,
    /// Things that happened to the target (restarts, exits), for the report.
    pub events: Vec<crate::i18n::Said>,
    startup: Duration,
    /// The tasks copying a spawned command's output (awaited when it exits at start).
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// The process listening at a loopback address the target was given by, when the system
    /// shows it ([`crate::settle::listener_pid`]).
    listener: Option<u32>,
}

/// How often a starting command's port is looked up in the socket tables.
const READY_POLL: Duration = Duration::from_millis(20);

/// Most bytes of a socket table (or of `netstat`'s output) read to find a listener.
const MAX_TABLE_BYTES: u64 = 16 << 20;

/// Whether a socket listens on TCP `port` of this machine, found in the kernel's socket tables
/// without connecting to it: a connection opened and closed without a byte kills the classic
/// lesson-3 server (`json.loads(conn.recv(1024))` on an empty read), so readiness must not
/// touch the target. Linux: `/proc/net/tcp` and `/proc/net/tcp6`; elsewhere the output of
/// `netstat -an`. None when neither can be read.
pub async fn listening(port: u16) -> Option<bool> {
    use tokio::io::AsyncReadExt as _;
    let mut any_table = false;
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(file) = tokio::fs::File::open(path).await else { continue };
        let mut text = String::new();
        if file.take(MAX_TABLE_BYTES).read_to_string(&mut text).await.is_err() {
            continue;
        }
        any_table = true;
        if proc_table_listens(&text, port) {
            return Some(true);
        }
    }
    if any_table {
        return Some(false);
    }
    let netstat = tokio::process::Command::new("netstat")
        .arg("-an")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(2), netstat).await.ok()?.ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(MAX_TABLE_BYTES as usize)]);
    Some(netstat_listens(&text, port))
}

/// A `/proc/net/tcp` table has a LISTEN socket (state `0A`) on `port` (the local address is
/// `HEXIP:HEXPORT`).
fn proc_table_listens(table: &str, port: u16) -> bool {
    let want = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1).unwrap_or_default();
        let state = fields.nth(1).unwrap_or_default();
        local.ends_with(&want) && state == "0A"
    })
}

/// `netstat -an` lists a LISTEN(ING) TCP socket whose local address ends in `.PORT` (BSD,
/// macOS) or `:PORT` (Windows, Linux).
fn netstat_listens(text: &str, port: u16) -> bool {
    let (dot, colon) = (format!(".{port}"), format!(":{port}"));
    text.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let tcp = fields.first().is_some_and(|p| p.to_ascii_lowercase().starts_with("tcp"));
        let listen = fields.iter().any(|f| f.starts_with("LISTEN"));
        let local = fields.iter().skip(1).take(3).any(|f| f.ends_with(&dot) || f.ends_with(&colon));
        tcp && listen && local
    })
}

/// Ports a spawned target is given: below every system's ephemeral range (Linux 32768–60999,
/// Windows and macOS 49152–65535). A port the kernel hands out for port 0 is also what it hands
/// the next runner's listener or outgoing connection: with several runners on one machine (a
/// class graded in parallel) a target told to listen on such a port found it taken, and the
/// readiness check then saw another runner's listener as the target (a client-mode run received
/// another run's presence). Ports picked here at random from this range do not meet those.
const SPAWN_PORTS: std::ops::Range<u16> = 20000..32768;

/// True when some socket of this machine has `port` as its local port, in any state (Linux:
/// the socket tables). A test bind is not enough: Rust's listener sets `SO_REUSEADDR`, which
/// binds over a connection in TIME_WAIT, while a student server without it cannot (the previous
/// instance of a restarted target leaves such connections behind on its old port), and exits
/// with "Address already in use" before it listens.
fn port_in_any_table(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|path| {
        std::fs::read_to_string(path).is_ok_and(|table| {
            table.lines().skip(1).any(|line| {
                line.split_whitespace().nth(1).is_some_and(|local| local.ends_with(&want))
            })
        })
    })
}

/// A port no socket uses, from `SPAWN_PORTS` (20000-32767; the kernel's port 0 only when 64 tries
/// there are taken). Public for the tests, whose harness starts targets of its own.
pub fn free_port() -> std::io::Result<u16> {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let span = u64::from(SPAWN_PORTS.end - SPAWN_PORTS.start);
    let mut candidate = h.finish() % span;
    for _ in 0..64 {
        let port = SPAWN_PORTS.start + u16::try_from(candidate).unwrap_or(0);
        if !port_in_any_table(port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
        candidate = (candidate + 7919) % span;
    }
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

impl RunningTarget {
    /// Starts (or resolves) the target. `startup` bounds how long a spawned command may take to
    /// listen.
    pub async fn start(spec: TargetSpec, startup: Duration) -> Result<Self, TargetError> {
        let (t, failed) = Self::start_keeping(spec, startup).await?;
        match failed {
            Some(e) => Err(e),
            None => Ok(t),
        }
    }

    /// Starts the target like [`Self::start`], but a spawned command that cannot start (it
    /// exits before it listens, or never listens) is not an error here: the target comes back
    /// without a process, with the output it printed, and the reason, so that the run can
    /// report it in one line (see [`start_failure_line`]).
    pub async fn start_keeping(
        spec: TargetSpec,
        startup: Duration,
    ) -> Result<(Self, Option<TargetError>), TargetError> {
        let mut t = Self {
            spec: spec.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: None,
            output: Arc::default(),
            embedded: None,
            accounts_server: None,
            accounts: None,
            events: Vec::new(),
            startup,
            readers: Vec::new(),
            listener: None,
        };
        match spec {
            TargetSpec::Address { host, port } => {
                let lookup =
                    tokio::time::timeout(startup, tokio::net::lookup_host((host.as_str(), port)));
                let result = lookup.await;
                let mut addrs = match result {
                    Ok(Ok(a)) => a,
                    Ok(Err(e)) => {
                        return Err(TargetError::Resolve {
                            host: host.clone(),
                            message: e.to_string(),
                        });
                    }
                    Err(_) => {
                        return Err(TargetError::Resolve {
                            host: host.clone(),
                            message: "timed out".into(),
                        });
                    }
                };
                t.addr = addrs.next().ok_or_else(|| TargetError::Resolve {
                    host: host.clone(),
                    message: "no address".into(),
                })?;
                // A server in this very process (a test's) is not watched: the runner's own
                // threads would never look quiet.
                t.listener = Some(t.addr)
                    .filter(|a| a.ip().is_loopback())
                    .and_then(|a| crate::settle::listener_pid(a.port()))
                    .filter(|pid| *pid != std::process::id());
            }
            TargetSpec::Spawn { .. } => {
                if let Err(e) = t.spawn().await {
                    return Ok((t, Some(e)));
                }
            }
            TargetSpec::Embedded(_) => t.start_embedded().await?,
        }
        Ok((t, None))
    }

    async fn start_embedded(&mut self) -> Result<(), TargetError> {
        let TargetSpec::Embedded(config) = &self.spec else { return Ok(()) };
        let server = jim_server::spawn((**config).clone())
            .await
            .map_err(|e| TargetError::Embedded(e.to_string()))?;
        self.addr = server.addr();
        self.embedded = Some(server);
        if self.accounts_server.is_none() {
            let tag = format!("{:04x}", std::process::id() % 0xffff);
            let user = format!("acct_{tag}");
            let password = format!("pw-{tag}-secret");
            let offline = format!("away_{tag}");
            let accounts = jim_server::Accounts::from_pairs([
                (user.clone(), password.clone()),
                (offline.clone(), "never-used".to_owned()),
            ]);
            let cfg = jim_server::Config { accounts: Some(accounts), ..(**config).clone() };
            let server =
                jim_server::spawn(cfg).await.map_err(|e| TargetError::Embedded(e.to_string()))?;
            self.accounts = Some(EmbeddedAccounts { addr: server.addr(), user, password, offline });
            self.accounts_server = Some(server);
        }
        Ok(())
    }

    async fn spawn(&mut self) -> Result<(), TargetError> {
        let TargetSpec::Spawn { command } = &self.spec else { return Ok(()) };
        let port = free_port().map_err(|e| TargetError::Spawn {
            message: format!("no free port: {e}"),
            output: String::new(),
        })?;
        let line = command.replace("{port}", &port.to_string()).replace("{host}", "127.0.0.1");
        let mut child = spawn_group(&line, false).map_err(|e| TargetError::Spawn {
            message: format!("cannot start `{line}`: {e}"),
            output: String::new(),
        })?;
        self.readers.clear();
        if let Some(out) = child.stdout.take() {
            self.readers.push(capture(out, Arc::clone(&self.output), "[out] "));
        }
        if let Some(err) = child.stderr.take() {
            self.readers.push(capture(err, Arc::clone(&self.output), "[err] "));
        }
        self.addr = SocketAddr::from(([127, 0, 0, 1], port));
        self.child = Some(child);
        let deadline = Instant::now() + self.startup;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    // Its last words are what the student needs: read the pipes to their end
                    // (bounded: a grandchild may hold them open).
                    for reader in self.readers.drain(..) {
                        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
                    }
                    self.child = None;
                    return Err(TargetError::Spawn {
                        message: format!(
                            "`{line}` exited ({status}) before listening on port {port}"
                        ),
                        output: self.output_tail(),
                    });
                }
            }
            match listening(port).await {
                Some(true) => return Ok(()),
                Some(false) => {}
                // No socket table to read: the last resort is a connection, made and closed
                // without a byte (it can kill the classic lesson-3 server; Linux, macOS and
                // Windows never get here).
                None => {
                    let connect = tokio::net::TcpStream::connect(self.addr);
                    if let Ok(Ok(s)) =
                        tokio::time::timeout(Duration::from_millis(300), connect).await
                    {
                        drop(s);
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                self.kill().await;
                return Err(TargetError::Spawn {
                    message: format!(
                        "`{line}` did not listen on port {port} within {} s",
                        self.startup.as_secs()
                    ),
                    output: self.output_tail(),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Where the target listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A one-line description for the summary card.
    pub fn describe(&self) -> crate::i18n::Said {
        use crate::i18n::Said;
        let addr = self.addr;
        match &self.spec {
            TargetSpec::Address { host, port } => format!("{host}:{port} ({addr})").into(),
            TargetSpec::Spawn { command } => {
                Said::new(format!("`{command}` on {addr}"), format!("`{command}` на {addr}"))
            }
            TargetSpec::Embedded(c) if c.misbehave.is_empty() => Said::new(
                format!("embedded reference server on {addr}"),
                format!("встроенный эталонный сервер на {addr}"),
            ),
            TargetSpec::Embedded(c) => {
                let kinds =
                    c.misbehave.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(",");
                Said::new(
                    format!("embedded reference server with --misbehave {kinds} on {addr}"),
                    format!("встроенный эталонный сервер с --misbehave {kinds} на {addr}"),
                )
            }
        }
    }

    /// How to start this target by hand listening on `port` (a reproduction printed after the
    /// run, when the port it had is gone): the `--spawn` command, or the reference server with
    /// the same `--misbehave`; None for a target given by address (it is already running).
    pub fn start_command(&self, port: u16) -> Option<String> {
        match &self.spec {
            TargetSpec::Address { .. } => None,
            TargetSpec::Spawn { command } => {
                Some(command.replace("{port}", &port.to_string()).replace("{host}", "127.0.0.1"))
            }
            TargetSpec::Embedded(c) => {
                let mut line = format!("jim-server --port {port}");
                if !c.misbehave.is_empty() {
                    let kinds: Vec<String> = c.misbehave.iter().map(ToString::to_string).collect();
                    line.push_str(&format!(" --misbehave {}", kinds.join(",")));
                }
                Some(line)
            }
        }
    }

    /// The kind, for the report.
    pub fn kind(&self) -> TargetKind {
        match self.spec {
            TargetSpec::Address { .. } => TargetKind::Address,
            TargetSpec::Spawn { .. } => TargetKind::Spawn,
            TargetSpec::Embedded(_) => TargetKind::Embedded,
        }
    }

    /// The process id of a spawned target, or of the process found listening at the loopback
    /// address a target was given by (None: embedded, or not found).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id).or(self.listener)
    }

    /// True when the runner can restart the target.
    pub fn can_restart(&self) -> bool {
        !matches!(self.spec, TargetSpec::Address { .. })
    }

    /// False when a spawned process exited or the embedded server stopped.
    pub fn is_alive(&mut self) -> bool {
        if let Some(child) = self.child.as_mut() {
            return matches!(child.try_wait(), Ok(None));
        }
        match &self.embedded {
            Some(s) => !s.is_finished(),
            None => !matches!(self.spec, TargetSpec::Spawn { .. }),
        }
    }

    /// The exit status of a spawned target that has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(crate::process::describe_status(status)),
            _ => None,
        }
    }

    /// The exit status of a spawned target that is exiting: waits at most `bound` for the
    /// process to end (a reap, not a guess), None if it is still running.
    pub async fn exit_status_within(&mut self, bound: Duration) -> Option<String> {
        let child = self.child.as_mut()?;
        match tokio::time::timeout(bound, child.wait()).await {
            Ok(Ok(status)) => Some(crate::process::describe_status(status)),
            _ => None,
        }
    }

    /// Stops and starts the target again (a new port for a spawned command).
    pub async fn restart(&mut self, why: impl Into<crate::i18n::Said>) -> Result<(), TargetError> {
        let why = why.into();
        self.restart_quietly().await?;
        self.events.push(crate::i18n::Said::each(|l| {
            format!("{} {}", l.pick("restarted", "перезапущена"), why.get(l))
        }));
        Ok(())
    }

    /// [`Self::restart`] without an event (the caller said once why it restarts every time).
    pub async fn restart_quietly(&mut self) -> Result<(), TargetError> {
        match &self.spec {
            TargetSpec::Address { .. } => return Ok(()),
            TargetSpec::Spawn { .. } => {
                self.kill().await;
                self.spawn().await?;
            }
            TargetSpec::Embedded(_) => {
                if let Some(s) = self.embedded.take() {
                    s.shutdown().await;
                }
                self.start_embedded().await?;
            }
        }
        Ok(())
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child).await;
        }
    }

    /// Stops everything that was started.
    pub async fn stop(&mut self) {
        self.kill().await;
        if let Some(s) = self.embedded.take() {
            s.shutdown().await;
        }
        if let Some(s) = self.accounts_server.take() {
            s.shutdown().await;
        }
    }

    /// The last lines a spawned target printed.
    pub fn output_tail(&self) -> String {
        tail_text(&self.output)
    }
}

/// The one line that says why a spawned target cannot start: `cannot start: ` and the last
/// line it wrote to stderr (else to stdout; a Python traceback ends with the exception, such
/// as `ModuleNotFoundError: No module named 'common'`); what the runner saw when it printed
/// nothing.
pub fn start_failure_line(e: &TargetError) -> String {
    let TargetError::Spawn { message, output } = e else { return e.to_string() };
    let last = |prefix: &str| {
        output
            .lines()
            .rev()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
    };
    match last("[err] ").or_else(|| last("[out] ")) {
        Some(line) => format!("cannot start: {line}"),
        None => format!("cannot start: {message}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_start_failure_is_one_line_ending_in_the_last_stderr_line() {
        let e = TargetError::Spawn {
            message: "exited (exit status: 1) before listening on port 7".into(),
            output: "[err] Traceback (most recent call last):\n[err]   File \"s.py\", line 3\n[out] hello\n[err] ModuleNotFoundError: No module named 'common'\n[err] \n".into(),
        };
        let line = start_failure_line(&e);
        assert_eq!(line, "cannot start: ModuleNotFoundError: No module named 'common'");
        assert!(!line.contains('\n'));
        let quiet = TargetError::Spawn { message: "did not listen".into(), output: String::new() };
        assert_eq!(start_failure_line(&quiet), "cannot start: did not listen");
    }

    #[test]
    fn a_listener_is_found_in_the_socket_tables_by_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n   1: 0100007F:1F91 0100007F:D2F0 01 00000000:00000000\n";
        assert!(proc_table_listens(table, 0x1F90));
        assert!(!proc_table_listens(table, 0x1F91), "an established socket is not a listener");
        assert!(!proc_table_listens(table, 80));
        let bsd = "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)\ntcp4       0      0  127.0.0.1.7777         *.*                    LISTEN\ntcp4       0      0  127.0.0.1.7778         127.0.0.1.5000         ESTABLISHED\n";
        assert!(netstat_listens(bsd, 7777));
        assert!(!netstat_listens(bsd, 7778));
        let windows = "  Proto  Local Address          Foreign Address        State\n  TCP    0.0.0.0:7777           0.0.0.0:0              LISTENING\n";
        assert!(netstat_listens(windows, 7777));
        assert!(!netstat_listens(windows, 777));
    }

    #[tokio::test]
    async fn readiness_sees_a_listener_without_connecting_to_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        if listening(port).await.is_none() {
            eprintln!("no socket table here: nothing to check");
            return;
        }
        assert_eq!(listening(port).await, Some(true));
        // Nothing connected: a connect-and-drop would be waiting in the accept queue.
        assert!(listener.accept().is_err(), "readiness must not connect");
        drop(listener);
        assert_eq!(listening(port).await, Some(false));
    }
}
