//! The class roster: who is graded, where their code is, and how to start it. The same roster
//! reads from CSV (a spreadsheet export) or TOML (hand-written); the format is documented in
//! `conformance/tests/field/README.md` ("Roster format") and in the README ("Grade a class").
//!
//! Everything here is checked before anything runs, so that a typo in row 17 is one clear
//! message at the start rather than a failed student at the end.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::assignment::Role;
use crate::i18n::Said;

/// Largest roster file read (a class of thousands fits in far less).
const MAX_ROSTER_BYTES: u64 = 4 << 20;

/// One student.
#[derive(Debug, Clone)]
pub struct Student {
    /// Gradebook id: unique, and safe in file names.
    pub id: String,
    /// Display name (UTF-8).
    pub name: String,
    /// The student's folder, absolute; both programs run in it.
    pub folder: PathBuf,
    /// Command that starts the server (`{port}` replaced by a free port).
    pub server: Option<String>,
    /// Command that starts the client (`{host}` and `{port}` replaced).
    pub client: Option<String>,
    /// Accounts the runner may log in with.
    pub accounts: Vec<(String, String)>,
}

/// A whole roster.
#[derive(Debug, Clone)]
pub struct Roster {
    /// Students in roster order.
    pub students: Vec<Student>,
    /// The file it was read from.
    pub path: PathBuf,
}

/// Why a roster cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    /// The file cannot be read.
    #[error("cannot read the roster {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: Said,
    },
    /// The file does not parse.
    #[error("the roster {path} is not valid {format}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// CSV or TOML.
        format: &'static str,
        /// What the parser said.
        message: String,
    },
    /// A row is wrong.
    #[error("{path}, student {row}: {message}")]
    Student {
        /// The file.
        path: String,
        /// Row number (1 = first student) or id.
        row: String,
        /// What is wrong and what to do.
        message: Said,
    },
    /// Nobody to grade.
    #[error("the roster {0} has no students")]
    Empty(String),
}

/// A row as written, before checking.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(default)]
    name: String,
    folder: String,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    accounts: Option<AccountsField>,
}

/// `accounts` as TOML writes it (a string or a list) or CSV (a string).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AccountsField {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlRoster {
    #[serde(default)]
    student: Vec<Row>,
}

fn read_bounded(path: &Path) -> Result<String, RosterError> {
    use std::io::Read as _;
    let err = |message: Said| RosterError::Read { path: path.display().to_string(), message };
    let io = |e: std::io::Error| err(Said::each(|lang| jim_text::io_error(&e, lang)));
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_ROSTER_BYTES + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_ROSTER_BYTES {
        return Err(err(Said::new(
            format!("larger than {MAX_ROSTER_BYTES} bytes"),
            format!("больше {MAX_ROSTER_BYTES} байт"),
        )));
    }
    Ok(text)
}

/// Reads and checks a roster: `.toml` as TOML, anything else as CSV.
pub fn load(path: &Path) -> Result<Roster, RosterError> {
    let text = read_bounded(path)?;
    let shown = path.display().to_string();
    let is_toml = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    let rows = if is_toml {
        toml::from_str::<TomlRoster>(&text)
            .map_err(|e| RosterError::Parse {
                path: shown.clone(),
                format: "TOML",
                message: e.to_string(),
            })?
            .student
    } else {
        let mut reader =
            csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        reader.deserialize::<Row>().collect::<Result<Vec<_>, _>>().map_err(|e| {
            RosterError::Parse { path: shown.clone(), format: "CSV", message: e.to_string() }
        })?
    };
    if rows.is_empty() {
        return Err(RosterError::Empty(shown));
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
    let mut seen = BTreeSet::new();
    let mut students = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let bad = |message: Said| RosterError::Student {
            path: shown.clone(),
            row: if row.id.is_empty() { format!("#{}", i + 1) } else { row.id.clone() },
            message,
        };
        let student = check(&row, &base).map_err(bad)?;
        if !seen.insert(student.id.clone()) {
            return Err(RosterError::Student {
                path: shown.clone(),
                row: student.id,
                message: Said::new(
                    "the id appears twice; ids must be unique",
                    "id встречается дважды; id должны быть разными",
                ),
            });
        }
        students.push(student);
    }
    Ok(Roster { students, path: path.to_path_buf() })
}

/// Checks one row and resolves its folder and accounts.
fn check(row: &Row, base: &Path) -> Result<Student, Said> {
    let id_ok = !row.id.is_empty()
        && row.id.len() <= 64
        && row.id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !row.id.starts_with('.');
    let id = &row.id;
    if !id_ok {
        return Err(Said::new(
            format!(
                "id \"{id}\" must be 1-64 characters of letters, digits, '-', '_' or '.' (it names files)"
            ),
            format!(
                "id \"{id}\" должен состоять из 1-64 латинских букв, цифр, '-', '_' или '.' (это имя файлов)"
            ),
        ));
    }
    let folder_name = &row.folder;
    let folder = base.join(folder_name);
    if !folder.is_dir() {
        return Err(Said::new(
            format!("folder \"{folder_name}\" does not exist (relative to the roster)"),
            format!("папки \"{folder_name}\" нет (путь считается от файла списка)"),
        ));
    }
    let folder = folder.canonicalize().map_err(|e| {
        Said::each(|lang| format!("\"{folder_name}\": {}", jim_text::io_error(&e, lang)))
    })?;
    let server = nonempty(&row.server);
    let client = nonempty(&row.client);
    // A command that does not split is the shell-words parser's English: quoted as code.
    let unsplit = |what: Role, command: &str, e: shell_words::ParseError| {
        Said::new(
            format!("{} command `{command}`: {e}", what.as_str()),
            format!("команда {} `{command}` не разбирается: `{e}`", what.as_str()),
        )
    };
    if let Some(s) = &server {
        if !s.contains("{port}") {
            return Err(Said::new(
                format!("server command `{s}` needs {{port}}, e.g. python3 server.py -p {{port}}"),
                format!(
                    "в команде server `{s}` нужен {{port}}, например: python3 server.py -p {{port}}"
                ),
            ));
        }
        shell_words::split(s).map_err(|e| unsplit(Role::Server, s, e))?;
    }
    if let Some(c) = &client {
        if !c.contains("{port}") {
            return Err(Said::new(
                format!(
                    "client command `{c}` needs {{host}} and {{port}}, e.g. python3 client.py {{host}} {{port}}"
                ),
                format!(
                    "в команде client `{c}` нужны {{host}} и {{port}}, например: python3 client.py {{host}} {{port}}"
                ),
            ));
        }
        shell_words::split(c).map_err(|e| unsplit(Role::Client, c, e))?;
    }
    let items: Vec<String> = match &row.accounts {
        None => Vec::new(),
        Some(AccountsField::One(s)) if s.trim().is_empty() => Vec::new(),
        Some(AccountsField::One(s)) if s.trim().starts_with('@') => {
            let file = folder.join(s.trim().trim_start_matches('@'));
            let text = read_bounded(&file).map_err(|e| Said::each(|lang| lang.say(&e)))?;
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        }
        Some(AccountsField::One(s)) => {
            s.split(';').map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
        }
        Some(AccountsField::Many(v)) => v.clone(),
    };
    let accounts = items
        .iter()
        .map(|item| match item.split_once(':') {
            Some((n, p)) if !n.is_empty() => Ok((n.to_owned(), p.to_owned())),
            _ => Err(Said::new(
                format!("account \"{item}\" must be name:password"),
                format!(
                    "учётная запись \"{item}\" должна быть в виде name:password (имя и пароль)"
                ),
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Student {
        id: row.id.clone(),
        name: if row.name.is_empty() { row.id.clone() } else { row.name.clone() },
        folder,
        server,
        client,
        accounts,
    })
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn class() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/field/class")
    }

    #[test]
    fn the_csv_and_toml_rosters_of_the_field_class_say_the_same() {
        let csv = load(&class().join("roster.csv")).unwrap();
        let toml = load(&class().join("roster.toml")).unwrap();
        assert_eq!(csv.students.len(), 25);
        for (a, b) in csv.students.iter().zip(&toml.students) {
            assert_eq!(
                (&a.id, &a.name, &a.folder, &a.server, &a.client, &a.accounts),
                (&b.id, &b.name, &b.folder, &b.server, &b.client, &b.accounts)
            );
        }
        let s06 = csv.students.iter().find(|s| s.id == "s06").unwrap();
        assert!(!s06.accounts.is_empty(), "s06 reads @accounts.txt");
        assert_eq!(csv.students[0].name, "Алексеева Анна");
    }

    #[test]
    fn a_bad_row_is_named_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        let cases = [
            ("id,name,folder,server\na,A,a,python3 s.py\n", "needs {port}"),
            ("id,name,folder,server\na,A,zz,python3 s.py -p {port}\n", "does not exist"),
            ("id,name,folder,server\n../x,A,a,python3 s.py -p {port}\n", "names files"),
            (
                "id,name,folder,server\na,A,a,python3 s.py -p {port}\na,B,a,python3 s.py -p {port}\n",
                "twice",
            ),
            (
                "id,name,folder,server,accounts\na,A,a,python3 s.py -p {port},alice\n",
                "name:password",
            ),
        ];
        for (text, want) in cases {
            let path = dir.path().join("r.csv");
            std::fs::write(&path, text).unwrap();
            let e = load(&path).unwrap_err().to_string();
            assert!(e.contains(want), "{e} should say {want}");
        }
    }
}
