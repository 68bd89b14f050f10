#include "server/node/entry_decode.h"

namespace cairn::server::node {

namespace {
bool is_store_kind(EntryKind k) {
  switch (k) {
    case EntryKind::kPut:
    case EntryKind::kDeleteRange:
    case EntryKind::kTxn:
    case EntryKind::kCompaction:
    case EntryKind::kAlarm:
    case EntryKind::kLeaseGrant:
    case EntryKind::kLeaseRevoke:
    case EntryKind::kLeaseCheckpoint:
    case EntryKind::kQuota:
      return true;
    default:
      return false;
  }
}
}  // namespace

Expected<DecodedEntry, std::string> decode_committed_entry(std::string_view data) {
  DecodedEntry d;
  if (data.empty()) return d;
  const auto kind_byte = static_cast<uint8_t>(static_cast<uint8_t>(data[0]) & ~kEntryAuthFlag);
  if (kind_byte < 1 || kind_byte > kEntryKindMax)
    return unexpected("unknown entry kind " + std::to_string(kind_byte) + " (this member knows 1-" +
                      std::to_string(kEntryKindMax) + ")");
  d.payload = decode_entry_payload(data);
  if (!d.payload)
    return unexpected("the payload of a kind " + std::to_string(kind_byte) + " entry does not decode");
  const EntryPayload& p = *d.payload;
  const std::string what = "the body of a kind " + std::to_string(kind_byte) + " entry does not decode";
  if (is_store_kind(p.kind)) {
    d.request = to_apply_request(p.kind, p.body);
    if (!d.request) return unexpected(what);
  } else if (p.kind == EntryKind::kPublish) {
    d.publish.emplace();
    if (!d.publish->ParseFromString(p.body)) return unexpected(what);
  } else if (p.kind == EntryKind::kDowngrade) {
    d.downgrade = decode_downgrade(p.body);
    if (!d.downgrade) return unexpected(what);
  } else if (p.kind == EntryKind::kStateCheck) {
    d.state_check = decode_state_check(p.body);
    if (!d.state_check) return unexpected(what);
  }
  return d;
}

}  // namespace cairn::server::node
