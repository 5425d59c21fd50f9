//! A loaded fixture suite: every fixture and profile, from a directory on disk or from the copy
//! embedded in the binary at build time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::{Fixture, FixtureError, parse_fixture};
use crate::profile::{Profile, ProfileError};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// All fixtures and profiles of one suite.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// Fixtures sorted by id.
    pub fixtures: Vec<Arc<Fixture>>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
    /// Raw files (path under the fixtures dir, text), kept for lint.
    pub files: Vec<(String, String)>,
    /// PROTOCOL.md text, for checking `spec` citations (empty if unknown).
    pub protocol_md: String,
    /// Where the suite came from, for messages.
    pub origin: String,
}

/// Why a suite cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// Reading the directory failed.
    #[error("cannot read fixtures from {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Fixture files that do not parse.
    #[error("{} fixture file(s) are invalid:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Fixtures(Vec<FixtureError>),
    /// A profile that does not parse.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, root, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            let rel = p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/");
            out.push((rel, p));
        }
    }
    Ok(())
}

impl Suite {
    /// The suite embedded in the binary at build time.
    pub fn embedded() -> Result<Self, SuiteError> {
        let files =
            embedded::FILES.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect();
        Self::from_files(files, embedded::PROTOCOL_MD.to_owned(), "built-in fixtures".into())
    }

    /// Loads `dir` (a `fixtures/` directory); PROTOCOL.md is looked for next to it.
    pub fn from_dir(dir: &Path) -> Result<Self, SuiteError> {
        let (files, protocol_md) = Self::read_dir(dir)?;
        Self::from_files(files, protocol_md, dir.display().to_string())
    }

    /// The (path relative to `dir`, text) pairs of every `.json` file below `dir`, sorted, and
    /// the text of the PROTOCOL.md next to `dir` (empty when there is none).
    pub fn read_dir(dir: &Path) -> Result<(Vec<(String, String)>, String), SuiteError> {
        let mut paths = Vec::new();
        walk(dir, dir, &mut paths)
            .map_err(|source| SuiteError::Io { path: dir.display().to_string(), source })?;
        let mut files = Vec::new();
        for (rel, p) in paths {
            let text = std::fs::read_to_string(&p)
                .map_err(|source| SuiteError::Io { path: p.display().to_string(), source })?;
            files.push((rel, text));
        }
        let protocol = dir.parent().map(|p| p.join("PROTOCOL.md"));
        let protocol_md =
            protocol.and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default();
        Ok((files, protocol_md))
    }

    /// Builds a suite from (path, text) pairs: `profiles/*.json` are profiles, `schema/**` is
    /// skipped, everything else is a fixture.
    pub fn from_files(
        files: Vec<(String, String)>,
        protocol_md: String,
        origin: String,
    ) -> Result<Self, SuiteError> {
        let mut fixtures = Vec::new();
        let mut errors = Vec::new();
        let mut profiles = BTreeMap::new();
        for (rel, text) in &files {
            if rel.starts_with("schema/") {
                continue;
            }
            if let Some(name) = rel.strip_prefix("profiles/") {
                let p = Profile::parse(rel, text)?;
                let stem = name.trim_end_matches(".json");
                if p.name != stem {
                    return Err(ProfileError::Invalid {
                        file: rel.clone(),
                        message: format!(
                            "name \"{}\" differs from the file name \"{stem}\"",
                            p.name
                        ),
                    }
                    .into());
                }
                profiles.insert(p.name.clone(), p);
                continue;
            }
            match parse_fixture(rel, text) {
                Ok(f) => fixtures.push(Arc::new(f)),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(SuiteError::Fixtures(errors));
        }
        fixtures.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self { fixtures, profiles, files, protocol_md, origin })
    }

    /// Looks up a profile.
    pub fn profile(&self, name: &str) -> Result<&Profile, ProfileError> {
        self.profiles.get(name).ok_or_else(|| ProfileError::Unknown {
            name: name.to_owned(),
            available: self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Looks up a fixture by id.
    pub fn fixture(&self, id: &str) -> Option<&Arc<Fixture>> {
        self.fixtures.iter().find(|f| f.id == id)
    }
}
