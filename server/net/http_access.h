// Who may use the client port's HTTP/1.1 side from a browser (etcd's --cors and --host-whitelist).
//
// CORS: a response carries Access-Control-Allow-Origin (with etcd's Allow-Methods and Allow-Headers) only
// when the request's Origin is one of `cors_origins`, or when they contain "*" (then the value is "*", as
// etcd sends). No origins (cairn's default) means no CORS headers at all, so a web page the user opens
// cannot read from or write to a member on localhost; etcd's default is "*" and `--cors '*'` restores it.
// An OPTIONS request (a browser's preflight) is answered 200 with those headers and nothing else, as etcd.
//
// Host allow-list: with `hosts` not empty and not containing "*", a plain-text HTTP request whose Host
// header names another host (the port is ignored) gets 421 Misdirected Request, etcd's status, with a
// text naming the host and the flag (a guard against DNS rebinding, CVE-2018-5702), before any route runs.
// Requests over TLS are not checked, as in etcd: a rebinding page cannot present the member's certificate.
// gRPC (HTTP/2) is not checked either, as etcd.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace cairn::server::net {

struct HttpAccess {
  std::set<std::string> cors_origins;  // empty: no CORS headers; "*": every origin (etcd's default)
  std::set<std::string> hosts;         // empty or "*": every Host

  // From the flags' comma-separated lists (empty items are skipped).
  static HttpAccess from_flags(std::string_view cors, std::string_view host_whitelist);

  // The Access-Control-Allow-Origin value for a request with this Origin header (absent: nullopt), or
  // nullopt when the response must carry no CORS headers.
  std::optional<std::string> allow_origin(const std::optional<std::string>& origin) const;
  bool host_allowed(std::string_view host_header) const;
};

// The host part of a Host header: "[::1]:2379" -> "::1", "example.com:80" -> "example.com".
std::string host_without_port(std::string_view host_header);

// The 421 body for a Host that is not on the allow-list.
std::string misdirected_host_text(std::string_view host);

}  // namespace cairn::server::net
