#include "server/node/store_install.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "server/log/log.h"
#include "server/node/snapshot_stream.h"

namespace cairn::server::node {

namespace fs = std::filesystem;

bool is_snapshot_transfer_dir(std::string_view name) {
  if (!name.starts_with(kSnapshotTransferDirPrefix)) return false;
  name.remove_prefix(kSnapshotTransferDirPrefix.size());
  return !name.empty() && name.size() <= 20 &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

StoreDir::StoreDir(std::string member_dir)
    : member_dir_(std::move(member_dir)),
      db_dir_(member_dir_ + "/db"),
      incoming_(member_dir_ + "/db.incoming"),
      index_file_(member_dir_ + "/db.incoming.index"),
      old_(member_dir_ + "/db.old") {}

std::string StoreDir::transfer_dir(uint64_t n) const {
  return member_dir_ + "/" + std::string(kSnapshotTransferDirPrefix) + std::to_string(n);
}

std::string StoreDir::checkpoint_dir(uint64_t n) const {
  return member_dir_ + "/snap.out." + std::to_string(n);
}

Expected<bool, std::string> StoreDir::recover(const std::optional<raft::SnapshotMetadata>& wal_snapshot) {
  remove_transfers_left();
  return finish_or_undo(wal_snapshot);
}

Expected<bool, std::string> StoreDir::finish(uint64_t index) {
  raft::SnapshotMetadata m;
  m.index = index;
  return finish_or_undo(m);
}

void StoreDir::remove_transfers_left() {
  std::error_code ec;
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(member_dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (is_snapshot_transfer_dir(name) || name.starts_with("snap.out.")) left.push_back(e.path());
  }
  for (const auto& p : left)
    fs::remove_all(p, ec);
}

// db.incoming replaces db if the index file names the WAL's snapshot; otherwise it is deleted.
Expected<bool, std::string> StoreDir::finish_or_undo(
    const std::optional<raft::SnapshotMetadata>& wal_snapshot) {
  std::error_code ec;
  if (fs::exists(incoming_)) {
    uint64_t idx = 0;
    if (FILE* f = std::fopen(index_file_.c_str(), "r")) {
      unsigned long long v = 0;
      if (std::fscanf(f, "%llu", &v) == 1) idx = v;
      std::fclose(f);
    }
    if (idx != 0 && wal_snapshot && wal_snapshot->index == idx) {
      if (fs::exists(db_dir_)) {
        fs::remove_all(old_, ec);
        fs::rename(db_dir_, old_, ec);
        if (ec) return unexpected("finish snapshot install: rename " + db_dir_ + ": " + ec.message());
      }
      fs::rename(incoming_, db_dir_, ec);
      if (ec) return unexpected("finish snapshot install: rename " + incoming_ + ": " + ec.message());
      log::info("finished installing the store snapshot", {{"index", std::to_string(idx)}});
    } else {
      fs::remove_all(incoming_, ec);
    }
  }
  fs::remove(index_file_, ec);
  fs::remove_all(old_, ec);
  return true;
}

Expected<bool, std::string> StoreDir::stage(std::string_view received, uint64_t index) {
  if (!is_snapshot_transfer_dir(received))
    return unexpected("not a snapshot transfer: " + std::string(received));
  const std::string from = member_dir_ + "/" + std::string(received);
  std::error_code ec;
  fs::remove_all(incoming_, ec);
  if (auto r = sync_dir(from); !r)
    return unexpected("cannot write the snapshot from the leader: " + r.error());
  fs::rename(from, incoming_, ec);
  if (ec) return unexpected("cannot rename " + from + ": " + ec.message());
  FILE* f = std::fopen(index_file_.c_str(), "w");
  if (!f) return unexpected("cannot create " + index_file_ + ": " + std::strerror(errno));
  std::fprintf(f, "%llu\n", static_cast<unsigned long long>(index));
  const bool written = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  std::fclose(f);
  if (!written) return unexpected("cannot write " + index_file_);
  int fd = ::open(member_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!synced) return unexpected("cannot sync the directory " + member_dir_ + ": " + std::strerror(err));
  return true;
}

}  // namespace cairn::server::node
