// etcd's subcommands: `cairn gateway start` runs the TCP pass-through proxy (server/gateway/tcp_proxy.h)
// with etcd's flags; `cairn grpc-proxy ...` is refused with a message (cairn has no L7 gRPC proxy).
#pragma once

#include <string_view>

namespace cairn::server::app {

bool is_subcommand(std::string_view arg);
// argv[0] is the subcommand name. Returns the exit status.
int run_subcommand(int argc, char** argv);

}  // namespace cairn::server::app
