//! The `jim-client` commands that replay what a case sent, one per connection, printed with a
//! failure so that a student can reproduce it by hand (`tests/reproduce.rs` runs every one).

use jim_protocol::Framing;

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
