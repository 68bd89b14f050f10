#include "server/node/url.h"

#include <charconv>

namespace cairn::server::node {

namespace {
// "host:port" (IPv6 in brackets) into an Endpoint; nullopt if malformed.
std::optional<net::Endpoint> parse_host_port(std::string rest) {
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) return std::nullopt;
  std::string host = rest.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return std::nullopt;
  unsigned port = 0;
  const char* b = rest.data() + colon + 1;
  const char* e = rest.data() + rest.size();
  auto [p, ec] = std::from_chars(b, e, port);
  if (ec != std::errc() || p != e || port > 65535) return std::nullopt;
  return net::Endpoint{host, static_cast<uint16_t>(port)};
}
}  // namespace

bool is_unix_url(const std::string& url) {
  return url.compare(0, 7, "unix://") == 0 || url.compare(0, 8, "unixs://") == 0;
}

std::optional<net::Endpoint> parse_url(const std::string& url) {
  size_t scheme = 0;
  if (url.compare(0, 7, "http://") == 0) {
    scheme = 7;
  } else if (url.compare(0, 8, "https://") == 0) {
    scheme = 8;
  } else if (url.compare(0, 7, "unix://") == 0) {
    scheme = 7;
  } else if (url.compare(0, 8, "unixs://") == 0) {
    scheme = 8;
  } else {
    return std::nullopt;
  }
  std::string rest = url.substr(scheme);
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (slash + 1 != rest.size()) return std::nullopt;
    rest.resize(slash);
  }
  if (is_unix_url(url)) {
    if (rest.empty()) return std::nullopt;
    net::Endpoint ep = parse_host_port(rest).value_or(net::Endpoint{rest, 0});
    ep.unix_path = rest;
    return ep;
  }
  return parse_host_port(rest);
}

std::vector<std::string> split_list(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace cairn::server::node
