// Fuzz target: the --config-file parser (YAML through yaml-cpp, server/app/config_file.cc) and the flag
// parsing and validation its arguments then go through, as `cairn --config-file FILE` runs them. Any
// text must give either arguments or an error message; the arguments must give either a configuration
// or etcd's error exit, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "server/app/flags.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto args = cairn::server::app::config_file_args(text);
  if (!args) return 0;
  std::vector<const char*> argv{"cairn"};
  for (const std::string& a : *args)
    argv.push_back(a.c_str());
  auto parsed = cairn::server::app::parse_flags(static_cast<int>(argv.size()), argv.data());
  (void)parsed;
  return 0;
}
