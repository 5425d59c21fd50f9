//! `--accounts` against a server that admits only registered users (issue 13 item 1), as the
//! course-final server does: an unknown name gets 400 "Пользователь не зарегистрирован.", a
//! known one a 511 challenge answered with its password, and a name already online is refused.
//! The fake below records every login of a name that was already online: two cases running at
//! the same time with one account. With 8 jobs and 2 accounts the cases contend for the
//! accounts all the time, so a runner that let two cases share one would be caught at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jim_conformance::accounts::Account;
use jim_conformance::{Report, RunOptions, TargetSpec, Verdict, run_suite};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const POOL: [(&str, &str); 2] = [("alice", "secret"), ("Мария", "мой пароль")];

/// What the fake saw.
#[derive(Default)]
struct Seen {
    online: HashSet<String>,
    /// Names logged in while already online elsewhere.
    shared: Vec<String>,
    /// Names that completed a login.
    logins: Vec<String>,
    /// Names refused as unknown.
    unknown: Vec<String>,
}

/// Reads one line (at most 64 KiB, 5 s) as JSON.
async fn next(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<Value> {
    let mut line = String::new();
    let mut limited = (&mut *r).take(64 * 1024);
    let read = limited.read_line(&mut line);
    match tokio::time::timeout(Duration::from_secs(5), read).await {
        Ok(Ok(n)) if n > 0 => serde_json::from_str(line.trim()).ok().or(Some(Value::Null)),
        _ => None,
    }
}

async fn send(w: &mut tokio::net::tcp::OwnedWriteHalf, v: Value) {
    let _ = w.write_all(format!("{v}\n").as_bytes()).await;
}

/// One connection of the course-final fake.
async fn serve(stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut me: Option<String> = None;
    while let Some(msg) = next(&mut r).await {
        let action = msg.get("action").and_then(Value::as_str).unwrap_or_default().to_owned();
        match action.as_str() {
            "presence" => {
                let name = msg["user"]["account_name"].as_str().unwrap_or_default().to_owned();
                let Some((_, password)) = POOL.iter().find(|(n, _)| *n == name) else {
                    seen.lock().unwrap().unknown.push(name);
                    let refusal =
                        json!({"response": 400, "error": "Пользователь не зарегистрирован."});
                    send(&mut w, refusal).await;
                    return;
                };
                let challenge = "0123456789abcdef".repeat(8);
                send(&mut w, json!({"response": 511, "bin": challenge})).await;
                let answer = next(&mut r).await.unwrap_or_default();
                let want = jim_protocol::course_login::answer(&name, password, &challenge);
                if answer["bin"].as_str() != Some(want.as_str()) {
                    send(&mut w, json!({"response": 400, "error": "Неверный пароль."})).await;
                    return;
                }
                let taken = {
                    let mut s = seen.lock().unwrap();
                    let taken = !s.online.insert(name.clone());
                    if taken {
                        s.shared.push(name.clone());
                    } else {
                        s.logins.push(name.clone());
                    }
                    taken
                };
                if taken {
                    let refusal = json!({"response": 400, "error": "Имя пользователя уже занято."});
                    send(&mut w, refusal).await;
                    return;
                }
                me = Some(name);
                send(&mut w, json!({"response": 200})).await;
            }
            "exit" | "quit" => break,
            "get_contacts" => send(&mut w, json!({"response": 202, "data_list": []})).await,
            "get_users" => {
                let online: Vec<String> = seen.lock().unwrap().online.iter().cloned().collect();
                send(&mut w, json!({"response": 202, "data_list": online})).await;
            }
            _ => send(&mut w, json!({"response": 400, "error": "Запрос некорректен."})).await,
        }
    }
    // The name is free before the connection closes (the runner waits for the close).
    if let Some(name) = me {
        seen.lock().unwrap().online.remove(&name);
    }
}

async fn run(jobs: usize, accounts: Vec<Account>) -> (Report, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = Arc::clone(&seen);
    let server = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve(s, Arc::clone(&shared)));
        }
    });
    let mut opts: RunOptions = RunOptions::default();
    opts.mode.accounts = accounts;
    opts.jobs = Some(jobs);
    opts.deadline = Duration::from_secs(60);
    opts.only = [
        "presence/basic",
        "presence/time-as-string",
        "contacts/get-empty",
        "errors/unknown-action",
        "errors/no-action",
        "responses/error-has-text",
        "users/get-users",
        "quit/course-exit",
        "message/direct",
        "message/only-to-addressee",
        "course-login/challenge",
    ]
    .map(str::to_owned)
    .to_vec();
    let target = TargetSpec::Address { host: "127.0.0.1".into(), port };
    let report = tokio::time::timeout(Duration::from_secs(90), run_suite(target, opts))
        .await
        .expect("the run ends within its deadline")
        .unwrap();
    server.abort();
    (report, seen)
}

fn pool() -> Vec<Account> {
    POOL.iter().map(|(n, p)| Account { name: (*n).into(), password: (*p).into() }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_in_parallel_never_share_an_account_and_log_in_with_its_password() {
    let (report, seen) = run(8, pool()).await;
    let seen = seen.lock().unwrap();
    assert!(seen.shared.is_empty(), "two cases logged in one account at once: {:?}", seen.shared);
    assert_eq!(
        report.profile.name, "course",
        "auto picks course for a server refusing unknown names"
    );
    let verdict = |id: &str| report.cases.iter().find(|c| c.id == id).map(|c| c.verdict);
    for id in ["presence/basic", "contacts/get-empty", "quit/course-exit", "course-login/challenge"]
    {
        assert!(verdict(id).is_some_and(Verdict::passed), "{id}: {:?}", verdict(id));
    }
    let skipped = report.cases.iter().find(|c| c.id == "message/only-to-addressee").unwrap();
    assert_eq!(skipped.verdict, Verdict::Skip, "three accounts at once, two given");
    assert!(skipped.reason.as_deref().unwrap_or_default().contains("2 were given"), "{skipped:?}");
    assert!(seen.logins.len() >= 8, "the cases logged in with the pool: {:?}", seen.logins);
    // The only unknown names are the preflight's probe (and its Guest try), the pace
    // measurement's (a refusal times the loop turn as well as a 200) and the liveness check's
    // (a refusal proves the server alive as well as a 200).
    assert!(
        seen.unknown.iter().all(|n| n.starts_with("probe_")
            || n.starts_with("pace_")
            || n.starts_with("alive_")
            || n == "Guest"),
        "{:?}",
        seen.unknown
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_accounts_the_run_is_one_line_and_exit_2() {
    let (report, _) = run(4, Vec::new()).await;
    assert_eq!(report.exit_code, 2, "{}", report.exit_reason);
    assert!(report.cases.is_empty(), "no case blocks");
    let cause = report.summary.root_cause.as_ref().expect("one line says what to do");
    assert!(
        cause.en.contains("--accounts") && cause.en.contains("не зарегистрирован"),
        "{}",
        cause.en
    );
    assert!(cause.ru.contains("--accounts"), "{}", cause.ru);
}
