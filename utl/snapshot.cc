#include "utl/snapshot.h"

#include <cinttypes>
#include <cstdio>

namespace cairn::utl {

namespace {

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "Error: %s\n", msg.c_str());
  return code;
}

}  // namespace

int snapshot_status(const std::string& path, const ctl::PrintOptions& print) {
  auto st = server::node::snapshot_status(path);
  if (!st) return fail(ctl::kExitError, st.error());
  ctl::Printed p =
      ctl::print_snapshot_status({st->hash, st->revision, st->total_keys, st->total_size}, print);
  std::fwrite(p.out.data(), 1, p.out.size(), stdout);
  std::fflush(stdout);
  if (!p.error.empty()) return fail(p.exit_code, p.error);
  return ctl::kExitSuccess;
}

int snapshot_restore(const server::node::RestoreOptions& o) {
  auto r = server::node::restore_member(o);
  if (!r) return fail(ctl::kExitError, r.error());
  for (const auto& w : r->warnings)
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  // etcdctl logs its progress on stderr and prints nothing on stdout; so does cairnctl.
  std::fprintf(stderr,
               "restored snapshot %s into %s: member %" PRIx64 ", cluster %" PRIx64 ", revision %" PRId64
               ", raft log starts after index %" PRIu64 " (term %" PRIu64 ")\n",
               o.snapshot_path.c_str(), o.data_dir.c_str(), r->member_id, r->cluster_id, r->revision,
               r->applied_index, r->applied_term);
  return ctl::kExitSuccess;
}

}  // namespace cairn::utl
