//! Target processes: start one pinned to its CPU, wait for `listening on ADDR`, read its CPU time
//! and memory from /proc, and make sure it dies with us.
//!
//! Every child is kept in a process-wide registry. Dropping a [`TargetProcess`] kills and reaps
//! it; [`kill_all`] (called from the Ctrl-C/SIGTERM handler and at exit) kills whatever is left.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// How long a target may take to print `listening on`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

fn registry() -> &'static Mutex<HashMap<u64, Child>> {
    static CHILDREN: OnceLock<Mutex<HashMap<u64, Child>>> = OnceLock::new();
    CHILDREN.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Kills and reaps every target still running.
pub fn kill_all() {
    let mut children = match registry().lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    for (_, mut child) in children.drain() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Which program a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// `jim-echo`, the raw tokio TCP echo.
    Echo,
    /// `jim-server`, the reference server (release build).
    Reference,
    /// `examples/python/server.py` (select loop).
    PythonSelect,
    /// `examples/python/server_asyncio.py`.
    PythonAsyncio,
}

impl TargetKind {
    /// Every kind, in table order.
    pub const ALL: [TargetKind; 4] =
        [Self::Echo, Self::Reference, Self::PythonSelect, Self::PythonAsyncio];

    /// The name used on the command line and in JSON.
    pub fn id(self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Reference => "reference",
            Self::PythonSelect => "python-select",
            Self::PythonAsyncio => "python-asyncio",
        }
    }

    /// The name used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Echo => "raw tokio echo",
            Self::Reference => "jim-server (reference)",
            Self::PythonSelect => "Python select server.py",
            Self::PythonAsyncio => "Python server_asyncio.py",
        }
    }

    /// Parses [`TargetKind::id`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == s)
    }
}

/// How to start one kind of target (`-p 0` is appended).
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// Which target.
    pub kind: TargetKind,
    /// The program.
    pub program: PathBuf,
    /// Arguments before `-p 0`.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// A running target.
#[derive(Debug)]
pub struct TargetProcess {
    id: u64,
    pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    log: PathBuf,
}

impl TargetProcess {
    /// Starts `spec` (pinned to `cpu` with taskset when given), logging stderr to a file in
    /// `log_dir`, and waits until it prints `listening on ADDR`.
    pub fn spawn(spec: &TargetSpec, cpu: Option<usize>, log_dir: &Path) -> anyhow::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let log = log_dir.join(format!("{}-{id}.log", spec.kind.id()));
        let stderr =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&spec.program);
                c
            }
            None => Command::new(&spec.program),
        };
        command
            .args(&spec.args)
            .args(["-p", "0"])
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command.spawn().with_context(|| {
            format!("cannot start {} ({})", spec.kind.label(), spec.program.display())
        })?;
        let pid = child.id();
        let stdout = child.stdout.take();
        registry()
            .lock()
            .map_err(|_| anyhow::anyhow!("process registry poisoned"))?
            .insert(id, child);
        let mut target = Self { id, pid, addr: SocketAddr::from(([127, 0, 0, 1], 0)), log };

        // Read stdout on a thread: the first `listening on` line gives the address; later lines
        // are drained so the child never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if sent {
                        continue;
                    }
                    if let Some(rest) = line.trim().strip_prefix("listening on") {
                        sent = true;
                        let _ = tx.send(rest.trim().to_owned());
                    }
                }
            });
        }
        let Ok(addr_text) = rx.recv_timeout(START_TIMEOUT) else {
            let why = target.exit_status().unwrap_or_else(|| "it is still running".to_owned());
            bail!(
                "{} did not print `listening on ADDR` within {} s ({why}); its log: {}",
                spec.kind.label(),
                START_TIMEOUT.as_secs(),
                target.last_log_line().unwrap_or_default()
            );
        };
        target.addr = parse_listen_addr(&addr_text)
            .with_context(|| format!("cannot read the address in `listening on {addr_text}`"))?;
        Ok(target)
    }

    /// `None` while running, else how it ended.
    pub fn exit_status(&self) -> Option<String> {
        let mut children = registry().lock().ok()?;
        let child = children.get_mut(&self.id)?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("unknown ({e})")),
        }
    }

    /// The last non-empty line of the target's stderr (for failure notes).
    pub fn last_log_line(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.log).ok()?;
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().chars().take(200).collect())
    }

    /// User + system CPU time of the whole process so far, in microseconds.
    pub fn cpu_us(&self) -> Option<f64> {
        process_cpu_us(&self.pid.to_string())
    }

    /// Resident memory now (`VmRSS`), in KiB.
    pub fn rss_kib(&self) -> Option<f64> {
        self.status_kib("VmRSS:")
    }

    /// Peak resident memory (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Option<f64> {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, key: &str) -> Option<f64> {
        if self.exit_status().is_some() {
            return None;
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.strip_prefix(key)?.trim().trim_end_matches("kB").trim().parse().ok()
    }
}

impl Drop for TargetProcess {
    fn drop(&mut self) {
        let child = registry().lock().ok().and_then(|mut c| c.remove(&self.id));
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// User + system CPU time of process `pid` (or `self`) so far, from /proc/PID/stat, in
/// microseconds.
pub fn process_cpu_us(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after `)` + state.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1_000_000.0 / clock_ticks())
}

fn parse_listen_addr(text: &str) -> Option<SocketAddr> {
    let text = text.trim().trim_end_matches('.');
    if let Ok(addr) = text.parse::<SocketAddr>() {
        // A wildcard address is reachable on loopback.
        return Some(if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        });
    }
    let port: u16 = text.rsplit(':').next()?.parse().ok()?;
    Some(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Kernel clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_lines_of_every_target_parse() {
        let lo = |p| Some(SocketAddr::from(([127, 0, 0, 1], p)));
        assert_eq!(parse_listen_addr("127.0.0.1:4000"), lo(4000));
        assert_eq!(parse_listen_addr("0.0.0.0:4001"), lo(4001));
        assert_eq!(parse_listen_addr("[::1]:4002").map(|a| a.port()), Some(4002));
        assert_eq!(parse_listen_addr(":4003"), lo(4003));
        assert_eq!(parse_listen_addr("nothing"), None);
    }
}
