//! Everything `jim-server` itself prints, in English and Russian: the help (through
//! `jim_text::cli`), the lines around starting and stopping, and the addresses students type.
//!
//! The ready line `listening on ADDR` on stdout is not here: it is a machine interface (scripts,
//! the conformance runner and `jim-bench` wait for it and read the port from it), so it is the
//! same in every language; the human line that says the same goes to stderr in the user's
//! language.

use std::net::{IpAddr, SocketAddr};

use jim_text::cli::{Node, sections};
use jim_text::{Lang, Localized};

/// The help text of one place of the command line (see `jim_text::cli::localize`).
pub fn help(node: Node<'_>, lang: Lang) -> Option<String> {
    let text = match node {
        Node::About { command: "" } => lang.pick(
            "The reference JIM (JSON Instant Messaging) server: both dialects (spec and course), \
             rooms, contacts, accounts, hard to break.",
            "Эталонный сервер JIM (JSON Instant Messaging): оба диалекта (спецификация и курс), \
             комнаты, контакты, учётные записи, устойчив к поломкам.",
        ),
        Node::AfterHelp { command: "" } => return Some(after_help(lang)),
        Node::Arg { arg, .. } => arg_help(arg, lang)?,
        Node::About { .. } | Node::AfterHelp { .. } => return None,
    };
    Some(text.to_owned())
}

fn arg_help(arg: &str, lang: Lang) -> Option<&'static str> {
    Some(match arg {
        "addr" => lang.pick(
            "Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (every IPv4 \
             interface, for a classroom: the addresses to type are printed), ::1 or :: for \
             IPv6. An empty string means every interface.",
            "Адрес для приёма соединений: 127.0.0.1 (только этот компьютер), 0.0.0.0 (все \
             интерфейсы IPv4, для класса: сервер напечатает адреса, которые вводить), ::1 или :: \
             для IPv6. Пустая строка — все интерфейсы.",
        ),
        "port" => lang.pick("TCP port; 0 picks a free one.", "TCP-порт; 0 — выбрать свободный."),
        "users" => lang.pick(
            "Accounts file (`name:password` per line, `#` comments): enables `authenticate` \
             and the course 511 login; without it any name may log in.",
            "Файл учётных записей (по строке `имя:пароль`, `#` — комментарий): включает \
             `authenticate` и вход курса через 511; без него войти может любое имя.",
        ),
        "db" => lang.pick(
            "SQLite file keeping users, contacts and message history (created if missing).",
            "Файл SQLite, где хранятся пользователи, контакты и история сообщений (создаётся, \
             если его нет).",
        ),
        "max_message_bytes" => lang.pick(
            "Largest accepted message in bytes; a larger one gets 400 and the connection is \
             closed.",
            "Наибольшее принимаемое сообщение в байтах; на большее — 400 и соединение \
             закрывается.",
        ),
        "max_connections" => lang.pick(
            "Most simultaneous connections; one more is closed at once.",
            "Наибольшее число одновременных соединений; следующее сразу закрывается.",
        ),
        "idle_timeout" => lang.pick(
            "Close a connection that sends nothing for SECS seconds (0: never).",
            "Закрыть соединение, которое ничего не присылает SECS секунд (0 — никогда).",
        ),
        "probe_interval" => lang.pick(
            "Send a probe to every logged-in client every SECS seconds (default: never).",
            "Каждые SECS секунд отправлять probe каждому вошедшему клиенту (по умолчанию — \
             никогда).",
        ),
        "outbound_queue_bytes" => lang.pick(
            "Bytes waiting for one client past which it is disconnected (it is too far behind).",
            "Сколько байтов может ждать одного клиента; сверх этого он отключается (слишком \
             отстал).",
        ),
        "stall_timeout" => lang.pick(
            "Disconnect a client that takes none of the bytes waiting for it for SECS seconds.",
            "Отключить клиента, который SECS секунд не забирает ни байта из того, что его ждёт.",
        ),
        "message_timeout" => lang.pick(
            "Close a connection whose message is not complete SECS seconds after its first \
             byte (slow-loris bound; 0: never).",
            "Закрыть соединение, если сообщение не дошло целиком за SECS секунд после первого \
             байта (защита от slow-loris; 0 — никогда).",
        ),
        "max_rooms" => {
            lang.pick("Most rooms that exist at once.", "Наибольшее число комнат одновременно.")
        }
        "max_contacts" => lang.pick(
            "Most contact-list entries kept, all users together.",
            "Наибольшее число записей в списках контактов, всех пользователей вместе.",
        ),
        "framing" => lang.pick(
            "How each JSON value ends on the wire: `newline` or `bare` (no newline, as most \
             student code writes).",
            "Чем заканчивается каждое JSON-значение: `newline` (перевод строки) или `bare` \
             (ничем, как пишет большинство студенческих программ).",
        ),
        "log_format" => lang.pick(
            "Log format on stderr: text for people, json for machines.",
            "Формат журнала в stderr: text для людей, json для программ.",
        ),
        "misbehave" => lang.pick(
            "Deliberate defects, comma-separated (`--misbehave help` lists them), for testing \
             clients and the conformance suite against a hostile server.",
            "Намеренные дефекты через запятую (список: `--misbehave help`), чтобы проверить \
             клиентов и набор проверок на враждебном сервере.",
        ),
        _ => return None,
    })
}

fn after_help(lang: Lang) -> String {
    let ex = |en: &'static str, ru: &'static str| lang.pick(en, ru).to_owned();
    let mut out = sections(
        lang,
        &[
            (
                "jim-server",
                ex("127.0.0.1:7777, open mode (any name)", "127.0.0.1:7777, вход под любым именем"),
            ),
            (
                "jim-server -a 0.0.0.0",
                ex(
                    "a classroom: every interface; prints the addresses to type",
                    "для класса: все интерфейсы; печатает адреса для студентов",
                ),
            ),
            ("jim-server -a ::1 -p 0", ex("IPv6 loopback, a free port", "IPv6, свободный порт")),
            (
                "jim-server --users users.txt",
                ex("accounts: `name:password` lines", "учётные записи: строки `имя:пароль`"),
            ),
            (
                "jim-server --db chat.sqlite",
                ex("keep users and history across runs", "хранить пользователей и историю"),
            ),
            (
                "jim-server --misbehave help",
                ex(
                    "the deliberate defects for testing clients",
                    "намеренные дефекты для проверки клиентов",
                ),
            ),
            (
                "jim-server --misbehave no-time,late-replies=3",
                ex("two defects at once", "два дефекта сразу"),
            ),
            ("RUST_LOG=debug jim-server", ex("more logs (stderr)", "подробный журнал (stderr)")),
            (
                "jim-server --completions bash",
                ex("shell completions (also zsh, fish)", "автодополнение (также zsh, fish)"),
            ),
        ],
        &[
            (
                0,
                ex(
                    "stopped by Ctrl-C or SIGTERM (replies already queued are written)",
                    "остановлен Ctrl-C или SIGTERM (уже готовые ответы отправлены)",
                ),
            ),
            (
                1,
                ex(
                    "could not start (port in use, bad --users or --db) or crashed (crash-*)",
                    "не запустился (порт занят, плохой --users или --db) или упал (crash-*)",
                ),
            ),
            (2, ex("usage error (a bad option or value)", "ошибка в аргументах командной строки")),
        ],
    );
    out.push_str(lang.pick(
        "\n\nWhen ready, the server prints exactly one line on stdout: `listening on ADDR` (the \
         same in every language, for scripts). Logs and the addresses to type go to stderr.",
        "\n\nГотовый к работе сервер печатает в stdout ровно одну строку: `listening on ADDR` \
         (одинаковую на всех языках — её ждут скрипты). Журнал и адреса для студентов идут в \
         stderr.",
    ));
    out
}

/// A line the server says to the person who started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Say {
    /// Ready, on a loopback or one specific address.
    Listening { addr: SocketAddr },
    /// Ready on every interface: the addresses other machines reach it at.
    Reachable { port: u16, addrs: Vec<IpAddr> },
    /// Ready on every interface, but this machine has no address besides loopback.
    OnlyLoopback { port: u16 },
    /// The interfaces could not be listed.
    NoInterfaces { port: u16, error: String },
    /// Deliberate defects are on.
    Misbehaving { kinds: String },
    /// The descriptor limit is below `--max-connections`.
    FdLimitLow { limit: u64, wanted: usize },
    /// The descriptor limit could not be raised.
    FdLimitStuck { error: String },
    /// The port could not be bound.
    CannotListen { addr: SocketAddr, error: String },
    /// A bad `--misbehave` value.
    BadMisbehave { error: String },
    /// Starting or serving failed.
    Failed { error: String },
    /// Log lines were dropped because stderr was not read.
    LogsDropped { dropped: u64 },
    /// A signal asked the server to stop.
    ShuttingDown,
}

impl Localized for Say {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (Self::Listening { addr }, Lang::En) => format!("listening on {addr}"),
            (Self::Listening { addr }, Lang::Ru) => {
                format!("сервер принимает соединения на {addr}")
            }
            (Self::Reachable { port, addrs }, Lang::En) => format!(
                "listening on every interface, port {port}; other machines reach it at: {}\n  \
                 students type: jim-client ping {} {port}   (or: python3 client.py {} {port})",
                join(addrs, *port),
                first(addrs),
                first(addrs)
            ),
            (Self::Reachable { port, addrs }, Lang::Ru) => format!(
                "сервер принимает соединения на всех интерфейсах, порт {port}; с других \
                 компьютеров: {}\n  студенты вводят: jim-client ping {} {port}   (или: python3 \
                 client.py {} {port})",
                join(addrs, *port),
                first(addrs),
                first(addrs)
            ),
            (Self::OnlyLoopback { port }, Lang::En) => format!(
                "listening on every interface, port {port}, but this machine has no network \
                 address besides loopback: only this machine can connect (127.0.0.1 {port})"
            ),
            (Self::OnlyLoopback { port }, Lang::Ru) => format!(
                "сервер принимает соединения на всех интерфейсах, порт {port}, но у этого \
                 компьютера нет сетевых адресов, кроме loopback: подключиться можно только \
                 с него самого (127.0.0.1 {port})"
            ),
            (Self::NoInterfaces { port, error }, Lang::En) => format!(
                "listening on every interface, port {port}; the network addresses could not be \
                 listed ({error}): look them up with `ip addr` (Linux), `ipconfig` (Windows) or \
                 `ifconfig` (macOS)"
            ),
            (Self::NoInterfaces { port, error }, Lang::Ru) => format!(
                "сервер принимает соединения на всех интерфейсах, порт {port}; сетевые адреса \
                 получить не удалось ({error}): посмотрите их командой `ip addr` (Linux), \
                 `ipconfig` (Windows) или `ifconfig` (macOS)"
            ),
            (Self::Misbehaving { kinds }, Lang::En) => format!("MISBEHAVING on purpose: {kinds}"),
            (Self::Misbehaving { kinds }, Lang::Ru) => {
                format!("НАМЕРЕННО ведёт себя неправильно: {kinds}")
            }
            (Self::FdLimitLow { limit, wanted }, Lang::En) => format!(
                "the file-descriptor limit is {limit}: fewer than --max-connections {wanted} \
                 can be served"
            ),
            (Self::FdLimitLow { limit, wanted }, Lang::Ru) => format!(
                "предел файловых дескрипторов — {limit}: меньше, чем --max-connections {wanted}, \
                 столько клиентов не обслужить"
            ),
            (Self::FdLimitStuck { error }, Lang::En) => {
                format!("could not raise the file-descriptor limit: {error}")
            }
            (Self::FdLimitStuck { error }, Lang::Ru) => {
                format!("не удалось поднять предел файловых дескрипторов: {error}")
            }
            (Self::CannotListen { addr, error }, Lang::En) => {
                format!("cannot listen on {addr}: {error} (port in use? try -p 0)")
            }
            (Self::CannotListen { addr, error }, Lang::Ru) => format!(
                "не удаётся принимать соединения на {addr}: {error} (порт занят? попробуйте -p 0)"
            ),
            (Self::BadMisbehave { error }, Lang::En) => format!("error: --misbehave: {error}"),
            (Self::BadMisbehave { error }, Lang::Ru) => format!("ошибка: --misbehave: {error}"),
            (Self::Failed { error }, Lang::En) => format!("jim-server: {error}"),
            (Self::Failed { error }, Lang::Ru) => format!("jim-server: ошибка: {error}"),
            (Self::LogsDropped { dropped }, Lang::En) => format!(
                "{} dropped: stderr was not read fast enough",
                LOG_LINE.count(lang, *dropped)
            ),
            (Self::LogsDropped { dropped }, Lang::Ru) => format!(
                "{} журнала потеряно: stderr читали недостаточно быстро",
                LOG_LINE.count(lang, *dropped)
            ),
            (Self::ShuttingDown, Lang::En) => "shutting down".to_owned(),
            (Self::ShuttingDown, Lang::Ru) => "сервер останавливается".to_owned(),
        }
    }
}

const LOG_LINE: jim_text::Noun = jim_text::Noun {
    en: ["log line", "log lines"],
    ru: ["строка", "строки", "строк"],
};

fn join(addrs: &[IpAddr], port: u16) -> String {
    addrs.iter().map(|a| SocketAddr::new(*a, port).to_string()).collect::<Vec<_>>().join(", ")
}

fn first(addrs: &[IpAddr]) -> String {
    addrs.first().map(ToString::to_string).unwrap_or_default()
}

/// The addresses other machines can reach a server bound to `bound` at, from the addresses of
/// this machine's interfaces: none unless `bound` is unspecified (`0.0.0.0`: IPv4 ones; `::`:
/// IPv6 ones too, as Linux binds both); never loopback, link-local (unusable without a scope)
/// or duplicates; private LAN addresses first (that is where a classroom is), then the rest.
pub fn reachable_addresses(bound: IpAddr, interfaces: &[IpAddr]) -> Vec<IpAddr> {
    if !bound.is_unspecified() {
        return Vec::new();
    }
    let mut out: Vec<IpAddr> = interfaces
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .filter(|ip| match ip {
            IpAddr::V4(v4) => !v4.is_link_local(),
            IpAddr::V6(v6) => bound.is_ipv6() && !v6.is_unicast_link_local(),
        })
        .collect();
    out.sort_by_key(|ip| {
        let rank = match ip {
            IpAddr::V4(v4) if v4.is_private() => 0,
            IpAddr::V4(_) => 1,
            IpAddr::V6(_) => 2,
        };
        (rank, *ip)
    });
    out.dedup();
    out
}

/// What to say once listening on `local`, given the interfaces (or why they could not be read).
pub fn ready_line(local: SocketAddr, interfaces: Result<Vec<IpAddr>, String>) -> Say {
    let port = local.port();
    if !local.ip().is_unspecified() {
        return Say::Listening { addr: local };
    }
    match interfaces {
        Err(error) => Say::NoInterfaces { port, error },
        Ok(ips) => {
            let addrs = reachable_addresses(local.ip(), &ips);
            if addrs.is_empty() {
                Say::OnlyLoopback { port }
            } else {
                Say::Reachable { port, addrs }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use clap::CommandFactory as _;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn every_option_has_help_in_both_languages() {
        let gaps = jim_text::cli::missing(&crate::Cli::command(), &help);
        assert!(gaps.is_empty(), "no help text for: {gaps:?}");
    }

    #[test]
    fn russian_texts_are_russian() {
        let says = [
            Say::Listening { addr: "127.0.0.1:7777".parse().unwrap_or(([0, 0, 0, 0], 0).into()) },
            Say::Reachable { port: 7777, addrs: vec![ip("192.168.1.5")] },
            Say::OnlyLoopback { port: 7777 },
            Say::NoInterfaces { port: 7777, error: "denied".into() },
            Say::Misbehaving { kinds: "no-time".into() },
            Say::FdLimitLow { limit: 1024, wanted: 16000 },
            Say::FdLimitStuck { error: "denied".into() },
            Say::CannotListen { addr: ([127, 0, 0, 1], 7777).into(), error: "in use".into() },
            Say::BadMisbehave { error: "x".into() },
            Say::Failed { error: "x".into() },
            Say::LogsDropped { dropped: 3 },
            Say::ShuttingDown,
        ];
        for say in says {
            let ru = Lang::Ru.say(&say);
            assert!(jim_text::reads_as_russian(&ru), "{ru}");
            assert_ne!(ru, Lang::En.say(&say));
        }
        let cmd = crate::Cli::command();
        for arg in cmd.get_arguments() {
            if let Some(text) =
                help(Node::Arg { command: "", arg: arg.get_id().as_str() }, Lang::Ru)
            {
                assert!(jim_text::reads_as_russian(&text), "{text}");
            }
        }
    }

    #[test]
    fn a_classroom_server_names_its_lan_addresses_private_first() {
        let ifaces = [
            ip("127.0.0.1"),
            ip("203.0.113.7"),
            ip("192.168.1.5"),
            ip("169.254.3.3"),
            ip("10.0.0.2"),
            ip("192.168.1.5"),
            ip("::1"),
            ip("fe80::1"),
            ip("2001:db8::5"),
        ];
        let v4 = reachable_addresses(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &ifaces);
        assert_eq!(v4, [ip("10.0.0.2"), ip("192.168.1.5"), ip("203.0.113.7")]);
        let v6 = reachable_addresses(IpAddr::V6(Ipv6Addr::UNSPECIFIED), &ifaces);
        assert_eq!(v6.last(), Some(&ip("2001:db8::5")));
        assert!(reachable_addresses(ip("127.0.0.1"), &ifaces).is_empty());
    }

    #[test]
    fn the_ready_line_says_what_to_type() {
        let any: SocketAddr = ([0, 0, 0, 0], 7777).into();
        let say = ready_line(any, Ok(vec![ip("127.0.0.1"), ip("192.168.1.5")]));
        let en = Lang::En.say(&say);
        assert!(en.contains("192.168.1.5:7777"), "{en}");
        assert!(en.contains("jim-client ping 192.168.1.5 7777"), "{en}");
        let ru = Lang::Ru.say(&say);
        assert!(ru.contains("студенты вводят: jim-client ping 192.168.1.5 7777"), "{ru}");
        let lonely = Lang::En.say(&ready_line(any, Ok(vec![ip("127.0.0.1")])));
        assert!(lonely.contains("only this machine can connect"), "{lonely}");
        let local: SocketAddr = ([127, 0, 0, 1], 7777).into();
        assert_eq!(ready_line(local, Ok(vec![])), Say::Listening { addr: local });
    }
}
