// Fuzz target: raft messages from a peer. Each input is a role byte and then length-prefixed records
// (u16 big-endian length | bytes). Every record is decoded as the peer transport's payload is
// (proto::decode_message) and stepped into a RawNode of a 3-voter cluster, exactly as the node does with a
// message from a peer; each Ready is then handled by the book (tests/raft/harness.h). The role byte puts
// the node in each role first: follower, pre-candidate, candidate or leader. Whatever the bytes, the step
// must return (an error for messages it refuses) and the core's invariants must hold: a CAIRN_ASSERT
// reached from peer input is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/raft_codec.h"
#include "tests/fuzz/raft_fixture.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto node = cairn::fuzz::make_node(data[0]);
  auto& n = *node;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  while (rest.size() >= 2) {
    std::size_t len = (static_cast<std::uint8_t>(rest[0]) << 8) | static_cast<std::uint8_t>(rest[1]);
    rest.remove_prefix(2);
    len = std::min(len, rest.size());
    auto m = cairn::proto::decode_message(rest.substr(0, len));
    rest.remove_prefix(len);
    if (m) (void)n.node->step(std::move(*m));
    n.node->tick();
    (void)n.flush();
  }
  return 0;
}
