//! Turning samples into the result: medians and ranges per metric, the ratios issue 8 asks for
//! (computed within each repetition, then summarised), a Markdown table and JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::{Sample, Settings, Shape};
use crate::target::TargetKind;

/// Facts about the run for the table header.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// When the run started (UTC).
    pub date: String,
    /// The exact command line.
    pub command: String,
    /// Logical CPUs of the machine.
    pub nproc: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// Total memory.
    pub memory: String,
    /// Python version of the Python targets.
    pub python: String,
    /// Git commit of the checkout, if known.
    pub commit: String,
    /// 1-minute load average before the run.
    pub loadavg_start: f64,
    /// 1-minute load average after the run (includes the benchmark itself).
    pub loadavg_end: f64,
    /// Share of CPU time the machine was busy during one second before the run.
    pub busy_before_pct: f64,
    /// Share of the machine's CPU time used by other processes during the run.
    pub others_during_pct: f64,
    /// How processes were pinned.
    pub pinning: String,
    /// Wall time of the whole run, in seconds.
    pub elapsed_secs: f64,
    /// Targets that could not be measured, with the reason.
    pub skipped_targets: Vec<String>,
}

impl Meta {
    /// True when other work was running: such figures are not comparable.
    pub fn under_load(&self) -> bool {
        self.loadavg_start > 0.5 || self.busy_before_pct > 10.0 || self.others_during_pct > 10.0
    }
}

/// Median, min, max and count of one metric over the repetitions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stat {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Number of repetitions that measured it.
    pub n: usize,
}

impl Stat {
    fn of(values: &[f64]) -> Option<Self> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
        Some(Self { median, min: v[0], max: v[v.len() - 1], n: v.len() })
    }

    fn cell(&self, f: impl Fn(f64) -> String) -> String {
        if self.n > 1 && (self.max - self.min).abs() > f64::EPSILON * self.max.abs() {
            format!("{} [{}–{}]", f(self.median), f(self.min), f(self.max))
        } else {
            f(self.median)
        }
    }
}

/// A number for people: thousands separators, sensible decimals.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", v.abs());
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if v < 0.0 { format!("-{out}") } else { out }
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn times(v: f64) -> String {
    format!("{v:.1}×")
}

fn percent(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

/// One ratio from issue 8.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What is compared.
    pub title: String,
    /// The goal in words.
    pub goal_text: String,
    /// The goal value (the ratio must be at least this).
    pub goal: f64,
    /// The ratio over repetitions (computed within each repetition).
    pub value: Option<Stat>,
    /// met / missed / not measured.
    pub status: String,
    #[serde(skip)]
    as_percent: bool,
}

/// The full result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Header facts.
    pub meta: Meta,
    /// The knobs used.
    pub settings: Settings,
    /// Every measurement.
    pub samples: Vec<Sample>,
    /// Per target, shape and metric: median, min, max.
    pub summary: Vec<SummaryRow>,
    /// Issue 8's targets.
    pub ratios: Vec<Ratio>,
    /// Further goals (held connections, RSS per connection).
    pub goals: Vec<Goal>,
}

/// One summarised metric.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    /// Target id.
    pub target: TargetKind,
    /// Shape.
    pub shape: Shape,
    /// Metric name.
    pub metric: &'static str,
    /// Its statistics.
    pub stat: Stat,
}

/// A goal that is not a ratio.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// What is checked.
    pub title: String,
    /// The measured value in words.
    pub measured: String,
    /// The goal in words.
    pub goal_text: String,
    /// met / missed / not measured.
    pub status: String,
}

type Key = (TargetKind, Shape);
/// One side of a ratio: a metric of a target on a shape.
type Operand<'a> = (TargetKind, Shape, &'a str);

impl Report {
    /// Summarises `samples`.
    pub fn build(meta: Meta, settings: Settings, samples: Vec<Sample>) -> Self {
        let mut by_key: BTreeMap<(Key, &'static str), Vec<f64>> = BTreeMap::new();
        for s in &samples {
            for (metric, value) in &s.metrics {
                by_key.entry(((s.target, s.shape), metric)).or_default().push(*value);
            }
        }
        let summary = by_key
            .iter()
            .filter_map(|(((target, shape), metric), values)| {
                Stat::of(values).map(|stat| SummaryRow {
                    target: *target,
                    shape: *shape,
                    metric,
                    stat,
                })
            })
            .collect();
        let mut report =
            Self { meta, settings, samples, summary, ratios: Vec::new(), goals: Vec::new() };
        report.ratios = report.compute_ratios();
        report.goals = report.compute_goals();
        report
    }

    fn stat(&self, target: TargetKind, shape: Shape, metric: &str) -> Option<Stat> {
        self.summary
            .iter()
            .find(|r| r.target == target && r.shape == shape && r.metric == metric)
            .map(|r| r.stat)
    }

    fn sample_value(
        &self,
        target: TargetKind,
        shape: Shape,
        rep: usize,
        metric: &str,
    ) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.target == target && s.shape == shape && s.rep == rep)
            .and_then(|s| s.get(metric))
    }

    /// `num ÷ den` within each repetition.
    fn ratio(
        &self,
        num: (TargetKind, Shape, &str),
        den: (TargetKind, Shape, &str),
    ) -> Option<Stat> {
        let values: Vec<f64> = (0..self.settings.reps)
            .filter_map(|rep| {
                let n = self.sample_value(num.0, num.1, rep, num.2)?;
                let d = self.sample_value(den.0, den.1, rep, den.2)?;
                (d > 0.0).then(|| n / d)
            })
            .collect();
        Stat::of(&values)
    }

    fn compute_ratios(&self) -> Vec<Ratio> {
        use Shape::{FanOut, Relay, RoundTrip};
        use TargetKind::{Echo, PythonAsyncio, PythonSelect, Reference};
        let cpu = "cpu_us_per_msg";
        let rate = "per_sec";
        let defs: Vec<(String, f64, bool, Operand<'_>, Operand<'_>)> = vec![
            (
                "Server CPU per delivered message, direct relay: Python select ÷ reference".into(),
                5.0,
                false,
                (PythonSelect, Relay, cpu),
                (Reference, Relay, cpu),
            ),
            (
                "Server CPU per delivered message, room fan-out: Python select ÷ reference".into(),
                10.0,
                false,
                (PythonSelect, FanOut, cpu),
                (Reference, FanOut, cpu),
            ),
            (
                "Direct relay deliveries/s ÷ echo back-to-back 150 B writes/s".into(),
                0.90,
                true,
                (Reference, Relay, rate),
                (Echo, Relay, rate),
            ),
            (
                "Presence round trips/s ÷ echo round trips/s".into(),
                0.85,
                true,
                (Reference, RoundTrip, rate),
                (Echo, RoundTrip, rate),
            ),
            (
                "(info) Server CPU per delivered message, direct relay: Python asyncio ÷ reference"
                    .into(),
                0.0,
                false,
                (PythonAsyncio, Relay, cpu),
                (Reference, Relay, cpu),
            ),
            (
                "(info) Server CPU per delivered message, room fan-out: Python asyncio ÷ reference"
                    .into(),
                0.0,
                false,
                (PythonAsyncio, FanOut, cpu),
                (Reference, FanOut, cpu),
            ),
        ];
        defs.into_iter()
            .map(|(title, goal, as_percent, num, den)| {
                let value = self.ratio(num, den);
                let status = match value {
                    None => "not measured".to_owned(),
                    Some(_) if goal == 0.0 => "info".to_owned(),
                    Some(v) if v.median >= goal && v.min >= goal => "met".to_owned(),
                    Some(v) if v.median >= goal => "met (median; not every repetition)".to_owned(),
                    Some(_) => "missed".to_owned(),
                };
                let goal_text = match (goal == 0.0, as_percent) {
                    (true, _) => "–".to_owned(),
                    (false, true) => format!("≥ {}", percent(goal)),
                    (false, false) => format!("≥ {goal:.0}×"),
                };
                Ratio { title, goal_text, goal, value, status, as_percent }
            })
            .collect()
    }

    fn compute_goals(&self) -> Vec<Goal> {
        let mut goals = Vec::new();
        let Some(&n) = self.settings.holds.iter().max() else {
            return goals;
        };
        let shape = Shape::Hold(n);
        let held = self.stat(TargetKind::Reference, shape, "held");
        let (measured, status) = match held {
            None => ("not measured".to_owned(), "not measured".to_owned()),
            Some(h) => (
                format!("{} of {} held at the end (worst repetition)", num(h.min), num(n as f64)),
                if h.min >= n as f64 { "met" } else { "missed" }.to_owned(),
            ),
        };
        goals.push(Goal {
            title: format!("Reference server holds {} connections with 0 failures", num(n as f64)),
            measured,
            goal_text: if n >= 10_000 {
                "10,000, 0 failures".into()
            } else {
                "10,000 (this run asked fewer)".into()
            },
            status: if n >= 10_000 || held.is_none() {
                status
            } else {
                format!("{status} (at {} only)", num(n as f64))
            },
        });
        let rss = self.stat(TargetKind::Reference, shape, "rss_per_conn_kib");
        goals.push(Goal {
            title: format!("Reference server RSS per held connection (at {})", num(n as f64)),
            measured: rss.map_or("not measured".to_owned(), |s| s.cell(|v| format!("{v:.2} KiB"))),
            goal_text: "≤ 4 KiB".into(),
            status: match rss {
                None => "not measured".into(),
                Some(s) if s.max <= 4.0 => "met".into(),
                Some(s) if s.median <= 4.0 => "met (median; not every repetition)".into(),
                Some(_) => "missed".into(),
            },
        });
        goals
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let m = &self.meta;
        let s = &self.settings;
        let mut out = String::new();
        let _ =
            writeln!(out, "# jim-bench: reference server vs. student-style servers vs. loopback\n");
        if m.under_load() {
            let _ = writeln!(
                out,
                "> **Taken under load**: other processes were using the machine (before the run: \
                 1-minute load average {:.2}, {:.0} % CPU busy; during it they used {:.0} % of all \
                 CPU time). Absolute figures are not comparable; ratios less affected.\n",
                m.loadavg_start, m.busy_before_pct, m.others_during_pct
            );
        }
        let _ = writeln!(out, "- date: {}", m.date);
        let _ = writeln!(
            out,
            "- machine: {} × {}, {} RAM, Linux {}; Python {}",
            m.nproc, m.cpu_model, m.memory, m.kernel, m.python
        );
        let _ = writeln!(
            out,
            "- machine load: before the run load average {:.2} and {:.0} % CPU busy; during the run \
             other processes used {:.1} % of all CPU time (load average after: {:.2}, includes this run)",
            m.loadavg_start, m.busy_before_pct, m.others_during_pct, m.loadavg_end
        );
        let _ = writeln!(out, "- command: `{}` (commit {})", m.command, m.commit);
        let _ = writeln!(out, "- pinning: {}", m.pinning);
        let _ = writeln!(
            out,
            "- {} interleaved repetition(s), round-robin over targets, a fresh target process per \
             measurement; cells are median [min–max]; measuring took {:.0} s",
            s.reps, m.elapsed_secs
        );
        for skipped in &m.skipped_targets {
            let _ = writeln!(out, "- not measured: {skipped}");
        }

        let _ = writeln!(out, "\n## Targets of issue 8\n");
        let _ = writeln!(out, "| what | measured | goal | status |\n|---|---|---|---|");
        for r in &self.ratios {
            let measured = match r.value {
                Some(v) if r.as_percent => v.cell(percent),
                Some(v) => v.cell(times),
                None => "–".to_owned(),
            };
            let _ =
                writeln!(out, "| {} | {} | {} | {} |", r.title, measured, r.goal_text, r.status);
        }
        for g in &self.goals {
            let _ =
                writeln!(out, "| {} | {} | {} | {} |", g.title, g.measured, g.goal_text, g.status);
        }

        let targets: BTreeSet<TargetKind> = self.samples.iter().map(|x| x.target).collect();
        let _ = writeln!(out, "\n## Throughput, latency, server cost\n");
        let _ = writeln!(
            out,
            "| shape | target | throughput (/s) | p50 (µs) | p99 (µs) | server CPU µs per delivered msg | CPU busy: server / generator (%) | peak RSS (MiB) | lost |\n|---|---|---|---|---|---|---|---|---|"
        );
        for shape in [Shape::RoundTrip, Shape::Relay, Shape::FanOut] {
            for &t in &targets {
                if !shape.applies_to(t)
                    || !self.samples.iter().any(|x| x.target == t && x.shape == shape)
                {
                    continue;
                }
                let cell = |metric: &str, f: &dyn Fn(f64) -> String| {
                    self.stat(t, shape, metric).map_or("–".to_owned(), |st| st.cell(f))
                };
                let lost = match (self.stat(t, shape, "lost"), self.stat(t, shape, "failures")) {
                    (Some(l), _) => num(l.max),
                    (None, Some(f)) => num(f.max),
                    _ => "–".to_owned(),
                };
                let busy = |metric: &str| {
                    self.stat(t, shape, metric)
                        .map_or("–".to_owned(), |st| format!("{:.0}", st.median))
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} |",
                    shape.label(t, s),
                    t.label(),
                    cell("per_sec", &num),
                    cell("p50_us", &num),
                    cell("p99_us", &num),
                    cell("cpu_us_per_msg", &num),
                    busy("server_busy_pct"),
                    busy("generator_busy_pct"),
                    cell("peak_rss_kib", &|v| num(v / 1024.0)),
                    lost
                );
            }
        }

        if !s.holds.is_empty() {
            let _ = writeln!(
                out,
                "\n## Held connections (a probe's presence round trips measured while they are held)\n"
            );
            let _ = writeln!(
                out,
                "| target | asked | logins answered (worst) | held at the end (worst) | RSS per connection (KiB) | peak RSS (MiB) | probe p50 (µs) | probe p99 (µs) | ramp (s) | new client accepted after |\n|---|---|---|---|---|---|---|---|---|---|"
            );
            for &t in &targets {
                for &n in &s.holds {
                    let shape = Shape::Hold(n);
                    if !shape.applies_to(t)
                        || !self.samples.iter().any(|x| x.target == t && x.shape == shape)
                    {
                        continue;
                    }
                    let cell = |metric: &str, f: &dyn Fn(f64) -> String| {
                        self.stat(t, shape, metric).map_or("–".to_owned(), |st| st.cell(f))
                    };
                    let worst = |metric: &str| {
                        self.stat(t, shape, metric).map_or("–".to_owned(), |st| num(st.min))
                    };
                    let alive = self.stat(t, shape, "alive").map_or("–".to_owned(), |st| {
                        if st.min >= 1.0 {
                            "yes".to_owned()
                        } else if st.max >= 1.0 {
                            "not always".to_owned()
                        } else {
                            "no".to_owned()
                        }
                    });
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                        t.label(),
                        num(n as f64),
                        worst("handshakes"),
                        worst("held"),
                        cell("rss_per_conn_kib", &|v| format!("{v:.2}")),
                        cell("peak_rss_kib", &|v| num(v / 1024.0)),
                        cell("probe_p50_us", &num),
                        cell("probe_p99_us", &num),
                        cell("connect_secs", &|v| format!("{v:.2}")),
                        alive
                    );
                }
            }
        }

        // Per target and shape: the remarks of the first repetition that had any, and how many
        // repetitions had remarks (the details differ only in counts and names).
        let mut notes: BTreeMap<(TargetKind, Shape), (&Vec<String>, usize)> = BTreeMap::new();
        for x in self.samples.iter().filter(|x| !x.notes.is_empty()) {
            notes.entry((x.target, x.shape)).or_insert((&x.notes, 0)).1 += 1;
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "\n## Failures and remarks\n");
            for ((target, shape), (first, count)) in notes {
                let _ = writeln!(
                    out,
                    "- {}, {} (in {count} of {} repetitions; the first one):",
                    target.label(),
                    shape.label(target, s),
                    s.reps
                );
                for n in first {
                    let _ = writeln!(out, "  - {n}");
                }
            }
        }
        let _ = writeln!(
            out,
            "\nThroughput is deliveries per second (room fan-out: each member's copy counts once); \
             server CPU is utime+stime of the target from /proc/PID/stat over the measured part \
             divided by deliveries; CPU busy is CPU time over wall time of the measured part \
             (100 % = one core saturated); RSS per connection is (VmRSS with N held − VmRSS idle) ÷ N; \
             peak RSS is VmHWM."
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_stats_read_well() {
        assert_eq!(num(1_234_567.0), "1,234,567");
        assert_eq!(num(999.4), "999");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.0), "0");
        let st = Stat::of(&[3.0, 1.0, 2.0]).map(|s| (s.median, s.min, s.max, s.n));
        assert_eq!(st, Some((2.0, 1.0, 3.0, 3)));
        assert_eq!(Stat::of(&[4.0, 2.0]).map(|s| s.median), Some(3.0));
        assert!(Stat::of(&[]).is_none());
    }
}
