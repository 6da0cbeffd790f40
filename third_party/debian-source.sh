#!/usr/bin/env bash
# Fetches and unpacks one of Debian's source packages, the version this machine has
# installed, with Debian's patches applied:
#   debian-source.sh SOURCE_PACKAGE BINARY_PACKAGE DEST
# prints the unpacked tree's path (DEST/SOURCE-VERSION/). The deb-src entries are made at
# run time from this machine's own apt sources (each `deb` entry becomes a `deb-src`
# one), in a private apt state under DEST: no mirror is written into the repository, and
# the system's apt configuration is not changed. A tree already unpacked is reused.
set -euo pipefail
source_package=$1 binary_package=$2 dest=$3
version=$(dpkg-query -W -f='${Version}' "$binary_package" 2>/dev/null) || {
  echo "debian-source: $binary_package is not installed, so its version is unknown. Fix: apt-get install $binary_package" >&2
  exit 1
}
upstream=${version#*:}
upstream=${upstream%-*}
tree=$dest/$source_package-$upstream
if [[ -f $tree/.flexcap-unpacked && $(cat "$tree/.flexcap-unpacked") == "$version" ]]; then
  echo "$tree"
  exit 0
fi
for tool in apt-get dpkg-source; do
  command -v "$tool" >/dev/null || { echo "debian-source: $tool is needed. Fix: apt-get install dpkg-dev" >&2; exit 1; }
done

apt=$dest/apt
rm -rf "$apt"
mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/archives/partial" "$dest"
# deb-src entries from the machine's own: one-line files and deb822 (.sources) files.
shopt -s nullglob
for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f $file ]] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$file"
done >"$apt/sources.list.d/flexcap.list"
for file in /etc/apt/sources.list.d/*.sources; do
  sed 's/^Types:.*\bdeb\b.*$/Types: deb-src/' "$file" >"$apt/sources.list.d/$(basename "$file")"
done
if [[ ! -s $apt/sources.list.d/flexcap.list ]] && ! ls "$apt"/sources.list.d/*.sources >/dev/null 2>&1; then
  echo "debian-source: this machine's apt configuration has no deb entries to derive deb-src entries from" >&2
  exit 1
fi
options=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt/sources.list.d"
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache::Archives=$apt/archives" -o "APT::Sandbox::User=root" -qq)
apt-get "${options[@]}" update >&2
work=$dest/download
rm -rf "$work"
mkdir -p "$work"
(cd "$work" && apt-get "${options[@]}" source --download-only "$source_package=$version" >&2) || {
  echo "debian-source: the source of $source_package $version is not on this machine's mirrors" >&2
  exit 1
}
rm -rf "$tree"
# Unpacked with Debian's patches applied: the same sources as the installed binary.
(cd "$work" && dpkg-source -x ./*.dsc "$tree" >&2)
echo "$version" >"$tree/.flexcap-unpacked"
rm -rf "$work" "$apt"
echo "$tree"
