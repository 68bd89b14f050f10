// The durable Raft write-ahead log: entries, hard state, snapshot markers and a metadata blob, written
// in append-only segment files, with group commit and crash recovery. This header owns the on-disk format.
//
// ## Files
// A WAL directory holds segments named `<seq>-<first_index>.wal`, both 16 lower-case hex digits:
// `seq` counts segments from 1 without gaps; `first_index` is the index the next entry appended had when
// the segment was created (last index + 1). Other files: `segment.tmp` (the preallocated spare, see
// below; deleted on open), `<segment>.broken` (the original of a repaired segment up to its last non-zero
// byte, kept for forensics, never read), `vote` (the vote record, wal/vote_record.h: term, vote and
// lost-tail mark, outside the segments), anything else is ignored.
//
// ## Segment layout (all integers little-endian; every record starts at an 8-byte aligned offset)
//   segment header, 40 bytes:
//     0  u64 magic "CAIRNWAL"        8  u32 version (1)           12 u32 header_crc
//     16 u64 seq                     24 u64 first_index           32 u32 prev_crc     36 u32 zero
//     header_crc = crc32c of bytes [0,12) ++ [16,40). seq and first_index must match the file name.
//   records, each:
//     0  u32 payload_bytes           4  u8 type, 3 zero bytes
//     8  u32 crc                     12 u32 zero                  16 payload, then 0-7 zero bytes to align
//   types: 1 entry (proto Entry), 2 hard state (proto HardState), 3 snapshot marker that keeps the entries
//   after it (proto SnapshotMetadata), 4 metadata (raw bytes), 5 snapshot marker that discards the whole
//   log (proto SnapshotMetadata). A zero first word (length and type) ends the records: it
//   is where preallocated zeros begin. Because the first word is 8-byte aligned it never straddles a
//   512-byte sector, so on a disk with atomic sector writes a length is either fully written or not at all.
//
// ## CRC chaining
// crc = crc32c_extend(previous record's crc, record bytes [0,8) ++ payload). The first record of a segment
// chains from the header's prev_crc, which is the crc of the last record of the previous segment (0 for
// the very first segment). So a record that is lost, reordered or replayed from elsewhere breaks the
// chain, and a segment whose predecessor lost records at its end is caught by its prev_crc.
//
// ## Carried state
// A new segment starts with copies of the current metadata, snapshot marker and hard state, so deleting
// older segments (release_to) never loses the latest of those; only entries live in one segment alone.
// release_to(i) deletes the oldest segment while the next one's first_index - 1 <= i, where i is at most
// the index of a durable snapshot marker. Replay that starts at a segment with seq > 1 treats the entries
// before its first_index as unknown and requires a later (or carried) marker to cover them.
//
// ## Recovery semantics (what open() returns)
// Records are replayed in order: the latest hard state and metadata win; an entry at index i drops every
// entry >= i read so far (a new leader overwrote the tail); an entry at or below the snapshot is ignored;
// an entry beyond last+1 is a gap (corruption). save_snapshot(i, t) applies Raft's InstallSnapshot rule
// (paper, fig. 13, step 6): if the log holds (i, t) the entries after i are kept (type 3), otherwise the
// whole log is discarded (type 5); the writer decides and the record type carries the decision, so replay
// never needs the term of an entry that release_to already deleted. A marker not newer than the current
// one is ignored (carried copies are such markers). Entries before the first segment's first_index are
// unknown and must be covered by a snapshot marker by the end of replay, else open refuses.
// Before returning, open() fdatasyncs the last segment: what it read may have been only in the page cache
// of a process that died before its sync, and the caller is about to act on it.
//
// ## Group commit
// append(), save_snapshot() and set_metadata() only encode into an in-memory buffer (written to the file
// once it holds write_buffer_bytes_max). sync() writes the buffer and issues one fdatasync for everything
// appended since the previous sync, then reports what is durable. The owner batches: append every Ready
// that arrived, then sync once. Not thread-safe: one owner thread drives a Wal. Destroying a Wal without
// close() drops what was not synced, exactly like a crash.
//
// ## Preallocation and rollover
// preallocate_next() creates `segment.tmp`, fallocates it to segment_size_bytes_max and fsyncs it. The
// owner calls it off the hot path (e.g. right after open and after each sync when spare_ready() is false);
// if no spare exists at rollover, rollover makes one itself. Rollover happens before a record that would
// push the current segment past segment_size_bytes_max: (1) flush, truncate the current segment to its
// used size and fdatasync it; (2) write the new header and carried state into the spare and fdatasync it;
// (3) rename it to its segment name and fsync the directory. A crash before (3) is durable leaves a stray
// `segment.tmp` (deleted on open) and the old segment as the last one; after it, the new segment is
// complete. A named segment therefore always has a durable header.
//
// ## Crash states recovery repairs
// Only in the LAST segment, at the first record that fails to read, if the failure looks like a torn
// unsynced write: the record runs past end of file; its first word is zero (preallocated space, or a
// zeroed sector); its header and payload bytes, split at 512-byte file offsets, contain an all-zero piece;
// or every byte after its extent is zero (a torn prefix in preallocated space). If only zeros follow the last
// good record nothing is repaired (that is preallocated space). Otherwise the original file is copied to
// `<name>.broken` (fsynced, directory fsynced), the segment is truncated after its last good record and
// fsynced. A crash during repair leaves either the original (repaired again on the next open) or the
// truncated segment. Stray `segment.tmp` files are removed. A last segment shorter than
// segment_size_bytes_max (a repair cut its preallocated zeros) is preallocated again on open.
//
// ## A repair may cut acknowledged records
// A torn unsynced write and a synced tail the disk lost look the same at the end of the last segment.
// So after cutting bytes the WAL assumes the worst: before the truncation it writes the vote record
// (wal/vote_record.h) with the lost-tail mark set, and open() reports the hard state with
// `lost_tail` (the Raft core then catches up before it votes, raft/lost_tail.h) and what was cut
// (RecoveredState::tail_repair). The recovered hard state merges the vote record: its term and vote win
// when they are newer than the last hard state record that survived; the mark stays until the owner
// appends a hard state without it. sync() rewrites the vote record (one more fdatasync) whenever the
// term, vote or mark it made durable changed, i.e. about once per election. Zeros after the last record of an
// earlier segment are accepted as its end (rollover cuts them, but nothing depends on it): the next segment's
// prev_crc proves that no record was lost there.
//
// ## Crash states recovery refuses (kCorruption naming file and byte offset)
// Any bad record in a segment that is not the last; a bad record in the last segment followed by
// non-zero data with no sign of a tear (e.g. a flipped bit mid-log); a segment header with bad magic,
// version, crc, or seq/first_index different from its name; a prev_crc that does not continue the chain;
// a gap in seq (a missing middle segment); an entry index gap; a record whose crc matches but whose payload
// does not decode. Residual ambiguity: a zeroed sector or a damaged length in the last segment is
// indistinguishable from a torn write and is truncated, so acknowledged records after it are lost here;
// the lost-tail mark (above) has the member get them back from its peers.
//
// ## Errors
// Expected failures are returned as Status. After an I/O error in a write or sync the Wal is failed:
// the kernel may have dropped dirty pages, so every later call returns kClosed and the owner must reopen.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "raft/types.h"
#include "wal/file_system.h"
#include "wal/status.h"

namespace cairn::wal {

namespace detail {
class TermLog;
}
class VoteRecord;

struct WalOptions {
  // A segment rolls over before a record would take it past this size (a single larger record still
  // gets a segment of its own). Also the size spare segments are preallocated to.
  uint64_t segment_size_bytes_max = 64ull << 20;
  // Largest payload of one record; bigger appends are rejected, bigger lengths on disk are corruption.
  uint64_t record_bytes_max = 16ull << 20;
  // Appended bytes held in memory before they are written (not synced) to the segment.
  uint64_t write_buffer_bytes_max = 1ull << 20;
  // fallocate spare segments; off only for file systems without it.
  bool preallocate = true;
};

// What open() found on disk.
struct TailRepair {
  std::string segment;         // path of the repaired (last) segment
  uint64_t offset = 0;         // where it now ends: the first record that did not read
  uint64_t bytes_cut = 0;      // from there to its last non-zero byte (preallocated zeros not counted)
  std::string reason;          // why that record did not read
  raft::Index last_index = 0;  // the log's last index after the cut
};

struct RecoveredState {
  std::optional<raft::SnapshotMetadata> snapshot;  // the latest snapshot marker
  // The latest hard state (empty if none), merged with the vote record; lost_tail if a repair cut bytes
  // now or earlier and the mark was not cleared since.
  raft::HardState hard_state;
  std::vector<raft::Entry> entries;       // the log after the snapshot, contiguous
  std::optional<std::string> metadata;    // the latest metadata blob
  std::vector<std::string> repaired;      // segments whose torn tail was truncated
  std::optional<TailRepair> tail_repair;  // what this open's repair cut, if it cut anything
};

// What sync() reports: everything appended before it is on disk.
struct Durable {
  raft::Index last_index = 0;      // the log's last index (after any overwrite) as of the sync
  raft::HardState hard_state;      // the latest hard state appended before the sync
  raft::Index snapshot_index = 0;  // the latest snapshot marker appended before the sync (0 if none)
  bool operator==(const Durable&) const = default;
};

// A segment as listed in the directory.
struct SegmentName {
  uint64_t seq = 0;
  raft::Index first_index = 0;
  std::string name;  // file name without directory
};

class Wal {
 public:
  struct Opened;

  // Opens (creating if needed) the WAL in `dir`, repairing a torn tail, and returns what it holds.
  [[nodiscard]] static Expected<Opened, Status> open(FileSystem& fs, std::string dir,
                                                     WalOptions options = {});

  ~Wal();
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Buffers `entries` (contiguous, first index in (snapshot index, last_index()+1]; an index <= last
  // overwrites the tail) and then `hard_state` if given. All or nothing: nothing is buffered on error.
  [[nodiscard]] Status append(std::span<const raft::Entry> entries,
                              const raft::HardState* hard_state = nullptr);
  // Buffers a snapshot marker (index not below the previous marker's) with the rule in the header above.
  [[nodiscard]] Status save_snapshot(const raft::SnapshotMetadata& snapshot);
  // Buffers a metadata blob (e.g. cluster and member ids); the latest one wins.
  [[nodiscard]] Status set_metadata(std::string_view blob);
  // One write and one fdatasync for everything buffered since the last sync.
  [[nodiscard]] Expected<Durable, Status> sync();
  // Creates and preallocates the next segment so rollover does not wait for it. Ok if one exists.
  [[nodiscard]] Status preallocate_next();
  bool spare_ready() const { return spare_ != nullptr; }
  // Deletes the oldest segments whose entries are all <= index. `index` must not exceed the snapshot
  // index reported durable by sync(): the entries it covers must be in a durable snapshot.
  [[nodiscard]] Status release_to(raft::Index index);
  // Syncs and closes; later calls return kClosed.
  [[nodiscard]] Status close();

  raft::Index last_index() const;
  const Durable& durable() const { return durable_; }
  const std::vector<SegmentName>& segments() const { return segments_; }

 private:
  Wal(FileSystem& fs, std::string dir, WalOptions options);

  Status check_usable() const;
  void check_invariants() const;  // debug and sanitizer builds only
  Status fail(Status s);          // remembers the first I/O failure
  void buffer_record(uint8_t type, std::string_view payload);
  Status maybe_rollover(uint64_t record_bytes);
  Status rollover();
  Status flush();
  Status create_segment(uint64_t seq, raft::Index first_index);
  // Makes the vote record hold hs's term, vote and mark, if they are newer (one write and fdatasync).
  Status sync_vote_record_to(const raft::HardState& hs);
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  FileSystem& fs_;
  std::string dir_;
  WalOptions options_;
  std::vector<SegmentName> segments_;
  std::unique_ptr<File> current_;  // the last segment
  std::unique_ptr<File> spare_;    // segment.tmp, preallocated
  uint64_t written_bytes_ = 0;     // bytes of the current segment handed to the file
  uint64_t records_start_ = 0;     // offset after the current segment's header and carried state
  std::string buffer_;             // appended bytes not yet written, at offset written_bytes_
  bool dirty_ = false;             // current segment has writes not yet fdatasynced
  uint32_t chain_crc_ = 0;
  std::unique_ptr<detail::TermLog> log_;  // index/term bookkeeping to validate appends
  std::unique_ptr<VoteRecord> vote_;      // term, vote and lost-tail mark outside the segments
  raft::HardState hard_state_;
  std::optional<raft::SnapshotMetadata> snapshot_;
  std::optional<std::string> metadata_;
  Durable durable_;
  std::optional<Status> failed_;
  bool closed_ = false;
};

struct Wal::Opened {
  std::unique_ptr<Wal> wal;
  RecoveredState state;
};

// Format details shared with tests that craft damaged segments.
namespace format {
inline constexpr uint64_t kSegmentHeaderBytes = 40;
inline constexpr uint64_t kRecordHeaderBytes = 16;
inline constexpr uint64_t kSectorBytes = 512;
enum class RecordType : uint8_t {
  kEntry = 1,
  kHardState = 2,
  kSnapshot = 3,
  kMetadata = 4,
  kSnapshotReset = 5
};
std::string segment_name(uint64_t seq, raft::Index first_index);
std::optional<SegmentName> parse_segment_name(std::string_view name);
}  // namespace format

}  // namespace cairn::wal
