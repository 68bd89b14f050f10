// cairnutl: the offline tool for a member's files, as etcdutl is etcd's (etcd 3.5 moved `snapshot
// restore` and `snapshot status` out of etcdctl into it). It links the restore code (WAL, RocksDB, the
// store); cairnctl links none of that and runs this binary for its own `snapshot status|restore`.
//   cairnutl snapshot status <file> [-w simple|json|table|fields]
//   cairnutl snapshot restore <file> [--name] [--data-dir] [--initial-cluster] [--initial-cluster-token]
//                                     [--initial-advertise-peer-urls] [--skip-hash-check]
//   cairnutl version
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "ctl/args.h"
#include "utl/snapshot.h"

namespace {

using namespace cairn;

struct Args {
  std::string write_out = "simple";
  std::vector<std::string> files;
  server::node::RestoreOptions restore;
  std::string data_dir;
};

void add_restore_flags(CLI::App& restore, Args& a) {
  restore.add_option("--data-dir", a.data_dir, "Path to the data directory (default: <name>.etcd)");
  restore.add_option("--name", a.restore.name, "Human-readable name for this member")->default_val("default");
  restore
      .add_option("--initial-cluster", a.restore.initial_cluster,
                  "Initial cluster configuration for restore bootstrap")
      ->default_val("default=http://localhost:2380");
  restore.add_option("--initial-cluster-token", a.restore.initial_cluster_token, "Initial cluster token")
      ->default_val("etcd-cluster");
  restore
      .add_option("--initial-advertise-peer-urls", a.restore.initial_advertise_peer_urls,
                  "peer URLs of this member")
      ->default_val("http://localhost:2380");
  restore.add_flag("--skip-hash-check", a.restore.skip_hash_check,
                   "Ignore snapshot integrity hash value (required if copied from data directory)");
}

int one_file(const Args& a, const char* command) {
  if (a.files.size() == 1) return -1;
  std::fprintf(stderr, "Error: snapshot %s requires exactly one argument\n", command);
  return ctl::kExitBadArgs;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"cairnutl: offline tool for cairn (and etcd) snapshots and data directories", "cairnutl"};
  app.require_subcommand(1);
  app.fallthrough();  // -w after the subcommand, as cobra accepts persistent flags anywhere
  app.add_option("-w,--write-out", a.write_out, "set the output format (fields, json, simple, table)");
  auto* version = app.add_subcommand("version", "Prints the version of cairnutl");
  auto* snapshot = app.add_subcommand("snapshot", "Manages etcd node snapshots")->require_subcommand(1);
  auto* status = snapshot->add_subcommand("status", "Gets backend snapshot status of a given file");
  status->add_option("file", a.files);
  auto* restore =
      snapshot->add_subcommand("restore", "Restores an etcd member snapshot to an etcd directory");
  restore->add_option("file", a.files);
  add_restore_flags(*restore, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "Error: %s\n", e.what());
    return ctl::kExitBadArgs;
  }
  if (version->parsed()) {
    std::printf("cairnutl version: 0.1.0\nAPI version: 3.4\n");
    return 0;
  }
  auto fmt = ctl::parse_output_format(a.write_out);
  if (!fmt) {
    std::fprintf(stderr, "Error: unsupported output format %s\n", a.write_out.c_str());
    return ctl::kExitBadFeature;
  }
  if (status->parsed()) {
    if (int rc = one_file(a, "status"); rc >= 0) return rc;
    return utl::snapshot_status(a.files[0], ctl::PrintOptions{*fmt, false});
  }
  if (int rc = one_file(a, "restore"); rc >= 0) return rc;
  a.restore.snapshot_path = a.files[0];
  a.restore.data_dir = a.data_dir.empty() ? a.restore.name + ".etcd" : a.data_dir;
  return utl::snapshot_restore(a.restore);
}
