//! What a load check does, with defaults that are safe to point at a classmate's laptop.
//!
//! Every count and every wait has an upper bound checked by [`LoadConfig::validate`], so a typo
//! on the command line cannot turn the check into a flood.

use std::time::Duration;

use jim_protocol::Dialect;
use serde::{Serialize, Serializer};

use crate::error::LoadError;

/// Settings of [`crate::run`]. `LoadConfig::default()` is a gentle check of 127.0.0.1:7777.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LoadConfig {
    /// The target host: an IP address or a name. Only this host is ever contacted.
    pub host: String,
    /// The target port.
    pub port: u16,
    /// Idle connections held (each logged in with a presence) for the whole run.
    pub connections: usize,
    /// Connects in progress at the same time while ramping up.
    pub connects_in_flight: usize,
    /// Cap on new connections per second while ramping up (0 = only the in-flight cap).
    pub connects_per_sec: u32,
    /// Sender/recipient pairs of the direct-relay phase (0 skips it).
    pub pairs: usize,
    /// Members of the room fan-out phase (0 skips it).
    pub room_members: usize,
    /// How many room members send.
    pub room_senders: usize,
    /// Messages in flight per sender (sent, not yet delivered).
    pub window: usize,
    /// Encoded size of each chat message in bytes.
    pub message_bytes: usize,
    /// How long each traffic phase sends.
    #[serde(serialize_with = "secs")]
    #[schemars(with = "f64")]
    pub phase_duration: Duration,
    /// Cap on messages sent in each traffic phase.
    pub max_messages: u64,
    /// Bound on one TCP connect.
    #[serde(serialize_with = "secs")]
    #[schemars(with = "f64")]
    pub connect_timeout: Duration,
    /// Bound on each reply, and each message's delivery deadline (later = lost).
    #[serde(serialize_with = "secs")]
    #[schemars(with = "f64")]
    pub reply_timeout: Duration,
    /// Start of every account and room name (letters and digits, at most 10).
    pub name_prefix: String,
    /// The dialect written: `spec` (presence with `type` and `user.status`, `msg`, rooms) or
    /// `course` (bare presence, `message` with `mess_text`, no room phase), as students' servers
    /// of either generation expect.
    #[serde(serialize_with = "dialect_name")]
    #[schemars(with = "DialectName")]
    pub dialect: Dialect,
}

/// How a dialect is written in the report (`spec` or `course`).
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum DialectName {
    Spec,
    Course,
}

fn dialect_name<S: Serializer>(d: &Dialect, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.name())
}

fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Default for LoadConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: jim_protocol::limits::DEFAULT_PORT,
            connections: 50,
            connects_in_flight: 8,
            connects_per_sec: 200,
            pairs: 10,
            room_members: 10,
            room_senders: 2,
            window: 4,
            message_bytes: 150,
            phase_duration: Duration::from_secs(4),
            max_messages: 20_000,
            connect_timeout: Duration::from_secs(3),
            reply_timeout: Duration::from_secs(5),
            name_prefix: "load".to_owned(),
            dialect: Dialect::Spec,
        }
    }
}

/// Upper bounds of [`LoadConfig`] values.
pub mod bounds {
    use std::time::Duration;

    /// Most connections held.
    pub const CONNECTIONS: usize = 20_000;
    /// Most connects in flight.
    pub const CONNECTS_IN_FLIGHT: usize = 1_000;
    /// Most pairs.
    pub const PAIRS: usize = 5_000;
    /// Most room members.
    pub const ROOM_MEMBERS: usize = 5_000;
    /// Largest window.
    pub const WINDOW: usize = 1_000;
    /// Smallest and largest message size in bytes.
    pub const MESSAGE_BYTES: (usize, usize) = (64, 60_000);
    /// Longest phase.
    pub const PHASE_DURATION: Duration = Duration::from_secs(600);
    /// Most messages per phase.
    pub const MAX_MESSAGES: u64 = 10_000_000;
    /// Longest timeout.
    pub const TIMEOUT: Duration = Duration::from_secs(120);
}

impl LoadConfig {
    /// Checks every value against its bound; the error names the value and the allowed range.
    pub fn validate(&self) -> Result<(), LoadError> {
        // The setting's name and its allowed values, in English and Russian.
        let bad = |what: &str, range: (String, String)| {
            Err(LoadError::Config {
                en: format!("{what} must be {}", range.0),
                ru: format!("{}: допустимо {}", setting_ru(what), range.1),
            })
        };
        let both = |en: String, ru: String| (en, ru);
        let at_most = |n: usize| both(format!("at most {n}"), format!("не больше {n}"));
        let one_to = |n: usize| both(format!("1 to {n}"), format!("от 1 до {n}"));
        if self.host.trim().is_empty() {
            let range = both("a host name or an IP address".into(), "имя узла или IP-адрес".into());
            return bad("host", range);
        }
        if self.port == 0 {
            return bad("port", both("1 to 65535".into(), "от 1 до 65535".into()));
        }
        if self.connections > bounds::CONNECTIONS {
            return bad("connections", at_most(bounds::CONNECTIONS));
        }
        if !(1..=bounds::CONNECTS_IN_FLIGHT).contains(&self.connects_in_flight) {
            return bad("connects in flight", one_to(bounds::CONNECTS_IN_FLIGHT));
        }
        if self.pairs > bounds::PAIRS {
            return bad("pairs", at_most(bounds::PAIRS));
        }
        if self.room_members == 1 || self.room_members > bounds::ROOM_MEMBERS {
            let n = bounds::ROOM_MEMBERS;
            let range =
                both(format!("0 (skip) or 2 to {n}"), format!("0 (пропустить) или от 2 до {n}"));
            return bad("room members", range);
        }
        if self.room_members > 0 && !(1..=self.room_members).contains(&self.room_senders) {
            let n = self.room_members;
            let range = both(
                format!("1 to the number of members ({n})"),
                format!("от 1 до числа участников ({n})"),
            );
            return bad("room senders", range);
        }
        if !(1..=bounds::WINDOW).contains(&self.window) {
            return bad("window", one_to(bounds::WINDOW));
        }
        let (lo, hi) = bounds::MESSAGE_BYTES;
        if !(lo..=hi).contains(&self.message_bytes) {
            return bad(
                "message size",
                both(format!("{lo} to {hi} bytes"), format!("от {lo} до {hi} байт")),
            );
        }
        let positive = |max: Duration| {
            let s = max.as_secs();
            both(format!("more than 0 and at most {max:?}"), format!("больше 0 и не больше {s} с"))
        };
        if self.phase_duration.is_zero() || self.phase_duration > bounds::PHASE_DURATION {
            return bad("phase duration", positive(bounds::PHASE_DURATION));
        }
        if !(1..=bounds::MAX_MESSAGES).contains(&self.max_messages) {
            let n = bounds::MAX_MESSAGES;
            return bad("message cap", both(format!("1 to {n}"), format!("от 1 до {n}")));
        }
        for (what, t) in
            [("connect timeout", self.connect_timeout), ("reply timeout", self.reply_timeout)]
        {
            if t.is_zero() || t > bounds::TIMEOUT {
                return bad(what, positive(bounds::TIMEOUT));
            }
        }
        crate::Names::new(&self.name_prefix)?;
        Ok(())
    }
}

/// The Russian name of a setting [`LoadConfig::validate`] names in English.
fn setting_ru(what: &str) -> &str {
    match what {
        "host" => "узел",
        "port" => "порт",
        "connections" => "число соединений",
        "connects in flight" => "одновременных подключений",
        "pairs" => "число пар",
        "room members" => "участников комнаты",
        "room senders" => "отправителей в комнате",
        "window" => "окно",
        "message size" => "размер сообщения",
        "phase duration" => "длительность фазы",
        "message cap" => "предел сообщений за фазу",
        "connect timeout" => "таймаут подключения",
        "reply timeout" => "таймаут ответа",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_gentle() {
        let c = LoadConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(c.host, "127.0.0.1");
        assert!(c.connections <= 50 && c.phase_duration <= Duration::from_secs(5));
    }

    #[test]
    fn out_of_range_values_are_refused_with_their_name() {
        let cases: Vec<(LoadConfig, &str)> = vec![
            (LoadConfig { connections: 1_000_000, ..LoadConfig::default() }, "connections"),
            (LoadConfig { window: 0, ..LoadConfig::default() }, "window"),
            (LoadConfig { room_members: 1, ..LoadConfig::default() }, "room members"),
            (LoadConfig { room_senders: 11, ..LoadConfig::default() }, "room senders"),
            (LoadConfig { message_bytes: 10, ..LoadConfig::default() }, "message size"),
            (
                LoadConfig { reply_timeout: Duration::ZERO, ..LoadConfig::default() },
                "reply timeout",
            ),
            (LoadConfig { name_prefix: "bad name".into(), ..LoadConfig::default() }, "prefix"),
        ];
        for (config, what) in cases {
            let err = config.validate().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(what), "{what}: {err}");
        }
    }
}
