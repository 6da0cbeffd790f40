#!/usr/bin/env bash
# Where a library's globals go (flexcap cc --library NAME): into its compartment's
# section, except, in plain code (the page backends), pthread's synchronization objects,
# which the kernel's futex waits on and a gate's protections must not close under a
# waiting thread (cc/README.md). Hybrid code's stay in the section, inside its DDC.
set -u
flexcap=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/lib.c" <<'C'
#include <pthread.h>
int counter;
static pthread_mutex_t locks[3];
static pthread_cond_t ready;
struct queue { int length; pthread_mutex_t lock; } jobs;
void touch(void) { pthread_mutex_lock(&locks[1]); ++counter; ++jobs.length; pthread_cond_signal(&ready); pthread_mutex_unlock(&locks[1]); }
C
section_of() { objdump -t "$1" | awk -v s="$2" '$NF == s {print $(NF-2)}'; }
for abi in plain hybrid; do
  "$flexcap" cc --abi $abi --library lib -O2 -c "$tmp/lib.c" -o "$tmp/$abi.o" || { echo "FAIL: $abi did not compile"; exit 1; }
  [[ $(section_of "$tmp/$abi.o" counter) == flexcap_lib_lib_globals ]] ||
    { echo "FAIL: $abi: counter is in $(section_of "$tmp/$abi.o" counter), not the library's section"; exit 1; }
done
for g in locks ready jobs; do
  [[ $(section_of "$tmp/plain.o" $g) != flexcap_lib_lib_globals ]] ||
    { echo "FAIL: plain: $g (holds a pthread object) was moved into the library's section"; exit 1; }
  [[ $(section_of "$tmp/hybrid.o" $g) == flexcap_lib_lib_globals ]] ||
    { echo "FAIL: hybrid: $g is in $(section_of "$tmp/hybrid.o" $g), not the library's section"; exit 1; }
done
echo "plain: pthread objects stay out of the library's section, the rest go in; hybrid: all go in"
