// Fuzz target: the store snapshot a member receives from its leader (server/node/snapshot_stream.h,
// server/node/snapshot_files.h). The input's first byte chooses the mode, the rest is a snapshot data
// blob, split with decode_snapshot_data. Mode bit 0 first replaces the packed directory's trailing CRC
// with the right one, so the parser behind the checksum (file count, names, sizes) is reached; bits 1-3
// choose the size of the pieces the packed directory is fed to a PackedDirWriter in (what a follower
// runs on a snapshot transfer as its bytes arrive). A malformed directory must be refused with an error,
// never crash or write outside the scratch directory; the streaming writer must accept exactly what
// validate_packed accepts, and what it writes must be what unpack_dir (the offline restore) writes.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>

#include "base/crc32c.h"
#include "server/node/snapshot_files.h"
#include "server/node/snapshot_stream.h"

namespace {

namespace fs = std::filesystem;

const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string t = (fs::temp_directory_path() / "cairn-fuzz-snapshot-XXXXXX").string();
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

std::map<std::string, std::string> read_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::ifstream in(e.path(), std::ios::binary);
    files[e.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

// Feeds `packed` to a writer in pieces of `piece` bytes; the files it wrote, if it accepted them.
bool stream_into(std::string_view packed, std::size_t piece, const std::string& dir,
                 std::map<std::string, std::string>* files) {
  cairn::server::node::PackedDirWriter writer(dir);
  bool ok = true;
  for (std::size_t at = 0; ok && at < packed.size(); at += piece)
    ok = writer.write(packed.substr(at, piece));
  if (!ok && writer.error().empty()) __builtin_trap();  // a refusal always says why
  if (!ok || !writer.complete()) return false;
  *files = read_files(dir);
  return true;  // the writer removes the directory when it goes out of scope
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view blob(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string_view meta, packed;
  if (!cairn::server::node::decode_snapshot_data(blob, &meta, &packed)) return 0;
  const std::string store = (data[0] & 1) ? with_crc(packed) : std::string(packed);
  static constexpr std::size_t kPieces[] = {1, 3, 7, 13, 64, 4096, 65536, SIZE_MAX};
  const std::size_t piece = kPieces[(data[0] >> 1) & 7];
  const std::string streamed = scratch_dir() + "/db.streamed", unpacked = scratch_dir() + "/db.unpacked";

  std::map<std::string, std::string> streamed_files;
  const bool accepted = stream_into(store, piece, streamed, &streamed_files);
  if (fs::exists(streamed)) __builtin_trap();  // a writer never leaves its directory behind
  const bool valid = cairn::server::node::validate_packed(store).has_value();
  if (accepted != valid) __builtin_trap();  // streaming and the whole-blob check disagree
  std::error_code ec;
  auto restored = cairn::server::node::unpack_dir(store, unpacked);
  if (restored.has_value() != valid) __builtin_trap();
  if (restored && read_files(unpacked) != streamed_files) __builtin_trap();
  for (const auto& e : fs::directory_iterator(scratch_dir(), ec))
    if (e.path().filename() != "db.unpacked") __builtin_trap();  // nothing escapes the directory
  fs::remove_all(unpacked, ec);
  return 0;
}
