#include "ctl/snapshot.h"

#include <cinttypes>
#include <cstdio>

#include "server/node/restore.h"

namespace cairn::ctl {

namespace {

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "Error: %s\n", msg.c_str());
  return code;
}

}  // namespace

int cmd_snapshot_status(const Invocation& inv, const PrintOptions& print) {
  if (inv.args.size() != 1) return fail(kExitBadArgs, "snapshot status requires exactly one argument");
  auto st = server::node::snapshot_status(inv.args[0]);
  if (!st) return fail(kExitError, st.error());
  Printed p = print_snapshot_status({st->hash, st->revision, st->total_keys, st->total_size}, print);
  std::fwrite(p.out.data(), 1, p.out.size(), stdout);
  std::fflush(stdout);
  if (!p.error.empty()) return fail(p.exit_code, p.error);
  return kExitSuccess;
}

int cmd_snapshot_restore(const Invocation& inv) {
  if (inv.args.size() != 1) return fail(kExitBadArgs, "snapshot restore requires exactly one argument");
  server::node::RestoreOptions o;
  o.snapshot_path = inv.args[0];
  o.name = inv.name;
  o.data_dir = inv.data_dir.empty() ? inv.name + ".etcd" : inv.data_dir;
  o.initial_cluster = inv.initial_cluster;
  o.initial_cluster_token = inv.initial_cluster_token;
  o.initial_advertise_peer_urls = inv.initial_advertise_peer_urls;
  o.skip_hash_check = inv.skip_hash_check;
  auto r = server::node::restore_member(o);
  if (!r) return fail(kExitError, r.error());
  for (const auto& w : r->warnings)
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  // etcdctl logs its progress on stderr and prints nothing on stdout; so does cairnctl.
  std::fprintf(stderr,
               "restored snapshot %s into %s: member %" PRIx64 ", cluster %" PRIx64 ", revision %" PRId64
               ", raft log starts after index %" PRIu64 " (term %" PRIu64 ")\n",
               o.snapshot_path.c_str(), o.data_dir.c_str(), r->member_id, r->cluster_id, r->revision,
               r->applied_index, r->applied_term);
  return kExitSuccess;
}

}  // namespace cairn::ctl
