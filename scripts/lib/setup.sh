# Shared by the scripts in scripts/: install what FlexCap needs and build a preset.
# Sourced, not run. Everything here is idempotent: a second run installs nothing and
# rebuilds only what changed.

# Debian 12 packages the build and the tests use (tcl and dpkg-dev: SQLite built from its
# source package, which apt fetches; make, autoconf, automake and libtool: libsodium's,
# compiled purecap; redis-server and redis-tools: Redis built from its source package,
# checked against Debian's server with Debian's redis-cli and redis-benchmark).
FLEXCAP_PACKAGES=(g++ cmake ninja-build libgtest-dev libbenchmark-dev libcli11-dev libyaml-cpp-dev libsqlite3-dev sqlite3 libsodium-dev pkg-config clang libclang-rt-14-dev llvm-14-dev python3
  tcl dpkg-dev make autoconf automake libtool redis-server redis-tools)

install_dependencies() {
  local missing=()
  for package in "${FLEXCAP_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) != 0 ]]; then
    echo "FlexCap needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing ${missing[*]} ..." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# configure_and_build PRESET [TARGET...]: configures once, then builds incrementally
# (everything, or only the targets named).
configure_and_build() {
  local preset=$1
  shift
  if [[ ! -f build/$preset/build.ninja ]]; then
    # FLEXCAP_THIRD_PARTY_TREE (CI): a built tree whose SQLite and Redis objects this one
    # copies instead of compiling them again (cmake/FlexcapHostTree.cmake).
    cmake --preset "$preset" ${FLEXCAP_THIRD_PARTY_TREE:+"-DFLEXCAP_THIRD_PARTY_TREE=$FLEXCAP_THIRD_PARTY_TREE"} >&2
  fi
  if (($# > 0)); then
    cmake --build --preset "$preset" --target "$@" >&2
  else
    cmake --build --preset "$preset" >&2
  fi
}
