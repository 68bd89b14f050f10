// Fuzz target: the store snapshot a member receives from its leader (server/node/snapshot_files.h).
// The input's first byte chooses the mode, the rest is a snapshot data blob: it is split with
// decode_snapshot_data and its packed directory unpacked into a scratch directory with unpack_dir, the
// code a follower runs before installing the snapshot. Mode bit 0 first replaces the packed directory's
// trailing CRC with the right one, so the parser behind the checksum (file count, names, sizes) is
// reached. A malformed blob must be refused with an error, never crash or write outside the directory;
// and node::snapshot_defect (the check a member runs before raft sees a snapshot) must refuse every blob
// whose store unpack_dir refuses.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/crc32c.h"
#include "server/node/node.h"
#include "server/node/snapshot_files.h"

namespace {

const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string t = (std::filesystem::temp_directory_path() / "cairn-fuzz-snapshot-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) std::abort();
    return t;
  }();
  return dir;
}

std::string with_crc(std::string_view packed) {
  std::string body(packed.substr(0, packed.size() >= 4 ? packed.size() - 4 : 0));
  std::uint32_t crc = cairn::base::crc32c(body);
  for (int shift = 24; shift >= 0; shift -= 8)
    body.push_back(static_cast<char>(crc >> shift));
  return body;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view blob(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view meta, packed;
  if (!cairn::server::node::decode_snapshot_data(blob, &meta, &packed)) return 0;
  std::string store = (data[0] & 1) ? with_crc(packed) : std::string(packed);
  std::string dir = scratch_dir() + "/db.incoming";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  cairn::raft::Snapshot snap;
  snap.data = cairn::server::node::encode_snapshot_data(meta, store);
  const bool accepted = !cairn::server::node::snapshot_defect(snap).has_value();
  auto unpacked = cairn::server::node::unpack_dir(store, dir);
  if (accepted && !unpacked) __builtin_trap();  // the pre-check let through what unpacking refuses
  for (const auto& e : std::filesystem::directory_iterator(scratch_dir(), ec))
    if (e.path().filename() != "db.incoming") __builtin_trap();  // nothing escapes the directory
  std::filesystem::remove_all(dir, ec);
  return 0;
}
