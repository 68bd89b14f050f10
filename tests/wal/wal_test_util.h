// Helpers shared by the WAL tests: entry factories, open-or-die, and printing of recovered state.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/types.h"
#include "tests/lib/sim_file_system.h"
#include "wal/wal.h"

namespace cairn::wal::testing {

inline raft::Entry make_entry(raft::Index index, raft::Term term, size_t data_bytes = 16) {
  std::string data(data_bytes, '\0');
  for (size_t i = 0; i < data_bytes; ++i)
    data[i] = static_cast<char>('a' + (index * 7 + term * 3 + i) % 26);
  return raft::Entry{term, index, raft::EntryType::kNormal, std::move(data)};
}

inline std::vector<raft::Entry> make_entries(raft::Index first, raft::Index last, raft::Term term,
                                             size_t data_bytes = 16) {
  std::vector<raft::Entry> out;
  for (raft::Index i = first; i <= last; ++i)
    out.push_back(make_entry(i, term, data_bytes));
  return out;
}

inline WalOptions small_segments(uint64_t segment_bytes = 1024) {
  WalOptions o;
  o.segment_size_bytes_max = segment_bytes;
  o.record_bytes_max = 4096;
  o.write_buffer_bytes_max = 1 << 16;
  return o;
}

// Opens or fails the test with the error.
inline Wal::Opened open_ok(FileSystem& fs, const std::string& dir, WalOptions options = {}) {
  auto opened = Wal::open(fs, dir, options);
  if (!opened) {
    ADD_FAILURE() << "open failed: " << opened.error().to_string();
    return Wal::Opened{};
  }
  return std::move(*opened);
}

inline std::string describe(const RecoveredState& s) {
  std::string out = "snapshot=";
  out += s.snapshot ? std::to_string(s.snapshot->index) + "/" + std::to_string(s.snapshot->term) : "none";
  out += " hs=" + std::to_string(s.hard_state.term) + "/" + std::to_string(s.hard_state.vote) + "/" +
         std::to_string(s.hard_state.commit);
  out += " metadata=" + (s.metadata ? *s.metadata : std::string("none"));
  out += " entries=[";
  for (const auto& e : s.entries)
    out += raft::describe(e) + " ";
  return out + "]";
}

inline std::vector<std::string> wal_files(SimFileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  EXPECT_TRUE(names.has_value());
  return names ? *names : std::vector<std::string>{};
}

}  // namespace cairn::wal::testing
