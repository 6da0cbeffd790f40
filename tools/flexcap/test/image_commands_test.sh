#!/usr/bin/env bash
# flexcap build / run / audit, driven as a user drives them. The images are built in a
# directory of the test's own (FLEXCAP_IMAGES_DIR), from the real example configurations.
set -u
flexcap=$1 source=$2 images=$3
export FLEXCAP_IMAGES_DIR=$images
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A configuration with an error: nothing is built, and the message says where and how to fix it.
mkdir -p "$tmp/attacks"
sed 's/driver: mprotect/driver: mprotekt/' "$source/examples/attacks/mprotect.yaml" >"$tmp/attacks/bad.yaml"
"$flexcap" run "$tmp/attacks/bad.yaml" >"$tmp/out" 2>"$tmp/err"
[[ $? == 1 ]] || fail "a bad configuration should exit 1"
grep -q "bad.yaml:6:15: .*mprotekt" "$tmp/err" || fail "no file:line:column for the bad driver: $(cat "$tmp/err")"
grep -q "Fix:" "$tmp/err" || fail "no fix suggested: $(cat "$tmp/err")"
[[ ! -e $images/bin/attacks-bad ]] || fail "something was built from a bad configuration"
! grep -q attacks-bad "$images/images.cmake" 2>/dev/null || fail "a bad configuration was added to the images' tree"

# The audit of the cheri attack image: what each compartment can reach.
"$flexcap" audit "$source/examples/attacks/cheri.yaml" >"$tmp/audit.json" 2>"$tmp/err" ||
  fail "audit failed: $(tail -5 "$tmp/err")"
python3 - "$tmp/audit.json" <<'PY' || fail "audit JSON is wrong: $(cat "$tmp/audit.json")"
import json, sys
audit = json.load(open(sys.argv[1]))
assert audit["backend"] == "cheri", audit["backend"]
by_name = {c["name"]: c for c in audit["compartments"]}
assert set(by_name) == {"app", "attacker", "victim"}, by_name.keys()
assert by_name["victim"]["libraries"] == ["attack_victim"]
imports = {(i["compartment"], i["function"]) for i in by_name["attacker"]["imports"]}
assert ("victim", "fill") in imports, imports
# The export no call site uses is not reachable: it is in no import and no export list.
assert all(i["function"] != "unexported_helper" for c in audit["compartments"] for i in c["imports"])
assert all(e["function"] != "unexported_helper" for e in by_name["victim"]["exports"])
assert audit["shared_regions"][0]["name"] == "shared"
# Each compartment's code is gathered into a range of its own (its PCC): none is empty.
assert all(c["code_bytes"] > 0 for c in audit["compartments"]), [c["code_bytes"] for c in audit["compartments"]]
PY

# Running the image: the application's own output (the attack verdicts), one per line.
"$flexcap" run "$source/examples/attacks/fcalls.yaml" >"$tmp/run.out" 2>"$tmp/err" ||
  fail "run failed: $(tail -5 "$tmp/err")"
[[ $(grep -c '"outcome"' "$tmp/run.out") == 19 ]] || fail "expected 19 verdicts: $(cat "$tmp/run.out")"
echo "build, run, audit: ok"
