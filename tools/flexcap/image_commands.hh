// `flexcap image-header` and `flexcap audit`: what the build and the reviewer are told
// about an image's configuration.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace flexcap::tools {

// Writes the generated header of an image (flexcap_image.hh) for CONFIG and the
// libraries the image is built from. Returns the exit status; errors go to `err`.
int image_header(const std::string& config_path, const std::vector<std::string>& libraries, const std::string& out_path,
                 std::ostream& err);

}  // namespace flexcap::tools
