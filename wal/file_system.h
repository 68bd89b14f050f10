// The narrow file-system interface the WAL (and later the server) does all its I/O through.
// Two implementations: PosixFileSystem (wal/posix_file_system.h) for production and SimFileSystem
// (tests/lib/sim_file_system.h, test support), a deterministic twin that loses unsynced data and tears writes
// on crash.
//
// Durability contract, which both implementations honour and callers must follow:
//   - File::write_at / truncate / allocate change what reads return at once, but survive a crash only
//     after File::sync (fdatasync) on that file returns ok.
//   - create (open_file with create), rename and remove change a directory; they survive a crash only
//     after sync_dir on the directory that holds the name returns ok.
//   - Paths are plain strings; a file's directory is everything before its last '/'.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/expected.h"
#include "wal/status.h"

namespace cairn::wal {

class File {
 public:
  virtual ~File() = default;
  // pwrite: all of `data` at `offset`, extending the file if needed (a gap reads as zeros).
  virtual Status write_at(uint64_t offset, std::string_view data) = 0;
  // pread: up to `n` bytes at `offset`; fewer only at end of file.
  virtual Expected<std::string, Status> read_at(uint64_t offset, uint64_t n) = 0;
  // fdatasync: makes every earlier write/truncate/allocate of this file durable.
  virtual Status sync() = 0;
  // ftruncate.
  virtual Status truncate(uint64_t size_bytes) = 0;
  // fallocate(mode 0): reserves blocks and extends the size to at least `size_bytes`; new bytes read
  // as zeros. Lets later appends and fdatasync avoid allocating blocks and updating the file size.
  virtual Status allocate(uint64_t size_bytes) = 0;
  virtual Expected<uint64_t, Status> size() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens a file for reading and writing. With `create`, a missing file is created empty (the new name
  // is durable only after sync_dir); without it, a missing file is kNotFound.
  virtual Expected<std::unique_ptr<File>, Status> open_file(const std::string& path, bool create) = 0;
  // Whole-file read, for recovery.
  virtual Expected<std::string, Status> read_file(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  // Creates one directory level; ok if it already exists.
  virtual Status create_dir(const std::string& path) = 0;
  // Names (not paths) of the entries in a directory, sorted.
  virtual Expected<std::vector<std::string>, Status> list_dir(const std::string& path) = 0;
  // Atomically replaces `to` (both in the same directory).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status remove(const std::string& path) = 0;
  // fsync on the directory: makes earlier creates, renames and removes in it durable.
  virtual Status sync_dir(const std::string& path) = 0;
};

// "a/b/c" -> "a/b"; "c" -> ".".
std::string parent_dir(const std::string& path);

}  // namespace cairn::wal
