#include "wal/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cairn::wal {
namespace {

Status errno_status(const char* call, const std::string& path) {
  int e = errno;
  std::string msg = std::string(call) + " " + path + ": " + std::strerror(e);
  return e == ENOENT ? Status::not_found(std::move(msg)) : Status::io_error(std::move(msg));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  Status write_at(uint64_t offset, std::string_view data) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("pwrite", path_);
      }
      data.remove_prefix(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::ok();
  }

  Expected<std::string, Status> read_at(uint64_t offset, uint64_t n) override {
    std::string out(n, '\0');
    uint64_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out.data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return unexpected(errno_status("pread", path_));
      }
      if (r == 0) break;
      got += static_cast<uint64_t>(r);
    }
    out.resize(got);
    return out;
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return errno_status("fdatasync", path_);
    return Status::ok();
  }

  Status truncate(uint64_t size_bytes) override {
    if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0) return errno_status("ftruncate", path_);
    return Status::ok();
  }

  Status allocate(uint64_t size_bytes) override {
    if (::fallocate(fd_, 0, 0, static_cast<off_t>(size_bytes)) == 0) return Status::ok();
    if (errno != EOPNOTSUPP) return errno_status("fallocate", path_);
    // File systems without fallocate (tmpfs on old kernels): fall back to posix_fallocate's emulation.
    int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(size_bytes));
    if (rc != 0) {
      errno = rc;
      return errno_status("posix_fallocate", path_);
    }
    return Status::ok();
  }

  Expected<uint64_t, Status> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return unexpected(errno_status("fstat", path_));
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Expected<std::unique_ptr<File>, Status> PosixFileSystem::open_file(const std::string& path, bool create) {
  int flags = O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return unexpected(errno_status("open", path));
  return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
}

Expected<std::string, Status> PosixFileSystem::read_file(const std::string& path) {
  auto f = open_file(path, false);
  if (!f) return unexpected(f.error());
  auto size = (*f)->size();
  if (!size) return unexpected(size.error());
  return (*f)->read_at(0, *size);
}

bool PosixFileSystem::exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status PosixFileSystem::create_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return errno_status("mkdir", path);
  return Status::ok();
}

Expected<std::vector<std::string>, Status> PosixFileSystem::list_dir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return unexpected(errno_status("opendir", path));
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return errno_status("rename", from + " -> " + to);
  return Status::ok();
}

Status PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return errno_status("unlink", path);
  return Status::ok();
}

Status PosixFileSystem::sync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open dir", path);
  int rc = ::fsync(fd);
  Status s = rc == 0 ? Status::ok() : errno_status("fsync dir", path);
  ::close(fd);
  return s;
}

}  // namespace cairn::wal
