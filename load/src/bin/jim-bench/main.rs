//! `jim-bench`: the reproducible comparison of issue 8.
//!
//! In one invocation it measures the raw tokio echo (the loopback limit), the reference server
//! and the two Python example servers, with the target pinned to one CPU and this generator to
//! the other, in interleaved repetitions (round-robin over targets, a fresh target process per
//! measurement). It prints a Markdown table (median [min–max]) with the ratios issue 8 asks for
//! and saves it with a JSON twin. Every child process is killed on exit, on errors and on
//! Ctrl-C.

mod plan;
mod report;
mod target;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;

use crate::plan::{Env, Settings, Shape};
use crate::report::{Meta, Report};
use crate::target::{TargetKind, TargetSpec};

/// Compare the reference JIM server with the Python example servers and the loopback limit.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// A fast smoke version (1 repetition, short phases, 200 and 1,000 held connections).
    #[arg(long)]
    quick: bool,
    /// Interleaved repetitions (default 3; 1 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// Targets to measure, comma-separated: echo, reference, python-select, python-asyncio.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "echo,reference,python-select,python-asyncio"
    )]
    targets: Vec<String>,
    /// Shapes to measure, comma-separated: round-trip, relay, fan-out, hold.
    #[arg(long, value_delimiter = ',', default_value = "round-trip,relay,fan-out,hold")]
    shapes: Vec<String>,
    /// Held-connection counts, comma-separated (default 1000,5000,10000; 200,1000 with --quick;
    /// `0` measures none).
    #[arg(long, value_delimiter = ',')]
    holds: Option<Vec<usize>>,
    /// Seconds each traffic shape sends (default 4; 0.5 with --quick).
    #[arg(long)]
    traffic_secs: Option<f64>,
    /// Seconds of round trips (default 3; 0.5 with --quick).
    #[arg(long)]
    round_trip_secs: Option<f64>,
    /// The reference server binary (default: `jim-server` next to this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Extra argument for the reference server (repeatable).
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// The echo server binary (default: `jim-echo` next to this program).
    #[arg(long)]
    echo_bin: Option<PathBuf>,
    /// Python interpreter for the Python targets.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Directory holding server.py and server_asyncio.py.
    #[arg(long, default_value = "examples/python")]
    examples: PathBuf,
    /// Where to save the Markdown summary (kept in the repository).
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Where to save the full JSON measurements (thousands of lines a run: outside the
    /// repository's tracked files by default, under the ignored target directory).
    #[arg(long, default_value = "target/bench-results")]
    json_out: PathBuf,
    /// Before starting, wait up to this many seconds for a quiet machine (1-minute load average
    /// at most 0.5 and under 10 % CPU busy); then measure anyway (the table says so).
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    wait_quiet: u64,
    /// Do not pin anything with taskset.
    #[arg(long)]
    no_pin: bool,
    /// CPU for the targets.
    #[arg(long, default_value_t = 0)]
    target_cpu: usize,
    /// CPU for this load generator.
    #[arg(long, default_value_t = 1)]
    load_cpu: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = run(args);
    target::kill_all();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jim-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut command = std::env::args().collect::<Vec<_>>().join(" ");
    if let Ok(launcher) = std::env::var("JIM_BENCH_COMMAND") {
        // bench/run.sh says how it was started; the binary's own path is machine-specific.
        command = launcher;
    }
    let nproc = cpu_count();
    let pinning = if args.no_pin {
        "none (--no-pin)".to_owned()
    } else if nproc < 2 || args.target_cpu == args.load_cpu {
        "none (needs two distinct CPUs)".to_owned()
    } else {
        pin_self(args.load_cpu)?;
        format!(
            "targets on CPU {} (taskset -c), load generator on CPU {}",
            args.target_cpu, args.load_cpu
        )
    };
    let target_cpu = pinning.starts_with("targets").then_some(args.target_cpu);
    install_signal_handler();
    let fd_limit = jim_load::hold::raise_fd_limit();

    let mut settings = if args.quick { Settings::quick() } else { Settings::standard() };
    if let Some(r) = args.reps {
        settings.reps = r.clamp(1, 50);
    }
    if let Some(h) = &args.holds {
        settings.holds = h.iter().copied().filter(|&n| n > 0).map(|n| n.min(20_000)).collect();
    }
    if let Some(t) = args.traffic_secs {
        settings.traffic_secs = t.clamp(0.1, 120.0);
    }
    if let Some(t) = args.round_trip_secs {
        settings.round_trip_secs = t.clamp(0.1, 120.0);
    }
    let needed = settings.holds.iter().max().copied().unwrap_or(0) as u64 + 200;
    if fd_limit < needed {
        eprintln!(
            "jim-bench: warning: open-file limit {fd_limit} is below {needed}; the largest hold will be cut short"
        );
    }

    let (specs, skipped_targets) = target_specs(&args)?;
    anyhow::ensure!(!specs.is_empty(), "no target can be measured: {}", skipped_targets.join("; "));
    let python = python_version(&args.python);
    let log_dir = tempfile::tempdir().context("cannot create a directory for target logs")?;
    let env = Env { target_cpu, log_dir: log_dir.path().to_path_buf() };

    wait_for_quiet(args.wait_quiet);
    let started = Instant::now();
    let (loadavg_start, busy_before_pct) = (loadavg(), busy_pct_over_a_second());
    let (machine_before, own_before) = (machine_cpu(), target::process_cpu_us("self"));
    let date = utc_now();
    eprintln!(
        "jim-bench: {} repetition(s), targets {}, load average {loadavg_start:.2}, {busy_before_pct:.0} % busy",
        settings.reps,
        specs.iter().map(|s| s.kind.id()).collect::<Vec<_>>().join(", ")
    );

    let mut shapes = Vec::new();
    for name in &args.shapes {
        match name.trim() {
            "round-trip" => shapes.push(Shape::RoundTrip),
            "relay" => shapes.push(Shape::Relay),
            "fan-out" => shapes.push(Shape::FanOut),
            "hold" => shapes.extend(settings.holds.iter().map(|&n| Shape::Hold(n))),
            other => {
                anyhow::bail!("unknown shape {other:?}: use round-trip, relay, fan-out or hold")
            }
        }
    }
    if !args.shapes.iter().any(|s| s.trim() == "hold") {
        settings.holds.clear();
    }
    let samples = jim_load::block_on_local(async {
        let mut samples = Vec::new();
        for rep in 0..settings.reps {
            for &shape in &shapes {
                // Round-robin: each repetition starts with a different target.
                let n = specs.len();
                for i in 0..n {
                    let spec = &specs[(i + rep) % n];
                    if !shape.applies_to(spec.kind) {
                        continue;
                    }
                    let sample = plan::measure(spec, shape, rep, &settings, &env).await;
                    eprintln!(
                        "[rep {}/{}] {:<28} {:<26} {}",
                        rep + 1,
                        settings.reps,
                        shape.id(),
                        spec.kind.label(),
                        sample.brief()
                    );
                    samples.push(sample);
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
        samples
    })?;
    target::kill_all();
    // CPU used by other processes during the run: the machine's busy time minus ours and the
    // targets'.
    let others_pct =
        match (machine_before, machine_cpu(), own_before, target::process_cpu_us("self")) {
            (Some((busy0, total0)), Some((busy1, total1)), Some(own0), Some(own1))
                if total1 > total0 =>
            {
                let targets: f64 = samples.iter().map(|s| s.cpu_total_us).sum();
                let ours = (own1 - own0 + targets) / 1e6;
                let ticks = (total1 - total0) / clock_ticks_per_sec();
                let busy = (busy1 - busy0) / clock_ticks_per_sec();
                (100.0 * (busy - ours) / ticks).max(0.0)
            }
            _ => f64::NAN,
        };

    let meta = Meta {
        date,
        command,
        nproc,
        cpu_model: cpu_model(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        memory: memory(),
        python,
        commit: git_commit(),
        loadavg_start,
        loadavg_end: loadavg(),
        busy_before_pct,
        others_during_pct: others_pct,
        pinning,
        elapsed_secs: started.elapsed().as_secs_f64(),
        skipped_targets,
    };
    let report = Report::build(meta, settings, samples);
    let markdown = report.to_markdown();
    println!("{markdown}");
    save(&args.out, &args.json_out, args.quick, &markdown, &report.to_json())?;
    Ok(())
}

/// Pins this process (all its threads) to `cpu`; children started later inherit it unless
/// they are started through taskset themselves.
fn pin_self(cpu: usize) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["-a", "-c", "-p", &cpu.to_string(), &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run taskset (util-linux); use --no-pin to run unpinned")?;
    anyhow::ensure!(status.success(), "taskset could not pin the load generator to CPU {cpu}");
    Ok(())
}

/// Kills every target on Ctrl-C, SIGTERM or SIGHUP, then exits.
fn install_signal_handler() {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) =
                (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
            else {
                let _ = tokio::signal::ctrl_c().await;
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        });
        target::kill_all();
        eprintln!("jim-bench: interrupted; every target process was stopped");
        std::process::exit(130);
    });
}

fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(name))
}

/// The targets to measure, and the ones skipped with the reason.
fn target_specs(args: &Args) -> anyhow::Result<(Vec<TargetSpec>, Vec<String>)> {
    let mut specs = Vec::new();
    let mut skipped = Vec::new();
    for id in &args.targets {
        let kind = TargetKind::parse(id.trim()).with_context(|| {
            format!("unknown target {id:?}: use echo, reference, python-select or python-asyncio")
        })?;
        let binary = |given: &Option<PathBuf>, name: &str| given.clone().or_else(|| sibling(name));
        let spec = match kind {
            TargetKind::Echo => binary(&args.echo_bin, "jim-echo").map(|program| TargetSpec {
                kind,
                program,
                args: Vec::new(),
                env: Vec::new(),
            }),
            TargetKind::Reference => {
                binary(&args.server_bin, "jim-server").map(|program| TargetSpec {
                    kind,
                    program,
                    args: args.server_args.clone(),
                    // Per-connection logging would be measured as server cost.
                    env: vec![("RUST_LOG".to_owned(), "warn".to_owned())],
                })
            }
            TargetKind::PythonSelect | TargetKind::PythonAsyncio => {
                let file = if kind == TargetKind::PythonSelect {
                    "server.py"
                } else {
                    "server_asyncio.py"
                };
                let script = args.examples.join(file);
                if script.is_file() {
                    Some(TargetSpec {
                        kind,
                        program: PathBuf::from(&args.python),
                        args: vec![script.display().to_string(), "-a".into(), "127.0.0.1".into()],
                        env: vec![("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned())],
                    })
                } else {
                    skipped.push(format!(
                        "{}: {} not found (run from the repository root or pass --examples)",
                        kind.label(),
                        script.display()
                    ));
                    None
                }
            }
        };
        match spec {
            Some(spec) if spec.program.components().count() > 1 && !spec.program.exists() => {
                skipped.push(format!(
                    "{}: {} not found (build it: cargo build --release -p {})",
                    kind.label(),
                    spec.program.display(),
                    if kind == TargetKind::Echo { "jim-load" } else { "jim-server" }
                ));
            }
            Some(spec) => specs.push(spec),
            None => {}
        }
    }
    Ok((specs, skipped))
}

fn save(
    dir: &Path,
    json_dir: &Path,
    quick: bool,
    markdown: &str,
    json: &str,
) -> anyhow::Result<()> {
    for d in [dir, json_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    let stamp = run_output("date", &["-u", "+%Y%m%d-%H%M%S"]).unwrap_or_else(|| "run".to_owned());
    let base = format!("{stamp}{}", if quick { "-quick" } else { "" });
    let md = dir.join(format!("{base}.md"));
    std::fs::write(&md, markdown).with_context(|| format!("cannot write {}", md.display()))?;
    let js = json_dir.join(format!("{base}.json"));
    std::fs::write(&js, json).with_context(|| format!("cannot write {}", js.display()))?;
    eprintln!("jim-bench: saved {} and {}", md.display(), js.display());
    Ok(())
}

fn run_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn cpu_count() -> usize {
    let n = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    if n > 0 { n } else { std::thread::available_parallelism().map_or(1, |n| n.get()) }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
            let kib: f64 = line
                .trim_start_matches("MemTotal:")
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn loadavg() -> f64 {
    read_trimmed("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Waits up to `secs` seconds until the machine looks quiet.
fn wait_for_quiet(secs: u64) {
    if secs == 0 {
        return;
    }
    let deadline = Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (load, busy) = (loadavg(), busy_pct_over_a_second());
        if load <= 0.5 && busy < 10.0 {
            eprintln!("jim-bench: the machine is quiet (load average {load:.2}, {busy:.0} % busy)");
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "jim-bench: still busy after {secs} s (load average {load:.2}, {busy:.0} % busy); measuring anyway"
            );
            return;
        }
        eprintln!(
            "jim-bench: waiting for a quiet machine (load average {load:.2}, {busy:.0} % busy)"
        );
        std::thread::sleep(std::time::Duration::from_secs(9));
    }
}

/// Busy and total CPU time of the whole machine so far (all CPUs, in clock ticks), from
/// /proc/stat.
fn machine_cpu() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0.0);
    Some((total - idle, total))
}

fn clock_ticks_per_sec() -> f64 {
    run_output("getconf", &["CLK_TCK"]).and_then(|s| s.parse().ok()).unwrap_or(100.0)
}

/// Share of all CPUs' time spent busy over one second, from /proc/stat.
fn busy_pct_over_a_second() -> f64 {
    let Some((b0, t0)) = machine_cpu() else { return f64::NAN };
    std::thread::sleep(std::time::Duration::from_secs(1));
    let Some((b1, t1)) = machine_cpu() else { return f64::NAN };
    if t1 > t0 { 100.0 * (b1 - b0) / (t1 - t0) } else { f64::NAN }
}

fn utc_now() -> String {
    run_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown".to_owned())
}

fn git_commit() -> String {
    if let Ok(commit) = std::env::var("JIM_BENCH_COMMIT") {
        // Set when measuring an exported tree that has no .git of its own.
        return commit;
    }
    let Some(commit) = run_output("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let dirty = run_output("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    if dirty { format!("{commit}, with uncommitted changes") } else { commit }
}

fn python_version(python: &str) -> String {
    run_output(python, &["-c", "import platform; print(platform.python_version())"])
        .unwrap_or_else(|| "unknown".to_owned())
}
