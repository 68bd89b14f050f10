#include "server/node/snapshot_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "server/node/snapshot_files.h"

namespace cairn::server::node {

namespace {

namespace fs = std::filesystem;
constexpr std::string_view kTransferMagic = "CAIRNSN1";
constexpr std::string_view kDirMagic = "CAIRNDIR";
constexpr std::size_t kChecksumPassBytes = 1u << 20;

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

std::string snapshot_transfer_prefix(std::string_view header) {
  std::string out(kTransferMagic);
  base::append_be(out, header.size(), 4);
  out += header;
  return out;
}

// --- PackedDirSource ---

Expected<std::unique_ptr<PackedDirSource>, std::string> PackedDirSource::open(const std::string& dir,
                                                                              std::string prefix) {
  std::unique_ptr<PackedDirSource> src(new PackedDirSource());
  src->segments_.push_back(Segment{std::move(prefix)});
  if (auto r = src->add_files(dir); !r) return unexpected(r.error());
  if (auto r = src->checksum(); !r) return unexpected(r.error());
  std::error_code ec;
  fs::remove_all(dir, ec);  // the descriptors keep the files until the transfer is over
  return src;
}

PackedDirSource::~PackedDirSource() {
  for (auto& s : segments_)
    if (s.fd >= 0) ::close(s.fd);
}

Expected<bool, std::string> PackedDirSource::add_files(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) return unexpected("pack " + dir + ": " + e.path().string() + " is not a file");
    names.push_back(e.path().filename().string());
  }
  if (ec) return unexpected("pack " + dir + ": " + ec.message());
  std::sort(names.begin(), names.end());
  std::string head(kDirMagic);
  base::append_be(head, names.size(), 4);
  segments_.push_back(Segment{std::move(head)});
  for (const auto& n : names) {
    std::string path = dir + "/" + n;
    Segment file;
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file.fd < 0) return unexpected(errno_text("open " + path));
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
      ::close(file.fd);
      return unexpected(errno_text("stat " + path));
    }
    file.size = static_cast<std::uint64_t>(st.st_size);
    std::string entry;
    base::append_be(entry, n.size(), 4);
    entry += n;
    base::append_be(entry, file.size, 8);
    segments_.push_back(Segment{std::move(entry)});
    segments_.push_back(std::move(file));
  }
  return true;
}

// One pass over every byte: the packed directory's own checksum (everything after the prefix), which
// becomes its last segment, and the whole payload's.
Expected<bool, std::string> PackedDirSource::checksum() {
  std::uint32_t whole = 0, packed = 0;
  std::string buf;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    const std::uint64_t len = s.fd >= 0 ? s.size : s.bytes.size();
    for (std::uint64_t at = 0; at < len;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kChecksumPassBytes, len - at));
      buf.clear();
      if (!read_at(s, at, n, buf)) return unexpected(errno_text("read a snapshot file"));
      whole = base::crc32c_extend(whole, buf.data(), n);
      if (i > 0) packed = base::crc32c_extend(packed, buf.data(), n);
      at += n;
    }
    size_ += len;
  }
  std::string trailer;
  base::append_be(trailer, packed, 4);
  crc_ = base::crc32c_extend(whole, trailer.data(), trailer.size());
  size_ += trailer.size();
  segments_.push_back(Segment{std::move(trailer)});
  return true;
}

bool PackedDirSource::read_at(const Segment& s, std::uint64_t offset, std::size_t n, std::string& out) const {
  if (s.fd < 0) {
    out.append(s.bytes, static_cast<std::size_t>(offset), n);
    return true;
  }
  std::size_t at = out.size();
  out.resize(at + n);
  for (std::size_t done = 0; done < n;) {
    ssize_t r = ::pread(s.fd, out.data() + at + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;  // an error, or the file shrank
    done += static_cast<std::size_t>(r);
  }
  return true;
}

bool PackedDirSource::read(std::string& out, std::size_t n) {
  while (n > 0 && current_ < segments_.size()) {
    const Segment& s = segments_[current_];
    const std::uint64_t len = s.fd >= 0 ? s.size : s.bytes.size();
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, len - offset_));
    if (!read_at(s, offset_, take, out)) return false;
    offset_ += take;
    n -= take;
    if (offset_ == len) {
      ++current_;
      offset_ = 0;
    }
  }
  return n == 0;
}

// --- PackedDirWriter ---

PackedDirWriter::PackedDirWriter(std::string dir) : dir_(std::move(dir)) {}

PackedDirWriter::~PackedDirWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (own_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PackedDirWriter::release() {
  own_ = false;
  return dir_;
}

bool PackedDirWriter::fail(std::string why) {
  if (state_ != State::kFailed) error_ = "snapshot store: " + std::move(why);
  state_ = State::kFailed;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return false;
}

bool PackedDirWriter::write(std::string_view bytes) {
  while (!bytes.empty()) {
    switch (state_) {
      case State::kFailed:
        return false;
      case State::kDone:
        return fail("trailing bytes");
      case State::kFileBytes:
        if (!write_file_bytes(bytes)) return false;
        break;
      default:
        if (field_complete(bytes) && !on_field()) return false;
    }
  }
  return state_ != State::kFailed;
}

bool PackedDirWriter::field_complete(std::string_view& bytes) {
  std::size_t take = std::min(want_ - field_.size(), bytes.size());
  field_.append(bytes.substr(0, take));
  if (state_ != State::kChecksum) crc_ = base::crc32c_extend(crc_, bytes.data(), take);
  bytes.remove_prefix(take);
  return field_.size() == want_;
}

// A fixed-size field (or a name) is whole in field_.
bool PackedDirWriter::on_field() {
  std::string f = std::move(field_);
  field_.clear();
  switch (state_) {
    case State::kHeader:
      if (f.compare(0, kDirMagic.size(), kDirMagic) != 0) return fail("bad header");
      if (::mkdir(dir_.c_str(), 0755) != 0) return fail(errno_text("mkdir " + dir_));
      files_left_ = static_cast<std::uint32_t>(base::get_be(f, kDirMagic.size(), 4));
      next_file_or_checksum();
      return true;
    case State::kNameLength:
      want_ = static_cast<std::size_t>(base::get_be(f, 0, 4));
      if (want_ == 0 || want_ > NAME_MAX) return fail("bad file entry");
      state_ = State::kName;
      return true;
    case State::kName:
      if (!valid_packed_name(f)) return fail("bad file entry");
      name_ = std::move(f);
      want_ = 8;
      state_ = State::kFileSize;
      return true;
    case State::kFileSize: {
      file_left_ = base::get_be(f, 0, 8);
      std::string path = dir_ + "/" + name_;
      fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd_ < 0) return fail(errno == EEXIST ? "repeated file name" : errno_text("create " + path));
      state_ = State::kFileBytes;
      if (file_left_ == 0) next_file_or_checksum();
      return true;
    }
    case State::kChecksum:
      if (static_cast<std::uint32_t>(base::get_be(f, 0, 4)) != crc_) return fail("checksum mismatch");
      state_ = State::kDone;
      return true;
    default:
      return fail("internal: no field expected");
  }
}

bool PackedDirWriter::write_file_bytes(std::string_view& bytes) {
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(file_left_, bytes.size()));
  for (std::size_t done = 0; done < n;) {
    ssize_t w = ::write(fd_, bytes.data() + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail(errno_text("write " + dir_ + "/" + name_));
    done += static_cast<std::size_t>(w);
  }
  crc_ = base::crc32c_extend(crc_, bytes.data(), n);
  bytes.remove_prefix(n);
  file_left_ -= n;
  if (file_left_ == 0) next_file_or_checksum();
  return true;
}

void PackedDirWriter::next_file_or_checksum() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (files_left_ == 0) {
    state_ = State::kChecksum;
    want_ = 4;
    return;
  }
  --files_left_;
  state_ = State::kNameLength;
  want_ = 4;
}

Expected<bool, std::string> sync_dir(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (auto r = fsync_path(e.path().string(), O_RDONLY); !r) return r;
  if (ec) return unexpected("sync " + dir + ": " + ec.message());
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

// --- SnapshotReceiver ---

SnapshotReceiver::SnapshotReceiver(std::string dir, Done done, Failed failed)
    : writer_(std::move(dir)), done_(std::move(done)), failed_(std::move(failed)) {}

SnapshotReceiver::~SnapshotReceiver() {
  if (!settled_ && failed_) failed_(why_);
}

bool SnapshotReceiver::refuse(std::string why) {
  why_ = std::move(why);
  return false;
}

bool SnapshotReceiver::write(std::string_view bytes) {
  constexpr std::size_t kFixed = kTransferMagic.size() + 4;
  if (!header_known_) {
    std::size_t want = (prefix_.size() < kFixed ? kFixed : kFixed + header_bytes_) - prefix_.size();
    std::size_t take = std::min(want, bytes.size());
    prefix_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (prefix_.size() == kFixed && header_bytes_ == 0) {
      if (prefix_.compare(0, kTransferMagic.size(), kTransferMagic) != 0)
        return refuse("not a snapshot transfer");
      header_bytes_ = static_cast<std::size_t>(base::get_be(prefix_, kTransferMagic.size(), 4));
      if (header_bytes_ == 0 || header_bytes_ > kSnapshotHeaderBytesMax)
        return refuse("a snapshot header of " + std::to_string(header_bytes_) + " bytes");
      return write(bytes);
    }
    header_known_ = prefix_.size() == kFixed + header_bytes_;
    if (!header_known_) return true;
  }
  if (!writer_.write(bytes)) return refuse(writer_.error());
  return true;
}

void SnapshotReceiver::finish() {
  if (!header_known_ || !writer_.complete()) {
    why_ = writer_.error().empty() ? "the snapshot store is truncated" : writer_.error();
    return;  // the destructor reports it and the writer removes the directory
  }
  settled_ = true;
  if (done_) done_(prefix_.substr(kTransferMagic.size() + 4), writer_.release());
}

}  // namespace cairn::server::node
