// Store snapshots between members in bounded memory, for any store size (the in-memory forms of the
// same bytes, for the offline restore and tests: snapshot_files.h).
//
// Snapshot transfer: the large payload a leader sends a follower (PeerTransport::send_large), integers
// big-endian:
//   "CAIRNSN1" | u32 header length | header | packed directory (snapshot_files.h's format)
// header = the MsgSnap, proto-encoded (proto/raft_codec.h), whose snapshot data holds the membership
// only: encode_snapshot_data(metadata, ""). At most kSnapshotHeaderBytesMax.
//
// Sending: PackedDirSource opens every file of a store checkpoint, reads them once to compute the
// checksums, then removes the checkpoint's directory (its open descriptors keep the files), so no
// outcome of the transfer leaves files behind. The transport then reads one chunk at a time: memory is
// one chunk, whatever the store's size.
// Receiving: SnapshotReceiver keeps the header and hands the packed directory to a PackedDirWriter,
// which creates each file as its bytes arrive (page-cache writes, no fsync). A transfer that fails or is
// malformed removes its directory. The node then gives raft the MsgSnap with data =
// encode_snapshot_data(metadata, the directory's name); installing it syncs (sync_dir) and renames the
// directory (node.cc prepare_snapshot_install).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "server/net/peer_transport.h"

namespace cairn::server::node {

inline constexpr std::size_t kSnapshotHeaderBytesMax = 16u << 20;

// "CAIRNSN1" | u32 length | header: what goes before the packed directory in a transfer.
std::string snapshot_transfer_prefix(std::string_view header);

// The packed form of a directory's regular files, read a chunk at a time (see the file comment).
class PackedDirSource final : public net::LargeSource {
 public:
  // `prefix` is sent before the packed bytes. On success `dir` is gone (its files stay open here).
  static Expected<std::unique_ptr<PackedDirSource>, std::string> open(const std::string& dir,
                                                                      std::string prefix);
  ~PackedDirSource() override;
  PackedDirSource(const PackedDirSource&) = delete;
  PackedDirSource& operator=(const PackedDirSource&) = delete;

  std::uint64_t size() const override { return size_; }
  std::uint32_t crc32c() const override { return crc_; }
  bool read(std::string& out, std::size_t n) override;

 private:
  // A run of the payload: literal bytes, or a file's contents (fd >= 0).
  struct Segment {
    std::string bytes;
    int fd = -1;
    std::uint64_t size = 0;
  };
  PackedDirSource() = default;
  Expected<bool, std::string> add_files(const std::string& dir);
  Expected<bool, std::string> checksum();
  bool read_at(const Segment& s, std::uint64_t offset, std::size_t n, std::string& out) const;

  std::vector<Segment> segments_;
  std::size_t current_ = 0;   // segment being read
  std::uint64_t offset_ = 0;  // within it
  std::uint64_t size_ = 0;
  std::uint32_t crc_ = 0;
};

// Writes a packed directory into `dir` from pieces of any size (see the file comment). The directory
// is removed at destruction unless release() was called.
class PackedDirWriter {
 public:
  explicit PackedDirWriter(std::string dir);
  ~PackedDirWriter();
  PackedDirWriter(const PackedDirWriter&) = delete;
  PackedDirWriter& operator=(const PackedDirWriter&) = delete;

  // False once the bytes are malformed or a write failed (error() says which); later calls fail too.
  bool write(std::string_view bytes);
  // Every file and the trailing checksum arrived, and the checksum matched.
  bool complete() const { return state_ == State::kDone; }
  const std::string& error() const { return error_; }
  // The directory is the caller's now.
  std::string release();

 private:
  enum class State { kHeader, kNameLength, kName, kFileSize, kFileBytes, kChecksum, kDone, kFailed };
  bool fail(std::string why);
  bool field_complete(std::string_view& bytes);  // moves bytes into field_ until it holds want_
  bool on_field();
  bool write_file_bytes(std::string_view& bytes);
  void next_file_or_checksum();

  std::string dir_;
  bool own_ = true;
  State state_ = State::kHeader;
  std::string field_;
  std::size_t want_ = 12;  // "CAIRNDIR" + u32 count
  std::uint32_t files_left_ = 0;
  std::uint64_t file_left_ = 0;
  std::string name_;
  int fd_ = -1;
  std::uint32_t crc_ = 0;  // of everything before the trailing checksum
  std::string error_;
};

// fsyncs every file of `dir`, then `dir` itself.
Expected<bool, std::string> sync_dir(const std::string& dir);

// A LargeSink for one snapshot transfer into `dir` (see the file comment). On a complete transfer,
// `done(header, dir)` runs and the directory is its; otherwise `failed(reason)` runs (exactly one of
// the two, on the transport's strand) and the directory is removed.
class SnapshotReceiver final : public net::LargeSink {
 public:
  using Done = std::function<void(std::string header, std::string dir)>;
  using Failed = std::function<void(const std::string& reason)>;
  SnapshotReceiver(std::string dir, Done done, Failed failed);
  ~SnapshotReceiver() override;

  bool write(std::string_view bytes) override;
  void finish() override;

 private:
  bool refuse(std::string why);

  PackedDirWriter writer_;
  Done done_;
  Failed failed_;
  std::string prefix_;  // magic + length, then the header
  std::size_t header_bytes_ = 0;
  bool header_known_ = false;
  bool settled_ = false;
  std::string why_ = "the transfer ended before its last byte";
};

}  // namespace cairn::server::node
