//! Server mode: the runner plays the client(s). Connections open at their first use (or at a
//! `connect` step), values nobody asked for (pushes, cross-talk from parallel cases, tolerated
//! echoes) are skipped, and every connection that logged in says goodbye at the end, so that one
//! case's ending does not trip a server bug that a dedicated fixture checks.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::{
    Arrived, At, Case, Details, Failure, Outcome, ScriptOptions, Side, StepResult,
    jim_client_lines, jim_client_script, with_start,
};
use crate::jim::{goodbye, is_push, looks_unknown_action};
use crate::matcher::{Tolerances, match_value};
use crate::model::Fixture;
use crate::report::ProcessReport;
use crate::step::ServerStep;
use crate::vocab::{Direction, DisconnectKind};
use crate::wire::{Arrival, Conn, Sent};

/// How a case ends its connections politely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Farewell {
    /// `{"action":"quit","time":T}` (spec).
    Quit,
    /// `{"action":"exit","time":T,"account_name":NAME}` (course).
    Exit,
    /// Nothing: the connections are closed as they are (a script says itself what it sends).
    Nothing,
}

/// What a server-mode case needs from the run besides [`super::CaseEnv`].
#[derive(Debug, Clone)]
pub struct ServerSide {
    /// Where to connect.
    pub addr: SocketAddr,
    /// Host and port to print in `jim-client` reproductions.
    pub shown_addr: String,
    /// How connections are closed at the end.
    pub farewell: Farewell,
    /// The run's tag: unique names of every case of this run contain `_TAG`. A relay addressed
    /// to another case's name is cross-talk from a parallel case (a server that leaks messages)
    /// and is ignored here; the privacy fixtures catch leaks within their own case.
    pub run_tag: Option<String>,
    /// At the end, wait for the server to close after quit/exit (cases sharing an account).
    pub await_close: bool,
    /// How to start the target by hand so that it listens at `shown_addr` (a target the run
    /// started: its own port is gone when the run ends); None for a target already running.
    pub start: Option<String>,
    /// Waits for replies end once the target is idle ([`crate::idle`]; None: wait in full).
    pub watch: Option<crate::idle::Watch>,
}

/// Runs the server-mode steps of `fx` against `side.addr`.
pub async fn run_case(fx: &Fixture, env: super::CaseEnv, side: ServerSide) -> super::CaseRun {
    let steps = fx.server_steps().unwrap_or_default();
    super::execute(fx, steps, env, side).await
}

impl ServerSide {
    fn is_cross_talk(&self, own_suffix: &str, value: &Value) -> bool {
        let Some(tag) = &self.run_tag else { return false };
        if value.get("action").is_none() {
            return false;
        }
        let marker = format!("_{tag}");
        let own = format!("_{own_suffix}");
        ["to", "destination"].iter().filter_map(|k| value.get(*k).and_then(Value::as_str)).any(
            |to| {
                to.find(&marker)
                    .is_some_and(|i| !to.get(i..).is_some_and(|rest| rest.starts_with(&own)))
            },
        )
    }
}

impl Side for ServerSide {
    type Step = ServerStep;
    const FLAGS_GLUED_WRITES: bool = false;

    fn run_step<'a>(
        cx: &'a mut Case<'_, Self>,
        step: &'a ServerStep,
        at: &'a At,
    ) -> impl Future<Output = StepResult> + std::marker::Send + 'a {
        step.run(cx, at)
    }

    async fn open(cx: &mut Case<'_, Self>, at: &At, reopen: bool) -> Result<Instant, Outcome> {
        if reopen {
            if let Some(mut old) = cx.conns.get_mut(&at.conn).and_then(|c| c.conn.take()) {
                old.disconnect(DisconnectKind::Close).await;
            }
        }
        if cx.conn_mut(&at.conn).is_none() {
            let limit = at.deadline.saturating_duration_since(Instant::now()).max(MIN_CONNECT);
            match Conn::open(cx.side.addr, limit).await {
                Ok(mut conn) => {
                    conn.watch(cx.side.watch);
                    cx.attach(&at.conn, conn);
                    let text = crate::i18n::Said::new("connected", "подключено");
                    cx.log(&at.conn, Direction::Event, text);
                }
                Err(e) => {
                    let arrived = Arrived::Refused { message: crate::i18n::Said::of(&e) };
                    return Err(Outcome::Error(cx.failure(at, arrived, Details::default())));
                }
            }
        }
        Ok(at.deadline)
    }

    fn unsolicited(cx: &mut Case<'_, Self>, conn: &str, value: &Value, wants_push: bool) -> bool {
        if cx.side.is_cross_talk(cx.env.vars.suffix(), value) {
            let text = crate::i18n::Said::new(
                "ignored: a relay for another case of this run (cross-talk)",
                "пропущено: пересылка для другого случая этого прогона (перекрёстные сообщения)",
            );
            cx.log(conn, Direction::Event, text);
            return true;
        }
        if !wants_push && is_push(value) {
            return true;
        }
        let rules = cx.conns.get(conn).map(|c| c.skip.clone()).unwrap_or_default();
        let rule = rules
            .iter()
            .find(|(_, pattern)| match_value(pattern, value, &Tolerances::all_lenient()).ok());
        rule.is_some_and(|(tolerance, _)| cx.tolerate(*tolerance))
    }

    async fn answer_unasked(_: &mut Case<'_, Self>, _: &Value) -> bool {
        false
    }

    fn write_failed(cx: &mut Case<'_, Self>, at: &At, e: std::io::Error) -> StepResult {
        let reset = matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        );
        let arrived = if reset {
            Arrived::Closed { reset: true }
        } else {
            Arrived::Problem {
                message: crate::i18n::Said::new(
                    format!("sending failed: {e}"),
                    format!("отправка не удалась: {}", jim_text::io_error(&e, jim_text::Lang::Ru)),
                ),
            }
        };
        Err(cx.fail(at, arrived, Details::default()))
    }

    fn complete(cx: &mut Case<'_, Self>, failure: &mut Failure) {
        failure.unknown_action =
            matches!(&failure.arrived, Arrived::Value { value, .. } if looks_unknown_action(value));
        failure.reproduce = reproduction(cx, Some(&failure.conn), Some(failure.step));
    }

    fn reproduce(cx: &Case<'_, Self>, failing: Option<&str>) -> Vec<crate::i18n::Said> {
        reproduction(cx, failing, None)
    }

    async fn finish(cx: &mut Case<'_, Self>) -> Option<ProcessReport> {
        let names: Vec<String> = cx.conns.keys().cloned().collect();
        for name in names {
            let Some(state) = cx.conns.get_mut(&name) else { continue };
            let login = state.login.clone();
            let ended = state.ended;
            let Some(conn) = state.conn.as_mut() else { continue };
            if let (Some(login), false, true) =
                (login, ended, cx.side.farewell != Farewell::Nothing)
            {
                let bye = goodbye(cx.side.farewell == Farewell::Exit, &login);
                let bytes = jim_protocol::codec::to_bytes(&bye, cx.env.framing);
                let until = Instant::now() + Duration::from_millis(300);
                let _ = conn.write(&bytes, crate::vocab::Delivery::Whole, until).await;
                if cx.side.await_close {
                    // Wait (briefly) until the server has ended the session, so that the next
                    // case can log in with the same account.
                    let until = Instant::now() + Duration::from_millis(500);
                    while !matches!(
                        conn.next(until).await,
                        Arrival::Closed { .. } | Arrival::Nothing
                    ) {}
                }
            }
            conn.disconnect(DisconnectKind::Close).await;
        }
        None
    }
}

/// The least time a connect gets, even at the end of a step's time.
const MIN_CONNECT: Duration = Duration::from_millis(50);

/// How to replay the case by hand: one `jim-client script` of the fixture's steps up to
/// `upto` (the failing step; all without one), or, when it needs an `$account` or an
/// `$offline_account` the run lacks, one `jim-client send` per connection (the failing
/// connection last).
fn reproduction(
    cx: &Case<'_, ServerSide>,
    failing: Option<&str>,
    upto: Option<usize>,
) -> Vec<crate::i18n::Said> {
    let steps = cx.fx.server_steps().unwrap_or_default();
    let sources: Vec<&Value> =
        steps.iter().filter(|s| upto.is_none_or(|n| s.number <= n)).map(|s| &s.source).collect();
    let text: String = sources.iter().map(|v| v.to_string()).collect();
    let vars = &cx.env.vars;
    let account = match (&vars.account, &vars.password) {
        (Some(u), Some(p)) => Some((u.as_str(), p.as_str())),
        _ => None,
    };
    let uses_account = text.contains("$account") || text.contains("$password");
    let uses_offline = text.contains("$offline_account");
    let offline = vars.offline_account.as_deref().filter(|_| uses_offline);
    let scriptable = (!uses_offline || offline.is_some()) && (!uses_account || account.is_some());
    let (drawn, registered) = vars.drawn();
    if scriptable && !sources.is_empty() {
        let opts = ScriptOptions {
            addr: &cx.side.shown_addr,
            start: cx.side.start.as_deref(),
            framing: cx.env.framing,
            delivery: cx.env.delivery,
            pace: cx.env.pace,
            timeout: cx.env.timeout,
            name: text.contains("$name").then_some(vars.name.as_str()),
            account: account.filter(|_| uses_account || registered),
            registered,
            drawn: &drawn,
            offline,
        };
        return vec![jim_client_script(&sources, &opts)];
    }
    let mut names: Vec<&str> =
        cx.used_conns().iter().map(String::as_str).filter(|c| Some(*c) != failing).collect();
    names.extend(failing.filter(|f| cx.used_conns().iter().any(|c| c == f)));
    let sent: Vec<(&str, &[Sent])> = names
        .into_iter()
        .map(|name| {
            let sent = cx.conns.get(name).and_then(|s| s.conn.as_ref()).map(|c| &c.sent[..]);
            (name, sent.unwrap_or_default())
        })
        .collect();
    let mut lines = jim_client_lines(&sent, &cx.side.shown_addr, cx.env.framing, cx.env.delivery);
    if let Some(first) = lines.first_mut() {
        let start = cx.side.start.as_deref();
        let shown = &cx.side.shown_addr;
        let text = first.clone();
        *first = crate::i18n::Said::each(|l| {
            with_start(start, shown, text.get(l).to_owned()).get(l).to_owned()
        });
    }
    lines
}
