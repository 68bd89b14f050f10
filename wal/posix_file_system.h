// FileSystem over POSIX calls (open, pread, pwrite, fdatasync, ftruncate, fallocate, rename, unlink,
// fsync on a directory). Errors carry the call, the path and strerror(errno).
#pragma once

#include "wal/file_system.h"

namespace cairn::wal {

class PosixFileSystem final : public FileSystem {
 public:
  Expected<std::unique_ptr<File>, Status> open_file(const std::string& path, bool create) override;
  Expected<std::string, Status> read_file(const std::string& path) override;
  bool exists(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Expected<std::vector<std::string>, Status> list_dir(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
};

}  // namespace cairn::wal
