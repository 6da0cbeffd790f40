#!/usr/bin/env bash
# flexcap bench hybrid, once and small: both workloads run plain and hybrid, and the
# JSON carries every field, with the hybrid run's checks counted where the counting image
# (COUNT_IMAGE, built by default) exists, and null where it does not.
#   hybrid_smoke_test.sh FLEXCAP COUNT_IMAGE
set -u
flexcap=$1 count_image=$2
counted=0
[[ -x $count_image ]] && counted=1
out=$("$flexcap" bench hybrid --json --size 1 --rounds 1) || { echo "FAIL: bench hybrid exited $?"; exit 1; }
python3 -c '
import json, sys
results = json.loads(sys.argv[1])["results"]
assert [r["workload"] for r in results] == ["memdb", "file"], results
for r in results:
    assert r["plain_seconds"] > 0 and r["hybrid_seconds"] > 0, r
    assert abs(r["ratio"] - r["hybrid_seconds"] / r["plain_seconds"]) < 1e-3, r
    if int(sys.argv[2]):
        assert r["checks_executed"] > 1000000, r   # every access of SQLite is checked
    else:
        assert r["checks_executed"] is None, r
print("bench hybrid: ok")
' "$out" "$counted" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
