// The server side of the network layer speaks the wire library's vocabulary (wire/: Status, StatusCode,
// Metadata, ByteStream, Endpoint, the TLS contexts): those names are server::net's too, so the server and
// the services above it keep writing net::Status for what a handler returns. Tools and clients use
// wire:: directly and never include server/net.
#pragma once

#include "wire/byte_stream.h"
#include "wire/endpoint.h"
#include "wire/framing.h"
#include "wire/tls.h"

namespace cairn::server::net {
using namespace cairn::wire;  // NOLINT(google-build-using-namespace): see above
}  // namespace cairn::server::net

// The server's connections are HTTP/2 sessions (wire/h2_session.h) too.
namespace cairn::wire::detail {
class H2Session;
}  // namespace cairn::wire::detail
namespace cairn::server::net::detail {
using namespace cairn::wire::detail;  // NOLINT(google-build-using-namespace)
}  // namespace cairn::server::net::detail
