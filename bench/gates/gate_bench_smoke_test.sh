#!/usr/bin/env bash
# Smoke test of `flexcap bench gates`: with a tiny time budget, the JSON must parse and
# hold one measurement for each built backend and case, and a skip entry for every other
# backend. It checks that the benchmark runs, never what anything costs.
#   gate_bench_smoke_test.sh FLEXCAP DRIVERS   (DRIVERS: comma-separated, e.g. fcalls,mprotect,cheri)
set -u
flexcap=$1
drivers=$2
fail() { echo "FAIL: $*"; exit 1; }
out=$("$flexcap" bench gates --json --compartments 2 --quick) || fail "flexcap bench gates exited with $?: $out"
python3 - "$drivers" "$out" <<'PY' || exit 1
import json, math, sys

drivers, text = sys.argv[1], sys.argv[2]
report = json.loads(text)
assert set(report) == {"machine", "results"}, f"top-level keys: {sorted(report)}"
machine = report["machine"]
assert isinstance(machine["cpu"], str) and machine["cpu"], machine
assert isinstance(machine["cores"], int) and machine["cores"] > 0, machine
assert isinstance(machine["pku"], bool), machine

# The JSON names backends as rt::to_string does: the fcalls driver is the fcall backend.
built = {"fcall" if d == "fcalls" else d for d in drivers.split(",")}
measured = {}
skipped = set()
for r in report["results"]:
    if "skipped" in r:
        skipped.add(r["backend"])
        continue
    for key in ("ns_per_call", "floor_ns", "ratio"):
        assert isinstance(r[key], (int, float)) and math.isfinite(r[key]) and r[key] > 0, r
    measured[(r["backend"], r["case"], r["compartments"])] = r

for backend in sorted(built):
    if backend in skipped:
        continue  # built, but this machine cannot run it (the entry says why)
    for case in ("empty", "args4", "buffer4k-cap", "buffer4k-copy"):
        assert (backend, case, 2) in measured, f"no {backend} {case} entry at 2 compartments"
assert any(k[1] == "colocated" for k in measured), "no colocated entry"
for backend in ("fcall", "intel-pku", "mprotect", "process", "cheri"):
    assert backend in skipped or any(k[0] == backend for k in measured), f"{backend} is neither measured nor skipped"
print(f"bench gates: ok ({len(measured)} measurements, skipped: {', '.join(sorted(skipped)) or 'none'})")
PY
