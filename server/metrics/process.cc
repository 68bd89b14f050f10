#include "server/metrics/process.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cairn::server::metrics {

namespace {

// /proc/self/stat's fields after the command name (which may contain spaces), 1-based as in proc(5).
std::vector<std::string> stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return {};
  auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::vector<std::string> f(3);  // fields 1 (pid) and 2 (comm) are skipped
  std::istringstream rest(line.substr(close + 1));
  for (std::string s; rest >> s;)
    f.push_back(s);
  return f;
}

double boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string key; in >> key;) {
    if (key == "btime") {
      double v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

double open_fds() {
  std::error_code ec;
  double n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n > 0 ? n - 1 : 0;  // the directory iterator's own descriptor
}

}  // namespace

void collect_process(Families& out) {
  auto f = stat_fields();
  if (f.size() < 25) return;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              (std::stod(f[14]) + std::stod(f[15])) / ticks);
  out.gauge("process_open_fds", "Number of open file descriptors.", open_fds());
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0)
    out.gauge("process_max_fds", "Maximum number of open file descriptors.",
              static_cast<double>(lim.rlim_cur));
  out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", std::stod(f[23]));
  out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", std::stod(f[24]) * page);
  out.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            boot_time_seconds() + std::stod(f[22]) / ticks);
}

}  // namespace cairn::server::metrics
