//! Profiles: named selections of fixtures plus the tolerances that apply, stored as data in
//! `fixtures/profiles/NAME.json` so that teachers can read and adapt them without Rust.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::matcher::{ToleranceMode, Tolerances};
use crate::model::{Dialect, Fixture, Level, Role, Text};
use crate::vocab::Tolerance;

/// What a profile judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileTarget {
    /// A server (`jim-conformance server`): fixtures where the runner plays the client.
    #[default]
    Server,
    /// A client (`jim-conformance client`): fixtures where the runner plays the server.
    Client,
}

/// One profile, as stored in `fixtures/profiles/NAME.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Optional `$schema` reference for editors.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// The profile's name (equal to the file name without `.json`).
    pub name: String,
    /// What it judges: `server` (default) or `client`.
    #[serde(default)]
    pub target: ProfileTarget,
    /// What the profile is for.
    pub title: Text,
    /// Fixtures written for at least one of these dialects are selected.
    pub dialects: Vec<Dialect>,
    /// Globs on fixture ids to select (default: all).
    #[serde(default = "default_only")]
    pub only: Vec<String>,
    /// Globs on fixture ids to leave out.
    #[serde(default)]
    pub skip: Vec<String>,
    /// The target serves one request per connection: every case reconnects (lesson 3).
    #[serde(default)]
    pub one_shot: bool,
    /// Account name for `$name` when `--name` is not given (Guest for lesson 3).
    #[serde(default)]
    pub default_name: Option<String>,
    /// Parallel cases unless `--jobs` says otherwise.
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    /// Replies must carry `time` (else the `no-time` tolerance decides).
    #[serde(default = "default_true")]
    pub replies_need_time: bool,
    /// Tolerances and how they count.
    #[serde(default)]
    pub tolerances: BTreeMap<Tolerance, ToleranceMode>,
    /// Levels that differ from the fixtures' own in this profile: id glob -> level (e.g. a
    /// missing `time` is a `should` for lesson-3 clients).
    #[serde(default)]
    pub levels: BTreeMap<String, Level>,
}

fn default_only() -> Vec<String> {
    vec!["*".to_owned()]
}
fn default_jobs() -> usize {
    4
}
fn default_true() -> bool {
    true
}

/// A problem with a profile.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProfileError {
    /// The file does not parse.
    #[error("profile {file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// No profile of that name.
    #[error("no profile named \"{name}\" (available: {available})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names that exist.
        available: String,
    },
}

fn build_globs(globs: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| format!("bad glob {g:?}: {e}"))?);
    }
    b.build().map_err(|e| e.to_string())
}

impl Profile {
    /// Parses a profile file.
    pub fn parse(file: &str, text: &str) -> Result<Self, ProfileError> {
        let p: Profile = serde_json::from_str(text)
            .map_err(|e| ProfileError::Invalid { file: file.to_owned(), message: e.to_string() })?;
        let invalid = |message: String| ProfileError::Invalid { file: file.to_owned(), message };
        build_globs(&p.only).map_err(invalid)?;
        build_globs(&p.skip).map_err(invalid)?;
        for glob in p.levels.keys() {
            Glob::new(glob).map_err(|e| invalid(format!("levels: bad glob {glob:?}: {e}")))?;
        }
        if p.dialects.is_empty() {
            return Err(invalid("dialects must not be empty".into()));
        }
        Ok(p)
    }

    /// True when the profile selects this fixture (its role, dialect and globs).
    pub fn selects(&self, f: &Fixture) -> bool {
        let only = build_globs(&self.only).unwrap_or_else(|_| GlobSet::empty());
        let skip = build_globs(&self.skip).unwrap_or_else(|_| GlobSet::empty());
        let role = match self.target {
            ProfileTarget::Server => Role::Client,
            ProfileTarget::Client => Role::Server,
        };
        f.role() == role
            && f.dialects.iter().any(|d| self.dialects.contains(d))
            && only.is_match(&f.id)
            && !skip.is_match(&f.id)
    }

    /// The level of `f` in this profile: the first matching `levels` entry, else the fixture's.
    pub fn level_of(&self, f: &Fixture) -> Level {
        self.levels
            .iter()
            .find(|(glob, _)| {
                Glob::new(glob).map(|g| g.compile_matcher().is_match(&f.id)).unwrap_or(false)
            })
            .map_or(f.level, |(_, level)| *level)
    }

    /// The tolerances in force, given `--strict`.
    pub fn tolerances(&self, strict: bool) -> Tolerances {
        Tolerances {
            enabled: self.tolerances.clone(),
            strict,
            time_optional: !self.replies_need_time,
        }
    }
}

/// Glob-based id filter from `--only` / `--skip`.
#[derive(Debug, Clone)]
pub struct IdFilter {
    only: Option<GlobSet>,
    skip: GlobSet,
}

impl IdFilter {
    /// Builds the filter; an empty `only` selects everything.
    pub fn new(only: &[String], skip: &[String]) -> Result<Self, String> {
        let only = if only.is_empty() { None } else { Some(build_globs(only)?) };
        Ok(Self { only, skip: build_globs(skip)? })
    }

    /// True when the id passes.
    pub fn allows(&self, id: &str) -> bool {
        self.only.as_ref().is_none_or(|g| g.is_match(id)) && !self.skip.is_match(id)
    }
}
