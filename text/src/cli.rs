//! The command line in the user's language: `--help`, clap's own errors, the "Examples" and
//! "Exit status" sections, shell completions and man pages.
//!
//! clap has no translations, so a binary builds its `Command` as usual (derive) and then
//! [`localize`] walks it and puts every text in place from the binary's catalog: the about
//! line of each command, the help of each argument, the sections after the options. In Russian
//! it also replaces what clap would print in English: the headings ("Использование",
//! "Параметры"), `[default: ...]` and `[possible values: ...]`, the `-h`/`-V` lines and, through
//! [`parse`], the usage errors. [`missing`] lists every place without a text, for a test.
//!
//! The arguments every JIM binary has ([`Common`]: `--lang`, `--completions SHELL`, `--man`)
//! carry their help here, so the binaries do not repeat it.

use std::ffi::OsString;
use std::io::Write as _;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, FromArgMatches};

use crate::{Lang, Localized};

/// A place in a command's help that needs a text. `command` is the path of subcommand names
/// below the binary, joined with spaces (`""` for the binary itself, `"ping"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node<'a> {
    /// The one-line description of a command.
    About {
        /// The command's path.
        command: &'a str,
    },
    /// What follows the options: "Examples" and "Exit status" (see [`sections`]).
    AfterHelp {
        /// The command's path.
        command: &'a str,
    },
    /// The help of one argument.
    Arg {
        /// The command's path.
        command: &'a str,
        /// The argument's id (the field name for derive).
        arg: &'a str,
    },
}

/// A binary's help texts: the text of a [`Node`] in a language, or `None` for a node the
/// binary has no text for (a test with [`missing`] catches those).
pub type HelpText<'a> = &'a dyn Fn(Node<'_>, Lang) -> Option<String>;

/// The options every JIM binary has: the language, shell completions and the man page.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The language of everything printed (default: from the locale).
    #[arg(long, value_enum, global = true, value_name = "LANG")]
    pub lang: Option<Lang>,
    /// Print a completion script for SHELL and exit.
    #[arg(long, value_enum, value_name = "SHELL")]
    pub completions: Option<clap_complete::Shell>,
    /// Print the man page (roff) and exit.
    #[arg(long)]
    pub man: bool,
}

impl Common {
    /// The language: `--lang`, else the locale.
    pub fn lang(&self) -> Lang {
        self.lang.unwrap_or_else(Lang::from_env)
    }

    /// Handles `--completions` and `--man`: prints to stdout and returns `true` (the binary
    /// then exits 0), or returns `false` when neither was asked for.
    pub fn generate(&self, cmd: Command) -> std::io::Result<bool> {
        let mut cmd = cmd;
        let name = cmd.get_name().to_owned();
        // Rendered in memory first: clap_complete panics when its writer fails, and stdout
        // fails as soon as the reader of a pipe is gone (`jim-server --completions bash | head`).
        let mut text = Vec::new();
        if let Some(shell) = self.completions {
            clap_complete::generate(shell, &mut cmd, name, &mut text);
        } else if self.man {
            clap_mangen::Man::new(cmd).render(&mut text)?;
        } else {
            return Ok(false);
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(&text).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(true),
            other => other.map(|()| true),
        }
    }
}

/// Texts of the arguments this module adds or defines.
#[derive(Debug, Clone, Copy)]
enum Builtin {
    Help,
    Version,
    Lang,
    Completions,
    Man,
}

impl Localized for Builtin {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Help, Lang::En) => "Print help",
            (Self::Help, Lang::Ru) => "Показать справку",
            (Self::Version, Lang::En) => "Print version",
            (Self::Version, Lang::Ru) => "Показать версию",
            (Self::Lang, Lang::En) => {
                "Language of everything printed: en or ru (default: from LC_ALL, LC_MESSAGES, LANG)"
            }
            (Self::Lang, Lang::Ru) => {
                "Язык всего, что печатается: en или ru (по умолчанию — из LC_ALL, LC_MESSAGES, LANG)"
            }
            (Self::Completions, Lang::En) => {
                "Print a shell completion script (bash, zsh, fish, elvish, powershell) and exit"
            }
            (Self::Completions, Lang::Ru) => {
                "Напечатать скрипт автодополнения для оболочки (bash, zsh, fish, elvish, powershell) и выйти"
            }
            (Self::Man, Lang::En) => "Print the man page (roff) and exit",
            (Self::Man, Lang::Ru) => "Напечатать страницу man (roff) и выйти",
        }
        .to_owned()
    }
}

fn builtin(arg: &str) -> Option<Builtin> {
    match arg {
        "help" => Some(Builtin::Help),
        "version" => Some(Builtin::Version),
        "lang" => Some(Builtin::Lang),
        "completions" => Some(Builtin::Completions),
        "man" => Some(Builtin::Man),
        _ => None,
    }
}

/// Words clap would print in English around the help.
#[derive(Debug, Clone, Copy)]
enum Word {
    Usage,
    Options,
    Arguments,
    Commands,
    Command,
    Default,
    PossibleValues,
}

impl Word {
    fn text(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Self::Usage, Lang::En) => "Usage:",
            (Self::Usage, Lang::Ru) => "Использование:",
            (Self::Options, Lang::En) => "Options",
            (Self::Options, Lang::Ru) => "Параметры",
            (Self::Arguments, Lang::En) => "Arguments",
            (Self::Arguments, Lang::Ru) => "Аргументы",
            (Self::Commands, Lang::En) => "Commands",
            (Self::Commands, Lang::Ru) => "Команды",
            (Self::Command, Lang::En) => "COMMAND",
            (Self::Command, Lang::Ru) => "КОМАНДА",
            (Self::Default, Lang::En) => "default",
            (Self::Default, Lang::Ru) => "по умолчанию",
            (Self::PossibleValues, Lang::En) => "possible values",
            (Self::PossibleValues, Lang::Ru) => "варианты",
        }
    }
}

/// Puts every help text of `cmd` (and its subcommands) in `lang` from `text`, with the
/// built-in `-h`/`-V` lines and, in Russian, the headings and annotations clap would print in
/// English. Nodes `text` has no text for keep what the derive gave them.
pub fn localize(cmd: Command, lang: Lang, text: HelpText<'_>) -> Command {
    localize_at(cmd, "", lang, text, true)
}

fn localize_at(cmd: Command, path: &str, lang: Lang, text: HelpText<'_>, root: bool) -> Command {
    let mut cmd = cmd;
    if let Some(about) = text(Node::About { command: path }, lang) {
        cmd = cmd.about(about).long_about(None);
    }
    if let Some(after) = text(Node::AfterHelp { command: path }, lang) {
        cmd = cmd.after_help(after.clone()).after_long_help(after);
    }
    cmd = cmd.disable_help_flag(true).arg(
        Arg::new("help")
            .short('h')
            .long("help")
            .action(ArgAction::Help)
            .global(false)
            .help(Builtin::Help.text(lang)),
    );
    if root && cmd.get_version().is_some() {
        cmd = cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(Builtin::Version.text(lang)),
        );
    }
    if cmd.has_subcommands() {
        cmd = cmd
            .disable_help_subcommand(true)
            .subcommand_help_heading(Word::Commands.text(lang))
            .subcommand_value_name(Word::Command.text(lang));
    }
    if lang == Lang::Ru {
        cmd = cmd.help_template(format!(
            "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
            Word::Usage.text(lang)
        ));
    }
    let ids: Vec<String> = cmd.get_arguments().map(|a| a.get_id().to_string()).collect();
    for id in ids {
        let help = text(Node::Arg { command: path, arg: &id }, lang)
            .or_else(|| builtin(&id).map(|b| b.text(lang)));
        cmd = cmd.mut_arg(&id, |arg| localize_arg(arg, help, lang));
    }
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_owned()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        cmd = cmd.mut_subcommand(&name, |sub| localize_at(sub, &sub_path, lang, text, false));
    }
    cmd
}

fn localize_arg(arg: Arg, help: Option<String>, lang: Lang) -> Arg {
    let mut arg = arg;
    let mut help = match help {
        Some(h) => h,
        None => match arg.get_help() {
            Some(h) => h.to_string(),
            None => return arg,
        },
    };
    if lang == Lang::Ru {
        let takes_values = arg.get_action().takes_values();
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if takes_values && !defaults.is_empty() && !arg.is_hide_default_value_set() {
            help.push_str(&format!(" [{}: {}]", Word::Default.text(lang), defaults.join(", ")));
            arg = arg.hide_default_value(true);
        }
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if takes_values && !possible.is_empty() && !arg.is_hide_possible_values_set() {
            help.push_str(&format!(
                " [{}: {}]",
                Word::PossibleValues.text(lang),
                possible.join(", ")
            ));
            arg = arg.hide_possible_values(true);
        }
        if arg.get_help_heading().is_none() {
            let heading = if arg.is_positional() { Word::Arguments } else { Word::Options };
            arg = arg.help_heading(heading.text(lang));
        }
    }
    arg.help(help.clone()).long_help(help)
}

/// The nodes of `cmd` that `text` has no text for in some language: the about line of every
/// command and the help of every argument (the ones this module owns aside). Empty when the
/// catalog is complete; a binary's test asserts that.
pub fn missing(cmd: &Command, text: HelpText<'_>) -> Vec<String> {
    let mut out = Vec::new();
    missing_at(cmd, "", text, &mut out);
    out
}

fn missing_at(cmd: &Command, path: &str, text: HelpText<'_>, out: &mut Vec<String>) {
    for lang in Lang::ALL {
        if text(Node::About { command: path }, lang).is_none() {
            out.push(format!("{lang}: about of {path:?}"));
        }
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if builtin(id).is_none() && text(Node::Arg { command: path, arg: id }, lang).is_none() {
                out.push(format!("{lang}: argument {id:?} of {path:?}"));
            }
        }
    }
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        let sub_path = if path.is_empty() { name.to_owned() } else { format!("{path} {name}") };
        missing_at(sub, &sub_path, text, out);
    }
}

/// The "Examples" and "Exit status" sections of a `--help`, in `lang`: each example is what it
/// does (a `#` comment line, so the block can be pasted into a shell) above the command, each
/// status a code and what it means. Short lines, so that clap's wrapping keeps them whole.
pub fn sections(lang: Lang, examples: &[(&str, String)], statuses: &[(u8, String)]) -> String {
    let (ex, st) = match lang {
        Lang::En => ("Examples:", "Exit status:"),
        Lang::Ru => ("Примеры:", "Код выхода:"),
    };
    let mut out = String::from(ex);
    for (command, what) in examples {
        out.push_str(&format!("\n  # {what}\n  {command}"));
    }
    out.push_str("\n\n");
    out.push_str(st);
    for (code, what) in statuses {
        out.push_str(&format!("\n  {code}  {what}"));
    }
    out
}

/// Parses the process arguments with the localized `cmd` into `T`. `--help` and `--version`
/// print and exit 0 as usual; a usage error is printed in `lang` (clap's English in English)
/// and exits 2.
pub fn parse<T: FromArgMatches>(cmd: Command, lang: Lang) -> T {
    parse_from(cmd, lang, std::env::args_os())
}

/// [`parse`] over given arguments (the first is the binary's name).
pub fn parse_from<T, I, S>(cmd: Command, lang: Lang, args: I) -> T
where
    T: FromArgMatches,
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let result = cmd.try_get_matches_from(args).and_then(|m| T::from_arg_matches(&m));
    match result {
        Ok(value) => value,
        Err(err) => exit_with(&err, lang),
    }
}

/// Ends the process for a clap error: `--help` and `--version` print and exit 0, a usage error
/// is printed in `lang` (clap's English in English) and exits 2. For binaries that need the
/// `ArgMatches` themselves instead of [`parse`].
pub fn exit_with(err: &clap::Error, lang: Lang) -> ! {
    if lang == Lang::En || !err.use_stderr() {
        err.exit();
    }
    eprintln!("{}", error_ru(err));
    std::process::exit(2);
}

/// A clap usage error in Russian.
fn error_ru(err: &clap::Error) -> String {
    let context = |kind: ContextKind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::StyledStrs(v)) => {
            Some(v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        }
        Some(ContextValue::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let arg = context(ContextKind::InvalidArg).unwrap_or_default();
    let value = context(ContextKind::InvalidValue).unwrap_or_default();
    let mut msg = match err.kind() {
        ErrorKind::UnknownArgument => format!("ошибка: неизвестный аргумент «{arg}»"),
        ErrorKind::InvalidSubcommand => {
            let sub = context(ContextKind::InvalidSubcommand).unwrap_or_default();
            format!("ошибка: неизвестная команда «{sub}»")
        }
        ErrorKind::InvalidValue => {
            let mut m = format!("ошибка: недопустимое значение «{value}» для {arg}");
            if let Some(valid) = context(ContextKind::ValidValue) {
                m.push_str(&format!("\n  допустимые значения: {valid}"));
            }
            m
        }
        ErrorKind::ValueValidation => {
            // The validator's own words when they are Russian (the binaries' parsers); the
            // standard library's English ("invalid digit found in string") is left out.
            let why = std::error::Error::source(err)
                .map(ToString::to_string)
                .filter(|e| crate::reads_as_russian(e))
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            format!("ошибка: недопустимое значение «{value}» для {arg}{why}")
        }
        ErrorKind::MissingRequiredArgument => {
            format!("ошибка: не хватает обязательных аргументов: {arg}")
        }
        ErrorKind::MissingSubcommand => "ошибка: не указана команда".to_owned(),
        ErrorKind::ArgumentConflict => {
            match context(ContextKind::PriorArg).filter(|o| !o.is_empty()) {
                Some(other) => format!("ошибка: {arg} нельзя указывать вместе с {other}"),
                None => format!("ошибка: {arg} нельзя указывать вместе с другими аргументами"),
            }
        }
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("ошибка: неверное число значений у {arg}")
        }
        ErrorKind::NoEquals => format!("ошибка: значение {arg} нужно писать через «=»"),
        ErrorKind::InvalidUtf8 => "ошибка: аргумент не в кодировке UTF-8".to_owned(),
        _ => "ошибка в аргументах командной строки".to_owned(),
    };
    if let Some(suggested) = context(ContextKind::SuggestedArg)
        .or_else(|| context(ContextKind::SuggestedSubcommand))
        .or_else(|| context(ContextKind::SuggestedValue))
    {
        msg.push_str(&format!("\n  подсказка: может быть, «{suggested}»?"));
    }
    if let Some(usage) = context(ContextKind::Usage) {
        let usage = usage.trim_start_matches("Usage:").trim();
        msg.push_str(&format!("\n\nИспользование: {usage}"));
    }
    msg.push_str("\n\nПодробнее: --help");
    msg
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// A tiny binary.
    #[derive(Debug, Parser)]
    #[command(name = "demo", version)]
    struct Demo {
        #[arg(short, long, default_value_t = 7777)]
        port: u16,
        #[arg(long, value_enum, default_value_t = Lang::En)]
        tongue: Lang,
        #[command(flatten)]
        common: Common,
    }

    fn text(node: Node<'_>, lang: Lang) -> Option<String> {
        let ru = lang == Lang::Ru;
        let t = match node {
            Node::About { command: "" } => {
                if ru {
                    "Пример"
                } else {
                    "A demo"
                }
            }
            Node::AfterHelp { command: "" } => {
                return Some(sections(
                    lang,
                    &[("demo -p 1", if ru { "порт 1" } else { "port 1" }.to_owned())],
                    &[(0, if ru { "успех" } else { "success" }.to_owned())],
                ));
            }
            Node::Arg { arg: "port", .. } => {
                if ru {
                    "Порт"
                } else {
                    "Port"
                }
            }
            Node::Arg { arg: "tongue", .. } => {
                if ru {
                    "Язык"
                } else {
                    "Tongue"
                }
            }
            _ => return None,
        };
        Some(t.to_owned())
    }

    #[test]
    fn russian_help_has_no_english_heading_or_annotation() {
        let help = localize(Demo::command(), Lang::Ru, &text).render_help().to_string();
        for word in ["Usage", "Options", "default:", "possible values", "Print help"] {
            assert!(!help.contains(word), "{word:?} in\n{help}");
        }
        for word in ["Использование:", "Параметры", "[по умолчанию: 7777]", "[варианты: en, ru]"]
        {
            assert!(help.contains(word), "{word:?} missing in\n{help}");
        }
        assert!(help.contains("Примеры:") && help.contains("Код выхода:"), "{help}");
        assert!(help.contains("Показать справку"), "{help}");
    }

    #[test]
    fn english_help_keeps_clap_words_and_takes_the_catalog() {
        let help = localize(Demo::command(), Lang::En, &text).render_help().to_string();
        assert!(help.contains("Usage:") && help.contains("[default: 7777]"), "{help}");
        assert!(help.contains("Examples:\n  # port 1\n  demo -p 1"), "{help}");
        assert!(help.contains("Language of everything printed"), "{help}");
    }

    #[test]
    fn missing_lists_what_the_catalog_lacks() {
        assert!(missing(&Demo::command(), &text).is_empty());
        let partial = |node: Node<'_>, lang: Lang| match node {
            Node::Arg { arg: "port", .. } => None,
            other => text(other, lang),
        };
        let gaps = missing(&Demo::command(), &partial);
        assert_eq!(gaps, [r#"en: argument "port" of """#, r#"ru: argument "port" of """#]);
    }

    #[test]
    fn usage_errors_are_russian() {
        let err = localize(Demo::command(), Lang::Ru, &text)
            .try_get_matches_from(["demo", "--prot", "1"])
            .err()
            .map(|e| error_ru(&e))
            .unwrap_or_default();
        assert!(err.contains("неизвестный аргумент «--prot»"), "{err}");
        assert!(err.contains("может быть, «--port»"), "{err}");
        let err = localize(Demo::command(), Lang::Ru, &text)
            .try_get_matches_from(["demo", "--port", "x"])
            .err()
            .map(|e| error_ru(&e))
            .unwrap_or_default();
        assert!(err.contains("недопустимое значение «x» для --port"), "{err}");
    }
}
