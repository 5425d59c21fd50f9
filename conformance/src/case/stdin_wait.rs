//! Client mode: is the client waiting for its user? An interactive client that has done what
//! a step caused (logged in, sent its unasked messages) ends up blocked reading its standard
//! input. That state is an observable fact on Linux (`/proc/PID/task/TID/syscall` names the
//! system call a thread is blocked in, and its first argument, the file descriptor), so the
//! runner can act when the client is ready instead of after a guessed pause: close the
//! connection once the client sits in its input loop, send a probe once the login chatter is
//! over. Without `/proc` (another system, or a kernel that hides it) the answer is
//! [`InputWait::Unknown`] and the callers fall back to their step timeout.
//!
//! A thread counts as waiting for input when it is blocked in `read`/`readv`/`pread` on file
//! descriptor 0, or in `epoll_wait` on an epoll set that watches descriptor 0 (an event loop
//! reading stdin). The client's whole process tree is looked at (the command runs under `sh`),
//! at most [`crate::settle::MAX_PROCESSES`] processes and [`crate::settle::MAX_THREADS`]
//! threads each.

/// What the runner can see of a client waiting for its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputWait {
    /// A thread of the client is blocked reading its standard input.
    Waiting,
    /// No thread is (the client is busy, or blocked on something else).
    NotWaiting,
    /// The system does not say (no `/proc`, or the process is gone).
    Unknown,
}

/// Whether the process tree rooted at `root` waits for input on its stdin.
pub fn input_wait(root: u32) -> InputWait {
    imp::input_wait(root)
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    use super::InputWait;

    /// System calls that read from their first argument, a file descriptor.
    #[cfg(target_arch = "x86_64")]
    const READS: &[u64] = &[0, 17, 19, 295, 327];
    #[cfg(target_arch = "aarch64")]
    const READS: &[u64] = &[63, 65, 67, 69, 286];

    /// System calls that wait on an epoll set given as their first argument.
    #[cfg(target_arch = "x86_64")]
    const EPOLL_WAITS: &[u64] = &[232, 281, 441];
    #[cfg(target_arch = "aarch64")]
    const EPOLL_WAITS: &[u64] = &[22, 441];

    pub fn input_wait(root: u32) -> InputWait {
        let Some(tasks) = crate::settle::task_dirs(root) else { return InputWait::Unknown };
        let mut readable = false;
        for (pid, dir) in tasks {
            let Ok(call) = std::fs::read_to_string(dir.join("syscall")) else { continue };
            readable = true;
            if waits_on_stdin(pid, &call) {
                return InputWait::Waiting;
            }
        }
        if readable { InputWait::NotWaiting } else { InputWait::Unknown }
    }

    /// `call` is the content of a thread's `syscall` file: "NR ARG0 ARG1 ...", or "running".
    fn waits_on_stdin(pid: u32, call: &str) -> bool {
        let mut fields = call.split_whitespace();
        let (Some(nr), Some(arg0)) = (fields.next(), fields.next()) else { return false };
        let (Ok(nr), Some(fd)) = (nr.parse::<u64>(), parse_hex(arg0)) else { return false };
        if READS.contains(&nr) {
            return fd == 0;
        }
        if EPOLL_WAITS.contains(&nr) {
            return epoll_watches_stdin(pid, fd);
        }
        false
    }

    fn parse_hex(s: &str) -> Option<u64> {
        u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
    }

    /// The epoll set `epfd` of process `pid` has descriptor 0 in it (`tfd: 0` in its fdinfo).
    fn epoll_watches_stdin(pid: u32, epfd: u64) -> bool {
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{epfd}")) else {
            return false;
        };
        info.lines().filter_map(|l| l.strip_prefix("tfd:")).any(|rest| {
            rest.split_whitespace().next().and_then(|fd| fd.parse::<u64>().ok()) == Some(0)
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_read_on_descriptor_0_is_waiting_for_input_and_other_calls_are_not() {
            let read = format!("{} 0x0 0x55d 0x2000 0x0 0x0 0x0 0x7ffe 0x7f77", READS[0]);
            assert!(waits_on_stdin(1, &read));
            let socket = format!("{} 0x3 0x55d 0x2000 0x0 0x0 0x0 0x7ffe 0x7f77", READS[0]);
            assert!(!waits_on_stdin(1, &socket));
            assert!(!waits_on_stdin(1, "running"));
            assert!(!waits_on_stdin(1, "-1 0x7ffe 0x7f77"));
        }
    }
}

#[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
mod imp {
    use super::InputWait;

    pub fn input_wait(_root: u32) -> InputWait {
        InputWait::Unknown
    }
}

#[cfg(all(test, target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// A process blocked reading its stdin pipe is seen waiting; once it has read a line and is
    /// sleeping, it is not. Each state is reached by an event the test can see (the child
    /// prints a line), not by a pause; the observation is polled until it holds.
    #[test]
    fn a_child_blocked_on_its_stdin_is_seen_waiting_for_input() {
        if Command::new("python3").arg("-c").arg("pass").status().is_err() {
            panic!("this test needs python3 on PATH");
        }
        let script = "import sys,time\nprint('ready', flush=True)\nsys.stdin.readline()\nprint('read', flush=True)\ntime.sleep(30)\n";
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("python3 -c \"{script}\""))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while input_wait(pid) != InputWait::Waiting {
            assert!(std::time::Instant::now() < until, "never seen waiting for input");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
        line.clear();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line.trim(), "read");
        assert_ne!(input_wait(pid), InputWait::Waiting, "it read its line: not waiting any more");
        let _ = child.kill();
        let _ = child.wait();
    }
}
