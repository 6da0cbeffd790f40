#include "flexcap/rt/backends.hh"

namespace flexcap::rt {
namespace {
std::vector<Import>& registry() {
  static std::vector<Import> all;  // filled during static initialisation, read-only after
  return all;
}
}  // namespace

int register_import(const Import& import) {
  auto& all = registry();
  for (std::size_t i = 0; i < all.size(); ++i) {
    const Import& known = all[i];
    if (known.caller == import.caller && known.callee == import.callee && known.library == import.library &&
        known.function == import.function) {
      return static_cast<int>(i);
    }
  }
  all.push_back(import);
  return static_cast<int>(all.size() - 1);
}

const std::vector<Import>& imports() { return registry(); }

}  // namespace flexcap::rt
