#include "server/api/snapshot.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "proto/etcd/rpc.pb.h"
#include "server/api/services.h"
#include "server/auth/backend_format.h"
#include "server/net/completion.h"
#include "storage/etcd_backend/export.h"
#include "storage/rocksdb_engine.h"

namespace cairn::server::api {

using boost::asio::awaitable;
using storage::Unit;

namespace {

namespace fs = std::filesystem;

std::atomic<int> g_in_flight{0};
std::atomic<uint64_t> g_seq{0};

net::Status internal(const std::string& what) {
  return net::Status{net::StatusCode::kInternal, "etcdserver: snapshot: " + what};
}

// One message for the stream: a chunk of the file, the digest (last), or the error that ends it.
struct Item {
  std::string blob;
  uint64_t remaining = 0;
  bool last = false;
  std::optional<net::Status> error;
};

// The worker's chunks on their way to the stream's coroutine, at most kSnapshotQueuedChunksMax.
class ChunkQueue {
 public:
  // Worker: waits while the queue is full; false once cancelled.
  bool push(Item it) {
    std::optional<net::CompletionPromise<Item>> waiter;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return cancelled_ || items_.size() < kSnapshotQueuedChunksMax; });
      if (cancelled_) return false;
      if (!waiter_) {
        items_.push_back(std::move(it));
        return true;
      }
      waiter.swap(waiter_);
    }
    waiter->set(std::move(it));
    return true;
  }
  // Coroutine: the next item, now or when the worker pushes it.
  net::Completion<Item> pop() {
    auto pc = net::make_completion<Item>();
    std::unique_lock lk(mu_);
    if (items_.empty()) {
      waiter_.emplace(std::move(pc.first));
      return std::move(pc.second);
    }
    Item it = std::move(items_.front());
    items_.pop_front();
    lk.unlock();
    cv_.notify_all();
    pc.first.set(std::move(it));
    return std::move(pc.second);
  }
  void cancel() {
    {
      std::lock_guard lk(mu_);
      cancelled_ = true;
      waiter_.reset();
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;
  std::optional<net::CompletionPromise<Item>> waiter_;
  bool cancelled_ = false;
};

// Removes an export's checkpoint and file when it goes: also when the stream was cancelled while the
// node thread was still taking the checkpoint (its result is then dropped on the node thread).
struct ExportFiles {
  std::string checkpoint_dir;
  std::string file;
  ExportFiles() = default;
  ExportFiles(ExportFiles&& o) noexcept
      : checkpoint_dir(std::exchange(o.checkpoint_dir, {})), file(std::exchange(o.file, {})) {}
  ExportFiles& operator=(ExportFiles&& o) noexcept {
    ExportFiles old(std::move(*this));  // removes what this held
    checkpoint_dir = std::exchange(o.checkpoint_dir, {});
    file = std::exchange(o.file, {});
    return *this;
  }
  ~ExportFiles() {
    std::error_code ec;
    if (!checkpoint_dir.empty()) fs::remove_all(checkpoint_dir, ec);
    if (!file.empty()) fs::remove(file, ec);
  }
};

// What the node thread hands the worker.
struct Prepared {
  ExportFiles files;
  storage::etcd_backend::ExportInfo info;
};

// Holds one of the kSnapshotsInFlightMax slots.
class Slot {
 public:
  Slot() : ok_(g_in_flight.fetch_add(1) < kSnapshotsInFlightMax) {}
  ~Slot() { g_in_flight.fetch_sub(1); }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

// Removes what a crashed export left in `dir`, once per directory and process (the node thread of its
// member runs this before its first export, so no export of this process is using the directory).
void clean_once(const std::string& dir) {
  static std::mutex mu;
  static std::set<std::string> cleaned;
  std::lock_guard lk(mu);
  if (!cleaned.insert(dir).second) return;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// The file has etcd 3.4's bucket layout (storage/etcd_backend/layout.h), which etcd 3.4 and every
// later etcd restore: its cluster bucket and SnapshotResponse.version (3.6) name that version, not the
// one the member reports.
constexpr const char* kSnapshotLayoutVersion = "3.4.0";

Expected<Prepared, std::string> prepare(node::Node& nd) {
  const std::string dir = nd.config().data_dir + "/member/snapshot-export";
  clean_once(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return unexpected("create " + dir + ": " + ec.message());
  Prepared p;
  p.files.checkpoint_dir = dir + "/" + std::to_string(++g_seq);
  p.files.file = p.files.checkpoint_dir + ".db";
  if (auto r = nd.store().snapshot(p.files.checkpoint_dir); !r)
    return unexpected("checkpoint: " + r.error().message());
  p.info.member_id = nd.member_id();
  for (const auto& [id, m] : nd.members())
    p.info.members.push_back({id, m.name, m.peer_urls, m.client_urls, m.learner});
  p.info.cluster_version = kSnapshotLayoutVersion;
  return p;
}

// The etcd file of one opened checkpoint. The auth space comes from the same checkpoint as the keys,
// so the users and roles are those of the same moment.
Expected<Unit, std::string> export_checkpoint(storage::KvEngine& engine,
                                              storage::etcd_backend::ExportInfo& info,
                                              storage::bbolt::FileSink& sink) {
  auth::AuthStore auth_state;
  if (auto a = auth_state.load(engine); !a) return unexpected("checkpoint: " + a.error());
  info.auth = auth::export_auth(auth_state);
  auto s = storage::etcd_backend::export_store(engine, info, sink);
  if (!s) return unexpected(s.error());
  return Unit{};
}

// Writes the etcd file from the checkpoint, then drops the checkpoint.
Expected<Unit, std::string> write_file(Prepared& p, const std::atomic<bool>& cancel) {
  storage::RocksOptions ro;
  ro.write_buffer_size_bytes = 4ull << 20;
  ro.block_cache_size_bytes = 8ull << 20;
  Expected<Unit, std::string> result = Unit{};
  {
    auto engine = storage::RocksEngine::open(p.files.checkpoint_dir, ro);
    auto sink = storage::bbolt::FileSink::create(p.files.file);
    if (!engine) {
      result = unexpected("open checkpoint: " + engine.error().message());
    } else if (!sink) {
      result = unexpected(sink.error());
    } else {
      p.info.cancel = &cancel;
      result = export_checkpoint(**engine, p.info, **sink);
    }
  }
  std::error_code ec;
  fs::remove_all(p.files.checkpoint_dir, ec);
  return result;
}

// Streams the file's chunks and its SHA-256 into the queue; the file is unlinked once open.
Expected<Unit, std::string> send_file(const std::string& path, ChunkQueue& q) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unexpected("open " + path + ": " + std::strerror(errno));
  ::unlink(path.c_str());
  struct Closer {
    int fd;
    EVP_MD_CTX* sha;
    ~Closer() {
      ::close(fd);
      EVP_MD_CTX_free(sha);
    }
  } closer{fd, EVP_MD_CTX_new()};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return unexpected(std::string("stat: ") + std::strerror(errno));
  EVP_DigestInit_ex(closer.sha, EVP_sha256(), nullptr);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  for (uint64_t sent = 0; sent < size;) {
    Item it;
    it.blob.resize(std::min<uint64_t>(kSnapshotChunkBytes, size - sent));
    for (size_t got = 0; got < it.blob.size();) {
      ssize_t r = ::pread(fd, it.blob.data() + got, it.blob.size() - got, static_cast<off_t>(sent + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return unexpected(std::string("read: ") + (r == 0 ? "short file" : std::strerror(errno)));
      got += static_cast<size_t>(r);
    }
    EVP_DigestUpdate(closer.sha, it.blob.data(), it.blob.size());
    sent += it.blob.size();
    it.remaining = size - sent;  // etcd's convention: what is left after this chunk
    if (!q.push(std::move(it))) return Unit{};
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(closer.sha, digest, &len);
  Item last;
  last.blob.assign(reinterpret_cast<const char*>(digest), len);
  last.last = true;
  (void)q.push(std::move(last));
  return Unit{};
}

// The worker thread of one snapshot: it owns the export; its destructor cancels and joins it.
class SnapshotJob {
 public:
  explicit SnapshotJob(Prepared p)
      : thread_([this, p = std::move(p)]() mutable {
          auto r = write_file(p, cancel_);
          if (r) r = send_file(p.files.file, queue_);
          if (!r && !cancel_) {
            Item e;
            e.error = internal(r.error());
            (void)queue_.push(std::move(e));
          }
        }) {}
  ~SnapshotJob() {
    cancel_ = true;
    queue_.cancel();
    thread_.join();
  }
  ChunkQueue& queue() { return queue_; }

 private:
  ChunkQueue queue_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;  // last: starts once the members above exist
};

awaitable<std::optional<Expected<Prepared, std::string>>> prepare_on_node(node::Node* n) {
  using Result = Expected<Prepared, std::string>;
  auto pc = net::make_completion<Result>();
  auto promise = std::make_shared<net::CompletionPromise<Result>>(std::move(pc.first));
  if (!n->run([n, promise] { promise->set(prepare(*n)); }))
    co_return Result(unexpected(std::string("the member is too busy")));
  auto w = pc.second.wait();
  co_return co_await std::move(w);
}

}  // namespace

awaitable<net::Status> maintenance_snapshot(node::Node* n, net::ServerStream& stream) {
  auto rd = stream.read();
  (void)co_await std::move(rd);
  Slot slot;
  if (!slot.ok()) co_return to_status(node::err_too_many_requests());
  auto prep = prepare_on_node(n);
  auto prepared = co_await std::move(prep);
  if (!prepared) co_return to_status(node::err_stopped());
  if (!*prepared) co_return internal(prepared->error());
  SnapshotJob job(std::move(**prepared));
  const net::Status cancelled{net::StatusCode::kCancelled, "canceled"};
  for (;;) {
    auto next = job.queue().pop();
    auto wait = next.wait();
    std::optional<Item> it = co_await std::move(wait);
    if (!it) co_return cancelled;
    if (it->error) co_return *it->error;
    etcdserverpb::SnapshotResponse msg;
    msg.mutable_header()->set_member_id(n->member_id());
    msg.set_remaining_bytes(it->remaining);
    msg.set_blob(std::move(it->blob));
    msg.set_version(kSnapshotLayoutVersion);
    auto w = stream.write(msg.SerializeAsString());
    if (!co_await std::move(w)) co_return cancelled;
    if (it->last) co_return net::Status::ok();
  }
}

}  // namespace cairn::server::api
