#include "storage/errors.h"

namespace cairn::storage {

std::string_view etcd_message(Errc code) {
  switch (code) {
    case Errc::kEmptyKey:
      return "etcdserver: key is not provided";
    case Errc::kKeyNotFound:
      return "etcdserver: key not found";
    case Errc::kValueProvided:
      return "etcdserver: value is provided";
    case Errc::kLeaseProvided:
      return "etcdserver: lease is provided";
    case Errc::kTooManyOps:
      return "etcdserver: too many operations in txn request";
    case Errc::kDuplicateKey:
      return "etcdserver: duplicate key given in txn request";
    case Errc::kCompacted:
      return "etcdserver: mvcc: required revision has been compacted";
    case Errc::kFutureRev:
      return "etcdserver: mvcc: required revision is a future revision";
    case Errc::kNoSpace:
      return "etcdserver: mvcc: database space exceeded";
    case Errc::kLeaseNotFound:
      return "etcdserver: requested lease not found";
    case Errc::kLeaseExist:
      return "etcdserver: lease already exists";
    case Errc::kLeaseTtlTooLarge:
      return "etcdserver: too large lease TTL";
    case Errc::kCorrupt:
      return "etcdserver: corrupt cluster";
    case Errc::kAlreadyApplied:
      return "cairn: storage: entry already applied";
    case Errc::kIo:
      return "cairn: storage: engine I/O error";
    case Errc::kCorruption:
      return "cairn: storage: corrupt data";
    case Errc::kInvalidArgument:
      return "cairn: storage: invalid argument";
  }
  return "cairn: storage: unknown error";
}

GrpcCode grpc_code(Errc code) {
  switch (code) {
    case Errc::kEmptyKey:
    case Errc::kKeyNotFound:
    case Errc::kValueProvided:
    case Errc::kLeaseProvided:
    case Errc::kTooManyOps:
    case Errc::kDuplicateKey:
    case Errc::kInvalidArgument:
      return GrpcCode::kInvalidArgument;
    case Errc::kCompacted:
    case Errc::kFutureRev:
    case Errc::kLeaseTtlTooLarge:
      return GrpcCode::kOutOfRange;
    case Errc::kNoSpace:
      return GrpcCode::kResourceExhausted;
    case Errc::kLeaseNotFound:
      return GrpcCode::kNotFound;
    case Errc::kLeaseExist:
      return GrpcCode::kFailedPrecondition;
    case Errc::kCorruption:
    case Errc::kCorrupt:
      return GrpcCode::kDataLoss;
    case Errc::kAlreadyApplied:
    case Errc::kIo:
      return GrpcCode::kInternal;
  }
  return GrpcCode::kInternal;
}

std::string Error::message() const {
  std::string m(etcd_message(code));
  if (!detail.empty()) {
    m += ": ";
    m += detail;
  }
  return m;
}

}  // namespace cairn::storage
