// The dashboard's files, embedded at build time (embed.cmake writes their definition).
#pragma once

#include <string_view>
#include <vector>

namespace cairn::server::dashboard {

struct Asset {
  std::string_view name;   // file name under assets/, e.g. "app.js"
  std::string_view bytes;  // its contents
};

const std::vector<Asset>& assets();

}  // namespace cairn::server::dashboard
