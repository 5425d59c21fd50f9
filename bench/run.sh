#!/usr/bin/env bash
# The reproducible comparison of issue 8: builds jim-bench, jim-echo and jim-server in release
# mode, then runs jim-bench with the standard settings (about 5 minutes; 2 CPUs: targets pinned
# to CPU 0, the load generator to CPU 1). Results are printed; the Markdown summary is saved in
# bench/results/, the full JSON measurements in target/bench-results/ (not tracked).
#
#   bench/run.sh            the standard run (3 interleaved repetitions)
#   bench/run.sh --quick    a smoke version (well under a minute)
#   bench/run.sh --help     every option (targets, shapes, held counts, durations ...)
#
# Run it on a quiet machine: the table says when the load average was high before the run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p jim-load -p jim-server
target_dir="${CARGO_TARGET_DIR:-target}"
export JIM_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec "$target_dir/release/jim-bench" "$@"
