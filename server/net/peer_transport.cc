#include "server/net/peer_transport.h"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "base/bytes.h"
#include "base/hex.h"
#include "wire/byte_stream.h"
#include "wire/framing.h"
#include "wire/tls.h"

namespace cairn::server::net {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

namespace {

enum FrameType : std::uint8_t { kHello = 1, kMessage = 2, kChunkBegin = 3, kChunkData = 4, kChunkEnd = 5 };
constexpr std::string_view kMagic = "CAIRNPT1";
constexpr std::size_t kHelloIdsBytes = 8 + 8 + 8;  // magic, sender id, cluster id
constexpr std::size_t kHelloUrlBytesMax = 1024;    // the sender's peer URL, after the ids
// A connection that ends this soon after it was made was likely refused: the next HELLO switches layout.
constexpr auto kHelloRetryWindow = std::chrono::seconds(1);
constexpr std::size_t kFrameHeaderBytes = 9;
constexpr std::size_t kChunkOverheadBytes = 32;  // transfer id, totals: slack on top of chunk_bytes

void put_u32(std::string& s, std::uint32_t v) {
  base::append_be(s, v, 4);
}
void put_u64(std::string& s, std::uint64_t v) {
  base::append_be(s, v, 8);
}
using base::get_be;

// Appends one frame; `parts` are concatenated into the payload.
void append_frame(std::string& out, FrameType type, std::initializer_list<std::string_view> parts) {
  std::size_t len = 0;
  for (auto p : parts)
    len += p.size();
  put_u32(out, static_cast<std::uint32_t>(len));
  std::string_view t(reinterpret_cast<const char*>(&type), 1);
  std::uint32_t crc = crc32c(t);
  for (auto p : parts)
    crc = crc32c(p, crc);
  put_u32(out, crc);
  out.push_back(static_cast<char>(type));
  for (auto p : parts)
    out.append(p);
}

bool same_endpoint(const Endpoint& a, const Endpoint& b) {
  return a.host == b.host && a.port == b.port && a.tls == b.tls && a.tls_server_name == b.tls_server_name &&
         a.unix_path == b.unix_path && !a.dial && !b.dial;
}

std::string u64_bytes(std::uint64_t v) {
  std::string s;
  put_u64(s, v);
  return s;
}

struct Frame {
  FrameType type;
  std::string payload;
};

// Reads frames from a stream; nullopt on EOF, I/O error, oversize or CRC mismatch.
class FrameReader {
 public:
  FrameReader(ByteStream& s, std::size_t payload_max) : s_(s), payload_max_(payload_max) {}

  awaitable<std::optional<Frame>> next(bool& corrupt) {
    if (!co_await fill(kFrameHeaderBytes)) co_return std::nullopt;
    std::size_t len = get_be(buf_, 0, 4);
    auto crc = static_cast<std::uint32_t>(get_be(buf_, 4, 4));
    if (len > payload_max_) {
      corrupt = true;
      co_return std::nullopt;
    }
    if (!co_await fill(kFrameHeaderBytes + len)) co_return std::nullopt;
    Frame f{static_cast<FrameType>(buf_[8]), buf_.substr(kFrameHeaderBytes, len)};
    if (crc32c(f.payload, crc32c(std::string_view(buf_.data() + 8, 1))) != crc) {
      corrupt = true;
      co_return std::nullopt;
    }
    buf_.erase(0, kFrameHeaderBytes + len);
    co_return f;
  }

 private:
  awaitable<bool> fill(std::size_t n) {
    while (buf_.size() < n) {
      std::size_t want = std::max<std::size_t>(n - buf_.size(), 64 * 1024);
      std::size_t old = buf_.size();
      buf_.resize(old + want);
      IoResult r = co_await s_.read_some(asio::buffer(buf_.data() + old, want));
      buf_.resize(old + (r.ec ? 0 : r.bytes));
      if (r.ec) co_return false;
    }
    co_return true;
  }

  ByteStream& s_;
  std::size_t payload_max_;
  std::string buf_;
};

std::uint32_t checksum(std::string_view data) {
  return crc32c(data);
}

// An in-memory payload for send_large(std::string).
class StringSource final : public LargeSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)), crc_(checksum(data_)) {}
  std::uint64_t size() const override { return data_.size(); }
  std::uint32_t crc32c() const override { return crc_; }
  bool read(std::string& out, std::size_t n) override {
    out.append(data_, at_, n);
    at_ += n;
    return true;
  }

 private:
  std::string data_;
  std::uint32_t crc_;
  std::size_t at_ = 0;
};

// Reassembles a payload in memory for receivers without open_large; delivers it through on_message.
class MemorySink final : public LargeSink {
 public:
  MemorySink(std::function<void(PeerId, std::string)> deliver, PeerId from)
      : deliver_(std::move(deliver)), from_(from) {}
  bool write(std::string_view bytes) override {
    data_.append(bytes);
    return true;
  }
  void finish() override {
    if (deliver_) deliver_(from_, std::move(data_));
  }

 private:
  std::function<void(PeerId, std::string)> deliver_;
  PeerId from_;
  std::string data_;
};

}  // namespace

struct PeerTransport::Impl : std::enable_shared_from_this<PeerTransport::Impl> {
  struct Peer {
    explicit Peer(const asio::strand<asio::io_context::executor_type>& ex) : wake(ex), backoff_timer(ex) {}
    PeerId id = 0;
    Endpoint endpoint;
    // Guarded by mu (touched by senders on any thread).
    std::mutex mu;
    std::deque<std::string> queue;
    std::size_t queued_bytes = 0;
    std::deque<std::unique_ptr<LargeSource>> large;
    std::atomic<bool> kick_pending{false};
    // Strand only.
    bool removed = false;
    // The HELLO layout of the next connection: with this member's peer URL only after a connection the
    // peer closed within kHelloRetryWindow (run_peer): builds before the URL refuse the longer layout,
    // and a peer that knows us needs no URL. Alternates while the peer keeps refusing.
    bool hello_with_url = false;
    asio::steady_timer wake, backoff_timer;
    ByteStream* stream = nullptr;
  };

  Impl(asio::io_context& ioc, PeerId self, PeerTransportOptions o, PeerTransportCallbacks cb)
      : ioc(ioc), strand(asio::make_strand(ioc)), self(self), options(o), callbacks(std::move(cb)) {}

  asio::io_context& ioc;
  asio::strand<asio::io_context::executor_type> strand;
  const PeerId self;
  std::atomic<std::uint64_t> cluster_id{0};
  const PeerTransportOptions options;
  const PeerTransportCallbacks callbacks;
  PeerTransportStats stats;
  std::optional<asio::ip::tcp::acceptor> acceptor;
  std::optional<asio::local::stream_protocol::acceptor> unix_acceptor;  // listen_unix()
  std::uint16_t port = 0;

  std::mutex mu;  // guards peers, stopped and self_url_
  std::map<PeerId, std::shared_ptr<Peer>> peers;
  bool stopped = false;
  std::string self_url_;  // sent in HELLO (set_self_url)

  std::set<ByteStream*> inbound;                         // strand only
  std::deque<ByteStream*> pending;                       // strand only: not said HELLO yet, oldest first
  std::map<PeerId, std::deque<ByteStream*>> identified;  // strand only: by the member they came from
  std::size_t large_inbound_bytes = 0;  // strand only: announced totals of the transfers being received
  std::string chunk_buf;                // strand only: the chunk being framed

  void report_drop(PeerId to, std::size_t n) {
    stats.messages_dropped.fetch_add(n);
    if (callbacks.on_unreachable) callbacks.on_unreachable(to);
  }

  void kick(const std::shared_ptr<Peer>& p) {
    if (!p->kick_pending.exchange(true)) {
      asio::post(strand, [p] {
        p->kick_pending = false;
        p->wake.cancel();
      });
    }
  }

  std::shared_ptr<Peer> find_peer(PeerId to) {
    std::lock_guard lock(mu);
    if (auto it = peers.find(to); it != peers.end() && !stopped) return it->second;
    return nullptr;
  }

  // Queues a message, or a large payload when `large` is set (then `payload` is ignored).
  bool enqueue(PeerId to, std::string payload, std::unique_ptr<LargeSource> large) {
    std::shared_ptr<Peer> p = find_peer(to);
    if (!p) {
      report_drop(to, 1);
      return false;
    }
    {
      std::lock_guard lock(p->mu);
      bool fits = large ? p->large.size() < options.large_transfers_queued_max
                        : payload.size() <= options.frame_bytes_max &&
                              p->queue.size() < options.send_queue_messages_max &&
                              p->queued_bytes + payload.size() <= options.send_queue_bytes_max;
      if (!fits) {
        // Drop rather than queue without limit; raft retries through probing.
        p.reset();
      } else if (large) {
        p->large.push_back(std::move(large));
      } else {
        p->queued_bytes += payload.size();
        p->queue.push_back(std::move(payload));
      }
    }
    if (!p) {
      report_drop(to, 1);
      return false;
    }
    kick(p);
    return true;
  }

  // --- outbound ---

  // A unix:// peer URL (plain text only), within connect_timeout.
  awaitable<std::unique_ptr<ByteStream>> dial_unix(const Endpoint& ep) {
    if (options.tls_client) co_return nullptr;  // unixs:// peers are not supported
    asio::local::stream_protocol::socket socket(strand);
    auto done = std::make_shared<bool>(false);
    asio::steady_timer timer(strand);
    timer.expires_after(options.connect_timeout);
    timer.async_wait([&socket, done](boost::system::error_code ec) {
      if (ec || *done) return;
      *done = true;
      boost::system::error_code ignored;
      socket.close(ignored);
    });
    auto [ec] = co_await socket.async_connect(asio::local::stream_protocol::endpoint(ep.unix_path),
                                              asio::as_tuple(use_awaitable));
    bool expired = *done;
    *done = true;
    timer.cancel();
    if (ec || expired) co_return nullptr;
    co_return make_unix_byte_stream(std::move(socket));
  }

  awaitable<std::unique_ptr<ByteStream>> dial(const Endpoint& ep) {
    if (!ep.unix_path.empty()) co_return co_await dial_unix(ep);
    asio::ip::tcp::resolver resolver(strand);
    auto [rec, results] =
        co_await resolver.async_resolve(ep.host, std::to_string(ep.port), asio::as_tuple(use_awaitable));
    if (rec) co_return nullptr;
    for (const auto& entry : results) {
      asio::ip::tcp::socket socket(strand);
      auto done = std::make_shared<bool>(false);
      asio::steady_timer timer(strand);
      timer.expires_after(options.connect_timeout);
      timer.async_wait([&socket, done](boost::system::error_code ec) {
        if (ec || *done) return;
        *done = true;
        boost::system::error_code ignored;
        socket.close(ignored);
      });
      const auto started = Clock::now();
      auto [ec] = co_await socket.async_connect(entry.endpoint(), asio::as_tuple(use_awaitable));
      bool expired = *done;
      *done = true;
      timer.cancel();
      if (ec || expired) continue;
      if (!options.tls_client) co_return make_tcp_byte_stream(std::move(socket));
      // TLS within what is left of the connect deadline.
      std::unique_ptr<TlsStream> tls = make_tls_client_stream(
          options.tls_client, std::move(socket), ep.tls_server_name.empty() ? ep.host : ep.tls_server_name);
      auto hdone = std::make_shared<bool>(false);
      asio::steady_timer htimer(strand);
      htimer.expires_at(started + options.connect_timeout);
      htimer.async_wait([t = tls.get(), hdone](boost::system::error_code hec) {
        if (hec || *hdone) return;  // the stream may be gone once the handshake is over
        *hdone = true;
        t->close();
      });
      auto failure = co_await tls->handshake();
      *hdone = true;
      htimer.cancel();
      if (failure) {
        stats.tls_handshake_failures.fetch_add(1);
        continue;
      }
      if (auto why = check_cert_rules(*tls)) {  // etcd checks the rules on both ends of a connection
        if (callbacks.on_refused)
          callbacks.on_refused("peer " + ep.host + ":" + std::to_string(ep.port) + " refused: " + *why);
        tls->close();
        continue;
      }
      co_return std::unique_ptr<ByteStream>(std::move(tls));
    }
    co_return nullptr;
  }

  struct LargeSend {
    std::uint64_t id = 0;
    std::unique_ptr<LargeSource> payload;
    std::uint64_t offset = 0;
  };

  // Moves queued messages (and the next chunk of a large transfer) into `out` as frames. A transfer
  // whose source fails to read is dropped and `failed` set: the connection must go, so the receiver
  // forgets the part it got.
  std::size_t build_batch(Peer& p, std::string& out, std::optional<LargeSend>& cur, std::uint64_t& next_id,
                          bool& failed) {
    std::size_t messages = 0;
    bool begins = false;
    {
      std::lock_guard lock(p.mu);
      while (!p.queue.empty() && out.size() < options.write_batch_bytes_max) {
        std::string m = std::move(p.queue.front());
        p.queue.pop_front();
        p.queued_bytes -= m.size();
        append_frame(out, kMessage, {m});
        ++messages;
      }
      if (!cur && !p.large.empty()) {
        cur = LargeSend{next_id++, std::move(p.large.front()), 0};
        p.large.pop_front();
        begins = true;
      } else if (!cur) {
        return messages;
      }
    }
    // Unlocked from here: a source may read a file, and send() must not wait for that.
    if (begins) {
      std::string head = u64_bytes(cur->id) + u64_bytes(cur->payload->size());
      put_u32(head, cur->payload->crc32c());
      append_frame(out, kChunkBegin, {head});
    }
    {
      // One chunk per batch so regular messages (heartbeats) keep flowing during a snapshot.
      std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(options.chunk_bytes, cur->payload->size() - cur->offset));
      std::string id = u64_bytes(cur->id);
      chunk_buf.clear();
      if (!cur->payload->read(chunk_buf, n) || chunk_buf.size() != n) {
        failed = true;
        return messages;
      }
      append_frame(out, kChunkData, {id, chunk_buf});
      cur->offset += n;
      if (cur->offset == cur->payload->size()) {
        append_frame(out, kChunkEnd, {id});
        ++messages;
        cur.reset();
      }
    }
    return messages;
  }

  static awaitable<void> drain_reader(std::shared_ptr<Impl> self, std::shared_ptr<Peer> p,
                                      std::shared_ptr<ByteStream> s, std::shared_ptr<bool> broken) {
    // The peer never writes on our outbound connection: any read completion means it is gone.
    std::array<char, 256> buf{};
    while (true) {
      IoResult r = co_await s->read_some(asio::buffer(buf));
      if (r.ec) break;
    }
    *broken = true;
    p->wake.cancel();
    (void)self;
  }

  static awaitable<void> run_peer(std::shared_ptr<Impl> self, std::shared_ptr<Peer> p) {
    const auto& o = self->options;
    auto backoff = o.backoff_initial;
    bool reported = false;
    std::uint64_t next_transfer_id = 1;
    while (!p->removed && !self->is_stopped()) {
      std::unique_ptr<ByteStream> stream = co_await self->dial(p->endpoint);
      if (p->removed || self->is_stopped()) break;
      if (!stream) {
        self->stats.connect_failures.fetch_add(1);
        if (!reported) {
          reported = true;
          if (self->callbacks.on_unreachable) self->callbacks.on_unreachable(p->id);
        }
        p->backoff_timer.expires_after(backoff);
        co_await p->backoff_timer.async_wait(asio::as_tuple(use_awaitable));
        backoff = std::min(o.backoff_max, backoff * 2);
        continue;
      }
      self->stats.connects.fetch_add(1);
      reported = false;
      std::shared_ptr<ByteStream> sp = std::move(stream);  // shared with the drain reader
      p->stream = sp.get();
      auto broken = std::make_shared<bool>(false);
      asio::co_spawn(self->strand, drain_reader(self, p, sp, broken), asio::detached);
      std::string out;
      append_frame(out, kHello,
                   {kMagic, u64_bytes(self->self), u64_bytes(self->cluster_id.load()),
                    p->hello_with_url ? self->self_url() : std::string()});
      const auto connected_at = std::chrono::steady_clock::now();
      std::optional<LargeSend> cur;
      std::size_t in_flight = 0;
      asio::steady_timer stall(self->strand);
      auto stall_gen = std::make_shared<std::uint64_t>(0);
      while (!*broken && !p->removed && !self->is_stopped()) {
        bool source_failed = false;
        if (out.empty()) in_flight = self->build_batch(*p, out, cur, next_transfer_id, source_failed);
        if (source_failed) {  // the transfer is reported below; the messages framed with it here
          if (in_flight > 0) self->report_drop(p->id, in_flight);
          break;
        }
        if (out.empty()) {
          p->wake.expires_at(asio::steady_timer::time_point::max());
          co_await p->wake.async_wait(asio::as_tuple(use_awaitable));
          continue;
        }
        stall.expires_after(o.write_stall_timeout);
        stall.async_wait([sp, stall_gen, gen = ++*stall_gen](boost::system::error_code ec) {
          if (!ec && gen == *stall_gen) sp->close();  // the peer stopped reading
        });
        IoResult r = co_await sp->write_all(asio::buffer(out));
        ++*stall_gen;
        stall.cancel();
        if (r.ec) {
          if (in_flight > 0 || cur) self->report_drop(p->id, in_flight + (cur ? 1 : 0));
          break;
        }
        self->stats.messages_sent.fetch_add(in_flight);
        out.clear();
        in_flight = 0;
      }
      if (cur) self->report_drop(p->id, 1);  // a half-sent transfer is lost with the connection
      *broken = true;
      sp->close();
      p->stream = nullptr;
      if (std::chrono::steady_clock::now() - connected_at >= kHelloRetryWindow) {
        backoff = o.backoff_initial;
        continue;
      }
      // Likely refused (a HELLO this peer does not accept, a certificate rule): switch the HELLO's
      // layout, and back off rather than redial at once, again and again.
      p->hello_with_url = !p->hello_with_url;
      if (p->removed || self->is_stopped()) break;
      p->backoff_timer.expires_after(backoff);
      co_await p->backoff_timer.async_wait(asio::as_tuple(use_awaitable));
      backoff = std::min(o.backoff_max, backoff * 2);
    }
    // Removed or stopped: whatever is still queued is dropped.
    std::size_t left = 0;
    {
      std::lock_guard lock(p->mu);
      left = p->queue.size() + p->large.size();
      p->queue.clear();
      p->large.clear();
      p->queued_bytes = 0;
    }
    if (left > 0) self->stats.messages_dropped.fetch_add(left);
  }

  bool is_stopped() {
    std::lock_guard lock(mu);
    return stopped;
  }

  // --- inbound ---

  void refuse(ByteStream& s, const std::string& why) {
    if (callbacks.on_refused)
      callbacks.on_refused("peer connection from " + s.remote_address() + " refused: " + why);
  }

  // etcd's --peer-cert-allowed-cn / --peer-cert-allowed-hostname on a verified TLS connection; a reason
  // when the certificate breaks them.
  std::optional<std::string> check_cert_rules(const TlsStream& tls) {
    const PeerCertRules& r = options.cert_rules;
    if (!r.allowed_cn.empty() && tls.peer_common_name() != r.allowed_cn) {
      stats.cert_rule_failures.fetch_add(1);
      return "certificate CN \"" + tls.peer_common_name() + "\" is not --peer-cert-allowed-cn \"" +
             r.allowed_cn + "\"";
    }
    if (!r.allowed_hostname.empty() && !tls.peer_certificate_valid_for(r.allowed_hostname)) {
      stats.cert_rule_failures.fetch_add(1);
      return "certificate is not valid for --peer-cert-allowed-hostname " + r.allowed_hostname;
    }
    return std::nullopt;
  }

  // The HELLO's claims: its cluster, its member id and (peer TLS) that its certificate is that member's.
  // A sender this member does not know (its log may lack the change that added it) is admitted when it
  // names its peer URL and this member's cluster, and admit_unknown agrees (check_unknown).
  std::optional<std::string> check_hello(std::string_view payload, PeerId from, const TlsStream* tls) {
    std::uint64_t theirs = payload.size() >= kHelloIdsBytes ? get_be(payload, kMagic.size() + 8, 8) : 0;
    std::uint64_t ours = cluster_id.load();
    if (theirs != 0 && ours != 0 && theirs != ours) {
      stats.cluster_mismatches.fetch_add(1);
      return fmt_hex("member ", from) + fmt_hex(" belongs to cluster ", theirs) +
             fmt_hex(", this member to cluster ", ours) + " (another --initial-cluster-token?)";
    }
    std::optional<Endpoint> ep;
    {
      std::lock_guard lock(mu);
      if (auto it = peers.find(from); it != peers.end()) ep = it->second->endpoint;
    }
    bool admitting = false;
    if (options.refuse_unknown_senders && (from == self || !ep)) {
      std::string url(payload.size() > kHelloIdsBytes ? payload.substr(kHelloIdsBytes) : std::string_view());
      if (from != self) ep = check_unknown(from, theirs, ours, url);
      if (!ep) {
        stats.unknown_senders.fetch_add(1);
        return fmt_hex("HELLO claims member ", from) +
               (from == self ? ", this member's own id" : ", not a member");
      }
      admitting = true;
    }
    if (tls != nullptr && options.cert_rules.cert_must_match_member_url) {
      std::string host = ep ? (ep->tls_server_name.empty() ? ep->host : ep->tls_server_name) : std::string();
      if (!ep || !ep->unix_path.empty() || !tls->peer_certificate_valid_for(host)) {
        stats.cert_rule_failures.fetch_add(1);
        return fmt_hex("HELLO claims member ", from) +
               " but its certificate is not valid for that member's peer URL host " +
               (host.empty() ? std::string("(none known)") : host);
      }
    }
    if (admitting) {
      stats.unknown_members_admitted.fetch_add(1);
      install_peer(from, std::move(*ep));
    }
    return std::nullopt;
  }

  // An unknown sender that names its cluster (this member's, or any while this member knows none) and its
  // peer URL: the endpoint to answer it at, if admit_unknown agrees.
  std::optional<Endpoint> check_unknown(PeerId from, std::uint64_t theirs, std::uint64_t ours,
                                        const std::string& url) {
    // ours == 0: this member does not know its cluster yet (a joining member, or one whose WAL repair
    // cut the metadata that named it), so it cannot tell; it accepts its known peers the same way.
    if (theirs == 0 || (ours != 0 && theirs != ours) || url.empty() || !callbacks.admit_unknown)
      return std::nullopt;
    return callbacks.admit_unknown(from, url);
  }

  std::string self_url() {
    std::lock_guard lock(mu);
    return self_url_;
  }

  // A new peer, dialed from now on (add_peer; also an admitted unknown sender, on the strand).
  void install_peer(PeerId id, Endpoint endpoint) {
    auto p = std::make_shared<Peer>(strand);
    p->id = id;
    p->endpoint = std::move(endpoint);
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      peers[id] = p;
    }
    asio::co_spawn(strand, run_peer(shared_from_this(), p), asio::detached);
  }

  static std::string fmt_hex(std::string_view prefix, std::uint64_t v) {
    return std::string(prefix) + base::hex(v);
  }

  // Connection bookkeeping (strand only): `pending` in arrival order until HELLO, then per member.
  void admit_pending(ByteStream* s) {
    inbound.insert(s);
    if (pending.size() >= options.inbound_pending_max && !pending.empty()) {
      ByteStream* oldest = pending.front();
      pending.pop_front();
      stats.connections_evicted.fetch_add(1);
      refuse(*oldest, "more than " + std::to_string(options.inbound_pending_max) +
                          " connections have not said HELLO; closing the oldest");
      oldest->close();
    }
    pending.push_back(s);
  }
  void identify(ByteStream* s, PeerId from) {
    std::erase(pending, s);
    auto& mine = identified[from];
    if (mine.size() >= options.inbound_per_peer_max && !mine.empty()) {
      ByteStream* oldest = mine.front();
      mine.pop_front();
      stats.connections_evicted.fetch_add(1);
      oldest->close();  // its reader ends and forgets it
    }
    mine.push_back(s);
  }
  void forget(ByteStream* s) {
    s->close();
    inbound.erase(s);
    std::erase(pending, s);
    for (auto it = identified.begin(); it != identified.end();) {
      std::erase(it->second, s);
      it = it->second.empty() ? identified.erase(it) : std::next(it);
    }
  }

  // TLS handshake and HELLO within handshake_timeout; the sender's id when every check passed.
  static awaitable<std::optional<PeerId>> greet(std::shared_ptr<Impl> self, std::shared_ptr<ByteStream> s,
                                                TlsStream* tls, FrameReader& reader, bool& corrupt) {
    auto hello_done = std::make_shared<bool>(false);
    asio::steady_timer timer(self->strand);
    timer.expires_after(self->options.handshake_timeout);
    timer.async_wait([s, hello_done](boost::system::error_code ec) {
      if (!ec && !*hello_done) s->close();
    });
    struct Disarm {
      std::shared_ptr<bool> done;
      asio::steady_timer& t;
      ~Disarm() {
        *done = true;
        t.cancel();
      }
    } disarm{hello_done, timer};
    if (tls != nullptr) {
      // A member without an acceptable certificate never gets to say HELLO.
      if (auto failure = co_await tls->handshake()) {
        self->stats.tls_handshake_failures.fetch_add(1);
        self->refuse(*s, "TLS handshake: " + *failure);
        co_return std::nullopt;
      }
      if (auto why = self->check_cert_rules(*tls)) {
        self->refuse(*s, *why);
        co_return std::nullopt;
      }
    }
    auto hello = co_await reader.next(corrupt);
    if (!hello) co_return std::nullopt;
    bool hello_ok = hello->type == kHello &&
                    (hello->payload.size() == kMagic.size() + 8 ||
                     (hello->payload.size() >= kHelloIdsBytes &&
                      hello->payload.size() <= kHelloIdsBytes + kHelloUrlBytesMax)) &&
                    hello->payload.compare(0, kMagic.size(), kMagic) == 0;
    if (!hello_ok) {
      corrupt = true;
      co_return std::nullopt;
    }
    PeerId from = get_be(hello->payload, kMagic.size(), 8);
    if (auto why = self->check_hello(hello->payload, from, tls)) {
      self->refuse(*s, *why);
      co_return std::nullopt;
    }
    co_return from;
  }

  static awaitable<void> serve_inbound(std::shared_ptr<Impl> self, std::shared_ptr<ByteStream> s,
                                       TlsStream* tls) {
    const auto& o = self->options;
    FrameReader reader(*s,
                       o.frame_bytes_max + std::max(o.chunk_bytes, std::size_t{64}) + kChunkOverheadBytes);
    bool corrupt = false;
    std::optional<PeerId> from = co_await greet(self, s, tls, reader, corrupt);
    if (from) {
      self->identify(s.get(), *from);
      corrupt = !co_await read_frames(self, reader, *from);
    }
    if (corrupt) {
      self->stats.bad_frames.fetch_add(1);
      self->refuse(*s, "a malformed frame (bad checksum, unknown type or above the size bound)");
    }
    self->forget(s.get());
  }

  // CHUNK_BEGIN: where the transfer's bytes go (the callback's sink, or memory within the port's
  // budget). False refuses it, which closes the connection.
  template <class Incoming>
  bool begin_large(PeerId from, std::string_view head, std::optional<Incoming>& in, std::size_t& reserved) {
    std::uint64_t total = get_be(head, 8, 8);
    std::unique_ptr<LargeSink> sink;
    if (callbacks.open_large) {
      sink = callbacks.open_large(from, total);
    } else if (total <= options.large_payload_bytes_max - large_inbound_bytes) {
      // One budget for the whole port: a second connection cannot double what may be buffered.
      reserved = total;
      large_inbound_bytes += total;
      sink = std::make_unique<MemorySink>(callbacks.on_message, from);
    }
    if (!sink) {
      stats.large_payloads_refused.fetch_add(1);
      return false;
    }
    in = Incoming{get_be(head, 0, 8), total, 0, static_cast<std::uint32_t>(get_be(head, 16, 4)), 0,
                  std::move(sink)};
    return true;
  }

  // Delivers frames until the connection ends; false on a protocol violation.
  static awaitable<bool> read_frames(std::shared_ptr<Impl> self, FrameReader& reader, PeerId from) {
    struct Incoming {
      std::uint64_t id = 0, total = 0, got = 0;
      std::uint32_t crc = 0, running_crc = 0;
      std::unique_ptr<LargeSink> sink;
    };
    std::optional<Incoming> in;
    // Announced bytes of this connection's in-memory transfer, counted against the port's budget.
    struct Reservation {
      std::size_t& total;
      std::size_t bytes = 0;
      ~Reservation() { total -= bytes; }
    } reserved{self->large_inbound_bytes};
    bool corrupt = false;
    while (auto f = co_await reader.next(corrupt)) {
      bool ok = true;
      switch (f->type) {
        case kMessage:
          self->stats.messages_received.fetch_add(1);
          if (self->callbacks.on_message) self->callbacks.on_message(from, std::move(f->payload));
          break;
        case kChunkBegin:
          ok = f->payload.size() == 20 && !in && self->begin_large(from, f->payload, in, reserved.bytes);
          break;
        case kChunkData:
          ok = in && f->payload.size() >= 8 && get_be(f->payload, 0, 8) == in->id &&
               in->got + (f->payload.size() - 8) <= in->total;
          if (ok) {
            std::string_view bytes = std::string_view(f->payload).substr(8);
            in->got += bytes.size();
            in->running_crc = crc32c(bytes, in->running_crc);
            ok = in->sink->write(bytes);
            if (!ok) self->stats.large_payloads_refused.fetch_add(1);
          }
          break;
        case kChunkEnd:
          ok = in && f->payload.size() == 8 && get_be(f->payload, 0, 8) == in->id && in->got == in->total &&
               in->running_crc == in->crc;
          if (ok) {
            self->stats.large_payloads_received.fetch_add(1);
            in->sink->finish();
            in.reset();
            self->large_inbound_bytes -= reserved.bytes;
            reserved.bytes = 0;
          }
          break;
        default:
          ok = false;
      }
      if (!ok) co_return false;
    }
    co_return !corrupt;
  }

  std::pair<std::shared_ptr<ByteStream>, TlsStream*> wrap(asio::ip::tcp::socket socket) {
    if (!options.tls_server) return {make_tcp_byte_stream(std::move(socket)), nullptr};
    std::shared_ptr<TlsStream> t = make_tls_server_stream(options.tls_server, std::move(socket));
    TlsStream* raw = t.get();
    return {std::move(t), raw};
  }
  std::pair<std::shared_ptr<ByteStream>, TlsStream*> wrap(asio::local::stream_protocol::socket socket) {
    return {make_unix_byte_stream(std::move(socket)), nullptr};
  }

  template <class Acceptor>
  static awaitable<void> accept_loop(std::shared_ptr<Impl> self, Acceptor* acceptor) {
    while (true) {
      auto [ec, socket] = co_await acceptor->async_accept(self->strand, asio::as_tuple(use_awaitable));
      if (ec) {
        if (!acceptor->is_open() || self->is_stopped()) co_return;
        asio::steady_timer t(self->strand, std::chrono::milliseconds(50));
        co_await t.async_wait(asio::as_tuple(use_awaitable));
        continue;
      }
      auto [s, tls] = self->wrap(std::move(socket));
      if (self->is_stopped()) {
        s->close();
        continue;
      }
      // Registered before the coroutine starts so a concurrent shutdown() always finds (and closes) it.
      self->admit_pending(s.get());
      asio::co_spawn(self->strand, serve_inbound(self, s, tls), asio::detached);
    }
  }
};

PeerTransport::PeerTransport(asio::io_context& ioc, PeerId self, PeerTransportOptions options,
                             PeerTransportCallbacks callbacks)
    : impl_(std::make_shared<Impl>(ioc, self, options, std::move(callbacks))) {}

PeerTransport::~PeerTransport() {
  shutdown();
}

boost::system::error_code PeerTransport::listen(const std::string& address, std::uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return ec;
  asio::ip::tcp::endpoint ep(addr, port);
  auto& acc = impl_->acceptor.emplace(impl_->strand);
  if (acc.open(ep.protocol(), ec); ec) return ec;
  if (acc.set_option(asio::socket_base::reuse_address(true), ec); ec) return ec;
  if (acc.bind(ep, ec); ec) return ec;
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  impl_->port = acc.local_endpoint(ec).port();
  asio::co_spawn(impl_->strand, Impl::accept_loop(impl_, &acc), asio::detached);
  return {};
}

boost::system::error_code PeerTransport::listen_unix(const std::string& path) {
  boost::system::error_code ec;
  if (impl_->options.tls_server) return asio::error::operation_not_supported;  // unixs:// is not served
  ::unlink(path.c_str());  // a socket file left by an earlier run
  asio::local::stream_protocol::endpoint ep(path);
  auto& acc = impl_->unix_acceptor.emplace(impl_->strand);
  if (acc.open(ep.protocol(), ec); ec) return ec;
  if (acc.bind(ep, ec); ec) return ec;
  if (acc.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  asio::co_spawn(impl_->strand, Impl::accept_loop(impl_, &acc), asio::detached);
  return {};
}

void PeerTransport::serve_stream(std::unique_ptr<ByteStream> stream) {
  std::shared_ptr<ByteStream> s = std::move(stream);
  asio::post(impl_->strand, [impl = impl_, s] {
    if (impl->is_stopped()) return s->close();
    impl->admit_pending(s.get());
    asio::co_spawn(impl->strand, Impl::serve_inbound(impl, s, nullptr), asio::detached);
  });
}

std::uint16_t PeerTransport::port() const {
  return impl_->port;
}

void PeerTransport::set_cluster_id(std::uint64_t id) {
  impl_->cluster_id.store(id);
}

void PeerTransport::set_self_url(std::string url) {
  if (url.size() > kHelloUrlBytesMax) url.clear();  // longer than a receiver accepts: send none
  std::lock_guard lock(impl_->mu);
  impl_->self_url_ = std::move(url);
}

void PeerTransport::add_peer(PeerId id, Endpoint endpoint) {
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->peers.find(id);
    if (it != impl_->peers.end() && same_endpoint(it->second->endpoint, endpoint)) return;
  }
  remove_peer(id);
  impl_->install_peer(id, std::move(endpoint));
}

void PeerTransport::remove_peer(PeerId id) {
  std::shared_ptr<Impl::Peer> p;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->peers.find(id);
    if (it == impl_->peers.end()) return;
    p = it->second;
    impl_->peers.erase(it);
  }
  asio::post(impl_->strand, [p] {
    p->removed = true;
    if (p->stream) p->stream->close();
    p->wake.cancel();
    p->backoff_timer.cancel();
  });
}

bool PeerTransport::send(PeerId to, std::string payload) {
  return impl_->enqueue(to, std::move(payload), nullptr);
}

bool PeerTransport::send_large(PeerId to, std::unique_ptr<LargeSource> payload) {
  return impl_->enqueue(to, {}, std::move(payload));
}

bool PeerTransport::send_large(PeerId to, std::string payload) {
  return send_large(to, std::make_unique<StringSource>(std::move(payload)));
}

void PeerTransport::shutdown() {
  std::map<PeerId, std::shared_ptr<Impl::Peer>> peers;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    peers.swap(impl_->peers);
  }
  auto impl = impl_;
  asio::post(impl_->strand, [impl, peers] {
    boost::system::error_code ignored;
    if (impl->acceptor) impl->acceptor->close(ignored);
    if (impl->unix_acceptor) impl->unix_acceptor->close(ignored);
    for (auto& [id, p] : peers) {
      p->removed = true;
      if (p->stream) p->stream->close();
      p->wake.cancel();
      p->backoff_timer.cancel();
    }
    for (ByteStream* s : impl->inbound)
      s->close();
  });
}

const PeerTransportStats& PeerTransport::stats() const {
  return impl_->stats;
}

}  // namespace cairn::server::net
