#include "storage/fail_stop_fs.h"

#include <rocksdb/file_system.h>

#include <cstdio>
#include <cstdlib>

namespace cairn::storage {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// Shared by a file system and every file it opened (files may outlive the file system object).
struct FailureSink {
  IoFailureHandler handler;

  IOStatus check(IOStatus s, const char* op, const std::string& file) const {
    if (!s.ok()) handler("storage " + std::string(op) + " failed on " + file + ": " + s.ToString());
    return s;
  }
};
using Sink = std::shared_ptr<const FailureSink>;

class FailStopWritableFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FailStopWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name, Sink sink)
      : FSWritableFileOwnerWrapper(std::move(file)), name_(std::move(name)), sink_(std::move(sink)) {}

  IOStatus Append(const Slice& d, const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Append(d, o, g), "append", name_);
  }
  IOStatus Append(const Slice& d, const IOOptions& o, const rocksdb::DataVerificationInfo& v,
                  IODebugContext* g) override {
    return sink_->check(target()->Append(d, o, v, g), "append", name_);
  }
  IOStatus PositionedAppend(const Slice& d, uint64_t off, const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->PositionedAppend(d, off, o, g), "positioned append", name_);
  }
  IOStatus PositionedAppend(const Slice& d, uint64_t off, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& v, IODebugContext* g) override {
    return sink_->check(target()->PositionedAppend(d, off, o, v, g), "positioned append", name_);
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Truncate(size, o, g), "truncate", name_);
  }
  IOStatus Close(const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Close(o, g), "close", name_);
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Flush(o, g), "flush", name_);
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Sync(o, g), "sync", name_);
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->Fsync(o, g), "fsync", name_);
  }
  IOStatus RangeSync(uint64_t off, uint64_t n, const IOOptions& o, IODebugContext* g) override {
    return sink_->check(target()->RangeSync(off, n, o, g), "range sync", name_);
  }

 private:
  std::string name_;
  Sink sink_;
};

class FailStopDirectory final : public rocksdb::FSDirectoryWrapper {
 public:
  FailStopDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, std::string name, Sink sink)
      : FSDirectoryWrapper(std::move(dir)), name_(std::move(name)), sink_(std::move(sink)) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* g) override {
    return sink_->check(FSDirectoryWrapper::Fsync(o, g), "directory fsync", name_);
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* g,
                               const rocksdb::DirFsyncOptions& d) override {
    return sink_->check(FSDirectoryWrapper::FsyncWithDirOptions(o, g, d), "directory fsync", name_);
  }

 private:
  std::string name_;
  Sink sink_;
};

class FailStopFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FailStopFileSystem(std::shared_ptr<rocksdb::FileSystem> base, Sink sink)
      : FileSystemWrapper(base), sink_(std::move(sink)) {}

  const char* Name() const override { return "CairnFailStopFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                           std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* g) override {
    return wrap(target()->NewWritableFile(f, fo, r, g), f, r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& fo,
                              std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* g) override {
    return wrap(target()->ReopenWritableFile(f, fo, r, g), f, r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& fo,
                             std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* g) override {
    return wrap(target()->ReuseWritableFile(f, old, fo, r, g), f, r);
  }
  IOStatus NewDirectory(const std::string& name, const IOOptions& o, std::unique_ptr<rocksdb::FSDirectory>* r,
                        IODebugContext* g) override {
    IOStatus s = target()->NewDirectory(name, o, r, g);
    if (s.ok() && *r) *r = std::make_unique<FailStopDirectory>(std::move(*r), name, sink_);
    return s;
  }

 private:
  IOStatus wrap(IOStatus s, const std::string& f, std::unique_ptr<rocksdb::FSWritableFile>* r) {
    if (s.ok() && *r) *r = std::make_unique<FailStopWritableFile>(std::move(*r), f, sink_);
    return s;
  }

  Sink sink_;
};

}  // namespace

void abort_on_io_failure(const std::string& what) {
  std::fprintf(stderr, "cairn: fatal: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::shared_ptr<rocksdb::FileSystem> make_fail_stop_fs(std::shared_ptr<rocksdb::FileSystem> base,
                                                       IoFailureHandler on_failure) {
  if (!base) base = rocksdb::FileSystem::Default();
  auto sink = std::make_shared<FailureSink>();
  sink->handler = on_failure ? std::move(on_failure) : IoFailureHandler(abort_on_io_failure);
  return std::make_shared<FailStopFileSystem>(std::move(base), std::move(sink));
}

}  // namespace cairn::storage
