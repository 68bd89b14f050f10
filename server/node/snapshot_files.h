// The store part of a raft snapshot sent to a member that is too far behind: a directory (a store
// checkpoint, see storage::KvEngine::checkpoint) packed into one byte string, and the data blob of a
// cairn raft snapshot message that carries it next to the membership.
//
// Packed directory (integers big-endian):
//   "CAIRNDIR" | u32 file count | per file: u32 name length | name | u64 size | bytes
//   | u32 crc32c of everything before it
// Names are plain file names (no '/' or NUL, not "." or "..", at most NAME_MAX bytes): checkpoints are
// flat directories.
//
// Snapshot data blob (raft::Snapshot::data of a MsgSnap between members):
//   u32 metadata length | metadata (Node's WAL metadata blob: conf state + members) | packed directory
//
// Unpacking writes every file, fsyncs each one and then the directory, so a directory that
// unpack_dir() returned success for is durable. Crash behaviour of installing it:
// store_install.h and docs/architecture.md.
#pragma once

#include <string>
#include <string_view>

#include "base/expected.h"

namespace cairn::server::node {

// Packs the regular files of `dir` (no subdirectories allowed).
Expected<std::string, std::string> pack_dir(const std::string& dir);
// A name a packed directory may hold (see above).
bool valid_packed_name(std::string_view name);
// Checks a packed directory without touching the disk: checksum, header, every file entry, no repeated
// name, no trailing bytes. unpack_dir() runs it first; a member runs it on a snapshot before raft sees the
// snapshot.
Expected<bool, std::string> validate_packed(std::string_view packed);
// Creates `dir` (which must not exist) holding the files of `packed`. On error, `dir` may hold a part.
Expected<bool, std::string> unpack_dir(std::string_view packed, const std::string& dir);

std::string encode_snapshot_data(std::string_view metadata, std::string_view packed_store);
// Splits a snapshot data blob; false if malformed.
bool decode_snapshot_data(std::string_view data, std::string_view* metadata, std::string_view* packed_store);

}  // namespace cairn::server::node
