// MemoryPipe: two connected in-memory ByteStreams, for calls a member makes to its own client port
// (Lock/Election run their recipes as clients of the member, as etcd's v3lock/v3election do) without a
// socket, a TLS handshake or a kernel round trip.
//
// Each direction is a queue of chunks of at most kChunkBytes, at most kChunksMax of them: a writer
// waits while kChunksMax * kChunkBytes (1 MiB) are unread, so a reader that stops reading bounds the
// memory a pipe holds. The two ends may live on different strands (or threads): the queues are
// thread-safe Asio channels, and each operation completes on the awaiting coroutine's executor.
//
// close() on an end is as a socket's close: what it wrote stays readable by the other end, which then
// reads end of stream; the other end's writes from then on fail; the closing end's own pending operations
// complete with an error. The destructor closes.
//
// Lifetime: the queues belong to the execution context of the executor the pipe was made with (the
// dialing end's); that io_context must outlive both ends, or destroying the last end touches its freed
// channel service. In a member both ends run on the same long-lived io_context.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "wire/byte_stream.h"

namespace cairn::wire {

struct MemoryPipeEnd {
  boost::asio::any_io_executor executor;
  std::string remote_address;    // what this end reports as the other end's address
  std::string peer_common_name;  // what this end reports as the other end's verified certificate CN
};

struct MemoryPipe {
  static constexpr std::size_t kChunkBytes = 64 * 1024;
  static constexpr std::size_t kChunksMax = 16;

  std::unique_ptr<ByteStream> a;
  std::unique_ptr<ByteStream> b;
};

MemoryPipe make_memory_pipe(MemoryPipeEnd a, MemoryPipeEnd b);

}  // namespace cairn::wire
