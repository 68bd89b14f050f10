// gRPC-over-HTTP/2 wire pieces that need no sockets: status codes, the grpc-message percent-encoding,
// the grpc-timeout header, and the 5-byte length-prefixed message framing (PROTOCOL-HTTP2.md,
// "Length-Prefixed-Message"). Kept free of Asio and nghttp2 so it compiles fast and tests in isolation.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::wire {

// Request headers or trailers other than the pseudo-headers, as (lower-case name, value) pairs.
using Metadata = std::vector<std::pair<std::string, std::string>>;

// gRPC status codes (numbers are on the wire in grpc-status).
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The final outcome of an RPC, as carried by grpc-status / grpc-message.
struct [[nodiscard]] Status {
  StatusCode code = StatusCode::kOk;
  std::string message;

  static Status ok() { return {}; }
  bool is_ok() const { return code == StatusCode::kOk; }
  friend bool operator==(const Status&, const Status&) = default;
};

std::string_view status_code_name(StatusCode code);

// grpc-message value encoding: bytes outside 0x20..0x7E and '%' become %XX (upper-case hex).
std::string percent_encode(std::string_view raw);
// Inverse of percent_encode. Malformed escapes are kept literally, as grpc clients do.
std::string percent_decode(std::string_view encoded);

// grpc-timeout: 1..8 ASCII digits followed by one of H M S m u n. nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_grpc_timeout(std::string_view value);
// Smallest-unit encoding that fits in 8 digits (rounded up so the server never sees a shorter deadline).
std::string format_grpc_timeout(std::chrono::nanoseconds timeout);

// Size of the length prefix in front of every gRPC message.
inline constexpr std::size_t kMessagePrefixBytes = 5;

// Prepends the 5-byte prefix (uncompressed flag 0 + big-endian length) to `message`.
std::string frame_message(std::string_view message);

// Reassembles length-prefixed messages from DATA payload chunks whose boundaries are unrelated to message
// boundaries. Never buffers more than one message of at most `message_bytes_max` plus a prefix.
class MessageDeframer {
 public:
  enum class Error { kNone, kCompressed, kBadFlag, kTooLarge };

  explicit MessageDeframer(std::size_t message_bytes_max) : message_bytes_max_(message_bytes_max) {}

  // Consumes `chunk`; complete messages are appended to `out`. After an error nothing more is accepted
  // and the error (with the offending declared length for kTooLarge) is returned again.
  Error feed(std::string_view chunk, std::deque<std::string>& out);

  // True when a message has started but is not complete (a half-close now is a protocol error).
  bool mid_message() const { return have_prefix_ > 0 || in_body_; }
  std::uint32_t declared_length() const { return length_; }
  std::size_t message_bytes_max() const { return message_bytes_max_; }

 private:
  std::size_t message_bytes_max_;
  unsigned char prefix_[kMessagePrefixBytes] = {};
  std::size_t have_prefix_ = 0;
  bool in_body_ = false;
  std::uint32_t length_ = 0;
  std::string body_;
  Error error_ = Error::kNone;
};

// The status a gRPC server reports for a deframing error (matches grpc-go's codes and wording).
Status deframer_error_status(MessageDeframer::Error error, std::uint32_t declared_length,
                             std::size_t message_bytes_max);

// CRC-32C (Castagnoli), used by the peer transport to check frames and reassembled payloads.
// CRC-32C continued from `crc` (base/crc32c.h).
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace cairn::wire
