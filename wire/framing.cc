#include "wire/framing.h"

#include "base/crc32c.h"

#include <array>
#include <cstdio>

namespace cairn::wire {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kCancelled:
      return "CANCELLED";
    case StatusCode::kUnknown:
      return "UNKNOWN";
    case StatusCode::kInvalidArgument:
      return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded:
      return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound:
      return "NOT_FOUND";
    case StatusCode::kAlreadyExists:
      return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied:
      return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition:
      return "FAILED_PRECONDITION";
    case StatusCode::kAborted:
      return "ABORTED";
    case StatusCode::kOutOfRange:
      return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented:
      return "UNIMPLEMENTED";
    case StatusCode::kInternal:
      return "INTERNAL";
    case StatusCode::kUnavailable:
      return "UNAVAILABLE";
    case StatusCode::kDataLoss:
      return "DATA_LOSS";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

std::string percent_encode(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (unsigned char c : raw) {
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string percent_decode(std::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      int hi = hex_value(encoded[i + 1]);
      int lo = hex_value(encoded[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(encoded[i]);
  }
  return out;
}

std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  std::int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  using namespace std::chrono;
  switch (value.back()) {
    case 'H':
      return duration_cast<nanoseconds>(hours(n));
    case 'M':
      return duration_cast<nanoseconds>(minutes(n));
    case 'S':
      return duration_cast<nanoseconds>(seconds(n));
    case 'm':
      return duration_cast<nanoseconds>(milliseconds(n));
    case 'u':
      return duration_cast<nanoseconds>(microseconds(n));
    case 'n':
      return nanoseconds(n);
    default:
      return std::nullopt;
  }
}

std::string format_grpc_timeout(std::chrono::nanoseconds timeout) {
  constexpr std::int64_t kMax = 99'999'999;
  std::int64_t ns = timeout.count() < 1 ? 1 : timeout.count();
  struct Unit {
    std::int64_t ns;
    char c;
  };
  static constexpr Unit kUnits[] = {{1, 'n'},
                                    {1'000, 'u'},
                                    {1'000'000, 'm'},
                                    {1'000'000'000, 'S'},
                                    {60'000'000'000, 'M'},
                                    {3'600'000'000'000, 'H'}};
  for (const Unit& u : kUnits) {
    std::int64_t v = (ns + u.ns - 1) / u.ns;
    if (v <= kMax) return std::to_string(v) + u.c;
  }
  return std::to_string(kMax) + "H";
}

std::string frame_message(std::string_view message) {
  std::string out;
  out.reserve(kMessagePrefixBytes + message.size());
  auto n = static_cast<std::uint32_t>(message.size());
  out.push_back('\0');
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(message);
  return out;
}

MessageDeframer::Error MessageDeframer::feed(std::string_view chunk, std::deque<std::string>& out) {
  while (error_ == Error::kNone && !chunk.empty()) {
    if (!in_body_) {
      std::size_t take = std::min(kMessagePrefixBytes - have_prefix_, chunk.size());
      for (std::size_t i = 0; i < take; ++i)
        prefix_[have_prefix_ + i] = static_cast<unsigned char>(chunk[i]);
      have_prefix_ += take;
      chunk.remove_prefix(take);
      if (have_prefix_ < kMessagePrefixBytes) break;
      length_ = (std::uint32_t{prefix_[1]} << 24) | (std::uint32_t{prefix_[2]} << 16) |
                (std::uint32_t{prefix_[3]} << 8) | std::uint32_t{prefix_[4]};
      if (prefix_[0] == 1) {
        error_ = Error::kCompressed;
        break;
      }
      if (prefix_[0] != 0) {
        error_ = Error::kBadFlag;
        break;
      }
      if (length_ > message_bytes_max_) {
        error_ = Error::kTooLarge;
        break;
      }
      have_prefix_ = 0;
      in_body_ = true;
      body_.clear();
      body_.reserve(length_);
    }
    std::size_t take = std::min<std::size_t>(length_ - body_.size(), chunk.size());
    body_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
    if (body_.size() == length_) {
      out.push_back(std::move(body_));
      body_ = std::string();
      in_body_ = false;
    }
  }
  return error_;
}

Status deframer_error_status(MessageDeframer::Error error, std::uint32_t declared_length,
                             std::size_t message_bytes_max) {
  switch (error) {
    case MessageDeframer::Error::kNone:
      return Status::ok();
    case MessageDeframer::Error::kCompressed:
      return {StatusCode::kUnimplemented, "grpc: compressed messages are not supported by this server"};
    case MessageDeframer::Error::kBadFlag:
      return {StatusCode::kInternal, "grpc: received unexpected payload format"};
    case MessageDeframer::Error::kTooLarge:
      return {StatusCode::kResourceExhausted, "grpc: received message larger than max (" +
                                                  std::to_string(declared_length) + " vs. " +
                                                  std::to_string(message_bytes_max) + ")"};
  }
  return {StatusCode::kInternal, "grpc: deframing failed"};
}

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
  return base::crc32c_extend(crc, data.data(), data.size());
}

}  // namespace cairn::wire
