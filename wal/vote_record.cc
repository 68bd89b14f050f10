#include "wal/vote_record.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/bytes.h"
#include "base/crc32c.h"

namespace cairn::wal {

namespace {

constexpr char kMagic[8] = {'C', 'A', 'I', 'R', 'N', 'V', 'O', 'T'};
constexpr uint32_t kVersion = 1;

struct Slot {
  uint64_t seq = 0;
  VoteRecord::Value value;
};

enum class SlotState : uint8_t { kEmpty, kValid, kBad };

SlotState decode_slot(std::string_view s, Slot* out) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return c == 0; })) return SlotState::kEmpty;
  if (s.size() != VoteRecord::kSlotBytes || std::memcmp(s.data(), kMagic, 8) != 0 ||
      base::get32(s.data() + 8) != kVersion ||
      base::crc32c_extend(0, s.data() + 16, s.size() - 16) != base::get32(s.data() + 12))
    return SlotState::kBad;
  out->seq = base::get64(s.data() + 16);
  out->value.term = base::get64(s.data() + 24);
  out->value.vote = base::get64(s.data() + 32);
  out->value.lost_tail = s[40] != 0;
  return SlotState::kValid;
}

}  // namespace

std::string VoteRecord::encode_slot(uint64_t seq, const Value& v) {
  std::string s(kSlotBytes, '\0');
  std::memcpy(s.data(), kMagic, 8);
  base::put32(s.data() + 8, kVersion);
  base::put64(s.data() + 16, seq);
  base::put64(s.data() + 24, v.term);
  base::put64(s.data() + 32, v.vote);
  s[40] = v.lost_tail ? 1 : 0;
  base::put32(s.data() + 12, base::crc32c_extend(0, s.data() + 16, s.size() - 16));
  return s;
}

Expected<std::unique_ptr<VoteRecord>, Status> VoteRecord::open(FileSystem& fs, const std::string& dir) {
  const std::string path = dir + "/" + kFileName;
  if (!fs.exists(path)) {
    // Both slots empty, durable (file and name) before anyone relies on writing into it.
    auto f = fs.open_file(path, true);
    if (!f) return unexpected(f.error());
    Status s = (*f)->write_at(0, std::string(2 * kSlotBytes, '\0'));
    if (s.is_ok()) s = (*f)->sync();
    if (s.is_ok()) s = fs.sync_dir(dir);
    if (!s.is_ok()) return unexpected(s);
    return std::unique_ptr<VoteRecord>(new VoteRecord(std::move(*f), path));
  }
  auto data = fs.read_file(path);
  if (!data) return unexpected(data.error());
  auto f = fs.open_file(path, false);
  if (!f) return unexpected(f.error());
  std::unique_ptr<VoteRecord> r(new VoteRecord(std::move(*f), path));
  // A short file is a create that crashed before its zeros were durable: the missing part is empty.
  std::string bytes = *data;
  bytes.resize(std::max<size_t>(bytes.size(), 2 * kSlotBytes), '\0');
  Slot slots[2];
  SlotState states[2];
  for (int i = 0; i < 2; ++i)
    states[i] = decode_slot(std::string_view(bytes).substr(i * kSlotBytes, kSlotBytes), &slots[i]);
  if (states[0] == SlotState::kBad && states[1] == SlotState::kBad)
    return unexpected(Status::corruption(path, 0, "both vote record slots are damaged"));
  for (int i = 0; i < 2; ++i) {
    if (states[i] == SlotState::kValid && slots[i].seq > r->seq_) {
      r->seq_ = slots[i].seq;
      r->value_ = slots[i].value;
    }
  }
  return r;
}

Status VoteRecord::write(const Value& v) {
  const uint64_t seq = seq_ + 1;
  // Slot seq % 2: never the slot holding the current value.
  Status s = file_->write_at((seq % 2) * kSlotBytes, encode_slot(seq, v));
  if (s.is_ok()) s = file_->sync();
  if (!s.is_ok()) return s;
  seq_ = seq;
  value_ = v;
  return Status::ok();
}

}  // namespace cairn::wal
