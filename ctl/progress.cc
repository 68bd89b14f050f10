#include "ctl/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cairn::ctl {

bool ProgressBar::enabled() {
  const char* force = std::getenv("CAIRNCTL_PROGRESS");
  if (force && std::strcmp(force, "1") == 0) return true;
  if (force && std::strcmp(force, "0") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1;
}

ProgressBar::ProgressBar(std::function<std::string(double)> line)
    : line_(std::move(line)), start_(std::chrono::steady_clock::now()) {
  if (!enabled()) {
    stopped_ = true;
    return;
  }
  thread_ = std::thread([this] {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      draw();
      cv_.wait_for(lk, kRedrawInterval, [this] { return stopping_; });
    }
  });
}

ProgressBar::~ProgressBar() {
  stop();
}

void ProgressBar::draw() {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string s = "\r" + line_(el) + "\033[K";
  std::fwrite(s.data(), 1, s.size(), stderr);
  std::fflush(stderr);
}

void ProgressBar::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  draw();
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace cairn::ctl
