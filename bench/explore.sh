#!/usr/bin/env bash
# Exploration throughput (issue 14): sessions per second of `jim-conformance explore` against the
# reference server and against examples/python/server.py, and the wall time of the default
# `jim-conformance server` run against the reference with and without its exploration. Release
# builds; the repetitions are interleaved (reference, Python, reference, ...) so that the ratios
# compare runs made under the same load. The Markdown summary is saved in bench/results/, the
# JSON reports in target/bench-results/explore-STAMP/ (not tracked).
#
#   bench/explore.sh               the standard run (3 repetitions, 300 sessions each)
#   bench/explore.sh REPS SESSIONS  other counts
#
# Run it on a quiet machine: the summary records the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
reps="${1:-3}"
sessions="${2:-300}"
cargo build --release --quiet -p jim-conformance -p jim-server
target_dir="${CARGO_TARGET_DIR:-target}"
bin="$target_dir/release/jim-conformance"
stamp="$(date -u +%Y%m%d-%H%M%S)"
out="$target_dir/bench-results/explore-$stamp"
mkdir -p "$out" bench/results
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

# explore NAME REP ARGS...: one exploration, its JSON report kept as NAME-REP.json.
explore() {
    local name="$1" rep="$2"
    shift 2
    "$bin" explore "$@" --sessions "$sessions" --budget 600 --lang en \
        --json "$out/$name-$rep.json" >"$out/$name-$rep.txt" 2>&1 || true
}

# default NAME REP ARGS...: one default server run against the reference, its wall time kept.
default_run() {
    local name="$1" rep="$2"
    shift 2
    local began ended
    began="$(date +%s.%N)"
    "$bin" server "$@" --lang en --json "$out/$name-$rep.json" >"$out/$name-$rep.txt" 2>&1 || true
    ended="$(date +%s.%N)"
    echo "$began $ended" >"$out/$name-$rep.wall"
}

python_target=(--spawn "python3 examples/python/server.py -p {port}")
for rep in $(seq 1 "$reps"); do
    explore reference-inrun "$rep" --no-bad-input
    explore python-inrun "$rep" "${python_target[@]}" --no-bad-input
    explore reference-all "$rep"
    explore python-all "$rep" "${python_target[@]}"
    default_run server-default "$rep"
    default_run server-off "$rep" --explore-sessions 0
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$reps" "$sessions" "$stamp" "$load_before" "$load_after" \
    "$(git rev-parse --short HEAD)" >"bench/results/$stamp-explore.md" <<'EOF'
import json, statistics, sys
out, reps, sessions, stamp, before, after, commit = sys.argv[1:]
reps = int(reps)

def rate(name, rep):
    e = json.load(open(f"{out}/{name}-{rep}.json"))["explored"]
    return e["sessions"], e["session_ms"], len(e["findings"])

def wall(name, rep):
    a, b = open(f"{out}/{name}-{rep}.wall").read().split()
    code = json.load(open(f"{out}/{name}-{rep}.json"))["exit_code"]
    return float(b) - float(a), code

print("# Exploration throughput and the default run's wall time (issue 14)\n")
print(f"`bench/explore.sh {reps} {sessions}`, release builds of commit {commit}, {stamp} UTC, "
      f"the shared 2-core machine (load average {before} before, {after} after): absolute numbers "
      "are pessimistic, the ratios (same repetition, runs next to each other) are the point.\n")
print("Sessions per second: `jim-conformance explore --sessions N` (seed 14, one session at a "
      "time), sessions run divided by the sessions' wall time (calibration and start-up not "
      "counted). *in-run* is the default run's configuration (`--no-bad-input`: valid requests "
      "only), *all* the `explore` subcommand's default (invalid input too).\n")
print("| repetition | reference, in-run | Python example, in-run | ratio | reference, all | Python example, all | ratio |")
print("|---|---|---|---|---|---|---|")
ratios = {"inrun": [], "all": []}
rates = {}
for rep in range(1, reps + 1):
    row = [str(rep)]
    for cfg in ("inrun", "all"):
        r = []
        for target in ("reference", "python"):
            n, ms, found = rate(f"{target}-{cfg}", rep)
            per_s = n / (ms / 1000) if ms else float("nan")
            rates.setdefault((target, cfg), []).append(per_s)
            r.append(per_s)
            note = f" ({found} failures!)" if found else ""
            row.append(f"{per_s:.1f} ({n} in {ms / 1000:.2f} s){note}")
        ratios[cfg].append(r[0] / r[1])
        row.append(f"{r[0] / r[1]:.2f}")
    print("| " + " | ".join(row) + " |")
med = lambda v: statistics.median(v)
print(f"| median | {med(rates[('reference', 'inrun')]):.1f} | {med(rates[('python', 'inrun')]):.1f} "
      f"| {med(ratios['inrun']):.2f} | {med(rates[('reference', 'all')]):.1f} "
      f"| {med(rates[('python', 'all')]):.1f} | {med(ratios['all']):.2f} |\n")
print("The default run against the reference (`jim-conformance server`, embedded reference, "
      "wall time of the process), with its exploration (the default budget) and without "
      "(`--explore-sessions 0`):\n")
print("| repetition | default run (s) | exit | `--explore-sessions 0` (s) | exit | ratio |")
print("|---|---|---|---|---|---|")
ws = []
for rep in range(1, reps + 1):
    (on, c1), (off, c2) = wall("server-default", rep), wall("server-off", rep)
    ws.append(on / off)
    print(f"| {rep} | {on:.2f} | {c1} | {off:.2f} | {c2} | {on / off:.2f} |")
print(f"| median | | | | | {med(ws):.2f} |")
EOF
echo "bench/results/$stamp-explore.md"
cat "bench/results/$stamp-explore.md"
