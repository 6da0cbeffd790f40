#!/usr/bin/env bash
# A fault in the net compartment, with redis-cli as the client: net_fault_test.sh IMAGE
# The image runs with FLEXCAP_TEST_NET_FAULT set: the net library then reads through a
# wild pointer when it receives the bytes FLEXCAP-NET-FAULT (os/net/src/net.cc), as a bug
# in a network stack would. Checks, twice over: the connection that sent them ends with
# an error, and so does another one open at the time; the gate reports the fault; Redis
# keeps its keyspace; the net compartment restarts (`restart: on-fault`), Redis listens
# again, and new connections are served. Then SHUTDOWN ends the image with status 0.
set -euo pipefail
image=$1
command -v redis-cli >/dev/null || { echo "redis-cli is needed. Fix: apt-get install redis-tools" >&2; exit 1; }
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill -9 "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$work/image.err" "$work/redis.log" >&2 2>/dev/null; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
FLEXCAP_TEST_NET_FAULT=1 "$image" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --logfile "$work/redis.log" 2>"$work/image.err" &
server=$!
cli() { redis-cli -p "$port" "$@"; }
for _ in $(seq 100); do
  [[ $(cli ping 2>/dev/null) == PONG ]] && break
  kill -0 "$server" 2>/dev/null || fail "the image exited before answering"
  sleep 0.1
done
[[ $(cli set kept "a value") == OK ]] || fail "SET"
[[ $(cli rpush list a b c) == 3 ]] || fail "RPUSH"

for round in 1 2; do
  # An idle client, connected before the fault, and one whose request makes the net
  # library fault: both connections end; then a new client is served, with the data.
  python3 - "$port" <<'PY' || fail "round $round: the connections did not end as expected"
import socket, sys, time
port = int(sys.argv[1])
idle = socket.create_connection(("127.0.0.1", port))
idle.sendall(b"PING\r\n")
assert idle.recv(100) == b"+PONG\r\n"
bad = socket.create_connection(("127.0.0.1", port))
bad.sendall(b"*2\r\n$4\r\nECHO\r\n$17\r\nFLEXCAP-NET-FAULT\r\n")
def ended(s):
    s.settimeout(10)
    try:
        return s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
assert ended(bad), "the faulting request was answered"
assert ended(idle), "a connection open at the time of the fault stayed open"
PY
  for _ in $(seq 50); do
    [[ $(cli ping 2>/dev/null) == PONG ]] && break
    sleep 0.1
  done
  [[ $(cli get kept) == "a value" ]] || fail "round $round: GET after the restart: $(cli get kept 2>&1)"
  [[ $(cli lrange list 0 -1 | tr '\n' ' ') == "a b c " ]] || fail "round $round: the list after the restart"
  [[ $(cli dbsize) == 2 ]] || fail "round $round: DBSIZE after the restart"
  [[ $(grep -c "gate to net.receive: fault in compartment 'net'" "$work/image.err") == "$round" ]] ||
    fail "round $round: the gate did not report the net compartment's fault"
done
grep -q "Redis's listening sockets and epoll are made again" "$work/image.err" || fail "no word of the restart"
cli shutdown nosave >/dev/null 2>&1 || true
status=0
wait "$server" || status=$?
server=
[[ $status == 0 ]] || fail "the image exited with status $status after SHUTDOWN"
echo "PASS: $(basename "$image"): two faults in the net compartment, connections ended, keyspace kept, served again"
