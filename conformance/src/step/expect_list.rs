//! `expect_list`: the next value is a list response (202 by default) carrying names, in any
//! accepted shape: `data_list` (course) or `alert` (spec); under the `list-shape` tolerance
//! also `contact_list`, `user_list`, `users`, `contacts`, `message`, or `quantity` followed by N
//! `contact_list` messages. `contains`, `excludes` and `equals` (placeholders allowed) say which
//! names must, must not, or alone may be there.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Body, Kind, StepResult, Template};
use crate::case::{Arrived, At, Case, Details, Side};
use crate::i18n::{Lang, Said};
use crate::matcher::{read_code, show};
use crate::placeholders::Mode;
use crate::vocab::{StepKeyword, Tolerance};
use crate::wire::Arrival;

/// Keys a list may come in, in the order they are looked for.
const LIST_KEYS: [&str; 7] =
    ["data_list", "alert", "contact_list", "user_list", "users", "contacts", "message"];

/// Keys that name a contact in a `contact_list` message.
const ITEM_KEYS: [&str; 4] = ["user_id", "account_name", "user_login", "contact"];

/// Most `contact_list` messages a `quantity` may announce.
const MAX_QUANTITY: u64 = 1000;

/// The `expect_list` step.
#[derive(Debug, Clone, Default)]
pub struct ExpectList {
    /// The response code (default 202).
    pub code: u16,
    /// Names (placeholders allowed) that must be in the list.
    pub contains: Vec<Value>,
    /// Names that must not be in the list.
    pub excludes: Vec<Value>,
    /// If set, the list must hold exactly these names (in any order).
    pub equals: Option<Vec<Value>>,
}

/// The names of a list step, expanded.
struct Names {
    contains: Vec<String>,
    excludes: Vec<String>,
    equals: Option<Vec<String>>,
}

fn text_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

impl ExpectList {
    pub(crate) fn parse(b: &Body<'_>) -> Result<Self, Said> {
        let Value::Object(o) = b.value else {
            return Err(b.error(Said::new(
                "expect_list must be an object",
                "expect_list должно быть объектом",
            )));
        };
        let mut list = Self { code: 202, ..Self::default() };
        for (k, v) in o {
            match (k.as_str(), v) {
                ("code", c) => {
                    list.code = c.as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(0);
                    if !(100..=599).contains(&list.code) {
                        return Err(b.error(Said::new(
                            "expect_list code must be 100..=599",
                            "code в expect_list должно быть от 100 до 599",
                        )));
                    }
                }
                ("contains", Value::Array(a)) => list.contains = a.clone(),
                ("excludes", Value::Array(a)) => list.excludes = a.clone(),
                ("equals", Value::Array(a)) => list.equals = Some(a.clone()),
                _ => {
                    return Err(b.error(Said::new(
                        format!("expect_list: bad key \"{k}\""),
                        format!("expect_list: недопустимый ключ \"{k}\""),
                    )));
                }
            }
        }
        Ok(list)
    }

    fn expand<S: Side>(
        &self,
        cx: &mut Case<'_, S>,
        at: &At,
    ) -> Result<Names, crate::case::Outcome> {
        let mut names = |items: &[Value]| -> Result<Vec<String>, crate::case::Outcome> {
            Ok(cx.expand_all(at, items, Mode::Send)?.iter().map(text_of).collect())
        };
        let contains = names(&self.contains)?;
        let excludes = names(&self.excludes)?;
        let equals = match &self.equals {
            Some(e) => Some(names(e)?),
            None => None,
        };
        Ok(Names { contains, excludes, equals })
    }

    pub(crate) async fn run<S: Side>(&self, cx: &mut Case<'_, S>, at: &At) -> StepResult {
        let names = self.expand(cx, at)?;
        let mut shown = json!({"response": self.code, "list": {"$contains": names.contains}});
        if !names.excludes.is_empty() {
            shown["list_excludes"] = json!(names.excludes);
        }
        if let Some(eq) = &names.equals {
            shown["list_equals"] = json!(eq);
        }
        let mut details = Details::expected(vec![shown]);
        let arrival = cx.next_for_step(&at.conn, at.deadline, false).await;
        let Arrival::Value { value, .. } = &arrival else {
            let arrived = cx.arrived(&at.conn, arrival, at.within);
            return Err(cx.fail(at, arrived, details));
        };
        let value = value.clone();
        if let Some(listed) = self.read_list(cx, at, &value, &mut details).await {
            names.compare(&listed, &mut details.why);
        }
        if details.why.is_empty() {
            return Ok(());
        }
        let arrived = cx.arrived(&at.conn, arrival, at.within);
        Err(cx.fail(at, arrived, details))
    }

    /// The names the response lists (None when it is no list), noting what is wrong with its
    /// code and shape.
    async fn read_list<S: Side>(
        &self,
        cx: &mut Case<'_, S>,
        at: &At,
        value: &Value,
        details: &mut Details,
    ) -> Option<Vec<String>> {
        let why = &mut details.why;
        let would = &mut details.would_need;
        match value.get("response").and_then(read_code) {
            Some((code, is_string)) if code == i64::from(self.code) => {
                if is_string && !allowed(cx, Tolerance::StringCode, would) {
                    why.push(Said::new(
                        ".response: the code is a string; send a number",
                        ".response: код — строка; отправляйте число",
                    ));
                }
            }
            Some((code, _)) => why.push(Said::new(
                format!(".response: expected {}, got {code}", self.code),
                format!(".response: ожидалось {}, пришло {code}", self.code),
            )),
            None => {
                let got = show(value.get("response").unwrap_or(&Value::Null), 40);
                why.push(Said::new(
                    format!(".response: expected {}, got {got}", self.code),
                    format!(".response: ожидалось {}, пришло {got}", self.code),
                ));
            }
        }
        if !why.is_empty() {
            return None;
        }
        for key in LIST_KEYS {
            if let Some(Value::Array(items)) = value.get(key) {
                if !matches!(key, "data_list" | "alert")
                    && !allowed(cx, Tolerance::ListShape, would)
                {
                    why.push(Said::new(
                        format!(
                            ".{key}: the list should be in \"alert\" (spec) or \"data_list\" (course)"
                        ),
                        format!(
                            ".{key}: список должен быть в \"alert\" (spec) или \"data_list\" (курс)"
                        ),
                    ));
                }
                return Some(items.iter().map(text_of).collect());
            }
        }
        let Some(n) = value.get("quantity").and_then(Value::as_u64).filter(|n| *n <= MAX_QUANTITY)
        else {
            why.push(Said::new(
                "no list found (looked for data_list, alert, contact_list, user_list, message, quantity)",
                "список не найден (искали data_list, alert, contact_list, user_list, message, quantity)",
            ));
            return None;
        };
        let got = quantity_items(cx, at, n, why).await;
        if why.is_empty() && !allowed(cx, Tolerance::ListShape, would) {
            why.push(Said::new(
                "the list came as quantity + contact_list messages",
                "список пришёл как quantity + сообщения contact_list",
            ));
        }
        Some(got)
    }
}

/// Asks for a tolerance; a refused one is noted as one that would have helped.
fn allowed<S: Side>(cx: &mut Case<'_, S>, t: Tolerance, would: &mut BTreeSet<Tolerance>) -> bool {
    cx.tolerate(t) || {
        would.insert(t);
        false
    }
}

/// Reads the `n` contact_list messages a `quantity` announced.
async fn quantity_items<S: Side>(
    cx: &mut Case<'_, S>,
    at: &At,
    n: u64,
    why: &mut Vec<Said>,
) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..n {
        match cx.next_for_step(&at.conn, at.deadline, false).await {
            Arrival::Value { value: item, .. } => {
                let name = ITEM_KEYS.iter().find_map(|k| item.get(*k).and_then(Value::as_str));
                got.push(name.map_or_else(|| item.to_string(), str::to_owned));
            }
            other => {
                let arrived = Arrived::from_arrival(other, at.within);
                why.push(Said::new(
                    format!(
                        "quantity said {n} contact_list messages follow; got {} then {}",
                        got.len(),
                        arrived.describe(Lang::En)
                    ),
                    format!(
                        "quantity обещал {n} сообщений contact_list; пришло {}, затем {}",
                        got.len(),
                        arrived.describe(Lang::Ru)
                    ),
                ));
                break;
            }
        }
    }
    got
}

impl Names {
    fn compare(&self, listed: &[String], why: &mut Vec<Said>) {
        for c in &self.contains {
            if !listed.contains(c) {
                why.push(Said::new(
                    format!("the list {listed:?} lacks {c:?}"),
                    format!("в списке {listed:?} нет {c:?}"),
                ));
            }
        }
        for x in &self.excludes {
            if listed.contains(x) {
                why.push(Said::new(
                    format!("the list {listed:?} must not contain {x:?}"),
                    format!("в списке {listed:?} не должно быть {x:?}"),
                ));
            }
        }
        if let Some(eq) = &self.equals {
            let a: BTreeSet<&String> = listed.iter().collect();
            let b: BTreeSet<&String> = eq.iter().collect();
            if a != b {
                why.push(Said::new(
                    format!("the list {listed:?} should be exactly {eq:?}"),
                    format!("список {listed:?} должен быть ровно {eq:?}"),
                ));
            }
        }
    }
}

impl Kind for ExpectList {
    fn keyword(&self) -> StepKeyword {
        StepKeyword::ExpectList
    }

    fn templates(&self) -> Vec<Template<'_>> {
        self.contains
            .iter()
            .chain(&self.excludes)
            .chain(self.equals.iter().flatten())
            .map(|v| Template::Json(v, Mode::Send))
            .collect()
    }

    fn checks(&self) -> bool {
        true
    }
}
