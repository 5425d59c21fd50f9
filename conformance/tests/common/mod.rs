//! What several integration tests need: the `jim-client` binary of this build, and python3 for
//! the Python targets (a test that needs it fails with a message saying so, never passes
//! without it).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

pub mod field;

/// `python3`, which the Python targets need. Panics with what to do when it is missing.
pub fn python3() -> &'static str {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "this test runs Python targets and needs python3 on PATH (Debian/Ubuntu: apt-get install python3)"
    );
    "python3"
}

/// A free loopback port for a target the test starts itself (or for one where nothing must
/// listen): below the kernel's ephemeral range, as the runner's spawned targets get. A port
/// from `bind(0)`, once released, is what the kernel hands out next to any process's listener
/// or outgoing connection. Seen on the shared machine: in one `field_servers_once`, two host-mode
/// field servers that exit or die were still answered on their port (2 of 36 runs wrong).
pub fn free_port() -> u16 {
    jim_conformance::target::free_port().unwrap()
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

/// What one run of `jim-conformance server` gave: its exit code, its standard output, the JSON
/// report and the JUnit report.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub json: Value,
    pub junit: String,
}

/// Runs this build's `jim-conformance server ARGS --lang en` with JSON and JUnit reports (in a
/// temporary folder) and no colour. Panics, with the output, when there is no JSON report.
pub fn server_run(args: &[&str]) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = Command::new(env!("CARGO_BIN_EXE_jim-conformance"))
        .arg("server")
        .args(args)
        .args(["--lang", "en", "--json"])
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); output:\n{stdout}"));
    Ran {
        code: out.status.code(),
        json: serde_json::from_str(&text).unwrap(),
        junit: std::fs::read_to_string(&junit).unwrap_or_default(),
        stdout,
    }
}
