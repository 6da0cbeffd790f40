// The audit report: what each compartment of the running image can reach. It is made
// from the image itself (its generated specification and the call sites the build
// compiled in), so it states what the image does, not what its configuration hoped.
#include <ostream>

#include "flexcap/rt/backends.hh"
#include "flexcap/rt/runtime.hh"

namespace flexcap::rt {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// The overlap region (`sharing: overlap`) between compartments i and i + 1, if any: the
// part of i's DDC window above its region.
std::uint64_t overlap_bytes(const ImageSpec& spec, std::size_t i) {
  if (i + 1 >= spec.compartments.size()) return 0;
  const CompartmentSpec& c = spec.compartments[i];
  if (c.window_end == nullptr || c.region_end == nullptr) return 0;
  return static_cast<std::uint64_t>(c.window_end - c.region_end);
}

std::string overlap_name(const ImageSpec& spec, std::size_t i) {
  return "overlap:" + std::string(spec.compartments[i].name) + "+" + std::string(spec.compartments[i + 1].name);
}

}  // namespace

void print_audit(const ImageSpec& spec, std::ostream& out) {
  const auto& calls = imports();
  out << "{\n  \"config\": " << quoted(spec.config_path) << ",\n  \"backend\": " << quoted(to_string(spec.backend))
      << ",\n  \"compartments\": [\n";
  for (std::size_t i = 0; i < spec.compartments.size(); ++i) {
    const CompartmentSpec& c = spec.compartments[i];
    const int index = static_cast<int>(i);
    out << "    {\n      \"name\": " << quoted(c.name)
        << ",\n      \"default\": " << (index == spec.default_compartment ? "true" : "false")
        << ",\n      \"heap_bytes\": " << c.heap_bytes << ",\n      \"sharing\": " << quoted(to_string(c.sharing))
        << ",\n      \"restart\": " << (c.restart == RestartPolicy::OnFault ? "\"on-fault\"" : "\"never\"")
        // Its code (what its PCC bounds under cheri); 0: not gathered, the PCC is the whole text.
        << ",\n      \"code_bytes\": " << (c.code_end - c.code_begin)
        << ",\n      \"libraries\": [";
    bool first = true;
    for (const LibrarySpec& l : spec.libraries) {
      if (l.compartment != index) continue;
      out << (first ? "" : ", ") << quoted(l.name);
      first = false;
    }
    // Exports: the functions of this compartment that another compartment calls.
    out << "],\n      \"exports\": [";
    first = true;
    for (const Import& call : calls) {
      if (call.callee != index) continue;
      out << (first ? "" : ", ") << "{\"library\": " << quoted(call.library)
          << ", \"function\": " << quoted(call.function)
          << ", \"caller\": " << quoted(spec.compartments[static_cast<std::size_t>(call.caller)].name) << "}";
      first = false;
    }
    // Imports: what this compartment may call in others (its call sites).
    out << "],\n      \"imports\": [";
    first = true;
    for (const Import& call : calls) {
      if (call.caller != index) continue;
      out << (first ? "" : ", ")
          << "{\"compartment\": " << quoted(spec.compartments[static_cast<std::size_t>(call.callee)].name)
          << ", \"library\": " << quoted(call.library) << ", \"function\": " << quoted(call.function) << "}";
      first = false;
    }
    // What its DDC reaches besides its own region: the overlap regions of its neighbours.
    out << "],\n      \"shared_regions\": [\"shared\"";
    if (i > 0 && overlap_bytes(spec, i - 1) > 0) out << ", " << quoted(overlap_name(spec, i - 1));
    if (overlap_bytes(spec, i) > 0) out << ", " << quoted(overlap_name(spec, i));
    out << "]\n    }" << (i + 1 < spec.compartments.size() ? "," : "") << "\n";
  }
  out << "  ],\n  \"shared_regions\": [{\"name\": \"shared\", \"bytes\": " << spec.shared_bytes
      << ", \"accessible_to\": \"every compartment\"}";
  for (std::size_t i = 0; i < spec.compartments.size(); ++i) {
    if (overlap_bytes(spec, i) == 0) continue;
    out << ",\n    {\"name\": " << quoted(overlap_name(spec, i)) << ", \"bytes\": " << overlap_bytes(spec, i)
        << ", \"accessible_to\": [" << quoted(spec.compartments[i].name) << ", "
        << quoted(spec.compartments[i + 1].name) << "], \"by\": \"raw pointers: both DDCs overlap it\"}";
  }
  out << "]\n}\n";
}

}  // namespace flexcap::rt
