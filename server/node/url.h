// URL helpers for etcd-style flags ("http://127.0.0.1:2379").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/net/client.h"

namespace cairn::server::node {

// Parses "http://host:port" (https is refused: TLS is not supported). nullopt if malformed.
std::optional<net::Endpoint> parse_url(const std::string& url);
// Splits "a,b,c" into its non-empty parts.
std::vector<std::string> split_list(const std::string& s, char sep = ',');

}  // namespace cairn::server::node
