#!/usr/bin/env bash
# Random differential test of the SQLite image: for each seed, sqlgen.py writes one SQL
# script (large tables, a tiny page cache, temporary files, transactions, savepoints,
# VACUUM, sorts, statements that fail on purpose); the real CLI (`sqlite3 -batch
# :memory:`) runs it once, then each image (`IMAGE SCRIPT`). Standard output, standard
# error and the exit status must be identical, byte for byte. sqlite3 must be the CLI of
# the library the image links (Debian 12: both 3.40.1).
#
#   random_differential_test.sh IMAGE [IMAGE...] --seeds FIRST:LAST [--scale small|full]
#                               [--jobs N] [--timeout SECONDS] [--keep DIR]
#
# Each difference is printed as `DIFFERENCE seed=S image=NAME (KIND)` with a short diff,
# KIND being stdout, stderr or status, or signal (the image was killed by a signal: exit
# status >= 128) or timeout (it ran longer than --timeout, default 1200 s). The run goes
# on; a seed without difference prints `seed S: same on every image`; at the end it
# prints `N seeds x M images: K differences` (K: the seed/image pairs
# that differ) and the failing seeds, and exits 1 if there was any. A seed is
# reproduced with `python3 sqlgen.py S --scale SCALE > s.sql; IMAGE s.sql`; --keep DIR
# also copies each failing seed's script and outputs to DIR/seed-S/.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
  echo "usage: $0 IMAGE [IMAGE...] --seeds FIRST:LAST [--scale small|full] [--jobs N] [--timeout SECONDS] [--keep DIR]" >&2
  exit 2
}

images=()
seeds='' scale=full jobs=1 limit=1200 keep=''
while (($# > 0)); do
  case $1 in
    --seeds) seeds=${2:-}; shift 2 || usage ;;
    --scale) scale=${2:-}; shift 2 || usage ;;
    --jobs) jobs=${2:-}; shift 2 || usage ;;
    --timeout) limit=${2:-}; shift 2 || usage ;;
    --keep) keep=${2:-}; shift 2 || usage ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) images+=("$1"); shift ;;
  esac
done
[[ $seeds =~ ^([0-9]+):([0-9]+)$ ]] || usage
first=${BASH_REMATCH[1]} last=${BASH_REMATCH[2]}
((first <= last)) || usage
[[ $scale == small || $scale == full ]] || usage
[[ $jobs =~ ^[1-9][0-9]*$ && $limit =~ ^[1-9][0-9]*$ ]] || usage
((${#images[@]} > 0)) || usage
for image in "${images[@]}"; do
  [[ -x $image ]] || { echo "not an executable: $image" >&2; exit 2; }
done
for tool in python3 sqlite3 timeout diff cmp; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (not found on PATH)" >&2; exit 2; }
done
if [[ -n $keep ]]; then mkdir -p "$keep" && keep=$(cd "$keep" && pwd) || exit 2; fi
names=()  # each image's name in the report: its file name, numbered if that repeats
for i in "${!images[@]}"; do  # absolute paths: each run's working directory is its own
  images[i]=$(cd "$(dirname "${images[i]}")" && pwd)/$(basename "${images[i]}")
  names[i]=$(basename "${images[i]}")
  for ((j = 0; j < i; j++)); do
    [[ ${names[j]} == "${names[i]}" ]] && names[i]="$(basename "${images[i]}")#$((i + 1))"
  done
done

tmp=$(mktemp -d)
cleanup() {  # on exit, interrupted or not: the seeds still running, then the files
  local pids
  read -ra pids <<<"$(jobs -p | tr '\n' ' ')"
  ((${#pids[@]} > 0)) && kill "${pids[@]}" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

signal_name() {
  local name
  name=$(kill -l "$1" 2>/dev/null) && echo "SIG$name" || echo "signal $1"
}

# limited DIR IN OUT ERR COMMAND...: runs COMMAND in DIR, stdin from IN, under the time
# limit; returns its exit status. timeout leads its own process group, which an
# interrupted run_seed kills.
limited() {
  local dir=$1 in=$2 out=$3 err=$4
  shift 4
  (cd "$dir" && exec timeout -k 10 "$limit" "$@" <"$in" >"$out" 2>"$err") &
  child=$!
  wait "$child" 2>/dev/null
}

# run_seed SEED: writes $tmp/SEED.report (what to print), $tmp/SEED.failed (the names
# of the images that differ, one a line), then $tmp/SEED.done.
run_seed() {
  local seed=$1
  local dir=$tmp/seed-$seed
  child=''
  trap '[[ -n $child ]] && kill -TERM -- "-$child" 2>/dev/null; exit 143' TERM INT
  mkdir -p "$dir"
  exec >"$tmp/$seed.report" 2>&1
  : >"$tmp/$seed.failed"
  if ! python3 "$here/sqlgen.py" "$seed" --scale "$scale" >"$dir/script.sql" 2>"$dir/gen.err"; then
    echo "DIFFERENCE seed=$seed image=sqlgen.py (generator failed)"
    head -20 "$dir/gen.err"
    echo sqlgen.py >>"$tmp/$seed.failed"
    touch "$tmp/$seed.done"
    return
  fi
  # The reference: its temporary files (temp_store = FILE) stay in the seed's folder.
  SQLITE_TMPDIR=$dir TMPDIR=$dir limited "$dir" script.sql ref.out ref.err sqlite3 -batch :memory:
  local ref_status=$?
  if ((ref_status > 1)); then
    echo "DIFFERENCE seed=$seed image=sqlite3 (the reference exited $ref_status)"
    head -20 "$dir/ref.err"
    echo sqlite3 >>"$tmp/$seed.failed"
  fi
  local i image name status kinds
  for i in "${!images[@]}"; do
    image=${images[i]} name=${names[i]}
    limited "$dir" /dev/null "$name.out" "$name.err" "$image" script.sql
    status=$?
    kinds=0
    if ((status == 124)); then
      echo "DIFFERENCE seed=$seed image=$name (timeout)"
      echo "  ran longer than ${limit} s (sqlite3 exited $ref_status); last lines of its stderr:"
      tail -5 "$dir/$name.err" | sed 's/^/  /'
      kinds=1
    elif ((status >= 128)); then
      echo "DIFFERENCE seed=$seed image=$name (signal)"
      echo "  killed by $(signal_name $((status - 128))) (exit status $status; sqlite3 exited $ref_status); last lines of its stderr:"
      tail -5 "$dir/$name.err" | sed 's/^/  /'
      kinds=1
    else
      if ! cmp -s "$dir/ref.out" "$dir/$name.out"; then
        echo "DIFFERENCE seed=$seed image=$name (stdout)"
        diff "$dir/ref.out" "$dir/$name.out" | head -20
        kinds=1
      fi
      if ! cmp -s "$dir/ref.err" "$dir/$name.err"; then
        echo "DIFFERENCE seed=$seed image=$name (stderr)"
        diff "$dir/ref.err" "$dir/$name.err" | head -20
        kinds=1
      fi
      if ((status != ref_status)); then
        echo "DIFFERENCE seed=$seed image=$name (status)"
        echo "  sqlite3 exited $ref_status, $name exited $status"
        kinds=1
      fi
    fi
    ((kinds)) && echo "$name" >>"$tmp/$seed.failed"
  done
  if [[ -n $keep && -s $tmp/$seed.failed ]]; then
    mkdir -p "$keep/seed-$seed" && cp "$dir"/*.sql "$dir"/*.out "$dir"/*.err "$keep/seed-$seed/" 2>/dev/null
  fi
  rm -rf "$dir"
  touch "$tmp/$seed.done"
}

# Seeds run in parallel (--jobs); their reports are printed in seed order.
next=$first
print_ready() {
  while ((next <= last)) && [[ -e $tmp/$next.done ]]; do
    cat "$tmp/$next.report"
    [[ -s $tmp/$next.failed ]] || echo "seed $next: same on every image"
    next=$((next + 1))
  done
}
running=0
for ((seed = first; seed <= last; seed++)); do
  run_seed "$seed" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n
    running=$((running - 1))
  fi
  print_ready
done
wait
print_ready

differences=0
failing=()
for ((seed = first; seed <= last; seed++)); do
  n=$(wc -l <"$tmp/$seed.failed")
  if ((n > 0)); then
    differences=$((differences + n))
    failing+=("$seed")
  fi
done
echo "$((last - first + 1)) seeds x ${#images[@]} images: $differences differences"
if ((differences > 0)); then
  echo "failing seeds: ${failing[*]}"
  for name in "${names[@]}"; do
    list=()
    for seed in "${failing[@]}"; do
      grep -qx "$name" "$tmp/$seed.failed" && list+=("$seed")
    done
    ((${#list[@]} > 0)) && echo "  $name: ${list[*]}"
  done
  exit 1
fi
exit 0
