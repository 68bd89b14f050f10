// A live one-line progress bar on stderr for long operations (bench, snapshot save, check perf).
// It is drawn only when stderr is a terminal, so logs and pipes stay clean; a background thread redraws
// the line every redraw_interval and stop() draws it a last time and ends it with a newline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace cairn::ctl {

class ProgressBar {
 public:
  static constexpr std::chrono::milliseconds kRedrawInterval{200};
  // Columns used by the bar itself (the counts and times are printed around it).
  static constexpr int kBarWidth = 40;

  // `line(elapsed_s)` renders the current state (see bench_report.h render_progress).
  explicit ProgressBar(std::function<std::string(double elapsed_s)> line);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void stop();
  // Whether bars are drawn at all (stderr is a terminal, or CAIRNCTL_PROGRESS=1 forces it).
  static bool enabled();

 private:
  void draw();

  std::function<std::string(double)> line_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace cairn::ctl
