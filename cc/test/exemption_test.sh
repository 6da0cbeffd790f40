#!/usr/bin/env bash
# Which accesses the hybrid pass leaves unchecked (exemptions.c): only those whose every
# address lies inside one object the DDC covers — a local of the frame, or, in a library
# placed in a compartment (--library), one of the module's own globals — with a constant
# offset or an index of known range. Their neighbours that may leave the object stay
# checked. Read from the pass's report (OUTPUT.hybrid.json).
set -u
flexcap=$1 source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
report() {  # report NAME FLAGS...: compiles exemptions.c, leaves the report in $tmp/NAME.json
  local name=$1
  shift
  "$flexcap" cc --abi hybrid "$@" -O2 -c "$source/cc/test/exemptions.c" -o "$tmp/$name.o" ||
    fail "exemptions.c did not compile with $*"
  cp "$tmp/$name.o.hybrid.json" "$tmp/$name.json"
}
expect() {  # expect NAME FIELD VALUE
  grep -q "\"$2\": $3[,}]" "$tmp/$1.json" || fail "$1: expected $2 = $3: $(cat "$tmp/$1.json")"
}
report library --library lib
report standalone
report no_globals --library lib --no-global-exemption
report no_stack --library lib --no-stack-exemption
report keep_dominated --library lib --keep-dominated-checks
report no_shared --library lib --no-shared-comparisons

# In a library: table[c] and table[17] exempt; table[i] and small_table[c] checked.
expect library exempted_globals 2
expect library loads 6
# dominated_sum: p[4]'s check dropped (checks of p[0] and p[8] run before it); kept on request.
expect library dominated 1
expect keep_dominated dominated 0
expect keep_dominated loads 6
# dominated_sum: p[8] branches on p[0]'s comparison (shared); each its own on request.
expect library shared 1
expect no_shared shared 0
expect no_shared dominated 1
expect library stores 0
# The local array: its 8 initial stores and local[i & 7] (a store and a load) exempt;
# local[j & 15] may pass its end and is checked.
expect library exempted_stack 10
# Outside an image the globals are not placed in a compartment's region: all checked.
expect standalone exempted_globals 0
expect standalone loads 7
expect standalone stores 1
expect no_globals exempted_globals 0
expect no_globals loads 7
expect no_stack exempted_stack 0
expect no_stack exempted_globals 2
echo "exempt: constant and range-bounded offsets inside locals and the library's placed globals; the rest checked, less the checks earlier ones proved"
