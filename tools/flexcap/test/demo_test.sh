#!/usr/bin/env bash
# The README's first command runs this demo: it must run to the end and show each
# protection working (these lines are computed by the model, not printed as text).
set -u
flexcap=$1
fail() { echo "FAIL: $*"; exit 1; }
out=$("$flexcap" demo) || fail "demo exited with $?"
for expected in 'read element 5 (25): allowed' 'capability bounds fault' 'capability permission fault' \
                'capability seal fault' 'capability tag fault' 'unseal with the key for type 42: tag=1' \
                'unseal with the key for type 43: tag=0' 'granule tag after the store: 1' \
                'its tag is now 0' 'the process is still running'; do
  grep -qF "$expected" <<<"$out" || fail "demo output lacks '$expected'"
done
echo "demo: ok"
