//! The class page and the student pages: plain HTML files with their style inline (no script,
//! no font, no CDN), so that they open from disk, offline, in any browser, print in colour, and
//! read to a screen reader: every coloured cell also says in words what its colour means.

use std::fmt::Write as _;

use super::assignment::Role;
use super::student::{CaseView, Outcome, ReportView};
use super::{ClassResult, GroupScore, StudentResult};
use crate::i18n::Lang;
use crate::model::Text;
use crate::vocab::Verdict;

/// The words of the pages, in English and Russian (one enum, one `match` per language).
#[derive(Debug, Clone, Copy)]
enum Label {
    Class,
    Student,
    Total,
    FirstFix,
    NothingToFix,
    Points,
    Server,
    Client,
    Group,
    Cases,
    Case,
    Verdict,
    Reason,
    Expected,
    Arrived,
    Differences,
    Transcript,
    Reproduce,
    Hint,
    Output,
    CannotStart,
    TimedOut,
    NotGraded,
    NoCommand,
    NotRun,
    Legend,
    Full,
    Partial,
    Zero,
    Profile,
    Back,
    ProcessOutput,
    FromCache,
    SameAs,
    AllCases,
}

impl Label {
    fn en(self) -> &'static str {
        match self {
            Self::Class => "Class results",
            Self::Student => "Student",
            Self::Total => "Total",
            Self::FirstFix => "First thing to fix",
            Self::NothingToFix => "Nothing to fix: every graded case passes.",
            Self::Points => "points",
            Self::Server => "Server",
            Self::Client => "Client",
            Self::Group => "Group",
            Self::Cases => "cases passed",
            Self::Case => "Case",
            Self::Verdict => "Verdict",
            Self::Reason => "Why",
            Self::Expected => "Expected",
            Self::Arrived => "Arrived",
            Self::Differences => "Differences",
            Self::Transcript => "Transcript",
            Self::Reproduce => "Reproduce by hand",
            Self::Hint => "Hint",
            Self::Output => "What the program printed",
            Self::CannotStart => "cannot start",
            Self::TimedOut => "did not finish in time",
            Self::NotGraded => "not graded",
            Self::NoCommand => "no command in the roster",
            Self::NotRun => "not run",
            Self::Legend => "Legend",
            Self::Full => "all points",
            Self::Partial => "some points",
            Self::Zero => "no points",
            Self::Profile => "profile",
            Self::Back => "Back to the class",
            Self::ProcessOutput => "Client output",
            Self::FromCache => "from the cache (same files, same suite)",
            Self::SameAs => "the same files and command as this student's, judged once for both:",
            Self::AllCases => "All cases",
        }
    }

    fn ru(self) -> &'static str {
        match self {
            Self::Class => "Результаты группы",
            Self::Student => "Студент",
            Self::Total => "Итого",
            Self::FirstFix => "Что исправить первым",
            Self::NothingToFix => "Исправлять нечего: все оцениваемые проверки пройдены.",
            Self::Points => "баллов",
            Self::Server => "Сервер",
            Self::Client => "Клиент",
            Self::Group => "Раздел",
            Self::Cases => "проверок пройдено",
            Self::Case => "Проверка",
            Self::Verdict => "Вердикт",
            Self::Reason => "Причина",
            Self::Expected => "Ожидалось",
            Self::Arrived => "Пришло",
            Self::Differences => "Различия",
            Self::Transcript => "Обмен",
            Self::Reproduce => "Повторить вручную",
            Self::Hint => "Подсказка",
            Self::Output => "Что напечатала программа",
            Self::CannotStart => "не запускается",
            Self::TimedOut => "не уложилась во время",
            Self::NotGraded => "не оценено",
            Self::NoCommand => "в списке нет команды",
            Self::NotRun => "не запускалось",
            Self::Legend => "Обозначения",
            Self::Full => "все баллы",
            Self::Partial => "часть баллов",
            Self::Zero => "нет баллов",
            Self::Profile => "профиль",
            Self::Back => "К списку группы",
            Self::ProcessOutput => "Вывод клиента",
            Self::FromCache => "из кэша (те же файлы, тот же набор проверок)",
            Self::SameAs => {
                "те же файлы и команда, что у этого студента; проверено один раз для обоих:"
            }
            Self::AllCases => "Все проверки",
        }
    }

    fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en(),
            Lang::Ru => self.ru(),
        }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 1.5rem; color: #1b1b1b; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #999; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; }
td.num .muted { display: block; font-size: .85em; }
td.first { min-width: 24ch; max-width: 60ch; overflow-wrap: anywhere; }
.full { background: #c8efc8; } .partial { background: #fbe7a1; } .zero { background: #f6c1c1; } .none { background: #ddd; }
.fix { border: 2px solid #b00; padding: .5rem 1rem; margin: 1rem 0; }
.ok { border: 2px solid #070; padding: .5rem 1rem; margin: 1rem 0; }
pre { background: #f6f6f6; border: 1px solid #ccc; padding: .5rem; white-space: pre-wrap; word-break: break-word; max-width: 110ch; }
.muted { color: #555; }
@media print { body { margin: 0; } .full, .partial, .zero, .none, th { print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
";

fn head(out: &mut String, lang: Lang, title: &str) {
    let code = match lang {
        Lang::En => "en",
        Lang::Ru => "ru",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"jim-conformance {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    );
}

fn text(t: &Text, lang: Lang) -> &str {
    match lang {
        Lang::Ru if !t.ru.is_empty() => &t.ru,
        _ => &t.en,
    }
}

/// How a score reads: its CSS class, a symbol and a word (colour is never the only signal).
fn band(g: &GroupScore, lang: Lang) -> (&'static str, &'static str, &'static str) {
    if g.total == 0 {
        ("none", "–", Label::NotRun.get(lang))
    } else if g.points >= g.max {
        ("full", "✓", Label::Full.get(lang))
    } else if g.points > 0.0 {
        ("partial", "◐", Label::Partial.get(lang))
    } else {
        ("zero", "✗", Label::Zero.get(lang))
    }
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { format!("{x:.2}") }
}

fn role_label(role: Role, lang: Lang) -> &'static str {
    match role {
        Role::Server => Label::Server.get(lang),
        Role::Client => Label::Client.get(lang),
    }
}

/// The class page: one row per student, one column per case group.
pub fn class_page(class: &ClassResult) -> String {
    let lang = class.lang;
    let a = &class.assignment;
    let mut out = String::new();
    let title = format!("{}: {}", Label::Class.get(lang), text(&a.title, lang));
    head(&mut out, lang, &title);
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} <code>{}</code> · {} {}</p>",
        esc(&a.id),
        esc(&class
            .roster
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()),
        class.students.len(),
        match (lang, class.students.len()) {
            (Lang::En, 1) => "student",
            (Lang::En, _) => "students",
            (Lang::Ru, n) => crate::i18n::plural_ru(n as u64, "студент", "студента", "студентов"),
        }
    );
    let _ = writeln!(
        out,
        "<p>{}: <span class=\"full\">✓ {}</span> <span class=\"partial\">◐ {}</span> <span class=\"zero\">✗ {}</span> <span class=\"none\">– {}</span></p>",
        Label::Legend.get(lang),
        Label::Full.get(lang),
        Label::Partial.get(lang),
        Label::Zero.get(lang),
        Label::NotRun.get(lang)
    );
    let _ = writeln!(
        out,
        "<table id=\"matrix\">\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">{}</th>",
        esc(text(&a.title, lang)),
        Label::Student.get(lang)
    );
    for g in &a.groups {
        let _ = write!(
            out,
            "<th scope=\"col\">{}<br><span class=\"muted\">{} · {} {}</span></th>",
            esc(text(&g.title, lang)),
            role_label(g.role, lang),
            num(g.points),
            Label::Points.get(lang)
        );
    }
    let _ = writeln!(
        out,
        "<th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead>\n<tbody>",
        Label::Total.get(lang),
        Label::FirstFix.get(lang)
    );
    for s in &class.students {
        let _ = write!(
            out,
            "<tr data-student=\"{}\"><th scope=\"row\"><a href=\"students/{}.html\">{}</a><br><span class=\"muted\">{}</span></th>",
            esc(&s.id),
            esc(&s.id),
            esc(&s.student.name),
            esc(&s.id)
        );
        for g in &s.groups {
            let (class_name, symbol, word) = band(g, lang);
            let _ = write!(
                out,
                "<td class=\"num {class_name}\" title=\"{word}\">{symbol} {}/{}<span class=\"muted\"> ({word})</span></td>",
                num(g.points),
                num(g.max)
            );
        }
        let _ = write!(
            out,
            "<td class=\"num\"><strong>{}/{}</strong></td><td class=\"first\">",
            num(s.points),
            num(s.max_points)
        );
        match &s.first_failure {
            Some(f) => {
                let _ = write!(
                    out,
                    "{}: {}{}",
                    role_label(f.role, lang),
                    f.case
                        .as_deref()
                        .map(|c| format!("<code>{}</code> — ", esc(c)))
                        .unwrap_or_default(),
                    esc(f.line.get(lang))
                );
            }
            None => out.push('—'),
        }
        let _ = writeln!(out, "</td></tr>");
    }
    let _ = writeln!(out, "</tbody>\n</table>\n</body>\n</html>");
    out
}

/// One student's page: the score, the first thing to fix, and every case that did not earn.
pub fn student_page(class: &ClassResult, s: &StudentResult) -> String {
    let lang = class.lang;
    let a = &class.assignment;
    let mut out = String::new();
    let title = format!("{} ({}): {}/{}", s.student.name, s.id, num(s.points), num(s.max_points));
    head(&mut out, lang, &title);
    let _ = writeln!(out, "<p><a href=\"../index.html\">← {}</a></p>", Label::Back.get(lang));
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"muted\">{}</p>",
        esc(&title),
        esc(text(&a.title, lang))
    );
    match &s.first_failure {
        Some(f) => {
            let _ = writeln!(
                out,
                "<section class=\"fix\" id=\"first-fix\"><h2>{}</h2>",
                Label::FirstFix.get(lang)
            );
            let _ = writeln!(
                out,
                "<p><strong>{}</strong>{}: {}</p>",
                role_label(f.role, lang),
                f.case.as_deref().map(|c| format!(" <code>{}</code>", esc(c))).unwrap_or_default(),
                esc(f.line.get(lang))
            );
            if let Some(h) = &f.hint {
                hint(&mut out, h, lang);
            }
            let _ = writeln!(out, "</section>");
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"ok\" id=\"first-fix\">{}</p>",
                Label::NothingToFix.get(lang)
            );
        }
    }
    let _ = writeln!(
        out,
        "<table id=\"groups\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        Label::Group.get(lang),
        Label::Points.get(lang),
        Label::Cases.get(lang)
    );
    for (g, score) in a.groups.iter().zip(&s.groups) {
        let (class_name, symbol, word) = band(score, lang);
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{} <span class=\"muted\">({})</span></th><td class=\"num {class_name}\">{symbol} {}/{} <span class=\"muted\">({word})</span></td><td class=\"num\">{}/{}</td></tr>",
            esc(text(&g.title, lang)),
            role_label(g.role, lang),
            num(score.points),
            num(score.max),
            score.passed,
            score.total
        );
    }
    let _ = writeln!(out, "</tbody></table>");
    for r in &s.roles {
        let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", r.role.as_str(), role_label(r.role, lang));
        let command = match r.role {
            Role::Server => s.student.server.as_deref(),
            Role::Client => s.student.client.as_deref(),
        };
        if let Some(c) = command {
            let _ = writeln!(out, "<p><code>{}</code></p>", esc(c));
        }
        if r.cached {
            let _ = writeln!(out, "<p class=\"muted\">{}</p>", Label::FromCache.get(lang));
        }
        if let Some(other) = &r.same_as {
            let _ = writeln!(
                out,
                "<p class=\"muted\">{} <a href=\"{}.html\">{}</a></p>",
                Label::SameAs.get(lang),
                esc(other),
                esc(other)
            );
        }
        match &r.outcome {
            Outcome::Judged { report } => judged(&mut out, report, r.role, class, lang),
            Outcome::CannotStart { line, output } => {
                let _ = writeln!(
                    out,
                    "<p class=\"zero\"><strong>{}</strong>: {}</p>",
                    Label::CannotStart.get(lang),
                    // The runner's line opens with the same words.
                    esc(text(line, lang)
                        .strip_prefix(&format!("{}: ", Label::CannotStart.get(lang)))
                        .unwrap_or(text(line, lang)))
                );
                if !output.is_empty() {
                    let _ = writeln!(
                        out,
                        "<h3>{}</h3><pre class=\"program\">{}</pre>",
                        Label::Output.get(lang),
                        esc(output)
                    );
                }
            }
            Outcome::TimedOut { seconds } => {
                let _ = writeln!(
                    out,
                    "<p class=\"zero\"><strong>{}</strong> ({seconds} {})</p>",
                    Label::TimedOut.get(lang),
                    lang.pick("s", "с")
                );
            }
            Outcome::NotGraded { line } => {
                let _ = writeln!(
                    out,
                    "<p class=\"none\"><strong>{}</strong>: {}</p>",
                    Label::NotGraded.get(lang),
                    esc(text(line, lang))
                );
            }
            Outcome::NoCommand => {
                let _ = writeln!(out, "<p class=\"none\">{}</p>", Label::NoCommand.get(lang));
            }
        }
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

/// The hint: an English page adds the Russian after the English (a Russian-speaking student
/// reading a teacher's English pages); a Russian page is Russian only.
fn hint(out: &mut String, h: &Text, lang: Lang) {
    let shown = match lang {
        Lang::En => vec![("en", &h.en), ("ru", &h.ru)],
        Lang::Ru if h.ru.is_empty() => vec![("en", &h.en)],
        Lang::Ru => vec![("ru", &h.ru)],
    };
    for (code, t) in shown {
        if !t.is_empty() {
            let _ = writeln!(
                out,
                "<p lang=\"{code}\"><strong>{}:</strong> {}</p>",
                Label::Hint.get(lang),
                esc(t)
            );
        }
    }
}

/// A judged program: its profile, the table of every case, then the details of each case that
/// did not earn.
fn judged(out: &mut String, report: &ReportView, role: Role, class: &ClassResult, lang: Lang) {
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} {} · {}</p>",
        Label::Profile.get(lang),
        esc(&report.profile.name),
        esc(&exit_reason(report, lang))
    );
    let _ = writeln!(
        out,
        "<details><summary>{} ({})</summary><table class=\"cases\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        Label::AllCases.get(lang),
        report.cases.len(),
        Label::Case.get(lang),
        Label::Group.get(lang),
        Label::Verdict.get(lang)
    );
    for c in &report.cases {
        let group =
            class.assignment.group_of(role, &c.id).map(|g| text(&g.title, lang)).unwrap_or("—");
        let cls = if c.earns() {
            "full"
        } else if matches!(c.verdict, Verdict::Fail | Verdict::Error) {
            "zero"
        } else {
            "none"
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"{cls}\">{}</td></tr>",
            esc(&c.name()),
            esc(group),
            esc(c.verdict.as_str())
        );
    }
    let _ = writeln!(out, "</tbody></table></details>");
    for c in report
        .cases
        .iter()
        .filter(|c| !c.earns() && class.assignment.group_of(role, &c.id).is_some())
    {
        case_details(out, c, report, lang, class);
    }
    if let Some(o) = report.target_output.as_deref().filter(|o| !o.is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary>{}</summary><pre class=\"program\">{}</pre></details>",
            Label::Output.get(lang),
            esc(o)
        );
    }
}

/// The runner's exit reason in the page's language (its JSON report carries it in English).
fn exit_reason(report: &ReportView, lang: Lang) -> String {
    use crate::i18n::RunMsg;
    let failing = report.cases.iter().filter(|c| c.impact == crate::vocab::Impact::Failure).count();
    match report.exit_code {
        0 => lang.say(&RunMsg::AllRequiredPass),
        1 if failing > 0 => lang.say(&RunMsg::CasesFail { n: failing }),
        _ => report.said(&report.exit_reason, lang).to_owned(),
    }
}

/// One case that did not earn. The runner's texts are shown in `lang` through the report's
/// `ru` map; what the program printed is in `<pre class="program">` (its words, not ours).
fn case_details(
    out: &mut String,
    c: &CaseView,
    report: &ReportView,
    lang: Lang,
    class: &ClassResult,
) {
    let said = |en: &str| report.said(en, lang).to_owned();
    let title = class.titles.get(&c.id).map(|t| text(t, lang)).unwrap_or(&c.title);
    let _ = writeln!(
        out,
        "<section class=\"case\"><h3><code>{}</code> — {} <span class=\"zero\">{}</span></h3>",
        esc(&c.name()),
        esc(title),
        esc(c.verdict.as_str())
    );
    if let Some(r) = &c.reason {
        let _ =
            writeln!(out, "<p><strong>{}:</strong> {}</p>", Label::Reason.get(lang), esc(&said(r)));
    }
    if let Some(f) = &c.failure {
        if !f.expected.is_empty() {
            let shown: Vec<String> = f.expected.iter().map(|v| v.to_string()).collect();
            let _ = writeln!(
                out,
                "<p><strong>{}:</strong></p><pre>{}</pre>",
                Label::Expected.get(lang),
                esc(&shown.join("\n"))
            );
        }
        if !f.arrived.is_null() {
            let _ = writeln!(
                out,
                "<p><strong>{}:</strong></p><pre>{}</pre>",
                Label::Arrived.get(lang),
                esc(&f.arrived.to_string())
            );
        }
        if !f.mismatches.is_empty() {
            let _ = writeln!(
                out,
                "<p><strong>{}:</strong></p><pre>{}</pre>",
                Label::Differences.get(lang),
                esc(&f.mismatches.iter().map(|m| said(m)).collect::<Vec<_>>().join("\n"))
            );
        }
        if !f.reproduce.is_empty() {
            let _ = writeln!(
                out,
                "<p><strong>{}:</strong></p><pre>{}</pre>",
                Label::Reproduce.get(lang),
                esc(&f.reproduce.iter().map(|r| said(r)).collect::<Vec<_>>().join("\n"))
            );
        }
    }
    if !c.transcript.is_empty() {
        let lines: Vec<String> = c
            .transcript
            .iter()
            .map(|l| format!("{:>6} ms {} {} {}", l.ms, l.conn, l.dir, said(&l.text)))
            .collect();
        let _ = writeln!(
            out,
            "<p><strong>{}:</strong></p><pre>{}</pre>",
            Label::Transcript.get(lang),
            esc(&lines.join("\n"))
        );
    }
    if let Some(p) = &c.process {
        let _ = writeln!(
            out,
            "<p><strong>{}:</strong> <code>{}</code> — {}</p>",
            Label::ProcessOutput.get(lang),
            esc(&p.command),
            esc(&said(&p.exit))
        );
        let printed = format!("{}{}", p.stdout, p.stderr);
        if !printed.is_empty() {
            let _ = writeln!(out, "<pre class=\"program\">{}</pre>", esc(&printed));
        }
    }
    hint(out, &c.hint, lang);
    let _ = writeln!(out, "</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            esc("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{0}b"), "a\\u{0000}b");
    }
}
