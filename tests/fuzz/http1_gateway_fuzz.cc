// Fuzz target: HTTP/1.1 on the client port and the JSON gateway's body decoding. The input's first byte
// picks how many bytes each read returns; the rest is one connection's bytes into a real net::Server
// (tests/fuzz/client_port_fixture.h): request lines, headers, chunked or sized bodies, pipelined requests,
// and bodies decoded as etcd's request messages in proto3 JSON by api::gateway_parse. Every request must
// get a response or a close, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/client_port_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::size_t kChunks[] = {1, 7, 64, 4096, 65536};
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  cairn::fuzz::serve_one_connection(std::move(input), kChunks[data[0] % 5]);
  return 0;
}
