#!/usr/bin/env bash
# Debian's redis-cli against a Redis image: smoke_test.sh IMAGE
# Starts the image on a free loopback port, checks that commands are answered as Redis
# answers them (strings, counters, lists, a 1 MiB value that crosses the net library's
# 64 KiB transfer buffer many times, a pipeline of 10,000 commands, MULTI/EXEC, a Lua
# script, SAVE, BGSAVE and the AOF in ramfs), that a client that sends garbage gets a protocol error while the others keep
# their data, and that SHUTDOWN, and SIGTERM, end the image with status 0.
set -euo pipefail
[[ -n ${SMOKE_TRACE:-} ]] && set -x
image=$1
command -v redis-cli >/dev/null || { echo "redis-cli is needed. Fix: apt-get install redis-tools" >&2; exit 1; }
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cli() { redis-cli -p "$port" "$@"; }
start() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$image" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --logfile "$work/redis.log" \
    --enable-debug-command yes &
  server=$!
  for _ in $(seq 100); do
    [[ $(cli ping 2>/dev/null) == PONG ]] && return
    kill -0 "$server" 2>/dev/null || { cat "$work/redis.log" >&2; echo "FAIL: the image exited before answering" >&2; exit 1; }
    sleep 0.1
  done
}
start
fail() { echo "FAIL: $*" >&2; cat "$work/redis.log" >&2; exit 1; }
expect() {  # expect WANT CLI-ARGS...
  local want=$1
  shift
  local got
  got=$(cli "$@")
  [[ $got == "$want" ]] || fail "redis-cli $*: expected '$want', got '$got'"
}

expect PONG ping
expect OK set greeting "hello, compartments"
expect "hello, compartments" get greeting
expect 1 incr counter
expect 2 incr counter
expect 3 rpush list a b c
expect $'a\nb\nc' lrange list 0 -1
# A value far larger than one transfer: both directions go in pieces.
head -c 1048576 /dev/urandom | base64 -w0 >"$work/big"
cli -x set big <"$work/big" >/dev/null
expect "$(stat -c %s "$work/big")" strlen big
[[ $(cli get big) == "$(cat "$work/big")" ]] || fail "the 1 MiB value came back different"
# Pipelined: 10,000 commands in one stream.
for i in $(seq 10000); do printf 'SET key:%d %d\r\n' "$i" "$i"; done >"$work/pipe"
cli --pipe <"$work/pipe" >"$work/pipe.out"
grep -q "errors: 0, replies: 10000" "$work/pipe.out" || fail "pipe: $(cat "$work/pipe.out")"
expect 10004 dbsize
expect 7777 get key:7777
# MULTI/EXEC and Lua, in one connection.
printf 'MULTI\nINCR counter\nINCR counter\nEXEC\n' | cli >"$work/multi.out"
[[ $(tail -2 "$work/multi.out" | tr '\n' ' ') == "3 4 " ]] || fail "MULTI/EXEC: $(cat "$work/multi.out")"
expect 41 eval "return redis.call('incrby', KEYS[1], 37)" 1 counter
# Garbage on a socket: that client gets an error, the server and its data stay.
python3 - "$port" <<'EOF' || fail "a malformed request did not get Redis's protocol error"
import socket, sys
for request in [b"*1\r\n$-5\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$9999999999\r\n", b"*abc\r\n"]:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(request)
    s.settimeout(10)
    reply = s.recv(4096)
    assert reply.startswith(b"-ERR Protocol error"), (request, reply)
EOF
expect "hello, compartments" get greeting
expect 10004 dbsize
# Files are in ramfs (vfs), not on the host. SAVE, then DEBUG RELOAD NOSAVE loads what
# it wrote: a key set after the save is gone, the others are back.
wait_for_no_child() {
  for _ in $(seq 300); do
    cli info persistence | tr -d '\r' | grep -q '^rdb_bgsave_in_progress:0' &&
      cli info persistence | tr -d '\r' | grep -q '^aof_rewrite_in_progress:0' && return
    sleep 0.1
  done
}
expect OK save
expect OK set after-save 1
expect OK debug reload nosave
expect "" get after-save
expect "hello, compartments" get greeting
[[ ! -e $work/dump.rdb ]] || fail "dump.rdb is on the host, not in ramfs"
# BGSAVE: a forked child writes the snapshot while the parent serves; its file reaches
# the parent's ramfs when the parent reaps it (every backend forks; on process the
# child keeps off the other compartments' processes, see docs/redis-image.md).
expect OK set before-bgsave 1
expect "Background saving started" bgsave
wait_for_no_child
persistence=$(cli info persistence | tr -d '\r')
grep -q '^rdb_last_bgsave_status:ok' <<<"$persistence" || fail "BGSAVE: $persistence"
grep -q '^rdb_changes_since_last_save:0' <<<"$persistence" || fail "BGSAVE saved nothing: $persistence"
expect OK set after-bgsave 1
expect OK debug reload nosave
expect 1 get before-bgsave
expect "" get after-bgsave
# The AOF: turning it on rewrites it in a child (its base file reaches ramfs as above),
# then every write is appended; DEBUG LOADAOF reads it all back.
expect OK config set appendonly yes
wait_for_no_child
expect OK set in-aof 1
expect 1 incr aof-counter
expect OK debug loadaof
expect 1 get in-aof
expect 1 get aof-counter
expect 1 get before-bgsave
expect "hello, compartments" get greeting
[[ ! -e $work/appendonlydir ]] || fail "the AOF is on the host, not in ramfs"
version=$(cli info server | tr -d '\r' | sed -n 's/^redis_version://p')
[[ $version == 7.0.15 ]] || fail "INFO server: redis_version '$version', expected 7.0.15"
# SHUTDOWN: the image ends with status 0.
cli shutdown nosave >/dev/null 2>&1 || true
status=0
wait "$server" || status=$?
server=
[[ $status == 0 ]] || fail "the image exited with status $status after SHUTDOWN"
# SIGTERM while Redis waits for clients (inside the net compartment's epoll_wait, on
# cheri on that compartment's stack, on mprotect and intel-pku with that compartment's
# protections, which close Redis's region): its handler runs as Redis's code, and Redis
# shuts down as it does on SIGTERM, with status 0.
start
expect OK set greeting again
kill -TERM "$server"
status=0
wait "$server" || status=$?
server=
[[ $status == 0 ]] || fail "the image exited with status $status after SIGTERM"
grep -q "Received SIGTERM scheduling shutdown" "$work/redis.log" || fail "Redis's SIGTERM handler did not run"
grep -q "Redis is now ready to exit" "$work/redis.log" || fail "Redis did not shut down after SIGTERM"
echo "PASS: $(basename "$image") served redis-cli"
