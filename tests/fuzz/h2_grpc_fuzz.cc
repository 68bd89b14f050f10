// Fuzz target: HTTP/2 and gRPC framing on the client port. The input's first byte picks how many bytes
// each read returns (1 to 64 KiB: frames split anywhere); the rest follows the HTTP/2 client preface on
// one connection into a real net::Server (tests/fuzz/client_port_fixture.h): SETTINGS, HEADERS with
// HPACK, DATA with gRPC length-prefixed messages, RST_STREAM, PING, GOAWAY, WINDOW_UPDATE, whatever the
// bytes say. The server must answer or close and then let go of the connection: no crash, no hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/client_port_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::size_t kChunks[] = {1, 7, 64, 4096, 65536};
  std::string input = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);
  cairn::fuzz::serve_one_connection(std::move(input), kChunks[data[0] % 5]);
  return 0;
}
