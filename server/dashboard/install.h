// The web dashboard (docs/dashboard.md): GET /ui/ and its files on a client server. The page is a
// client of the member's own JSON gateway and /metrics, like any other client (with auth on it asks
// for a user and sends its token); the server side is static files only.
//
// Cost when nobody has it open: the routes and the embedded bytes in the binary's read-only data; no
// thread, timer, buffer or per-request work exists until a browser asks for a file.
#pragma once

#include "server/net/server.h"

namespace cairn::server::dashboard {

// Adds GET /ui (a redirect), /ui/ (index.html) and /ui/<file> for every embedded file.
void add_routes(net::Server& s);

}  // namespace cairn::server::dashboard
