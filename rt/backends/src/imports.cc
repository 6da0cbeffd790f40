#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {
std::vector<Import>& registry() {
  static std::vector<Import> all;  // filled during static initialisation, read-only after
  return all;
}
}  // namespace

bool register_import(const Import& import) {
  for (const Import& known : registry()) {
    if (known.caller == import.caller && known.callee == import.callee && known.library == import.library &&
        known.function == import.function) {
      return true;
    }
  }
  registry().push_back(import);
  return true;
}

const std::vector<Import>& imports() { return registry(); }

}  // namespace flexcap::rt
