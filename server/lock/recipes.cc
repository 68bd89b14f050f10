#include "server/lock/recipes.h"

#include <cstdio>

namespace cairn::server::lock {

namespace asio = boost::asio;
using asio::awaitable;
using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::ResponseHeader;
using etcdserverpb::TxnRequest;

net::Status err_election_not_leader() {
  return {net::StatusCode::kUnknown, "election: not leader"};
}
net::Status err_election_no_leader() {
  return {net::StatusCode::kUnknown, "election: no leader"};
}
net::Status err_missing_leader_key() {
  return {net::StatusCode::kUnknown, "\"leader\" field must be provided"};
}
net::Status err_cancelled() {
  return {net::StatusCode::kCancelled, "context canceled"};
}

std::string owner_prefix(std::string_view name) {
  std::string p(name);
  p += '/';
  return p;
}

std::string owner_key(std::string_view name, std::int64_t lease) {
  // Go's %x of an int64: lower-case hex, a minus sign for negative values.
  char buf[32];
  if (lease < 0)
    std::snprintf(buf, sizeof buf, "-%llx", static_cast<unsigned long long>(-(lease + 1)) + 1ull);
  else
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(lease));
  return owner_prefix(name) + buf;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

namespace {

// The first (oldest) key under prefix: etcd's WithFirstCreate.
RangeRequest first_created(const std::string& prefix) {
  RangeRequest r;
  r.set_key(prefix);
  r.set_range_end(prefix_end(prefix));
  r.set_sort_target(RangeRequest::CREATE);
  r.set_sort_order(RangeRequest::ASCEND);
  r.set_limit(1);
  return r;
}

Compare create_revision_is(const std::string& key, std::int64_t rev) {
  Compare c;
  c.set_key(key);
  c.set_target(Compare::CREATE);
  c.set_result(Compare::EQUAL);
  c.set_create_revision(rev);
  return c;
}

void add_put(google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops, const std::string& key,
             const std::string& value, std::int64_t lease) {
  auto* put = ops->Add()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
}

void add_get(google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops, RangeRequest r) {
  *ops->Add()->mutable_request_range() = std::move(r);
}

RangeRequest get_key(const std::string& key) {
  RangeRequest r;
  r.set_key(key);
  return r;
}

// The caller's lease, or a new one when it gave none (etcd's session grants one).
awaitable<Result<std::int64_t>> session_lease(LocalClient& c, std::int64_t lease) {
  if (lease != 0) co_return lease;
  auto g = co_await c.lease_grant(kSessionTtlSecondsDefault);
  if (!g) co_return unexpected(g.error());
  co_return g->id();
}

// Watches key from rev until it is deleted.
awaitable<Result<bool>> wait_delete(LocalClient& c, CancelSignal& cancel, std::string key, std::int64_t rev) {
  WatchStream ws = co_await c.watch(std::move(key), std::string(), rev);
  cancel.set_watch(ws.call());
  if (cancel.cancelled()) ws.cancel();
  while (true) {
    auto r = co_await ws.next();
    if (!r) {
      cancel.set_watch(std::nullopt);
      if (cancel.cancelled()) co_return unexpected(err_cancelled());
      co_return unexpected(r.error());
    }
    for (const auto& ev : r->events()) {
      if (ev.type() == mvccpb::Event::DELETE) {
        cancel.set_watch(std::nullopt);
        ws.cancel();
        co_return true;
      }
    }
  }
}

// Deletes the key unconditionally (etcd's Mutex.Unlock).
awaitable<void> delete_key(LocalClient& c, std::string key) {
  etcdserverpb::DeleteRangeRequest d;
  d.set_key(std::move(key));
  (void)co_await c.delete_range(d);
}

// Deletes the key if it is still the one created at rev (etcd's Election.Resign).
awaitable<Result<etcdserverpb::TxnResponse>> delete_if_owner(LocalClient& c, const std::string& key,
                                                             std::int64_t rev) {
  TxnRequest t;
  *t.add_compare() = create_revision_is(key, rev);
  t.add_success()->mutable_request_delete_range()->set_key(key);
  co_return co_await c.txn(t);
}

}  // namespace

awaitable<Result<ResponseHeader>> wait_deletes(LocalClient& c, CancelSignal& cancel, std::string prefix,
                                               std::int64_t max_create_revision) {
  RangeRequest newest_older;
  newest_older.set_key(prefix);
  newest_older.set_range_end(prefix_end(prefix));
  newest_older.set_sort_target(RangeRequest::CREATE);
  newest_older.set_sort_order(RangeRequest::DESCEND);
  newest_older.set_limit(1);
  newest_older.set_max_create_revision(max_create_revision);
  while (true) {
    if (cancel.cancelled()) co_return unexpected(err_cancelled());
    auto r = co_await c.range(newest_older);
    if (!r) co_return unexpected(r.error());
    if (r->kvs_size() == 0) co_return r->header();
    auto w = co_await wait_delete(c, cancel, r->kvs(0).key(), r->header().revision());
    if (!w) co_return unexpected(w.error());
  }
}

awaitable<Result<v3lockpb::LockResponse>> lock(LocalClient& c, CancelSignal& cancel,
                                               v3lockpb::LockRequest req) {
  auto lease = co_await session_lease(c, req.lease());
  if (!lease) co_return unexpected(lease.error());
  const std::string prefix = owner_prefix(req.name());
  const std::string key = owner_key(req.name(), *lease);

  // Join the waiters (or find our key from an earlier Lock with the same lease) and read the owner, in
  // one round trip.
  TxnRequest t;
  *t.add_compare() = create_revision_is(key, 0);
  add_put(t.mutable_success(), key, "", *lease);
  add_get(t.mutable_success(), first_created(prefix));
  add_get(t.mutable_failure(), get_key(key));
  add_get(t.mutable_failure(), first_created(prefix));
  auto tr = co_await c.txn(t);
  if (!tr) co_return unexpected(tr.error());
  std::int64_t my_rev = tr->header().revision();
  if (!tr->succeeded()) {
    const auto& mine = tr->responses(0).response_range();
    if (mine.kvs_size() == 0)
      co_return unexpected(net::Status{net::StatusCode::kInternal, "lock: key vanished"});
    my_rev = mine.kvs(0).create_revision();
  }
  if (cancel.cancelled()) {
    co_await delete_key(c, key);
    co_return unexpected(err_cancelled());
  }
  v3lockpb::LockResponse resp;
  resp.set_key(key);
  const auto& owner = tr->responses(1).response_range();
  if (owner.kvs_size() == 0 || owner.kvs(0).create_revision() == my_rev) {
    *resp.mutable_header() = tr->header();
    co_return resp;
  }
  auto hdr = co_await wait_deletes(c, cancel, prefix, my_rev - 1);
  if (!hdr) {
    // Gave up waiting (cancelled, or the watch failed): leave the queue.
    co_await delete_key(c, key);
    co_return unexpected(hdr.error());
  }
  *resp.mutable_header() = *hdr;
  co_return resp;
}

awaitable<Result<v3lockpb::UnlockResponse>> unlock(LocalClient& c, CancelSignal&,
                                                   v3lockpb::UnlockRequest req) {
  etcdserverpb::DeleteRangeRequest d;
  d.set_key(req.key());
  auto r = co_await c.delete_range(d);
  if (!r) co_return unexpected(r.error());
  v3lockpb::UnlockResponse resp;
  *resp.mutable_header() = r->header();
  co_return resp;
}

awaitable<Result<v3electionpb::CampaignResponse>> campaign(LocalClient& c, CancelSignal& cancel,
                                                           v3electionpb::CampaignRequest req) {
  auto lease = co_await session_lease(c, req.lease());
  if (!lease) co_return unexpected(lease.error());
  const std::string prefix = owner_prefix(req.name());
  const std::string key = owner_key(req.name(), *lease);

  TxnRequest t;
  *t.add_compare() = create_revision_is(key, 0);
  add_put(t.mutable_success(), key, req.value(), *lease);
  add_get(t.mutable_failure(), get_key(key));
  auto tr = co_await c.txn(t);
  if (!tr) co_return unexpected(tr.error());
  std::int64_t leader_rev = tr->header().revision();
  if (!tr->succeeded()) {
    // Campaigning again with the same lease: keep the place in the queue, but announce the new value.
    const auto& mine = tr->responses(0).response_range();
    if (mine.kvs_size() == 0)
      co_return unexpected(net::Status{net::StatusCode::kInternal, "election: key vanished"});
    leader_rev = mine.kvs(0).create_revision();
    if (mine.kvs(0).value() != req.value()) {
      TxnRequest p;
      *p.add_compare() = create_revision_is(key, leader_rev);
      add_put(p.mutable_success(), key, req.value(), *lease);
      auto pr = co_await c.txn(p);
      net::Status err;
      if (!pr)
        err = pr.error();
      else if (!pr->succeeded())
        err = err_election_not_leader();
      if (!err.is_ok()) {
        (void)co_await delete_if_owner(c, key, leader_rev);
        co_return unexpected(err);
      }
    }
  }
  auto waited = co_await wait_deletes(c, cancel, prefix, leader_rev - 1);
  if (!waited || cancel.cancelled()) {
    // etcd resigns only when the caller went away; on other errors the key stays (its lease decides).
    if (cancel.cancelled()) {
      (void)co_await delete_if_owner(c, key, leader_rev);
      co_return unexpected(err_cancelled());
    }
    co_return unexpected(waited.error());
  }
  v3electionpb::CampaignResponse resp;
  *resp.mutable_header() = tr->header();
  auto* l = resp.mutable_leader();
  l->set_name(req.name());
  l->set_key(key);
  l->set_rev(leader_rev);
  l->set_lease(*lease);
  co_return resp;
}

awaitable<Result<v3electionpb::ProclaimResponse>> proclaim(LocalClient& c, CancelSignal&,
                                                           v3electionpb::ProclaimRequest req) {
  if (!req.has_leader()) co_return unexpected(err_missing_leader_key());
  const auto& l = req.leader();
  TxnRequest t;
  *t.add_compare() = create_revision_is(l.key(), l.rev());
  add_put(t.mutable_success(), l.key(), req.value(), l.lease());
  auto tr = co_await c.txn(t);
  if (!tr) co_return unexpected(tr.error());
  if (!tr->succeeded()) co_return unexpected(err_election_not_leader());
  v3electionpb::ProclaimResponse resp;
  *resp.mutable_header() = tr->header();
  co_return resp;
}

awaitable<Result<v3electionpb::LeaderResponse>> leader(LocalClient& c, CancelSignal&,
                                                       v3electionpb::LeaderRequest req) {
  auto r = co_await c.range(first_created(owner_prefix(req.name())));
  if (!r) co_return unexpected(r.error());
  if (r->kvs_size() == 0) co_return unexpected(err_election_no_leader());
  v3electionpb::LeaderResponse resp;
  *resp.mutable_header() = r->header();
  *resp.mutable_kv() = r->kvs(0);
  co_return resp;
}

awaitable<Result<v3electionpb::ResignResponse>> resign(LocalClient& c, CancelSignal&,
                                                       v3electionpb::ResignRequest req) {
  if (!req.has_leader()) co_return unexpected(err_missing_leader_key());
  // Deleting only if the key is still the one this leadership created: a resign that arrives after
  // the lease expired must not remove a newer contender's key.
  auto tr = co_await delete_if_owner(c, req.leader().key(), req.leader().rev());
  if (!tr) co_return unexpected(tr.error());
  v3electionpb::ResignResponse resp;
  *resp.mutable_header() = tr->header();
  co_return resp;
}

awaitable<net::Status> observe(LocalClient& c, v3electionpb::LeaderRequest req, ObserveWrite out) {
  const std::string prefix = owner_prefix(req.name());
  while (true) {
    auto r = co_await c.range(first_created(prefix));
    if (!r) co_return r.error();
    v3electionpb::LeaderResponse current;
    if (r->kvs_size() > 0) {
      *current.mutable_header() = r->header();
      *current.mutable_kv() = r->kvs(0);
    } else {
      // No leader yet: the first key put under the prefix is the next one.
      WatchStream ws = co_await c.watch(prefix, prefix_end(prefix), r->header().revision());
      while (!current.has_kv()) {
        auto w = co_await ws.next();
        if (!w) co_return w.error();
        for (const auto& ev : w->events()) {
          if (ev.type() != mvccpb::Event::PUT) continue;
          *current.mutable_header() = w->header();
          current.mutable_header()->set_revision(ev.kv().mod_revision());
          *current.mutable_kv() = ev.kv();
          break;
        }
      }
      ws.cancel();
    }
    if (!co_await out(current.SerializeAsString())) co_return err_cancelled();

    // Follow this leader's key (its proclamations) until it is deleted.
    WatchStream ws = co_await c.watch(current.kv().key(), std::string(), current.header().revision() + 1);
    bool deleted = false;
    while (!deleted) {
      auto w = co_await ws.next();
      if (!w) co_return w.error();
      for (const auto& ev : w->events()) {
        if (ev.type() == mvccpb::Event::DELETE) {
          deleted = true;
          break;
        }
        v3electionpb::LeaderResponse change;
        *change.mutable_header() = w->header();
        *change.mutable_kv() = ev.kv();
        if (!co_await out(change.SerializeAsString())) co_return err_cancelled();
      }
    }
    ws.cancel();
  }
}

}  // namespace cairn::server::lock
