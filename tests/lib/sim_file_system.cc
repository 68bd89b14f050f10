#include "tests/lib/sim_file_system.h"

#include <algorithm>
#include <optional>
#include <random>

namespace cairn::wal {

const char* to_string(SimOp::Kind k) {
  switch (k) {
    case SimOp::Kind::kWrite:
      return "write";
    case SimOp::Kind::kTruncate:
      return "truncate";
    case SimOp::Kind::kAllocate:
      return "allocate";
    case SimOp::Kind::kSync:
      return "sync";
    case SimOp::Kind::kCreate:
      return "create";
    case SimOp::Kind::kRename:
      return "rename";
    case SimOp::Kind::kRemove:
      return "remove";
    case SimOp::Kind::kSyncDir:
      return "sync_dir";
  }
  return "unknown";
}

namespace {

constexpr uint64_t kSectorBytes = 512;

std::string base_name(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

class SimFile final : public File {
 public:
  // Caller holds fs->mu_.
  SimFile(SimFileSystem* fs, uint64_t inode, uint64_t generation, std::string path)
      : fs_(fs), inode_(inode), generation_(generation), path_(std::move(path)) {
    ++fs_->inodes_.at(inode_).handles;
  }
  ~SimFile() override {
    std::lock_guard lock(fs_->mu_);
    if (generation_ != fs_->generation_) return;
    auto it = fs_->inodes_.find(inode_);
    if (it != fs_->inodes_.end()) --it->second.handles;
    fs_->collect_garbage();
  }

  Status write_at(uint64_t offset, std::string_view data) override {
    std::lock_guard lock(fs_->mu_);
    SimFileSystem::Inode* ino = nullptr;
    if (Status s = get(&ino, SimOp{SimOp::Kind::kWrite, path_, offset, data.size()}); !s.is_ok()) return s;
    SimFileSystem::PendingWrite w{SimOp::Kind::kWrite, offset, std::string(data), 0};
    SimFileSystem::apply(ino->data, w);
    ino->pending.push_back(std::move(w));
    return Status::ok();
  }

  Expected<std::string, Status> read_at(uint64_t offset, uint64_t n) override {
    std::lock_guard lock(fs_->mu_);
    SimFileSystem::Inode* ino = nullptr;
    if (Status s = get(&ino, std::nullopt); !s.is_ok()) return unexpected(s);
    if (offset >= ino->data.size()) return std::string();
    return ino->data.substr(offset, n);
  }

  Status sync() override {
    std::lock_guard lock(fs_->mu_);
    SimFileSystem::Inode* ino = nullptr;
    if (Status s = get(&ino, SimOp{SimOp::Kind::kSync, path_, 0, 0}); !s.is_ok()) return s;
    ino->durable = ino->data;
    ino->pending.clear();
    ++fs_->syncs_;
    return Status::ok();
  }

  Status truncate(uint64_t size_bytes) override { return resize(SimOp::Kind::kTruncate, size_bytes); }
  Status allocate(uint64_t size_bytes) override { return resize(SimOp::Kind::kAllocate, size_bytes); }

  Expected<uint64_t, Status> size() override {
    std::lock_guard lock(fs_->mu_);
    SimFileSystem::Inode* ino = nullptr;
    if (Status s = get(&ino, std::nullopt); !s.is_ok()) return unexpected(s);
    return static_cast<uint64_t>(ino->data.size());
  }

  // Truncate and allocate both change the size and stay pending (lost on a crash) until a sync.
  Status resize(SimOp::Kind kind, uint64_t size_bytes) {
    std::lock_guard lock(fs_->mu_);
    SimFileSystem::Inode* ino = nullptr;
    if (Status s = get(&ino, SimOp{kind, path_, 0, size_bytes}); !s.is_ok()) return s;
    SimFileSystem::PendingWrite w{kind, 0, {}, size_bytes};
    SimFileSystem::apply(ino->data, w);
    ino->pending.push_back(std::move(w));
    return Status::ok();
  }

 private:
  // Caller holds fs_->mu_. `op` is set for mutations.
  Status get(SimFileSystem::Inode** out, std::optional<SimOp> op) {
    if (generation_ != fs_->generation_) return Status::io_error("stale handle after crash: " + path_);
    if (op) {
      if (Status s = fs_->before_mutation(*op); !s.is_ok()) return s;
    } else if (Status s = fs_->check_alive(); !s.is_ok()) {
      return s;
    }
    auto it = fs_->inodes_.find(inode_);
    if (it == fs_->inodes_.end()) return Status::io_error("file vanished: " + path_);
    *out = &it->second;
    return Status::ok();
  }

  SimFileSystem* fs_;
  uint64_t inode_;
  uint64_t generation_;
  std::string path_;
};

Status SimFileSystem::check_alive() const {
  if (dead_) return Status::io_error("simulated power loss");
  return Status::ok();
}

Status SimFileSystem::before_mutation(const SimOp& op) {
  ++mutations_;
  if (Status s = check_alive(); !s.is_ok()) return s;
  if (hook_ && hook_(op)) {
    dead_ = true;
    return Status::io_error(std::string("simulated power loss before ") + to_string(op.kind) + " " + op.path);
  }
  return Status::ok();
}

SimFileSystem::Inode* SimFileSystem::lookup(const std::string& path) {
  auto d = dirs_.find(parent_dir(path));
  if (d == dirs_.end()) return nullptr;
  auto n = d->second.names.find(base_name(path));
  if (n == d->second.names.end()) return nullptr;
  auto it = inodes_.find(n->second);
  return it == inodes_.end() ? nullptr : &it->second;
}

void SimFileSystem::apply(std::string& bytes, const PendingWrite& w) {
  switch (w.kind) {
    case SimOp::Kind::kWrite:
      if (bytes.size() < w.offset + w.data.size()) bytes.resize(w.offset + w.data.size(), '\0');
      std::copy(w.data.begin(), w.data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(w.offset));
      break;
    case SimOp::Kind::kTruncate:
      bytes.resize(w.size, '\0');
      break;
    case SimOp::Kind::kAllocate:
      if (bytes.size() < w.size) bytes.resize(w.size, '\0');
      break;
    default:
      break;
  }
}

void SimFileSystem::collect_garbage() {
  std::set<uint64_t> live;
  for (const auto& [path, dir] : dirs_) {
    for (const auto& [name, inode] : dir.names)
      live.insert(inode);
    for (const auto& [name, inode] : dir.durable_names)
      live.insert(inode);
    for (const auto& op : dir.pending)
      live.insert(op.inode);
  }
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    it = (live.count(it->first) || it->second.handles > 0) ? std::next(it) : inodes_.erase(it);
  }
}

void SimFileSystem::apply_dir_op(std::map<std::string, uint64_t>& names, const DirOp& op) {
  switch (op.kind) {
    case DirOp::Kind::kLink:
      names[op.name] = op.inode;
      break;
    case DirOp::Kind::kUnlink:
      names.erase(op.name);
      break;
    case DirOp::Kind::kRename:
      names.erase(op.name);
      names[op.to] = op.inode;
      break;
  }
}

Expected<std::unique_ptr<File>, Status> SimFileSystem::open_file(const std::string& path, bool create) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(); !s.is_ok()) return unexpected(s);
  auto d = dirs_.find(parent_dir(path));
  if (d == dirs_.end()) return unexpected(Status::not_found("no directory for " + path));
  std::string name = base_name(path);
  auto n = d->second.names.find(name);
  uint64_t inode = 0;
  if (n != d->second.names.end()) {
    inode = n->second;
  } else {
    if (!create) return unexpected(Status::not_found("open " + path));
    if (Status s = before_mutation(SimOp{SimOp::Kind::kCreate, path}); !s.is_ok()) return unexpected(s);
    inode = next_inode_++;
    inodes_[inode] = Inode{};
    DirOp op{DirOp::Kind::kLink, name, {}, inode};
    apply_dir_op(d->second.names, op);
    d->second.pending.push_back(std::move(op));
  }
  return std::unique_ptr<File>(std::make_unique<SimFile>(this, inode, generation_, path));
}

Expected<std::string, Status> SimFileSystem::read_file(const std::string& path) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(); !s.is_ok()) return unexpected(s);
  Inode* ino = lookup(path);
  if (ino == nullptr) return unexpected(Status::not_found("read " + path));
  return ino->data;
}

bool SimFileSystem::exists(const std::string& path) {
  std::lock_guard lock(mu_);
  return dirs_.count(path) > 0 || lookup(path) != nullptr;
}

Status SimFileSystem::create_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(); !s.is_ok()) return s;
  // Ancestors come into being too, so sync_dir works on every parent.
  for (std::string p = path;; p = parent_dir(p)) {
    dirs_.try_emplace(p);
    if (p == "/" || p == ".") break;
  }
  return Status::ok();
}

Expected<std::vector<std::string>, Status> SimFileSystem::list_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  if (Status s = check_alive(); !s.is_ok()) return unexpected(s);
  auto d = dirs_.find(path);
  if (d == dirs_.end()) return unexpected(Status::not_found("list " + path));
  std::vector<std::string> out;
  for (const auto& [name, inode] : d->second.names)
    out.push_back(name);
  return out;
}

Status SimFileSystem::rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  if (parent_dir(from) != parent_dir(to)) {
    return Status::invalid_argument("simulated rename across directories: " + from + " -> " + to);
  }
  auto d = dirs_.find(parent_dir(from));
  if (d == dirs_.end()) return Status::not_found("rename " + from);
  auto n = d->second.names.find(base_name(from));
  if (n == d->second.names.end()) return Status::not_found("rename " + from);
  if (Status s = before_mutation(SimOp{SimOp::Kind::kRename, from + " -> " + to}); !s.is_ok()) return s;
  DirOp op{DirOp::Kind::kRename, base_name(from), base_name(to), n->second};
  apply_dir_op(d->second.names, op);
  d->second.pending.push_back(std::move(op));
  return Status::ok();
}

Status SimFileSystem::remove(const std::string& path) {
  std::lock_guard lock(mu_);
  auto d = dirs_.find(parent_dir(path));
  if (d == dirs_.end() || d->second.names.count(base_name(path)) == 0)
    return Status::not_found("remove " + path);
  if (Status s = before_mutation(SimOp{SimOp::Kind::kRemove, path}); !s.is_ok()) return s;
  DirOp op{DirOp::Kind::kUnlink, base_name(path), {}, 0};
  apply_dir_op(d->second.names, op);
  d->second.pending.push_back(std::move(op));
  return Status::ok();
}

Status SimFileSystem::sync_dir(const std::string& path) {
  std::lock_guard lock(mu_);
  auto d = dirs_.find(path);
  if (d == dirs_.end()) return Status::not_found("sync_dir " + path);
  if (Status s = before_mutation(SimOp{SimOp::Kind::kSyncDir, path}); !s.is_ok()) return s;
  d->second.durable_names = d->second.names;
  d->second.pending.clear();
  collect_garbage();
  return Status::ok();
}

void SimFileSystem::set_fault_hook(FaultHook hook) {
  std::lock_guard lock(mu_);
  hook_ = std::move(hook);
}

void SimFileSystem::fail_after_mutations(uint64_t n) {
  auto remaining = std::make_shared<uint64_t>(n);
  set_fault_hook([remaining](const SimOp&) {
    if (*remaining == 0) return true;
    --*remaining;
    return false;
  });
}

bool SimFileSystem::dead() const {
  std::lock_guard lock(mu_);
  return dead_;
}

uint64_t SimFileSystem::mutation_count() const {
  std::lock_guard lock(mu_);
  return mutations_;
}

uint64_t SimFileSystem::inode_count() const {
  std::lock_guard lock(mu_);
  return inodes_.size();
}

uint64_t SimFileSystem::sync_count() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

void SimFileSystem::crash(uint64_t seed, CrashMode mode) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(seed);
  auto pick = [&rng](uint64_t n) { return n == 0 ? 0 : rng() % n; };  // [0, n)

  for (auto& [id, ino] : inodes_) {
    std::string bytes = ino.durable;
    size_t keep = 0;
    switch (mode) {
      case CrashMode::kDropUnsynced:
        keep = 0;
        break;
      case CrashMode::kKeepUnsynced:
        keep = ino.pending.size();
        break;
      case CrashMode::kRandom:
        keep = pick(ino.pending.size() + 1);
        break;
      case CrashMode::kReorder:
        keep = ino.pending.size();  // decided one by one below; nothing is left to tear
        break;
    }
    for (size_t i = 0; i < keep; ++i) {
      if (mode != CrashMode::kReorder || pick(2) == 0) apply(bytes, ino.pending[i]);
    }
    if (mode == CrashMode::kRandom && keep < ino.pending.size() &&
        ino.pending[keep].kind == SimOp::Kind::kWrite && !ino.pending[keep].data.empty() && pick(2) == 0) {
      PendingWrite torn = ino.pending[keep];
      const uint64_t len = torn.data.size();
      if (pick(2) == 0) {
        torn.data.resize(pick(len));  // a random prefix reached the disk
        apply(bytes, torn);
      } else {
        // The whole write reached the disk except one sector of its range, which reads as zeros.
        const uint64_t first = torn.offset / kSectorBytes;
        const uint64_t last = (torn.offset + len - 1) / kSectorBytes;
        const uint64_t sector = first + pick(last - first + 1);
        const uint64_t lo = std::max(torn.offset, sector * kSectorBytes);
        const uint64_t hi = std::min(torn.offset + len, (sector + 1) * kSectorBytes);
        std::fill(torn.data.begin() + static_cast<std::ptrdiff_t>(lo - torn.offset),
                  torn.data.begin() + static_cast<std::ptrdiff_t>(hi - torn.offset), '\0');
        apply(bytes, torn);
      }
    }
    ino.durable = bytes;
    ino.data = std::move(bytes);
    ino.pending.clear();
    ino.handles = 0;  // every handle is stale now
  }

  std::set<uint64_t> live;
  for (auto& [path, dir] : dirs_) {
    size_t keep = 0;
    switch (mode) {
      case CrashMode::kDropUnsynced:
        keep = 0;
        break;
      case CrashMode::kKeepUnsynced:
        keep = dir.pending.size();
        break;
      case CrashMode::kRandom:
      case CrashMode::kReorder:
        keep = pick(dir.pending.size() + 1);
        break;
    }
    for (size_t i = 0; i < keep; ++i)
      apply_dir_op(dir.durable_names, dir.pending[i]);
    dir.names = dir.durable_names;
    dir.pending.clear();
    for (const auto& [name, inode] : dir.names)
      live.insert(inode);
  }
  // Files no name reaches are gone for good.
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    it = live.count(it->first) ? std::next(it) : inodes_.erase(it);
  }
  ++generation_;
  dead_ = false;
  hook_ = nullptr;
}

}  // namespace cairn::wal
