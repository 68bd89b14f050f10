// The bbolt file format (version 2), as the reader (reader.h) and writer (writer.h) in this folder
// read and write it. bbolt is the B+tree file etcd keeps its backend in (member/snap/db) and streams
// as a snapshot; this description was written from bbolt's documentation and the behaviour of its
// files, and is the reference for both sides here.
//
// Byte order: integers are stored in the machine's native order, which for every platform etcd ships
// on (amd64, arm64, ppc64le) is little-endian. Big-endian files (s390x) are refused: their magic
// reads backwards.
//
// Pages. The file is an array of pages of `page_size` bytes (the first meta page names the size;
// 4096 on Linux). A page id (pgid, u64) is its index: page N starts at byte N * page_size. Every page
// starts with a 16-byte header:
//
//   u64 id        the page's own id (a reader checks it against the id it followed)
//   u16 flags     0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist
//   u16 count     elements on the page (freelist: ids, see below)
//   u32 overflow  further pages this one spans: a node bigger than a page occupies 1 + overflow
//                 consecutive pages and is read as one buffer
//
// Meta pages. Pages 0 and 1 are meta pages; after the header comes (64 bytes):
//
//   u32 magic 0xED0CDAED | u32 version 2 | u32 page_size | u32 flags (0)
//   u64 root bucket's root page | u64 root bucket's sequence
//   u64 freelist page (0xFFFFFFFFFFFFFFFF: none, the free pages are recomputed by whoever opens it;
//       etcd runs bbolt that way, so etcd's files have none)
//   u64 pgid: the high-water mark, the number of pages in use; the file holds at least this many
//   u64 txid: the transaction that wrote this meta page (page txid % 2 holds it)
//   u64 checksum: FNV-1a 64 of the 56 bytes before it
//
// bbolt commits by writing all new pages, then one meta page; the valid meta (magic, version,
// checksum) with the higher txid is the current state, so a torn meta write falls back to the other.
//
// Branch and leaf pages hold one B+tree node. After the header come `count` fixed 16-byte elements,
// then the keys and values they point into:
//
//   branch element: u32 pos | u32 ksize | u64 child pgid
//   leaf element:   u32 flags (0x01: the value is a nested bucket) | u32 pos | u32 ksize | u32 vsize
//
// `pos` is the distance from the start of the element itself to its key; a leaf's value follows its
// key. Keys are unique, non-empty and strictly increasing (bytewise) within a node and across the
// leaves of a tree from left to right. A branch element's key is at most the smallest key of its
// child's subtree (bbolt writes the child's first key), and every key in that subtree is below the
// next element's key. Nodes are never empty except the leaf root of an empty tree.
//
// Buckets. A bucket is a B+tree of its own. The meta page's root bucket holds the top-level buckets
// (etcd's "key", "meta", ...) as leaf elements with flag 0x01 whose value is a bucket header:
//
//   u64 root pgid | u64 sequence (bbolt's NextSequence counter)
//
// An inline bucket (root pgid 0) carries its only node in the value right after the header: a page
// header (id 0, leaf flag) and its elements, as on a page but only as long as its contents. bbolt
// inlines a bucket whose node fits in a quarter page and has no nested buckets.
//
// Freelist page: `count` u64 page ids that are free; when count is 0xFFFF the real count is the first
// u64 and the ids follow it. The freelist may itself span overflow pages. With a freelist, every page
// below pgid is either reachable from the root bucket, a meta page, the freelist, or listed free
// (bbolt's consistency check, which `etcdctl snapshot status` runs); without one, unreachable pages
// are free.
//
// etcd snapshots: `Maintenance.Snapshot` streams the file's pgid * page_size bytes followed by the
// SHA-256 of those bytes (32 bytes); sizes are multiples of 512, so a size % 512 == 32 has a digest.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/expected.h"

namespace cairn::storage::bbolt {

inline constexpr uint32_t kMagic = 0xED0CDAED;
inline constexpr uint32_t kVersion = 2;
inline constexpr size_t kPageHeaderBytes = 16;
inline constexpr size_t kMetaBytes = 64;     // after the page header; the checksum is its last 8 bytes
inline constexpr size_t kElementBytes = 16;  // branch and leaf elements alike
inline constexpr size_t kBucketHeaderBytes = 16;
inline constexpr uint64_t kNoFreelist = ~0ull;
inline constexpr uint16_t kBranchPage = 0x01;
inline constexpr uint16_t kLeafPage = 0x02;
inline constexpr uint16_t kMetaPage = 0x04;
inline constexpr uint16_t kFreelistPage = 0x10;
inline constexpr uint32_t kBucketElement = 0x01;  // leaf element flag: the value is a bucket
// The freelist count value that means "the count is the first u64".
inline constexpr uint16_t kFreelistCountInline = 0xFFFF;
// bbolt's limits on what it stores (Put refuses more): the writer keeps to them.
inline constexpr size_t kKeyBytesMax = 32768;
inline constexpr size_t kValueBytesMax = (1u << 31) - 2;
// Page sizes accepted when reading (bbolt writes the OS page size: 4 KiB, 16 KiB or 64 KiB).
inline constexpr uint32_t kPageSizeMin = 1024;
inline constexpr uint32_t kPageSizeMax = 64 * 1024;

inline uint16_t load_u16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t load_u64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store_u16(char* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}
inline void store_u32(char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
inline void store_u64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the bbolt reader/writer assume a little-endian host");

struct PageHeader {
  uint64_t id = 0;
  uint16_t flags = 0;
  uint16_t count = 0;
  uint32_t overflow = 0;
};
PageHeader decode_page_header(const char* p);
void encode_page_header(const PageHeader& h, char* p);

struct Meta {
  uint32_t page_size = 0;
  uint32_t flags = 0;
  uint64_t root = 0;  // root bucket's root page
  uint64_t root_sequence = 0;
  uint64_t freelist = kNoFreelist;
  uint64_t page_count = 0;  // bbolt's pgid: the high-water mark
  uint64_t txid = 0;
};
// Decodes the meta after a page header (`bytes` holds at least kMetaBytes); refuses a wrong magic,
// version or checksum, with the reason.
Expected<Meta, std::string> decode_meta(std::string_view bytes);
// Writes the kMetaBytes of `m` with its checksum.
void encode_meta(const Meta& m, char* out);

uint64_t fnv1a64(std::string_view bytes);

}  // namespace cairn::storage::bbolt
