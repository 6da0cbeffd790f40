#!/usr/bin/env bash
# flexcap bench hybrid, once and small: both workloads run plain and hybrid, and the
# JSON carries every field, with the hybrid run's checks counted.
set -u
flexcap=$1
out=$("$flexcap" bench hybrid --json --size 1 --rounds 1) || { echo "FAIL: bench hybrid exited $?"; exit 1; }
python3 -c '
import json, sys
results = json.loads(sys.argv[1])["results"]
assert [r["workload"] for r in results] == ["memdb", "file"], results
for r in results:
    assert r["plain_seconds"] > 0 and r["hybrid_seconds"] > 0, r
    assert abs(r["ratio"] - r["hybrid_seconds"] / r["plain_seconds"]) < 1e-3, r
    assert r["checks_executed"] > 1000000, r   # every access of SQLite is checked
print("bench hybrid: ok")
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
