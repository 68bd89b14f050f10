// `cairn --help`: etcd's layout (the usage block, then each section's flags as "  --name 'default'" with
// the description indented below), generated from the flag table so that it lists every flag.
#include <string>

#include "server/app/flag_table.h"

namespace cairn::server::app {

std::string usage_text() {
  return "Usage:\n"
         "\n"
         "  cairn [flags]\n"
         "    Start a cairn member; the flags are etcd's (each also an ETCD_* variable).\n"
         "\n"
         "  cairn --version\n"
         "    Show cairn's version and the etcd version it is compatible with.\n"
         "\n"
         "  cairn -h | --help\n"
         "    Show this help.\n"
         "\n"
         "  cairn --config-file\n"
         "    Read the configuration from a YAML file; other flags and ETCD_* variables are then ignored.\n"
         "\n"
         "  cairn gateway start\n"
         "    Run a TCP pass-through proxy to the cluster's client URLs.\n"
         "\n"
         "  cairn grpc-proxy start\n"
         "    etcd's gRPC proxy: not supported by cairn (refused with a message).\n";
}

std::string help_text() {
  static const char* const kSections[] = {"Member",
                                          "Clustering",
                                          "Security",
                                          "Profiling and Monitoring",
                                          "Logging",
                                          "Distributed tracing",
                                          "v2 Proxy (not supported by cairn)",
                                          "Experimental feature",
                                          "Unsafe feature",
                                          "TO BE DEPRECATED"};
  std::string out = usage_text();
  for (const char* section : kSections) {
    out += std::string("\n") + section + ":\n";
    for (const auto& s : flag_table()) {
      if (!s.listed || s.section != section) continue;
      out += "  --" + std::string(s.name) + " " + std::string(s.help_default) + "\n";
      out += "    " + std::string(s.help) + "\n";
    }
    if (std::string_view(section) == "Unsafe feature")
      out += "\nCAUTION: unsafe flags may break the guarantees of the consensus protocol.\n";
  }
  return out;
}

}  // namespace cairn::server::app
