// VoteRecord: the member's term, vote and lost-tail mark, kept in a small file of their own beside the
// WAL segments, so that losing the log's tail cannot forget them.
//
// Why. The hard state records in the WAL sit in its tail with everything else. A disk that loses a
// synced tail (the fault WAL repair cuts away) can take the record of a vote with it: the member would
// come back at an older term, or at the same term without its vote, and could vote a second time in a
// term in which it already voted (Raft §5.2: "each server will vote for at most one candidate in a given
// term"; two leaders of one term follow). And it can take the lost-tail mark (raft/lost_tail.h) with it.
//
// File `vote` in the WAL directory, 1024 bytes: two 512-byte slots, each a whole sector so that writing
// one never touches the other. Slot layout (little-endian):
//   0  u64 magic "CAIRNVOT"     8  u32 version (1)     12 u32 crc
//   16 u64 seq                  24 u64 term            32 u64 vote     40 u8 lost_tail, then zeros
//   crc = crc32c of bytes [16, 512).
// An all-zero slot is empty. The valid slot with the higher seq holds the value. A write goes to the
// other slot with seq + 1 and is fdatasynced before write() returns, so a torn write leaves the previous
// value readable. Both slots bad (neither valid nor empty) cannot come from one torn write: open()
// refuses with kCorruption, naming the file.
//
// The WAL owns it (wal/wal.h): it writes the latest (term, vote, lost_tail) after each sync that
// changed them, and the mark when a repair cut the tail, and merges the record into the hard state it
// recovers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/expected.h"
#include "raft/types.h"
#include "wal/file_system.h"
#include "wal/status.h"

namespace cairn::wal {

class VoteRecord {
 public:
  struct Value {
    raft::Term term = 0;
    raft::NodeId vote = raft::kNone;
    bool lost_tail = false;
    bool operator==(const Value&) const = default;
  };
  static constexpr const char* kFileName = "vote";
  static constexpr uint64_t kSlotBytes = 512;

  // Opens the record in `dir`, creating it (durably) if it does not exist.
  [[nodiscard]] static Expected<std::unique_ptr<VoteRecord>, Status> open(FileSystem& fs,
                                                                          const std::string& dir);

  const Value& value() const { return value_; }
  // Durably replaces the value: one write of one slot and one fdatasync.
  [[nodiscard]] Status write(const Value& v);

  // The slot encoding, for tests that craft damaged records.
  static std::string encode_slot(uint64_t seq, const Value& v);

 private:
  VoteRecord(std::unique_ptr<File> file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}

  std::unique_ptr<File> file_;
  std::string path_;
  Value value_;
  uint64_t seq_ = 0;  // of the slot holding value_ (0: none written yet)
};

}  // namespace cairn::wal
