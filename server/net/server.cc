// gRPC server connections (HTTP/2 via nghttp2), the acceptor and protocol sniffing.
#include "server/net/server.h"

#include <nghttp2/nghttp2.h>

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>

#include "server/net/server_internal.h"
#include "wire/h2_session.h"
#include "wire/memory_pipe.h"

namespace cairn::server::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace detail {

class GrpcServerConnection;

// One gRPC call = one HTTP/2 stream. Owned by the connection's map while the stream is open and by the
// handler coroutine while it runs; only touched on the connection's strand.
struct ServerCall {
  explicit ServerCall(const asio::any_io_executor& ex, std::size_t message_bytes_max)
      : deframer(message_bytes_max), read_wake(ex), write_wake(ex), deadline_timer(ex) {}

  GrpcServerConnection* conn = nullptr;  // kept alive by the handler coroutine's reference
  std::int32_t stream_id = 0;

  // Request headers.
  std::string path, method, content_type, grpc_encoding, timeout;
  bool saw_timeout = false;
  Metadata metadata;
  std::size_t header_bytes = 0;
  bool headers_too_large = false;
  std::optional<Clock::time_point> deadline;
  std::string peer;
  std::string peer_cn;  // verified client certificate's common name (TLS with client certificates)
  Clock::time_point received_at = Clock::now();  // for grpc_server_handling_seconds

  const UnaryHandler* unary = nullptr;
  const StreamHandler* stream = nullptr;
  CallMetrics::Method* metrics = nullptr;  // resolved with the route

  // Inbound messages.
  MessageDeframer deframer;
  std::deque<std::string> inbound;
  std::size_t inbound_bytes = 0;
  std::size_t unconsumed_bytes = 0;  // received but not yet returned to the flow-control window
  bool remote_closed = false;        // client sent END_STREAM

  // Outbound.
  OutboundQueue out;
  bool response_started = false;  // Response-Headers submitted
  bool data_deferred = false;     // data source returned NGHTTP2_ERR_DEFERRED
  bool final_decided = false;     // status chosen; no more messages accepted
  std::optional<Status> trailer_status;
  bool end_stream_sent = false;
  bool stream_closed = false;

  bool handler_running = false;
  bool cancelled = false;
  asio::steady_timer read_wake, write_wake, deadline_timer;
  asio::cancellation_signal cancel_signal;
};

class GrpcServerConnection final : public H2Session, public ConnectionHandle {
 public:
  GrpcServerConnection(std::shared_ptr<Server::Impl> server, std::shared_ptr<OpenConnectionCount> count,
                       std::unique_ptr<ByteStream> stream)
      : H2Session(std::move(stream), server->limits.write_stall_timeout),
        server_(server),
        limits_(server->limits),
        count_(std::move(count)),
        idle_timer_(executor()),
        grace_timer_(executor()),
        keepalive_timer_(executor()) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &on_frame_send);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // etcdctl sends ":authority: http://host:port" on some calls, which nghttp2's HTTP messaging checks
    // reject with PROTOCOL_ERROR (wire-compat doc 1.2); we check the few request rules gRPC needs.
    nghttp2_option_set_no_http_messaging(opt, 1);
    // Windows are replenished only when a handler takes messages (backpressure on streaming calls).
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, limits_.stream_reset_burst,
                                               limits_.stream_reset_rate_per_second);
    nghttp2_session_server_new2(&ng_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);

    // grpc-go requires SETTINGS to be the server's first frame (wire-compat doc 1.1).
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.concurrent_streams_max},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window_bytes},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(limits_.header_bytes_max)},
    };
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
    nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(limits_.connection_window_bytes));
  }

  void start(std::string initial) {
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    if (!server_->register_connection(self)) {
      shutting_down_ = true;
      submit_goaway();
    }
    arm_idle_timer();
    last_read_ = Clock::now();
    if (limits_.keepalive_time.count() > 0) arm_keepalive(limits_.keepalive_time);
    asio::co_spawn(executor(), run(std::move(initial)),
                   [self](std::exception_ptr) { self->server_->unregister_connection(self.get()); });
  }

  void begin_shutdown() override {
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    asio::post(executor(), [self] { self->shutdown_on_strand(); });
  }

  // --- used by ServerStream / handlers (on the strand) ---

  const ServerLimits& limits() const { return limits_; }

  void queue_message(ServerCall& call, std::string_view message) {
    start_response(call);
    push_outbound(call, frame_message(message));
    resume_data(call);
  }

  // `framed` already carries its gRPC prefix (FramedMessage).
  void queue_framed(ServerCall& call, std::vector<std::string> framed) {
    start_response(call);
    for (auto& piece : framed)
      push_outbound(call, std::move(piece));
    resume_data(call);
  }

  void finish_call(ServerCall& call, Status status) {
    if (call.final_decided || call.stream_closed) return;
    call.final_decided = true;
    if (call.unary || call.stream)
      server_->call_metrics.handled(call.metrics, status.code, Clock::now() - call.received_at);
    call.deadline_timer.cancel();
    call.read_wake.cancel();
    call.write_wake.cancel();
    if (!call.response_started) {
      // Trailers-Only: one HEADERS frame with END_STREAM.
      HeaderList h;
      h.add(":status", "200");
      h.add("content-type", "application/grpc");
      add_status(h, status);
      nghttp2_submit_response(ng_, call.stream_id, h.data(), h.size(), nullptr);
      call.response_started = true;
    } else {
      call.trailer_status = std::move(status);
      resume_data(call);
    }
    signal_write();
  }

  void cancel_handler(ServerCall& call) {
    if (call.cancelled) return;
    call.cancelled = true;
    call.read_wake.cancel();
    call.write_wake.cancel();
    if (call.handler_running) {
      server_->stats.calls_cancelled.fetch_add(1);
      call.cancel_signal.emit(asio::cancellation_type::terminal);
    }
  }

  // The handler took a message: give its bytes back to the flow-control windows when under the limit.
  void release_window(ServerCall& call) {
    if (call.unconsumed_bytes > 0 && call.inbound_bytes < limits_.stream_pending_read_bytes_max &&
        !call.stream_closed) {
      nghttp2_session_consume(ng_, call.stream_id, call.unconsumed_bytes);
      call.unconsumed_bytes = 0;
      signal_write();
    }
  }

  Server::Impl& server() { return *server_; }

  void account_pending(std::int64_t delta) {
    auto& st = server_->stats;
    std::uint64_t now = st.pending_write_bytes.fetch_add(static_cast<std::uint64_t>(delta)) + delta;
    std::uint64_t peak = st.pending_write_bytes_peak.load();
    while (now > peak && !st.pending_write_bytes_peak.compare_exchange_weak(peak, now)) {
    }
  }

  // A closed stream's unsent responses will never go out: free them now (the handler may live on).
  void drop_outbound(ServerCall& call) {
    account_pending(-static_cast<std::int64_t>(call.out.pending_bytes));
    call.out = OutboundQueue{};
  }

 private:
  static void add_status(HeaderList& h, const Status& s) {
    h.add("grpc-status", std::to_string(static_cast<int>(s.code)));
    if (!s.message.empty()) h.add("grpc-message", percent_encode(s.message));
  }

  void start_response(ServerCall& call) {
    if (call.response_started) return;
    HeaderList h;
    h.add(":status", "200");
    h.add("content-type", "application/grpc");
    nghttp2_data_provider prd;
    prd.source.ptr = &call;
    prd.read_callback = &read_data;
    nghttp2_submit_response(ng_, call.stream_id, h.data(), h.size(), &prd);
    call.response_started = true;
  }

  void push_outbound(ServerCall& call, std::string framed) {
    server_->stats.grpc_sent_bytes.fetch_add(framed.size(), std::memory_order_relaxed);
    account_pending(static_cast<std::int64_t>(framed.size()));
    call.out.push(std::move(framed));
  }

  void resume_data(ServerCall& call) {
    if (call.data_deferred) {
      call.data_deferred = false;
      nghttp2_session_resume_data(ng_, call.stream_id);
    }
    signal_write();
  }

  void submit_goaway() {
    final_goaway_submitted_ = true;
    nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    signal_write();
  }

  void shutdown_on_strand() {
    if (ended_ || shutting_down_) return;
    shutting_down_ = true;
    // Two-phase GOAWAY: the notice (last-stream-id 2^31-1) stops the client from opening streams; when the
    // PING sent right after it comes back, every stream the client opened before seeing the notice has
    // reached us, and the final GOAWAY names the last one. Nothing in flight is refused.
    nghttp2_submit_shutdown_notice(ng_);
    nghttp2_submit_ping(ng_, NGHTTP2_FLAG_NONE, kShutdownPingData);
    signal_write();
    // In-flight calls may finish within the grace period; then they are failed and cancelled.
    grace_timer_.expires_after(limits_.shutdown_grace);
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    grace_timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->ended_) return;
      if (!self->final_goaway_submitted_) self->submit_goaway();  // the client never answered the PING
      auto calls = self->calls_;
      for (auto& [id, call] : calls) {
        self->finish_call(*call, {StatusCode::kUnavailable, "server shutting down"});
        self->cancel_handler(*call);
      }
      self->close_after_idle_ = true;
      if (self->calls_.empty()) self->abort();
    });
  }

  void arm_idle_timer() {
    ++idle_generation_;
    idle_timer_.expires_after(limits_.idle_timeout);
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    idle_timer_.async_wait([self, gen = idle_generation_](boost::system::error_code ec) {
      if (ec || gen != self->idle_generation_ || self->ended_ || !self->calls_.empty()) return;
      self->shutting_down_ = true;
      self->submit_goaway();
    });
  }

  void disarm_idle_timer() {
    ++idle_generation_;
    idle_timer_.cancel();
  }

  void on_protocol_error(int) override { server_->stats.protocol_errors.fetch_add(1); }
  void on_bytes_received() override { last_read_ = Clock::now(); }

  // Server keepalive (etcd's --grpc-keepalive-interval / -timeout, grpc-go's ServerParameters): a
  // connection that sent nothing for keepalive_time is pinged; if nothing at all (not even the PING
  // ACK) arrives within keepalive_timeout after that, it is closed.
  void arm_keepalive(std::chrono::milliseconds after) {
    keepalive_timer_.expires_after(after);
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    keepalive_timer_.async_wait([self](boost::system::error_code ec) {
      if (ec || self->ended_) return;
      self->on_keepalive_timer();
    });
  }

  void on_keepalive_timer() {
    const auto now = Clock::now();
    if (keepalive_ping_sent_) {
      if (last_read_ < *keepalive_ping_sent_) {
        server_->stats.keepalive_timeouts.fetch_add(1);
        abort();
        return;
      }
      keepalive_ping_sent_.reset();
    }
    const auto idle = now - last_read_;
    if (idle < limits_.keepalive_time) {
      arm_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(limits_.keepalive_time - idle) +
                    std::chrono::milliseconds(1));
      return;
    }
    nghttp2_submit_ping(ng_, NGHTTP2_FLAG_NONE, kKeepalivePingData);
    server_->stats.keepalive_pings_sent.fetch_add(1);
    signal_write();
    keepalive_ping_sent_ = now;
    if (limits_.keepalive_timeout.count() > 0) arm_keepalive(limits_.keepalive_timeout);
  }

  void on_session_end() override {
    keepalive_timer_.cancel();
    disarm_idle_timer();
    grace_timer_.cancel();
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) {
      drop_outbound(*call);
      call->stream_closed = true;
      call->final_decided = true;
      call->deadline_timer.cancel();
      cancel_handler(*call);
    }
  }

  // --- request handling ---

  void on_request_headers(const std::shared_ptr<ServerCall>& call) {
    if (call->headers_too_large) {
      finish_call(*call, {StatusCode::kResourceExhausted,
                          "request header list larger than " + std::to_string(limits_.header_bytes_max)});
      return;
    }
    if (call->method != "POST" || call->path.empty()) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_PROTOCOL_ERROR);
      call->final_decided = true;
      return;
    }
    if (call->content_type.rfind("application/grpc", 0) != 0) {
      HeaderList h;
      h.add(":status", "415");
      nghttp2_submit_response(ng_, call->stream_id, h.data(), h.size(), nullptr);
      call->response_started = call->final_decided = true;
      return;
    }
    if (call->saw_timeout) {
      auto t = parse_grpc_timeout(call->timeout);
      if (!t) {
        finish_call(*call, {StatusCode::kInternal, "malformed grpc-timeout: " + call->timeout});
        return;
      }
      call->deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(*t);
      call->deadline_timer.expires_at(*call->deadline);
      auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
      call->deadline_timer.async_wait([self, call](boost::system::error_code ec) {
        if (ec || call->final_decided) return;
        self->finish_call(*call, {StatusCode::kDeadlineExceeded, "Deadline Exceeded"});
        self->cancel_handler(*call);
      });
    }
    call->metrics = server_->call_metrics.method(call->path);
    if (auto it = server_->unary_routes.find(call->path); it != server_->unary_routes.end()) {
      call->unary = &it->second;
    } else if (auto st = server_->stream_routes.find(call->path); st != server_->stream_routes.end()) {
      call->stream = &st->second;
      start_handler(call);  // streaming handlers run while messages arrive
    } else {
      finish_call(*call, {StatusCode::kUnimplemented, "unknown method " + call->path});
    }
  }

  void on_remote_close(const std::shared_ptr<ServerCall>& call) {
    call->remote_closed = true;
    call->read_wake.cancel();
    if (call->final_decided) return;
    if (call->deframer.mid_message()) {
      finish_call(*call, {StatusCode::kInternal, "grpc: client half-closed in the middle of a message"});
      cancel_handler(*call);
      return;
    }
    if (call->unary != nullptr && !call->handler_running) {
      if (call->inbound.size() != 1) {
        finish_call(*call,
                    {StatusCode::kInternal,
                     "grpc: unary call with " + std::to_string(call->inbound.size()) + " request messages"});
        return;
      }
      start_handler(call);
    }
  }

  void on_data(const std::shared_ptr<ServerCall>& call, std::string_view data) {
    if (call->final_decided) {
      nghttp2_session_consume(ng_, call->stream_id, data.size());
      return;
    }
    server_->stats.grpc_received_bytes.fetch_add(data.size(), std::memory_order_relaxed);
    std::size_t before = call->inbound.size();
    auto err = call->deframer.feed(data, call->inbound);
    for (std::size_t i = before; i < call->inbound.size(); ++i)
      call->inbound_bytes += call->inbound[i].size();
    if (call->inbound_bytes < limits_.stream_pending_read_bytes_max) {
      nghttp2_session_consume(ng_, call->stream_id, data.size() + call->unconsumed_bytes);
      call->unconsumed_bytes = 0;
    } else {
      call->unconsumed_bytes += data.size();
    }
    if (err != MessageDeframer::Error::kNone) {
      Status s = deframer_error_status(err, call->deframer.declared_length(), limits_.message_bytes_max);
      if (err == MessageDeframer::Error::kCompressed && call->grpc_encoding.empty())
        s = {StatusCode::kInternal, "grpc: compressed flag set with identity or empty encoding"};
      finish_call(*call, std::move(s));
      cancel_handler(*call);
      return;
    }
    if (call->unary != nullptr && call->inbound.size() > 1) {
      finish_call(*call, {StatusCode::kInternal, "grpc: unary call with more than one request message"});
      return;
    }
    if (call->inbound.size() > before) call->read_wake.cancel();
  }

  void start_handler(const std::shared_ptr<ServerCall>& call) {
    // Responses queued and not yet read by their clients, over all connections: past the budget a new
    // unary call is refused before it builds a response (etcd's overload answer; clients retry).
    if (call->unary != nullptr && server_->stats.pending_write_bytes.load(std::memory_order_relaxed) >=
                                      limits_.pending_write_bytes_max) {
      server_->stats.calls_refused_pending_write.fetch_add(1, std::memory_order_relaxed);
      finish_call(*call, {StatusCode::kResourceExhausted, "etcdserver: too many requests"});
      return;
    }
    call->handler_running = true;
    server_->stats.calls_started.fetch_add(1);
    server_->call_metrics.started(call->metrics);
    auto self = std::static_pointer_cast<GrpcServerConnection>(shared_from_this());
    asio::co_spawn(executor(), run_handler(self, call),
                   asio::bind_cancellation_slot(
                       call->cancel_signal.slot(), [self, call](std::exception_ptr e, Status status) {
                         call->handler_running = false;
                         if (e) {
                           status = call->cancelled ? Status{StatusCode::kCancelled, "canceled"}
                                                    : Status{StatusCode::kUnknown, "handler failed"};
                         }
                         self->finish_call(*call, std::move(status));
                       }));
  }

  static awaitable<Status> run_handler(std::shared_ptr<GrpcServerConnection> self,
                                       std::shared_ptr<ServerCall> call) {
    ServerContext ctx(*call);
    if (call->unary != nullptr) {
      std::string request = std::move(call->inbound.front());
      call->inbound.pop_front();
      call->inbound_bytes = 0;
      Reply reply = co_await (*call->unary)(ctx, request);
      if (!reply.has_message()) co_return std::move(reply.status());
      const std::size_t bytes =
          reply.is_framed() ? reply.framed().size_bytes() - kMessagePrefixBytes : reply.message().size();
      if (bytes > self->limits_.send_message_bytes_max) {
        co_return Status{StatusCode::kResourceExhausted, "grpc: trying to send message larger than max"};
      }
      if (call->final_decided || call->stream_closed) co_return Status::ok();
      if (reply.is_framed())
        self->queue_framed(*call, std::move(reply.framed().chunks));
      else
        self->queue_message(*call, reply.message());
      co_return Status::ok();
    }
    ServerStream stream(*call);
    co_return co_await (*call->stream)(ctx, stream);
  }

  // --- nghttp2 callbacks ---

  static GrpcServerConnection* self_of(void* user_data) {
    return static_cast<GrpcServerConnection*>(user_data);
  }

  std::shared_ptr<ServerCall> find_call(std::int32_t id) {
    auto it = calls_.find(id);
    return it == calls_.end() ? nullptr : it->second;
  }

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    auto* self = self_of(ud);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (self->calls_.size() >= self->limits_.concurrent_streams_max) {
      self->server_->stats.streams_refused.fetch_add(1);
      nghttp2_submit_rst_stream(self->ng_, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    auto call = std::make_shared<ServerCall>(self->executor(), self->limits_.message_bytes_max);
    call->conn = self;
    call->stream_id = frame->hd.stream_id;
    call->peer = self->stream_->remote_address();
    call->peer_cn = self->stream_->peer_common_name();
    self->calls_.emplace(call->stream_id, call);
    self->disarm_idle_timer();
    return 0;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                       void* ud) {
    auto* self = self_of(ud);
    auto call = self->find_call(frame->hd.stream_id);
    if (!call || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    call->header_bytes += namelen + valuelen + 32;
    if (call->header_bytes > self->limits_.header_bytes_max) {
      call->headers_too_large = true;
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":path") {
      call->path = v;
    } else if (n == ":method") {
      call->method = v;
    } else if (n == "content-type") {
      call->content_type = v;
    } else if (n == "grpc-timeout") {
      call->timeout = v;
      call->saw_timeout = true;
    } else if (n == "grpc-encoding") {
      if (v != "identity") call->grpc_encoding = v;
    } else if (!n.empty() && n[0] != ':' && n != "te" && n != "grpc-accept-encoding") {
      call->metadata.emplace_back(n, v);
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    auto* self = self_of(ud);
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS: {
        auto call = self->find_call(frame->hd.stream_id);
        if (!call) return 0;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) self->on_request_headers(call);
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) self->on_remote_close(call);
        return 0;
      }
      case NGHTTP2_DATA: {
        auto call = self->find_call(frame->hd.stream_id);
        if (call && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) self->on_remote_close(call);
        return 0;
      }
      case NGHTTP2_PING:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
          self->on_ping();
        } else if (self->shutting_down_ && !self->final_goaway_submitted_ &&
                   std::equal(std::begin(kShutdownPingData), std::end(kShutdownPingData),
                              frame->ping.opaque_data)) {
          self->submit_goaway();
        }
        return 0;
      default:
        return 0;
    }
  }

  void on_ping() {
    auto now = Clock::now();
    if (last_ping_ && now - *last_ping_ < limits_.keepalive_min_ping_interval) {
      if (++ping_strikes_ > limits_.keepalive_ping_strikes_max) {
        static constexpr std::string_view kDebug = "too_many_pings";
        nghttp2_submit_goaway(ng_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(ng_),
                              NGHTTP2_ENHANCE_YOUR_CALM, reinterpret_cast<const std::uint8_t*>(kDebug.data()),
                              kDebug.size());
        shutting_down_ = true;
        auto calls = calls_;
        for (auto& [id, call] : calls) {
          finish_call(*call, {StatusCode::kUnavailable, "too_many_pings"});
          cancel_handler(*call);
        }
      }
    }
    last_ping_ = now;
  }

  static int on_data_chunk_recv(nghttp2_session*, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t len, void* ud) {
    auto* self = self_of(ud);
    auto call = self->find_call(stream_id);
    if (!call) {
      nghttp2_session_consume(self->ng_, stream_id, len);
      return 0;
    }
    self->on_data(call, std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }

  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    auto* self = self_of(ud);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR &&
        frame->goaway.error_code != NGHTTP2_ENHANCE_YOUR_CALM) {
      self->server_->stats.protocol_errors.fetch_add(1);  // nghttp2 rejected the client's input
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    // Sending response data resets keepalive strikes (grpc-go does the same).
    self->ping_strikes_ = 0;
    self->last_ping_.reset();
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    auto call = self->find_call(frame->hd.stream_id);
    if (!call) return 0;
    call->end_stream_sent = true;
    // Early server closure: the client still has its side open, tell it we are not reading any more.
    if (!call->remote_closed) {
      nghttp2_submit_rst_stream(self->ng_, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t, void* ud) {
    auto* self = self_of(ud);
    auto it = self->calls_.find(stream_id);
    if (it == self->calls_.end()) return 0;
    auto call = it->second;
    self->calls_.erase(it);
    self->drop_outbound(*call);
    call->stream_closed = true;
    call->deadline_timer.cancel();
    if (!call->end_stream_sent) {
      // Reset by the client (cancel, deadline) or by us on a protocol error: stop the handler.
      call->final_decided = true;
      self->cancel_handler(*call);
    }
    call->read_wake.cancel();
    call->write_wake.cancel();
    if (self->calls_.empty()) {
      if (self->close_after_idle_) {
        self->abort();
      } else if (!self->shutting_down_) {
        self->arm_idle_timer();
      }
    }
    return 0;
  }

  static ssize_t read_data(nghttp2_session* session, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void* ud) {
    auto* self = self_of(ud);
    auto* call = static_cast<ServerCall*>(source->ptr);
    std::size_t n = call->out.take(buf, length);
    self->account_pending(-static_cast<std::int64_t>(n));
    if (n > 0 && call->out.pending_bytes < self->limits_.stream_pending_write_bytes_max)
      call->write_wake.cancel();
    if (call->out.empty()) {
      if (call->trailer_status) {
        // Trailers go in their own HEADERS frame: never end the stream with DATA (wire-compat doc 1.11.3).
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        HeaderList h;
        add_status(h, *call->trailer_status);
        nghttp2_submit_trailer(session, call->stream_id, h.data(), h.size());
        return static_cast<ssize_t>(n);
      }
      if (n == 0) {
        call->data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
    }
    return static_cast<ssize_t>(n);
  }

  std::shared_ptr<Server::Impl> server_;
  const ServerLimits& limits_;
  std::shared_ptr<OpenConnectionCount> count_;
  std::map<std::int32_t, std::shared_ptr<ServerCall>> calls_;
  asio::steady_timer idle_timer_;
  asio::steady_timer grace_timer_;
  std::uint64_t idle_generation_ = 0;
  bool shutting_down_ = false;
  bool final_goaway_submitted_ = false;
  static constexpr std::uint8_t kShutdownPingData[8] = {'c', 'a', 'i', 'r', 'n', 's', 'd', '1'};
  static constexpr std::uint8_t kKeepalivePingData[8] = {'c', 'a', 'i', 'r', 'n', 'k', 'a', '1'};
  asio::steady_timer keepalive_timer_;
  Clock::time_point last_read_{};
  std::optional<Clock::time_point> keepalive_ping_sent_;
  bool close_after_idle_ = false;
  std::optional<Clock::time_point> last_ping_;
  int ping_strikes_ = 0;
};

}  // namespace detail

// --- ServerContext / ServerStream ---

std::string& Reply::message() {
  if (auto* f = std::get_if<FramedMessage>(&value_)) {
    std::string m;
    m.reserve(f->size_bytes());
    for (auto& c : f->chunks) {
      m += c;
      std::string().swap(c);
    }
    m.erase(0, kMessagePrefixBytes);
    value_ = std::move(m);
  }
  return std::get<std::string>(value_);
}

const std::string& ServerContext::method() const {
  return call_->path;
}
const Metadata& ServerContext::metadata() const {
  return call_->metadata;
}
std::optional<std::string_view> ServerContext::metadata_value(std::string_view name) const {
  for (const auto& [k, v] : call_->metadata)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}
std::optional<std::chrono::steady_clock::time_point> ServerContext::deadline() const {
  return call_->deadline;
}
bool ServerContext::cancelled() const {
  return call_->cancelled;
}
const std::string& ServerContext::peer() const {
  return call_->peer;
}

const std::string& ServerContext::peer_common_name() const {
  return call_->peer_cn;
}

awaitable<std::optional<std::string>> ServerStream::read() {
  detail::ServerCall& c = *call_;
  while (c.inbound.empty() && !c.remote_closed && !c.final_decided && !c.stream_closed && !c.cancelled) {
    c.read_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c.read_wake.async_wait(asio::as_tuple(use_awaitable));
  }
  if (c.inbound.empty() || c.cancelled) co_return std::nullopt;
  std::string m = std::move(c.inbound.front());
  c.inbound.pop_front();
  c.inbound_bytes -= m.size();
  c.conn->release_window(c);
  co_return m;
}

awaitable<bool> ServerStream::write(std::string message) {
  detail::ServerCall& c = *call_;
  const ServerLimits& limits = c.conn->limits();
  if (message.size() > limits.send_message_bytes_max) {
    c.conn->finish_call(c, {StatusCode::kResourceExhausted, "grpc: trying to send message larger than max"});
    co_return false;
  }
  while (!c.final_decided && !c.stream_closed && !c.cancelled &&
         c.out.pending_bytes >= limits.stream_pending_write_bytes_max) {
    c.write_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c.write_wake.async_wait(asio::as_tuple(use_awaitable));
  }
  if (c.final_decided || c.stream_closed || c.cancelled) co_return false;
  c.conn->queue_message(c, std::move(message));
  co_return true;
}

// --- acceptor and protocol sniffing ---

namespace {

constexpr std::string_view kH2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

awaitable<void> serve_connection(std::shared_ptr<Server::Impl> server,
                                 std::shared_ptr<detail::OpenConnectionCount> count,
                                 std::unique_ptr<ByteStream> stream, TlsStream* tls) {
  // Handshake deadline: a client that trickles (or never sends) its first bytes is cut off. The timer
  // handler only touches the stream while `state->sniffing` is true, i.e. while this coroutine owns it.
  struct SniffState {
    bool sniffing = true;
    bool timed_out = false;
  };
  auto state = std::make_shared<SniffState>();
  asio::steady_timer timer(stream->get_executor());
  timer.expires_after(server->limits.handshake_timeout);
  timer.async_wait([s = stream.get(), state, server](boost::system::error_code ec) {
    if (ec || !state->sniffing) return;
    state->timed_out = true;
    server->stats.handshake_timeouts.fetch_add(1);  // before the close, which the client can observe
    s->close();
  });
  if (tls != nullptr) {
    // TLS first (within the same handshake deadline). A client that is not speaking TLS is told so if it
    // speaks HTTP, as Go's server does, and closed either way.
    int first = co_await tls->peek_first_byte();
    bool handshake_record = first == 0x16;
    std::optional<std::string> failure;
    if (handshake_record) failure = co_await tls->handshake();
    if (!handshake_record || failure) {
      bool timed_out = state->timed_out;
      state->sniffing = false;
      timer.cancel();
      if (!timed_out) {
        server->stats.tls_handshake_failures.fetch_add(1);
        if (first >= 'A' && first <= 'Z') co_await tls->write_plaintext(kPlainHttpOnTlsResponse);
      }
      stream->close();
      co_return;
    }
  }
  std::string buf;
  std::array<char, 4096> tmp{};
  bool h2 = false;
  while (true) {
    std::size_t cmp = std::min(buf.size(), kH2Preface.size());
    if (std::string_view(buf).substr(0, cmp) != kH2Preface.substr(0, cmp)) break;  // not HTTP/2
    if (buf.size() >= kH2Preface.size()) {
      h2 = true;
      break;
    }
    IoResult r = co_await stream->read_some(asio::buffer(tmp));
    if (r.ec) {
      state->sniffing = false;
      timer.cancel();
      stream->close();
      co_return;
    }
    buf.append(tmp.data(), r.bytes);
  }
  state->sniffing = false;
  timer.cancel();
  if (h2) {
    server->stats.h2_connections.fetch_add(1);
    auto conn = std::make_shared<detail::GrpcServerConnection>(server, std::move(count), std::move(stream));
    conn->start(std::move(buf));
  } else {
    server->stats.http1_connections.fetch_add(1);
    detail::start_http1(server, std::move(count), std::move(stream), std::move(buf));
  }
}

// The connection's transport: TLS over TCP when the server has a context, else the plain socket.
std::pair<std::unique_ptr<ByteStream>, TlsStream*> wrap_socket(Server::Impl& server,
                                                               asio::ip::tcp::socket socket) {
  if (!server.tls) return {make_tcp_byte_stream(std::move(socket)), nullptr};
  auto t = make_tls_server_stream(server.tls->server, std::move(socket));
  TlsStream* raw = t.get();
  return {std::move(t), raw};
}

std::pair<std::unique_ptr<ByteStream>, TlsStream*> wrap_socket(Server::Impl&,
                                                               asio::local::stream_protocol::socket socket) {
  return {make_unix_byte_stream(std::move(socket)), nullptr};
}

template <class Acceptor>
awaitable<void> accept_loop(std::shared_ptr<Server::Impl> server, Acceptor* acceptor) {
  while (true) {
    auto [ec, socket] =
        co_await acceptor->async_accept(asio::make_strand(server->ioc), asio::as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // Out of descriptors and the like: back off briefly instead of spinning.
      asio::steady_timer t(server->ioc, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(use_awaitable));
      continue;
    }
    server->stats.connections_accepted.fetch_add(1);
    if (server->stats.connections_open.load() >= server->limits.connections_max) {
      server->stats.connections_rejected.fetch_add(1);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto count = std::make_shared<detail::OpenConnectionCount>(server);
    auto ex = socket.get_executor();
    auto [stream, tls] = wrap_socket(*server, std::move(socket));
    asio::co_spawn(ex, serve_connection(server, std::move(count), std::move(stream), tls), asio::detached);
  }
}

}  // namespace

Server::Server(asio::io_context& ioc, ServerLimits limits) : impl_(std::make_shared<Impl>(ioc, limits)) {}

Server::~Server() {
  shutdown();
}

void Server::add_unary(std::string path, UnaryHandler handler) {
  impl_->call_metrics.add_method(path, false);
  impl_->unary_routes.emplace(std::move(path), std::move(handler));
}
void Server::add_stream(std::string path, StreamHandler handler) {
  impl_->call_metrics.add_method(path, true);
  impl_->stream_routes.emplace(std::move(path), std::move(handler));
}
void Server::add_http(std::string method, std::string target, HttpHandler handler) {
  impl_->http_routes.emplace(std::make_pair(std::move(method), std::move(target)),
                             HttpRoute{std::move(handler), {}, {}});
}

void Server::add_http_stream(std::string method, std::string target, std::string content_type,
                             HttpStreamHandler handler) {
  impl_->http_routes.emplace(std::make_pair(std::move(method), std::move(target)),
                             HttpRoute{{}, std::move(handler), std::move(content_type)});
}

namespace {
void serve_plain_stream(const std::shared_ptr<Server::Impl>& impl, std::unique_ptr<ByteStream> stream) {
  impl->stats.connections_accepted.fetch_add(1);
  auto count = std::make_shared<detail::OpenConnectionCount>(impl);
  auto ex = stream->get_executor();
  asio::co_spawn(ex, serve_connection(impl, std::move(count), std::move(stream), nullptr), asio::detached);
}
}  // namespace

void Server::serve_stream(std::unique_ptr<ByteStream> stream) {
  serve_plain_stream(impl_, std::move(stream));
}

Endpoint Server::in_process_endpoint(std::string caller_common_name) const {
  Endpoint ep("in-process", 0);
  std::weak_ptr<Impl> weak = impl_;
  ep.dial = [weak,
             cn = std::move(caller_common_name)](asio::any_io_executor ex) -> std::unique_ptr<ByteStream> {
    auto impl = weak.lock();
    if (!impl) return nullptr;
    MemoryPipe pipe =
        make_memory_pipe({std::move(ex), "in-process", ""}, {asio::make_strand(impl->ioc), "in-process", cn});
    serve_plain_stream(impl, std::move(pipe.b));
    return std::move(pipe.a);
  };
  return ep;
}

void Server::set_tls(ServerTls tls) {
  impl_->tls = std::move(tls);
}

void Server::set_http_access(HttpAccess access) {
  impl_->http_access = std::move(access);
}

bool Server::tls() const {
  return impl_->tls.has_value();
}

Endpoint Server::self_endpoint() const {
  std::string host = impl_->address;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  Endpoint ep(host, impl_->port);
  if (impl_->tls) ep.tls = impl_->tls->loopback_client;
  return ep;
}

boost::system::error_code Server::listen(const std::string& address, std::uint16_t port) {
  impl_->address = address;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return ec;
  asio::ip::tcp::endpoint ep(addr, port);
  auto& acc = impl_->acceptor.emplace(asio::make_strand(impl_->ioc));
  if (acc.open(ep.protocol(), ec); ec) return ec;
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) return ec;
  if (acc.bind(ep, ec); ec) return ec;
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  impl_->port = acc.local_endpoint(ec).port();
  asio::co_spawn(acc.get_executor(), accept_loop(impl_, &acc), asio::detached);
  return {};
}

boost::system::error_code Server::listen_unix(const std::string& path) {
  boost::system::error_code ec;
  if (impl_->tls) return asio::error::operation_not_supported;  // unixs:// is not served
  ::unlink(path.c_str());  // a socket file left by an earlier run (etcd removes it too)
  impl_->address = "unix:" + path;
  asio::local::stream_protocol::endpoint ep(path);
  auto& acc = impl_->unix_acceptor.emplace(asio::make_strand(impl_->ioc));
  if (acc.open(ep.protocol(), ec); ec) return ec;
  if (acc.bind(ep, ec); ec) return ec;
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  asio::co_spawn(acc.get_executor(), accept_loop(impl_, &acc), asio::detached);
  return {};
}

void Server::alias_http_routes(std::string_view from_prefix, std::string_view to_prefix) {
  auto& routes = impl_->http_routes;
  std::vector<std::pair<std::pair<std::string, std::string>, HttpRoute>> added;
  for (const auto& [key, handler] : routes)
    if (key.second.rfind(from_prefix, 0) == 0)
      added.push_back({{key.first, std::string(to_prefix) + key.second.substr(from_prefix.size())}, handler});
  for (auto& [key, handler] : added)
    routes.emplace(std::move(key), std::move(handler));
}

void Server::drop_http_routes(std::string_view prefix) {
  auto& routes = impl_->http_routes;
  for (auto it = routes.begin(); it != routes.end();)
    it = it->first.second.rfind(prefix, 0) == 0 ? routes.erase(it) : std::next(it);
}

std::uint16_t Server::port() const {
  return impl_->port;
}

void Server::shutdown() {
  std::vector<std::shared_ptr<detail::ConnectionHandle>> conns;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shutting_down) return;
    impl_->shutting_down = true;
    for (auto& [p, w] : impl_->connections)
      if (auto c = w.lock()) conns.push_back(std::move(c));
  }
  if (impl_->acceptor) {
    auto impl = impl_;
    asio::post(impl_->acceptor->get_executor(), [impl] {
      boost::system::error_code ignored;
      impl->acceptor->close(ignored);
    });
  }
  if (impl_->unix_acceptor) {
    auto impl = impl_;
    asio::post(impl_->unix_acceptor->get_executor(), [impl] {
      boost::system::error_code ignored;
      impl->unix_acceptor->close(ignored);
    });
  }
  for (auto& c : conns)
    c->begin_shutdown();
}

const ServerStats& Server::stats() const {
  return impl_->stats;
}
CallMetrics& Server::call_metrics() {
  return impl_->call_metrics;
}
const CallMetrics& Server::call_metrics() const {
  return impl_->call_metrics;
}
const ServerLimits& Server::limits() const {
  return impl_->limits;
}

}  // namespace cairn::server::net

namespace cairn::server::net {

void collect_prometheus(const ServerStats& s, metrics::Families& out) {
  auto add = [&out](std::string_view name, bool counter, const std::atomic<std::uint64_t>& v,
                    const char* help) {
    const std::string full = "cairn_net_" + std::string(name);
    if (counter)
      out.counter(full, help, static_cast<double>(v.load()));
    else
      out.gauge(full, help, static_cast<double>(v.load()));
  };
  add("connections_accepted_total", true, s.connections_accepted, "Client connections accepted.");
  add("connections_rejected_total", true, s.connections_rejected,
      "Client connections refused (over the limit).");
  add("connections_open", false, s.connections_open, "Client connections open now.");
  add("h2_connections_total", true, s.h2_connections, "HTTP/2 (gRPC) connections accepted.");
  add("http1_connections_total", true, s.http1_connections, "HTTP/1.1 connections accepted.");
  add("handshake_timeouts_total", true, s.handshake_timeouts,
      "Connections closed before their first request.");
  add("tls_handshake_failures_total", true, s.tls_handshake_failures, "TLS handshakes that failed.");
  add("grpc_calls_started_total", true, s.calls_started, "gRPC calls started.");
  add("grpc_calls_cancelled_total", true, s.calls_cancelled, "gRPC calls cancelled by the client.");
  add("h2_streams_refused_total", true, s.streams_refused, "HTTP/2 streams refused (over the limit).");
  add("grpc_calls_refused_pending_write_total", true, s.calls_refused_pending_write,
      "Unary calls refused with \"etcdserver: too many requests\": queued response bytes at their bound.");
  add("h2_protocol_errors_total", true, s.protocol_errors, "HTTP/2 connections ended by a protocol error.");
  add("keepalive_pings_sent_total", true, s.keepalive_pings_sent, "Server keepalive PINGs sent.");
  add("keepalive_timeouts_total", true, s.keepalive_timeouts,
      "Connections closed: keepalive PING unanswered.");
  add("pending_write_bytes", false, s.pending_write_bytes, "Response bytes queued and not yet sent.");
  add("pending_write_bytes_peak", false, s.pending_write_bytes_peak, "Highest pending_write_bytes seen.");
  out.counter("etcd_network_client_grpc_received_bytes_total",
              "The total number of bytes received from grpc clients.",
              static_cast<double>(s.grpc_received_bytes.load()));
  out.counter("etcd_network_client_grpc_sent_bytes_total", "The total number of bytes sent to grpc clients.",
              static_cast<double>(s.grpc_sent_bytes.load()));
}

std::string render_prometheus(const ServerStats& s) {
  metrics::Families f;
  collect_prometheus(s, f);
  return f.text();
}

}  // namespace cairn::server::net
