#include "server/api/services.h"

#include "server/api/gateway.h"
#include "server/api/snapshot.h"

#include <google/protobuf/util/json_util.h>

#include "server/api/caller.h"
#include "server/api/range_codec.h"
#include "server/api/range_stream.h"
#include "server/auth/errors.h"
#include "server/net/completion.h"
#include "server/node/url.h"

namespace cairn::server::api {

using boost::asio::awaitable;
using net::Reply;
using net::ServerContext;
using node::EntryKind;
using node::EtcdError;
using node::Node;

net::Status to_status(const EtcdError& e) {
  return net::Status{e.code, e.message};
}

namespace {

using Promise = net::CompletionPromise<Reply>;
using PromisePtr = std::shared_ptr<Promise>;

void fill(Node& n, etcdserverpb::ResponseHeader* h, bool with_revision = true) {
  auto hi = n.header();
  h->set_cluster_id(hi.cluster_id);
  h->set_member_id(hi.member_id);
  h->set_raft_term(hi.raft_term);
  if (with_revision && h->revision() == 0) h->set_revision(n.store().revision());
}

// The request limits a member applies where requests enter (--max-txn-ops).
storage::StoreOptions store_limits(const Node& n) {
  storage::StoreOptions o;
  o.txn_ops_max = n.config().max_txn_ops;
  return o;
}

EtcdError invalid(const std::string& what) {
  return {net::StatusCode::kInvalidArgument, what};
}

template <class Msg>
bool parse(Msg& m, const std::string& bytes) {
  return m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

// Waits for the node thread to fulfil the promise made by `start`.
template <class Start>
awaitable<Reply> await_node(Start start) {
  auto pc = net::make_completion<Reply>();
  auto promise = std::make_shared<Promise>(std::move(pc.first));
  start(promise);
  std::optional<Reply> r = co_await pc.second.wait();
  if (!r) co_return to_status(node::err_stopped());
  co_return std::move(*r);
}

// Runs fn(node) -> Reply on the node thread.
template <class Fn>
awaitable<Reply> on_node(Node* n, Fn fn) {
  return await_node([n, fn = std::move(fn)](PromisePtr p) mutable {
    if (!n->run([n, p, fn = std::move(fn)]() mutable { p->set(fn(*n)); }))
      p->set(to_status(node::err_too_many_requests()));
  });
}

// Proposes through raft as the caller; render(node, response) -> Reply runs on the node thread once
// applied. The entry carries the caller's identity and is checked at apply time (server/auth).
template <class Render>
awaitable<Reply> propose(Node* n, const Caller& c, EntryKind kind, std::string body, Render render) {
  if (body.size() > n->config().max_request_bytes)
    return await_node([](PromisePtr p) { p->set(to_status(node::err_request_too_large())); });
  return as_caller(n, c, [n, kind, body = std::move(body), render = std::move(render)](node::EntryAuth who) {
    return await_node([n, kind, body, render, who = std::move(who)](PromisePtr p) mutable {
      n->propose(kind, std::move(body), std::move(who),
                 [n, p, render](node::Result<storage::ApplyResponse> r) mutable {
                   if (!r) {
                     p->set(to_status(r.error()));
                     return;
                   }
                   p->set(render(*n, *r));
                 });
    });
  });
}

// Runs fn(node) -> Reply on the node thread once check(node, who) -> optional<EtcdError> allows it.
template <class Check, class Fn>
awaitable<Reply> on_node_as(Node* n, const Caller& c, Check check, Fn fn) {
  return as_caller(n, c, [n, check = std::move(check), fn = std::move(fn)](node::EntryAuth who) {
    return on_node(n, [check, fn, who = std::move(who)](Node& nd) -> Reply {
      if (auto e = check(nd, who)) return to_status(*e);
      return fn(nd);
    });
  });
}

// The maintenance calls that need root answer with etcd's untranslated auth errors.
std::optional<EtcdError> admin_for_maintenance(Node& nd, const node::EntryAuth& who) {
  auto e = nd.auth().check_admin(who);
  if (!e) return std::nullopt;
  return auth::maintenance_error(*e);
}

Reply do_range(Node& n, const storage::RangeRequest& req) {
  auto r = n.store().range(req);
  n.count_range();
  if (!r) return to_status(node::from_store(r.error()));
  etcdserverpb::ResponseHeader header;
  header.set_revision(r->header.revision);
  fill(n, &header);
  return encode_range_response(header, std::move(*r));
}

// A read runs on the node thread and is checked there, against the auth state it reads with.
Reply do_range_as(Node& n, const storage::RangeRequest& req, const node::EntryAuth& who) {
  if (auto e = n.auth().check_read(who, req.key, req.range_end)) return to_status(*e);
  return do_range(n, req);
}

awaitable<Reply> kv_range(Node* n, std::string bytes, Caller c) {
  etcdserverpb::RangeRequest pb;
  if (!parse(pb, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  storage::RangeRequest req = node::from_pb(pb);
  if (auto e = storage::MvccStore::validate_range(req)) co_return to_status(node::from_store(*e));
  if (req.serializable) {
    auto aw_ = as_caller(n, c, [n, req](node::EntryAuth who) {
      return on_node(n, [req, who](Node& nd) { return do_range_as(nd, req, who); });
    });
    co_return co_await std::move(aw_);
  }
  {
    auto aw_ = as_caller(n, c, [n, req](node::EntryAuth who) {
      return await_node([n, req, who](PromisePtr p) {
        n->linearize([n, p, req, who](std::optional<EtcdError> e) {
          if (e) {
            p->set(to_status(*e));
            return;
          }
          p->set(do_range_as(*n, req, who));
        });
      });
    });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> kv_put(Node* n, std::string bytes, Caller c) {
  etcdserverpb::PutRequest pb;
  if (!parse(pb, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (auto e = storage::MvccStore::validate(storage::ApplyRequest{node::from_pb(pb)}, store_limits(*n)))
    co_return to_status(node::from_store(*e));
  {
    auto aw_ =
        propose(n, c, EntryKind::kPut, std::move(bytes), [](Node& nd, storage::ApplyResponse& r) -> Reply {
          etcdserverpb::PutResponse out;
          if (auto* v = std::get_if<storage::PutResponse>(&r)) node::to_pb(*v, &out);
          fill(nd, out.mutable_header());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> kv_delete(Node* n, std::string bytes, Caller c) {
  etcdserverpb::DeleteRangeRequest pb;
  if (!parse(pb, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (auto e = storage::MvccStore::validate(storage::ApplyRequest{node::from_pb(pb)}, store_limits(*n)))
    co_return to_status(node::from_store(*e));
  {
    auto aw_ = propose(n, c, EntryKind::kDeleteRange, std::move(bytes),
                       [](Node& nd, storage::ApplyResponse& r) -> Reply {
                         etcdserverpb::DeleteRangeResponse out;
                         if (auto* v = std::get_if<storage::DeleteRangeResponse>(&r)) node::to_pb(*v, &out);
                         fill(nd, out.mutable_header());
                         return out.SerializeAsString();
                       });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> kv_txn(Node* n, std::string bytes, Caller c) {
  etcdserverpb::TxnRequest pb;
  if (!parse(pb, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (auto e = storage::MvccStore::validate(storage::ApplyRequest{node::from_pb(pb)}, store_limits(*n)))
    co_return to_status(node::from_store(*e));
  {
    auto aw_ =
        propose(n, c, EntryKind::kTxn, std::move(bytes), [](Node& nd, storage::ApplyResponse& r) -> Reply {
          etcdserverpb::TxnResponse out;
          if (auto* v = std::get_if<storage::TxnResponse>(&r)) node::to_pb(*v, &out);
          fill(nd, out.mutable_header());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

Reply compaction_reply(Node& nd, storage::ApplyResponse&) {
  etcdserverpb::CompactionResponse out;
  fill(nd, out.mutable_header());
  return out.SerializeAsString();
}

awaitable<Reply> kv_compact(Node* n, std::string bytes, Caller c) {
  etcdserverpb::CompactionRequest pb;
  if (!parse(pb, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (!pb.physical()) {
    auto aw_ = propose(n, c, EntryKind::kCompaction, std::move(bytes), compaction_reply);
    co_return co_await std::move(aw_);
  }
  // physical: answer once this member has deleted what the compaction dropped (etcd waits for its
  // backend the same way), not as soon as the entry is applied.
  if (bytes.size() > n->config().max_request_bytes) co_return to_status(node::err_request_too_large());
  auto aw_ = as_caller(n, c, [n, bytes = std::move(bytes)](node::EntryAuth who) {
    return await_node([n, bytes, who = std::move(who)](PromisePtr p) mutable {
      n->propose(EntryKind::kCompaction, std::move(bytes), std::move(who),
                 [n, p](node::Result<storage::ApplyResponse> r) mutable {
                   if (!r) {
                     p->set(to_status(r.error()));
                     return;
                   }
                   storage::ApplyResponse& applied = *r;
                   n->when_compaction_swept(
                       [p, reply = compaction_reply(*n, applied)]() mutable { p->set(std::move(reply)); });
                 });
    });
  });
  co_return co_await std::move(aw_);
}

void add_members(Node& n, google::protobuf::RepeatedPtrField<etcdserverpb::Member>* out) {
  for (const auto& [id, m] : n.members()) {
    auto* pb = out->Add();
    pb->set_id(id);
    pb->set_name(m.name);
    for (const auto& u : m.peer_urls)
      pb->add_peerurls(u);
    for (const auto& u : m.client_urls)
      pb->add_clienturls(u);
    pb->set_islearner(m.learner);
  }
}

Reply member_list_reply(Node& nd) {
  etcdserverpb::MemberListResponse out;
  fill(nd, out.mutable_header(), false);
  add_members(nd, out.mutable_members());
  return out.SerializeAsString();
}

// etcd 3.5+: `linearizable` (what 3.5+ clients send unless asked for a serializable list) waits for a
// ReadIndex round first, so a member that was partitioned away does not answer with a stale list;
// without it (3.4 clients, `--consistency=s`) the local table is the answer.
awaitable<Reply> member_list(Node* n, std::string bytes, Caller) {
  etcdserverpb::MemberListRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (!req.linearizable()) {
    auto aw_ = on_node(n, member_list_reply);
    co_return co_await std::move(aw_);
  }
  auto aw_ = await_node([n](PromisePtr p) {
    n->linearize([n, p](std::optional<EtcdError> e) { p->set(e ? to_status(*e) : member_list_reply(*n)); });
  });
  co_return co_await std::move(aw_);
}

// Validates on the node thread (root only, with auth on), then proposes the conf change; render runs
// once it is applied.
template <class Check, class Render>
awaitable<Reply> member_change(Node* n, const Caller& c, Check check, Render render) {
  return as_caller(n, c, [n, check = std::move(check), render = std::move(render)](node::EntryAuth who) {
    return member_change_as(n, std::move(who), check, render);
  });
}

template <class Check, class Render>
awaitable<Reply> member_change_as(Node* n, node::EntryAuth who, Check check, Render render) {
  return await_node([n, who, check = std::move(check), render = std::move(render)](PromisePtr p) mutable {
    if (!n->run([n, p, who, check = std::move(check), render = std::move(render)]() mutable {
          raft::ConfChange cc;
          if (auto e = n->auth().check_admin(who)) {
            p->set(to_status(*e));
            return;
          }
          if (auto e = check(*n, cc)) {
            p->set(to_status(*e));
            return;
          }
          n->conf_change(cc, [n, p, render](std::optional<EtcdError> e) mutable {
            if (e) {
              p->set(to_status(*e));
              return;
            }
            p->set(render(*n));
          });
        }))
      p->set(to_status(node::err_too_many_requests()));
  });
}

awaitable<Reply> member_add(Node* n, std::string bytes, Caller c) {
  etcdserverpb::MemberAddRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  std::vector<std::string> urls(req.peerurls().begin(), req.peerurls().end());
  if (urls.empty()) co_return to_status(node::err_member_bad_urls());
  for (const auto& u : urls)
    if (!node::parse_url(u)) co_return to_status(node::err_member_bad_urls());
  uint64_t id = node::derive_member_id(urls, n->config().cluster_token);
  bool learner = req.islearner();
  {
    auto aw_ = member_change(
        n, c,
        [id, urls, learner](Node& nd, raft::ConfChange& cc) -> std::optional<EtcdError> {
          if (nd.members().count(id)) return node::err_member_exist();
          for (const auto& [mid, m] : nd.members())
            for (const auto& u : m.peer_urls)
              for (const auto& v : urls)
                if (u == v) return node::err_peer_url_exist();
          etcdserverpb::Member m;
          m.set_id(id);
          for (const auto& u : urls)
            m.add_peerurls(u);
          m.set_islearner(learner);
          cc.type = learner ? raft::ConfChangeType::kAddLearnerNode : raft::ConfChangeType::kAddNode;
          cc.node_id = id;
          cc.context = m.SerializeAsString();
          return std::nullopt;
        },
        [id, urls, learner](Node& nd) -> Reply {
          etcdserverpb::MemberAddResponse out;
          fill(nd, out.mutable_header(), false);
          auto* m = out.mutable_member();
          m->set_id(id);
          for (const auto& u : urls)
            m->add_peerurls(u);
          m->set_islearner(learner);
          add_members(nd, out.mutable_members());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> member_remove(Node* n, std::string bytes, Caller c) {
  etcdserverpb::MemberRemoveRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  uint64_t id = req.id();
  {
    auto aw_ = member_change(
        n, c,
        [id](Node& nd, raft::ConfChange& cc) -> std::optional<EtcdError> {
          if (!nd.members().count(id)) return node::err_member_not_found();
          cc.type = raft::ConfChangeType::kRemoveNode;
          cc.node_id = id;
          return std::nullopt;
        },
        [](Node& nd) -> Reply {
          etcdserverpb::MemberRemoveResponse out;
          fill(nd, out.mutable_header(), false);
          add_members(nd, out.mutable_members());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> member_update(Node* n, std::string bytes, Caller c) {
  etcdserverpb::MemberUpdateRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  uint64_t id = req.id();
  std::vector<std::string> urls(req.peerurls().begin(), req.peerurls().end());
  for (const auto& u : urls)
    if (!node::parse_url(u)) co_return to_status(node::err_member_bad_urls());
  {
    auto aw_ = member_change(
        n, c,
        [id, urls](Node& nd, raft::ConfChange& cc) -> std::optional<EtcdError> {
          if (!nd.members().count(id)) return node::err_member_not_found();
          etcdserverpb::Member m;
          m.set_id(id);
          for (const auto& u : urls)
            m.add_peerurls(u);
          cc.type = raft::ConfChangeType::kUpdateNode;
          cc.node_id = id;
          cc.context = m.SerializeAsString();
          return std::nullopt;
        },
        [](Node& nd) -> Reply {
          etcdserverpb::MemberUpdateResponse out;
          fill(nd, out.mutable_header(), false);
          add_members(nd, out.mutable_members());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> member_promote(Node* n, std::string bytes, Caller c) {
  etcdserverpb::MemberPromoteRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  uint64_t id = req.id();
  {
    auto aw_ = member_change(
        n, c,
        [id](Node& nd, raft::ConfChange& cc) -> std::optional<EtcdError> {
          auto it = nd.members().find(id);
          if (it == nd.members().end()) return node::err_member_not_found();
          if (!it->second.learner) return node::err_member_not_learner();
          cc.type = raft::ConfChangeType::kAddNode;
          cc.node_id = id;
          return std::nullopt;
        },
        [](Node& nd) -> Reply {
          etcdserverpb::MemberPromoteResponse out;
          fill(nd, out.mutable_header(), false);
          add_members(nd, out.mutable_members());
          return out.SerializeAsString();
        });
    co_return co_await std::move(aw_);
  }
}

// As etcd 3.6 fills it. errors: "etcdserver: no leader" without a leader, then one
// "memberID:<id> alarm:<TYPE> " per active alarm (Go's compact text of etcd's AlarmMember, trailing
// space included: what etcdctl endpoint status prints).
Reply status_reply(Node& nd) {
  etcdserverpb::StatusResponse out;
  fill(nd, out.mutable_header());
  out.set_version(node::kEtcdServerVersion);
  out.set_dbsize(static_cast<int64_t>(nd.store().db_size_bytes()));
  out.set_dbsizeinuse(static_cast<int64_t>(nd.store().logical_size_bytes()));
  out.set_leader(nd.leader());
  out.set_raftindex(nd.committed_index());
  out.set_raftterm(nd.header().raft_term);
  out.set_raftappliedindex(nd.applied_index());
  out.set_islearner(nd.is_learner());
  out.set_storageversion(node::storage_version(nd.downgrade()));
  out.set_dbsizequota(
      static_cast<int64_t>(nd.store().quota_bytes()));  // the cluster's once the leader set it
  out.mutable_downgradeinfo()->set_enabled(nd.downgrade().enabled);
  out.mutable_downgradeinfo()->set_targetversion(nd.downgrade().target_version);
  if (nd.leader() == 0) out.add_errors("etcdserver: no leader");
  for (const auto& a : nd.store().alarms()) {
    const auto type = static_cast<etcdserverpb::AlarmType>(a.type);
    out.add_errors("memberID:" + std::to_string(a.member) + " alarm:" + etcdserverpb::AlarmType_Name(type) +
                   " ");
  }
  return out.SerializeAsString();
}

awaitable<Reply> m_status(Node* n, std::string, Caller) {
  {
    auto aw_ = on_node(n, status_reply);
    co_return co_await std::move(aw_);
  }
}

// Like on_node_as, but fn(node, promise) answers later, from a callback on the node thread.
template <class Check, class Fn>
awaitable<Reply> on_node_later_as(Node* n, const Caller& c, Check check, Fn fn) {
  return as_caller(n, c, [n, check = std::move(check), fn = std::move(fn)](node::EntryAuth who) {
    return await_node([n, check, fn, who = std::move(who)](PromisePtr p) mutable {
      if (!n->run([n, p, check, fn, who]() mutable {
            if (auto e = check(*n, who)) {
              p->set(to_status(*e));
              return;
            }
            fn(*n, p);
          }))
        p->set(to_status(node::err_too_many_requests()));
    });
  });
}

// Hash and HashKV run in steps between the node's other work (server/node/hash_runner.h).
awaitable<Reply> m_hash(Node* n, std::string, Caller c) {
  auto aw_ = on_node_later_as(n, c, admin_for_maintenance, [](Node& nd, PromisePtr p) {
    nd.hash_async(true, 0, [&nd, p](Expected<storage::HashKvResponse, EtcdError> r) {
      if (!r) return p->set(to_status(r.error()));
      etcdserverpb::HashResponse out;
      fill(nd, out.mutable_header());
      out.set_hash(r->hash);
      p->set(out.SerializeAsString());
    });
  });
  co_return co_await std::move(aw_);
}

awaitable<Reply> m_hashkv(Node* n, std::string bytes, Caller c) {
  etcdserverpb::HashKVRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  const int64_t rev = req.revision();
  auto aw_ = on_node_later_as(n, c, admin_for_maintenance, [rev](Node& nd, PromisePtr p) {
    nd.hash_async(false, rev, [&nd, p, rev](Expected<storage::HashKvResponse, EtcdError> r) {
      if (!r) return p->set(to_status(r.error()));
      etcdserverpb::HashKVResponse out;
      fill(nd, out.mutable_header());
      out.set_hash(r->hash);
      out.set_compact_revision(r->compact_revision);
      out.set_hash_revision(rev > 0 ? rev : r->header.revision);
      p->set(out.SerializeAsString());
    });
  });
  co_return co_await std::move(aw_);
}

// Defragment runs on its own thread while the node goes on (server/node/defragmenter.h).
awaitable<Reply> m_defrag(Node* n, std::string, Caller c) {
  auto aw_ = on_node_later_as(n, c, admin_for_maintenance, [](Node& nd, PromisePtr p) {
    nd.defragment_async([&nd, p](Expected<storage::Unit, EtcdError> r) {
      if (!r) return p->set(to_status(r.error()));
      etcdserverpb::DefragmentResponse out;
      fill(nd, out.mutable_header());
      p->set(out.SerializeAsString());
    });
  });
  co_return co_await std::move(aw_);
}

// GET: the raised alarms (of the asked type; NONE: all); ACTIVATE and DEACTIVATE: the one raised or
// cleared (etcd's answers).
Reply alarm_reply(Node& nd, const std::vector<storage::AlarmMember>& alarms) {
  etcdserverpb::AlarmResponse out;
  fill(nd, out.mutable_header());
  for (const auto& a : alarms) {
    auto* m = out.add_alarms();
    m->set_memberid(a.member);
    m->set_alarm(static_cast<etcdserverpb::AlarmType>(a.type));
  }
  return out.SerializeAsString();
}

awaitable<Reply> m_alarm(Node* n, std::string bytes, Caller c) {
  etcdserverpb::AlarmRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (req.action() == etcdserverpb::AlarmRequest::GET) {
    const auto type = static_cast<storage::AlarmType>(req.alarm());  // NONE: every type, as etcd's Get
    auto aw_ = on_node_as(
        n, c, [](Node& nd, const node::EntryAuth& who) { return nd.auth().check_user(who); },
        [type](Node& nd) {
          std::vector<storage::AlarmMember> out;
          for (const auto& a : nd.store().alarms())
            if (type == storage::AlarmType::kNone || a.type == type) out.push_back(a);
          return alarm_reply(nd, out);
        });
    co_return co_await std::move(aw_);
  }
  {
    auto aw_ = propose(n, c, EntryKind::kAlarm, std::move(bytes), [](Node& nd, storage::ApplyResponse& r) {
      const auto* a = std::get_if<storage::AlarmResponse>(&r);
      return alarm_reply(nd, a ? a->alarms : std::vector<storage::AlarmMember>{});
    });
    co_return co_await std::move(aw_);
  }
}

awaitable<Reply> m_move_leader(Node* n, std::string bytes, Caller c) {
  etcdserverpb::MoveLeaderRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  uint64_t target = req.targetid();
  // Root only with auth on (etcd 3.4 lets any client move the leader).
  auto check = on_node_as(
      n, c, [](Node& nd, const node::EntryAuth& who) { return nd.auth().check_admin(who); },
      [](Node&) -> Reply { return std::string(); });
  Reply allowed = co_await std::move(check);
  if (!allowed.has_message()) co_return allowed;
  {
    auto aw_ = await_node([n, target](PromisePtr p) {
      n->move_leader(target, [n, p](std::optional<EtcdError> e) {
        if (e) {
          p->set(to_status(*e));
          return;
        }
        etcdserverpb::MoveLeaderResponse out;
        fill(*n, out.mutable_header());
        p->set(out.SerializeAsString());
      });
    });
    co_return co_await std::move(aw_);
  }
}

Reply downgrade_reply(Node& nd, const std::string& version) {
  etcdserverpb::DowngradeResponse out;
  fill(nd, out.mutable_header());
  out.set_version(version);
  return out.SerializeAsString();
}

// On the node thread, after a ReadIndex round (etcd reads the downgrade state linearizably). Every
// answer carries the cluster version the request found, major.minor (etcd 3.6 answers ENABLE with the
// version before the change, as its cluster version moves only later; CANCEL without a downgrade in
// progress is answered like a successful one, as etcd 3.6 does).
void downgrade_step(Node& nd, const etcdserverpb::DowngradeRequest& req, const PromisePtr& p) {
  const std::string before = node::cluster_version_short(nd.downgrade());
  node::DowngradeInfo next;
  if (req.action() == etcdserverpb::DowngradeRequest::CANCEL) {
    if (!nd.downgrade().enabled) {
      p->set(downgrade_reply(nd, before));
      return;
    }
  } else {
    std::string target;
    if (auto e = node::validate_downgrade(nd.downgrade(), req.version(), &target)) {
      p->set(to_status(*e));
      return;
    }
    if (req.action() == etcdserverpb::DowngradeRequest::VALIDATE) {
      p->set(downgrade_reply(nd, before));
      return;
    }
    next = node::DowngradeInfo{true, target};
  }
  Node* n = &nd;
  nd.propose(EntryKind::kDowngrade, node::encode_downgrade(next),
             [n, p, before](node::Result<storage::ApplyResponse> r) {
               p->set(r ? downgrade_reply(*n, before) : to_status(r.error()));
             });
}

// Downgrade (etcd 3.5+): VALIDATE, ENABLE, CANCEL; root only with auth on. server/node/version.h says
// what a downgrade means for cairn.
awaitable<Reply> m_downgrade(Node* n, std::string bytes, Caller c) {
  etcdserverpb::DowngradeRequest req;
  if (!parse(req, bytes)) co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  if (!etcdserverpb::DowngradeRequest::DowngradeAction_IsValid(req.action()))
    co_return to_status(EtcdError{net::StatusCode::kUnknown, "etcdserver: unknown method"});
  if (req.action() != etcdserverpb::DowngradeRequest::CANCEL && !node::parse_downgrade_target(req.version()))
    co_return to_status(node::err_wrong_downgrade_version_format());
  auto allowed_aw = on_node_as(n, c, admin_for_maintenance, [](Node&) -> Reply { return std::string(); });
  Reply allowed = co_await std::move(allowed_aw);
  if (!allowed.has_message()) co_return allowed;
  auto aw_ = await_node([n, req](PromisePtr p) {
    n->linearize([n, p, req](std::optional<EtcdError> e) {
      if (e) {
        p->set(to_status(*e));
        return;
      }
      downgrade_step(*n, req, p);
    });
  });
  co_return co_await std::move(aw_);
}

// KV.RangeStream (etcd 3.7), paged as server/api/range_stream.h says. The first visit to the node
// thread checks the caller's read permission, waits for the read index unless serializable, pins the
// revision and sends the first page; each next page is read only once the previous message is queued
// within the stream's flow-control budget (ServerStream::write waits), so a slow client holds the
// server to a few pages of memory.
using CursorPtr = std::shared_ptr<std::optional<RangeStreamCursor>>;

etcdserverpb::ResponseHeader stream_header(Node& nd) {
  etcdserverpb::ResponseHeader h;
  h.set_revision(1);  // keeps fill() from setting it: the cursor sets the pinned one
  fill(nd, &h);
  return h;
}

// On the node thread: the cursor's next message, or its error.
Reply next_page(Node& nd, RangeStreamCursor& cursor) {
  auto m = cursor.next(nd.store(), stream_header(nd));
  if (!m) return to_status(node::from_store(m.error()));
  return std::move(*m);
}

Reply open_stream(Node& nd, const storage::RangeRequest& req, const node::EntryAuth& who,
                  const CursorPtr& cursor) {
  if (auto e = nd.auth().check_read(who, req.key, req.range_end)) return to_status(*e);
  nd.count_range();
  auto c = RangeStreamCursor::open(nd.store(), req);
  if (!c) return to_status(node::from_store(c.error()));
  cursor->emplace(std::move(*c));
  return next_page(nd, **cursor);
}

awaitable<Reply> first_page(Node* n, const storage::RangeRequest& req, Caller c, CursorPtr cursor) {
  return as_caller(n, std::move(c), [n, req, cursor](node::EntryAuth who) {
    if (req.serializable)
      return on_node(n, [req, who, cursor](Node& nd) { return open_stream(nd, req, who, cursor); });
    return await_node([n, req, who, cursor](PromisePtr p) {
      n->linearize([n, p, req, who, cursor](std::optional<EtcdError> e) {
        p->set(e ? to_status(*e) : open_stream(*n, req, who, cursor));
      });
    });
  });
}

awaitable<net::Status> kv_range_stream(Node* n, ServerContext& ctx, net::ServerStream& stream) {
  std::optional<std::string> bytes = co_await stream.read();
  etcdserverpb::RangeRequest pb;
  if (!bytes || !parse(pb, *bytes))
    co_return to_status(invalid("grpc: failed to unmarshal the received message"));
  storage::RangeRequest req = node::from_pb(pb);
  if (auto e = storage::MvccStore::validate_range(req)) co_return to_status(node::from_store(*e));
  auto cursor = std::make_shared<std::optional<RangeStreamCursor>>();
  auto first = first_page(n, req, caller_of(ctx), cursor);
  Reply page = co_await std::move(first);
  for (;;) {
    if (!page.has_message()) co_return page.status();
    if (!co_await stream.write(std::move(page.message())))
      co_return net::Status{net::StatusCode::kCancelled, "context canceled"};
    if ((*cursor)->done()) co_return net::Status{};
    auto next = on_node(n, [cursor](Node& nd) { return next_page(nd, **cursor); });
    page = co_await std::move(next);
  }
}

// Snapshot: etcd's backend file, streamed by server/api/snapshot.h; with auth enabled, root only.
awaitable<net::Status> m_snapshot(Node* n, ServerContext& ctx, net::ServerStream& stream) {
  auto allowed_aw =
      on_node_as(n, caller_of(ctx), admin_for_maintenance, [](Node&) -> Reply { return std::string(); });
  Reply allowed = co_await std::move(allowed_aw);
  if (!allowed.has_message()) co_return allowed.status();
  auto snap = maintenance_snapshot(n, stream);
  co_return co_await std::move(snap);
}

// ---- etcd's JSON gateway (grpc-gateway): POST /v3/... with proto3 JSON bodies ----

template <class Req, class Resp, class H>
awaitable<net::HttpResponse> gateway_call(Node* n, std::string body, Caller c, H handler) {
  Req req;
  if (auto bad = gateway_parse(body, req)) co_return gateway_error(*bad);
  auto aw = handler(n, req.SerializeAsString(), std::move(c));
  Reply reply = co_await std::move(aw);
  if (!reply.has_message()) co_return gateway_error(reply.status());
  Resp resp;
  if (!resp.ParseFromString(reply.message()))
    co_return gateway_error(net::StatusCode::kInternal, "bad response");
  co_return gateway_json(resp);
}

template <class Req, class Resp, class H>
void gateway(net::Server& s, const char* path, Node& n, H h) {
  Node* np = &n;
  s.add_http("POST", path, [np, h](const net::HttpRequest& req) {
    return gateway_call<Req, Resp>(np, req.body, caller_of(req), h);
  });
}

}  // namespace

void register_gateway(net::Server& s, Node& n) {
  using namespace etcdserverpb;
  gateway<RangeRequest, RangeResponse>(s, "/v3/kv/range", n, kv_range);
  gateway<PutRequest, PutResponse>(s, "/v3/kv/put", n, kv_put);
  gateway<DeleteRangeRequest, DeleteRangeResponse>(s, "/v3/kv/deleterange", n, kv_delete);
  gateway<TxnRequest, TxnResponse>(s, "/v3/kv/txn", n, kv_txn);
  gateway<CompactionRequest, CompactionResponse>(s, "/v3/kv/compaction", n, kv_compact);
  gateway<StatusRequest, StatusResponse>(s, "/v3/maintenance/status", n, m_status);
  gateway<MemberListRequest, MemberListResponse>(s, "/v3/cluster/member/list", n, member_list);
  gateway<MemberAddRequest, MemberAddResponse>(s, "/v3/cluster/member/add", n, member_add);
  gateway<MemberRemoveRequest, MemberRemoveResponse>(s, "/v3/cluster/member/remove", n, member_remove);
  gateway<MemberUpdateRequest, MemberUpdateResponse>(s, "/v3/cluster/member/update", n, member_update);
  gateway<MemberPromoteRequest, MemberPromoteResponse>(s, "/v3/cluster/member/promote", n, member_promote);
  gateway<AlarmRequest, AlarmResponse>(s, "/v3/maintenance/alarm", n, m_alarm);
  gateway<DefragmentRequest, DefragmentResponse>(s, "/v3/maintenance/defragment", n, m_defrag);
  gateway<HashRequest, HashResponse>(s, "/v3/maintenance/hash", n, m_hash);  // etcd 3.4 binds Hash here
  gateway<MoveLeaderRequest, MoveLeaderResponse>(s, "/v3/maintenance/transfer-leadership", n, m_move_leader);
}

namespace {

template <class H>
void unary(net::Server& s, const char* path, Node& n, H h) {
  Node* np = &n;
  s.add_unary(path, [np, h](ServerContext& ctx, std::string_view req) {
    return h(np, std::string(req), caller_of(ctx));
  });
}

}  // namespace

void register_kv(net::Server& s, Node& n) {
  unary(s, "/etcdserverpb.KV/Range", n, kv_range);
  unary(s, "/etcdserverpb.KV/Put", n, kv_put);
  unary(s, "/etcdserverpb.KV/DeleteRange", n, kv_delete);
  unary(s, "/etcdserverpb.KV/Txn", n, kv_txn);
  unary(s, "/etcdserverpb.KV/Compact", n, kv_compact);
  Node* np = &n;
  s.add_stream("/etcdserverpb.KV/RangeStream",
               [np](ServerContext& ctx, net::ServerStream& st) { return kv_range_stream(np, ctx, st); });
}

void register_cluster(net::Server& s, Node& n) {
  unary(s, "/etcdserverpb.Cluster/MemberList", n, member_list);
  unary(s, "/etcdserverpb.Cluster/MemberAdd", n, member_add);
  unary(s, "/etcdserverpb.Cluster/MemberRemove", n, member_remove);
  unary(s, "/etcdserverpb.Cluster/MemberUpdate", n, member_update);
  unary(s, "/etcdserverpb.Cluster/MemberPromote", n, member_promote);
}

void register_maintenance(net::Server& s, Node& n) {
  unary(s, "/etcdserverpb.Maintenance/Status", n, m_status);
  unary(s, "/etcdserverpb.Maintenance/Hash", n, m_hash);
  unary(s, "/etcdserverpb.Maintenance/HashKV", n, m_hashkv);
  unary(s, "/etcdserverpb.Maintenance/Defragment", n, m_defrag);
  unary(s, "/etcdserverpb.Maintenance/Alarm", n, m_alarm);
  unary(s, "/etcdserverpb.Maintenance/MoveLeader", n, m_move_leader);
  unary(s, "/etcdserverpb.Maintenance/Downgrade", n, m_downgrade);
  Node* np = &n;
  s.add_stream("/etcdserverpb.Maintenance/Snapshot",
               [np](ServerContext& ctx, net::ServerStream& st) { return m_snapshot(np, ctx, st); });
}

}  // namespace cairn::server::api
