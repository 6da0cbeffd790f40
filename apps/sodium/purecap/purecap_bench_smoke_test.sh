#!/usr/bin/env bash
# flexcap bench purecap, once: the three libsodium workloads run plain and purecap, and
# the JSON carries every field.
set -u
flexcap=$1
out=$("$flexcap" bench purecap --json --rounds 1) || { echo "FAIL: bench purecap exited $?"; exit 1; }
python3 -c '
import json, sys
results = json.loads(sys.argv[1])["results"]
assert [r["workload"] for r in results] == ["chacha20", "bin2hex", "hex2bin"], results
for r in results:
    assert r["plain_seconds"] > 0 and r["purecap_seconds"] > 0, r
    assert abs(r["ratio"] - r["purecap_seconds"] / r["plain_seconds"]) < 1e-3 * r["ratio"], r
    assert "checks_executed" in r, r
print("bench purecap: ok")
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
