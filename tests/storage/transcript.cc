#include "tests/storage/transcript.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

namespace cairn::storage::testing {
namespace {

bool g_rewrite = false;

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string tok;
  while (in >> tok)
    out.push_back(tok);
  return out;
}

std::string unescape(const std::string& s) {
  if (s == "-") return {};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x') {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 2, 2), nullptr, 16)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opt;
  bool has(const std::string& k) const { return opt.count(k) > 0; }
  int64_t num(const std::string& k, int64_t def = 0) const {
    auto it = opt.find(k);
    return it == opt.end() ? def : std::stoll(it->second);
  }
};

Args parse_args(const std::vector<std::string>& toks, size_t from) {
  Args a;
  for (size_t i = from; i < toks.size(); ++i) {
    const std::string& t = toks[i];
    auto eq = t.find('=');
    if (eq != std::string::npos && eq > 0 && t.find('(') == std::string::npos) {
      a.opt[t.substr(0, eq)] = t.substr(eq + 1);
    } else if (i - from < 2 && !(t == "prev_kv" || t == "ignore_value" || t == "ignore_lease" ||
                                 t == "prefix" || t == "from_key" || t == "keys_only" || t == "count_only")) {
      a.pos.push_back(t);
    } else {
      a.opt[t] = "";
    }
  }
  return a;
}

std::string range_end_of(const Args& a, const std::string& key) {
  if (a.has("prefix")) return prefix_end(key);
  if (a.has("from_key")) return std::string(1, '\0');
  if (a.has("end")) return unescape(a.opt.at("end"));
  return {};
}

SortTarget sort_target(const std::string& s) {
  if (s == "version") return SortTarget::kVersion;
  if (s == "create") return SortTarget::kCreate;
  if (s == "mod") return SortTarget::kMod;
  if (s == "value") return SortTarget::kValue;
  return SortTarget::kKey;
}

RequestOp parse_op(const std::vector<std::string>& toks, size_t from) {
  const std::string& cmd = toks.at(from);
  Args a = parse_args(toks, from + 1);
  const std::string key = unescape(a.pos.at(0));
  RequestOp op;
  if (cmd == "put") {
    PutRequest p;
    p.key = key;
    p.value = a.pos.size() > 1 ? unescape(a.pos[1]) : std::string();
    p.lease = a.num("lease");
    p.prev_kv = a.has("prev_kv");
    p.ignore_value = a.has("ignore_value");
    p.ignore_lease = a.has("ignore_lease");
    op.request = p;
  } else if (cmd == "get") {
    RangeRequest r;
    r.key = key;
    r.range_end = range_end_of(a, key);
    r.revision = a.num("rev");
    r.limit = a.num("limit");
    r.keys_only = a.has("keys_only");
    r.count_only = a.has("count_only");
    r.min_mod_revision = a.num("min_mod");
    r.max_mod_revision = a.num("max_mod");
    r.min_create_revision = a.num("min_create");
    r.max_create_revision = a.num("max_create");
    if (a.has("sort")) {
      std::string s = a.opt.at("sort");
      std::string order = "none";
      if (auto c = s.find(':'); c != std::string::npos) {
        order = s.substr(c + 1);
        s = s.substr(0, c);
      }
      r.sort_target = sort_target(s);
      r.sort_order = order == "asc"    ? SortOrder::kAscend
                     : order == "desc" ? SortOrder::kDescend
                                       : SortOrder::kNone;
    }
    op.request = r;
  } else if (cmd == "del") {
    DeleteRangeRequest d;
    d.key = key;
    d.range_end = range_end_of(a, key);
    d.prev_kv = a.has("prev_kv");
    op.request = d;
  } else {
    throw std::runtime_error("unknown op " + cmd);
  }
  return op;
}

// cmp TARGET(KEY[,END]) OP ARG
Compare parse_compare(const std::vector<std::string>& toks) {
  Compare c;
  const std::string& t = toks.at(1);
  auto open = t.find('(');
  auto close = t.rfind(')');
  const std::string target = t.substr(0, open);
  std::string inner = t.substr(open + 1, close - open - 1);
  if (auto comma = inner.find(','); comma != std::string::npos) {
    c.range_end = unescape(inner.substr(comma + 1));
    inner = inner.substr(0, comma);
  }
  c.key = unescape(inner);
  const std::string& op = toks.at(2);
  c.result = op == "="    ? Compare::Result::kEqual
             : op == "!=" ? Compare::Result::kNotEqual
             : op == ">"  ? Compare::Result::kGreater
                          : Compare::Result::kLess;
  const std::string arg = toks.size() > 3 ? toks[3] : "";
  if (target == "value") {
    c.target = Compare::Target::kValue;
    c.value = unescape(arg);
  } else if (target == "version") {
    c.target = Compare::Target::kVersion;
    c.version = std::stoll(arg);
  } else if (target == "create") {
    c.target = Compare::Target::kCreate;
    c.create_revision = std::stoll(arg);
  } else if (target == "mod") {
    c.target = Compare::Target::kMod;
    c.mod_revision = std::stoll(arg);
  } else if (target == "lease") {
    c.target = Compare::Target::kLease;
    c.lease = std::stoll(arg);
  } else {
    throw std::runtime_error("unknown compare target " + target);
  }
  return c;
}

// Each printer writes its first line after `head` and its detail lines under `indent`.
void print_range(std::ostream& out, const RangeResponse& r, const std::string& head,
                 const std::string& indent) {
  out << head << "rev=" << r.header.revision << " count=" << r.count << (r.more ? " more" : "") << "\n";
  for (const KeyValue& kv : r.kvs)
    out << indent << "  " << format_kv(kv) << "\n";
}

void print_put(std::ostream& out, const PutResponse& r, const std::string& head, const std::string& indent) {
  out << head << "rev=" << r.header.revision << "\n";
  if (r.prev_kv) out << indent << "  prev " << format_kv(*r.prev_kv) << "\n";
}

void print_del(std::ostream& out, const DeleteRangeResponse& r, const std::string& head,
               const std::string& indent) {
  out << head << "rev=" << r.header.revision << " deleted=" << r.deleted << "\n";
  for (const KeyValue& kv : r.prev_kvs)
    out << indent << "  prev " << format_kv(kv) << "\n";
}

void print_txn(std::ostream& out, const TxnResponse& r, const std::string& head, const std::string& indent) {
  out << head << "rev=" << r.header.revision << (r.succeeded ? " succeeded" : " failed") << "\n";
  const std::string in = indent + "  ";
  for (const ResponseOp& op : r.responses) {
    if (const auto* rr = std::get_if<RangeResponse>(&op.response)) {
      print_range(out, *rr, in + "get ", in);
    } else if (const auto* pr = std::get_if<PutResponse>(&op.response)) {
      print_put(out, *pr, in + "put ", in);
    } else if (const auto* dr = std::get_if<DeleteRangeResponse>(&op.response)) {
      print_del(out, *dr, in + "del ", in);
    } else {
      print_txn(out, *std::get<Box<TxnResponse>>(op.response), in + "txn ", in);
    }
  }
}

// Txn body lines: `cmp ...`, `then <op>`, `else <op>`; `then txn` / `else txn` opens a nested txn
// whose lines follow indented by two more spaces.
TxnRequest parse_txn(const std::vector<std::string>& lines, size_t* i, size_t indent) {
  TxnRequest t;
  while (*i < lines.size()) {
    const std::string& line = lines[*i];
    const size_t ind = line.find_first_not_of(' ');
    if (ind == std::string::npos) {
      ++*i;
      continue;
    }
    if (ind < indent) break;
    if (ind > indent) throw std::runtime_error("unexpected indentation: " + line);
    ++*i;
    const auto lt = split(line);
    if (lt[0] == "cmp") {
      t.compare.push_back(parse_compare(lt));
      continue;
    }
    if (lt[0] != "then" && lt[0] != "else") throw std::runtime_error("bad txn line " + line);
    RequestOp op;
    if (lt.at(1) == "txn") {
      op.request = Box<TxnRequest>(parse_txn(lines, i, indent + 2));
    } else {
      op = parse_op(lt, 1);
    }
    (lt[0] == "then" ? t.success : t.failure).push_back(std::move(op));
  }
  return t;
}

class Runner {
 public:
  explicit Runner(EngineKind kind) : kind_(kind), h_(std::make_unique<Harness>(kind)) {}

  std::string run(const std::vector<std::string>& input) {
    std::ostringstream out;
    try {
      exec(input, out);
    } catch (const std::exception& e) {
      out << "bad command: " << e.what() << "\n";
    }
    return out.str();
  }

 private:
  template <typename T>
  bool fail(std::ostream& out, const Expected<T, Error>& r) {
    if (r) return false;
    out << "error: " << r.error().message() << "\n";
    return true;
  }

  void exec(const std::vector<std::string>& input, std::ostream& out) {
    const auto toks = split(input.at(0));
    const std::string& cmd = toks.at(0);
    if (cmd == "put" || cmd == "del") {
      RequestOp op = parse_op(toks, 0);
      ApplyRequest req = cmd == "put" ? ApplyRequest(std::get<PutRequest>(op.request))
                                      : ApplyRequest(std::get<DeleteRangeRequest>(op.request));
      auto r = h_->apply(req);
      if (fail(out, r)) return;
      if (cmd == "put") {
        print_put(out, std::get<PutResponse>(*r), "", "");
      } else {
        print_del(out, std::get<DeleteRangeResponse>(*r), "", "");
      }
    } else if (cmd == "get") {
      auto r = h_->range(std::get<RangeRequest>(parse_op(toks, 0).request));
      if (fail(out, r)) return;
      print_range(out, *r, "", "");
    } else if (cmd == "txn") {
      size_t i = 1;
      TxnRequest t = parse_txn(input, &i, 0);
      auto r = h_->apply(t);
      if (fail(out, r)) return;
      print_txn(out, std::get<TxnResponse>(*r), "", "");
    } else if (cmd == "compact") {
      CompactionRequest c;
      c.revision = std::stoll(toks.at(1));
      auto r = h_->apply(c);
      if (fail(out, r)) return;
      out << "rev=" << std::get<CompactionResponse>(*r).header.revision
          << " compacted=" << h_->store().compact_revision() << "\n";
    } else if (cmd == "lease-grant") {
      auto r = h_->apply(LeaseGrantRequest{std::stoll(toks.at(2)), std::stoll(toks.at(1))});
      if (fail(out, r)) return;
      const auto& g = std::get<LeaseGrantResponse>(*r);
      out << "rev=" << g.header.revision << " id=" << g.id << " ttl=" << g.ttl << "\n";
    } else if (cmd == "lease-revoke") {
      auto r = h_->apply(LeaseRevokeRequest{std::stoll(toks.at(1))});
      if (fail(out, r)) return;
      out << "rev=" << std::get<LeaseRevokeResponse>(*r).header.revision << "\n";
    } else if (cmd == "lease-checkpoint") {
      LeaseCheckpointRequest c;
      c.checkpoints.push_back(LeaseCheckpoint{std::stoll(toks.at(1)), std::stoll(toks.at(2))});
      auto r = h_->apply(c);
      if (fail(out, r)) return;
      out << "rev=" << std::get<LeaseCheckpointResponse>(*r).header.revision << "\n";
    } else if (cmd == "lease") {
      auto l = h_->store().lease(std::stoll(toks.at(1)));
      if (!l) {
        out << "not found\n";
        return;
      }
      out << "id=" << l->id << " ttl=" << l->ttl << " remaining=" << l->remaining_ttl << " keys=[";
      for (size_t i = 0; i < l->keys.size(); ++i)
        out << (i ? " " : "") << escape(l->keys[i]);
      out << "]\n";
    } else if (cmd == "alarm") {
      AlarmRequest a;
      a.alarm = AlarmType::kNoSpace;
      const std::string& act = toks.at(1);
      a.action = act == "activate"     ? AlarmRequest::Action::kActivate
                 : act == "deactivate" ? AlarmRequest::Action::kDeactivate
                                       : AlarmRequest::Action::kGet;
      auto r = h_->apply(a);
      if (fail(out, r)) return;
      out << "alarms=" << h_->store().alarms().size() << "\n";  // raised after the request
    } else if (cmd == "hashkv") {
      auto r = h_->store().hash_kv(toks.size() > 1 ? std::stoll(toks[1]) : 0);
      if (fail(out, r)) return;
      out << "rev=" << r->header.revision << " compact_revision=" << r->compact_revision << "\n";
    } else if (cmd == "options") {
      // Starts over with a fresh, empty store using these options.
      Args a = parse_args(toks, 1);
      StoreOptions o;
      o.quota_backend_bytes =
          static_cast<uint64_t>(a.num("quota", static_cast<int64_t>(o.quota_backend_bytes)));
      o.txn_ops_max = static_cast<size_t>(a.num("txn_ops_max", static_cast<int64_t>(o.txn_ops_max)));
      h_.reset();
      h_ = std::make_unique<Harness>(kind_, o);
      out << "ok\n";
    } else if (cmd == "reopen") {
      h_->reopen();
      out << "ok\n";
    } else if (cmd == "status") {
      out << "rev=" << h_->store().revision() << " compact=" << h_->store().compact_revision()
          << " applied=" << h_->store().applied().index << "\n";
    } else {
      throw std::runtime_error("unknown command " + cmd);
    }
  }

  EngineKind kind_;
  std::unique_ptr<Harness> h_;
};

struct Block {
  std::vector<std::string> input;
  std::vector<std::string> expected;
  std::vector<std::string> leading;  // comments and blank lines before the block (kept on rewrite)
};

std::vector<Block> parse_file(const std::string& path, std::vector<std::string>* trailing) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<Block> blocks;
  std::vector<std::string> pending;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') {
      pending.push_back(line);
      continue;
    }
    Block b;
    b.leading = std::move(pending);
    pending.clear();
    b.input.push_back(line);
    bool sep = false;
    while (std::getline(f, line)) {
      if (line == "----") {
        sep = true;
        break;
      }
      b.input.push_back(line);
    }
    if (!sep) throw std::runtime_error(path + ": block without ---- after: " + b.input[0]);
    while (std::getline(f, line) && !line.empty())
      b.expected.push_back(line);
    pending.push_back("");
    blocks.push_back(std::move(b));
  }
  *trailing = std::move(pending);
  return blocks;
}

}  // namespace

void set_rewrite(bool on) {
  g_rewrite = on;
}
bool rewrite_enabled() {
  const char* env = std::getenv("CAIRN_REWRITE");
  return g_rewrite || (env != nullptr && std::string(env) == "1");
}

std::string escape(const std::string& s) {
  if (s.empty()) return "-";
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    if (c > 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string format_kv(const KeyValue& kv) {
  std::ostringstream o;
  o << escape(kv.key) << "=" << escape(kv.value) << " create=" << kv.create_revision
    << " mod=" << kv.mod_revision << " ver=" << kv.version << " lease=" << kv.lease;
  return o.str();
}

std::string run_transcript(const std::string& path, EngineKind kind) {
  std::vector<std::string> trailing;
  std::vector<Block> blocks = parse_file(path, &trailing);
  Runner runner(kind);
  const bool rewrite = rewrite_enabled();
  std::string mismatch;
  std::ostringstream rewritten;
  for (Block& b : blocks) {
    const std::string actual = runner.run(b.input);
    std::string expected;
    for (const std::string& l : b.expected)
      expected += l + "\n";
    if (actual != expected && mismatch.empty()) {
      mismatch = path + ": block `" + b.input[0] + "`\n--- expected\n" + expected + "--- actual\n" + actual;
    }
    // Collapse the separator blank lines: every block is followed by exactly one.
    size_t lead = 0;
    while (lead < b.leading.size() && b.leading[lead].empty())
      ++lead;
    for (size_t i = lead; i < b.leading.size(); ++i)
      rewritten << b.leading[i] << "\n";
    for (const std::string& l : b.input)
      rewritten << l << "\n";
    rewritten << "----\n" << actual << "\n";
  }
  if (rewrite) {
    std::string text = rewritten.str();
    while (text.size() >= 2 && text.substr(text.size() - 2) == "\n\n")
      text.pop_back();
    std::ofstream(path, std::ios::trunc) << text;
    return {};
  }
  return mismatch;
}

}  // namespace cairn::storage::testing
