// io_fault_shim: an LD_PRELOAD library that makes a real member's disk fail on command, for the fault
// harness's disk-eio / disk-nospace faults (tests/fault/fault_main.cc).
//
// Control: the environment variable CAIRN_IO_FAULT_FILE names a file the harness writes. Its first
// word selects the fault for every regular file the process writes (descriptors 0-2, the member's log,
// are exempt); the file missing or empty means no fault:
//   fsync    fsync, fdatasync and sync_file_range fail with EIO (the write-back was lost)
//   write    write, pwrite, writev and pwritev fail with EIO
//   nospace  those writes, fallocate and posix_fallocate fail with ENOSPC
// An optional second word limits the fault to files whose path (/proc/self/fd) contains it, e.g.
// "write /member/db/" breaks the store's files and leaves the raft WAL alone.
// The file is read again at most every 2 ms of CLOCK_MONOTONIC_COARSE time, so a fault begins and ends
// within a few milliseconds of the harness's change. Reads are never failed.
//
// Each intercepted call forwards to the next definition (libc, or the sanitizer's interceptor) found
// with dlsym(RTLD_NEXT); an ASan binary needs ASAN_OPTIONS=verify_asan_link_order=0 to accept it.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

enum Mode : int { kNone = 0, kFsync = 1, kWrite = 2, kNoSpace = 3 };

std::atomic<int> g_mode{kNone};
// The path filter, written only while g_mode is kNone (a fault's filter is set before it is enabled).
char g_filter[256];
std::atomic<long long> g_next_read_ms{0};

long long now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

template <typename F>
F next(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

// The control file's first word, through the real read path (open/read are not intercepted).
int read_mode() {
  const char* path = std::getenv("CAIRN_IO_FAULT_FILE");
  if (!path) return kNone;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return kNone;
  char buf[sizeof g_filter + 16] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return kNone;
  int m = kNone;
  if (std::strncmp(buf, "fsync", 5) == 0) m = kFsync;
  if (std::strncmp(buf, "write", 5) == 0) m = kWrite;
  if (std::strncmp(buf, "nospace", 7) == 0) m = kNoSpace;
  if (m != kNone && g_mode.load(std::memory_order_relaxed) == kNone) {
    const char* space = std::strchr(buf, ' ');
    std::strncpy(g_filter, space ? space + 1 : "", sizeof g_filter - 1);
    for (char* c = g_filter; *c; ++c)
      if (*c == '\n' || *c == ' ') *c = '\0';
  }
  return m;
}

int mode() {
  const long long t = now_ms();
  if (t >= g_next_read_ms.load(std::memory_order_relaxed)) {
    g_next_read_ms.store(t + 2, std::memory_order_relaxed);
    g_mode.store(read_mode(), std::memory_order_relaxed);
  }
  return g_mode.load(std::memory_order_relaxed);
}

// A regular file (not the log on descriptors 0-2) whose path matches the filter.
bool regular_file(int fd) {
  if (fd <= 2) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  if (g_filter[0] == '\0') return true;
  char link[64], path[4096];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  return std::strstr(path, g_filter) != nullptr;
}

// errno to fail a write with, or 0 to let it through.
int write_fault(int fd) {
  const int m = mode();
  if (m != kWrite && m != kNoSpace) return 0;
  if (!regular_file(fd)) return 0;
  return m == kWrite ? EIO : ENOSPC;
}

bool sync_fault(int fd) {
  return mode() == kFsync && regular_file(fd);
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = next<ssize_t (*)(int, const void*, size_t)>("write");
  if (const int e = write_fault(fd)) return errno = e, -1;
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  if (const int e = write_fault(fd)) return errno = e, -1;
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t off) {
  static auto real = next<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  if (const int e = write_fault(fd)) return errno = e, -1;
  return real(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  static auto real = next<ssize_t (*)(int, const struct iovec*, int)>("writev");
  if (const int e = write_fault(fd)) return errno = e, -1;
  return real(fd, iov, cnt);
}

ssize_t pwritev(int fd, const struct iovec* iov, int cnt, off_t off) {
  static auto real = next<ssize_t (*)(int, const struct iovec*, int, off_t)>("pwritev");
  if (const int e = write_fault(fd)) return errno = e, -1;
  return real(fd, iov, cnt, off);
}

int fallocate(int fd, int flags, off_t off, off_t len) {
  static auto real = next<int (*)(int, int, off_t, off_t)>("fallocate");
  if (mode() == kNoSpace && regular_file(fd)) return errno = ENOSPC, -1;
  return real(fd, flags, off, len);
}

int posix_fallocate(int fd, off_t off, off_t len) {
  static auto real = next<int (*)(int, off_t, off_t)>("posix_fallocate");
  if (mode() == kNoSpace && regular_file(fd)) return ENOSPC;  // returns the error, errno untouched
  return real(fd, off, len);
}

int fsync(int fd) {
  static auto real = next<int (*)(int)>("fsync");
  if (sync_fault(fd)) return errno = EIO, -1;
  return real(fd);
}

int fdatasync(int fd) {
  static auto real = next<int (*)(int)>("fdatasync");
  if (sync_fault(fd)) return errno = EIO, -1;
  return real(fd);
}

int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  static auto real = next<int (*)(int, off64_t, off64_t, unsigned int)>("sync_file_range");
  // RocksDB probes support with an empty range when it opens a file (and asserts the probe works).
  const bool probe = off == 0 && n == 0 && flags == 0;
  if (!probe && sync_fault(fd)) return errno = EIO, -1;
  return real(fd, off, n, flags);
}

}  // extern "C"
