// Errors the MVCC store returns as values. gRPC stays out of storage/: each error carries etcd's
// exact message (clientv3 matches errors by the message string, so these must stay byte-exact) and
// the server maps the code to a gRPC status using grpc_code() below.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::storage {

// gRPC status code numbers, as etcd 3.4 uses them (rpctypes/error.go). Kept as plain numbers so
// that storage/ does not depend on gRPC headers.
enum class GrpcCode : uint8_t {
  kOk = 0,
  kNotFound = 5,
  kFailedPrecondition = 9,
  kInvalidArgument = 3,
  kResourceExhausted = 8,
  kOutOfRange = 11,
  kInternal = 13,
  kDataLoss = 15,
};

enum class Errc : uint8_t {
  kEmptyKey,          // InvalidArgument     "etcdserver: key is not provided"
  kKeyNotFound,       // InvalidArgument     "etcdserver: key not found"
  kValueProvided,     // InvalidArgument     "etcdserver: value is provided"
  kLeaseProvided,     // InvalidArgument     "etcdserver: lease is provided"
  kTooManyOps,        // InvalidArgument     "etcdserver: too many operations in txn request"
  kDuplicateKey,      // InvalidArgument     "etcdserver: duplicate key given in txn request"
  kCompacted,         // OutOfRange          "etcdserver: mvcc: required revision has been compacted"
  kFutureRev,         // OutOfRange          "etcdserver: mvcc: required revision is a future revision"
  kNoSpace,           // ResourceExhausted   "etcdserver: mvcc: database space exceeded"
  kLeaseNotFound,     // NotFound            "etcdserver: requested lease not found"
  kLeaseExist,        // FailedPrecondition  "etcdserver: lease already exists"
  kLeaseTtlTooLarge,  // OutOfRange          "etcdserver: too large lease TTL"
  kCorrupt,           // DataLoss            "etcdserver: corrupt cluster" (writes while CORRUPT is raised)
  // Not etcd errors: cairn-internal conditions. The server never forwards these verbatim.
  kAlreadyApplied,   // the entry index is at or below the applied index; nothing was done
  kIo,               // the engine failed; the store refuses further work and must be reopened
  kCorruption,       // the engine holds bytes the store cannot decode (DataLoss)
  kInvalidArgument,  // a malformed request outside etcd's table (e.g. snapshot into a non-empty dir)
};

// etcd's exact message for the etcd errors above; a short description for the internal ones.
std::string_view etcd_message(Errc code);

// The gRPC code etcd returns for this error (see the table in errors.h comments).
GrpcCode grpc_code(Errc code);

struct Error {
  Errc code;
  // Extra context for internal errors (engine status text, file name). Empty for etcd errors,
  // whose text is exactly etcd_message(code).
  std::string detail;

  std::string message() const;
  bool operator==(const Error& o) const { return code == o.code; }
};

inline Error make_error(Errc code, std::string detail = {}) {
  return Error{code, std::move(detail)};
}

// Value for Expected<Unit, Error> results that carry no data.
struct Unit {
  bool operator==(const Unit&) const = default;
};

}  // namespace cairn::storage
