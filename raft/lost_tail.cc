#include "raft/lost_tail.h"

#include <cstdio>

namespace cairn::raft {

void LostTail::on_new_term() {
  if (state_ != State::kCatchingUp) return;
  state_ = State::kAwaitingTarget;
  target_ = 0;
}

void LostTail::on_loss_found() {
  if (state_ == State::kIntact) state_ = State::kAwaitingTarget;
  report_due_ = true;
}

void LostTail::on_answer(uint64_t nonce, Index target) {
  if (!active() || nonce == 0 || nonce != nonce_) return;
  if (state_ == State::kAwaitingTarget) {
    state_ = State::kCatchingUp;
    target_ = target;
  }
}

bool LostTail::on_matched(Index index) {
  if (state_ != State::kCatchingUp || index < target_) return false;
  state_ = State::kIntact;
  target_ = 0;
  report_due_ = false;
  return true;
}

std::string LostTail::encode_nonce(uint64_t nonce) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(nonce));
  return buf;
}

uint64_t LostTail::decode_nonce(const std::string& context) {
  if (context.size() != 16) return 0;
  uint64_t v = 0;
  for (char c : context) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return 0;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

const char* to_string(LostTail::State s) {
  switch (s) {
    case LostTail::State::kIntact:
      return "intact";
    case LostTail::State::kAwaitingTarget:
      return "awaiting-target";
    case LostTail::State::kCatchingUp:
      return "catching-up";
  }
  return "?";
}

}  // namespace cairn::raft
