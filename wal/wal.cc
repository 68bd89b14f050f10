#include "wal/wal.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/assert.h"
#include "base/bytes.h"
#include "base/crc32c.h"
#include "proto/raft_codec.h"
#include "wal/vote_record.h"

namespace cairn::wal {

using format::kRecordHeaderBytes;
using format::kSectorBytes;
using format::kSegmentHeaderBytes;
using format::RecordType;
using raft::Index;
using raft::Term;

namespace {

constexpr char kMagic[8] = {'C', 'A', 'I', 'R', 'N', 'W', 'A', 'L'};
constexpr uint32_t kVersion = 1;
constexpr const char* kSpareName = "segment.tmp";
constexpr const char* kSegmentSuffix = ".wal";

uint64_t pad8(uint64_t n) {
  return (n + 7) & ~uint64_t{7};
}

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
}

std::string encode_segment_header(uint64_t seq, Index first_index, uint32_t prev_crc) {
  std::string h;
  h.append(kMagic, 8);
  base::append32(h, kVersion);
  base::append32(h, 0);  // header_crc, filled below
  base::append64(h, seq);
  base::append64(h, first_index);
  base::append32(h, prev_crc);
  base::append32(h, 0);
  uint32_t crc = base::crc32c_extend(0, h.data(), 12);
  crc = base::crc32c_extend(crc, h.data() + 16, kSegmentHeaderBytes - 16);
  std::memcpy(h.data() + 12, &crc, 4);
  CAIRN_ASSERT(h.size() == kSegmentHeaderBytes);
  return h;
}

bool valid_type(uint8_t t) {
  return t >= 1 && t <= 5;
}

}  // namespace

namespace format {

std::string segment_name(uint64_t seq, Index first_index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016llx-%016llx%s", static_cast<unsigned long long>(seq),
                static_cast<unsigned long long>(first_index), kSegmentSuffix);
  return buf;
}

std::optional<SegmentName> parse_segment_name(std::string_view name) {
  if (name.size() != 16 + 1 + 16 + 4 || name[16] != '-' || name.substr(33) != kSegmentSuffix)
    return std::nullopt;
  auto hex = [](std::string_view s) -> std::optional<uint64_t> {
    uint64_t v = 0;
    for (char c : s) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    return v;
  };
  auto seq = hex(name.substr(0, 16));
  auto first = hex(name.substr(17, 16));
  if (!seq || !first) return std::nullopt;
  return SegmentName{*seq, *first, std::string(name)};
}

}  // namespace format

namespace detail {

// Index/term bookkeeping shared by the writer (to refuse appends that recovery could not replay) and
// recovery: the snapshot point, the last index, and the terms of the entries after the snapshot as runs
// of equal term (terms change rarely, so this stays small however long the log).
class TermLog {
 public:
  enum class Check : uint8_t { kOk, kBelowSnapshot, kGap };

  Index snapshot_index() const { return snapshot_index_; }
  Index last() const { return last_; }

  Check check_entry(Index i) const {
    if (i <= snapshot_index_) return Check::kBelowSnapshot;
    if (i > last_ + 1) return Check::kGap;
    return Check::kOk;
  }

  // Precondition: check_entry(i) == kOk. Drops every entry >= i first.
  void append(Index i, Term t) {
    CAIRN_ASSERT(check_entry(i) == Check::kOk);
    while (!runs_.empty() && runs_.back().first >= i)
      runs_.pop_back();
    if (runs_.empty() || runs_.back().second != t) runs_.emplace_back(i, t);
    last_ = i;
  }

  std::optional<Term> term_at(Index i) const {
    if (i == snapshot_index_) return snapshot_term_;
    if (i < snapshot_index_ || i > last_) return std::nullopt;
    auto it = std::upper_bound(runs_.begin(), runs_.end(), i,
                               [](Index v, const std::pair<Index, Term>& r) { return v < r.first; });
    CAIRN_ASSERT(it != runs_.begin());
    return std::prev(it)->second;
  }

  // Precondition: i > snapshot_index(). Returns whether the entries after i were kept (Raft fig. 13:
  // keep them iff the log holds (i, t); otherwise discard the whole log).
  bool apply_snapshot(Index i, Term t) {
    CAIRN_ASSERT(i > snapshot_index_);
    const bool keep = term_at(i) == t;
    if (keep && i < last_) {
      const Term next_term = *term_at(i + 1);
      std::vector<std::pair<Index, Term>> runs{{i + 1, next_term}};
      for (const auto& r : runs_) {
        if (r.first > i + 1) runs.push_back(r);
      }
      runs_ = std::move(runs);
    } else {
      runs_.clear();
      last_ = i;
    }
    snapshot_index_ = i;
    snapshot_term_ = t;
    return keep;
  }

 private:
  Index snapshot_index_ = 0;
  Term snapshot_term_ = 0;
  Index last_ = 0;
  std::vector<std::pair<Index, Term>> runs_;  // (first index, term), ascending
};

}  // namespace detail

using detail::TermLog;

namespace {

// Replays records into a RecoveredState, applying the rules documented in wal.h. Entries at or below
// `floor_` are unknown (deleted by release_to, or not yet seen); known entries are floor_+1..last().
class Replayer {
 public:
  Replayer(RecoveredState& out, Index floor) : out_(out), floor_(floor) {}

  Index last() const { return floor_ + out_.entries.size(); }
  Index floor() const { return floor_; }
  Index snapshot_index() const { return out_.snapshot ? out_.snapshot->index : 0; }

  // Returns an error message, empty if the record was applied.
  std::string entry(raft::Entry e) {
    if (e.index <= snapshot_index()) return "";
    if (e.index > last() + 1) {
      return "entry index " + std::to_string(e.index) + " does not follow last index " +
             std::to_string(last()) + " (missing segment or gap)";
    }
    if (e.index <= floor_) {
      out_.entries.clear();  // overwrites unknown entries: everything after them goes too
      floor_ = e.index - 1;
    }
    out_.entries.resize(e.index - floor_ - 1);
    out_.entries.push_back(std::move(e));
    return "";
  }

  void snapshot(const raft::SnapshotMetadata& m, bool keep_log) {
    if (m.index <= snapshot_index()) return;
    if (!keep_log || m.index >= last()) {
      out_.entries.clear();
      floor_ = m.index;
    } else if (m.index > floor_) {
      out_.entries.erase(out_.entries.begin(),
                         out_.entries.begin() + static_cast<std::ptrdiff_t>(m.index - floor_));
      floor_ = m.index;
    }
    out_.snapshot = m;
  }

 private:
  RecoveredState& out_;
  Index floor_;
};

struct ScanResult {
  uint64_t valid_end = 0;  // offset after the last good record
  uint32_t chain_crc = 0;
  bool torn = false;   // bytes after valid_end must be cut (last segment only)
  std::string reason;  // why the record at valid_end did not read (when torn)
};

// Length of `data` without its trailing zeros (preallocated space).
uint64_t nonzero_length(std::string_view data) {
  uint64_t n = data.size();
  while (n > 0 && data[n - 1] == 0)
    --n;
  return n;
}

// The vote record's term and vote win over the log's last surviving hard state when newer: a lost tail
// may have taken the hard state records of a later term or vote with it. The mark is kept by either.
raft::HardState merge_vote_record(raft::HardState hs, const VoteRecord::Value& v) {
  if (v.term > hs.term) {
    hs.term = v.term;
    hs.vote = v.vote;
  } else if (v.term == hs.term && hs.vote == raft::kNone) {
    hs.vote = v.vote;
  }
  hs.lost_tail = hs.lost_tail || v.lost_tail;
  return hs;
}

// The segments in dir, by sequence number; a spare (or a rollover that crashed before its rename was
// durable: it holds nothing acknowledged) is removed.
Expected<std::vector<SegmentName>, Status> list_segments(FileSystem& fs, const std::string& dir) {
  auto names = fs.list_dir(dir);
  if (!names) return unexpected(names.error());
  std::vector<SegmentName> found;
  for (const auto& n : *names) {
    if (n == kSpareName) {
      if (Status s = fs.remove(dir + "/" + n); !s.is_ok()) return unexpected(s);
    } else if (auto sn = format::parse_segment_name(n)) {
      found.push_back(*sn);
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  return found;
}

// Cuts the last segment (`file`, read as `data`) at scan.valid_end. Keeps the original (without its
// preallocated zeros) for forensics and sets the lost-tail mark, both durably, before cutting: a crash in
// between leaves either the original (repaired again) or the cut segment with the mark set.
Status repair_torn_tail(FileSystem& fs, const std::string& dir, const std::string& p, std::string_view data,
                        const ScanResult& scan, File& file, VoteRecord& vote, RecoveredState& state) {
  auto copy = fs.open_file(p + ".broken", true);
  if (!copy) return copy.error();
  File& c = **copy;
  const uint64_t used = nonzero_length(data);
  Status s = c.truncate(0);
  if (s.is_ok()) s = c.write_at(0, data.substr(0, used));
  if (s.is_ok()) s = c.sync();
  if (s.is_ok()) s = fs.sync_dir(dir);
  if (s.is_ok()) {
    const raft::HardState hs = merge_vote_record(state.hard_state, vote.value());
    s = vote.write(VoteRecord::Value{hs.term, hs.vote, true});
  }
  if (s.is_ok()) s = file.truncate(scan.valid_end);
  if (!s.is_ok()) return s;
  state.repaired.push_back(p);
  state.tail_repair =
      TailRepair{p, scan.valid_end, used > scan.valid_end ? used - scan.valid_end : 0, scan.reason, 0};
  return Status::ok();
}

// The last segment before appends go on: its preallocated zeros back (a repair cut them too; a member on
// a full disk keeps writing into them), and durable (what was read may still sit only in the page cache
// when the previous process died before its fdatasync).
Status ready_for_appends(File& file, const WalOptions& options) {
  if (options.preallocate) {
    auto size = file.size();
    if (!size) return size.error();
    if (*size < options.segment_size_bytes_max) {
      if (Status s = file.allocate(options.segment_size_bytes_max); !s.is_ok()) return s;
    }
  }
  return file.sync();
}

// Reads one segment, applying its records. `prev_crc` is the chain value the header must carry (absent
// for the first segment present). Torn tails are accepted only when `is_last`.
Expected<ScanResult, Status> scan_segment(const std::string& path, std::string_view data,
                                          const SegmentName& sn, std::optional<uint32_t> prev_crc,
                                          bool is_last, uint64_t record_bytes_max, Replayer& replay,
                                          RecoveredState& state) {
  if (data.size() < kSegmentHeaderBytes) {
    return unexpected(Status::corruption(path, 0, "segment shorter than its header"));
  }
  if (std::memcmp(data.data(), kMagic, 8) != 0) return unexpected(Status::corruption(path, 0, "bad magic"));
  if (base::get32(data.data() + 8) != kVersion)
    return unexpected(Status::corruption(path, 8, "unknown version"));
  uint32_t hcrc = base::crc32c_extend(0, data.data(), 12);
  hcrc = base::crc32c_extend(hcrc, data.data() + 16, kSegmentHeaderBytes - 16);
  if (hcrc != base::get32(data.data() + 12))
    return unexpected(Status::corruption(path, 12, "header crc mismatch"));
  if (base::get64(data.data() + 16) != sn.seq || base::get64(data.data() + 24) != sn.first_index) {
    return unexpected(Status::corruption(path, 16, "header seq/first_index differ from the file name"));
  }
  const uint32_t header_prev = base::get32(data.data() + 32);
  if (prev_crc && *prev_crc != header_prev) {
    return unexpected(
        Status::corruption(path, 32, "prev_crc does not continue the previous segment's chain"));
  }

  ScanResult r;
  r.chain_crc = header_prev;
  uint64_t off = kSegmentHeaderBytes;
  const uint64_t size = data.size();
  while (true) {
    if (off == size || all_zero(data.substr(off))) break;  // end of records (preallocated zeros, if any)
    // The record at `off` is bad. Decide whether it is a torn unsynced write or corruption.
    std::string reason;
    uint64_t end = off + kRecordHeaderBytes;      // extent of the bad record as far as it can be known
    uint64_t covered = off + kRecordHeaderBytes;  // bytes the crc covers, for the torn-sector check
    const uint64_t word = size - off >= 8 ? base::get64(data.data() + off) : 1;
    if (size - off < kRecordHeaderBytes) {
      reason = "record header runs past end of file";
    } else if (word == 0) {
      reason = "zero record header followed by non-zero bytes";
    } else {
      const char* h = data.data() + off;
      const uint32_t len = base::get32(h);
      const uint8_t type = static_cast<uint8_t>(h[4]);
      if (!valid_type(type) || h[5] != 0 || h[6] != 0 || h[7] != 0 || base::get32(h + 12) != 0 ||
          len > record_bytes_max) {
        reason = "bad record header";
      } else {
        end = off + kRecordHeaderBytes + pad8(len);
        covered = off + kRecordHeaderBytes + len;
        if (end > size) {
          reason = "record runs past end of file";
        } else {
          uint32_t crc = base::crc32c_extend(r.chain_crc, h, 8);
          crc = base::crc32c_extend(crc, h + kRecordHeaderBytes, len);
          if (crc != base::get32(h + 8)) {
            reason = "crc mismatch";
          } else {
            // A good record: its payload must decode, or the writer was broken; never repaired.
            std::string_view payload = data.substr(off + kRecordHeaderBytes, len);
            std::string err;
            switch (static_cast<RecordType>(type)) {
              case RecordType::kEntry: {
                auto e = proto::decode_entry(payload);
                if (!e) {
                  err = "undecodable entry";
                } else {
                  err = replay.entry(std::move(*e));
                }
                break;
              }
              case RecordType::kHardState: {
                auto hs = proto::decode_hard_state(payload);
                if (!hs)
                  err = "undecodable hard state";
                else
                  state.hard_state = *hs;
                break;
              }
              case RecordType::kSnapshot:
              case RecordType::kSnapshotReset: {
                auto m = proto::decode_snapshot_metadata(payload);
                if (!m)
                  err = "undecodable snapshot marker";
                else
                  replay.snapshot(*m, static_cast<RecordType>(type) == RecordType::kSnapshot);
                break;
              }
              case RecordType::kMetadata:
                state.metadata = std::string(payload);
                break;
            }
            if (!err.empty()) return unexpected(Status::corruption(path, off, err));
            r.chain_crc = crc;
            off = end;
            continue;
          }
        }
      }
    }
    if (!is_last)
      return unexpected(Status::corruption(path, off, reason + " in a segment that is not the last"));
    bool torn = end > size || word == 0;
    // A zeroed sector: some piece of the record between 512-byte boundaries reads as all zeros.
    for (uint64_t lo = off; !torn && lo < std::min(covered, size);) {
      const uint64_t hi = std::min({covered, size, (lo / kSectorBytes + 1) * kSectorBytes});
      torn = all_zero(data.substr(lo, hi - lo));
      lo = hi;
    }
    // A torn prefix: nothing but zeros after the record.
    if (!torn) torn = end >= size || all_zero(data.substr(end));
    if (!torn) {
      return unexpected(
          Status::corruption(path, off, reason + " followed by non-zero data (not a torn write)"));
    }
    r.torn = true;
    r.reason = reason;
    break;
  }
  r.valid_end = off;
  return r;
}

}  // namespace

Wal::Wal(FileSystem& fs, std::string dir, WalOptions options)
    : fs_(fs), dir_(std::move(dir)), options_(options), log_(std::make_unique<TermLog>()) {}

Wal::~Wal() = default;

Index Wal::last_index() const {
  return log_->last();
}

Expected<Wal::Opened, Status> Wal::open(FileSystem& fs, std::string dir, WalOptions options) {
  if (options.segment_size_bytes_max <= kSegmentHeaderBytes) {
    return unexpected(Status::invalid_argument("segment_size_bytes_max must exceed the segment header"));
  }
  if (options.record_bytes_max == 0 || options.record_bytes_max >= (1ull << 32)) {
    return unexpected(Status::invalid_argument("record_bytes_max must be in [1, 2^32)"));
  }
  Opened result;
  result.wal.reset(new Wal(fs, dir, options));
  Wal& w = *result.wal;
  RecoveredState& state = result.state;

  if (!fs.exists(dir)) {
    if (Status s = fs.create_dir(dir); !s.is_ok()) return unexpected(s);
    if (Status s = fs.sync_dir(parent_dir(dir)); !s.is_ok()) return unexpected(s);
  }
  auto listed = list_segments(fs, dir);
  if (!listed) return unexpected(listed.error());
  const std::vector<SegmentName>& found = *listed;
  auto vote = VoteRecord::open(fs, dir);
  if (!vote) return unexpected(vote.error());
  w.vote_ = std::move(*vote);

  if (found.empty()) {
    if (Status s = w.create_segment(1, 1); !s.is_ok()) return unexpected(s);
    state.hard_state = merge_vote_record({}, w.vote_->value());
    w.hard_state_ = state.hard_state;
    w.durable_.hard_state = state.hard_state;
    return result;
  }

  Replayer replay(state, found.front().first_index - 1);
  std::optional<uint32_t> chain;
  for (size_t i = 0; i < found.size(); ++i) {
    const SegmentName& sn = found[i];
    const std::string p = w.path(sn.name);
    if (i > 0 && sn.seq != found[i - 1].seq + 1) {
      return unexpected(Status::corruption(
          p, 0, "segment seq " + std::to_string(found[i - 1].seq + 1) + " is missing before this one"));
    }
    const bool is_last = i + 1 == found.size();
    auto data = fs.read_file(p);
    if (!data) return unexpected(data.error());
    auto scan = scan_segment(p, *data, sn, chain, is_last, options.record_bytes_max, replay, state);
    if (!scan) return unexpected(scan.error());
    chain = scan->chain_crc;
    w.segments_.push_back(sn);
    if (!is_last) continue;

    auto file = fs.open_file(p, false);
    if (!file) return unexpected(file.error());
    if (scan->torn) {
      if (Status s = repair_torn_tail(fs, dir, p, *data, *scan, **file, *w.vote_, state); !s.is_ok())
        return unexpected(s);
    }
    if (Status s = ready_for_appends(**file, options); !s.is_ok()) return unexpected(s);
    w.current_ = std::move(*file);
    w.written_bytes_ = scan->valid_end;
    w.records_start_ = scan->valid_end;
    w.chain_crc_ = scan->chain_crc;
  }
  if (replay.floor() > replay.snapshot_index()) {
    return unexpected(
        Status::corruption(w.path(found.front().name), 0,
                           "entries up to " + std::to_string(replay.floor()) +
                               " are in no segment and no snapshot covers them (missing segments)"));
  }
  if (state.snapshot) (void)w.log_->apply_snapshot(state.snapshot->index, state.snapshot->term);
  for (const auto& e : state.entries)
    w.log_->append(e.index, e.term);
  if (state.tail_repair) state.tail_repair->last_index = w.log_->last();
  state.hard_state = merge_vote_record(state.hard_state, w.vote_->value());
  // The record catches up with the log's hard state (e.g. after a crash between a sync and its write).
  if (Status s = w.sync_vote_record_to(state.hard_state); !s.is_ok()) return unexpected(s);
  w.hard_state_ = state.hard_state;
  w.snapshot_ = state.snapshot;
  w.metadata_ = state.metadata;
  w.durable_ = Durable{w.log_->last(), w.hard_state_, w.snapshot_ ? w.snapshot_->index : 0};
  CAIRN_ASSERT(state.entries.empty() || state.entries.back().index == w.log_->last());
  w.check_invariants();
  return result;
}

void Wal::check_invariants() const {
#ifdef CAIRN_INVARIANTS
  if (failed_ || closed_) return;
  CAIRN_ASSERT(current_ != nullptr);
  CAIRN_ASSERT(!segments_.empty());
  for (size_t i = 1; i < segments_.size(); ++i)
    CAIRN_ASSERT(segments_[i].seq == segments_[i - 1].seq + 1);
  // Records start 8-byte aligned, so a record's length word never straddles a sector.
  CAIRN_ASSERT(written_bytes_ % 8 == 0 && buffer_.size() % 8 == 0);
  CAIRN_ASSERT(written_bytes_ >= records_start_);
  CAIRN_ASSERT(log_->snapshot_index() == (snapshot_ ? snapshot_->index : 0));
  CAIRN_ASSERT(log_->last() >= log_->snapshot_index());
  CAIRN_ASSERT(durable_.snapshot_index <= log_->snapshot_index());
#endif
}

Status Wal::check_usable() const {
  if (failed_) return Status::closed("wal failed earlier: " + failed_->to_string());
  if (closed_) return Status::closed("wal is closed");
  return Status::ok();
}

Status Wal::fail(Status s) {
  if (!s.is_ok() && !failed_) failed_ = s;
  return s;
}

void Wal::buffer_record(uint8_t type, std::string_view payload) {
  CAIRN_ASSERT(valid_type(type) && payload.size() <= options_.record_bytes_max);
  const size_t start = buffer_.size();
  base::append32(buffer_, static_cast<uint32_t>(payload.size()));
  buffer_.push_back(static_cast<char>(type));
  buffer_.append(3, '\0');
  uint32_t crc = base::crc32c_extend(chain_crc_, buffer_.data() + start, 8);
  crc = base::crc32c_extend(crc, payload.data(), payload.size());
  base::append32(buffer_, crc);
  base::append32(buffer_, 0);
  buffer_.append(payload);
  buffer_.append(pad8(payload.size()) - payload.size(), '\0');
  chain_crc_ = crc;
}

Status Wal::flush() {
  if (buffer_.empty()) return Status::ok();
  if (Status s = current_->write_at(written_bytes_, buffer_); !s.is_ok()) return fail(s);
  written_bytes_ += buffer_.size();
  buffer_.clear();
  dirty_ = true;
  return Status::ok();
}

Status Wal::maybe_rollover(uint64_t payload_bytes) {
  const uint64_t used = written_bytes_ + buffer_.size();
  if (used + kRecordHeaderBytes + pad8(payload_bytes) <= options_.segment_size_bytes_max) return Status::ok();
  if (used <= records_start_) return Status::ok();  // a fresh segment takes any record
  return rollover();
}

Status Wal::rollover() {
  if (Status s = flush(); !s.is_ok()) return s;
  // Cut the preallocated zeros so the segment ends at its last record, and make it all durable before the
  // next segment can exist.
  if (Status s = current_->truncate(written_bytes_); !s.is_ok()) return fail(s);
  if (Status s = current_->sync(); !s.is_ok()) return fail(s);
  dirty_ = false;
  return create_segment(segments_.back().seq + 1, log_->last() + 1);
}

Status Wal::preallocate_next() {
  if (Status s = check_usable(); !s.is_ok()) return s;
  if (spare_) return Status::ok();
  auto f = fs_.open_file(path(kSpareName), true);
  if (!f) return fail(f.error());
  // The name needs no directory sync: a spare lost in a crash is simply made again.
  if (Status s = (*f)->truncate(0); !s.is_ok()) return fail(s);
  if (options_.preallocate) {
    if (Status s = (*f)->allocate(options_.segment_size_bytes_max); !s.is_ok()) return fail(s);
  }
  if (Status s = (*f)->sync(); !s.is_ok()) return fail(s);
  spare_ = std::move(*f);
  return Status::ok();
}

Status Wal::create_segment(uint64_t seq, Index first_index) {
  if (Status s = preallocate_next(); !s.is_ok()) return s;
  CAIRN_ASSERT(buffer_.empty());
  buffer_ = encode_segment_header(seq, first_index, chain_crc_);
  if (metadata_) buffer_record(static_cast<uint8_t>(RecordType::kMetadata), *metadata_);
  if (snapshot_) buffer_record(static_cast<uint8_t>(RecordType::kSnapshot), proto::encode(*snapshot_));
  if (!hard_state_.empty())
    buffer_record(static_cast<uint8_t>(RecordType::kHardState), proto::encode(hard_state_));
  const std::string name = format::segment_name(seq, first_index);
  // Header and carried state are durable before the segment has its name, so a named segment always
  // has a readable header.
  Status s = spare_->write_at(0, buffer_);
  if (s.is_ok()) s = spare_->sync();
  if (s.is_ok()) s = fs_.rename(path(kSpareName), path(name));
  if (s.is_ok()) s = fs_.sync_dir(dir_);
  if (!s.is_ok()) return fail(s);
  current_ = std::move(spare_);
  written_bytes_ = buffer_.size();
  records_start_ = written_bytes_;
  buffer_.clear();
  dirty_ = false;
  segments_.push_back(SegmentName{seq, first_index, name});
  check_invariants();
  return Status::ok();
}

Status Wal::append(std::span<const raft::Entry> entries, const raft::HardState* hard_state) {
  if (Status s = check_usable(); !s.is_ok()) return s;
  if (!entries.empty()) {
    switch (log_->check_entry(entries.front().index)) {
      case TermLog::Check::kBelowSnapshot:
        return Status::invalid_argument("entry " + std::to_string(entries.front().index) +
                                        " is at or below the snapshot index " +
                                        std::to_string(log_->snapshot_index()));
      case TermLog::Check::kGap:
        return Status::invalid_argument("entry " + std::to_string(entries.front().index) +
                                        " leaves a gap after last index " + std::to_string(log_->last()));
      case TermLog::Check::kOk:
        break;
    }
  }
  std::vector<std::string> payloads;
  payloads.reserve(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) {
    if (entries[k].index != entries.front().index + k) {
      return Status::invalid_argument("entries are not contiguous at " + std::to_string(entries[k].index));
    }
    payloads.push_back(proto::encode(entries[k]));
    if (payloads.back().size() > options_.record_bytes_max) {
      return Status::invalid_argument("entry " + std::to_string(entries[k].index) +
                                      " exceeds record_bytes_max");
    }
#ifdef CAIRN_INVARIANTS
    auto back = proto::decode_entry(payloads.back());
    CAIRN_ASSERT(back && *back == entries[k]);
#endif
  }
  for (size_t k = 0; k < entries.size(); ++k) {
    if (Status s = maybe_rollover(payloads[k].size()); !s.is_ok()) return s;
    buffer_record(static_cast<uint8_t>(RecordType::kEntry), payloads[k]);
    log_->append(entries[k].index, entries[k].term);
  }
  if (hard_state != nullptr) {
    const std::string p = proto::encode(*hard_state);
    if (Status s = maybe_rollover(p.size()); !s.is_ok()) return s;
    buffer_record(static_cast<uint8_t>(RecordType::kHardState), p);
    hard_state_ = *hard_state;
  }
  check_invariants();
  if (buffer_.size() >= options_.write_buffer_bytes_max) return flush();
  return Status::ok();
}

Status Wal::save_snapshot(const raft::SnapshotMetadata& snapshot) {
  if (Status s = check_usable(); !s.is_ok()) return s;
  if (snapshot.index == 0) return Status::invalid_argument("snapshot marker at index 0");
  if (snapshot.index < log_->snapshot_index()) {
    return Status::invalid_argument("snapshot " + std::to_string(snapshot.index) +
                                    " is older than snapshot " + std::to_string(log_->snapshot_index()));
  }
  if (snapshot.index == log_->snapshot_index()) return Status::ok();  // already the marker in force
  const std::string p = proto::encode(snapshot);
  if (p.size() > options_.record_bytes_max)
    return Status::invalid_argument("snapshot exceeds record_bytes_max");
  if (Status s = maybe_rollover(p.size()); !s.is_ok()) return s;
  // The writer knows the whole log, so it decides between keeping and discarding and records which.
  const bool keep = log_->term_at(snapshot.index) == snapshot.term;
  buffer_record(static_cast<uint8_t>(keep ? RecordType::kSnapshot : RecordType::kSnapshotReset), p);
  const bool kept = log_->apply_snapshot(snapshot.index, snapshot.term);
  CAIRN_ASSERT(kept == keep);
  snapshot_ = snapshot;
  if (buffer_.size() >= options_.write_buffer_bytes_max) return flush();
  return Status::ok();
}

Status Wal::set_metadata(std::string_view blob) {
  if (Status s = check_usable(); !s.is_ok()) return s;
  if (blob.size() > options_.record_bytes_max)
    return Status::invalid_argument("metadata exceeds record_bytes_max");
  if (Status s = maybe_rollover(blob.size()); !s.is_ok()) return s;
  buffer_record(static_cast<uint8_t>(RecordType::kMetadata), blob);
  metadata_ = std::string(blob);
  if (buffer_.size() >= options_.write_buffer_bytes_max) return flush();
  return Status::ok();
}

Status Wal::sync_vote_record_to(const raft::HardState& hs) {
  const VoteRecord::Value& rec = vote_->value();
  const VoteRecord::Value now{hs.term, hs.vote, hs.lost_tail};
  // Never back to an older term: the record exists to keep the newest one.
  if (now == rec || now.term < rec.term) return Status::ok();
  return vote_->write(now);
}

Expected<Durable, Status> Wal::sync() {
  if (Status s = check_usable(); !s.is_ok()) return unexpected(s);
  if (Status s = flush(); !s.is_ok()) return unexpected(s);
  if (dirty_) {
    if (Status s = current_->sync(); !s.is_ok()) return unexpected(fail(s));
    dirty_ = false;
  }
  // After the log's sync, so the record never holds a hard state the log does not.
  if (Status s = sync_vote_record_to(hard_state_); !s.is_ok()) return unexpected(fail(s));
  durable_ = Durable{log_->last(), hard_state_, snapshot_ ? snapshot_->index : 0};
  check_invariants();
  return durable_;
}

Status Wal::release_to(Index index) {
  if (Status s = check_usable(); !s.is_ok()) return s;
  if (index > durable_.snapshot_index) {
    return Status::invalid_argument("release_to " + std::to_string(index) + " beyond the durable snapshot " +
                                    std::to_string(durable_.snapshot_index));
  }
  while (segments_.size() >= 2) {
    // Every live entry of the oldest segment is below its successor's first_index.
    if (segments_[1].first_index - 1 > index) break;
    // One directory sync per removal: unsynced unlinks may reach the disk in any order, and a hole in the
    // middle of the sequence would make the log unopenable.
    if (Status s = fs_.remove(path(segments_.front().name)); !s.is_ok()) return fail(s);
    if (Status s = fs_.sync_dir(dir_); !s.is_ok()) return fail(s);
    segments_.erase(segments_.begin());
  }
  return Status::ok();
}

Status Wal::close() {
  if (Status s = check_usable(); !s.is_ok()) return s;
  auto d = sync();
  closed_ = true;
  current_.reset();
  spare_.reset();
  return d ? Status::ok() : d.error();
}

}  // namespace cairn::wal
