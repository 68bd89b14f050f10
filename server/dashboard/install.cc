#include "server/dashboard/install.h"

#include <string>

#include "assets.h"

namespace cairn::server::dashboard {

namespace {

std::string content_type(std::string_view name) {
  auto ends = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

net::HttpResponse file_response(const Asset& a) {
  net::HttpResponse r;
  r.content_type = content_type(a.name);
  r.body = std::string(a.bytes);
  // The page only talks to this member (and the peers' client URLs it lists); no framing by others.
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace

void add_routes(net::Server& s) {
  s.add_http("GET", "/ui", [](const net::HttpRequest&) -> boost::asio::awaitable<net::HttpResponse> {
    net::HttpResponse r;
    r.status = 301;
    r.headers.emplace_back("Location", "/ui/");
    co_return r;
  });
  for (const Asset& a : assets()) {
    const Asset* ap = &a;
    auto serve = [ap](const net::HttpRequest&) -> boost::asio::awaitable<net::HttpResponse> {
      co_return file_response(*ap);
    };
    s.add_http("GET", "/ui/" + std::string(a.name), serve);
    if (a.name == "index.html") s.add_http("GET", "/ui/", serve);
  }
}

}  // namespace cairn::server::dashboard
