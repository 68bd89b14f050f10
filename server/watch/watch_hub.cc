#include "server/watch/watch_hub.h"

#include <algorithm>
#include <utility>

#include "proto/etcd/kv.pb.h"

namespace cairn::server::watch {

using storage::Event;
using storage::KeyValue;

struct Hub::Stream {
  std::shared_ptr<Outbox> out;
  std::unordered_map<int64_t, std::unique_ptr<Watcher>> watchers;
  int64_t next_id = 0;  // etcd: auto-assigned ids start at 0 and skip ids in use
  size_t unsynced = 0;  // watchers of this stream in the unsynced group
  bool progress_wanted = false;
  bool require_leader = false;
  bool failed = false;  // outbox over its hard limit: dropped at the end of the current step
};

struct Hub::EventCache {
  explicit EventCache(size_t n) : plain(n), with_prev(n) {}
  std::vector<std::optional<std::string>> plain;
  std::vector<std::optional<std::string>> with_prev;
};

namespace {

// mvccpb.Event is field 11 of WatchResponse, length-delimited.
constexpr char kEventsTag = static_cast<char>((11 << 3) | 2);

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void append_event(std::string* msg, const std::string& event) {
  msg->push_back(kEventsTag);
  put_varint(msg, event.size());
  msg->append(event);
}

void to_pb(const KeyValue& kv, mvccpb::KeyValue* out) {
  out->set_key(kv.key);
  out->set_create_revision(kv.create_revision);
  out->set_mod_revision(kv.mod_revision);
  out->set_version(kv.version);
  out->set_value(kv.value);
  out->set_lease(kv.lease);
}

bool selects(const Hub::Watcher& w, std::string_view key) {
  if (w.range_end.empty()) return key == w.key;
  if (key < std::string_view(w.key)) return false;
  return (w.range_end.size() == 1 && w.range_end[0] == '\0') || key < std::string_view(w.range_end);
}

}  // namespace

Hub::Hub(StoreFn store, HeaderFn header, HubLimits limits)
    : store_fn_(std::move(store)), header_fn_(std::move(header)), limits_(limits) {}

Hub::~Hub() = default;

etcdserverpb::WatchResponse Hub::response(int64_t watch_id, int64_t revision) {
  etcdserverpb::WatchResponse r;
  if (header_fn_) header_fn_(r.mutable_header());
  r.mutable_header()->set_revision(revision);
  r.set_watch_id(watch_id);
  return r;
}

Hub::Stream* Hub::find(Outbox* out) {
  auto it = streams_.find(out);
  if (it == streams_.end() || it->second->failed) return nullptr;
  return it->second.get();
}

// ---- streams ----

void Hub::open_stream(std::shared_ptr<Outbox> out, bool require_leader) {
  if (stopped_) {
    out->close(net::Status{net::StatusCode::kUnavailable, "etcdserver: server stopped"});
    return;
  }
  auto s = std::make_unique<Stream>();
  s->out = out;
  s->require_leader = require_leader;
  streams_.emplace(out.get(), std::move(s));
}

void Hub::close_stream(Outbox* out) {
  auto it = streams_.find(out);
  if (it != streams_.end()) drop_stream(*it->second);
}

void Hub::handle(Outbox* out, const etcdserverpb::WatchRequest& request) {
  Stream* s = find(out);
  if (s == nullptr || stopped_) return;
  switch (request.request_union_case()) {
    case etcdserverpb::WatchRequest::kCreateRequest:
      create(*s, request.create_request());
      break;
    case etcdserverpb::WatchRequest::kCancelRequest:
      cancel(*s, request.cancel_request().watch_id());
      break;
    case etcdserverpb::WatchRequest::kProgressRequest:
      // etcd 3.6 answers nothing on a stream without watchers, and one answer for requests that
      // arrive while one is pending.
      if (s->watchers.empty()) break;
      s->progress_wanted = true;
      progress_waiting_.insert(s);
      maybe_answer_progress(*s);
      break;
    default:
      break;  // etcd ignores an empty request
  }
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->second->failed) drop_stream(*it->second);
    it = next;
  }
}

void Hub::resume(Outbox* out) {
  Stream* s = find(out);
  if (s == nullptr || stopped_) return;
  size_t budget = limits_.sync_records_scanned_per_pass_max;
  sync_stream(*s, &budget);
  if (!s->failed) maybe_answer_progress(*s);
  if (s->failed) drop_stream(*s);
}

void Hub::create(Stream& s, const etcdserverpb::WatchCreateRequest& c) {
  storage::MvccStore& st = store();
  const int64_t cur = st.revision();
  const std::string& end = c.range_end();
  const bool to_end = end.size() == 1 && end[0] == '\0';
  int64_t id = c.watch_id();
  const char* error = nullptr;
  if (!end.empty() && !to_end && c.key() >= end) {
    error = kErrEmptyWatcherRange;
  } else if (id != 0 && s.watchers.count(id)) {
    error = kErrDuplicateWatchId;
  }
  if (error != nullptr) {
    etcdserverpb::WatchResponse r = response(-1, cur);
    r.set_created(true);
    r.set_canceled(true);
    r.set_cancel_reason(error);
    push(s, r);
    return;
  }
  if (id == 0) {
    while (s.watchers.count(s.next_id))
      ++s.next_id;
    id = s.next_id++;
  }
  auto owned = std::make_unique<Watcher>();
  Watcher* w = owned.get();
  // etcd (v3rpc/watch.go): an empty key means "\x00", the smallest key.
  w->key = c.key().empty() ? std::string(1, '\0') : c.key();
  w->range_end = end;
  w->stream = &s;
  w->id = id;
  for (int f : c.filters()) {
    if (f == etcdserverpb::WatchCreateRequest::NOPUT) w->flags |= kFlagNoPut;
    if (f == etcdserverpb::WatchCreateRequest::NODELETE) w->flags |= kFlagNoDelete;
  }
  if (c.prev_kv()) w->flags |= kFlagPrevKv;
  if (c.progress_notify()) w->flags |= kFlagProgress;
  if (c.fragment()) w->flags |= kFlagFragment;
  s.watchers.emplace(id, std::move(owned));
  ++watcher_count_;

  // The created response goes first: nothing for this watcher can be queued before it.
  etcdserverpb::WatchResponse r = response(id, cur);
  r.set_created(true);
  if (!push(s, r)) return;

  const int64_t start = c.start_revision();
  if (start <= 0 || start > cur) {
    // Future only: synced now, events from max(start, cur + 1) on.
    w->next_rev = start > 0 ? start : cur + 1;
    add_synced(w);
    return;
  }
  // History first: unsynced from `start`, caught up right away as far as the outbox allows.
  w->next_rev = start;
  unsynced_.insert(w);
  ++s.unsynced;
  size_t budget = limits_.sync_records_scanned_per_pass_max;
  sync_watcher(w, &budget);
}

void Hub::cancel(Stream& s, int64_t id) {
  auto it = s.watchers.find(id);
  if (it == s.watchers.end()) return;  // etcd: no response for an unknown id
  remove_watcher(it->second.get());
  etcdserverpb::WatchResponse r = response(id, store().revision());
  r.set_canceled(true);
  if (!push(s, r)) return;
  maybe_answer_progress(s);
}

void Hub::remove_watcher(Watcher* w) {
  Stream& s = *w->stream;
  if (w->flags & kFlagSynced) {
    remove_synced(w);
  } else {
    unsynced_.erase(w);
    --s.unsynced;
  }
  --watcher_count_;
  s.watchers.erase(w->id);  // destroys w
}

void Hub::add_synced(Watcher* w) {
  if (synced_keys_.empty() && synced_ranges_.empty()) dispatched_rev_ = store().revision();
  if (!(w->flags & kFlagSynced)) {
    if (unsynced_.erase(w) > 0) --w->stream->unsynced;
  }
  w->flags |= kFlagSynced;
  if (w->range_end.empty()) {
    synced_keys_.emplace(std::string_view(w->key), w);
  } else {
    synced_ranges_.insert(w);
  }
}

void Hub::remove_synced(Watcher* w) {
  if (w->range_end.empty()) {
    auto [b, e] = synced_keys_.equal_range(std::string_view(w->key));
    for (auto it = b; it != e; ++it) {
      if (it->second == w) {
        synced_keys_.erase(it);
        break;
      }
    }
  } else {
    synced_ranges_.erase(w);
  }
  w->flags &= static_cast<uint8_t>(~kFlagSynced);
}

void Hub::make_unsynced(Watcher* w, int64_t next_rev) {
  if (w->flags & kFlagSynced) {
    remove_synced(w);
    unsynced_.insert(w);
    ++w->stream->unsynced;
  }
  w->next_rev = std::max(w->next_rev, next_rev);
}

// ---- sync passes (history) ----

bool Hub::sync_watcher(Watcher* w, size_t* budget) {
  Stream& s = *w->stream;
  storage::MvccStore& st = store();
  const int64_t cur = st.revision();
  while (!s.failed) {
    if (w->next_rev > cur) {
      add_synced(w);
      return true;
    }
    if (w->next_rev < st.compact_revision()) {
      // etcd: {watch_id, canceled, compact_revision} with header.revision 0, and the watcher is gone.
      etcdserverpb::WatchResponse r = response(w->id, 0);
      r.set_canceled(true);
      r.set_compact_revision(st.compact_revision());
      remove_watcher(w);
      push(s, r);
      return false;
    }
    if (!s.out->has_room()) {
      s.out->want_resume();
      return true;
    }
    if (*budget == 0) return true;
    auto b = st.events(w->key, w->range_end, w->next_rev, cur, limits_.history_events_per_response_max,
                       limits_.history_bytes_per_response_max, *budget);
    if (!b) {
      if (b.error().code == storage::Errc::kCompacted) continue;  // handled at the top
      return true;  // engine failure: the node aborts on those; try again later
    }
    *budget -= std::min(*budget, std::max<size_t>(b->records_scanned, 1));
    if (!b->events.empty()) {
      std::vector<uint32_t> all(b->events.size());
      for (uint32_t i = 0; i < all.size(); ++i)
        all[i] = i;
      EventCache cache(b->events.size());
      if (!send_events(w, b->events, all, cache, cur)) return false;
    }
    w->next_rev = b->next_revision;
  }
  return false;
}

void Hub::sync_stream(Stream& s, size_t* budget) {
  if (s.unsynced == 0) return;
  std::vector<int64_t> ids;
  for (const auto& [id, w] : s.watchers) {
    if (!(w->flags & kFlagSynced)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  for (int64_t id : ids) {
    auto it = s.watchers.find(id);
    if (it == s.watchers.end() || s.failed) continue;
    sync_watcher(it->second.get(), budget);
  }
}

void Hub::sync_all() {
  if (unsynced_.empty()) return;
  size_t budget = limits_.sync_records_scanned_per_pass_max;
  std::vector<Stream*> touched;
  for (const auto& [out, s] : streams_) {
    if (s->unsynced == 0 || s->failed) continue;
    touched.push_back(s.get());
  }
  for (Stream* s : touched) {
    sync_stream(*s, &budget);
    if (!s->failed) maybe_answer_progress(*s);
  }
}

bool Hub::progress_covers(const Watcher& w, int64_t rev) {
  return (w.flags & kFlagSynced) && w.next_rev <= rev + 1;
}

void Hub::maybe_answer_progress(Stream& s) {
  // The answer is a bookmark: "every event at or below this revision has been sent on this stream".
  // So it waits until every watcher is synced (etcd 3.4.25/3.5.8 and later; 3.4.23 answered at
  // once, #15220), is sent also when the watchers caught up without any event (3.4.31/3.5.13, #17507),
  // and waits while a watcher starts beyond the current revision + 1, whose client was told (by the
  // member it listed from) of revisions this member has not applied yet (3.6.2, #20221).
  if (!s.progress_wanted || s.unsynced > 0) return;
  const int64_t cur = store().revision();
  for (const auto& [id, w] : s.watchers)
    if (!progress_covers(*w, cur)) return;
  s.progress_wanted = false;
  progress_waiting_.erase(&s);
  if (s.watchers.empty()) return;  // every watcher was cancelled meanwhile: nothing to answer for
  push(s, response(-1, cur));
}

void Hub::answer_waiting_progress() {
  std::vector<Stream*> waiting(progress_waiting_.begin(), progress_waiting_.end());
  for (Stream* s : waiting)
    if (!s->failed) maybe_answer_progress(*s);
}

// ---- live events ----

void Hub::on_applied() {
  if (stopped_) return;
  storage::MvccStore& st = store();
  const std::vector<Event>& evs = st.last_applied_events();
  if (!delete_waiters_.empty() && !evs.empty()) notify_delete_waiters(evs);
  if (synced_keys_.empty() && synced_ranges_.empty()) {
    dispatched_rev_ = st.revision();
    return;
  }
  const int64_t cur = st.revision();
  if (cur == dispatched_rev_ && evs.empty()) return;
  if (evs.empty() || evs.front().kv.mod_revision != dispatched_rev_ + 1 ||
      cur != evs.front().kv.mod_revision) {
    // Revisions this hub did not see applied (should not happen): everyone re-reads from history.
    std::vector<Watcher*> all(synced_ranges_.begin(), synced_ranges_.end());
    for (const auto& [k, w] : synced_keys_)
      all.push_back(w);
    for (Watcher* w : all)
      make_unsynced(w, dispatched_rev_ + 1);
    dispatched_rev_ = cur;
    sync_all();
  } else {
    dispatch(evs);
    dispatched_rev_ = cur;
  }
  if (!progress_waiting_.empty()) answer_waiting_progress();
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->second->failed) drop_stream(*it->second);
    it = next;
  }
}

void Hub::dispatch(const std::vector<Event>& evs) {
  const int64_t rev = evs.front().kv.mod_revision;
  std::vector<std::pair<Watcher*, uint32_t>> hits;
  for (uint32_t i = 0; i < evs.size(); ++i) {
    auto [b, e] = synced_keys_.equal_range(std::string_view(evs[i].kv.key));
    for (auto it = b; it != e; ++it)
      hits.emplace_back(it->second, i);
    for (Watcher* w : synced_ranges_) {
      if (selects(*w, evs[i].kv.key)) hits.emplace_back(w, i);
    }
  }
  if (hits.empty()) return;
  // Group by watcher (a watcher's events stay in event order); within a stream, by watch id.
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    if (a.first->stream != b.first->stream) return std::less<Stream*>()(a.first->stream, b.first->stream);
    if (a.first->id != b.first->id) return a.first->id < b.first->id;
    return a.second < b.second;
  });
  EventCache cache(evs.size());
  std::vector<uint32_t> which;
  for (size_t i = 0; i < hits.size();) {
    Watcher* w = hits[i].first;
    which.clear();
    for (; i < hits.size() && hits[i].first == w; ++i)
      which.push_back(hits[i].second);
    Stream& s = *w->stream;
    if (s.failed || w->next_rev > rev) continue;  // a watcher that starts in the future
    if (!s.out->has_room()) {
      // Slow reader: hold the events back; it re-reads them from history once it drained.
      make_unsynced(w, rev);
      s.out->want_resume();
      continue;
    }
    if (!send_events(w, evs, which, cache, rev)) continue;
    w->next_rev = rev + 1;
  }
}

std::optional<KeyValue> Hub::prev_of(const Event& e) {
  // etcd reads the key at mod_revision - 1; a create has nothing there.
  if (e.type == Event::Type::kPut && e.kv.version == 1) return std::nullopt;
  if (e.kv.mod_revision - 1 < 1) return std::nullopt;
  storage::RangeRequest r;
  r.key = e.kv.key;
  r.revision = e.kv.mod_revision - 1;
  auto res = store().range(r);
  if (!res || res->kvs.empty()) return std::nullopt;  // compacted or absent: omitted
  return std::move(res->kvs.front());
}

bool Hub::send_events(Watcher* w, const std::vector<Event>& evs, const std::vector<uint32_t>& which,
                      EventCache& cache, int64_t header_rev) {
  Stream& s = *w->stream;
  const bool want_prev = (w->flags & kFlagPrevKv) != 0;
  std::vector<const std::string*> parts;
  parts.reserve(which.size());
  for (uint32_t i : which) {
    const Event& e = evs[i];
    if (e.type == Event::Type::kPut && (w->flags & kFlagNoPut)) continue;
    if (e.type == Event::Type::kDelete && (w->flags & kFlagNoDelete)) continue;
    std::optional<std::string>& slot = want_prev ? cache.with_prev[i] : cache.plain[i];
    if (!slot) {
      mvccpb::Event pb;
      pb.set_type(e.type == Event::Type::kPut ? mvccpb::Event::PUT : mvccpb::Event::DELETE);
      to_pb(e.kv, pb.mutable_kv());
      if (want_prev) {
        if (auto prev = prev_of(e)) to_pb(*prev, pb.mutable_prev_kv());
      }
      slot = pb.SerializeAsString();
    }
    parts.push_back(&*slot);
  }
  if (parts.empty()) return true;
  constexpr uint64_t kEventOverheadBytes = 6;  // tag + varint length
  uint64_t total = 0;
  for (const std::string* p : parts)
    total += p->size() + kEventOverheadBytes;
  const bool split = (w->flags & kFlagFragment) && total > limits_.fragment_bytes && parts.size() > 1;
  size_t i = 0;
  while (i < parts.size()) {
    size_t j = parts.size();
    if (split) {
      // At least one event per fragment; fill up to the threshold.
      j = i + 1;
      uint64_t size = parts[i]->size() + kEventOverheadBytes;
      while (j < parts.size() && size + parts[j]->size() + kEventOverheadBytes <= limits_.fragment_bytes) {
        size += parts[j]->size() + kEventOverheadBytes;
        ++j;
      }
    }
    etcdserverpb::WatchResponse head = response(w->id, header_rev);
    if (j < parts.size()) head.set_fragment(true);
    std::string msg = head.SerializeAsString();
    for (size_t k = i; k < j; ++k)
      append_event(&msg, *parts[k]);
    if (!push_raw(s, std::move(msg))) return false;
    i = j;
  }
  w->flags |= kFlagSentSinceProgress;
  return true;
}

// ---- ticks, restore, stop ----

void Hub::on_tick(Clock::time_point now) {
  if (stopped_) return;
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->second->out->gone() || it->second->failed) drop_stream(*it->second);
    it = next;
  }
  if (leader_ == 0 && !no_leader_since_) no_leader_since_ = now;
  if (leader_ == 0 && now - *no_leader_since_ >= limits_.no_leader_cancel_after) {
    for (auto& [out, s] : streams_) {
      if (!s->require_leader || s->failed) continue;
      s->failed = true;
      s->out->close(net::Status{net::StatusCode::kUnavailable, "etcdserver: no leader"});
    }
  }
  sync_all();
  if (limits_.progress_notify_interval.count() > 0) {
    if (!next_progress_) {
      next_progress_ = now + limits_.progress_notify_interval;
    } else if (now >= *next_progress_) {
      next_progress_ = now + limits_.progress_notify_interval;
      const int64_t cur = store().revision();
      for (auto& [out, s] : streams_) {
        for (auto& [id, w] : s->watchers) {
          if (!(w->flags & kFlagProgress)) continue;
          // etcd: only synced watchers with no events since the last notification, not one that
          // starts beyond the current revision + 1 (#20221), and only when the stream has room
          // (else next time).
          if (progress_covers(*w, cur) && !(w->flags & kFlagSentSinceProgress) && s->out->has_room() &&
              !s->failed) {
            push(*s, response(id, cur));
          }
          w->flags &= static_cast<uint8_t>(~kFlagSentSinceProgress);
        }
      }
    }
  }
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->second->failed) drop_stream(*it->second);
    it = next;
  }
}

void Hub::on_leader_change(uint64_t leader, Clock::time_point now) {
  leader_ = leader;
  if (leader != 0) {
    no_leader_since_.reset();
  } else if (!no_leader_since_) {
    no_leader_since_ = now;
  }
}

void Hub::on_store_restored() {
  if (stopped_) return;
  std::vector<Watcher*> all(synced_ranges_.begin(), synced_ranges_.end());
  for (const auto& [k, w] : synced_keys_)
    all.push_back(w);
  for (Watcher* w : all)
    make_unsynced(w, dispatched_rev_ + 1);
  dispatched_rev_ = store().revision();
  sync_all();
  recheck_delete_waiters();
  for (auto it = streams_.begin(); it != streams_.end();) {
    auto next = std::next(it);
    if (it->second->failed) drop_stream(*it->second);
    it = next;
  }
}

void Hub::stop() {
  stopped_ = true;
  for (auto& [out, s] : streams_)
    s->out->close(net::Status{net::StatusCode::kUnavailable, "etcdserver: server stopped"});
  synced_keys_.clear();
  synced_ranges_.clear();
  unsynced_.clear();
  progress_waiting_.clear();
  streams_.clear();
  watcher_count_ = 0;
  delete_waiters_.clear();
}

// ---- outboxes ----

bool Hub::push(Stream& s, const etcdserverpb::WatchResponse& r) {
  return push_raw(s, r.SerializeAsString());
}

bool Hub::push_raw(Stream& s, std::string bytes) {
  if (s.failed) return false;
  if (!s.out->push(std::move(bytes))) {
    fail_stream(s);
    return false;
  }
  return true;
}

void Hub::fail_stream(Stream& s) {
  s.failed = true;
  s.out->close(net::Status{net::StatusCode::kResourceExhausted,
                           "etcdserver: watch stream has too many unread responses"});
}

void Hub::drop_stream(Stream& s) {
  progress_waiting_.erase(&s);
  for (auto& [id, w] : s.watchers) {
    if (w->flags & kFlagSynced) {
      remove_synced(w.get());
    } else {
      unsynced_.erase(w.get());
    }
  }
  watcher_count_ -= s.watchers.size();
  streams_.erase(s.out.get());  // destroys s
}

// ---- in-process waiters ----

uint64_t Hub::wait_for_delete(std::string key, std::function<void(int64_t revision)> done) {
  const uint64_t token = next_token_++;
  storage::RangeRequest r;
  r.key = key;
  r.count_only = true;
  auto res = store().range(r);
  if (res && res->count == 0) {
    done(store().revision());
    return token;
  }
  delete_waiters_.emplace(token, DeleteWaiter{std::move(key), std::move(done)});
  return token;
}

void Hub::cancel_wait(uint64_t token) {
  delete_waiters_.erase(token);
}

void Hub::notify_delete_waiters(const std::vector<Event>& evs) {
  std::vector<std::pair<std::function<void(int64_t)>, int64_t>> fire;
  for (const Event& e : evs) {
    if (e.type != Event::Type::kDelete) continue;
    for (auto it = delete_waiters_.begin(); it != delete_waiters_.end();) {
      if (it->second.key == e.kv.key) {
        fire.emplace_back(std::move(it->second.done), e.kv.mod_revision);
        it = delete_waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [fn, rev] : fire)
    fn(rev);
}

void Hub::recheck_delete_waiters() {
  std::vector<std::function<void(int64_t)>> fire;
  for (auto it = delete_waiters_.begin(); it != delete_waiters_.end();) {
    storage::RangeRequest r;
    r.key = it->second.key;
    r.count_only = true;
    auto res = store().range(r);
    if (res && res->count == 0) {
      fire.push_back(std::move(it->second.done));
      it = delete_waiters_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& fn : fire)
    fn(store().revision());
}

HubStats Hub::stats() const {
  HubStats s;
  s.streams = streams_.size();
  s.watchers = watcher_count_;
  s.synced = synced_keys_.size() + synced_ranges_.size();
  s.unsynced = unsynced_.size();
  s.delete_waiters = delete_waiters_.size();
  return s;
}

}  // namespace cairn::server::watch
