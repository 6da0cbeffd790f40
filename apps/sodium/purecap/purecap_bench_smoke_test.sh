#!/usr/bin/env bash
# flexcap bench purecap, once: the three libsodium workloads and (where the build made
# SQLite purecap) speedtest1 run plain and purecap, and the JSON carries every field.
set -u
flexcap=$1
out=$("$flexcap" bench purecap --json --rounds 1) || { echo "FAIL: bench purecap exited $?"; exit 1; }
python3 -c '
import json, sys
report = json.loads(sys.argv[1])
results = report["results"]
workloads = [r["workload"] for r in results]
assert workloads in (["chacha20", "bin2hex", "hex2bin"], ["chacha20", "bin2hex", "hex2bin", "speedtest1"]), workloads
for r in results:
    assert r["plain_seconds"] > 0 and r["purecap_seconds"] > 0, r
    assert abs(r["ratio"] - r["purecap_seconds"] / r["plain_seconds"]) < 1e-3 * r["ratio"], r
    assert "checks_executed" in r, r
if "speedtest1" in workloads:
    m = report["memory"][0]
    assert m["workload"] == "speedtest1" and m["plain_max_rss_kib"] > 0 and m["purecap_max_rss_kib"] > 0, m
    assert 0 < m["shadow_resident_kib"] < m["purecap_max_rss_kib"], m
print("bench purecap: ok,", ", ".join("%s %.2fx" % (r["workload"], r["ratio"]) for r in results))
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
