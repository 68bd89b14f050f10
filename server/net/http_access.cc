#include "server/net/http_access.h"

#include <string>

namespace cairn::server::net {

namespace {

std::set<std::string> split_list(std::string_view s) {
  std::set<std::string> out;
  while (!s.empty()) {
    std::size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty()) out.emplace(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

HttpAccess HttpAccess::from_flags(std::string_view cors, std::string_view host_whitelist) {
  return HttpAccess{split_list(cors), split_list(host_whitelist)};
}

std::optional<std::string> HttpAccess::allow_origin(const std::optional<std::string>& origin) const {
  if (cors_origins.count("*") != 0) return std::string("*");
  if (origin && cors_origins.count(*origin) != 0) return *origin;
  return std::nullopt;
}

bool HttpAccess::host_allowed(std::string_view host_header) const {
  if (hosts.empty() || hosts.count("*") != 0) return true;
  return hosts.count(host_without_port(host_header)) != 0;
}

std::string host_without_port(std::string_view h) {
  if (!h.empty() && h.front() == '[') {  // [v6]:port or [v6]
    std::size_t close = h.find(']');
    if (close == std::string_view::npos) return std::string(h);
    std::string_view rest = h.substr(close + 1);
    if (rest.empty() || rest.front() == ':') return std::string(h.substr(1, close - 1));
    return std::string(h);
  }
  std::size_t colon = h.rfind(':');
  if (colon == std::string_view::npos || h.find(':') != colon) return std::string(h);  // bare v6: as is
  return std::string(h.substr(0, colon));
}

std::string misdirected_host_text(std::string_view host) {
  return "the Host header \"" + std::string(host) +
         "\" is not allowed by --host-whitelist (a guard against DNS rebinding, CVE-2018-5702): add the "
         "name to --host-whitelist, or use TLS\n";
}

}  // namespace cairn::server::net
