#include "compile_commands.hh"

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cc_command.hh"
#include "image_header.hh"

namespace flexcap::tools {

bool is_compile_command(std::string_view name) { return name == "cc" || name == "image-header"; }

int compile_command(int argc, char** argv) {
  // `cc` takes the compiler's own flags: they go to clang as they are.
  if (std::string_view(argv[1]) == "cc") return cc_command(std::vector<std::string>(argv + 2, argv + argc), std::cerr);

  CLI::App app{"Generate an image's flexcap_image.hh from its configuration (the build runs this; see "
               "cmake/FlexcapImage.cmake)",
               "flexcap image-header"};
  std::string config_path;
  std::vector<std::string> libraries;
  std::string out_path;
  std::string code_target;
  app.add_option("CONFIG", config_path, "The image's kraft.yaml")->required();
  app.add_option("--libraries", libraries, "The micro-libraries the image is built from")->delimiter(',')->required();
  app.add_option("--out", out_path, "Where to write the header")->required();
  app.add_option("--target", code_target,
                 "The CMake target the image links as: gather each compartment's code from its objects, "
                 "for the compartment's PCC (left out with link-time optimization: the PCC is the whole text)");
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return image_header(config_path, libraries, out_path, code_target, std::cerr);
}

}  // namespace flexcap::tools
