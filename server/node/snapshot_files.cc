#include "server/node/snapshot_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "base/crc32c.h"

namespace cairn::server::node {

namespace {

constexpr std::string_view kMagic = "CAIRNDIR";

void put_u32(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct Reader {
  std::string_view in;
  size_t pos = 0;
  bool get(size_t n, std::string_view* out) {
    if (in.size() - pos < n) return false;
    *out = in.substr(pos, n);
    pos += n;
    return true;
  }
  bool u32(uint32_t* v) {
    std::string_view b;
    if (!get(4, &b)) return false;
    *v = 0;
    for (char c : b)
      *v = (*v << 8) | static_cast<uint8_t>(c);
    return true;
  }
  bool u64(uint64_t* v) {
    std::string_view b;
    if (!get(8, &b)) return false;
    *v = 0;
    for (char c : b)
      *v = (*v << 8) | static_cast<uint8_t>(c);
    return true;
  }
};

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Expected<bool, std::string> fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return unexpected(errno_text("open " + path));
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    return unexpected(errno_text("fsync " + path));
  }
  return true;
}

}  // namespace

Expected<std::string, std::string> pack_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) return unexpected("pack " + dir + ": " + e.path().string() + " is not a file");
    names.push_back(e.path().filename().string());
  }
  if (ec) return unexpected("pack " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  std::string out(kMagic);
  put_u32(out, static_cast<uint32_t>(names.size()));
  for (const auto& n : names) {
    std::string path = dir + "/" + n;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return unexpected(errno_text("open " + path));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return unexpected(errno_text("stat " + path));
    }
    put_u32(out, static_cast<uint32_t>(n.size()));
    out += n;
    put_u64(out, static_cast<uint64_t>(st.st_size));
    size_t at = out.size();
    out.resize(at + static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < static_cast<size_t>(st.st_size)) {
      ssize_t r = ::read(fd, out.data() + at + done, static_cast<size_t>(st.st_size) - done);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        ::close(fd);
        return unexpected(r == 0 ? "read " + path + ": file shrank" : errno_text("read " + path));
      }
      done += static_cast<size_t>(r);
    }
    ::close(fd);
  }
  put_u32(out, base::crc32c_extend(0, out.data(), out.size()));
  return out;
}

namespace {

// The body of a packed directory (without its checksum) after the checksum and header were checked.
Expected<Reader, std::string> open_packed(std::string_view packed, uint32_t* count) {
  if (packed.size() < kMagic.size() + 8) return unexpected(std::string("snapshot store: truncated"));
  uint32_t want = 0;
  for (char c : packed.substr(packed.size() - 4))
    want = (want << 8) | static_cast<uint8_t>(c);
  std::string_view body = packed.substr(0, packed.size() - 4);
  if (base::crc32c_extend(0, body.data(), body.size()) != want)
    return unexpected(std::string("snapshot store: checksum mismatch"));
  Reader r{body};
  std::string_view magic;
  if (!r.get(kMagic.size(), &magic) || magic != kMagic || !r.u32(count))
    return unexpected(std::string("snapshot store: bad header"));
  return r;
}

bool next_file(Reader& r, std::string_view* name, std::string_view* bytes) {
  uint32_t nlen = 0;
  uint64_t size = 0;
  return r.u32(&nlen) && r.get(nlen, name) && valid_packed_name(*name) && r.u64(&size) && r.get(size, bytes);
}

}  // namespace

bool valid_packed_name(std::string_view n) {
  return !n.empty() && n.size() <= NAME_MAX && n != "." && n != ".." &&
         n.find('/') == std::string_view::npos && n.find('\0') == std::string_view::npos;
}

Expected<bool, std::string> validate_packed(std::string_view packed) {
  uint32_t count = 0;
  auto r = open_packed(packed, &count);
  if (!r) return unexpected(r.error());
  std::set<std::string_view> names;  // a repeated name would make unpacking fail half-way
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view name, bytes;
    if (!next_file(*r, &name, &bytes)) return unexpected(std::string("snapshot store: bad file entry"));
    if (!names.insert(name).second) return unexpected(std::string("snapshot store: repeated file name"));
  }
  if (r->pos != r->in.size()) return unexpected(std::string("snapshot store: trailing bytes"));
  return true;
}

Expected<bool, std::string> unpack_dir(std::string_view packed, const std::string& dir) {
  if (auto v = validate_packed(packed); !v) return v;  // nothing is written for a bad archive
  uint32_t count = 0;
  auto r = open_packed(packed, &count);
  if (!r) return unexpected(r.error());
  if (::mkdir(dir.c_str(), 0755) != 0) return unexpected(errno_text("mkdir " + dir));
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view name, bytes;
    if (!next_file(*r, &name, &bytes)) return unexpected(std::string("snapshot store: bad file entry"));
    std::string path = dir + "/" + std::string(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return unexpected(errno_text("create " + path));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        ::close(fd);
        return unexpected(errno_text("write " + path));
      }
      done += static_cast<size_t>(w);
    }
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return unexpected(errno_text("fsync " + path));
  }
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

std::string encode_snapshot_data(std::string_view metadata, std::string_view packed_store) {
  std::string out;
  out.reserve(4 + metadata.size() + packed_store.size());
  put_u32(out, static_cast<uint32_t>(metadata.size()));
  out += metadata;
  out += packed_store;
  return out;
}

bool decode_snapshot_data(std::string_view data, std::string_view* metadata, std::string_view* packed_store) {
  Reader r{data};
  uint32_t n = 0;
  if (!r.u32(&n) || !r.get(n, metadata)) return false;
  *packed_store = data.substr(r.pos);
  return true;
}

}  // namespace cairn::server::node
