// A deterministic, in-memory FileSystem that models what a crash can do to unsynced state.
// The WAL tests use it now; the server and the cluster simulator reuse it later.
//
// Model:
//   - Every file (inode) keeps its current bytes (what reads return) and its durable bytes (as of its
//     last sync), plus the list of writes/truncates/allocates made since that sync, in order.
//   - Every directory keeps its current names and its durable names (as of its last sync_dir), plus the
//     creates/renames/removes made since. A file whose name never became durable is lost on crash even
//     if its data was synced. Creating a directory is durable at once (a simplification: the parent
//     directory's own entry is not modelled).
//   - crash(seed, mode) is a power loss. kDropUnsynced keeps only synced state; kKeepUnsynced keeps
//     everything (the OS happened to flush); kRandom keeps, per file and per directory, a random prefix of
//     the unsynced operations and may tear the first write it drops: keep a random byte prefix of it, or
//     apply it with one 512-byte sector of its range left as zeros. A tear never touches bytes outside the
//     torn write's range: sectors are assumed to be written atomically, so synced bytes that share a sector
//     with a later write survive (the assumption every WAL, and ours, makes). kReorder models a disk that
//     reorders writes: each unsynced file operation independently survives or not (directories still
//     keep a random prefix), so later writes may land while earlier ones leave holes of old bytes.
//   - Fault injection: a hook sees every mutating operation before it happens and may declare the machine
//     dead at that point; that operation and every later one (reads included) fail with kIoError until
//     crash() restarts the machine. Handles opened before a crash are stale afterwards.
// All randomness comes from the seed passed to crash(), so a run replays exactly. Thread-safe (one mutex).
// Files opened from it must be destroyed before it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "wal/file_system.h"

namespace cairn::wal {

struct SimOp {
  enum class Kind : uint8_t { kWrite, kTruncate, kAllocate, kSync, kCreate, kRename, kRemove, kSyncDir };
  Kind kind;
  std::string path;
  uint64_t offset = 0;  // kWrite
  uint64_t size = 0;    // kWrite: bytes written; kTruncate/kAllocate: new size
};

const char* to_string(SimOp::Kind k);

enum class CrashMode : uint8_t { kRandom, kDropUnsynced, kKeepUnsynced, kReorder };

class SimFileSystem final : public FileSystem {
 public:
  // Returns true to lose power right before `op` (the op does not happen).
  using FaultHook = std::function<bool(const SimOp& op)>;

  SimFileSystem() = default;
  SimFileSystem(const SimFileSystem&) = delete;
  SimFileSystem& operator=(const SimFileSystem&) = delete;

  Expected<std::unique_ptr<File>, Status> open_file(const std::string& path, bool create) override;
  Expected<std::string, Status> read_file(const std::string& path) override;
  bool exists(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Expected<std::vector<std::string>, Status> list_dir(const std::string& path) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status sync_dir(const std::string& path) override;

  void set_fault_hook(FaultHook hook);
  // Convenience hook: the mutation `n` operations from now (0 = the next one) loses power.
  void fail_after_mutations(uint64_t n);
  bool dead() const;
  // Mutating operations performed since construction (successful or not), to pick crash points.
  uint64_t mutation_count() const;
  uint64_t sync_count() const;   // File::sync calls that succeeded
  uint64_t inode_count() const;  // files held in memory, named or not

  // Power loss and restart; clears the fault hook.
  void crash(uint64_t seed, CrashMode mode = CrashMode::kRandom);

 private:
  friend class SimFile;
  struct PendingWrite {
    SimOp::Kind kind;  // kWrite, kTruncate or kAllocate
    uint64_t offset = 0;
    std::string data;
    uint64_t size = 0;
  };
  struct Inode {
    std::string data;
    std::string durable;
    std::vector<PendingWrite> pending;
    uint32_t handles = 0;  // open File objects of the current generation
  };
  struct DirOp {
    enum class Kind : uint8_t { kLink, kUnlink, kRename } kind;
    std::string name;
    std::string to;
    uint64_t inode = 0;
  };
  struct Dir {
    std::map<std::string, uint64_t> names;
    std::map<std::string, uint64_t> durable_names;
    std::vector<DirOp> pending;
  };

  // Runs the hook; returns an error if the machine is (now) dead. Caller holds mu_.
  Status before_mutation(const SimOp& op);
  Status check_alive() const;
  Inode* lookup(const std::string& path);
  static void apply(std::string& bytes, const PendingWrite& w);
  static void apply_dir_op(std::map<std::string, uint64_t>& names, const DirOp& op);
  // Frees inodes no name (current, durable or pending) and no open handle reaches, so long simulations
  // that create and delete many files stay small.
  void collect_garbage();

  mutable std::mutex mu_;
  std::map<std::string, Dir> dirs_;
  std::map<uint64_t, Inode> inodes_;
  uint64_t next_inode_ = 1;
  uint64_t generation_ = 0;  // bumped by crash(); handles from older generations are stale
  bool dead_ = false;
  FaultHook hook_;
  uint64_t mutations_ = 0;
  uint64_t syncs_ = 0;
};

}  // namespace cairn::wal
