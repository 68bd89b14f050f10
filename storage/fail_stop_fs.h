// FailStopFileSystem: the RocksDB file system cairn's store runs on. It forwards every call to the
// real file system and stops the member at the first failed write to a file RocksDB is writing.
//
// Why fail-stop. A write, flush or sync that failed leaves a file whose durable contents are unknown
// (fsync errors are not sticky on Linux: a retried fsync can succeed without the lost pages). RocksDB
// then either retries on the same file after its own error recovery (ENOSPC is treated as
// recoverable), or, in the assertion-enabled build Debian ships (7.8), stops the process from inside
// WritableFileWriter on the next use of that writer ("AssertFalseAndGetStatusForPrevError") — a crash
// minutes later, far from its cause. Stopping at the first failure with a message that names the
// operation, the file and the error is the safe answer: the raft WAL holds everything the store had
// not made durable, so the restarted member replays it, and a member that cannot write its disk must
// not keep serving from memory.
//
// What counts as a failure: a non-OK status from Append, PositionedAppend, Truncate, Flush, Sync,
// Fsync, RangeSync or Close of a writable file, and from Fsync of a directory. Not counted: failing to
// create or open a file (RocksDB reports it as a plain error, no writer is left half-written), and
// Allocate/PrepareWrite (preallocation is advisory; the write that needs the space fails instead).
//
// The handler is called once per failure, with a one-line description; the production handler logs
// it as fatal and aborts. If the handler returns (tests), the error goes back to RocksDB unchanged.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace rocksdb {
class FileSystem;
}

namespace cairn::storage {

using IoFailureHandler = std::function<void(const std::string& what)>;

// The default handler: writes "cairn: fatal: <what>" to stderr and aborts.
[[noreturn]] void abort_on_io_failure(const std::string& what);

// Wraps `base` (rocksdb::FileSystem::Default() if null). `on_failure` null means abort_on_io_failure.
std::shared_ptr<rocksdb::FileSystem> make_fail_stop_fs(std::shared_ptr<rocksdb::FileSystem> base,
                                                       IoFailureHandler on_failure);

}  // namespace cairn::storage
