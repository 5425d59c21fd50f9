//! The report for people: a summary card, one line per case, the details of every failure
//! (step, what was sent, every acceptable alternative, what arrived, why, the hint, and a
//! `jim-client` command that replays it), then the totals. Colour only on a terminal and never
//! with `NO_COLOR`.

use std::fmt::Write as _;

use super::{CaseResult, Impact, LivenessState, Report, Verdict};
use crate::i18n::Lang;
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

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }
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
    let _ = writeln!(o, "  {:<13}{}", l.t("target"), r.target.description);
    let d = &r.detected;
    let mut det = Vec::new();
    if !d.reachable {
        det.push(d.connect_error.clone().unwrap_or_else(|| "unreachable".into()));
    } else {
        let client = r.target.kind == TargetKind::Client;
        det.push(match (d.one_shot, client) {
            (Some(true), false) => "one-shot (closes after one reply)".to_owned(),
            (Some(false), false) => "persistent connection".to_owned(),
            (None, false) => "connection kept? unknown".to_owned(),
            (Some(true), true) => "one-shot (exits after its reply)".to_owned(),
            (Some(false), true) => "interactive (stays after its reply)".to_owned(),
            (None, true) => "one-shot or interactive? unknown".to_owned(),
        });
        det.push(format!("dialect {}", d.dialect));
        det.push(format!("{} framing", d.framing));
        if let Some(t) = d.replies_have_time {
            det.push(if t { "replies carry time".into() } else { "replies without time".into() });
        }
        if d.guest_only {
            det.push("Guest-only".into());
        }
    }
    let _ = writeln!(o, "  {:<13}{}", l.t("detected"), det.join(", "));
    for n in &d.notes {
        let _ = writeln!(o, "  {:<13}{}", "", s.paint("33", n));
    }
    let _ = writeln!(
        o,
        "  {:<13}{}{}{}; name {}",
        l.t("profile"),
        r.profile.name,
        if r.profile.auto { " (auto)" } else { "" },
        if r.profile.strict { ", strict" } else { "" },
        r.profile.name_used
    );
    let tol: Vec<&str> = r.profile.tolerances.keys().map(|t| t.as_str()).collect();
    let _ = writeln!(
        o,
        "  {:<13}{}",
        l.t("tolerances"),
        if tol.is_empty() { "none".into() } else { tol.join(", ") }
    );
    let _ = writeln!(
        o,
        "  {:<13}timeout {} s per step, deadline {} s, jobs {}, delivery {}, framing {}",
        "options",
        r.options.timeout_ms as f64 / 1000.0,
        r.options.deadline_ms / 1000,
        r.options.jobs,
        r.options.delivery.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(","),
        r.options.framing
    );
    o
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
    if let Some(live) = c.liveness.as_ref().filter(|l| l.state != LivenessState::NotChecked) {
        let word = match (live.state, s.lang.is_ru()) {
            (LivenessState::Survived, false) => "server survived",
            (LivenessState::Survived, true) => "сервер выжил",
            (LivenessState::Died, false) => "server DIED",
            (LivenessState::Died, true) => "сервер УПАЛ",
            (LivenessState::Zombie, false) => "server became a ZOMBIE",
            (LivenessState::Zombie, true) => "сервер стал ЗОМБИ",
            (LivenessState::NotChecked, _) => "",
        };
        extra.push_str(&format!("  [{word}]"));
    }
    if !c.tolerances.is_empty() {
        extra.push_str(&format!("  [{}]", crate::vocab::join(&c.tolerances)));
    } else if matches!(
        c.verdict,
        Verdict::Unimplemented | Verdict::Skip | Verdict::ExpectedFail | Verdict::UnexpectedPass
    ) {
        extra.push_str(&format!("  ({})", c.reason.clone().unwrap_or_default()));
    }
    let _ = writeln!(
        o,
        "{} {level}{name}  {}{}",
        s.paint(verdict_color(c.verdict, c.impact), &tag),
        s.paint("2", &c.title),
        extra
    );
    if matches!(c.verdict, Verdict::Fail | Verdict::Error | Verdict::UnexpectedPass) {
        o.push_str(&details(c, s));
    }
    o
}

fn details(c: &CaseResult, s: Style) -> String {
    let l = s.lang;
    let mut o = String::new();
    let pad = |label: &str| {
        if label.is_empty() { " ".repeat(15) } else { format!("    {:<11}", format!("{label}:")) }
    };
    if let Some(f) = &c.failure {
        let note = f.note.as_ref().map(|n| format!(" — {}", n.get(l.is_ru()))).unwrap_or_default();
        let _ = writeln!(
            o,
            "{}{} {} ({}, conn: {}){note}",
            pad(l.t("step")),
            f.step,
            f.action,
            c.spec.join(" "),
            f.conn
        );
        if f.sent.is_empty() {
            let _ = writeln!(o, "{}{}", pad(l.t("sent")), l.t("nothing was sent yet"));
        }
        for (i, item) in f.sent.iter().enumerate() {
            let label = if i == 0 { pad(l.t("sent")) } else { pad("") };
            let text = match item {
                Sent::Json(v) => show(v, 300),
                Sent::Raw(r) => format!("raw: {}", r.chars().take(300).collect::<String>()),
            };
            let _ = writeln!(o, "{label}{text}");
        }
        for (i, e) in f.expected.iter().enumerate() {
            let label = if i == 0 { pad(l.t("expected")) } else { pad(l.t("or")) };
            let _ = writeln!(o, "{label}{}", show(e, 300));
        }
        let _ = writeln!(o, "{}{}", pad(l.t("arrived")), s.paint("31", &f.arrived.describe(l)));
        for m in &f.mismatches {
            let _ = writeln!(o, "{}{m}", pad(l.t("why")));
        }
        if !f.would_need.is_empty() {
            let _ = writeln!(
                o,
                "{}{}",
                pad(l.t("would pass with tolerance")),
                crate::vocab::join(&f.would_need)
            );
        }
    }
    if let (Some(reason), true) = (&c.reason, c.failure.is_none() || c.verdict == Verdict::Fail) {
        if c.failure.is_none() || reason.contains("server") {
            let _ = writeln!(o, "{}{}", pad("reason"), reason);
        }
    }
    if let Some(note) = &c.mode_note {
        let _ = writeln!(o, "{}{}", pad(l.t("delivery")), s.paint("33", note.get(l.is_ru())));
    }
    if let Some(live) = c
        .liveness
        .as_ref()
        .filter(|l| !matches!(l.state, LivenessState::NotChecked | LivenessState::Survived))
    {
        let _ = writeln!(
            o,
            "{}{}: {}",
            pad(l.t("liveness")),
            live.state.as_str(),
            live.detail.get(l.is_ru())
        );
    }
    if let Some(p) = &c.process {
        let _ = writeln!(o, "{}{} ({})", pad(l.t("client")), p.command, p.exit);
        for (label, text) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
            let lines: Vec<&str> = text.lines().collect();
            let skip = lines.len().saturating_sub(12);
            for (i, line) in lines.iter().skip(skip).enumerate() {
                let head = if i == 0 { pad(label) } else { pad("") };
                let line: String = line.chars().take(200).collect();
                let _ = writeln!(o, "{head}{line}");
            }
        }
    }
    if !c.transcript.is_empty() {
        let skip = c.transcript.len().saturating_sub(12);
        for (i, line) in c.transcript.iter().skip(skip).enumerate() {
            let label = if i == 0 { pad(l.t("transcript")) } else { pad("") };
            let text: String = line.text.chars().take(160).collect();
            let _ = writeln!(o, "{label}{:>5} ms {} {} {text}", line.ms, line.conn, line.dir);
        }
    }
    let _ = writeln!(o, "{}{}", pad(l.t("hint")), c.hint.get(l.is_ru()));
    if let Some(f) = &c.failure {
        for (i, cmd) in f.reproduce.iter().enumerate() {
            for (j, line) in cmd.lines().enumerate() {
                let label = if i == 0 && j == 0 { pad(l.t("reproduce")) } else { pad("") };
                let _ = writeln!(o, "{label}{line}");
            }
        }
    }
    o
}

/// Totals and the exit code.
pub fn summary(r: &Report, s: Style) -> String {
    let l = s.lang;
    let mut o = String::new();
    if !r.events.is_empty() {
        let _ = writeln!(o, "{}: {}", l.t("events"), r.events.join("; "));
    }
    let caps: Vec<String> =
        r.capabilities.iter().map(|(k, v)| format!("{k}={}", v.state)).collect();
    if !caps.is_empty() {
        let _ = writeln!(o, "{}: {}", l.t("capabilities"), caps.join(", "));
    }
    let failed: Vec<&CaseResult> =
        r.cases.iter().filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error)).collect();
    let at_login = failed
        .iter()
        .filter(|c| {
            c.failure
                .as_ref()
                .and_then(|f| f.note.as_ref())
                .is_some_and(|n| n.en.starts_with("the login must succeed"))
        })
        .count();
    if failed.len() >= 4 && at_login * 2 >= failed.len() {
        let _ = writeln!(
            o,
            "{}",
            s.paint(
                "33",
                if l.is_ru() {
                    "большинство случаев упало уже на входе (presence): сначала исправьте presence/basic"
                } else {
                    "most failing cases failed at their login (presence): fix presence/basic first"
                }
            )
        );
    }
    let counts: Vec<String> = r.summary.verdicts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(
        o,
        "{}: {} {}: {}; {} {}, {} {}",
        s.paint("1", l.t("summary")),
        r.summary.selected,
        l.t("selected"),
        counts.join(", "),
        r.summary.failures,
        if l.is_ru() { "провалов" } else { "failing the run" },
        r.summary.warnings,
        l.t("warnings"),
    );
    let _ = writeln!(
        o,
        "{} {:.2} s; {} {} ({})",
        l.t("duration"),
        r.duration_ms as f64 / 1000.0,
        l.t("exit code"),
        r.exit_code,
        r.exit_reason
    );
    if r.exit_code != 0 {
        if let Some(out) = &r.target_output {
            let tail: Vec<&str> = out.lines().rev().take(15).collect();
            let _ = writeln!(o, "{} (last lines):", l.t("server output"));
            for line in tail.into_iter().rev() {
                let _ = writeln!(o, "  {line}");
            }
        }
    }
    o
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
