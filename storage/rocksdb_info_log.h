// RocksInfoLog: RocksDB's informational log ("LOG" in the store's directory), written by cairn.
//
// RocksDB's own logger writes through a WritableFileWriter on the default file system (not through the
// FailStopFileSystem the engine gives RocksDB) and ignores its errors: after one failed write (a full
// disk) its next line reuses the failed writer, which in Debian's assertion-enabled RocksDB 7.8 aborts
// the member with "AssertFalseAndGetStatusForPrevError", a crash that names neither the cause nor the
// file. This logger writes lines with stdio and drops a line it cannot write: the informational log is
// for people reading it, never needed for durability.
//
// Format: one line per message, "<UTC time with microseconds> <message>", flushed per line. Opening
// renames the previous run's LOG to LOG.old (one generation is kept; RocksDB kept up to 1,000).
#pragma once

#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}

namespace cairn::storage {

// The logger for the store in `dir` (created if missing). If LOG cannot be opened it drops every line
// (never null: RocksDB would then open its own logger).
std::shared_ptr<rocksdb::Logger> open_rocks_info_log(const std::string& dir);

}  // namespace cairn::storage
