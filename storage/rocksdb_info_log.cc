#include "storage/rocksdb_info_log.h"

#include <rocksdb/env.h>
#include <sys/time.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>

namespace cairn::storage {
namespace {

class RocksInfoLog final : public rocksdb::Logger {
 public:
  explicit RocksInfoLog(std::FILE* f) : Logger(rocksdb::InfoLogLevel::INFO_LEVEL), f_(f) {}
  ~RocksInfoLog() override {
    if (f_) std::fclose(f_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (!f_) return;
    timeval tv{};
    ::gettimeofday(&tv, nullptr);
    std::tm tm{};
    ::gmtime_r(&tv.tv_sec, &tm);
    char stamp[40];
    std::strftime(stamp, sizeof stamp, "%Y/%m/%d-%H:%M:%S", &tm);
    std::lock_guard<std::mutex> lock(mu_);
    // Every result is ignored on purpose (see the header): a line that cannot be written is dropped.
    std::fprintf(f_, "%s.%06ld ", stamp, static_cast<long>(tv.tv_usec));
    std::vfprintf(f_, format, ap);
    std::fputc('\n', f_);
    std::fflush(f_);
    std::clearerr(f_);
  }

 private:
  std::mutex mu_;
  std::FILE* f_;  // null: LOG could not be opened, lines are dropped
};

}  // namespace

std::shared_ptr<rocksdb::Logger> open_rocks_info_log(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::rename(dir + "/LOG", dir + "/LOG.old", ec);
  return std::make_shared<RocksInfoLog>(std::fopen((dir + "/LOG").c_str(), "we"));
}

}  // namespace cairn::storage
