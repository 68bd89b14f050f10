// Fuzz target: the peer port. The input's first byte is the mode, the rest is what an inbound peer
// connection sends: HELLO, MESSAGE and CHUNK_* frames (server/net/peer_transport.h), through a real
// PeerTransport over an in-memory stream. Mode bit 0 recomputes every frame's CRC over the bytes first,
// so the frame handling behind the checksum is reached; bits 1-2 choose the raft role (raft_fixture.h) of
// the member that then steps every delivered payload as the node does (proto::decode_message, then
// RawNode::step). A hostile peer may get its connection closed; the member must not crash or hang.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "proto/raft_codec.h"
#include "server/net/peer_transport.h"
#include "tests/fuzz/memory_stream.h"
#include "tests/fuzz/raft_fixture.h"

namespace {

std::uint32_t get_be32(const std::string& s, std::size_t off) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(s[off + i]);
  return v;
}

// Frame layout: u32 payload_length | u32 crc32c(type byte + payload) | u8 type | payload.
void fix_crcs(std::string& s) {
  std::size_t off = 0;
  while (off + 9 <= s.size()) {
    std::size_t len = get_be32(s, off);
    if (off + 9 + len > s.size()) break;
    std::uint32_t crc = cairn::base::crc32c_extend(0, s.data() + off + 8, 1 + len);
    for (int i = 0; i < 4; ++i)
      s[off + 4 + i] = static_cast<char>(crc >> (8 * (3 - i)));
    off += 9 + len;
  }
}

cairn::server::net::PeerTransportOptions fuzz_options() {
  cairn::server::net::PeerTransportOptions o;
  o.frame_bytes_max = 64 * 1024;
  o.chunk_bytes = 4 * 1024;
  o.large_payload_bytes_max = 1 << 20;
  o.handshake_timeout = std::chrono::milliseconds(2'000);
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) fix_crcs(input);
  std::vector<std::string> delivered;
  boost::asio::io_context ioc;
  auto out = std::make_shared<cairn::fuzz::MemoryStreamOutput>();
  {
    cairn::server::net::PeerTransportCallbacks cb;
    cb.on_message = [&delivered](cairn::server::net::PeerId, std::string payload) {
      delivered.push_back(std::move(payload));
    };
    cairn::server::net::PeerTransport transport(ioc, 1, fuzz_options(), cb);
    transport.set_cluster_id(0x1234);
    transport.serve_stream(std::make_unique<cairn::fuzz::MemoryByteStream>(boost::asio::make_strand(ioc),
                                                                           std::move(input), 4096, out));
    ioc.run_for(std::chrono::seconds(20));
    if (!ioc.stopped()) __builtin_trap();  // the connection hangs after its input ended
    transport.shutdown();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(5));
  }
  auto node = cairn::fuzz::make_node(static_cast<std::uint8_t>(data[0] >> 1));
  for (const std::string& p : delivered) {
    auto m = cairn::proto::decode_message(p);
    if (m) (void)node->node->step(std::move(*m));
    (void)node->flush();
  }
  return 0;
}
