//! Child processes the runner starts: a server under `--spawn`, or a client in client mode.
//!
//! Each runs with `sh -c` in its own process group, so that a shell's children end with it;
//! its output is captured into a bounded tail (an endless line or a flood of output is cut,
//! never buffered); and it is ended with SIGKILL to the whole group, through `nix` (never by
//! shelling out to `kill`). Every group started is remembered until it is ended, so that an
//! interrupted run (Ctrl-C, SIGTERM) can end them all with [`kill_all_groups`]: a group of its
//! own does not get the terminal's SIGINT, and nothing else would stop it.

use std::collections::{BTreeSet, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// How many bytes of output a tail keeps (the most recent lines).
pub const TAIL_BYTES: usize = 16 * 1024;

/// Longest line a tail keeps; the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 1000;

/// The last lines a process printed, bounded by [`TAIL_BYTES`].
#[derive(Debug, Default)]
pub struct OutputTail {
    lines: VecDeque<String>,
    bytes: usize,
    /// Bytes read in all (kept or not).
    pub total_bytes: u64,
}

/// A tail shared between its reader task and the runner.
pub type SharedTail = Arc<Mutex<OutputTail>>;

impl OutputTail {
    /// Adds one line, dropping the oldest lines beyond [`TAIL_BYTES`].
    pub fn push(&mut self, line: String) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line);
        while self.bytes > TAIL_BYTES {
            match self.lines.pop_front() {
                Some(l) => self.bytes -= l.len() + 1,
                None => break,
            }
        }
    }

    /// The kept lines, joined with newlines.
    pub fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// The text of a shared tail (empty if its lock was poisoned).
pub fn tail_text(tail: &SharedTail) -> String {
    tail.lock().map(|t| t.text()).unwrap_or_default()
}

/// Process groups started by [`spawn_group`] and not ended yet.
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn group_of(child: &Child) -> Option<i32> {
    child.id().and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1)
}

/// SIGKILL to process group `pgid` (nix::killpg takes the group id, never a negative pid), and
/// forgets it.
fn kill_pgid(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
    if let Ok(mut live) = LIVE_GROUPS.lock() {
        live.remove(&pgid);
    }
}

/// Ends every process group this process started and has not ended yet (SIGKILL). For an
/// interrupted run: call it, then exit.
pub fn kill_all_groups() -> usize {
    let groups: Vec<i32> = LIVE_GROUPS
        .lock()
        .map(|mut live| std::mem::take(&mut *live))
        .unwrap_or_default()
        .into_iter()
        .collect();
    for &pgid in &groups {
        kill_pgid(pgid);
    }
    groups.len()
}

/// Starts `sh -c line` in a new process group, stdout and stderr piped, stdin piped or null.
pub fn spawn_group(line: &str, stdin: bool) -> std::io::Result<Child> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let child = cmd.spawn()?;
    if let (Some(pgid), Ok(mut live)) = (group_of(&child), LIVE_GROUPS.lock()) {
        live.insert(pgid);
    }
    Ok(child)
}

/// Copies `stream` into `tail` line by line, with `prefix` before each line, until end of file.
/// Reads in fixed 8 KiB chunks and cuts lines at [`MAX_LINE_BYTES`], so memory stays bounded
/// whatever the process prints.
pub fn capture<R>(mut stream: R, tail: SharedTail, prefix: &'static str) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut chunk = vec![0u8; 8192];
        let mut line: Vec<u8> = Vec::with_capacity(256);
        let mut cut = false;
        let flush = |line: &mut Vec<u8>, cut: &mut bool| {
            let mut text = format!("{prefix}{}", String::from_utf8_lossy(line));
            if *cut {
                text.push_str(" […]");
            }
            if let Ok(mut t) = tail.lock() {
                t.push(text);
            }
            line.clear();
            *cut = false;
        };
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Ok(mut t) = tail.lock() {
                t.total_bytes += n as u64;
            }
            for &b in &chunk[..n] {
                if b == b'\n' {
                    flush(&mut line, &mut cut);
                } else if line.len() < MAX_LINE_BYTES {
                    line.push(b);
                } else {
                    cut = true;
                }
            }
        }
        if !line.is_empty() || cut {
            flush(&mut line, &mut cut);
        }
    })
}

/// Kills a process group when dropped: a case that is abandoned (deadline, error) cannot leave
/// its client running.
#[derive(Debug)]
pub struct GroupGuard(Option<i32>);

impl GroupGuard {
    /// Guards the process group of `child` (its pid).
    pub fn new(child: &Child) -> Self {
        Self(group_of(child))
    }

    /// Kills the group now (SIGKILL) and forgets it.
    pub fn kill_now(&mut self) {
        if let Some(pgid) = self.0.take() {
            kill_pgid(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Ends the process and its whole group with SIGKILL and reaps it (waiting at most 2 s).
pub async fn kill_group(child: &mut Child) {
    if let Some(pgid) = group_of(child) {
        // The command runs in its own process group (its pid): end the whole group, so that a
        // shell's children go too.
        kill_pgid(pgid);
    }
    let _ = child.kill().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
}

/// A plain-words exit status: "exit status 1", "killed by signal 9 (SIGKILL)".
pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| format!(" ({})", s.as_str()))
                .unwrap_or_default();
            format!("killed by signal {sig}{name}")
        }
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn an_endless_line_is_cut_and_the_tail_stays_bounded() {
        let (mut w, r) = tokio::io::duplex(4096);
        let tail: SharedTail = Arc::default();
        let task = capture(r, Arc::clone(&tail), "[out] ");
        use tokio::io::AsyncWriteExt;
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..32 {
            w.write_all(&block).await.unwrap();
        }
        w.write_all(b"\nshort line\n").await.unwrap();
        for i in 0..2000 {
            w.write_all(format!("line {i}\n").as_bytes()).await.unwrap();
        }
        drop(w);
        task.await.unwrap();
        let t = tail.lock().unwrap();
        assert!(t.bytes <= TAIL_BYTES);
        assert_eq!(
            t.total_bytes,
            32 * 64 * 1024
                + 12
                + (0..2000).map(|i| format!("line {i}\n").len() as u64).sum::<u64>()
        );
        assert!(t.text().ends_with("[out] line 1999"));
    }
}
