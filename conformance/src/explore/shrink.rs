//! Shrinking a failing session to a small one that fails the same way.
//!
//! Deterministic: the candidates are tried in a fixed order and each is kept only when a replay
//! against the target fails with the same obligation, so the same target gives the same result.
//! Passes: cut everything after the failing step; remove chunks of steps (halves, quarters, ...
//! down to single steps, from the end); remove whole clients; simplify each message (text "hi",
//! escaped, its own `from`) and each delivery (whole); finally drop the names and rooms nobody
//! uses. Every replay uses fresh names, and a budget of replays bounds the work.

use super::judge::Finding;
use super::model::{Dest, Obligation, Op, Session, Step};
use crate::wire::Delivery;

/// Replays a candidate: Some(finding) when it fails (any way), None when it passes.
pub trait Replay {
    /// Runs `session` against the target once.
    fn replay(&mut self, session: &Session) -> impl Future<Output = Option<Finding>>;
}

/// The result of shrinking.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing session found.
    pub session: Session,
    /// Its failure (from its last replay).
    pub finding: Finding,
    /// Replays used.
    pub replays: usize,
}

struct Shrinker<'r, R: Replay> {
    replay: &'r mut R,
    obligation: Obligation,
    budget: usize,
    used: usize,
    best: Session,
    finding: Finding,
}

impl<R: Replay> Shrinker<'_, R> {
    async fn try_keep(&mut self, candidate: Session) -> bool {
        if self.used >= self.budget || candidate == self.best || candidate.steps.is_empty() {
            return false;
        }
        self.used += 1;
        match self.replay.replay(&candidate).await {
            Some(f) if f.obligation == self.obligation => {
                self.best = truncate(&candidate, f.step);
                self.finding = f;
                true
            }
            _ => false,
        }
    }

    async fn chunks(&mut self) {
        let mut size = self.best.steps.len().div_ceil(2).max(1);
        loop {
            let mut changed = false;
            let mut end = self.best.steps.len();
            while end > 0 && self.used < self.budget {
                let start = end.saturating_sub(size);
                let mut candidate = self.best.clone();
                candidate.steps.drain(start..end.min(candidate.steps.len()));
                if self.try_keep(candidate).await {
                    changed = true;
                    end = start.min(self.best.steps.len());
                } else {
                    end = start;
                }
            }
            if size == 1 && !changed {
                break;
            }
            if !changed {
                size = size.div_ceil(2).max(1);
                if size == 1 && self.best.steps.len() > 64 {
                    break;
                }
            }
            if self.used >= self.budget {
                break;
            }
        }
    }

    async fn clients(&mut self) {
        let mut c = self.best.dialects.len();
        while c > 0 && self.used < self.budget {
            c -= 1;
            if self.best.dialects.len() <= 1 {
                break;
            }
            let candidate = without_client(&self.best, c);
            self.try_keep(candidate).await;
        }
    }

    async fn simplify(&mut self) {
        let mut i = 0;
        while i < self.best.steps.len() && self.used < self.budget {
            let step = &self.best.steps[i];
            let mut simpler = step.clone();
            simpler.delivery = Delivery::Whole;
            if let Op::Msg { text, forged, raw, .. } = &mut simpler.op {
                *forged = None;
                *raw = false;
                if !text.is_empty() && text != "hi" {
                    *text = "hi".into();
                }
            }
            if simpler != *step {
                let mut candidate = self.best.clone();
                candidate.steps[i] = simpler;
                if !self.try_keep(candidate).await {
                    // One change at a time: the text alone, then the rest alone.
                    for part in simplifications(&self.best.steps[i]) {
                        let mut candidate = self.best.clone();
                        candidate.steps[i] = part;
                        if self.try_keep(candidate).await {
                            break;
                        }
                    }
                }
            }
            i += 1;
        }
    }
}

fn simplifications(step: &Step) -> Vec<Step> {
    let mut out = Vec::new();
    if step.delivery != Delivery::Whole {
        out.push(Step { delivery: Delivery::Whole, ..step.clone() });
    }
    if let Op::Msg { c, to, text, forged, raw } = &step.op {
        for (t, f, r) in
            [("hi", *forged, *raw), (text.as_str(), None, *raw), (text.as_str(), *forged, false)]
        {
            let op =
                Op::Msg { c: *c, to: *to, text: t.to_owned(), forged: f, raw: r && !t.is_ascii() };
            if op != step.op {
                out.push(Step { op, delivery: step.delivery });
            }
        }
    }
    out
}

/// The session up to and including step `failed` (the closing barrier keeps everything).
fn truncate(s: &Session, failed: usize) -> Session {
    let mut s = s.clone();
    s.steps.truncate(failed.saturating_add(1));
    s
}

fn without_client(s: &Session, c: usize) -> Session {
    let mut out = s.clone();
    out.dialects.remove(c);
    out.steps = s
        .steps
        .iter()
        .filter(|st| st.op.client() != c)
        .map(|st| {
            let mut st = st.clone();
            let actor = st.op.client_mut();
            if *actor > c {
                *actor -= 1;
            }
            st
        })
        .collect();
    out
}

/// `s` up to its failing step, with a round trip ([`Op::Check`]) after each request: the
/// careful replay that tells which request a stray response answered.
pub fn with_checks(s: &Session, failed: usize) -> Session {
    let mut out = truncate(s, failed);
    out.steps = out
        .steps
        .iter()
        .flat_map(|st| {
            let check = match st.op {
                Op::Connect { .. }
                | Op::Close { .. }
                | Op::Reset { .. }
                | Op::Quit { .. }
                | Op::Check { .. } => None,
                _ => Some(Step { op: Op::Check { c: st.op.client() }, delivery: Delivery::Whole }),
            };
            std::iter::once(st.clone()).chain(check)
        })
        .collect();
    out
}

/// Drops names and rooms no step uses (indices renumbered; the names themselves unchanged).
pub fn compact(s: &Session) -> Session {
    let mut names_used = vec![false; s.names.len()];
    let mut rooms_used = vec![false; s.rooms.len()];
    let mut mark_name = |n: usize| {
        if let Some(u) = names_used.get_mut(n) {
            *u = true;
        }
    };
    for st in &s.steps {
        match &st.op {
            Op::Presence { name, .. } => mark_name(*name),
            Op::Msg { to, forged, .. } => {
                match to {
                    Dest::User(n) => mark_name(*n),
                    Dest::Room(r) => {
                        if let Some(u) = rooms_used.get_mut(*r) {
                            *u = true;
                        }
                    }
                }
                if let Some(f) = forged {
                    mark_name(*f);
                }
            }
            Op::AddContact { who, .. } | Op::DelContact { who, .. } => mark_name(*who),
            Op::Join { room, .. } | Op::Leave { room, .. } => {
                if let Some(u) = rooms_used.get_mut(*room) {
                    *u = true;
                }
            }
            _ => {}
        }
    }
    let remap = |used: &[bool]| {
        let mut map = Vec::with_capacity(used.len());
        let mut next = 0;
        for u in used {
            map.push(next);
            if *u {
                next += 1;
            }
        }
        map
    };
    let nmap = remap(&names_used);
    let rmap = remap(&rooms_used);
    let n = |x: usize| nmap.get(x).copied().unwrap_or(x);
    let r = |x: usize| rmap.get(x).copied().unwrap_or(x);
    let mut out = s.clone();
    out.names =
        s.names.iter().zip(&names_used).filter(|(_, u)| **u).map(|(x, _)| x.clone()).collect();
    out.rooms =
        s.rooms.iter().zip(&rooms_used).filter(|(_, u)| **u).map(|(x, _)| x.clone()).collect();
    if out.names.is_empty() {
        out.names = s.names.first().cloned().into_iter().collect();
    }
    for st in &mut out.steps {
        match &mut st.op {
            Op::Presence { name, .. } => *name = n(*name),
            Op::Msg { to, forged, .. } => {
                *to = match *to {
                    Dest::User(x) => Dest::User(n(x)),
                    Dest::Room(x) => Dest::Room(r(x)),
                };
                *forged = forged.map(n);
            }
            Op::AddContact { who, .. } | Op::DelContact { who, .. } => *who = n(*who),
            Op::Join { room, .. } | Op::Leave { room, .. } => *room = r(*room),
            _ => {}
        }
    }
    out
}

/// Shrinks `session`, which failed with `finding`, using at most `budget` replays.
pub async fn shrink<R: Replay>(
    replay: &mut R,
    session: &Session,
    finding: Finding,
    budget: usize,
) -> Shrunk {
    let mut s = Shrinker {
        replay,
        obligation: finding.obligation,
        budget,
        used: 0,
        best: truncate(session, finding.step),
        finding,
    };
    s.chunks().await;
    s.clients().await;
    s.chunks().await;
    s.simplify().await;
    Shrunk { session: compact(&s.best), finding: s.finding, replays: s.used }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::explore::judge::t;
    use crate::model::{Dialect, Level};

    /// A fake target that fails whenever client 1 sends a message containing "}{".
    struct Fake;
    impl Replay for Fake {
        async fn replay(&mut self, s: &Session) -> Option<Finding> {
            s.steps
                .iter()
                .position(|st| matches!(&st.op, Op::Msg { c: 1, text, .. } if text.contains("}{")))
                .map(|step| {
                    Finding::new(Obligation::TextUnchanged, Level::Must)
                        .at(step, 1)
                        .sentence(t("x", "x"))
                })
        }
    }

    #[tokio::test]
    async fn shrinking_keeps_only_what_the_failure_needs() {
        let mut steps = Vec::new();
        for c in 0..3 {
            steps.push(Step { op: Op::Connect { c }, delivery: Delivery::Whole });
            steps.push(Step { op: Op::Presence { c, name: c }, delivery: Delivery::Whole });
        }
        steps.push(Step {
            op: Op::Msg {
                c: 1,
                to: Dest::User(0),
                text: "a }{ b".into(),
                forged: None,
                raw: false,
            },
            delivery: Delivery::Split,
        });
        steps.push(Step { op: Op::Quit { c: 0 }, delivery: Delivery::Whole });
        let session = Session {
            dialects: vec![Dialect::Spec; 3],
            names: vec!["ann".into(), "bob".into(), "cat".into()],
            rooms: vec!["r".into()],
            steps,
        };
        let f = Fake.replay(&session).await.unwrap();
        let shrunk = shrink(&mut Fake, &session, f, 500).await;
        assert_eq!(shrunk.session.steps.len(), 1, "{:?}", shrunk.session.steps);
        assert_eq!(shrunk.session.steps[0].delivery, Delivery::Whole);
        assert_eq!(shrunk.session.dialects.len(), 2);
        let again = shrink(&mut Fake, &session, Fake.replay(&session).await.unwrap(), 500).await;
        assert_eq!(again.session, shrunk.session, "shrinking is deterministic");
    }
}
