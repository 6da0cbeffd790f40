#!/usr/bin/env bash
# flexcap bench revocation, once and small: every case is reported with its baseline,
# the ratios are what the values say, and the sweeps (and page epochs) of the churns happened.
set -u
flexcap=$1
out=$("$flexcap" bench revocation --json --quick) || { echo "FAIL: bench revocation exited $?"; exit 1; }
python3 -c '
import json, sys
rows = {r["case"]: r for r in json.loads(sys.argv[1])["results"]}
expected = ["sweep-sparse", "pause-per-mib-sparse", "sweep-dense", "pause-per-mib-dense", "churn-sweep",
            "churn-load-filter", "churn-sweeps", "memory-shadow", "memory-quarantine-peak",
            "churn-pages", "churn-pages-epochs", "churn-pages-process", "memory-pages-quarantine-peak"]
assert sorted(rows) == sorted(expected), sorted(rows)
for name, r in rows.items():
    assert set(r) == {"case", "value", "unit", "baseline", "ratio"}, r
    assert r["value"] > 0 and r["baseline"] > 0, r
    if name not in ("churn-sweeps", "churn-pages-epochs"):
        assert abs(r["ratio"] - r["value"] / r["baseline"]) <= 1e-3 * max(1, r["ratio"]), r
assert rows["churn-sweeps"]["value"] >= 1, "the churn never filled the quarantine"
assert abs(rows["memory-shadow"]["ratio"] - 1 / 128) < 1e-6, rows["memory-shadow"]
assert rows["memory-quarantine-peak"]["ratio"] <= 0.26, rows["memory-quarantine-peak"]
assert rows["churn-pages-epochs"]["value"] >= 1, "the page churn never ended an epoch"
assert rows["memory-pages-quarantine-peak"]["ratio"] <= 0.26, rows["memory-pages-quarantine-peak"]
print("bench revocation: ok")
' "$out" || { echo "FAIL: unexpected JSON: $out"; exit 1; }
