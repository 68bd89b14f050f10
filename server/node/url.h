// URL helpers for etcd-style flags ("http://127.0.0.1:2379", "unix://localhost:2379").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/net/vocabulary.h"
#include "wire/client.h"

namespace cairn::server::node {

// Parses "http://host:port" or "https://host:port" (the caller decides how to dial a TLS URL: the
// Endpoint carries no context), and etcd's unix socket URLs "unix://NAME" / "unixs://NAME", whose
// socket file is NAME (a relative path: etcd's unix://localhost:2379 is the file "localhost:2379" in
// the working directory; host and port are then parsed from NAME when it has that form). Port 0 is
// accepted (a listener picks a free port). A trailing "/" is allowed. nullopt if malformed.
std::optional<net::Endpoint> parse_url(const std::string& url);
// unix:// or unixs://.
bool is_unix_url(const std::string& url);
// Splits "a,b,c" into its non-empty parts.
std::vector<std::string> split_list(const std::string& s, char sep = ',');

}  // namespace cairn::server::node
