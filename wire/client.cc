// gRPC client connections (HTTP/2 via nghttp2) and the Channel that picks, dials and re-dials endpoints.
#include "wire/client.h"

#include <nghttp2/nghttp2.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <map>

#include "wire/h2_session.h"
#include "wire/tls.h"

namespace cairn::wire {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace detail {

struct ClientCallState {
  ClientCallState(const asio::any_io_executor& ex, std::size_t message_bytes_max)
      : deframer(message_bytes_max), read_wake(ex), write_wake(ex), deadline_timer(ex) {}

  std::shared_ptr<GrpcClientConnection> conn;  // released when the call ends
  std::int32_t stream_id = -1;
  std::size_t pending_write_bytes_max = 0;
  std::size_t pending_read_bytes_max = 0;

  // Response side.
  std::string http_status, content_type, grpc_status, grpc_message;
  bool have_grpc_status = false;
  MessageDeframer deframer;
  std::deque<std::string> inbound;
  std::size_t inbound_bytes = 0;
  std::size_t unconsumed_bytes = 0;

  // Request side.
  OutboundQueue out;
  bool writes_done = false;
  bool data_deferred = false;

  std::optional<Status> status;  // final
  bool unprocessed = false;      // refused by the server: safe to retry
  asio::steady_timer read_wake, write_wake, deadline_timer;

  void wake() {
    read_wake.cancel();
    write_wake.cancel();
  }
};

class GrpcClientConnection final : public H2Session {
 public:
  GrpcClientConnection(std::unique_ptr<ByteStream> stream, const ChannelOptions& options,
                       std::string authority, bool tls)
      : H2Session(std::move(stream), options.write_stall_timeout),
        options_(options),
        authority_(std::move(authority)),
        scheme_(tls ? "https" : "http"),
        ready_wake_(executor()),
        keepalive_timer_(executor()) {
    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_http_messaging(opt, 1);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&ng_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options_.stream_window_bytes},
    };
    nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
    nghttp2_session_set_local_window_size(ng_, NGHTTP2_FLAG_NONE, 0,
                                          static_cast<std::int32_t>(options_.connection_window_bytes));
  }

  void start() {
    auto self = std::static_pointer_cast<GrpcClientConnection>(shared_from_this());
    // The completion handler owns the connection until its loops have finished.
    asio::co_spawn(executor(), run(std::string()), [self](std::exception_ptr) {});
    if (options_.keepalive_time.count() > 0) asio::co_spawn(executor(), keepalive_loop(self), asio::detached);
  }

  // Usable for new calls: not ended and no GOAWAY received.
  bool usable() const { return !ended_ && !goaway_received_; }
  // Why an ended connection never worked, in grpc-go's words: with TLS 1.3 a server that refuses our
  // client certificate says so (an alert) only after our side of the handshake has completed.
  std::string failure() const {
    if (!ended_ || preface_received_) return {};
    std::string why = tls_error_text(read_error_);
    if (why.empty()) why = !read_error_ || read_error_ == asio::error::eof ? "EOF" : read_error_.message();
    return "connection error: desc = \"error reading server preface: " + why + "\"";
  }

  // As grpc-go, a connection takes calls only once the server's preface (its SETTINGS) has arrived: a
  // server that refuses us right after the TLS handshake then fails the connection attempt, not calls.
  awaitable<bool> wait_ready(Clock::time_point deadline) {
    while (!preface_received_ && !ended_ && Clock::now() < deadline) {
      ready_wake_.expires_at(deadline);
      co_await ready_wake_.async_wait(asio::as_tuple(use_awaitable));
    }
    co_return preface_received_ && !ended_;
  }
  std::uint64_t pings_sent() const { return pings_sent_; }

  void start_call(const std::shared_ptr<ClientCallState>& call, const std::string& method,
                  const CallOptions& options) {
    HeaderList h;
    h.add(":method", "POST");
    h.add(":scheme", scheme_);
    h.add(":path", method);
    h.add(":authority", authority_);
    h.add("content-type", "application/grpc");
    h.add("te", "trailers");
    h.add("user-agent", options_.user_agent);
    if (options.timeout) h.add("grpc-timeout", format_grpc_timeout(*options.timeout));
    for (const auto& [k, v] : options.metadata)
      h.add(k, v);
    nghttp2_data_provider prd;
    prd.source.ptr = call.get();
    prd.read_callback = &read_data;
    std::int32_t id = nghttp2_submit_request(ng_, nullptr, h.data(), h.size(), &prd, call.get());
    if (id < 0) {
      complete(*call,
               {StatusCode::kUnavailable, std::string("cannot start stream: ") + nghttp2_strerror(id)});
      return;
    }
    call->stream_id = id;
    call->conn = std::static_pointer_cast<GrpcClientConnection>(shared_from_this());
    calls_.emplace(id, call);
    if (options.timeout) {
      call->deadline_timer.expires_after(*options.timeout);
      call->deadline_timer.async_wait([call](boost::system::error_code ec) {
        if (ec || call->status || !call->conn) return;
        call->conn->reset(*call, {StatusCode::kDeadlineExceeded, "deadline exceeded"});
      });
    }
    signal_write();
  }

  void queue_message(ClientCallState& call, std::string message) {
    call.out.push(frame_message(message));
    resume(call);
  }

  void half_close(ClientCallState& call) {
    call.writes_done = true;
    resume(call);
  }

  // Ends the call with `status` and resets its stream with CANCEL.
  void reset(ClientCallState& call, Status status) {
    if (call.status) return;
    if (call.stream_id > 0 && !ended_) {
      nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, call.stream_id, NGHTTP2_CANCEL);
      signal_write();
    }
    complete(call, std::move(status));
  }

  void release_window(ClientCallState& call) {
    if (call.unconsumed_bytes > 0 && call.inbound_bytes < call.pending_read_bytes_max && !call.status) {
      nghttp2_session_consume(ng_, call.stream_id, call.unconsumed_bytes);
      call.unconsumed_bytes = 0;
      signal_write();
    }
  }

 private:
  void resume(ClientCallState& call) {
    if (call.data_deferred && !call.status) {
      call.data_deferred = false;
      nghttp2_session_resume_data(ng_, call.stream_id);
    }
    signal_write();
  }

  void complete(ClientCallState& call, Status status) {
    if (call.status) return;
    call.status = std::move(status);
    call.deadline_timer.cancel();
    call.wake();
  }

  void on_bytes_received() override { last_read_ = Clock::now(); }

  void on_session_end() override {
    keepalive_timer_.cancel();
    ready_wake_.cancel();
    auto calls = std::move(calls_);
    calls_.clear();
    for (auto& [id, call] : calls) {
      complete(*call, {StatusCode::kUnavailable, "connection closed"});
      call->conn.reset();
    }
  }

  // Pings after keepalive_time without any received byte while calls are open; drops the connection
  // when nothing (not even the PING ACK) arrives within keepalive_timeout.
  static awaitable<void> keepalive_loop(std::shared_ptr<GrpcClientConnection> self) {
    const auto& o = self->options_;
    bool outstanding = false;
    Clock::time_point sent_at;
    while (!self->ended_) {
      self->keepalive_timer_.expires_after(std::min(o.keepalive_time, o.keepalive_timeout));
      co_await self->keepalive_timer_.async_wait(asio::as_tuple(use_awaitable));
      if (self->ended_) break;
      auto now = Clock::now();
      if (outstanding) {
        if (self->last_read_ >= sent_at) {
          outstanding = false;
        } else if (now - sent_at >= o.keepalive_timeout) {
          self->abort();
          break;
        } else {
          continue;
        }
      }
      if (self->calls_.empty() || now - self->last_read_ < o.keepalive_time) continue;
      nghttp2_submit_ping(self->ng_, NGHTTP2_FLAG_NONE, nullptr);
      ++self->pings_sent_;
      outstanding = true;
      sent_at = now;
      self->signal_write();
    }
  }

  Status final_status(const ClientCallState& call) const {
    if (call.have_grpc_status) {
      int code = std::atoi(call.grpc_status.c_str());
      if (code < 0 || code > 16) code = static_cast<int>(StatusCode::kUnknown);
      return {static_cast<StatusCode>(code), percent_decode(call.grpc_message)};
    }
    if (!call.http_status.empty() && call.http_status != "200") {
      StatusCode c = StatusCode::kUnknown;
      if (call.http_status == "400") c = StatusCode::kInternal;
      if (call.http_status == "401") c = StatusCode::kUnauthenticated;
      if (call.http_status == "403") c = StatusCode::kPermissionDenied;
      if (call.http_status == "404") c = StatusCode::kUnimplemented;
      if (call.http_status == "429" || call.http_status == "502" || call.http_status == "503" ||
          call.http_status == "504")
        c = StatusCode::kUnavailable;
      return {c, "unexpected HTTP status code received from server: " + call.http_status};
    }
    return {StatusCode::kUnknown, "server sent no grpc-status"};
  }

  static GrpcClientConnection* self_of(void* ud) { return static_cast<GrpcClientConnection*>(ud); }

  std::shared_ptr<ClientCallState> find_call(std::int32_t id) {
    auto it = calls_.find(id);
    return it == calls_.end() ? nullptr : it->second;
  }

  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                       void* ud) {
    auto* self = self_of(ud);
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    auto call = self->find_call(frame->hd.stream_id);
    if (!call) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      call->http_status = v;
    } else if (n == "content-type") {
      call->content_type = v;
    } else if (n == "grpc-status") {
      call->grpc_status = v;
      call->have_grpc_status = true;
    } else if (n == "grpc-message") {
      call->grpc_message = v;
    }
    return 0;
  }

  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
    auto* self = self_of(ud);
    if (frame->hd.type == NGHTTP2_SETTINGS && !self->preface_received_) {
      self->preface_received_ = true;
      self->ready_wake_.cancel();
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      self->goaway_received_ = true;  // no new calls here; open ones may finish
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
    auto call = self->find_call(frame->hd.stream_id);
    if (!call || call->status) return 0;
    if (frame->hd.type == NGHTTP2_DATA) {
      self->complete(*call, {StatusCode::kInternal, "server closed the stream without sending trailers"});
    } else if (call->deframer.mid_message()) {
      self->complete(*call, {StatusCode::kInternal, "stream ended in the middle of a message"});
    } else {
      self->complete(*call, self->final_status(*call));
    }
    return 0;
  }

  static int on_data_chunk_recv(nghttp2_session*, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t len, void* ud) {
    auto* self = self_of(ud);
    auto call = self->find_call(stream_id);
    if (!call || call->status) {
      nghttp2_session_consume(self->ng_, stream_id, len);
      return 0;
    }
    std::size_t before = call->inbound.size();
    auto err = call->deframer.feed(std::string_view(reinterpret_cast<const char*>(data), len), call->inbound);
    for (std::size_t i = before; i < call->inbound.size(); ++i)
      call->inbound_bytes += call->inbound[i].size();
    if (call->inbound_bytes < call->pending_read_bytes_max) {
      nghttp2_session_consume(self->ng_, stream_id, len + call->unconsumed_bytes);
      call->unconsumed_bytes = 0;
    } else {
      call->unconsumed_bytes += len;
    }
    if (err != MessageDeframer::Error::kNone) {
      self->reset(*call, deframer_error_status(err, call->deframer.declared_length(),
                                               call->deframer.message_bytes_max()));
      return 0;
    }
    if (call->inbound.size() > before) call->read_wake.cancel();
    return 0;
  }

  static int on_stream_close(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code, void* ud) {
    auto* self = self_of(ud);
    auto it = self->calls_.find(stream_id);
    if (it == self->calls_.end()) return 0;
    auto call = it->second;
    self->calls_.erase(it);
    if (!call->status) {
      Status s;
      switch (error_code) {
        case NGHTTP2_REFUSED_STREAM:  // also streams above a GOAWAY's last-stream-id
          call->unprocessed = call->http_status.empty();
          s = {StatusCode::kUnavailable, "stream refused by the server"};
          break;
        case NGHTTP2_CANCEL:
          s = {StatusCode::kCancelled, "stream cancelled by the server"};
          break;
        case NGHTTP2_ENHANCE_YOUR_CALM:
          s = {StatusCode::kResourceExhausted, "enhance your calm"};
          break;
        default:
          s = {StatusCode::kInternal,
               "stream terminated by RST_STREAM with error code: " + std::to_string(error_code)};
      }
      self->complete(*call, std::move(s));
    }
    call->wake();
    call->conn.reset();  // breaks the call <-> connection cycle
    return 0;
  }

  static ssize_t read_data(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                           std::uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* call = static_cast<ClientCallState*>(source->ptr);
    std::size_t n = call->out.take(buf, length);
    if (n > 0 && call->out.pending_bytes < call->pending_write_bytes_max) call->write_wake.cancel();
    if (call->out.empty()) {
      if (call->writes_done) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;  // client half-close: END_STREAM on the last DATA frame
        return static_cast<ssize_t>(n);
      }
      if (n == 0) {
        call->data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
    }
    return static_cast<ssize_t>(n);
  }

  const ChannelOptions options_;  // a copy: the connection may outlive its Channel
  std::string authority_;
  const char* scheme_;
  bool preface_received_ = false;  // the server's SETTINGS arrived
  asio::steady_timer ready_wake_;
  std::map<std::int32_t, std::shared_ptr<ClientCallState>> calls_;
  bool goaway_received_ = false;
  asio::steady_timer keepalive_timer_;
  Clock::time_point last_read_ = Clock::now();
  std::uint64_t pings_sent_ = 0;
};

}  // namespace detail

// --- ClientCall ---

awaitable<bool> ClientCall::write(std::string message) {
  auto& c = *state_;
  while (!c.status && c.out.pending_bytes >= c.pending_write_bytes_max) {
    c.write_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c.write_wake.async_wait(asio::as_tuple(use_awaitable));
  }
  if (c.status || c.writes_done || !c.conn) co_return false;
  c.conn->queue_message(c, std::move(message));
  co_return true;
}

void ClientCall::writes_done() {
  auto& c = *state_;
  if (c.writes_done || c.status || !c.conn) return;
  c.conn->half_close(c);
}

awaitable<std::optional<std::string>> ClientCall::read() {
  auto& c = *state_;
  while (c.inbound.empty() && !c.status) {
    c.read_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c.read_wake.async_wait(asio::as_tuple(use_awaitable));
  }
  if (c.inbound.empty()) co_return std::nullopt;
  std::string m = std::move(c.inbound.front());
  c.inbound.pop_front();
  c.inbound_bytes -= m.size();
  if (c.conn) c.conn->release_window(c);
  co_return m;
}

awaitable<Status> ClientCall::finish() {
  auto& c = *state_;
  while (!c.status) {
    c.read_wake.expires_at(asio::steady_timer::time_point::max());
    co_await c.read_wake.async_wait(asio::as_tuple(use_awaitable));
  }
  co_return *c.status;
}

bool ClientCall::unprocessed() const {
  return state_->unprocessed;
}

void ClientCall::cancel() {
  auto& c = *state_;
  if (c.status) return;
  if (c.conn) {
    c.conn->reset(c, {StatusCode::kCancelled, "call cancelled"});
  } else {
    c.status = Status{StatusCode::kCancelled, "call cancelled"};
    c.wake();
  }
}

// --- Channel ---

Channel::Channel(asio::any_io_executor executor, std::vector<Endpoint> endpoints, ChannelOptions options)
    : executor_(std::move(executor)),
      endpoints_(std::move(endpoints)),
      options_(std::move(options)),
      connect_wake_(executor_),
      backoff_(options_.backoff_initial) {}

Channel::~Channel() {
  close();
}

void Channel::close() {
  closed_ = true;
  if (conn_) conn_->abort();
  conn_.reset();
  connect_wake_.cancel();
}

std::string Channel::last_connect_error() const {
  if (conn_) {
    if (std::string f = conn_->failure(); !f.empty()) return f;
  }
  return last_connect_error_;
}

bool Channel::connected() const {
  return conn_ && conn_->usable();
}

std::uint64_t Channel::keepalive_pings_sent() const {
  return conn_ ? conn_->pings_sent() : 0;
}

awaitable<std::shared_ptr<detail::GrpcClientConnection>> Channel::connect_unix(const Endpoint& ep) {
  const auto started = Clock::now();
  asio::local::stream_protocol::socket socket(executor_);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer timer(executor_);
  timer.expires_after(options_.connect_timeout);
  timer.async_wait([&socket, timed_out](boost::system::error_code ec) {
    if (ec || *timed_out) return;
    *timed_out = true;
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  auto [ec] = co_await socket.async_connect(asio::local::stream_protocol::endpoint(ep.unix_path),
                                            asio::as_tuple(use_awaitable));
  bool expired = *timed_out;
  *timed_out = true;
  timer.cancel();
  if (ec || expired) {
    last_connect_error_ = "connection error: desc = \"transport: Error while dialing dial unix " +
                          ep.unix_path + ": " +
                          (expired ? std::string("i/o timeout") : "connect: " + ec.message()) + "\"";
    co_return nullptr;
  }
  co_return co_await handshake(make_unix_byte_stream(std::move(socket)), ep.unix_path, false, started);
}

awaitable<std::shared_ptr<detail::GrpcClientConnection>> Channel::handshake(
    std::unique_ptr<ByteStream> stream, std::string target, bool tls, Clock::time_point started) {
  auto conn =
      std::make_shared<detail::GrpcClientConnection>(std::move(stream), options_, std::move(target), tls);
  conn->start();
  if (!co_await conn->wait_ready(started + options_.connect_timeout)) {
    last_connect_error_ = conn->ended()
                              ? conn->failure()
                              : "connection error: desc = \"timed out waiting for server handshake\"";
    conn->abort();
    co_return nullptr;
  }
  last_connect_error_.clear();
  co_return conn;
}

awaitable<std::shared_ptr<detail::GrpcClientConnection>> Channel::connect_in_process(const Endpoint& ep) {
  std::unique_ptr<ByteStream> stream = ep.dial(executor_);
  if (!stream) {
    last_connect_error_ = "connection error: desc = \"transport: the in-process server has shut down\"";
    co_return nullptr;
  }
  co_return co_await handshake(std::move(stream), ep.host, false, Clock::now());
}

awaitable<std::shared_ptr<detail::GrpcClientConnection>> Channel::connect_once(std::size_t index) {
  const Endpoint ep = endpoints_[index];
  if (ep.dial) co_return co_await connect_in_process(ep);
  if (!ep.unix_path.empty()) co_return co_await connect_unix(ep);
  const std::string target = ep.host + ":" + std::to_string(ep.port);
  asio::ip::tcp::resolver resolver(executor_);
  auto [rec, results] =
      co_await resolver.async_resolve(ep.host, std::to_string(ep.port), asio::as_tuple(use_awaitable));
  if (rec) {
    last_connect_error_ = "connection error: desc = \"transport: Error while dialing dial tcp " + target +
                          ": " + rec.message() + "\"";
    co_return nullptr;
  }
  for (const auto& entry : results) {
    const auto started = Clock::now();
    asio::ip::tcp::socket socket(executor_);
    // Connect deadline: the timer closes the socket, which aborts the pending connect.
    auto timed_out = std::make_shared<bool>(false);
    asio::steady_timer timer(executor_);
    timer.expires_after(options_.connect_timeout);
    timer.async_wait([&socket, timed_out](boost::system::error_code ec) {
      if (ec || *timed_out) return;
      *timed_out = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
    auto [ec] = co_await socket.async_connect(entry.endpoint(), asio::as_tuple(use_awaitable));
    bool expired = *timed_out;
    *timed_out = true;  // disarm: the handler must not touch `socket` after this frame moves on
    timer.cancel();
    if (ec || expired) {
      last_connect_error_ = "connection error: desc = \"transport: Error while dialing dial tcp " + target +
                            ": " + (expired ? std::string("i/o timeout") : "connect: " + ec.message()) + "\"";
      continue;
    }
    std::unique_ptr<ByteStream> stream;
    if (ep.tls) {
      // The handshake shares the endpoint's connect deadline; the timer closes the TLS stream.
      auto tls = make_tls_client_stream(ep.tls, std::move(socket),
                                        ep.tls_server_name.empty() ? ep.host : ep.tls_server_name);
      auto done = std::make_shared<bool>(false);
      asio::steady_timer htimer(executor_);
      htimer.expires_at(started + options_.connect_timeout);
      htimer.async_wait([s = tls.get(), done](boost::system::error_code hec) {
        if (hec || *done) return;
        *done = true;
        s->close();
      });
      auto failure = co_await tls->handshake();
      bool hexpired = *done;
      *done = true;
      htimer.cancel();
      if (failure || hexpired) {
        last_connect_error_ = "connection error: desc = \"transport: authentication handshake failed: " +
                              (hexpired ? std::string("context deadline exceeded") : *failure) + "\"";
        continue;
      }
      stream = std::move(tls);
    } else {
      stream = make_tcp_byte_stream(std::move(socket));
    }
    if (auto conn = co_await handshake(std::move(stream), target, ep.tls != nullptr, started)) co_return conn;
  }
  co_return nullptr;
}

awaitable<std::shared_ptr<detail::GrpcClientConnection>> Channel::connection(
    std::optional<Clock::time_point> deadline, bool wait_for_ready) {
  while (!closed_) {
    if (conn_ && conn_->usable()) co_return conn_;
    if (conn_) {
      if (std::string f = conn_->failure(); !f.empty()) last_connect_error_ = std::move(f);
    }
    if (connecting_) {
      connect_wake_.expires_at(deadline.value_or(Clock::time_point::max()));
      co_await connect_wake_.async_wait(asio::as_tuple(use_awaitable));
      if (deadline && Clock::now() >= *deadline) co_return nullptr;
      continue;
    }
    auto now = Clock::now();
    if (now < next_attempt_) {
      if (!wait_for_ready) co_return nullptr;
      asio::steady_timer t(executor_);
      t.expires_at(deadline ? std::min(*deadline, next_attempt_) : next_attempt_);
      co_await t.async_wait(asio::as_tuple(use_awaitable));
      if (deadline && Clock::now() >= *deadline) co_return nullptr;
      continue;
    }
    connecting_ = true;
    std::shared_ptr<detail::GrpcClientConnection> conn;
    for (std::size_t i = 0; i < endpoints_.size() && !conn && !closed_; ++i) {
      std::size_t index = (current_ + i) % endpoints_.size();
      conn = co_await connect_once(index);
      if (conn) current_ = index;
    }
    connecting_ = false;
    connect_wake_.cancel();
    if (conn && !closed_) {
      conn_ = conn;
      ++connects_;
      backoff_ = options_.backoff_initial;
      next_attempt_ = {};
      co_return conn_;
    }
    if (conn) conn->abort();
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(options_.backoff_max, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  backoff_ * options_.backoff_multiplier));
    if (!wait_for_ready) co_return nullptr;
  }
  co_return nullptr;
}

awaitable<ClientCall> Channel::start_call(std::string method, CallOptions options) {
  auto state = std::make_shared<detail::ClientCallState>(executor_, options_.message_bytes_max);
  state->pending_write_bytes_max = options_.stream_pending_write_bytes_max;
  state->pending_read_bytes_max = options_.stream_pending_read_bytes_max;
  std::optional<Clock::time_point> deadline;
  if (options.timeout) deadline = Clock::now() + *options.timeout;
  auto conn = co_await connection(deadline, options.wait_for_ready);
  if (!conn) {
    state->status = deadline && Clock::now() >= *deadline
                        ? Status{StatusCode::kDeadlineExceeded, "deadline exceeded while connecting"}
                        : Status{StatusCode::kUnavailable, "no endpoint reachable"};
    co_return ClientCall(state);
  }
  if (deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    options.timeout = std::max(left, std::chrono::milliseconds(1));
  }
  conn->start_call(state, method, options);
  co_return ClientCall(state);
}

awaitable<UnaryResult> Channel::unary(std::string method, std::string request, CallOptions options) {
  std::optional<Clock::time_point> deadline;
  if (options.timeout) deadline = Clock::now() + *options.timeout;
  UnaryResult result;
  for (int attempt = 0; attempt <= kTransparentRetriesMax; ++attempt) {
    CallOptions o = options;
    if (deadline) {
      o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (*o.timeout <= std::chrono::milliseconds(0)) {
        result.status = {StatusCode::kDeadlineExceeded, "deadline exceeded"};
        break;
      }
    }
    ClientCall call = co_await start_call(method, std::move(o));
    if (co_await call.write(request)) call.writes_done();
    std::optional<std::string> response = co_await call.read();
    result.status = co_await call.finish();
    if (result.status.is_ok()) {
      if (!response) {
        result.status = {StatusCode::kInternal, "server sent no response message"};
      } else {
        result.response = std::move(*response);
      }
    }
    if (!call.unprocessed()) break;
  }
  co_return result;
}

}  // namespace cairn::wire
