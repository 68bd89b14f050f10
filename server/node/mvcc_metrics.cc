#include "server/node/mvcc_metrics.h"

#include <type_traits>
#include <variant>

namespace cairn::server::node {

namespace {
void count_txn(const storage::TxnResponse& t, MvccOpCounts& c) {
  for (const auto& op : t.responses) {
    std::visit(
        [&](const auto& r) {
          using T = std::decay_t<decltype(r)>;
          if constexpr (std::is_same_v<T, storage::RangeResponse>) {
            ++c.ranges;
          } else if constexpr (std::is_same_v<T, storage::PutResponse>) {
            ++c.puts;
          } else if constexpr (std::is_same_v<T, storage::DeleteRangeResponse>) {
            ++c.deletes;
          } else {
            count_txn(*r, c);
          }
        },
        op.response);
  }
}
}  // namespace

MvccOpCounts count_mvcc_ops(const storage::ApplyResponse& response) {
  MvccOpCounts c;
  if (std::holds_alternative<storage::PutResponse>(response)) c.puts = 1;
  if (std::holds_alternative<storage::DeleteRangeResponse>(response)) c.deletes = 1;
  if (const auto* t = std::get_if<storage::TxnResponse>(&response)) count_txn(*t, c);
  return c;
}

}  // namespace cairn::server::node
