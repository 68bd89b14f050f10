// Fail-stop for states a member must not continue from: the line goes to the log at zap's fatal level
// with its fields, then the process exits at once with a code naming the kind of failure (no stack
// unwinding, no destructors: other threads may still hold the state that could not be made safe).
//
// Exit codes (distinct from the usage/start-up error 1 and from a signal such as SIGABRT's 134):
//   65 (EX_DATAERR)  a committed entry this member cannot decode, or of a kind it does not know: applying
//                    it as a no-op would let this member diverge from the others (in a rolling upgrade,
//                    the others may know the kind). Upgrade the member, then restart it.
//   74 (EX_IOERR)    the WAL or the store failed where the member cannot go on without losing durability
//                    (metadata of an applied membership change not synced, say).
#pragma once

#include <source_location>
#include <string_view>

#include "server/log/log.h"

namespace cairn::server::node {

enum class FatalExit : int {
  kUndecodableEntry = 65,
  kStorage = 74,
};

[[noreturn]] void fatal_stop(FatalExit code, std::string_view msg, log::Fields fields = {},
                             std::source_location where = std::source_location::current());

}  // namespace cairn::server::node
