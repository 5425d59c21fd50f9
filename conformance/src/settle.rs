//! Has the target finished reacting to the last case? (issue 13 items 4 and 9). A server's
//! reaction to a client that leaves happens after the client has gone: a handler thread wakes on
//! the end of the stream, raises on `json.loads(b"")` while it holds a lock, and from then on
//! the server answers nobody. When the runner starts the next case, or its liveness probe,
//! before or after that moment is the scheduler's choice, so the same code was blamed on one
//! case in one run and on another in the next (a class of copies disagreed on
//! `presence/missing-account-name` and `presence/wrong-type`).
//!
//! A process the runner started can be watched: on Linux every thread's state is in
//! `/proc/PID/task/TID/stat`, and a thread that still has work to do (woken by the closed
//! connection, printing its traceback, exiting) is running or runnable (`R`) or in a disk wait
//! (`D`). When no thread of the target's process tree is, twice in a row, the target has done
//! all it was going to do about what it was sent, and the next step can look. A target that is
//! never quiet (a loop that polls without blocking) is reported as [`Quiet::Never`] once, and
//! the caller stops waiting for it; without `/proc` the answer is [`Quiet::Unknown`].

use std::time::Duration;

use tokio::time::Instant;

/// What the runner saw of the target's threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quiet {
    /// No thread was running or runnable, in two looks a few milliseconds apart.
    Yes,
    /// Some thread was busy every time until the wait ended.
    Never,
    /// The system does not show the target's threads (or the process is gone).
    Unknown,
}

/// Processes of one target tree looked at, at most.
pub const MAX_PROCESSES: usize = 32;

/// Threads of one process looked at, at most.
pub const MAX_THREADS: usize = 256;

/// Pause between the two looks that must both find the target quiet.
const CONFIRM: Duration = Duration::from_millis(2);

/// Waits until no thread of the process tree rooted at `root` is busy, at most `cap`.
pub async fn until_quiet(root: u32, cap: Duration) -> Quiet {
    let until = Instant::now() + cap;
    let mut poll = Duration::from_millis(1);
    let mut quiet_once = false;
    loop {
        match busy(root) {
            None => return Quiet::Unknown,
            Some(false) if quiet_once => return Quiet::Yes,
            Some(false) => {
                quiet_once = true;
                tokio::time::sleep(CONFIRM).await;
                continue;
            }
            Some(true) => quiet_once = false,
        }
        if Instant::now() >= until {
            return Quiet::Never;
        }
        tokio::time::sleep(poll).await;
        poll = (poll * 2).min(Duration::from_millis(8));
    }
}

/// Every thread of the process tree rooted at `root`, as `/proc/PID/task/TID` directories
/// (bounded by [`MAX_PROCESSES`] and [`MAX_THREADS`]); None when `/proc` does not show `root`.
pub fn task_dirs(root: u32) -> Option<Vec<(u32, std::path::PathBuf)>> {
    if !cfg!(target_os = "linux") || std::fs::metadata(format!("/proc/{root}/task")).is_err() {
        return None;
    }
    let mut todo = vec![root];
    let mut seen = 0;
    let mut dirs = Vec::new();
    while let Some(pid) = todo.pop() {
        seen += 1;
        if seen > MAX_PROCESSES {
            break;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        for task in tasks.flatten().take(MAX_THREADS) {
            let dir = task.path();
            if let Ok(children) = std::fs::read_to_string(dir.join("children")) {
                todo.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
            dirs.push((pid, dir));
        }
    }
    Some(dirs)
}

/// Processes looked at, at most, to find who listens on a port.
const MAX_SCANNED: usize = 4096;

/// File descriptors of one process looked at, at most.
const MAX_FDS: usize = 4096;

/// The process that listens on TCP `port` of this machine (a target given by address that a
/// student started by hand: its threads can then be watched like a spawned target's). Linux
/// only: the listening socket's inode from `/proc/net/tcp{,6}`, then the process whose
/// `/proc/PID/fd` holds it (the lowest PID when a forking server shares it with its children).
/// None when it cannot be seen (another system, another user's process, another namespace).
pub fn listener_pid(port: u16) -> Option<u32> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port =
                local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) && *inode != "0" {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let mut owners = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten().take(MAX_SCANNED) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().take(MAX_FDS).any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
        });
        if holds {
            owners.push(pid);
        }
    }
    owners.into_iter().min()
}

/// True when a thread of the tree is running, runnable or in a disk wait; None when `/proc`
/// does not show the tree.
pub fn busy(root: u32) -> Option<bool> {
    let dirs = task_dirs(root)?;
    let mut read_any = false;
    for (_, dir) in dirs {
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else { continue };
        read_any = true;
        if matches!(state_of(&stat), Some('R' | 'D')) {
            return Some(true);
        }
    }
    read_any.then_some(false)
}

/// The state letter of a `stat` line: `PID (COMM) S ...` (the name may hold spaces and
/// parentheses, so the state follows the last `)`).
fn state_of(stat: &str) -> Option<char> {
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_follows_the_last_parenthesis() {
        assert_eq!(state_of("1234 (python3) S 1 1234"), Some('S'));
        assert_eq!(state_of("1234 (a) b) R 1 1234"), Some('R'));
        assert_eq!(state_of("garbage"), None);
    }

    /// The process that holds a listening socket is found by its port.
    #[test]
    fn the_listener_is_found_by_its_port() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
        drop(listener);
        assert_eq!(listener_pid(port), None);
    }

    /// A sleeping process is quiet; a spinning one never is.
    #[tokio::test]
    async fn a_sleeper_is_quiet_and_a_spinner_is_not() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let spawn = |script: &str| {
            std::process::Command::new("sh").args(["-c", script]).spawn().expect("sh")
        };
        let mut sleeper = spawn("sleep 30");
        let mut spinner = spawn("while :; do :; done");
        let quiet = until_quiet(sleeper.id(), Duration::from_secs(10)).await;
        let busy = until_quiet(spinner.id(), Duration::from_millis(300)).await;
        let _ = sleeper.kill();
        let _ = spinner.kill();
        let _ = sleeper.wait();
        let _ = spinner.wait();
        assert_eq!(quiet, Quiet::Yes);
        assert_eq!(busy, Quiet::Never);
        assert_eq!(until_quiet(sleeper.id(), Duration::from_millis(10)).await, Quiet::Unknown);
    }
}
