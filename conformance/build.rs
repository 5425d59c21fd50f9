//! Embeds the fixture suite (`../fixtures/**/*.json`) and PROTOCOL.md into the binary, so that
//! `jim-conformance` works from any directory and after `cargo install`. `--fixtures DIR` still
//! loads a suite from disk at run time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            out.push((rel, path));
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let root = manifest.join("..");
    let fixtures = root.join("fixtures");
    let protocol = root.join("PROTOCOL.md");
    println!("cargo:rerun-if-changed={}", fixtures.display());
    println!("cargo:rerun-if-changed={}", protocol.display());

    let mut files = Vec::new();
    collect(&fixtures, &fixtures, &mut files);
    let mut code = String::from(
        "/// Fixture files embedded at build time: (path under fixtures/, contents).\n",
    );
    code.push_str("pub static FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    if protocol.exists() {
        let _ = writeln!(
            code,
            "/// PROTOCOL.md as built.\npub static PROTOCOL_MD: &str = include_str!({:?});",
            protocol.display().to_string()
        );
    } else {
        code.push_str("/// PROTOCOL.md as built (absent).\npub static PROTOCOL_MD: &str = \"\";\n");
    }
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("embedded.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {e}", out.display());
    }
}
