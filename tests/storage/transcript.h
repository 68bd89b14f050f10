// Data-driven MVCC transcripts (in the style of etcd-io/raft's testdata): a text file of commands
// and the output each one must produce. Blocks look like
//
//   # comment
//   put foo bar lease=7 prev_kv
//   ----
//   rev=2
//
// A block is one or more input lines, a `----` line, and the expected output up to a blank line.
// Multi-line input is used by `txn`. Keys and values are tokens without spaces; `\xNN` escapes
// any byte (and the printer escapes non-printable bytes the same way).
//
// Commands (options are `name` or `name=value`):
//   put <key> <value> [lease=N] [prev_kv] [ignore_value] [ignore_lease]      (value `-` = empty)
//   get <key> [end=K] [prefix] [from_key] [rev=N] [limit=N] [sort=TARGET[:ORDER]] [keys_only]
//       [count_only] [min_mod=N] [max_mod=N] [min_create=N] [max_create=N]
//       TARGET: key|version|create|mod|value, ORDER: none|asc|desc
//   del <key> [end=K] [prefix] [from_key] [prev_kv]
//   txn             followed by lines `cmp TARGET(KEY[,END]) OP ARG`, `then <put|get|del ...>`,
//                   `else <put|get|del ...>` (OP: = != < >)
//   compact <rev>
//   lease-grant <id> <ttl> | lease-revoke <id> | lease-checkpoint <id> <remaining> | lease <id>
//   alarm get|activate|deactivate
//   hashkv [rev]    prints only whether the call succeeded and the compact revision
//   options [quota=BYTES] [txn_ops_max=N]   replaces the store by a fresh one with these options
//   reopen          closes and reopens the store over the same data (recovery check)
//   status          current revision, compact revision, applied index
//
// Set CAIRN_REWRITE=1 (or pass --rewrite to storage_tests) to regenerate expected outputs; read the
// diff before committing it.
#pragma once

#include <string>

#include "tests/storage/harness.h"

namespace cairn::storage::testing {

void set_rewrite(bool on);
bool rewrite_enabled();

// Runs one transcript file against a fresh store on `kind`. Returns an empty string when every
// block matched (or after rewriting), else a description of the first mismatch.
std::string run_transcript(const std::string& path, EngineKind kind);

// Formatting shared with other tests.
std::string escape(const std::string& s);
std::string format_kv(const KeyValue& kv);

}  // namespace cairn::storage::testing
