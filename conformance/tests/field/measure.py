#!/usr/bin/env python3
"""Run jim-conformance against the field corpus and the class, and compare with manifest.json.

This is how BEFORE.md was measured, and a reference implementation of the manifest's
semantics (README.md, "manifest.json") for the cargo harness that will replace it.

    python3 measure.py run   --runner PATH --out DIR [--reps 3] [--modes host,spawn] [--only ID ...]
    python3 measure.py class --runner PATH --out DIR [--reps 3] [--parallel 8] [--jobs-one]
    python3 measure.py table --out DIR                  # markdown tables from DIR/*.jsonl
    python3 measure.py evaluate --out DIR               # mismatches again, from the kept reports

Host mode: the target is started on a free port in a process group of its own and watched in
/proc/net/tcp until it listens (nothing connects to it before the runner does); after the run
the group is killed. Spawn mode: `--spawn` with the manifest's command. Every runner call is
bounded (--deadline 300 plus a wall-clock guard). One JSON line per run goes to DIR/*.jsonl and
each report (JSON and English text) to DIR/reports/, so that `evaluate` can judge them again
after the manifest changes. Keep DIR outside the repository.
"""

import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PASSED = {"pass", "pass-lenient"}
FAILED = {"fail", "error"}
WALL_GUARD = 420  # seconds; the runner's own --deadline is 300


def load_manifest():
    with open(os.path.join(HERE, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def fill(text, **values):
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True when a socket LISTENs on the port (read from /proc, no connection made)."""
    want = f":{port:04X}"
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == "0A":
                        return True
        except OSError:
            pass
    return False


def start_host_target(command, cwd, port, exits):
    proc = subprocess.Popen(command, shell=True, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if listening(port):
            return proc, None
        if proc.poll() is not None:
            return proc, None if exits else f"exited at start with {proc.returncode}"
        time.sleep(0.05)
    return proc, "did not listen within 10 s"


def stop(proc):
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_runner(runner, role, target_args, options, profile, cwd):
    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "report.json")
        argv = [runner, role] + target_args + options + ["--json", report_path, "--lang", "en"]
        if profile != "auto":
            argv += ["--profile", profile]
        began = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=WALL_GUARD)
            rc, out = done.returncode, done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired as err:
            rc, out = "timeout", (err.stdout or b"").decode("utf-8", "replace")
        seconds = time.monotonic() - began
        report = None
        if os.path.exists(report_path):
            with open(report_path, encoding="utf-8") as f:
                report = json.load(f)
        return rc, out, report, seconds


def keep(out_dir, name, rc, out, report):
    """Keeps the report and the human text of one run (outside the repository) for `evaluate`."""
    if not out_dir:
        return None
    os.makedirs(os.path.join(out_dir, "reports"), exist_ok=True)
    path = os.path.join(out_dir, "reports", name + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"rc": rc, "out": out, "report": report}, f, ensure_ascii=False)
    return path


def case_key(case):
    return case["id"] if case.get("delivery", "whole") == "whole" else f"{case['id']} [{case['delivery']}]"


def merged(expect, mode_block):
    result = dict(expect)
    for key, value in (mode_block or {}).items():
        result[key] = value
    return result


def evaluate(expect, auto_picks, rc, out, report):
    """Mismatches between one run and its expectation (manifest semantics, see README)."""
    problems = []
    if expect.get("exit") is not None and rc != expect["exit"]:
        problems.append(f"exit {rc} (expected {expect['exit']})")
    if report is None:
        return problems + ["no JSON report"]
    if auto_picks and report["profile"]["name"] != auto_picks:
        problems.append(f"profile {report['profile']['name']} (auto must pick {auto_picks})")
    cases = {case_key(c): c for c in report["cases"]}
    not_run_ok = expect.get("not_run_ok", False)

    def matching(pattern):
        # " [split]" / " [trickle]" name a delivery mode, not a glob character class
        pattern = re.sub(r" \[(whole|split|trickle)\]$", r" [[]\1]", pattern)
        return [c for k, c in cases.items() if fnmatch.fnmatchcase(k, pattern)]

    for pattern in expect.get("fail", []):
        found = matching(pattern)
        if not found:
            problems.append(f"{pattern}: absent (expected fail)")
        for c in found:
            if c["verdict"] not in FAILED:
                problems.append(f"{case_key(c)}: {c['verdict']} (expected fail)")
    for pattern in expect.get("pass", []):
        found = matching(pattern)
        if not found:
            problems.append(f"{pattern}: absent (expected pass)")
        for c in found:
            if c["verdict"] not in PASSED and not (not_run_ok and c["verdict"] == "not-run"):
                problems.append(f"{case_key(c)}: {c['verdict']} (expected pass)")
    for pattern in expect.get("not_fail", []):
        for c in matching(pattern):
            if c["verdict"] in FAILED:
                problems.append(f"{case_key(c)}: {c['verdict']} (must not fail)")
    for pattern in expect.get("not_pass", []):
        for c in matching(pattern):
            if c["verdict"] in PASSED:
                problems.append(f"{case_key(c)}: {c['verdict']} (must not pass)")
    for pattern, wanted in expect.get("verdicts", {}).items():
        wanted = wanted if isinstance(wanted, list) else [wanted]
        found = matching(pattern)
        if not found and "not-run" not in wanted:
            problems.append(f"{pattern}: absent (expected {'/'.join(wanted)})")
        for c in found:
            if c["verdict"] not in wanted:
                problems.append(f"{case_key(c)}: {c['verdict']} (expected {'/'.join(wanted)})")
    for pattern, state in expect.get("liveness", {}).items():
        for c in matching(pattern):
            got = (c.get("liveness") or {}).get("state")
            if got != state:
                problems.append(f"{case_key(c)}: liveness {got} (expected {state})")
    for rule in expect.get("hints", []):
        for c in matching(rule["case"]):
            if c["verdict"] not in FAILED:
                continue
            text = (c.get("hint") or {}).get("en", "") + " " + (c.get("reason") or "")
            if rule.get("match") and not re.search(rule["match"], text, re.I):
                problems.append(f"{case_key(c)}: hint does not say /{rule['match']}/")
            if rule.get("not_match") and re.search(rule["not_match"], text, re.I):
                problems.append(f"{case_key(c)}: hint says /{rule['not_match']}/")
    cause = expect.get("root_cause")
    if cause:
        line = report.get("root_cause") or (report.get("summary") or {}).get("root_cause")
        if isinstance(line, dict):
            line = line.get("en", "")
        if not line:
            first = next((c for c in report["cases"] if c["verdict"] in FAILED), None)
            line = "" if first is None else (first.get("reason") or "") + " " + (first.get("hint") or {}).get("en", "")
            if not first and report.get("exit_reason"):
                line = report["exit_reason"] + " " + out
        if not re.search(cause["match"], line or "", re.I):
            problems.append(f"root cause does not say /{cause['match']}/")
    if expect.get("report_contains") and not re.search(expect["report_contains"], out):
        problems.append(f"report lacks /{expect['report_contains']}/")
    if expect.get("report_not_contains") and re.search(expect["report_not_contains"], out):
        problems.append(f"report says /{expect['report_not_contains']}/")
    return problems


def summarize(rc, out, report, seconds):
    line = {"exit": rc, "seconds": round(seconds, 1)}
    if report is None:
        line["first_line"] = next((l for l in out.splitlines() if l.strip()), "")[:200]
        return line
    line["profile"] = report["profile"]["name"]
    line["verdicts"] = {case_key(c): c["verdict"] for c in report["cases"]}
    line["liveness"] = {case_key(c): c["liveness"]["state"] for c in report["cases"] if c.get("liveness")}
    must = [case_key(c) for c in report["cases"] if c.get("impact") == "failure"]
    line["must_failures"] = len(must)
    first = next((c for c in report["cases"] if c["verdict"] in FAILED and c.get("impact") == "failure"), None)
    first = first or next((c for c in report["cases"] if c["verdict"] in FAILED), None)
    if first is not None:
        line["first_failure"] = case_key(first)
        line["first_hint"] = ((first.get("hint") or {}).get("en") or "")[:160]
        line["first_reason"] = (first.get("reason") or "")[:200]
    line["exit_reason"] = report.get("exit_reason")
    return line


def one(runner, target, run, mode, manifest_dir, cwd=None, folder=None, keep_as=None):
    """One runner invocation. Returns the JSON line for the record."""
    role = target["role"]
    extra = {"dir": manifest_dir, "folder": folder or manifest_dir}
    options = [fill(o, **extra) for o in run.get("options", [])]
    expect = merged(run["expect"], run.get(mode))
    cwd = cwd or manifest_dir
    proc = None
    if mode == "host":
        port = free_port()
        proc, error = start_host_target(fill(target["start"], port=port, **extra), cwd, port,
                                        target.get("host_start") == "exits")
        if error:
            stop(proc)
            return {"error": f"host start: {error}"}
        target_args = ["--host", "127.0.0.1", "--port", str(port)]
    else:
        target_args = ["--spawn", fill(target["start"], **extra)]
    try:
        rc, out, report, seconds = run_runner(runner, role, target_args, options, run["profile"], cwd)
    finally:
        stop(proc)
    line = summarize(rc, out, report, seconds)
    if keep_as:
        line["kept"] = keep(*keep_as, rc, out, report)
    line["mismatches"] = evaluate(expect, run.get("auto_picks") if run["profile"] == "auto" else None,
                                  rc, out, report)
    return line


def cmd_run(args):
    manifest = load_manifest()
    os.makedirs(args.out, exist_ok=True)
    record = open(os.path.join(args.out, "field.jsonl"), "a", encoding="utf-8")
    jobs = []
    for target in manifest["targets"]:
        if args.only and target["id"] not in args.only:
            continue
        runs = [r for r in target["runs"] if not args.run or r["name"] in args.run]
        modes = ["spawn"] if target["role"] == "client" else args.modes.split(",")
        for run in runs:
            for mode in modes:
                for rep in range(args.reps):
                    jobs.append((target, run, mode, rep))

    def work(job):
        target, run, mode, rep = job
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{target['id']}-{run['name']}-{mode}-{rep}")
        line = one(args.runner, target, run, mode, HERE, keep_as=(args.out, name))
        line.update(target=target["id"], run=run["name"], mode=mode, rep=rep)
        return line

    with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        for line in pool.map(work, jobs):
            record.write(json.dumps(line, ensure_ascii=False) + "\n")
            record.flush()
            print(f"{line['target']:28} {line['run'][:22]:22} {line['mode']:5} #{line['rep']} "
                  f"exit {line.get('exit')} must {line.get('must_failures')} "
                  f"{line.get('seconds')} s  mismatches {len(line.get('mismatches', []))}", flush=True)


def class_targets(manifest):
    roster = os.path.join(HERE, manifest["class"]["roster_csv"])
    import csv
    with open(roster, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        style = manifest["class"]["styles"][manifest["class"]["students"][row["id"]]]
        folder = os.path.join(os.path.dirname(roster), row["folder"])
        for role in ("server", "client"):
            spec = style[role]
            target = {"id": row["id"], "role": role, "start": row[role]}
            run = {"name": role, "options": list(spec.get("options", [])), "profile": spec["profile"],
                   "auto_picks": spec.get("auto_picks"), "expect": spec["expect"],
                   "host": spec.get("host"), "spawn": spec.get("spawn")}
            yield row, manifest["class"]["students"][row["id"]], target, run, folder


def cmd_class(args):
    manifest = load_manifest()
    os.makedirs(args.out, exist_ok=True)
    record = open(os.path.join(args.out, "class.jsonl"), "a", encoding="utf-8")
    items = list(class_targets(manifest))
    for rep in range(args.reps):
        def work(item):
            row, style, target, run, folder = item
            run = dict(run)
            if args.jobs_one:
                run["options"] = run["options"] + ["--jobs", "1"]
            if run["profile"] == "auto" and target["role"] == "server" and style == "course-final-sqlite" \
                    and args.legacy_accounts:
                # today's runner has no --accounts: the closest it has is one account
                run["options"] = ["--user", "alice", "--password", "secret"]
            name = f"class-{'jobs1' if args.jobs_one else 'par'}-{rep}-{row['id']}-{target['role']}"
            line = one(args.runner, target, run, "spawn", HERE, cwd=folder, folder=folder,
                       keep_as=(args.out, name))
            line.update(student=row["id"], style=style, role=target["role"], rep=rep,
                        batch="jobs1" if args.jobs_one else f"parallel{args.parallel}")
            return line
        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            for line in pool.map(work, items):
                record.write(json.dumps(line, ensure_ascii=False) + "\n")
                record.flush()
                print(f"{line['batch']} #{rep} {line['student']} {line['style']:22} {line['role']:6} "
                      f"exit {line.get('exit')} must {line.get('must_failures')} {line.get('seconds')} s "
                      f"mismatches {len(line.get('mismatches', []))}", flush=True)


def read_lines(out, name):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def common_mismatches(runs, most=2):
    counts = {}
    for r in runs:
        for m in r.get("mismatches", []):
            counts[m] = counts.get(m, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    more = len(ranked) - most
    text = "; ".join(m for m, _ in ranked[:most])
    return text + (f"; +{more} more" if more > 0 else "")


def cmd_table(args):
    groups = {}
    for line in read_lines(args.out, "field.jsonl"):
        groups.setdefault((line["target"], line["run"], line["mode"]), []).append(line)
    print("| target | run | mode | exit | must failures | first failing case: hint | right | what is wrong (most frequent) |")
    print("|---|---|---|---|---|---|---|---|")
    for (target, run, mode), runs in groups.items():
        exits = "/".join(str(r.get("exit")) for r in runs)
        musts = "/".join(str(r.get("must_failures", "-")) for r in runs)
        firsts = sorted({r.get("first_failure", "-") for r in runs})
        bar = "\\|"
        hint = (runs[0].get("first_hint") or runs[0].get("first_line") or "").replace("|", bar)[:60]
        ok = sum(1 for r in runs if not r.get("mismatches"))
        wrong = common_mismatches(runs).replace("|", bar)
        cases = ", ".join("`%s`" % f for f in firsts)
        print(f"| {target} | {run} | {mode} | {exits} | {musts} | {cases}: {hint} | {ok}/{len(runs)} | {wrong} |")
    lines = read_lines(args.out, "class.jsonl")
    if not lines:
        return
    print()
    print("| style | role | batch | exits | must failures | profiles | same verdicts for all copies | right |")
    print("|---|---|---|---|---|---|---|---|")
    by_style = {}
    for line in lines:
        by_style.setdefault((line["style"], line["role"], line["batch"]), []).append(line)
    for (style, role, batch), runs in sorted(by_style.items()):
        exits = sorted({str(r.get("exit")) for r in runs})
        musts = sorted({r.get("must_failures", -1) for r in runs})
        profiles = sorted({r.get("profile", "-") for r in runs})
        per_rep = {}
        for r in runs:
            per_rep.setdefault(r["rep"], []).append(json.dumps(r.get("verdicts"), sort_keys=True))
        same_in_rep = sum(1 for v in per_rep.values() if len(set(v)) == 1)
        same_all = len({json.dumps(r.get("verdicts"), sort_keys=True) for r in runs}) == 1
        ok = sum(1 for r in runs if not r.get("mismatches"))
        print(f"| {style} | {role} | {batch} | {', '.join(exits)} | {', '.join(map(str, musts))} | "
              f"{', '.join(profiles)} | {'yes' if same_all else f'no ({same_in_rep}/{len(per_rep)} runs agree within the run)'} "
              f"| {ok}/{len(runs)} |")


def cmd_evaluate(args):
    """Recomputes the mismatches of DIR/field.jsonl from the kept reports and the current manifest."""
    manifest = load_manifest()
    targets = {t["id"]: t for t in manifest["targets"]}
    path = os.path.join(args.out, "field.jsonl")
    lines = read_lines(args.out, "field.jsonl")
    for line in lines:
        if not line.get("kept"):
            continue
        with open(line["kept"], encoding="utf-8") as f:
            kept = json.load(f)
        target = targets[line["target"]]
        run = next(r for r in target["runs"] if r["name"] == line["run"])
        expect = merged(run["expect"], run.get(line["mode"]))
        line["mismatches"] = evaluate(expect, run.get("auto_picks") if run["profile"] == "auto" else None,
                                      kept["rc"], kept["out"], kept["report"])
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "class"):
        p = sub.add_parser(name)
        p.add_argument("--runner", required=True)
        p.add_argument("--out", required=True)
        p.add_argument("--reps", type=int, default=3)
        p.add_argument("--parallel", type=int, default=1)
        if name == "run":
            p.add_argument("--modes", default="host,spawn")
            p.add_argument("--only", action="append")
            p.add_argument("--run", action="append", help="only the runs of that name")
        else:
            p.add_argument("--jobs-one", action="store_true")
            p.add_argument("--legacy-accounts", action="store_true",
                           help="give course-final students --user alice --password secret (runners without --accounts)")
    for name in ("table", "evaluate"):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True)
    args = parser.parse_args()
    {"run": cmd_run, "class": cmd_class, "table": cmd_table, "evaluate": cmd_evaluate}[args.command](args)


if __name__ == "__main__":
    main()
