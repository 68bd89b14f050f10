#include "wal/status.h"

namespace cairn::wal {

const char* to_string(Code c) {
  switch (c) {
    case Code::kOk:
      return "ok";
    case Code::kIoError:
      return "io error";
    case Code::kNotFound:
      return "not found";
    case Code::kCorruption:
      return "corruption";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kClosed:
      return "closed";
  }
  return "unknown";
}

std::string Status::to_string() const {
  std::string out = wal::to_string(code_);
  if (code_ == Code::kCorruption) {
    out += ": " + file_ + " at byte " + std::to_string(offset_);
  }
  if (!message_.empty()) out += ": " + message_;
  return out;
}

}  // namespace cairn::wal
