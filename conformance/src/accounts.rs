//! Accounts: the registered `name:password` pairs a run may log in with (`--accounts FILE`,
//! and `--user/--password` as one more entry), and which case logs in with which.
//!
//! Why: course-final servers admit only names registered in their database (jim-protocol.md
//! §6): a presence of a name the runner made up gets 400 "Пользователь не зарегистрирован.",
//! so every case that logs in must use an account the server knows, and answer its 511
//! challenge with that account's password. Two rules keep verdicts facts about the target:
//! - the same case gets the same accounts whatever `--jobs` and whatever order cases finish
//!   in: a [`Plan`] is made before the run from the selected cases in run order (id order,
//!   destructive last), never from a counter that cases race for;
//! - cases running at the same time never share an account (the second login of a name is
//!   refused as "already taken"): a case holds a lease on its accounts while it runs
//!   ([`AccountPool::lease`]); leases are taken in account order, so they cannot deadlock.
//!
//! A case needing more accounts than the pool has (or a name of a length no account has) is
//! skipped with that reason. The plan hands accounts out round-robin, so that state a server
//! keeps per account (contacts, a stored key) is spread thin and lands on the same case on
//! every run.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::model::{Fixture, Text};
use crate::step::{Payload, ServerStep};

/// Largest accounts file read.
pub const MAX_ACCOUNTS_FILE: u64 = 1 << 20;

/// Most accounts a pool holds.
pub const MAX_ACCOUNTS: usize = 10_000;

/// One registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account name (`user.account_name`).
    pub name: String,
    /// Its password (what the 511 answer is computed from).
    pub password: String,
}

/// Why an accounts file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountsError {
    /// The file cannot be read.
    #[error("--accounts {file}: cannot read it: {message}")]
    Read {
        /// The file as given.
        file: String,
        /// Why.
        message: String,
    },
    /// The file is too large to be an accounts file.
    #[error(
        "--accounts {file}: larger than {MAX_ACCOUNTS_FILE} bytes or {MAX_ACCOUNTS} accounts; an accounts file is name:password lines"
    )]
    TooLarge {
        /// The file as given.
        file: String,
    },
    /// A line is not `name:password`.
    #[error(
        "--accounts {file}, line {line}: {problem}; write one account per line as name:password (# starts a comment)"
    )]
    BadLine {
        /// The file as given.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// Nothing but comments and blank lines.
    #[error("--accounts {file}: no account in it; write one account per line as name:password")]
    Empty {
        /// The file as given.
        file: String,
    },
}

/// Parses an accounts file: `name:password` lines (the password is everything after the first
/// colon, spaces included; the name is trimmed), `#` comments and blank lines ignored (the
/// format of `jim-server --users` and of the course servers' `--seed @FILE`).
pub fn parse(text: &str, file: &str) -> Result<Vec<Account>, AccountsError> {
    let mut accounts: Vec<Account> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let bad = |problem: String| AccountsError::BadLine {
            file: file.to_owned(),
            line: i + 1,
            problem,
        };
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((name, password)) = line.split_once(':') else {
            return Err(bad("no colon between name and password".into()));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(bad("the name is empty".into()));
        }
        if password.is_empty() {
            return Err(bad(format!("the password of {name} is empty")));
        }
        if let Some(first) = seen.insert(name.to_owned(), i + 1) {
            return Err(bad(format!("{name} is already on line {first}")));
        }
        if accounts.len() >= MAX_ACCOUNTS {
            return Err(AccountsError::TooLarge { file: file.to_owned() });
        }
        accounts.push(Account { name: name.to_owned(), password: password.to_owned() });
    }
    if accounts.is_empty() {
        return Err(AccountsError::Empty { file: file.to_owned() });
    }
    Ok(accounts)
}

/// Reads and parses an accounts file (at most [`MAX_ACCOUNTS_FILE`] bytes, UTF-8).
pub fn read_file(path: &Path) -> Result<Vec<Account>, AccountsError> {
    use std::io::Read as _;
    let file = path.display().to_string();
    let read = |message: String| AccountsError::Read { file: file.clone(), message };
    let f = std::fs::File::open(path).map_err(|e| read(e.to_string()))?;
    let mut bytes = Vec::new();
    f.take(MAX_ACCOUNTS_FILE + 1).read_to_end(&mut bytes).map_err(|e| read(e.to_string()))?;
    if bytes.len() as u64 > MAX_ACCOUNTS_FILE {
        return Err(AccountsError::TooLarge { file });
    }
    let text = String::from_utf8(bytes).map_err(|_| read("not UTF-8 text".into()))?;
    parse(&text, &file)
}

/// One name a case logs in with: a `$user:LABEL[:LEN]` label (or the `$name` of a server
/// without a lesson-3 name, label `guest`), with the exact length it asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// The label.
    pub label: String,
    /// The exact name length in characters, if the template asks for one.
    pub len: Option<usize>,
}

impl Slot {
    /// The key [`crate::placeholders::Vars`] keeps the name under.
    pub fn key(&self) -> String {
        format!("{}:{}", self.label, self.len.unwrap_or(0))
    }
}

/// The accounts one case logs in with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Names logged in by presence (distinct, in order of first use).
    pub slots: Vec<Slot>,
    /// The case uses `$account` (the course-login cases: they answer the challenge themselves).
    pub account: bool,
}

impl Needs {
    /// How many accounts the case needs.
    pub fn count(&self) -> usize {
        self.slots.len() + usize::from(self.account)
    }
}

/// Parses `LABEL` or `LABEL:LEN` (the argument of `$user`).
fn slot(arg: &str) -> Option<Slot> {
    let (label, len) = match arg.split_once(':') {
        Some((l, n)) => (l, Some(n.parse::<usize>().ok()?)),
        None => (arg, None),
    };
    (!label.is_empty()).then(|| Slot { label: label.to_owned(), len })
}

/// The `${user:...}` arguments inside a raw text.
fn embedded_users(text: &str) -> Vec<Slot> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${user:") {
        let after = rest.get(at + 7..).unwrap_or_default();
        let Some(end) = after.find('}') else { break };
        out.extend(slot(after.get(..end).unwrap_or_default()));
        rest = after.get(end..).unwrap_or_default();
    }
    out
}

/// Which names `fx` logs in with: the account names of its presences (structured or raw).
/// `$name` counts as the label `guest` when `name_drawn` (no `--name` and no Guest-only server).
pub fn needs(fx: &Fixture, name_drawn: bool) -> Needs {
    let mut n = Needs::default();
    let push = |n: &mut Needs, s: Slot| {
        if !n.slots.contains(&s) {
            n.slots.push(s);
        }
    };
    for step in fx.server_steps().unwrap_or_default() {
        let ServerStep::Send(send) = &step.kind else { continue };
        match &send.payload {
            Payload::Json(v) => {
                if v.get("action").and_then(Value::as_str) != Some("presence") {
                    continue;
                }
                match v.get("user").and_then(|u| u.get("account_name")).and_then(Value::as_str) {
                    Some("$account") => n.account = true,
                    Some("$name") if name_drawn => {
                        push(&mut n, Slot { label: "guest".into(), len: None });
                    }
                    Some(s) => {
                        if let Some(s) = s.strip_prefix("$user:").and_then(slot) {
                            push(&mut n, s);
                        }
                    }
                    None => {}
                }
            }
            Payload::Raw(text) => {
                if !text.contains("presence") {
                    continue;
                }
                n.account |= text.contains("${account}");
                for s in embedded_users(text) {
                    push(&mut n, s);
                }
            }
        }
    }
    n
}

/// The accounts of one case: pool indexes per slot, and for `$account`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draw {
    /// Slot and the index of its account.
    pub slots: Vec<(Slot, usize)>,
    /// The index of the `$account` account.
    pub account: Option<usize>,
}

impl Draw {
    /// Every account index the draw uses, sorted (the order leases are taken in).
    pub fn indexes(&self) -> Vec<usize> {
        let set: BTreeSet<usize> = self.slots.iter().map(|(_, i)| *i).chain(self.account).collect();
        set.into_iter().collect()
    }
}

/// The draws of a run, per case id; a case the pool cannot serve has the reason instead.
pub type Plan = HashMap<String, Result<Draw, Text>>;

/// The pool of a run: its accounts and one lease per account.
#[derive(Debug)]
pub struct AccountPool {
    accounts: Vec<Account>,
    leases: Vec<Arc<Mutex<()>>>,
    /// Each account's course key, computed at its first use (10000 PBKDF2 rounds: computing
    /// it per login would delay every 511 answer past a slow server's patience).
    keys: Vec<std::sync::OnceLock<String>>,
}

/// What a case holds while it runs: its accounts are not given to another case meanwhile.
#[derive(Debug)]
pub struct Lease(#[allow(dead_code)] Vec<OwnedMutexGuard<()>>);

impl AccountPool {
    /// A pool of `accounts` (in file order; `--user` comes first when given).
    pub fn new(accounts: Vec<Account>) -> Self {
        let leases = accounts.iter().map(|_| Arc::new(Mutex::new(()))).collect();
        let keys = accounts.iter().map(|_| std::sync::OnceLock::new()).collect();
        Self { accounts, leases, keys }
    }

    /// The course key of the account at `index` ([`crate::course_login::password_key`]).
    pub fn key(&self, index: usize) -> Option<&str> {
        let a = self.accounts.get(index)?;
        let key = self.keys.get(index)?;
        Some(key.get_or_init(|| crate::course_login::password_key(&a.name, &a.password)))
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The account at `index`.
    pub fn get(&self, index: usize) -> Option<&Account> {
        self.accounts.get(index)
    }

    /// The draws of the cases `needs` (in run order): round-robin over the pool from where the
    /// previous case stopped; a slot asking for a name length takes the next account of that
    /// length. The same selection always gives the same plan.
    pub fn plan(&self, needs: &[(String, Needs)]) -> Plan {
        let n = self.accounts.len();
        let mut cursor = 0usize;
        let mut plan = Plan::new();
        for (id, need) in needs {
            if need.count() == 0 {
                continue;
            }
            let mut taken: Vec<usize> = Vec::new();
            let next = |len: Option<usize>, taken: &mut Vec<usize>| -> Option<usize> {
                let found = (0..n).map(|k| (cursor + k) % n.max(1)).find(|i| {
                    !taken.contains(i)
                        && len.is_none_or(|l| {
                            self.accounts.get(*i).is_some_and(|a| a.name.chars().count() == l)
                        })
                })?;
                taken.push(found);
                Some(found)
            };
            let mut draw = Draw::default();
            let mut short = None;
            // Slots that ask for a length first: they have the fewest candidates.
            let mut order: Vec<&Slot> = need.slots.iter().collect();
            order.sort_by_key(|s| s.len.is_none());
            for s in order {
                match next(s.len, &mut taken) {
                    Some(i) => draw.slots.push((s.clone(), i)),
                    None => {
                        short = Some(s.len);
                        break;
                    }
                }
            }
            if short.is_none() && need.account {
                match next(None, &mut taken) {
                    Some(i) => draw.account = Some(i),
                    None => short = Some(None),
                }
            }
            let entry = match short {
                None => {
                    if let Some(last) = taken.last() {
                        cursor = (last + 1) % n.max(1);
                    }
                    Ok(draw)
                }
                Some(Some(len)) if need.count() <= n => Err(Text {
                    en: format!(
                        "skipped: it logs in a name of exactly {len} characters and no account given (--accounts, --user) has one; add one to the file and to the server's database"
                    ),
                    ru: format!(
                        "пропущен: он входит под именем ровно из {len} символов, а среди данных учётных записей (--accounts, --user) такой нет; добавьте её в файл и в базу сервера"
                    ),
                }),
                Some(_) => Err(Text {
                    en: format!(
                        "skipped: it logs in {} different accounts at once and {n} were given (--accounts, --user); add accounts to the file and to the server's database",
                        need.count()
                    ),
                    ru: format!(
                        "пропущен: он одновременно входит под {} разными учётными записями, а дано {n} (--accounts, --user); добавьте учётные записи в файл и в базу сервера",
                        need.count()
                    ),
                }),
            };
            plan.insert(id.clone(), entry);
        }
        plan
    }

    /// Waits until no other case holds the accounts of `draw`, and holds them.
    pub async fn lease(&self, draw: &Draw) -> Lease {
        let mut guards = Vec::new();
        for i in draw.indexes() {
            if let Some(m) = self.leases.get(i) {
                guards.push(Arc::clone(m).lock_owned().await);
            }
        }
        Lease(guards)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn pool(names: &[&str]) -> AccountPool {
        AccountPool::new(
            names.iter().map(|n| Account { name: (*n).into(), password: "pw".into() }).collect(),
        )
    }

    fn need(labels: &[(&str, Option<usize>)], account: bool) -> Needs {
        Needs {
            slots: labels.iter().map(|(l, n)| Slot { label: (*l).into(), len: *n }).collect(),
            account,
        }
    }

    #[test]
    fn parses_lines_comments_and_passwords_with_colons_and_spaces() {
        let text = "# pool\n\nalice:secret\n  bob :qw:er ty\r\nМария:мой пароль\n";
        let a = parse(text, "a.txt").unwrap();
        let got: Vec<(&str, &str)> =
            a.iter().map(|a| (a.name.as_str(), a.password.as_str())).collect();
        assert_eq!(got, [("alice", "secret"), ("bob", "qw:er ty"), ("Мария", "мой пароль")]);
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let e = parse("alice:x\n# c\nbob\n", "pool.txt").unwrap_err();
        assert_eq!(
            e,
            AccountsError::BadLine {
                file: "pool.txt".into(),
                line: 3,
                problem: "no colon between name and password".into()
            }
        );
        assert!(e.to_string().contains("pool.txt, line 3"), "{e}");
        assert!(matches!(parse(":x", "f").unwrap_err(), AccountsError::BadLine { line: 1, .. }));
        assert!(matches!(parse("a:", "f").unwrap_err(), AccountsError::BadLine { line: 1, .. }));
        let dup = parse("a:1\nb:2\na:3\n", "f").unwrap_err();
        assert!(dup.to_string().contains("line 3") && dup.to_string().contains("line 1"), "{dup}");
        assert_eq!(
            parse("# only\n\n", "f").unwrap_err(),
            AccountsError::Empty { file: "f".into() }
        );
    }

    #[test]
    fn the_field_pool_parses() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field/course_final_accounts.txt");
        let a = read_file(&path).unwrap();
        assert_eq!(a.len(), 12);
        assert!(a.iter().any(|a| a.name.chars().count() == 25));
        assert!(a.iter().any(|a| a.name == "judy" && a.password == "judy:colon"));
    }

    #[test]
    fn draws_are_distinct_within_a_case_and_depend_only_on_the_selection() {
        let p = pool(&["a", "b", "c", "d", "e"]);
        let cases = vec![
            ("x/one".to_owned(), need(&[("alice", None)], false)),
            ("x/two".to_owned(), need(&[("alice", None), ("bob", None)], true)),
            ("x/none".to_owned(), Needs::default()),
            ("x/three".to_owned(), need(&[("alice", None), ("bob", None), ("carol", None)], false)),
        ];
        let plan = p.plan(&cases);
        assert_eq!(plan, p.plan(&cases), "the same selection, the same plan");
        let one = plan["x/one"].as_ref().unwrap();
        let two = plan["x/two"].as_ref().unwrap();
        let three = plan["x/three"].as_ref().unwrap();
        assert_eq!(one.indexes(), [0]);
        assert_eq!(two.indexes(), [1, 2, 3], "round-robin from where the last case stopped");
        assert_eq!(three.indexes(), [0, 1, 4], "wraps around, three distinct accounts");
        assert!(!plan.contains_key("x/none"), "a case that logs nobody in draws nothing");
    }

    #[test]
    fn a_case_needing_more_than_the_pool_or_a_missing_length_is_skipped_with_the_reason() {
        let p = pool(&["alice", "exactly_twenty_five_chars"]);
        let plan = p.plan(&[
            ("many".to_owned(), need(&[("a", None), ("b", None), ("c", None)], false)),
            ("len25".to_owned(), need(&[("long", Some(25))], false)),
            ("len24".to_owned(), need(&[("long", Some(24))], false)),
            ("acct".to_owned(), need(&[("a", None), ("b", None)], true)),
        ]);
        let many = plan["many"].as_ref().unwrap_err();
        assert!(
            many.en.contains("3 different accounts") && many.en.contains("2 were given"),
            "{}",
            many.en
        );
        assert!(many.ru.contains("дано 2"), "{}", many.ru);
        assert_eq!(plan["len25"].as_ref().unwrap().indexes(), [1]);
        assert!(plan["len24"].as_ref().unwrap_err().en.contains("exactly 24 characters"));
        assert!(plan["acct"].is_err());
    }

    #[tokio::test]
    async fn a_lease_keeps_an_account_from_two_cases_at_once() {
        let p = Arc::new(pool(&["a", "b"]));
        let d = Draw { slots: vec![(Slot { label: "x".into(), len: None }, 1)], account: None };
        let held = p.lease(&d).await;
        let p2 = Arc::clone(&p);
        let d2 = d.clone();
        let mut second = tokio::spawn(async move { p2.lease(&d2).await });
        // The second lease cannot be granted while the first is held: polling it now finds it
        // pending (no timing involved: the holder has not let go).
        assert!(futures_poll_once(&mut second).await.is_none(), "shared while held");
        drop(held);
        second.await.unwrap();
    }

    /// Polls a task once, after letting the runtime run every other ready task.
    async fn futures_poll_once<T>(task: &mut tokio::task::JoinHandle<T>) -> Option<T> {
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        if task.is_finished() { Some(task.await.unwrap()) } else { None }
    }
}
