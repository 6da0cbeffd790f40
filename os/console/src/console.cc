#include "flexcap/lib/console.hh"

#include <cstdio>

#include "flexcap/rt/runtime.hh"

namespace flexcap::lib::console {
namespace {
// The text is read through its capability once (one range check), then written.
std::int64_t write_to(std::FILE* stream, const cap::Cap<const char>& text) {
  const auto span = rt::check(text.read_span(0, text.size()));
  const std::size_t written = std::fwrite(span.data(), 1, span.size(), stream);
  std::fflush(stream);
  return static_cast<std::int64_t>(written);
}
}  // namespace

std::int64_t Exports::write_impl(cap::Cap<const char> text) { return write_to(stdout, text); }
std::int64_t Exports::write_error_impl(cap::Cap<const char> text) { return write_to(stderr, text); }

}  // namespace flexcap::lib::console
