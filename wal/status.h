// Errors the WAL and its file systems report as values. A Status carries a code, a human message and,
// for corruption, the file and byte offset where reading stopped, so an operator can look at the bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace cairn::wal {

enum class Code : uint8_t {
  kOk = 0,
  kIoError,          // the operating system (or the simulated one) refused an operation
  kNotFound,         // a file or directory does not exist
  kCorruption,       // the log on disk is damaged in a way recovery must not repair
  kInvalidArgument,  // the caller broke the API contract (gap in indices, record too large...)
  kClosed,           // the WAL was closed or failed earlier and accepts no more writes
};

const char* to_string(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status io_error(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status not_found(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status invalid_argument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status closed(std::string msg) { return Status(Code::kClosed, std::move(msg)); }
  // Corruption always names where it was found.
  static Status corruption(std::string file, uint64_t offset, std::string msg) {
    Status s(Code::kCorruption, std::move(msg));
    s.file_ = std::move(file);
    s.offset_ = offset;
    return s;
  }

  bool is_ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& file() const { return file_; }
  uint64_t offset() const { return offset_; }

  // "corruption: <file> at byte <offset>: <message>", or "<code>: <message>".
  std::string to_string() const;

 private:
  Status(Code c, std::string msg) : code_(c), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  std::string message_;
  std::string file_;
  uint64_t offset_ = 0;
};

}  // namespace cairn::wal
