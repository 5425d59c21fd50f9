//! The `jim-client` commands printed with a failure so that a student can reproduce it by hand
//! (`tests/it/reproduce.rs` runs every one against the defect it shows and against the
//! reference). A server-mode case is one `jim-client script`: the fixture's own steps up to the
//! one that failed, run by this crate's executor with the case's delivery mode, so that it
//! replays every connection in order and checks every reply (exit 1 at the first mismatch,
//! showing it); sequential one-shot sends cannot replay a case that needs two clients at once.
//! A case whose logins are registered accounts drawn from `--accounts` names them
//! (`--account LABEL:LEN=NAME:KEY`, the course key derived from the password, so the password
//! is not printed). A case whose `$account` or `$offline_account` the run lacks gets one
//! `jim-client send` per connection, as client mode does. A target the run started is shown with the command that starts it on a fixed
//! port, not with the port it had during the run.

use jim_protocol::Framing;
use serde_json::Value;

use crate::vocab::Delivery;
use crate::wire::Sent;

/// Longest message a reproduction spells out.
const MAX_REPRODUCED: usize = 2000;

/// `s` quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// One `jim-client send` line per connection that sent something, in the order given (the
/// failing connection last); with more than one connection each line says which it is.
/// `addr` is `HOST:PORT` as shown to the user.
pub fn jim_client_lines(
    conns: &[(&str, &[Sent])],
    addr: &str,
    framing: Framing,
    delivery: Delivery,
) -> Vec<crate::i18n::Said> {
    let mut out = Vec::new();
    for (name, sent) in conns {
        if sent.is_empty() {
            continue;
        }
        let mut cmd = format!("jim-client send {}", addr.replace(':', " "));
        if framing == Framing::Bare {
            cmd.push_str(" --framing bare");
        }
        match delivery {
            Delivery::Whole => {}
            Delivery::Split => cmd.push_str(" --split 7"),
            Delivery::Trickle => cmd.push_str(" --trickle 5"),
        }
        for item in *sent {
            let (flag, text) = match item {
                Sent::Json(v) => ("", v.to_string()),
                Sent::Raw(r) => ("--raw ", r.clone()),
            };
            if text.len() > MAX_REPRODUCED {
                // What comes before runs as printed; the long message is named, not spelled.
                cmd.push_str(&format!(" # then a {}-byte message: see the fixture", text.len()));
                break;
            }
            cmd.push(' ');
            cmd.push_str(flag);
            cmd.push_str(&quote(&text));
        }
        out.push(if conns.len() > 1 {
            crate::i18n::Said::new(
                format!("# connection {name}\n{cmd}"),
                format!("# соединение {name}\n{cmd}"),
            )
        } else {
            cmd.into()
        });
    }
    out
}

/// The port a reproduction of a target the run started shows: the JIM course default.
pub const REPRODUCTION_PORT: u16 = 7777;

/// What a `jim-client script` reproduction needs besides the steps.
#[derive(Debug, Clone)]
pub struct ScriptOptions<'a> {
    /// `HOST:PORT` as shown to the user.
    pub addr: &'a str,
    /// How to start the target so that it listens there (None: it is already running).
    pub start: Option<&'a str>,
    /// What follows each JSON message.
    pub framing: Framing,
    /// How requests are written.
    pub delivery: Delivery,
    /// How far apart the pieces are written (the target's loop turn, as the run measured it).
    pub pace: crate::wire::Pace,
    /// The wait for each expectation.
    pub timeout: std::time::Duration,
    /// `$name`, when it is not the script's default (Guest).
    pub name: Option<&'a str>,
    /// `$account` and `$password` (`--user`, `--password`), when the steps use them.
    pub account: Option<(&'a str, &'a str)>,
    /// `$account` is a registered account drawn from `--accounts` (its presences carry a
    /// pubkey).
    pub registered: bool,
    /// The registered accounts drawn for the case's `$user:LABEL` names: `(LABEL:LEN, name,
    /// course key)`.
    pub drawn: &'a [(String, String, String)],
    /// `$offline_account` (`--offline-user`), when the steps use it.
    pub offline: Option<&'a str>,
}

/// One `jim-client script` that runs `steps` (as written in the fixture), printed as a
/// `printf` of one quoted line per step piped into it: it survives the report's indentation
/// and runs as pasted in any POSIX shell.
pub fn jim_client_script(steps: &[&Value], o: &ScriptOptions<'_>) -> crate::i18n::Said {
    let mut cmd = String::from("jim-client script");
    if o.framing == Framing::Bare {
        cmd.push_str(" --framing bare");
    }
    if o.delivery != Delivery::Whole {
        cmd.push_str(&format!(" --delivery {}", o.delivery.as_str()));
    }
    if o.pace.is_adapted() {
        // `--turn` gives back the pace: pieces 1.5 turns apart.
        cmd.push_str(&format!(" --turn {}", o.pace.split.as_millis() * 2 / 3));
    }
    let secs = o.timeout.as_secs_f64();
    if (secs - 3.0).abs() > f64::EPSILON {
        cmd.push_str(&format!(" --timeout {secs}"));
    }
    if let Some(name) = o.name.filter(|n| *n != "Guest") {
        cmd.push_str(&format!(" --name {}", quote(name)));
    }
    if let Some((user, password)) = o.account {
        cmd.push_str(&format!(" --user {} --password {}", quote(user), quote(password)));
        if o.registered {
            cmd.push_str(" --registered");
        }
    }
    if let Some(offline) = o.offline {
        cmd.push_str(&format!(" --offline-user {}", quote(offline)));
    }
    for (slot, name, key) in o.drawn {
        cmd.push_str(&format!(" --account {}", quote(&format!("{slot}={name}:{key}"))));
    }
    cmd.push_str(&format!(" {} -", o.addr.replace(':', " ")));
    let mut body = String::from("printf '%s\\n'");
    for step in steps {
        // A step's note is for the report; the script's own failure line says enough.
        let mut step = (*step).clone();
        if let Some(o) = step.as_object_mut() {
            o.remove("note");
        }
        body.push_str(" \\\n  ");
        body.push_str(&quote(&step.to_string()));
    }
    body.push_str(" |\n");
    body.push_str(&cmd);
    with_start(o.start, o.addr, body)
}

/// `text` after a comment line that says how to start the target, if the run started it.
pub fn with_start(start: Option<&str>, addr: &str, text: String) -> crate::i18n::Said {
    match start {
        None => text.into(),
        Some(start) => crate::i18n::Said::new(
            format!("# start the server first, listening on {addr}: {start}\n{text}"),
            format!("# сначала запустите сервер, чтобы он слушал {addr}: {start}\n{text}"),
        ),
    }
}
