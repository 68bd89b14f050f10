// What the apply path reads out of a committed kNormal entry, decoded in full before anything is applied.
//
// Every member must apply every committed entry identically, so an entry this member cannot read is not
// a no-op: its payload does not decode, its kind byte is one this build does not know (written by a
// newer member in a rolling upgrade), or its body does not decode as its kind's message. The caller
// stops the member on any of them (fatal.h) instead of applying it and telling the client OK.
// An empty entry is raft's own (a new leader's no-op) and decodes to no payload.
// Auth kinds' bodies are server/auth's to read: it refuses a malformed one with an error, deterministically.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/expected.h"
#include "server/node/request_codec.h"
#include "server/node/version.h"
#include "storage/requests.h"

namespace cairn::server::node {

struct DecodedEntry {
  std::optional<EntryPayload> payload;           // nullopt: raft's empty entry
  std::optional<storage::ApplyRequest> request;  // the store request of a store kind
  std::optional<etcdserverpb::Member> publish;   // kPublish
  std::optional<DowngradeInfo> downgrade;        // kDowngrade
  std::optional<StateCheck> state_check;         // kStateCheck
};

// Error: why it cannot be applied, naming the kind ("unknown entry kind 99", "a kPut body does not
// decode").
Expected<DecodedEntry, std::string> decode_committed_entry(std::string_view data);

}  // namespace cairn::server::node
