#!/usr/bin/env bash
# SQLite from Debian's source package, as FlexCap compiles it itself (plain and hybrid):
#   amalgamation.sh DEST
# fetches the source of the libsqlite3-0 this machine has (third_party/debian-source.sh,
# Debian's patches applied), configures it as Debian does and makes the amalgamation.
# Leaves in DEST: sqlite3.c, sqlite3.h, sqlite_cfg.h (configure's answers), speedtest1.c
# (SQLite's own benchmark), shell.c (the sqlite3 command-line shell), debian-cflags.rsp
# (the -D options of debian/rules, for clang's @file) and shell-cflags.rsp (the options
# SQLite's Makefile adds for the shell).
set -euo pipefail
dest=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$dest"
tree=$(bash "$here/../../../third_party/debian-source.sh" sqlite3 libsqlite3-0 "$dest/debian")
version=$(cat "$tree/.flexcap-unpacked")
if [[ ! -f $dest/sqlite3.c || ! -f $dest/shell-cflags.rsp || $(cat "$dest/.version" 2>/dev/null) != "$version" ]]; then
  command -v tclsh >/dev/null || { echo "amalgamation.sh: tclsh is needed to make SQLite's amalgamation. Fix: apt-get install tcl" >&2; exit 1; }
  rm -rf "$dest/build"
  mkdir -p "$dest/build"
  # Configured as debian/rules configures it (its features decide the parser too).
  (cd "$dest/build" && "$tree/configure" --quiet --disable-tcl --enable-threadsafe --enable-load-extension \
    --enable-json --enable-fts4 --enable-fts5 >&2 && make -s sqlite3.c shell.c >&2)
  cp "$dest/build/sqlite3.c" "$dest/build/sqlite3.h" "$dest/build/sqlite_cfg.h" "$dest/build/shell.c" "$dest/"
  cp "$tree/test/speedtest1.c" "$dest/"
  # The compile-time options Debian builds libsqlite3 with (debian/rules: CFLAGS +=).
  # With configure's feature flags and its answers (sqlite_cfg.h), as the library's build.
  {
    awk '/^export CFLAGS \+=/ {on=1} on {print; if ($0 !~ /\\$/) exit}' "$tree/debian/rules" |
      grep -o -- '-D[A-Za-z0-9_]*\(=[^ \\]*\)\?'
    sed -n 's/^OPT_FEATURE_FLAGS *= *//p' "$dest/build/Makefile" | tr ' ' '\n' | grep -- '^-D'
    echo "-D_HAVE_SQLITE_CONFIG_H"
  } >"$dest/debian-cflags.rsp"
  sed -n 's/^SHELL_OPT *+\?= *//p' "$dest/build/Makefile" | tr ' ' '\n' | grep -- '^-D' >"$dest/shell-cflags.rsp"
  [[ -s $dest/debian-cflags.rsp ]] || { echo "amalgamation.sh: no CFLAGS found in $tree/debian/rules" >&2; exit 1; }
  echo "$version" >"$dest/.version"
fi
