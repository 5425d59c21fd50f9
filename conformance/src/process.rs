//! Child processes the runner starts: a server under `--spawn`, a client in client mode, or (for
//! `grade`) a runner per student.
//!
//! A plain command (`python3 server.py -p 4000`) is split like a POSIX shell line (quotes
//! allowed) and started directly, without a shell, so it runs the same on every system; only a
//! line that needs a shell (pipes, `&&`, redirections, variables, globs, `VAR=value` prefixes)
//! goes through `sh -c` (Unix) or `cmd /C` (Windows). Each process starts in a group of its own
//! (a Unix process group; a Windows process group created with `CREATE_NEW_PROCESS_GROUP`), so
//! that a shell's children end with it; its output is captured into a bounded tail (an endless
//! line or a flood of output is cut, never buffered); and it is ended with the whole group:
//! `SIGKILL` to the group through `nix` on Unix, `taskkill /T /F` (the tree) on Windows, never by
//! shelling out. Every group started is remembered until it is ended, so that an interrupted run
//! (Ctrl-C, SIGTERM) can end them all with [`kill_all_groups`]: a group of its own does not get
//! the terminal's Ctrl-C, and nothing else would stop it.
//!
//! The two systems differ only in the `cfg`-gated functions at the end of this file
//! (`new_group`, `kill_tree`, `signal_of`); everything above them is shared.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsStr;
use std::path::Path;
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

/// Ends process group `pgid` (its leader's pid) and forgets it.
fn kill_pgid(pgid: i32) {
    kill_tree(pgid);
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

/// Starts the command line `line` in a new process group, stdout and stderr piped, stdin piped
/// or null (see the module docs for when a shell is used).
pub fn spawn_group(line: &str, stdin: bool) -> std::io::Result<Child> {
    spawn_group_in(line, stdin, None)
}

/// [`spawn_group`] with `dir` as the working directory (None: the runner's).
pub fn spawn_group_in(line: &str, stdin: bool, dir: Option<&Path>) -> std::io::Result<Child> {
    let mut cmd = command_for(line)?;
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    start(cmd, stdin)
}

/// Starts `program` with `args` (no shell, no splitting) in a new process group in `dir`,
/// stdout and stderr piped, stdin null.
pub fn spawn_argv<I, S>(program: &Path, args: I, dir: &Path) -> std::io::Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir);
    start(cmd, false)
}

fn start(mut cmd: Command, stdin: bool) -> std::io::Result<Child> {
    cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    new_group(&mut cmd);
    let child = cmd.spawn()?;
    if let (Some(pgid), Ok(mut live)) = (group_of(&child), LIVE_GROUPS.lock()) {
        live.insert(pgid);
    }
    Ok(child)
}

/// Characters that make a command line need a shell: pipes, lists, redirections, substitutions,
/// variables, globs, home directories, escapes that only a shell reads the same way everywhere.
const SHELL_SYNTAX: &[char] =
    &['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?', '[', ']', '~', '\n', '#', '%', '!'];

/// True when `line` needs a shell to mean what it says (see `SHELL_SYNTAX`; a first word with
/// `=` is a `VAR=value` prefix).
pub fn needs_shell(line: &str) -> bool {
    // Windows paths use backslashes, which POSIX splitting would read as escapes.
    if line.contains(SHELL_SYNTAX) || (cfg!(windows) && line.contains('\\')) {
        return true;
    }
    match shell_words::split(line) {
        Ok(words) => words.first().is_none_or(|w| w.contains('=')),
        Err(_) => true,
    }
}

/// The command that runs `line`: split and started directly, or through the system's shell
/// when [`needs_shell`] says so.
fn command_for(line: &str) -> std::io::Result<Command> {
    if needs_shell(line) {
        return Ok(shell(line));
    }
    let words = shell_words::split(line)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let Some((program, args)) = words.split_first() else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"));
    };
    let mut cmd = Command::new(program);
    cmd.args(args);
    Ok(cmd)
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
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match signal_of(status) {
        Some((sig, name)) => format!("killed by signal {sig}{name}"),
        None => status.to_string(),
    }
}

#[cfg(unix)]
fn shell(line: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line);
    cmd
}

#[cfg(windows)]
fn shell(line: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.arg("/C").arg(line);
    cmd
}

#[cfg(unix)]
fn new_group(cmd: &mut Command) {
    cmd.process_group(0);
}

#[cfg(windows)]
fn new_group(cmd: &mut Command) {
    /// `CREATE_NEW_PROCESS_GROUP` (winbase.h): Ctrl-C in the runner's console does not reach it.
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    cmd.creation_flags(CREATE_NEW_PROCESS_GROUP);
}

/// SIGKILL to process group `pgid` (nix::killpg takes the group id, never a negative pid).
#[cfg(unix)]
fn kill_tree(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Ends the process `pid` and every process it started (`taskkill /T /F`, a program every
/// Windows has; no shell).
#[cfg(windows)]
fn kill_tree(pid: i32) {
    let _ = std::process::Command::new("taskkill")
        .args(["/T", "/F", "/PID", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The signal that ended a process, with its name: (9, " (SIGKILL)").
#[cfg(unix)]
fn signal_of(status: std::process::ExitStatus) -> Option<(i32, String)> {
    use std::os::unix::process::ExitStatusExt;
    let sig = status.signal()?;
    let name = nix::sys::signal::Signal::try_from(sig)
        .map(|s| format!(" ({})", s.as_str()))
        .unwrap_or_default();
    Some((sig, name))
}

#[cfg(windows)]
fn signal_of(_status: std::process::ExitStatus) -> Option<(i32, String)> {
    None
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

    #[test]
    fn a_plain_command_runs_without_a_shell_and_keeps_its_quoted_words() {
        let cmd = command_for("python3 server.py -p 4000 --name 'Анна Б'").unwrap();
        let std = cmd.as_std();
        assert_eq!(std.get_program(), "python3");
        let args: Vec<_> = std.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["server.py", "-p", "4000", "--name", "Анна Б"]);
    }

    #[test]
    fn shell_syntax_goes_through_the_shell() {
        for line in [
            "cd srv && python3 server.py -p 1",
            "python3 s.py -p 1 > log.txt",
            "PYTHONPATH=. python3 s.py -p 1",
            "python3 s.py -p $PORT",
            "python3 *.py",
            "python3 s.py 'unclosed",
        ] {
            assert!(needs_shell(line), "{line}");
        }
        assert!(!needs_shell("python3 server.py -p 4000"));
        assert!(!needs_shell("python3 \"my server.py\" -p 4000"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_started_command_runs_in_its_directory_and_its_group_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("marker.txt"), "here").unwrap();
        let mut child = spawn_group_in("cat marker.txt", false, Some(dir.path())).unwrap();
        let mut out = String::new();
        child.stdout.take().unwrap().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "here");
        assert!(child.wait().await.unwrap().success());

        let mut child = spawn_group("sleep 30", false).unwrap();
        let pid = i32::try_from(child.id().unwrap()).unwrap();
        assert!(LIVE_GROUPS.lock().unwrap().contains(&pid));
        kill_group(&mut child).await;
        assert!(!LIVE_GROUPS.lock().unwrap().contains(&pid));
        let status = child.wait().await.unwrap();
        assert_eq!(describe_status(status), "killed by signal 9 (SIGKILL)");
    }
}
