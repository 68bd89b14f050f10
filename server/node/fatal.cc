#include "server/node/fatal.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cairn::server::node {

void fatal_stop(FatalExit code, std::string_view msg, log::Fields fields, std::source_location where) {
  log::write(log::Level::kFatal, msg, fields, where);
  std::fflush(nullptr);
  std::_Exit(static_cast<int>(code));
}

}  // namespace cairn::server::node
