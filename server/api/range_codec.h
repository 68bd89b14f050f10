// KV.Range responses encoded straight from the store's result into the framed gRPC buffer.
//
// Why not protobuf: building an etcdserverpb::RangeResponse copies every key and value once more, and
// serializing it then framing the string (net::frame_message) makes a third and fourth copy. Here the
// exact encoded size is computed first (for the 5-byte gRPC prefix), then each key-value is appended to
// 1 MiB pieces (net::FramedMessage) and freed at once, so the store's result shrinks while the response
// grows and the pieces reuse the memory just freed: the result is held about once.
//
// Wire format (proto3, fields in number order, as protobuf's serializer writes them, so the bytes equal
// RangeResponse::SerializeAsString of the same message; defaults omitted):
//   RangeResponse: 1 header (ResponseHeader, always present), 2 kvs (repeated mvccpb.KeyValue),
//                  3 more (bool), 4 count (int64)
//   KeyValue:      1 key, 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease
#pragma once

#include "proto/etcd/rpc.pb.h"
#include "server/net/server.h"
#include "storage/requests.h"

namespace cairn::server::api {

// Consumes `r` (its keys and values are freed as they are written). `header` is written as given.
net::FramedMessage encode_range_response(const etcdserverpb::ResponseHeader& header,
                                         storage::RangeResponse&& r);

// One KV.RangeStream message, RangeStreamResponse{1: range_response}, unprefixed (ServerStream::write
// frames it), in one string. `header` null: the RangeResponse has no header field (a chunk before the
// last, server/api/range_stream.h). Consumes `r` like encode_range_response.
std::string encode_range_stream_message(const etcdserverpb::ResponseHeader* header,
                                        storage::RangeResponse&& r);

}  // namespace cairn::server::api
