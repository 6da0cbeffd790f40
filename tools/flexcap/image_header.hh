// `flexcap image-header`: what the build generates from an image's configuration.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace flexcap::tools {

// Writes the generated header of an image (flexcap_image.hh) for CONFIG and the
// libraries the image is built from, and its linker script (flexcap_image.ld, beside
// it). With `target` (the CMake target the image links as), the script also gathers
// each compartment's code from that target's objects, for its PCC; empty: the PCC is the
// whole text (an image with link-time optimization, whose objects lose their names).
// Returns the exit status; errors go to `err`.
int image_header(const std::string& config_path, const std::vector<std::string>& libraries, const std::string& out_path,
                 const std::string& target, std::ostream& err);

}  // namespace flexcap::tools
