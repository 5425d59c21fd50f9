//! Re-running `grade` judges only what changed. An outcome is stored under a key made of
//! everything that decides it: the student's files, the command and accounts, the assignment,
//! the suite (every fixture and profile), the runner binary itself, and the report language.
//! Change any of them and the key changes; nothing is ever invalidated by time.
//!
//! Only outcomes that are facts about the code are kept (a report, a missing command); a
//! timeout, a runner failure or a program that did not start may be the machine's and is tried
//! again next time.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::student::{Job, Outcome};

/// Bumped when the key recipe or the stored form changes.
const CACHE_FORMAT: &str = "jim-conformance/grade-cache/v1";

/// Files a student folder may have before the rest is keyed by size and time only.
const MAX_FILES_HASHED: usize = 5_000;

/// Bytes hashed per student folder before the rest is keyed by size and time only.
const MAX_BYTES_HASHED: u64 = 64 << 20;

/// Largest cache entry read back.
const MAX_ENTRY_BYTES: u64 = 32 << 20;

/// Directories that are never part of a student's code.
const SKIP_DIRS: &[&str] = &[".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache"];

/// Files that programs write while they run (logs, databases, bytecode): keying on them would
/// make every run a miss.
const SKIP_SUFFIXES: &[&str] =
    &[".pyc", ".log", ".db", ".db3", ".sqlite", ".sqlite3", ".db-journal", ".db3-journal"];

/// The keys that do not depend on the student, computed once per class.
#[derive(Debug, Clone)]
pub struct ClassKey {
    digest: Vec<u8>,
}

impl ClassKey {
    /// Keys the runner binary, the suite's files and the assignment's text.
    pub fn new(runner: &Path, suite_files: &[(String, String)], assignment: &str) -> Self {
        let mut h = Sha256::new();
        h.update(CACHE_FORMAT.as_bytes());
        if !hash_file(&mut h, runner, u64::MAX) {
            h.update(runner.display().to_string().as_bytes());
        }
        for (path, text) in suite_files {
            field(&mut h, path.as_bytes());
            field(&mut h, text.as_bytes());
        }
        field(&mut h, assignment.as_bytes());
        Self { digest: h.finalize().to_vec() }
    }

    /// The key of one job: the class key, the job's own inputs and the student's files.
    pub fn job_key(&self, job: &Job, folder_digest: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(&self.digest);
        field(&mut h, job.role.as_str().as_bytes());
        field(&mut h, job.command().unwrap_or("").as_bytes());
        for (n, p) in &job.student.accounts {
            field(&mut h, n.as_bytes());
            field(&mut h, p.as_bytes());
        }
        field(&mut h, format!("{:?}", job.lang).as_bytes());
        field(&mut h, folder_digest);
        hex::encode(h.finalize())
    }
}

/// Hashes a length-prefixed field, so that ("ab","c") and ("a","bc") differ.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Feeds at most `limit` bytes of the file at `path` into `h`; false when it cannot be read.
fn hash_file(h: &mut Sha256, path: &Path, limit: u64) -> bool {
    use std::io::Read as _;
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut file = file.take(limit);
    let mut buf = [0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// The digest of a student's folder: every file's relative path and contents, in sorted order
/// (see `SKIP_DIRS` and `SKIP_SUFFIXES` for what is left out).
pub fn folder_digest(folder: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    walk(folder, folder, &mut files, 0);
    files.sort();
    let mut h = Sha256::new();
    let mut budget = MAX_BYTES_HASHED;
    for (i, (rel, path)) in files.iter().enumerate() {
        field(&mut h, rel.as_bytes());
        let meta = std::fs::metadata(path).ok();
        let size = meta.as_ref().map_or(0, std::fs::Metadata::len);
        if i < MAX_FILES_HASHED && size <= budget {
            budget -= size;
            hash_file(&mut h, path, size);
        } else {
            let modified = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            field(&mut h, format!("{size}:{modified}").as_bytes());
        }
    }
    h.finalize().to_vec()
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>, depth: usize) {
    if depth > 16 || out.len() > 50_000 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk(&path, root, out, depth + 1);
            }
        } else if kind.is_file() && !SKIP_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            out.push((rel, path));
        }
    }
}

/// A cache directory (or none: `--no-cache`).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    /// A cache in `dir` (created on first store), or a cache that keeps nothing.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.json")))
    }

    /// The stored outcome for `key`, if any.
    pub fn get(&self, key: &str) -> Option<Outcome> {
        use std::io::Read as _;
        let path = self.path(key)?;
        let file = std::fs::File::open(path).ok()?;
        let mut text = String::new();
        file.take(MAX_ENTRY_BYTES).read_to_string(&mut text).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Stores `outcome` under `key` if it is worth keeping; a cache that cannot be written is
    /// only slower next time.
    pub fn put(&self, key: &str, outcome: &Outcome) {
        let Some(path) = self.path(key) else { return };
        if !outcome.is_cacheable() {
            return;
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(text) = serde_json::to_string(outcome) {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_folder_digest_follows_code_not_logs_or_bytecode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.py"), "print(1)\n").unwrap();
        let before = folder_digest(dir.path());
        std::fs::write(dir.path().join("server.log"), "started").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/server.cpython-311.pyc"), "x").unwrap();
        assert_eq!(folder_digest(dir.path()), before, "logs and bytecode are not code");
        std::fs::write(dir.path().join("server.py"), "print(2)\n").unwrap();
        assert_ne!(folder_digest(dir.path()), before, "a changed file changes the key");
        std::fs::write(dir.path().join("server.py"), "print(1)\n").unwrap();
        assert_eq!(folder_digest(dir.path()), before);
        std::fs::create_dir(dir.path().join("common")).unwrap();
        std::fs::write(dir.path().join("common/variables.py"), "PORT = 7777\n").unwrap();
        assert_ne!(folder_digest(dir.path()), before, "a new module changes the key");
    }
}
