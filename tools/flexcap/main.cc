// flexcap — the FlexCap command line.
//
//   flexcap demo                      a tour of the capability model
//   flexcap cap eval < vectors        evaluate conformance-vector lines
//   flexcap cap check FILE            compare a vector file with the model
//   flexcap cap decode PESBT CURSOR   print one capability's fields
//   flexcap image-header CONFIG ...   generate an image's header (used by the build)
#include <CLI/CLI.hpp>
#include <iostream>

#include "cap_commands.hh"
#include "image_commands.hh"

int main(int argc, char** argv) {
  CLI::App app{"FlexCap: compartments isolated by Morello capabilities, tailored at build time"};
  app.require_subcommand(1);

  auto* demo = app.add_subcommand("demo", "A short tour of the Morello capability model");

  auto* cap = app.add_subcommand("cap", "The Morello capability model");
  cap->require_subcommand(1);
  auto* eval = cap->add_subcommand("eval", "Read `OP ARGS` lines on stdin, print `OP ARGS => RESULTS`");
  auto* check = cap->add_subcommand("check", "Check every line of a vector file against the model");
  std::string check_path;
  std::size_t show = 10;
  check->add_option("FILE", check_path, "Vector file (e.g. cap/test/data/morello-cap-vectors.txt)")->required();
  check->add_option("--show", show, "How many mismatches to print")->capture_default_str();
  auto* decode = cap->add_subcommand("decode", "Print the fields of one capability");
  std::string pesbt;
  std::string cursor;
  int tag = 1;
  decode->add_option("PESBT", pesbt, "Bits 127..64, hexadecimal")->required();
  decode->add_option("CURSOR", cursor, "Bits 63..0, hexadecimal")->required();
  decode->add_option("TAG", tag, "0 or 1")->check(CLI::Range(0, 1))->capture_default_str();

  auto* header = app.add_subcommand("image-header",
                                    "Generate an image's flexcap_image.hh from its configuration "
                                    "(the build runs this; see cmake/FlexcapImage.cmake)");
  std::string config_path;
  std::vector<std::string> libraries;
  std::string out_path;
  header->add_option("CONFIG", config_path, "The image's kraft.yaml")->required();
  header->add_option("--libraries", libraries, "The micro-libraries the image is built from")
      ->delimiter(',')
      ->required();
  header->add_option("--out", out_path, "Where to write the header")->required();

  CLI11_PARSE(app, argc, argv);

  if (demo->parsed()) return flexcap::tools::demo(std::cout);
  if (eval->parsed()) return flexcap::tools::cap_eval(std::cin, std::cout, std::cerr);
  if (check->parsed()) return flexcap::tools::cap_check(check_path, show, std::cout, std::cerr);
  if (decode->parsed()) return flexcap::tools::cap_decode(pesbt, cursor, tag, std::cout, std::cerr);
  if (header->parsed()) return flexcap::tools::image_header(config_path, libraries, out_path, std::cerr);
  return 1;
}
