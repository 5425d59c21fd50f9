//! The load report in Russian (`jim_text::Localized`); English is the reports' `Display`.
//! Numbers, addresses and units are the same in both; what the target itself said (problem
//! samples, refusal texts) is quoted as it came. The command line that prints the report picks
//! the language (`lang.say(&report)`).

use jim_text::{Lang, Localized, Noun};

use crate::check::{LoadReport, PhaseOutcome};
use crate::error::LoadError;
use crate::hold::HoldReport;
use crate::latency::{LatencySummary, fmt_us};
use crate::problem::shape_ru;
use crate::traffic::{LossReasons, TrafficReport, TrafficShape};

const CONNECTION: Noun = Noun {
    en: ["connection", "connections"],
    ru: ["соединение", "соединения", "соединений"],
};
const MESSAGE: Noun = Noun {
    en: ["message", "messages"],
    ru: ["сообщение", "сообщения", "сообщений"],
};

fn latency_ru(l: &LatencySummary) -> String {
    format!(
        "p50 {} / p99 {} / макс. {} (замеров: {})",
        fmt_us(l.p50_us),
        fmt_us(l.p99_us),
        fmt_us(l.max_us),
        l.count
    )
}

/// Both languages here: `LossReasons`' `Display` is the English of this.
impl Localized for LossReasons {
    fn text(&self, lang: Lang) -> String {
        let refused: Vec<(u64, String)> = self
            .refused
            .iter()
            .map(|(code, n)| (*n, lang.pick("refused with ", "отказ с кодом ").to_owned() + code))
            .collect();
        let fixed = [
            (
                self.recipient_closed,
                lang.pick(
                    "recipient's connection closed by the target",
                    "сервер закрыл соединение получателя",
                ),
            ),
            (
                self.recipient_reset,
                lang.pick("recipient's connection reset", "соединение получателя сброшено"),
            ),
            (
                self.sender_closed,
                lang.pick(
                    "sender's connection closed by the target",
                    "сервер закрыл соединение отправителя",
                ),
            ),
            (
                self.sender_reset,
                lang.pick("sender's connection reset", "соединение отправителя сброшено"),
            ),
        ];
        let tail = [
            (self.never_acknowledged, lang.pick("never acknowledged", "ответа не было")),
            (
                self.acknowledged_not_delivered,
                lang.pick(
                    "acknowledged (2xx) but never delivered",
                    "подтверждено (2xx), но не доставлено",
                ),
            ),
        ];
        let all = fixed
            .iter()
            .map(|(n, w)| (*n, (*w).to_owned()))
            .chain(refused)
            .chain(tail.iter().map(|(n, w)| (*n, (*w).to_owned())));
        let parts: Vec<String> = all
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| match lang {
                Lang::En => format!("{n} {what}"),
                Lang::Ru => format!("{what}: {n}"),
            })
            .collect();
        parts.join(", ")
    }
}

impl Localized for HoldReport {
    fn text(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        let mut out = format!(
            "соединения: запрошено {}, удержано {}, не удалось {} за {:.2} с ({:.0}/с); \
             вход {}",
            self.requested,
            self.held,
            self.failed,
            self.elapsed_secs,
            self.connects_per_sec,
            latency_ru(&self.handshake)
        );
        if let Some(why) = &self.stopped_early {
            out.push_str(&format!("\n    ! остановлено раньше: {}", lang.say(why)));
        }
        for p in &self.problems {
            out.push_str(&format!("\n    ! {}", lang.say(p)));
        }
        out
    }
}

impl Localized for TrafficReport {
    fn text(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        let (shape, sizes) = match self.pattern {
            TrafficShape::Direct { pairs } => ("личные сообщения", format!("пар: {pairs}")),
            TrafficShape::Room { members, senders } => {
                ("рассылка в комнате", format!("участников: {members}, отправителей: {senders}"))
            }
        };
        let mut out = format!(
            "{shape} ({sizes}, окно {}, сообщения по {} Б): отправлено {}, доставлено {} из {}, \
             потеряно {}",
            self.window,
            self.message_bytes,
            MESSAGE.count(lang, self.sent),
            self.delivered,
            self.expected_deliveries,
            self.lost
        );
        if self.lost > 0 {
            out.push_str(&format!("\n    причины потерь: {}", lang.say(&self.lost_because)));
        }
        out.push_str(&format!(
            "\n    {:.0} доставок/с за {:.2} с; задержка {}",
            self.deliveries_per_sec,
            self.elapsed_secs,
            latency_ru(&self.latency)
        ));
        let extras = [
            (self.late, "опоздали"),
            (self.unexpected, "лишние"),
            (self.error_responses, "ответы с ошибкой"),
            (self.bad_frames, "испорченные значения"),
            (self.disconnects, "разрывы"),
            (self.send_errors, "ошибки отправки"),
        ];
        for (count, what) in extras {
            if count > 0 {
                out.push_str(&format!("; {what}: {count}"));
            }
        }
        for p in &self.problems {
            out.push_str(&format!("\n    ! {}", lang.say(p)));
        }
        out
    }
}

impl Localized for LoadReport {
    fn text(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        let c = &self.config;
        let mut out = format!(
            "Нагрузочная проверка JIM {}: удерживается {}; пар: {}; комната: участников {}, \
             отправителей {}; окно {}; сообщения по {} Б; {:.1} с на фазу; диалект {}",
            self.target,
            CONNECTION.count(lang, c.connections as u64),
            c.pairs,
            c.room_members,
            c.room_senders,
            c.window,
            c.message_bytes,
            c.phase_duration.as_secs_f64(),
            c.dialect.name()
        );
        out.push_str(&format!("\n  {}", lang.say(&self.connections)));
        out.push_str(&format!(
            "\n    к концу открыто {} из {} удержанных соединений",
            self.still_open, self.connections.held
        ));
        for phase in [&self.direct, &self.room] {
            match phase {
                PhaseOutcome::Ran(r) => out.push_str(&format!("\n  {}", lang.say(r.as_ref()))),
                PhaseOutcome::Skipped { reason } => {
                    out.push_str(&format!("\n  пропущено: {}", lang.say(reason)));
                }
                PhaseOutcome::SetupFailed { reason } => {
                    out.push_str(&format!("\n  не выполнено: {}", lang.say(reason)));
                }
            }
        }
        let liveness = match (self.first_client_answered, self.survived) {
            (true, true) => "первый клиент ещё отвечает, новый клиент вошёл",
            (false, true) => "новый клиент вошёл, но первый клиент не ответил",
            (_, false) => "новый клиент не смог войти",
        };
        out.push_str(&format!(
            "\n  сервер выдержал: {} ({liveness})",
            if self.survived { "да" } else { "НЕТ" }
        ));
        out.push_str(&format!(
            "\nитог: {}: отправлено {}, доставлено {} из {}, потеряно {}, за {:.1} с",
            if self.passed() { "ПРОЙДЕНО" } else { "НЕ ПРОЙДЕНО" },
            MESSAGE.count(lang, self.messages_sent),
            self.deliveries_made,
            self.deliveries_expected,
            self.deliveries_lost,
            self.elapsed_secs
        ));
        out
    }
}

/// The errors that stop a check before it measures, in both languages (`Display` is the
/// English).
impl Localized for LoadError {
    fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (_, Lang::En) => self.to_string(),
            (Self::Config { ru, .. }, Lang::Ru) => {
                format!("неверная настройка нагрузочной проверки: {ru}")
            }
            (Self::Resolve { host, port, detail }, Lang::Ru) => format!(
                "не удаётся найти адрес {host}:{port}: {detail}; укажите IP-адрес или имя узла, \
                 которое находится"
            ),
            (Self::Unreachable { addr, source }, Lang::Ru) => format!(
                "не удаётся подключиться к {addr}: {}; сервер запущен и слушает этот адрес?",
                jim_text::io_error(source, lang)
            ),
            (Self::Setup { addr, shape, detail }, Lang::Ru) => {
                format!(
                    "{addr} не дал подготовить {}: {}",
                    shape_ru(shape),
                    lang.say(detail.as_ref())
                )
            }
            (Self::Runtime(why), Lang::Ru) => {
                format!("не удаётся запустить нагрузочный движок: {why}")
            }
        }
    }
}
