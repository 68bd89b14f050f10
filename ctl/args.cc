#include "ctl/args.h"

#include <CLI/CLI.hpp>
#include <cmath>

namespace cairn::ctl {

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  std::size_t i = 0;
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    ++i;
  }
  if (i >= s.size()) return std::nullopt;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.'))
      ++j;
    if (j == i) return std::nullopt;
    double v = std::strtod(std::string(s.substr(i, j - i)).c_str(), nullptr);
    std::size_t k = j;
    while (k < s.size() && !std::isdigit(static_cast<unsigned char>(s[k])) && s[k] != '.')
      ++k;
    std::string_view unit = s.substr(j, k - j);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "µs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return std::nullopt;
    total += v * mult;
    i = k;
  }
  if (total > 9.2e18) return std::nullopt;
  auto ns = std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(total)));
  return neg ? -ns : ns;
}

std::optional<OutputFormat> parse_output_format(std::string_view s) {
  if (s == "simple") return OutputFormat::kSimple;
  if (s == "json") return OutputFormat::kJson;
  if (s == "fields") return OutputFormat::kFields;
  if (s == "table") return OutputFormat::kTable;
  if (s == "protobuf") return OutputFormat::kProtobuf;
  return std::nullopt;
}

std::optional<int> parse_args(int argc, const char* const* argv, Invocation& inv, std::string& out,
                              std::string& err) {
  // Everything after the first "--" belongs to the command run by lock/watch.
  std::vector<std::string> words;
  bool after = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!after && a == "--") {
      after = true;
      continue;
    }
    (after ? inv.exec_args : words).push_back(a);
  }

  CLI::App app{"cairnctl: a command-line client for etcd-compatible servers (cairn, etcd)", "cairnctl"};
  app.fallthrough();
  // As with cobra, a flag given twice takes its last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.allow_windows_style_options(false);
  auto& g = inv.g;
  app.add_option("--endpoints", g.endpoints, "gRPC endpoints")->envname("ETCDCTL_ENDPOINTS");
  app.add_option("--dial-timeout", g.dial_timeout, "dial timeout for client connections")
      ->envname("ETCDCTL_DIAL_TIMEOUT");
  app.add_option("--command-timeout", g.command_timeout,
                 "timeout for short running command (excluding dial timeout)")
      ->envname("ETCDCTL_COMMAND_TIMEOUT");
  app.add_option("--keepalive-time", g.keepalive_time, "keepalive time for client connections")
      ->envname("ETCDCTL_KEEPALIVE_TIME");
  app.add_option("--keepalive-timeout", g.keepalive_timeout, "keepalive timeout for client connections")
      ->envname("ETCDCTL_KEEPALIVE_TIMEOUT");
  app.add_option("--max-recv-bytes", g.max_recv_bytes,
                 "client-side response receive limit in bytes (if 0, it defaults to \"math.MaxInt32\")")
      ->envname("ETCDCTL_MAX_RECV_BYTES");
  app.add_option("-w,--write-out", g.write_out,
                 "set the output format (fields, json, protobuf, simple, table)")
      ->envname("ETCDCTL_WRITE_OUT");
  app.add_flag("--hex", g.hex, "print byte strings as hex encoded strings")->envname("ETCDCTL_HEX");
  app.add_flag("--debug", g.debug, "enable client-side debug logging")->envname("ETCDCTL_DEBUG");
  app.add_option("--user", g.user, "username[:password] for authentication")->envname("ETCDCTL_USER");
  app.add_option("--password", g.password, "password for authentication")->envname("ETCDCTL_PASSWORD");
  app.add_option("--cacert", g.cacert,
                 "verify certificates of TLS-enabled secure servers using this CA bundle")
      ->envname("ETCDCTL_CACERT");
  app.add_option("--cert", g.cert, "identify secure client using this TLS certificate file")
      ->envname("ETCDCTL_CERT");
  app.add_option("--key", g.key, "identify secure client using this TLS key file")->envname("ETCDCTL_KEY");
  app.add_flag("--insecure-skip-tls-verify", g.insecure_skip_tls_verify,
               "skip server certificate verification")
      ->envname("ETCDCTL_INSECURE_SKIP_TLS_VERIFY");
  app.add_flag("--insecure-transport", g.insecure_transport,
               "disable transport security for client connections")
      ->envname("ETCDCTL_INSECURE_TRANSPORT");
  app.add_option("-d,--discovery-srv", g.discovery_srv,
                 "domain name to query for SRV records (not supported)");

  auto positional = [&](CLI::App* c) { c->add_option("args", inv.args)->allow_extra_args(); };

  auto* get = app.add_subcommand("get", "Gets the key or a range of keys");
  positional(get);
  get->add_flag("--prefix", inv.get.prefix, "Get keys with matching prefix");
  get->add_flag("--from-key", inv.get.from_key, "Get keys that are greater than or equal to the given key");
  get->add_option("--rev", inv.get.rev, "Specify the kv revision");
  get->add_option("--limit", inv.get.limit, "Maximum number of results");
  get->add_option("--sort-by", inv.get.sort_by, "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION");
  get->add_option("--order", inv.get.order, "Order of results; ASCEND or DESCEND");
  get->add_flag("--keys-only", inv.get.keys_only, "Get only the keys");
  get->add_flag("--count-only", inv.get.count_only, "Get only the count");
  get->add_flag("--print-value-only", inv.get.print_value_only,
                "Only write values when using the simple format");
  get->add_option("--consistency", inv.get.consistency, "Linearizable(l) or Serializable(s)");
  get->add_flag("--stream", inv.get.stream,
                "Get the range in chunks with KV.RangeStream (etcd 3.7), bounding the server's memory");

  auto* put = app.add_subcommand("put", "Puts the given key into the store");
  positional(put);
  put->add_option("--lease", inv.put.lease, "lease ID (in hexadecimal) to attach to the key");
  put->add_flag("--prev-kv", inv.put.prev_kv, "return the previous key-value pair before modification");
  put->add_flag("--ignore-value", inv.put.ignore_value, "updates the key using its current value");
  put->add_flag("--ignore-lease", inv.put.ignore_lease, "updates the key using its current lease");

  auto* del = app.add_subcommand("del", "Removes the specified key or range of keys [key, range_end)");
  positional(del);
  del->add_flag("--prefix", inv.del.prefix, "delete keys with matching prefix");
  del->add_flag("--from-key", inv.del.from_key,
                "delete keys that are greater than or equal to the given key");
  del->add_flag("--prev-kv", inv.del.prev_kv, "return deleted key-value pairs");

  auto* txn = app.add_subcommand("txn", "Txn processes all the requests in one transaction");
  positional(txn);
  txn->add_flag("-i,--interactive", inv.interactive, "Input transaction in interactive mode");

  auto* compaction = app.add_subcommand("compaction", "Compacts the event history in etcd");
  positional(compaction);
  compaction->add_flag("--physical", inv.physical,
                       "wait for the compaction to physically remove all old revisions");

  auto* watch = app.add_subcommand("watch", "Watches events stream on keys or prefixes");
  positional(watch);
  watch->add_flag("-i,--interactive", inv.interactive, "Interactive mode");
  watch->add_flag("--prefix", inv.watch_prefix, "Watch on a prefix if prefix is set");
  watch->add_option("--rev", inv.watch_rev, "Revision to start watching");
  watch->add_flag("--prev-kv", inv.watch_prev_kv, "get the previous key-value pair before the event happens");

  auto* lease = app.add_subcommand("lease", "Lease related commands")->require_subcommand(1);
  positional(lease->add_subcommand("grant", "Creates leases"));
  positional(lease->add_subcommand("revoke", "Revokes leases"));
  auto* ttl = lease->add_subcommand("timetolive", "Get lease information");
  positional(ttl);
  ttl->add_flag("--keys", inv.keys, "Get keys attached to this lease");
  positional(lease->add_subcommand("list", "List all active leases"));
  auto* ka = lease->add_subcommand("keep-alive", "Keeps leases alive (renew)");
  positional(ka);
  ka->add_flag("--once", inv.once, "Resets the keep-alive time to its original value and exits immediately");

  auto* member = app.add_subcommand("member", "Membership related commands")->require_subcommand(1);
  auto* madd = member->add_subcommand("add", "Adds a member into the cluster");
  positional(madd);
  madd->add_option("--peer-urls", inv.peer_urls, "comma separated peer URLs for the new member");
  madd->add_flag("--learner", inv.learner, "indicates if the new member is raft learner");
  positional(member->add_subcommand("remove", "Removes a member from the cluster"));
  auto* mupd = member->add_subcommand("update", "Updates a member in the cluster");
  positional(mupd);
  mupd->add_option("--peer-urls", inv.peer_urls, "comma separated peer URLs for the updated member");
  positional(member->add_subcommand("list", "Lists all members in the cluster"));
  positional(member->add_subcommand("promote", "Promotes a non-voting member in the cluster"));

  auto* endpoint = app.add_subcommand("endpoint", "Endpoint related commands")->require_subcommand(1);
  endpoint->add_flag("--cluster", inv.cluster, "use all endpoints from the cluster member list");
  positional(endpoint->add_subcommand("health", "Checks the healthiness of endpoints"));
  positional(endpoint->add_subcommand("status", "Prints out the status of endpoints"));
  auto* hashkv = endpoint->add_subcommand("hashkv", "Prints the KV history hash for each endpoint");
  positional(hashkv);
  hashkv->add_option("--rev", inv.hashkv_rev, "maximum revision to hash (default: all revisions)");

  auto* alarm = app.add_subcommand("alarm", "Alarm related commands")->require_subcommand(1);
  positional(alarm->add_subcommand("disarm", "Disarms all alarms"));
  positional(alarm->add_subcommand("list", "Lists all alarms"));

  auto* defrag = app.add_subcommand("defrag", "Defragments the storage of the etcd members");
  positional(defrag);
  defrag->add_flag("--cluster", inv.cluster, "use all endpoints from the cluster member list");

  auto* snapshot = app.add_subcommand("snapshot", "Manages etcd node snapshots")->require_subcommand(1);
  positional(snapshot->add_subcommand("save", "Stores an etcd node backend snapshot to a given file"));
  auto* restore =
      snapshot->add_subcommand("restore", "Restores an etcd member snapshot to an etcd directory");
  positional(restore);
  restore->add_option("--data-dir", inv.data_dir, "Path to the data directory");
  restore->add_option("--name", inv.name, "Human-readable name for this member");
  restore->add_option("--initial-cluster", inv.initial_cluster,
                      "Initial cluster configuration for restore bootstrap");
  restore->add_option("--initial-cluster-token", inv.initial_cluster_token, "Initial cluster token");
  restore->add_option("--initial-advertise-peer-urls", inv.initial_advertise_peer_urls,
                      "peer URLs of this member");
  restore->add_flag("--skip-hash-check", inv.skip_hash_check,
                    "Ignore snapshot integrity hash value (required if copied from data directory)");
  positional(snapshot->add_subcommand("status", "Gets backend snapshot status of a given file"));
  snapshot->footer(
      "Examples:\n"
      "  cairnctl --endpoints=127.0.0.1:2379 snapshot save backup.db\n"
      "  cairnctl snapshot status backup.db -w table\n"
      "  cairnctl snapshot restore backup.db --name m1 --data-dir /var/lib/cairn/m1 \\\n"
      "      --initial-cluster m1=http://10.0.0.1:2380,m2=http://10.0.0.2:2380,m3=http://10.0.0.3:2380 \\\n"
      "      --initial-cluster-token restored-1 --initial-advertise-peer-urls http://10.0.0.1:2380\n"
      "Start each restored member with the same --name, --initial-cluster, --initial-cluster-token and\n"
      "--initial-advertise-peer-urls that restore was given. Snapshots saved from etcd (bbolt) are refused.");

  positional(app.add_subcommand("move-leader", "Transfers leadership to another etcd cluster member"));
  auto* lock = app.add_subcommand("lock", "Acquires a named lock");
  positional(lock);
  lock->add_option("--ttl", inv.lock_ttl, "timeout for session");
  auto* elect = app.add_subcommand("elect", "Observes and participates in leader election");
  positional(elect);
  elect->add_flag("-l,--listen", inv.listen, "observation mode");
  positional(app.add_subcommand("version", "Prints the version of cairnctl"));

  auto* bench =
      app.add_subcommand("bench", "Benchmarks (etcd benchmark tool workloads)")->require_subcommand(1);
  bench->footer(
      "Examples:\n"
      "  cairnctl bench put --conns=10 --clients=100 --total=100000 --key-size=8 --val-size=256\n"
      "  cairnctl bench put --total=10000 --key-space-size=100000 --sequential-keys --rate=2000\n"
      "  cairnctl bench range foo --consistency=s --clients=100 --total=100000\n"
      "  cairnctl bench txn --txn-ops=4 --key-space-size=1000 --clients=50 --total=20000\n"
      "  cairnctl bench watch --streams=10 --watchers-per-stream=100 --put-total=1000 --put-rate=200\n"
      "  cairnctl bench lease-keepalive --clients=100 --total=100000\n"
      "The live progress bar is drawn on stderr when stderr is a terminal; the report goes to stdout.");
  auto common = [&](CLI::App* b) {
    positional(b);
    b->add_option("--conns", inv.conns, "Total number of gRPC connections");
    b->add_option("--clients", inv.clients, "Total number of gRPC clients");
    b->add_option("--rate", inv.rate, "Maximum requests per second across all clients (0 is no limit)");
  };
  auto sizes = [&](CLI::App* b, const char* key_default, const char* val_default) {
    b->add_option("--key-size", inv.key_size,
                  std::string("Key size of request (default ") + key_default + ")");
    b->add_option("--val-size", inv.val_size,
                  std::string("Value size of request (default ") + val_default + ")");
  };
  auto* bput = bench->add_subcommand("put", "Benchmark put: one Put per request");
  common(bput);
  sizes(bput, "8", "8");
  bput->add_option("--total", inv.total, "Total number of put requests");
  bput->add_option("--key-space-size", inv.key_space_size, "Maximum possible keys");
  bput->add_flag("--sequential-keys", inv.sequential_keys, "Use sequential keys");
  bput->add_option("--consistency", inv.bench_consistency,
                   "Accepted for compatibility (puts are linearizable)");
  auto* brange = bench->add_subcommand("range", "Benchmark range: range key [end-range]");
  common(brange);
  brange->add_option("--total", inv.total, "Total number of range requests");
  brange->add_option("--consistency", inv.bench_consistency, "Linearizable(l) or Serializable(s)");
  auto* btxn = bench->add_subcommand("txn", "Benchmark txn-put: one Txn of --txn-ops puts per request");
  btxn->alias("txn-put");
  common(btxn);
  sizes(btxn, "8", "8");
  btxn->add_option("--total", inv.total, "Total number of txn requests");
  btxn->add_option("--key-space-size", inv.key_space_size, "Maximum possible keys");
  btxn->add_option("--txn-ops", inv.txn_ops, "Number of puts per txn");
  auto* bwatch = bench->add_subcommand(
      "watch", "Benchmark watch: watchers on keys, then puts; reports event delivery latency");
  common(bwatch);
  sizes(bwatch, "32", "32");
  bwatch->add_option("--streams", inv.streams, "Total watch streams (spread over --conns)");
  bwatch->add_option("--watchers-per-stream", inv.watchers_per_stream, "Watchers on each stream");
  bwatch->add_option("--watched-key-total", inv.watched_key_total, "Distinct keys watched and written");
  bwatch->add_option("--put-total", inv.put_total, "Total number of puts (from --clients clients)");
  bwatch->add_option("--put-rate", inv.put_rate, "Puts per second (0 is no limit)");
  bwatch->add_flag("--prev-kv", inv.watch_prev_kv, "Ask for the previous key-value pair with each event");
  auto* blease = bench->add_subcommand("lease-keepalive", "Benchmark lease keep-alive round trips");
  common(blease);
  blease->add_option("--total", inv.total, "Total number of keep-alive requests");
  blease->add_option("--lease-ttl", inv.lease_ttl, "TTL in seconds of each client's lease");
  auto* user = app.add_subcommand("user", "User related commands")->require_subcommand(1);
  user->footer(
      "Examples:\n"
      "  cairnctl user add root:secret && cairnctl user grant-role root root && cairnctl auth enable\n"
      "  echo s3cret | cairnctl --user=root:secret user add alice --interactive=false\n"
      "  cairnctl --user=root:secret user get alice");
  auto* uadd = user->add_subcommand("add", "Adds a new user");
  positional(uadd);
  uadd->add_flag("--no-password", inv.no_password, "Create a user without password (CN based auth only)");
  uadd->add_flag("--interactive", inv.password_interactive,
                 "Read password from stdin instead of interactive terminal");
  uadd->add_option("--new-user-password", inv.new_user_password,
                   "Supply password from the command line flag");
  positional(user->add_subcommand("delete", "Deletes a user"));
  positional(user->add_subcommand("get", "Gets detailed information of a user"));
  positional(user->add_subcommand("list", "Lists all users"));
  auto* upw = user->add_subcommand("passwd", "Changes password of user");
  positional(upw);
  upw->add_flag("--interactive", inv.password_interactive,
                "If true, read password from stdin instead of interactive terminal");
  positional(user->add_subcommand("grant-role", "Grants a role to a user"));
  positional(user->add_subcommand("revoke-role", "Revokes a role from a user"));
  auto* role = app.add_subcommand("role", "Role related commands")->require_subcommand(1);
  role->footer(
      "Examples:\n"
      "  cairnctl role add reader\n"
      "  cairnctl role grant-permission reader read /app/ --prefix\n"
      "  cairnctl role revoke-permission reader /app/ --prefix");
  positional(role->add_subcommand("add", "Adds a new role"));
  positional(role->add_subcommand("delete", "Deletes a role"));
  positional(role->add_subcommand("get", "Gets detailed information of a role"));
  positional(role->add_subcommand("list", "Lists all roles"));
  for (const char* w : {"grant-permission", "revoke-permission"}) {
    auto* r = role->add_subcommand(
        w, std::string(w[0] == 'g' ? "Grants a key to a role" : "Revokes a key from a role"));
    positional(r);
    r->add_flag("--prefix", inv.perm_prefix, "grant a prefix permission");
    r->add_flag(
        "--from-key", inv.perm_from_key,
        "grant a permission of keys that are greater than or equal to the given key using byte compare");
  }
  auto* auth = app.add_subcommand("auth", "Enable or disable authentication")->require_subcommand(1);
  positional(auth->add_subcommand("enable", "Enables authentication"));
  positional(auth->add_subcommand("disable", "Disables authentication"));

  auto* check = app.add_subcommand("check", "commands for checking properties of the etcd cluster")
                    ->require_subcommand(1);
  auto* perf = check->add_subcommand("perf", "Check the performance of the etcd cluster");
  positional(perf);
  perf->add_option("--load", inv.perf_load,
                   "The performance check's workload model. Accepted workloads: s(small), m(medium), "
                   "l(large), xl(xLarge)");
  perf->add_option("--prefix", inv.perf_prefix, "The prefix for writing the performance check's keys.");
  perf->add_option("--duration", inv.perf_duration_s, "Seconds of load (cairnctl only; etcdctl runs 60)");
  auto* cluster = app.add_subcommand("cluster", "Cluster-wide views")->require_subcommand(1);
  positional(cluster->add_subcommand("status", "One table of every member"));

  std::vector<std::string> rev(words.rbegin(), words.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    std::ostringstream os;
    os << app.help();
    out = os.str();
    return kExitSuccess;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    // CLI11 words a stray positional like this; etcdctl (cobra) calls it an unknown command.
    if (!words.empty() && msg.find("not expected") != std::string::npos && app.get_subcommands().empty()) {
      err =
          "Error: unknown command \"" + words[0] + "\" for \"cairnctl\"\nRun 'cairnctl --help' for usage.\n";
      return kExitError;
    }
    err = "Error: " + msg + "\n";
    return kExitError;
  } catch (const std::exception& e) {
    err = std::string("Error: ") + e.what() + "\n";
    return kExitError;
  }
  // The chosen (sub)command path.
  CLI::App* cur = &app;
  for (;;) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    inv.command += (inv.command.empty() ? "" : " ") + cur->get_name();
  }
  if (inv.command.empty()) {
    out = app.help();
    return kExitSuccess;
  }
  return std::nullopt;
}

}  // namespace cairn::ctl
