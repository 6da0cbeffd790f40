#!/usr/bin/env bash
# Every configuration shipped under examples/, built and run through the real
# `flexcap run`, as a user runs them after the README's first command; then a user's own
# configuration of SQLite, edited and run again. Prints how long the first build, each
# image and the rebuild after an edit took (reported, not asserted).
#   examples_test.sh FLEXCAP SOURCE IMAGES_DIR [--subset]
# --subset (CI): in each family, the configurations below, which take every path of
# `flexcap run` (plain, hybrid through the user's edit, three compartments, processes,
# Redis built from source, the refusal without PKU); the build tree's own tests run every
# configuration's image. Without it (scripts/examples.sh): all of them.
set -u
flexcap=$1 source=$2 images=$3 subset=${4:-}
declare -A subset_of=(
  [sqlite]="none mprotect-3 process" [sqlite-crash]="process" [sodium]="cheri-per-function"
  [redis]="fcalls-3" [conformance]="process intel-pku" [overlap]="overlap" [attacks]="mprotect"
)
# wanted FAMILY CONFIG: whether this run takes examples/FAMILY/CONFIG.yaml.
wanted() {
  [[ $subset != --subset ]] && return 0
  [[ " ${subset_of[$1]} " == *" $(basename "$2" .yaml) "* ]]
}
export FLEXCAP_IMAGES_DIR=$images
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
now() { date +%s.%N; }
elapsed() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }

# Whether this machine runs intel-pku: the error an intel-pku example must give otherwise.
pku_reason=$("$flexcap" build "$source/examples/attacks/intel-pku.yaml" 2>&1 >/dev/null | grep -o 'this CPU has no protection keys[^;]*')

# run NAME EXPECTED_STATUS CONFIG [ARGS...]: `flexcap run CONFIG -- ARGS`, stdout in
# $tmp/NAME.out, stderr in $tmp/NAME.err.
run() {
  local name=$1 expected=$2 config=$3
  shift 3
  local start
  start=$(now)
  "$flexcap" run "$config" -- "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
  local status=$?
  echo "  $(elapsed "$start") s  $name (status $status)"
  if [[ $status != "$expected" ]]; then
    fail "$name: exit status $status, expected $expected: $(grep -v '^\[' "$tmp/$name.err" | tail -5)"
    return 1
  fi
}

# An intel-pku example on a machine without PKU: refused before anything is built,
# with the reason and the fix. Returns 0 when the example should run instead.
refused_without_pku() {
  local name=$1 config=$2
  [[ -n $pku_reason ]] || return 1
  "$flexcap" run "$config" >"$tmp/$name.out" 2>"$tmp/$name.err"
  local status=$?
  if [[ $status != 1 ]] || ! grep -q "no protection keys.*Fix:" "$tmp/$name.err"; then
    fail "$name: expected the no-PKU refusal, got status $status: $(cat "$tmp/$name.err")"
  else
    echo "  refused  $name: $pku_reason"
  fi
  return 0
}

echo "The base (cap, rt, the tool), built once for every image:"
start=$(now)
run first-build 0 "$source/examples/sqlite/none.yaml" "$source/apps/sqlite/test/corpus/01_basics.sql"
echo "  first build and run: $(elapsed "$start") s"

echo "examples/sqlite (each against sqlite3 -batch):"
script=$source/apps/sqlite/test/corpus/07_constraint_errors.sql
sqlite3 -batch :memory: <"$script" >"$tmp/expected.out" 2>"$tmp/expected.err"
for config in "$source"/examples/sqlite/*.yaml; do
  wanted sqlite "$config" || continue
  name=sqlite-$(basename "$config" .yaml)
  [[ $name == *intel-pku* ]] && refused_without_pku "$name" "$config" && continue
  run "$name" 1 "$config" "$script" || continue
  cmp -s "$tmp/expected.out" "$tmp/$name.out" || fail "$name: stdout differs from sqlite3's"
  cmp -s "$tmp/expected.err" "$tmp/$name.err" || fail "$name: stderr differs from sqlite3's"
done

echo "examples/sqlite-crash:"
for config in "$source"/examples/sqlite-crash/*.yaml; do
  wanted sqlite-crash "$config" || continue
  name=sqlite-crash-$(basename "$config" .yaml)
  run "$name" 0 "$config" || continue
  grep -q "^ok$" "$tmp/$name.out" || fail "$name: no ok: $(cat "$tmp/$name.out")"
done

echo "examples/sodium (a sliver of the benchmark, and the injected off-by-one):"
for config in "$source"/examples/sodium/*.yaml; do
  wanted sodium "$config" || continue
  name=sodium-$(basename "$config" .yaml)
  [[ $name == *intel-pku* ]] && refused_without_pku "$name" "$config" && continue
  run "$name" 0 "$config" --bench --divide 512 --rounds 1 || continue
  [[ $(grep -c '"workload"' "$tmp/$name.out") -ge 2 ]] || fail "$name: no benchmark lines: $(cat "$tmp/$name.out")"
  [[ $name == sodium-none ]] && continue  # one compartment: nothing to contain the attack
  run "$name-attack" 0 "$config" --attack --check
done

echo "examples/redis (Debian's redis-cli against each; the first builds Redis from source):"
for config in "$source"/examples/redis/*.yaml; do
  wanted redis "$config" || continue
  name=redis-$(basename "$config" .yaml)
  [[ $name == *intel-pku* ]] && refused_without_pku "$name" "$config" && continue
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  start=$(now)
  "$flexcap" run "$config" -- --port "$port" --bind 127.0.0.1 --save '' --dir "$tmp" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  server=$!
  for _ in $(seq 1200); do
    [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.5
  done
  reply=$(redis-cli -p "$port" set example "$name" 2>&1; redis-cli -p "$port" get example 2>&1)
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
  wait "$server"
  status=$?
  echo "  $(elapsed "$start") s  $name (status $status)"
  [[ $status == 0 && $reply == $'OK\n'"$name" ]] ||
    fail "$name: status $status, replies '$reply': $(grep -v '^\[' "$tmp/$name.err" | tail -5)"
done

echo "examples/conformance (the backend conformance suite):"
for config in "$source"/examples/conformance/*.yaml; do
  wanted conformance "$config" || continue
  name=conformance-$(basename "$config" .yaml)
  [[ $name == *intel-pku* ]] && refused_without_pku "$name" "$config" && continue
  run "$name" 0 "$config" || continue
  grep -q "PASSED" "$tmp/$name.out" || fail "$name: no PASSED line"
done

echo "examples/overlap (sharing: overlap against sharing: capabilities):"
for config in "$source"/examples/overlap/*.yaml; do
  wanted overlap "$config" || continue
  name=overlap-$(basename "$config" .yaml)
  run "$name" 0 "$config" || continue
  grep -q "PASSED" "$tmp/$name.out" || fail "$name: no PASSED line"
done

echo "examples/attacks (verdicts as expected):"
for config in "$source"/examples/attacks/*.yaml; do
  wanted attacks "$config" || continue
  name=attacks-$(basename "$config" .yaml)
  [[ $name == *intel-pku* ]] && refused_without_pku "$name" "$config" && continue
  run "$name" 0 "$config" --check || continue
  [[ $(grep -c '"outcome"' "$tmp/$name.out") -ge 9 ]] || fail "$name: expected the attack verdicts"
done

echo "A user's own configuration: SQLite, then vfs and ramfs split into two compartments:"
mkdir -p "$tmp/mine"
cp "$source/examples/sqlite/mprotect.yaml" "$tmp/mine/layout.yaml"
printf 'CREATE TABLE t(x);\nINSERT INTO t VALUES (1), (2);\nSELECT sum(x) FROM t;\n' >"$tmp/mine/q.sql"
start=$(now)
"$flexcap" run --app sqlite "$tmp/mine/layout.yaml" -- "$tmp/mine/q.sql" >"$tmp/mine.out" 2>"$tmp/mine.err" ||
  fail "a copied configuration did not run: $(tail -5 "$tmp/mine.err")"
echo "  $(elapsed "$start") s  a copy of examples/sqlite/mprotect.yaml, outside examples/, with --app sqlite"
[[ $(cat "$tmp/mine.out") == 3 ]] || fail "the copied configuration's image printed '$(cat "$tmp/mine.out")', expected 3"
cat >"$tmp/mine/layout.yaml" <<'EOF'
compartments:
  - name: sqlite
    mechanism: { driver: mprotect }
    default: true
  - name: vfs
    mechanism: { driver: mprotect }
    heap: 1MiB
  - name: ramfs
    mechanism: { driver: mprotect }
    heap: 32MiB
libraries:
  vfs: { compartment: vfs }
  ramfs: { compartment: ramfs }
EOF
start=$(now)
"$flexcap" run --app sqlite "$tmp/mine/layout.yaml" -- "$tmp/mine/q.sql" >"$tmp/mine.out" 2>"$tmp/mine.err" ||
  fail "the edited configuration did not run: $(tail -5 "$tmp/mine.err")"
echo "  rebuild after the edit and run: $(elapsed "$start") s"
[[ $(cat "$tmp/mine.out") == 3 ]] || fail "the edited image printed '$(cat "$tmp/mine.out")', expected 3"
"$flexcap" audit --app sqlite "$tmp/mine/layout.yaml" >"$tmp/audit.json" 2>/dev/null || fail "audit of the edited image"
python3 - "$tmp/audit.json" <<'PY' || fail "the edited image's audit: $(cat "$tmp/audit.json")"
import json, sys
audit = json.load(open(sys.argv[1]))
placed = {c["name"]: c["libraries"] for c in audit["compartments"]}
assert placed["vfs"] == ["vfs"] and placed["ramfs"] == ["ramfs"], placed
imports = {(c["name"], i["compartment"], i["function"]) for c in audit["compartments"] for i in c["imports"]}
assert ("vfs", "ramfs", "write") in imports, imports
PY

# The same layout under cheri: the image now links SQLite compiled hybrid (the build is
# reconfigured for the new ABI), and the same query gives the same answer.
sed -i 's/driver: mprotect/driver: cheri/' "$tmp/mine/layout.yaml"
start=$(now)
"$flexcap" run --app sqlite "$tmp/mine/layout.yaml" -- "$tmp/mine/q.sql" >"$tmp/mine.out" 2>"$tmp/mine.err" ||
  fail "the configuration switched to cheri did not run: $(tail -5 "$tmp/mine.err")"
echo "  rebuild after switching the driver to cheri, and run: $(elapsed "$start") s"
[[ $(cat "$tmp/mine.out") == 3 ]] || fail "the cheri image printed '$(cat "$tmp/mine.out")', expected 3"
grep -F '[==[sqlite-layout]==]' "$images/images.cmake" | grep -qF '[==[hybrid]==]' ||
  fail "flexcap build did not record the image's new ABI: $(grep -F sqlite-layout "$images/images.cmake")"

((failures == 0)) && echo "every example ran" || echo "$failures failures"
((failures == 0))
