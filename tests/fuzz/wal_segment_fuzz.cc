// Fuzz target: a WAL segment read back from disk. The input's first byte chooses the mode, the rest is
// the bytes of segment 1 (starting at index 1), written to the simulated file system and then opened
// with Wal::open as a restarting member would. Mode bit 0 recomputes the header CRC and the record CRC
// chain over the bytes before writing them, so the decoder behind the checksums (lengths, record types,
// payload decoding, index gaps, snapshot markers) is reached, not only the checksum test; bit 1 appends a
// second, empty segment so the bytes are read as an earlier segment. Open must either refuse with a
// Status or return a state a member can continue from: append and sync after it must work.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/crc32c.h"
#include "tests/lib/sim_file_system.h"
#include "wal/wal.h"

namespace {

using namespace cairn::wal;
using cairn::base::crc32c;
using cairn::base::crc32c_extend;

std::uint32_t get_u32(const std::string& s, std::size_t off) {
  std::uint32_t v = 0;
  std::memcpy(&v, s.data() + off, 4);  // little-endian host, as the format (x86-64, arm64)
  return v;
}

void put_u32(std::string& s, std::size_t off, std::uint32_t v) {
  std::memcpy(s.data() + off, &v, 4);
}

// Makes every checksum in the segment consistent with the bytes it covers (see wal.h's layout).
void fix_checksums(std::string& seg) {
  if (seg.size() < format::kSegmentHeaderBytes) return;
  std::string covered = seg.substr(0, 12) + seg.substr(16, 24);
  put_u32(seg, 12, crc32c(covered));
  std::uint32_t chain = get_u32(seg, 32);
  std::size_t off = format::kSegmentHeaderBytes;
  while (off + format::kRecordHeaderBytes <= seg.size()) {
    std::uint32_t len = get_u32(seg, off);
    if (len == 0 && seg[off + 4] == 0) break;
    if (off + format::kRecordHeaderBytes + len > seg.size()) break;
    chain = crc32c_extend(chain, seg.data() + off, 8);
    chain = crc32c_extend(chain, seg.data() + off + format::kRecordHeaderBytes, len);
    put_u32(seg, off + 8, chain);
    off += (format::kRecordHeaderBytes + len + 7) / 8 * 8;
  }
}

void write(SimFileSystem& fs, const std::string& path, const std::string& bytes) {
  auto f = fs.open_file(path, true);
  if (!f) return;
  (void)(*f)->write_at(0, bytes);
  (void)(*f)->sync();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::uint8_t mode = data[0];
  std::string seg(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode & 1) fix_checksums(seg);
  SimFileSystem fs;
  (void)fs.create_dir("/wal");
  write(fs, "/wal/" + format::segment_name(1, 1), seg);
  if (mode & 2) write(fs, "/wal/" + format::segment_name(2, 1), std::string());
  (void)fs.sync_dir("/wal");
  WalOptions opts;
  opts.segment_size_bytes_max = 64 * 1024;
  opts.record_bytes_max = 16 * 1024;
  opts.preallocate = false;
  auto opened = Wal::open(fs, "/wal", opts);
  if (!opened) return 0;
  Wal& wal = *opened->wal;
  const RecoveredState& st = opened->state;
  cairn::raft::Term term = std::max<cairn::raft::Term>(st.hard_state.term, 1);
  if (!st.entries.empty()) term = std::max(term, st.entries.back().term);
  if (st.snapshot) term = std::max(term, st.snapshot->term);
  cairn::raft::Entry e;
  e.index = wal.last_index() + 1;
  e.term = term;
  e.data = "after recovery";
  if (!wal.append({&e, 1}).is_ok()) __builtin_trap();  // a recovered log accepts its next entry
  if (!wal.sync()) __builtin_trap();
  (void)wal.close();
  return 0;
}
