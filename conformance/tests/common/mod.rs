//! What several integration tests need: the `jim-client` binary of this build, and python3 for
//! the Python targets (a test that needs it fails with a message saying so, never passes
//! without it).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

/// `python3`, which the Python targets need. Panics with what to do when it is missing.
pub fn python3() -> &'static str {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test runs Python targets and needs python3 on PATH (Debian/Ubuntu: apt-get install python3)"
    );
    "python3"
}

/// `bash`, which the hostile client commands need. Panics with what to do when it is missing.
pub fn bash() -> &'static str {
    let ok = Command::new("bash").arg("-c").arg("true").output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test runs client commands with bash: install bash");
    "bash"
}

/// The `jim-client` binary of this build: `JIM_CLIENT_BIN`, or next to this test's target
/// directory, built with cargo if it is not there yet.
pub fn jim_client() -> PathBuf {
    if let Some(p) = std::env::var_os("JIM_CLIENT_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let bin = profile_dir.join("jim-client");
    if !bin.exists() {
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "jim-client", "--bin", "jim-client"])
            .arg("--manifest-path")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building jim-client failed");
    }
    assert!(bin.exists(), "no jim-client at {}", bin.display());
    bin
}
pub mod field;
