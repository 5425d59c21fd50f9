//! An assignment: what a class is graded on, as data (`fixtures/assignments/*.toml`). It fixes
//! the profile of each program (so every student of one assignment is judged on the same cases
//! and the columns of the class page compare), the per-program deadline, and the points of each
//! case group. `--profile auto` never applies here: a preflight that picks a different profile
//! per student is exactly what made a class table meaningless.
//!
//! Scoring is deliberately simple and monotone: a group's points are shared equally among its
//! cases (each delivery mode of a case counts as one case), and a case earns its share only with
//! the verdict `pass` or `pass-lenient`. Everything else earns nothing: a failure, an error, a
//! timeout, a crash, a case that did not run, an optional capability that is not there.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::i18n::{Lang, Said};
use crate::model::Text;
use crate::profile::ProfileTarget;
use crate::suite::Suite;
use crate::vocab::Delivery;

/// Version of the assignment format.
pub const ASSIGNMENT_SCHEMA: &str = "jim-conformance/assignment/v1";

/// The assignments built into the binary (name, TOML text).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("lesson3", include_str!("../../../fixtures/assignments/lesson3.toml")),
    ("messenger", include_str!("../../../fixtures/assignments/messenger.toml")),
];

/// Largest assignment file read.
const MAX_ASSIGNMENT_BYTES: u64 = 1 << 20;

/// Which program of a student a part of the assignment judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The student's server (`jim-conformance server --spawn`).
    Server,
    /// The student's client (`jim-conformance client --spawn`).
    Client,
}

impl Role {
    /// Both roles, in the order they are shown.
    pub const ALL: [Role; 2] = [Role::Server, Role::Client];

    /// The subcommand and the roster column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// How one program is run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// The profile (fixed: never `auto`).
    pub profile: String,
    /// Per-step timeout in seconds (the runner's `--timeout`).
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Delivery modes (the runner's `--delivery`).
    #[serde(default = "default_delivery")]
    pub delivery: Vec<String>,
    /// `--strict`.
    #[serde(default)]
    pub strict: bool,
    /// `--name`.
    #[serde(default)]
    pub name: Option<String>,
    /// Client mode: what is fed to an interactive client's stdin (`--stdin`).
    #[serde(default)]
    pub stdin: Option<String>,
}

fn default_timeout() -> f64 {
    2.0
}

fn default_delivery() -> Vec<String> {
    vec!["whole".to_owned()]
}

/// A group of cases and its points.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Short id (a column of the class page, a Gradescope test name).
    pub id: String,
    /// Which program.
    pub role: Role,
    /// What the group checks, in English and Russian.
    pub title: Text,
    /// Case id globs.
    pub cases: Vec<String>,
    /// Points for the whole group.
    pub points: f64,
    #[serde(skip)]
    matcher: Option<GlobSet>,
}

impl Group {
    /// True when case `id` belongs to this group.
    pub fn matches(&self, id: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(id))
    }
}

/// A whole assignment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// [`ASSIGNMENT_SCHEMA`].
    pub schema: String,
    /// Name (`lesson3`).
    pub id: String,
    /// Title in English and Russian.
    pub title: Text,
    /// Seconds one program of one student may take, runner included; past it the run is
    /// stopped and its cases earn nothing.
    pub deadline: f64,
    /// How servers are run (absent: servers are not graded).
    #[serde(default)]
    pub server: Option<RunSpec>,
    /// How clients are run (absent: clients are not graded).
    #[serde(default)]
    pub client: Option<RunSpec>,
    /// The groups, in the order of the class page's columns.
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
    /// The TOML text it was read from (part of the cache key).
    #[serde(skip)]
    pub source: String,
}

/// Why an assignment cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AssignmentError {
    /// Not a built-in name and not a readable file.
    #[error("assignment {name}: {message}")]
    Read {
        /// What was given.
        name: String,
        /// Why it cannot be read.
        message: Said,
    },
    /// Does not parse.
    #[error("assignment {name} is not valid: {message}")]
    Parse {
        /// Its name or file.
        name: String,
        /// What the parser said.
        message: String,
    },
    /// Parses, but does not fit the suite.
    #[error("assignment {name}: {message}")]
    Invalid {
        /// Its name or file.
        name: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl Assignment {
    /// A built-in assignment by name, or a TOML file.
    pub fn load(name_or_path: &str, suite: &Suite) -> Result<Self, AssignmentError> {
        let text = match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, t)) => (*t).to_owned(),
            None => read_file(Path::new(name_or_path)).map_err(|message| {
                let built_in = BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
                AssignmentError::Read {
                    name: name_or_path.to_owned(),
                    message: Said::new(
                        format!("{} (built in: {built_in})", message.en()),
                        format!("{} (встроенные: {built_in})", message.get(Lang::Ru)),
                    ),
                }
            })?,
        };
        Self::parse(name_or_path, &text, suite)
    }

    /// Parses and checks an assignment against `suite`.
    pub fn parse(name: &str, text: &str, suite: &Suite) -> Result<Self, AssignmentError> {
        let mut a: Assignment = toml::from_str(text).map_err(|e| AssignmentError::Parse {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        a.source = text.to_owned();
        a.check(suite)
            .map_err(|message| AssignmentError::Invalid { name: name.to_owned(), message })?;
        Ok(a)
    }

    /// How `role` is run, if it is graded.
    pub fn run_spec(&self, role: Role) -> Option<&RunSpec> {
        match role {
            Role::Server => self.server.as_ref(),
            Role::Client => self.client.as_ref(),
        }
    }

    /// Every point there is.
    pub fn max_points(&self) -> f64 {
        self.groups.iter().map(|g| g.points).sum()
    }

    /// The groups of one role.
    pub fn groups_of(&self, role: Role) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(move |g| g.role == role)
    }

    /// The group that case `id` of `role` counts in.
    pub fn group_of(&self, role: Role, id: &str) -> Option<&Group> {
        self.groups_of(role).find(|g| g.matches(id))
    }

    fn check(&mut self, suite: &Suite) -> Result<(), String> {
        if self.schema != ASSIGNMENT_SCHEMA {
            return Err(format!("schema must be \"{ASSIGNMENT_SCHEMA}\", not \"{}\"", self.schema));
        }
        if !(self.deadline.is_finite() && self.deadline > 0.0 && self.deadline <= 3600.0) {
            return Err("deadline must be between 0 and 3600 seconds".into());
        }
        if self.groups.is_empty() {
            return Err("no [[group]]: nothing would earn points".into());
        }
        for role in Role::ALL {
            let Some(spec) = self.run_spec(role) else { continue };
            let profile = suite.profile(&spec.profile).map_err(|e| e.to_string())?;
            let wanted =
                if role == Role::Server { ProfileTarget::Server } else { ProfileTarget::Client };
            if profile.target != wanted {
                return Err(format!(
                    "[{}] profile \"{}\" judges the other role",
                    role.as_str(),
                    spec.profile
                ));
            }
            if !(spec.timeout.is_finite() && spec.timeout > 0.0 && spec.timeout <= 60.0) {
                return Err(format!("[{}] timeout must be between 0 and 60 s", role.as_str()));
            }
            for d in &spec.delivery {
                if Delivery::parse(d).is_none() {
                    return Err(format!(
                        "[{}] delivery \"{d}\": use {}",
                        role.as_str(),
                        Delivery::names()
                    ));
                }
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for g in &mut self.groups {
            if !ids.insert(g.id.clone()) {
                return Err(format!("group \"{}\" appears twice", g.id));
            }
            if !(g.points.is_finite() && g.points >= 0.0) {
                return Err(format!("group \"{}\": points must be a number >= 0", g.id));
            }
            let Some(spec) = (match g.role {
                Role::Server => self.server.as_ref(),
                Role::Client => self.client.as_ref(),
            }) else {
                return Err(format!(
                    "group \"{}\" grades the {} but there is no [{}] table",
                    g.id,
                    g.role.as_str(),
                    g.role.as_str()
                ));
            };
            let profile = suite.profile(&spec.profile).map_err(|e| e.to_string())?;
            let mut set = GlobSetBuilder::new();
            for pattern in &g.cases {
                let glob = Glob::new(pattern).map_err(|e| format!("group \"{}\": {e}", g.id))?;
                let one = glob.compile_matcher();
                let hits = suite
                    .fixtures
                    .iter()
                    .filter(|f| profile.selects(f) && one.is_match(&f.id))
                    .count();
                if hits == 0 {
                    return Err(format!(
                        "group \"{}\": \"{pattern}\" matches no case of profile {}",
                        g.id, spec.profile
                    ));
                }
                set.add(glob);
            }
            g.matcher = Some(set.build().map_err(|e| format!("group \"{}\": {e}", g.id))?);
        }
        // A case in two groups would be paid twice.
        for f in &suite.fixtures {
            for role in Role::ALL {
                let n = self.groups_of(role).filter(|g| g.matches(&f.id)).count();
                if n > 1 {
                    return Err(format!("case {} is in {n} {} groups", f.id, role.as_str()));
                }
            }
        }
        Ok(())
    }
}

fn read_file(path: &Path) -> Result<String, Said> {
    use std::io::Read as _;
    let shown = path.display();
    let io = |e: std::io::Error| {
        Said::new(
            format!("cannot read {shown}: {e}"),
            format!("не удаётся прочитать {shown}: {}", jim_text::io_error(&e, Lang::Ru)),
        )
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_ASSIGNMENT_BYTES + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_ASSIGNMENT_BYTES {
        return Err(Said::new(
            format!("{shown} is larger than {MAX_ASSIGNMENT_BYTES} bytes"),
            format!("{shown} больше {MAX_ASSIGNMENT_BYTES} байт"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn the_built_in_assignments_fit_the_built_in_suite() {
        let suite = Suite::embedded().unwrap();
        for (name, _) in BUILT_IN {
            let a = Assignment::load(name, &suite).unwrap();
            assert_eq!(a.id, *name);
            assert!(a.max_points() > 0.0);
        }
    }

    #[test]
    fn a_group_that_matches_nothing_or_overlaps_is_refused() {
        let suite = Suite::embedded().unwrap();
        let base = BUILT_IN[0].1;
        let typo = base.replacen("lesson3/presence\"", "lesson3/presense\"", 1);
        assert_ne!(typo, base);
        let e = Assignment::parse("t", &typo, &suite).unwrap_err().to_string();
        assert!(e.contains("matches no case"), "{e}");
        let twice = format!(
            "{base}\n[[group]]\nid = \"again\"\nrole = \"server\"\ntitle = {{ en = \"a\", ru = \"а\" }}\ncases = [\"lesson3/*\"]\npoints = 1\n"
        );
        let e = Assignment::parse("t", &twice, &suite).unwrap_err().to_string();
        assert!(e.contains("groups"), "{e}");
    }
}
