#!/usr/bin/env bash
# The README's main job, once and quickly: every SQLite image runs the workload and
# `flexcap bench sqlite --json` reports it. A smoke test, not a timing assertion.
set -u
flexcap=$1
out=$("$flexcap" bench sqlite --json --rounds 1) || { echo "FAIL: bench sqlite exited $?"; exit 1; }
python3 -c '
import json, sys
results = json.loads(sys.argv[1])["results"]
assert results[0]["config"] == "none" and results[0]["ratio"] == 1, results[0]
assert results[0]["gate_crossings"] == 0, "one compartment crosses no gate"
names = {r["config"] for r in results}
assert {"none", "fcalls", "mprotect", "process", "cheri", "cheri_overlap"} <= names, names
for r in results[1:]:
    assert r["gate_crossings"] > 5000, r   # every INSERT reaches ramfs through gates
    assert r["seconds"] > 0 and r["compartments"] == (3 if r["config"].endswith("_3") else 2), r
for r in results:
    # Page protections, processes and cheri (SQLite compiled hybrid) confine SQLite itself.
    assert r["legacy_confined"] == (r["backend"] in ("mprotect", "process", "intel-pku", "cheri")), r
    if r["backend"] == "cheri":
        assert r["checks_per_insert"] > 1000, r   # SQLite checked by its DDC, counted
    else:
        assert r["checks_per_insert"] == 0, r
print("bench sqlite: ok,", len(results), "configurations")
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
# SQLite's own benchmark in the same images, its database on ramfs.
out=$("$flexcap" bench sqlite --json --rounds 1 --workload speedtest1 --size 1) ||
  { echo "FAIL: bench sqlite --workload speedtest1 exited $?"; exit 1; }
python3 -c '
import json, sys
report = json.loads(sys.argv[1])
assert report["workload"] == "speedtest1", report
results = report["results"]
assert results[0]["config"] == "none" and results[0]["gate_crossings"] == 0, results[0]
for r in results[1:]:
    assert r["seconds"] > 0 and r["gate_crossings"] > 100, r   # its file I/O crosses into ramfs
print("bench sqlite --workload speedtest1: ok,", len(results), "configurations")
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
