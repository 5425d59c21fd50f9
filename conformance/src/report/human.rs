//! The report for people: a summary card, one line per case, the details of every failure
//! (step, what was sent, every acceptable alternative, what arrived, why, the hint, and a
//! `jim-client` command that replays it), then the totals. Colour only on a terminal and never
//! with `NO_COLOR`.

use std::fmt::Write as _;

use jim_protocol::terminal::{is_unsafe_on_terminal, terminal_safe};

use super::{CaseResult, Impact, LivenessState, Report, Verdict};
use crate::i18n::{Kept, Label, Lang, LangExt, Msg};
use crate::matcher::show;
use crate::vocab::TargetKind;
use crate::wire::{Delivery, Sent};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// Language.
    pub lang: Lang,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn detect(lang: Lang) -> Self {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color: std::io::stdout().is_terminal() && !no_color, lang }
    }

    /// `text` as it may reach a terminal: every control, bidi override and other character
    /// [`is_unsafe_on_terminal`] lists is escaped (`\u{9b}`), whoever wrote it (a target's
    /// reply, output tail or name; issue 16 item 8), except line breaks and, with colour on,
    /// the `ESC [ digits m` colour sequences [`Style::paint`] itself writes.
    fn finish(&self, text: String) -> String {
        if !text.chars().any(|c| c != '\n' && is_unsafe_on_terminal(c)) {
            return text;
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut rest = text.as_str();
        while let Some(c) = rest.chars().next() {
            if self.color && c == '\x1b' {
                if let Some((sgr, after)) = sgr_len(rest).and_then(|n| rest.split_at_checked(n)) {
                    out.push_str(sgr);
                    rest = after;
                    continue;
                }
            }
            if c != '\n' && is_unsafe_on_terminal(c) {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
            rest = rest.get(c.len_utf8()..).unwrap_or_default();
        }
        out
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }
}

/// Length of the colour sequence `ESC [ 0-9; m` (at most 8 parameter bytes) at the start of
/// `s`, the only escape sequence the report writes.
fn sgr_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.get(..2) != Some(b"\x1b[") {
        return None;
    }
    let params = b[2..].iter().take(9).take_while(|c| c.is_ascii_digit() || **c == b';').count();
    (params <= 8 && b.get(2 + params) == Some(&b'm')).then_some(3 + params)
}

fn verdict_color(v: Verdict, impact: Impact) -> &'static str {
    match (v, impact) {
        (Verdict::Pass, _) => "32",
        (Verdict::PassLenient, _) => "36",
        (_, Impact::Failure) => "1;31",
        (Verdict::Fail, _) => "33",
        (Verdict::Error, _) => "1;35",
        _ => "2",
    }
}

/// The summary card (target, detection, profile, options).
pub fn card(r: &Report, s: Style) -> String {
    let l = s.lang;
    let mut o = String::new();
    let _ = writeln!(o, "{}", s.paint("1", &r.tool));
    let _ = writeln!(o, "  {:<13}{}", l.label(Label::Target), r.target.description.get(l));
    let d = &r.detected;
    let _ = writeln!(o, "  {:<13}{}", l.label(Label::Detected), detected(r, l).join(", "));
    for n in &d.notes {
        let _ = writeln!(o, "  {:<13}{}", "", s.paint("33", n.get(l)));
    }
    let _ = writeln!(
        o,
        "  {:<13}{}{}{}; {} {}",
        l.label(Label::Profile),
        r.profile.name,
        if r.profile.auto {
            l.pick(" (auto)", " (выбран автоматически)")
        } else {
            ""
        },
        if r.profile.strict { l.pick(", strict", ", строго") } else { "" },
        l.label(Label::Name),
        r.profile.name_used.get(l)
    );
    let tol: Vec<&str> = r.profile.tolerances.keys().map(|t| t.as_str()).collect();
    let tol = if tol.is_empty() { l.label(Label::None).to_owned() } else { tol.join(", ") };
    let _ = writeln!(o, "  {:<13}{tol}", l.label(Label::Tolerances));
    let options = Msg::OptionsLine {
        timeout_secs: r.options.timeout_ms as f64 / 1000.0,
        deadline_secs: r.options.deadline_ms / 1000,
        jobs: r.options.jobs,
        delivery: r.options.delivery.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","),
        framing: r.options.framing.clone(),
    };
    let _ = writeln!(o, "  {:<13}{}", l.label(Label::Options), l.say(&options));
    s.finish(o)
}

/// What the first contact found, in words.
fn detected(r: &Report, l: Lang) -> Vec<String> {
    let d = &r.detected;
    if !d.reachable {
        return vec![
            d.connect_error
                .as_ref()
                .map_or_else(|| l.say(&Msg::Unreachable), |e| e.get(l).to_owned()),
        ];
    }
    let client = r.target.kind == TargetKind::Client;
    let kept = match (d.one_shot, client) {
        (Some(true), false) => Kept::OneShotServer,
        (Some(false), false) => Kept::PersistentServer,
        (None, false) => Kept::ServerUnknown,
        (Some(true), true) => Kept::OneShotClient,
        (Some(false), true) => Kept::InteractiveClient,
        (None, true) => Kept::ClientUnknown,
    };
    let mut det = vec![
        l.say(&Msg::Kept(kept)),
        l.say(&Msg::DialectIs(d.dialect)),
        l.say(&Msg::FramingIs(d.framing)),
    ];
    if let Some(t) = d.replies_have_time {
        det.push(l.say(&Msg::RepliesTime(t)));
    }
    if d.guest_only {
        det.push(l.say(&Msg::GuestOnly));
    }
    det
}

/// One line for a case, plus the failure details when it failed.
pub fn case(c: &CaseResult, s: Style) -> String {
    let mut o = String::new();
    let name = if c.delivery == Delivery::Whole {
        c.id.clone()
    } else {
        format!("{} [{}]", c.id, c.delivery.as_str())
    };
    let tag = format!("{:<15}", c.verdict.as_str().to_uppercase());
    let level = if matches!(c.verdict, Verdict::Fail | Verdict::Error) {
        format!("({}) ", c.level.as_str())
    } else {
        String::new()
    };
    let mut extra = String::new();
    if let Some(live) = c.liveness.as_ref() {
        let word = match live.state {
            LivenessState::Survived => Some(Label::ServerSurvived),
            LivenessState::Died => Some(Label::ServerDied),
            LivenessState::Zombie => Some(Label::ServerZombie),
            LivenessState::NotChecked => None,
        };
        if let Some(word) = word {
            extra.push_str(&format!("  [{}]", s.lang.label(word)));
        }
    }
    if !c.tolerances.is_empty() {
        extra.push_str(&format!("  [{}]", crate::vocab::join(&c.tolerances)));
    } else if matches!(
        c.verdict,
        Verdict::Unimplemented
            | Verdict::Skip
            | Verdict::ExpectedFail
            | Verdict::UnexpectedPass
            | Verdict::NotRun
    ) {
        extra.push_str(&format!("  ({})", c.reason.as_ref().map_or("", |r| r.get(s.lang))));
    }
    let _ = writeln!(
        o,
        "{} {level}{name}  {}{}",
        s.paint(verdict_color(c.verdict, c.impact), &tag),
        s.paint("2", c.title.get(s.lang)),
        extra
    );
    if matches!(c.verdict, Verdict::Fail | Verdict::Error | Verdict::UnexpectedPass) {
        o.push_str(&details(c, s));
    }
    s.finish(o)
}

/// A label padded to the details column ("" for a continuation line); a label longer than
/// the column still gets a space before its value.
fn pad(l: Lang, label: Option<Label>) -> String {
    match label {
        None => " ".repeat(15),
        Some(label) => format!("    {:<10} ", format!("{}:", l.label(label))),
    }
}

/// Lines with a label on the first one only.
fn labelled<'a>(o: &mut String, l: Lang, label: Label, lines: impl IntoIterator<Item = &'a str>) {
    for (i, line) in lines.into_iter().enumerate() {
        let head = pad(l, (i == 0).then_some(label));
        let _ = writeln!(o, "{head}{line}");
    }
}

/// The failing step: where, what was sent, what was expected, what arrived, why.
fn failure(o: &mut String, c: &CaseResult, f: &crate::case::Failure, s: Style) {
    let l = s.lang;
    let note = f.note.as_ref().map(|n| format!(" — {}", l.text(n))).unwrap_or_default();
    // Explored failures cite no spec section: no empty list before the connection.
    let spec = if c.spec.is_empty() { String::new() } else { format!("{}, ", c.spec.join(" ")) };
    let _ = writeln!(
        o,
        "{}{} {} ({spec}{}: {}){note}",
        pad(l, Some(Label::Step)),
        f.step,
        f.action,
        l.pick("conn", "соединение"),
        f.conn
    );
    let sent: Vec<String> = f
        .sent
        .iter()
        .map(|item| match item {
            Sent::Json(v) => show(v, 300),
            Sent::Raw(r) => format!(
                "{}: {}",
                l.pick("raw", "байты как есть"),
                r.chars().take(300).collect::<String>()
            ),
        })
        .collect();
    if sent.is_empty() {
        labelled(o, l, Label::Sent, [l.label(Label::NothingSentYet)]);
    }
    labelled(o, l, Label::Sent, sent.iter().map(String::as_str));
    for (i, e) in f.expected.iter().enumerate() {
        let label = if i == 0 { Label::Expected } else { Label::Or };
        let _ = writeln!(o, "{}{}", pad(l, Some(label)), show(e, 300));
    }
    let _ =
        writeln!(o, "{}{}", pad(l, Some(Label::Arrived)), s.paint("31", &f.arrived.describe(l)));
    for m in &f.mismatches {
        let _ = writeln!(o, "{}{}", pad(l, Some(Label::Why)), m.get(l));
    }
    if !f.would_need.is_empty() {
        let needed = crate::vocab::join(&f.would_need);
        let _ = writeln!(o, "{}{needed}", pad(l, Some(Label::WouldPassWith)));
    }
}

fn details(c: &CaseResult, s: Style) -> String {
    let l = s.lang;
    let mut o = String::new();
    if let Some(f) = &c.failure {
        failure(&mut o, c, f, s);
    }
    if let (Some(reason), true) = (&c.reason, c.failure.is_none() || c.verdict == Verdict::Fail) {
        if c.failure.is_none() || reason.contains("server") {
            let _ = writeln!(o, "{}{}", pad(l, Some(Label::Reason)), reason.get(l));
        }
    }
    if let Some(note) = &c.mode_note {
        let _ = writeln!(o, "{}{}", pad(l, Some(Label::Delivery)), s.paint("33", l.text(note)));
    }
    if let Some(live) = c
        .liveness
        .as_ref()
        .filter(|l| !matches!(l.state, LivenessState::NotChecked | LivenessState::Survived))
    {
        let state = match (live.state, l) {
            (LivenessState::Zombie, Lang::Ru) => "зомби",
            (_, Lang::Ru) => "упал",
            (state, Lang::En) => state.as_str(),
        };
        let detail = l.text(&live.detail);
        let _ = writeln!(o, "{}{state}: {detail}", pad(l, Some(Label::Liveness)));
        if let Some(out) = &live.output {
            let lines: Vec<String> =
                out.lines().map(|x| terminal_safe(x).chars().take(200).collect()).collect();
            let skip = lines.len().saturating_sub(15);
            labelled(&mut o, l, Label::ServerOutput, lines.iter().skip(skip).map(String::as_str));
        }
    }
    if let Some(p) = &c.process {
        let _ = writeln!(o, "{}{} ({})", pad(l, Some(Label::Client)), p.command, p.exit.get(l));
        for (label, text) in [(Label::Stdout, &p.stdout), (Label::Stderr, &p.stderr)] {
            let lines: Vec<String> = text.lines().map(|l| l.chars().take(200).collect()).collect();
            let skip = lines.len().saturating_sub(12);
            labelled(&mut o, l, label, lines.iter().skip(skip).map(String::as_str));
        }
    }
    let skip = c.transcript.len().saturating_sub(12);
    let lines: Vec<String> = c
        .transcript
        .iter()
        .skip(skip)
        .map(|line| {
            let text: String = line.text.get(l).chars().take(160).collect();
            format!("{:>5} ms {} {} {text}", line.ms, line.conn, line.dir)
        })
        .collect();
    labelled(&mut o, l, Label::Transcript, lines.iter().map(String::as_str));
    labelled(&mut o, l, Label::Hint, l.text(&c.hint).lines());
    if let Some(f) = &c.failure {
        labelled(
            &mut o,
            l,
            Label::Reproduce,
            f.reproduce.iter().flat_map(|cmd| cmd.get(l).lines()),
        );
    }
    o
}

/// Cases that fail the run, counted.
const FAILING: jim_text::Noun = jim_text::Noun {
    en: ["failing the run", "failing the run"],
    ru: ["провал", "провала", "провалов"],
};

/// Cases that only warn, counted.
const WARNINGS: jim_text::Noun = jim_text::Noun {
    en: ["warning", "warnings"],
    ru: ["предупреждение", "предупреждения", "предупреждений"],
};

/// Totals and the exit code.
pub fn summary(r: &Report, s: Style) -> String {
    let l = s.lang;
    let mut o = String::new();
    if !r.events.is_empty() {
        let events: Vec<&str> = r.events.iter().map(|e| e.get(l)).collect();
        let _ = writeln!(o, "{}: {}", l.label(Label::Events), events.join("; "));
    }
    let caps: Vec<String> =
        r.capabilities.iter().map(|(k, v)| format!("{k}={}", v.state)).collect();
    if !caps.is_empty() {
        let _ = writeln!(o, "{}: {}", l.label(Label::Capabilities), caps.join(", "));
    }
    let failed: Vec<&CaseResult> =
        r.cases.iter().filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error)).collect();
    let at_login =
        failed.iter().filter(|c| c.failure.as_ref().is_some_and(|f| f.at_login())).count();
    if failed.len() >= 4 && at_login * 2 >= failed.len() {
        let basic_passed = r.cases.iter().any(|c| c.id == "presence/basic" && c.verdict.passed());
        let _ = writeln!(o, "{}", s.paint("33", &l.say(&Msg::MostFailedAtLogin { basic_passed })));
    }
    let counts: Vec<String> = r.summary.verdicts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    if counts.is_empty() {
        // The run stopped before any case (no accounts, an unreachable target).
        let none = match l {
            Lang::Ru => "ни один случай не запускался",
            _ => "no case was run",
        };
        let _ = writeln!(o, "{}: {none}", s.paint("1", l.label(Label::Summary)));
    } else {
        let _ = writeln!(
            o,
            "{}: {} {}: {}; {}, {}",
            s.paint("1", l.label(Label::Summary)),
            r.summary.selected,
            l.label(Label::Selected),
            counts.join(", "),
            FAILING.count(l, r.summary.failures as u64),
            WARNINGS.count(l, r.summary.warnings as u64),
        );
    }
    if let Some(not_run) = &r.summary.not_run {
        let _ = writeln!(o, "{}", s.paint("33", l.text(not_run)));
    }
    let duration = Msg::DurationLine {
        secs: r.duration_ms as f64 / 1000.0,
        code: r.exit_code,
        reason: r.exit_reason.get(l).to_owned(),
    };
    if let Some(cause) = &r.summary.root_cause {
        let first = match l {
            Lang::Ru => "Исправьте сначала",
            _ => "Fix this first",
        };
        let _ = writeln!(o, "{}: {}", s.paint("1", first), terminal_safe(l.text(cause)));
    }
    let _ = writeln!(o, "{}", l.say(&duration));
    if r.exit_code != 0 {
        if let Some(out) = &r.target_output {
            let tail: Vec<&str> = out.lines().rev().take(15).collect();
            let (what, last) = (l.label(Label::ServerOutput), l.label(Label::LastLines));
            let _ = writeln!(o, "{what} ({last}):");
            for line in tail.into_iter().rev() {
                let _ = writeln!(o, "  {line}");
            }
        }
    }
    s.finish(o)
}

/// The whole report at once.
pub fn render(r: &Report, s: Style) -> String {
    let mut o = card(r, s);
    o.push('\n');
    for c in &r.cases {
        o.push_str(&case(c, s));
    }
    o.push('\n');
    o.push_str(&summary(r, s));
    o
}
