#include "ctl/snapshot.h"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ctl/format.h"

namespace cairn::ctl {

std::vector<std::string> cairnutl_args(const Invocation& inv) {
  std::vector<std::string> a = {"snapshot"};
  if (inv.command == "snapshot status") {
    a.push_back("status");
    a.push_back("--write-out=" + inv.g.write_out);
  } else {
    a.push_back("restore");
    a.push_back("--name=" + inv.name);
    if (!inv.data_dir.empty()) a.push_back("--data-dir=" + inv.data_dir);
    a.push_back("--initial-cluster=" + inv.initial_cluster);
    a.push_back("--initial-cluster-token=" + inv.initial_cluster_token);
    a.push_back("--initial-advertise-peer-urls=" + inv.initial_advertise_peer_urls);
    if (inv.skip_hash_check) a.push_back("--skip-hash-check");
  }
  // After "--" every argument is a file, even one that starts with '-'.
  a.push_back("--");
  a.insert(a.end(), inv.args.begin(), inv.args.end());
  return a;
}

int exec_cairnutl(const Invocation& inv) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string path =
      (ec ? std::filesystem::path("cairnutl") : self.parent_path() / "cairnutl").string();
  std::vector<std::string> args = cairnutl_args(inv);
  args.insert(args.begin(), path);
  std::vector<char*> argv;
  for (auto& s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  // The signal thread blocks these in every thread; cairnutl should see them as usual.
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  execv(path.c_str(), argv.data());
  std::fprintf(stderr, "Error: %s runs cairnutl, the offline tool installed next to cairnctl: exec %s: %s\n",
               inv.command.c_str(), path.c_str(), std::strerror(errno));
  return kExitError;
}

}  // namespace cairn::ctl
