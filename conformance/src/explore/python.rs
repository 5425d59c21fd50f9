//! A standalone Python 3 script (standard library only) that replays a shrunk session and judges
//! it the way the explorer does: exit 1 while the bug is there, 0 once it is fixed, 2 when the
//! server cannot be reached. It is written from the same model expectations as the driver, so it
//! accepts what the driver accepts (string codes, no `time`, any error code where an error is
//! due, list spellings, a missing ack or a room echo where the profile tolerates them) and every
//! wait in it is bounded; silence is proved by a round trip, as in the driver.

use std::fmt::Write as _;

use serde_json::Value;

use super::Reported;
use super::drive::barrier_op;
use super::model::{
    Branch, Dest, Expect, Link, ListCheck, Model, Op, Relay, Reply, Rules, Session, Traits,
};
use super::wire_form;
use crate::wire::Delivery;

const NAME_MARK: char = '\u{1}';
const TIME_MARK: &str = "\u{2}time";

/// A Python string literal for `s` (ASCII source, exact characters).
pub fn py_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(o, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() => o.push(c),
            c if (c as u32) <= 0xffff => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(o, "\\U{:08x}", c as u32);
            }
        }
    }
    o.push('"');
    o
}

/// A Python expression for a JSON value whose names carry [`NAME_MARK`] as their prefix.
fn py_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) if s == TIME_MARK => "time.time()".into(),
        Value::String(s) => py_name(s),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(py_value).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), py_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_name(s: &str) -> String {
    if let Some(rest) = s.strip_prefix(NAME_MARK) {
        format!("N({})", py_str(rest))
    } else if let Some(rest) = s.strip_prefix('#').and_then(|r| r.strip_prefix(NAME_MARK)) {
        format!("R({})", py_str(rest))
    } else {
        py_str(s)
    }
}

fn name(session: &Session, n: usize) -> String {
    format!("N({})", py_str(session.names.get(n).map_or("?", String::as_str)))
}

fn dest(session: &Session, d: Dest) -> String {
    match d {
        Dest::User(n) => name(session, n),
        Dest::Room(r) => format!("R({})", py_str(session.rooms.get(r).map_or("?", String::as_str))),
    }
}

fn relay(session: &Session, r: &Relay) -> String {
    format!(
        "(\"relay\", {}, {}, {}, {})",
        name(session, r.from),
        dest(session, r.to),
        py_str(&r.text),
        r.step + 1
    )
}

/// The Python form of a list check (None: no list).
fn list_check(session: &Session, list: Option<&ListCheck>) -> String {
    let names = |l: &[usize]| l.iter().map(|n| name(session, *n)).collect::<Vec<_>>().join(", ");
    match list {
        None => "None".into(),
        Some(ListCheck::Equals(l)) => format!("(\"equals\", [{}], [])", names(l)),
        Some(ListCheck::Includes { must, never }) => {
            format!("(\"includes\", [{}], [{}])", names(must), names(never))
        }
    }
}

/// The Python form of a round trip's answer, after the request of step `before`.
fn round_trip(session: &Session, r: &Reply, before: usize) -> Option<String> {
    match r {
        Reply::Ok { code, list, .. } => {
            Some(format!("(\"round\", {code}, {}, {before})", list_check(session, list.as_ref())))
        }
        Reply::Refused { codes } if codes.len() == 1 => {
            codes.first().map(|code| format!("(\"round\", {code}, None, {before})"))
        }
        _ => reply(session, r),
    }
}

fn reply(session: &Session, r: &Reply) -> Option<String> {
    Some(match r {
        Reply::Ok { optional: true, .. } | Reply::None | Reply::Eventually => return None,
        Reply::Ok { code, list, .. } => {
            format!("(\"ok\", {code}, {})", list_check(session, list.as_ref()))
        }
        Reply::Refused { .. } => "(\"refused\",)".into(),
        Reply::Either { silent_ok: false, .. } => "(\"either\",)".into(),
        Reply::Either { silent_ok: true, .. } => "(\"either-or-silence\",)".into(),
    })
}

const PRELUDE: &str = r##"import json
import random
import socket
import sys
import time

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 7777
TIMEOUT = __TIMEOUT__  # seconds: every wait of this script is bounded by it
TAG = "".join(random.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(7)) + "_"


def N(name):
    return TAG + name


def R(room):
    return "#" + TAG + room


class Bug(Exception):
    pass


def bug(step, text):
    raise Bug("step %s: %s" % (step, text))


def value_end(buf, start):
    """Index just past the JSON value starting at buf[start], or -1 if incomplete."""
    first = buf[start:start + 1]
    if first not in (b"{", b"[", b'"'):
        for i in range(start, len(buf)):
            if buf[i:i + 1] in (b" ", b"\t", b"\r", b"\n", b"{", b"[", b'"'):
                return i
        return -1
    depth, in_string, i = 0, False, start
    while i < len(buf):
        ch = buf[i:i + 1]
        if in_string:
            if ch == b"\\":
                i += 1
            elif ch == b'"':
                in_string = False
                if depth == 0:
                    return i + 1
        elif ch == b'"':
            in_string = True
        elif ch in (b"{", b"["):
            depth += 1
        elif ch in (b"}", b"]"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


class Conn:
    def __init__(self, label):
        self.label = label
        self.buf = bytearray()
        self.eof = False
        self.pending = []  # optional values it may still receive (an ack, a room echo)
        self.sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, obj, raw=False, pieces=None):
        data = (json.dumps(obj, ensure_ascii=not raw, separators=(",", ":")) + "\n").encode("utf-8")
        self.send_bytes(data, pieces)

    def send_bytes(self, data, pieces=None):
        if pieces == "split":
            cuts = sorted({c for c in (1, len(data) // 2, len(data) - 1) if 0 < c < len(data)})
        elif pieces == "trickle":
            cuts = list(range(1, len(data)))
        else:
            cuts = []
        start = 0
        for end in cuts + [len(data)]:
            self.sock.sendall(data[start:end])
            start = end
            if start < len(data):
                time.sleep(0.015 if pieces == "split" else 0.001)

    def next(self, deadline):
        """('value', v), ('bad', text), ('closed', None) or ('nothing', None) by the deadline."""
        while True:
            while self.buf[:1] in (b" ", b"\t", b"\r", b"\n"):
                del self.buf[:1]
            if self.buf:
                end = value_end(self.buf, 0)
                if end < 0 and self.eof:
                    end = len(self.buf)
                if end >= 0:
                    chunk = bytes(self.buf[:end])
                    del self.buf[:end]
                    try:
                        return "value", json.loads(chunk.decode("utf-8"))
                    except ValueError:
                        return "bad", chunk[:200]
            if self.eof:
                return "closed", None
            left = deadline - time.monotonic()
            if left <= 0:
                return "nothing", None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return "nothing", None
            except OSError:
                data = b""
            if not data:
                self.eof = True
            self.buf += data
            if len(self.buf) > 1 << 20:
                return "bad", b"more than 1 MiB without a complete value"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        self.close()


def code(v):
    if not isinstance(v, dict):
        return None
    if v.get("action") not in (None, "response"):
        return None
    r = v.get("response")
    if isinstance(r, bool):
        return None
    if isinstance(r, int):
        return r
    if isinstance(r, float) and r.is_integer():
        return int(r)
    if isinstance(r, str):
        try:
            return int(r.strip())
        except ValueError:
            return None
    return None


def is_push(v):
    return code(v) == 205 or (isinstance(v, dict) and v.get("action") == "probe")


def first(v, keys):
    for k in keys:
        if isinstance(v.get(k), str):
            return v[k]
    return None


def relay_of(v):
    if not isinstance(v, dict) or v.get("action") not in ("msg", "message"):
        return None
    return (first(v, ("from", "sender")), first(v, ("to", "destination")),
            first(v, ("message", "mess_text", "message_text", "message text")))


def listed(conn, v, deadline):
    for key in ("data_list", "alert", "contact_list", "user_list", "users", "contacts", "message"):
        if isinstance(v.get(key), list):
            return [x if isinstance(x, str) else json.dumps(x) for x in v[key]]
    n = v.get("quantity")
    if isinstance(n, int) and 0 <= n <= 1000:
        names = []
        while len(names) < n:
            kind, item = conn.next(deadline)
            if kind != "value":
                break
            if is_push(item):
                continue
            names.append(first(item, ("user_id", "account_name", "user_login", "contact")))
        return names
    return None


def show(v):
    return json.dumps(v, ensure_ascii=False)[:300].replace(TAG, "")


def describe(want):
    if want[0] == "relay":
        return "the message of step %s from %s to %s: %r" % (want[4], want[1][len(TAG):], want[2].replace(TAG, ""), want[3])
    if want[0] == "ok":
        return "a %s response" % want[1]
    if want[0] == "refused":
        return "an error response (4xx)"
    return "a response"


def judge_reply(step, conn, want, v, deadline):
    c = code(v)
    if want[0] in ("ok", "round"):
        if c != want[1]:
            bug(step, "%s got %s where %s is due: %s" % (conn.label, c, want[1], show(v)))
        if want[2] is not None:
            names = listed(conn, v, deadline)
            if names is None:
                bug(step, "%s: the list response holds no list: %s" % (conn.label, show(v)))
            kind, must, never = want[2]
            if kind == "equals" and (sorted(set(names)) != sorted(set(must)) or len(names) != len(set(names))):
                bug(step, "%s: the list should be exactly %s, it is %s" % (conn.label, [m.replace(TAG, "") for m in must], [x.replace(TAG, "") for x in names]))
            if kind == "includes" and (any(m not in names for m in must) or any(x in names for x in never)):
                bug(step, "%s: the list should hold %s and none of %s; it is %s" % (conn.label, [m.replace(TAG, "") for m in must], [x.replace(TAG, "") for x in never], [x.replace(TAG, "") for x in names]))
        return "accepted"
    if want[0] == "refused":
        if c is None or c < 400:
            bug(step, "%s got %s where an error is due: %s" % (conn.label, c, show(v)))
        return "refused"
    if c is not None and 200 <= c < 300:
        return "accepted"
    if c is not None and c >= 400:
        return "refused"
    bug(step, "%s got %s: neither a success nor an error" % (conn.label, show(v)))


def take_pending(conn, v):
    for i, p in enumerate(conn.pending):
        if (p[0] == "ack" and code(v) is not None and 200 <= code(v) < 300) or \
           (p[0] == "echo" and relay_of(v) == (p[1], p[2], p[3])):
            del conn.pending[i]
            return True
    return False


def expect(step, conn, wants, may_close=False):
    """Reads conn until every wanted value came (any order); returns the reply's outcome."""
    deadline = time.monotonic() + TIMEOUT
    wants = list(wants)
    outcome = None
    while wants:
        kind, v = conn.next(deadline)
        if kind == "nothing":
            if all(w[0] == "either-or-silence" for w in wants):
                return "accepted"
            bug(step, "%s: nothing within %s s; waiting for %s" % (conn.label, TIMEOUT, describe(wants[0])))
        if kind == "closed":
            if may_close and any(w[0] != "relay" for w in wants):
                return "closed"
            bug(step, "the server closed %s's connection; waiting for %s" % (conn.label, describe(wants[0])))
        if kind == "bad":
            bug(step, "%s received bytes that are not JSON: %r" % (conn.label, v))
        if is_push(v):
            continue
        if code(v) is not None:
            replies = [w for w in wants if w[0] != "relay"]
            if replies and replies[0][0] == "round" and code(v) != replies[0][1]:
                # Not the answer to this round trip: a second response to the request before.
                if take_pending(conn, v):
                    continue
                bug(step, "%s: the request of step %s got a second response: %s" % (conn.label, replies[0][3], show(v)))
            if replies:
                outcome = judge_reply(step, conn, replies[0], v, deadline)
                wants.remove(replies[0])
                if outcome == "refused":
                    wants = [w for w in wants if w[0] != "relay"]
                continue
        r = relay_of(v)
        match = [w for w in wants if w[0] == "relay" and r == (w[1], w[2], w[3])]
        if match:
            wants.remove(match[0])
            continue
        if take_pending(conn, v):
            continue
        bug(step, "%s received what nobody sent to it: %s (waiting for %s)" % (conn.label, show(v), describe(wants[0])))
    return outcome


def login_eventually(step, label, conn, presence):
    """A name whose session just ended must be free again within TIMEOUT: retry while refused."""
    deadline = time.monotonic() + TIMEOUT
    pause, last = 0.005, "nothing"
    while True:
        if conn is None:
            conn = Conn(label)
        conn.send(presence)
        kind, v = conn.next(time.monotonic() + TIMEOUT)
        while kind == "value" and is_push(v):
            kind, v = conn.next(time.monotonic() + TIMEOUT)
        c = code(v) if kind == "value" else None
        if c is not None and 200 <= c < 300:
            return conn
        last = show(v) if kind == "value" else kind
        if kind == "nothing":
            break
        conn.close()
        conn = None
        if time.monotonic() + pause >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    bug(step, "the name %s was still refused after %s s: %s" % (presence["user"]["account_name"][len(TAG):], TIMEOUT, last))


def settle(step, conn, request):
    """After a refused presence: a round trip tells whether the server kept the connection."""
    conn.send(request)
    deadline = time.monotonic() + TIMEOUT
    while True:
        kind, v = conn.next(deadline)
        if kind == "closed":
            return False
        if kind == "nothing":
            bug(step, "after the refusal, %s's next request got no answer within %s s and the connection stayed open" % (conn.label, TIMEOUT))
        if kind == "bad":
            bug(step, "%s received bytes that are not JSON: %r" % (conn.label, v))
        if is_push(v) or take_pending(conn, v):
            continue
        if code(v) is not None:
            return True
        bug(step, "%s received what nobody sent to it: %s" % (conn.label, show(v)))


def quit_and_wait(step, conn, request, closes):
    conn.send(request)
    if closes:
        deadline = time.monotonic() + TIMEOUT
        while True:
            kind, v = conn.next(deadline)
            if kind == "closed":
                break
            if kind == "nothing":
                bug(step, "%s sent quit, yet the connection was still open %s s later" % (conn.label, TIMEOUT))
            if kind == "value" and (is_push(v) or code(v) is not None or take_pending(conn, v)):
                continue
            bug(step, "%s received what nobody sent to it: %s" % (conn.label, show(v)))
        conn.close()
    else:
        # This server keeps the connection after quit: it stays open, so that a later login
        # with the same name shows whether the quit itself (not a close) freed the name.
        KEPT_OPEN.append(conn)


KEPT_OPEN = []


def other_path(step, what):
    print("step %s: the server took another allowed path (%s); this scenario no longer applies: no bug shown" % (step, what))
    sys.exit(0)
"##;

/// Writes the script for `found`, found with `traits` and `rules` (a step timeout of
/// `timeout_s`).
pub fn script(
    found: &Reported,
    traits: &Traits,
    rules: &Rules,
    timeout_s: f64,
    seed: u64,
    command: &str,
) -> String {
    let session = &found.session;
    let f = &found.finding;
    let mut o = String::new();
    let _ = writeln!(o, "#!/usr/bin/env python3");
    let _ = writeln!(o, "\"\"\"{}", f.sentence.en.replace('\\', "\\\\").replace("\"\"\"", "'''"));
    let _ = writeln!(o, "{}", f.sentence.ru.replace('\\', "\\\\").replace("\"\"\"", "'''"));
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Found by jim-conformance explore (seed {}, session {}) and shrunk to {} steps;",
        seed,
        found.session_index,
        session.steps.len()
    );
    let _ = writeln!(o, "replay the search with: {command}");
    let _ = writeln!(o);
    let _ = writeln!(o, "Usage: python3 THIS_FILE [HOST] [PORT]   (default 127.0.0.1 7777)");
    let _ = writeln!(
        o,
        "Exit status: 1 while the bug is there, 0 once it is fixed, 2 if the server cannot be reached."
    );
    let _ = writeln!(
        o,
        "Standard library only; every wait is bounded by TIMEOUT; silence is proved by a round trip."
    );
    let _ = writeln!(o, "\"\"\"");
    o.push_str(&PRELUDE.replace("__TIMEOUT__", &format!("{timeout_s:?}")));
    let _ = writeln!(o, "\n\ndef scenario():");
    let _ = writeln!(o, "    c = {{}}");
    let mut model = Model::new(session, rules.clone());
    let tag = NAME_MARK.to_string();
    let time = Value::String(TIME_MARK.into());
    let mut first_connect = true;
    // Each client's last request (its step number), for round trips.
    let mut last_request: Vec<Option<usize>> = vec![None; session.dialects.len()];
    for (i, step) in session.steps.iter().enumerate() {
        if !model.applicable(&step.op) {
            continue;
        }
        // The failing step has no outcome of its own: it is written with the expected one.
        let failing = i == f.step;
        let branch = match found.branches.get(i).copied().flatten() {
            Some(b) => b,
            None if failing => match model.expect(i, &step.op).reply {
                Reply::Refused { .. } => Branch::Refused,
                _ => Branch::Accepted,
            },
            None => continue,
        };
        let k = i + 1;
        let op = &step.op;
        let cl = op.client();
        let label = py_str(&format!("{}", char::from(b'A' + (cl % 26) as u8)));
        let e = model.expect(i, op);
        let _ = writeln!(
            o,
            "    # step {k}: {}",
            super::report::step_words(session, &model, op).en.replace('\n', " ")
        );
        match op {
            Op::Connect { .. } => {
                if first_connect {
                    let _ = writeln!(
                        o,
                        "    try:\n        c[{cl}] = Conn({label})\n    except OSError as e:\n        print(\"cannot reach %s:%s: %s\" % (HOST, PORT, e))\n        sys.exit(2)"
                    );
                    first_connect = false;
                } else {
                    let _ = writeln!(
                        o,
                        "    try:\n        c[{cl}] = Conn({label})\n    except OSError as e:\n        bug({k}, \"a new connection failed: %s\" % e)"
                    );
                }
            }
            Op::Close { .. } | Op::Reset { .. } => {
                let how = if matches!(op, Op::Close { .. }) { "close" } else { "reset" };
                let _ = writeln!(o, "    c[{cl}].{how}()");
                if let Some(w) = model.witness(cl) {
                    // Another client's round trip: the server has taken the close in.
                    let probe = Op::GetContacts { c: w };
                    let pe = model.expect(i, &probe);
                    let req = wire_form::request_at(session, &tag, &model, &probe, time.clone());
                    if let (Some(v), Some(r)) =
                        (req.and_then(|r| r.value), reply(session, &pe.reply))
                    {
                        let _ = writeln!(o, "    c[{w}].send({})", py_value(&v));
                        let _ = writeln!(o, "    expect({k}, c[{w}], [{r}])");
                    }
                    if let Some(slot) = last_request.get_mut(w) {
                        *slot = Some(k);
                    }
                }
            }
            _ => {
                let Some(req) = wire_form::request_at(session, &tag, &model, op, time.clone())
                else {
                    continue;
                };
                let pieces = match step.delivery {
                    Delivery::Whole => "None",
                    Delivery::Split => "\"split\"",
                    Delivery::Trickle => "\"trickle\"",
                };
                let send = match &req.value {
                    Some(v) => format!(
                        "c[{cl}].send({}, raw={}, pieces={pieces})",
                        py_value(v),
                        if req.raw_utf8 { "True" } else { "False" }
                    ),
                    None => {
                        format!("c[{cl}].send_bytes({}, pieces={pieces})", py_bytes(&req.bytes))
                    }
                };
                if let Op::Quit { .. } = op {
                    let v = req.value.as_ref().map(py_value).unwrap_or_default();
                    let _ = writeln!(
                        o,
                        "    quit_and_wait({k}, c[{cl}], {v}, {})",
                        if traits.closes_on_quit { "True" } else { "False" }
                    );
                } else if e.reply == Reply::Eventually {
                    let v = req.value.as_ref().map(py_value).unwrap_or_default();
                    let _ = writeln!(
                        o,
                        "    c[{cl}] = login_eventually({k}, {label}, c.get({cl}), {v})"
                    );
                } else if let Op::Check { .. } = op {
                    let before = last_request.get(cl).copied().flatten().unwrap_or(0);
                    let _ = writeln!(o, "    {send}");
                    if let Some(r) = round_trip(session, &e.reply, before) {
                        let _ = writeln!(o, "    expect({k}, c[{cl}], [{r}])");
                    }
                } else {
                    let _ = writeln!(o, "    {send}");
                    emit_effects(&mut o, session, &e, cl, k, branch);
                    if let Some(kind) =
                        traits.barrier.filter(|_| e.unobserved() && branch != Branch::Closed)
                    {
                        // As the explorer does: nothing showed this request processed, so a
                        // round trip does before another client acts.
                        let probe = barrier_op(kind, cl);
                        let pe = model.expect(i, &probe);
                        if let (Some(v), Some(r)) = (
                            wire_form::request_at(session, &tag, &model, &probe, time.clone())
                                .and_then(|r| r.value),
                            round_trip(session, &pe.reply, k),
                        ) {
                            let _ = writeln!(o, "    c[{cl}].send({})", py_value(&v));
                            let _ = writeln!(o, "    expect({k}, c[{cl}], [{r}])");
                        }
                    }
                    let settles = traits.barrier.filter(|_| branch == Branch::Refused);
                    match (op, settles) {
                        (Op::Presence { .. }, Some(kind)) => {
                            // As the explorer does: a round trip tells whether the server kept
                            // the connection after the refusal.
                            let probe = barrier_op(kind, cl);
                            if let Some(v) =
                                wire_form::request_at(session, &tag, &model, &probe, time.clone())
                                    .and_then(|r| r.value)
                            {
                                let _ = writeln!(
                                    o,
                                    "    if not settle({k}, c[{cl}], {}):\n        other_path({k}, \"the server closed the connection after the refusal\")",
                                    py_value(&v)
                                );
                            }
                        }
                        (Op::Presence { .. }, None) if branch != Branch::Accepted => {
                            let _ = writeln!(o, "    c[{cl}].close()");
                        }
                        (Op::Bad { .. }, _) if rules.close_on_bad => {
                            let _ = writeln!(o, "    c[{cl}].close()");
                        }
                        _ => {}
                    }
                }
                if let Some(slot) = last_request.get_mut(cl) {
                    *slot = Some(k);
                }
            }
        }
        if failing {
            break;
        }
        model.commit(i, op, branch);
    }
    if f.step >= session.steps.len() {
        if let Some(kind) = traits.barrier {
            let _ = writeln!(
                o,
                "    # at the end: every logged-in client checks with a round trip that nothing else is on its way"
            );
            let k = session.steps.len() + 1;
            for cl in 0..session.dialects.len() {
                if model.client(cl).is_none_or(|s| s.link == Link::Down) {
                    continue;
                }
                let op = barrier_op(kind, cl);
                let e = model.expect(k - 1, &op);
                if let Some(req) = wire_form::request_at(session, &tag, &model, &op, time.clone()) {
                    if let Some(v) = &req.value {
                        let _ = writeln!(o, "    c[{cl}].send({})", py_value(v));
                    }
                    if let Some(r) = reply(session, &e.reply) {
                        let _ = writeln!(o, "    expect({k}, c[{cl}], [{r}])");
                    }
                }
            }
        }
    }
    let _ = writeln!(o, "\n\nif __name__ == \"__main__\":");
    let _ = writeln!(
        o,
        "    try:\n        scenario()\n    except Bug as e:\n        print(\"BUG: %s\" % e)\n        print({})\n        print({})\n        sys.exit(1)\n    except OSError as e:\n        print(\"BUG: the connection failed: %s\" % e)\n        sys.exit(1)",
        py_str(&format!("explore found: {}", f.sentence.en)),
        py_str(&format!("explore нашёл: {}", f.sentence.ru))
    );
    let _ = writeln!(
        o,
        "    print(\"no bug shown: every step got what the protocol requires\")\n    sys.exit(0)"
    );
    o
}

fn py_bytes(b: &[u8]) -> String {
    let mut o = String::from("b\"");
    for byte in b {
        match byte {
            b'"' => o.push_str("\\\""),
            b'\\' => o.push_str("\\\\"),
            b'\n' => o.push_str("\\n"),
            0x20..=0x7e => o.push(char::from(*byte)),
            _ => {
                let _ = write!(o, "\\x{byte:02x}");
            }
        }
    }
    o.push('"');
    o
}

fn emit_effects(
    o: &mut String,
    session: &Session,
    e: &Expect,
    cl: usize,
    k: usize,
    branch: Branch,
) {
    let mut mine: Vec<String> =
        e.relays.iter().filter(|r| r.at == cl).map(|r| relay(session, r)).collect();
    if let Reply::Ok { optional: true, .. } = e.reply {
        let _ = writeln!(o, "    c[{cl}].pending.append((\"ack\",))");
    }
    if let Some(echo) = &e.echo {
        let _ = writeln!(
            o,
            "    c[{cl}].pending.append((\"echo\", {}, {}, {}))",
            name(session, echo.from),
            dest(session, echo.to),
            py_str(&echo.text)
        );
    }
    if let Some(r) = reply(session, &e.reply) {
        mine.push(r);
    }
    let may_close = if e.may_close { ", may_close=True" } else { "" };
    if !mine.is_empty() {
        let _ = writeln!(o, "    got = expect({k}, c[{cl}], [{}]{may_close})", mine.join(", "));
        if let Reply::Either { .. } = e.reply {
            let (want, other) = match branch {
                Branch::Accepted => ("(\"accepted\",)", "it refused"),
                Branch::Refused | Branch::Closed => ("(\"refused\", \"closed\")", "it accepted"),
            };
            let _ = writeln!(
                o,
                "    if got not in {want}:\n        other_path({k}, {})",
                py_str(other)
            );
        }
    }
    if branch == Branch::Accepted || matches!(e.reply, Reply::Ok { .. }) {
        let mut at: Vec<usize> = e.relays.iter().map(|r| r.at).filter(|a| *a != cl).collect();
        at.dedup();
        for a in at {
            let wants: Vec<String> =
                e.relays.iter().filter(|r| r.at == a).map(|r| relay(session, r)).collect();
            let _ = writeln!(o, "    expect({k}, c[{a}], [{}])", wants.join(", "));
        }
    }
}
