//! One test per fixture: replays the suite against the in-process reference server (every case
//! must pass without any tolerance), or, with `JIM_TARGET=host:port`, against another server
//! (then the profile is detected and tolerated passes, skips and unimplemented capabilities are
//! fine). Also lints the suite. Run: `cargo test -p jim-conformance --test fixtures`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use jim_conformance::report::human::{self, Style};
use jim_conformance::wire::Delivery;
use jim_conformance::{RunOptions, Session, TargetSpec, Verdict};
use libtest_mimic::{Arguments, Failed, Trial};

static ACCOUNT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn main() {
    let args = Arguments::from_args();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
    );
    let external = std::env::var("JIM_TARGET").ok().filter(|t| !t.is_empty());
    let target = match &external {
        Some(t) => {
            let (host, port) = t.rsplit_once(':').expect("JIM_TARGET must be host:port");
            TargetSpec::Address {
                host: host.to_owned(),
                port: port.parse().expect("JIM_TARGET port"),
            }
        }
        None => TargetSpec::embedded(),
    };
    let opts = RunOptions {
        profile: if external.is_some() { None } else { Some("all".to_owned()) },
        timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(600),
        ..RunOptions::default()
    };
    let session = Arc::new(rt.block_on(Session::prepare(target, opts)).expect("start the target"));
    let strict_reference = external.is_none();
    let mut trials = vec![Trial::test("lint", || {
        let suite =
            jim_conformance::suite::Suite::embedded().map_err(|e| Failed::from(e.to_string()))?;
        let r = jim_conformance::lint::lint_files(&suite.files, &suite.protocol_md);
        if r.problems.is_empty() { Ok(()) } else { Err(r.problems.join("\n").into()) }
    })];
    for fx in
        session.suite().fixtures.iter().filter(|f| f.role() == jim_conformance::model::Role::Client)
    {
        let selected = session.selected().iter().any(|s| s.id == fx.id);
        let (fx, session, rt) = (Arc::clone(fx), Arc::clone(&session), Arc::clone(&rt));
        let name = fx.id.clone();
        let trial = Trial::test(name, move || {
            // Cases that log in with the one test account must not overlap (409).
            let shares_account = fx.shares_account();
            let _guard = shares_account
                .then(|| ACCOUNT.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let r = rt.block_on(session.run_case(&fx, Delivery::Whole));
            let text =
                || human::case(&r, Style { color: false, lang: jim_conformance::i18n::Lang::En });
            match r.verdict {
                Verdict::Pass => Ok(()),
                Verdict::PassLenient if !strict_reference => Ok(()),
                Verdict::Skip | Verdict::Unimplemented | Verdict::ExpectedFail
                    if !strict_reference =>
                {
                    Ok(())
                }
                _ => Err(text().into()),
            }
        })
        .with_ignored_flag(!selected);
        trials.push(trial);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    rt.block_on(session.finish());
    conclusion.exit();
}
