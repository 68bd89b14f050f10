// Data-driven transcript tests for the Raft core (in the manner of etcd-io/raft's interaction tests,
// with our own command language and format).
//
// Each file in testdata/ is a sequence of blocks:
//
//   # comments and blank lines (kept as they are)
//   command arg arg key=value key=(1,2,3)
//   ----
//   expected output lines (never empty; a command without output prints "ok")
//   <blank line>
//
// The driver runs every command against a small in-process cluster (TestNode: RawNode + MemoryStorage)
// and compares the output with the expected lines. On a difference the test fails and prints a diff
// of the block. With CAIRN_REWRITE=1 in the environment the expected output is regenerated in place
// instead; read the resulting `git diff` before committing it.
//
// Commands (N, ID are node ids; "nodes..." defaults to all nodes):
//   add-nodes COUNT [voters=(..)] [learners=(..)] [index=I] [prevote=true] [checkquorum=true]
//             [readonly=lease] [inflight=N] [maxbytes=N] [forwarding=false]
//       adds COUNT members with the next free ids; index=I bootstraps them from a snapshot at I (term 1)
//       holding the configuration, otherwise the configuration is installed with an empty log.
//   campaign N | propose N DATA | propose-conf-change N add|remove|learner ID
//   read-index N CTX | transfer-leader N TRANSFEREE
//   report-snapshot N ID ok|fail | report-unreachable N ID
//   tick N [COUNT] | tick-election N | tick-heartbeat N
//   process-ready nodes... | deliver-msgs nodes... | drop-msgs nodes... | stabilize [nodes...]
//   partition nodes... (cuts the group off from everyone else) | heal
//   compact N INDEX (snapshot at INDEX, then drop the log up to it) | restart N
//   raft-log N | raft-state | status N
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/raft/harness.h"

namespace cairn::raft::test {
namespace {

std::string join_ids(const std::vector<NodeId>& ids) {
  std::string s = "(";
  for (size_t i = 0; i < ids.size(); ++i)
    s += (i ? "," : "") + std::to_string(ids[i]);
  return s + ")";
}

std::string describe_conf(const ConfState& cs) {
  return "voters=" + join_ids(cs.voters) + " learners=" + join_ids(cs.learners);
}

std::string describe_msg(const Message& m) {
  std::string s = describe(m);
  if (!m.context.empty()) s += " Context:" + m.context;
  return s;
}

struct Command {
  std::string name;
  std::vector<std::string> args;              // positional
  std::map<std::string, std::string> kwargs;  // key=value
};

Command parse_command(const std::string& line) {
  Command c;
  std::istringstream in(line);
  std::string tok;
  in >> c.name;
  while (in >> tok) {
    auto eq = tok.find('=');
    if (eq == std::string::npos) {
      c.args.push_back(tok);
    } else {
      c.kwargs[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
  }
  return c;
}

std::vector<NodeId> parse_id_list(std::string s) {
  std::vector<NodeId> out;
  s.erase(std::remove_if(s.begin(), s.end(), [](char ch) { return ch == '(' || ch == ')'; }), s.end());
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) out.push_back(std::stoull(part));
  }
  return out;
}

// The cluster and network the commands act on. Messages wait in per-recipient queues until a
// deliver-msgs or stabilize; a cut link drops them at delivery time (and says so).
class Env {
 public:
  std::string run(const Command& c) {
    std::ostringstream out;
    const std::string& n = c.name;
    if (n == "add-nodes") {
      add_nodes(c, out);
    } else if (n == "campaign") {
      node(c, 0).node->campaign();
    } else if (n == "propose") {
      report(out, node(c, 0).node->propose(arg(c, 1)));
    } else if (n == "propose-conf-change") {
      ConfChange cc;
      const std::string& kind = arg(c, 1);
      if (kind == "add") {
        cc.type = ConfChangeType::kAddNode;
      } else if (kind == "remove") {
        cc.type = ConfChangeType::kRemoveNode;
      } else if (kind == "learner") {
        cc.type = ConfChangeType::kAddLearnerNode;
      } else {
        throw std::runtime_error("unknown conf change kind " + kind);
      }
      cc.node_id = std::stoull(arg(c, 2));
      report(out, node(c, 0).node->propose_conf_change(cc));
    } else if (n == "read-index") {
      node(c, 0).node->read_index(arg(c, 1));
    } else if (n == "transfer-leader") {
      node(c, 0).node->transfer_leader(std::stoull(arg(c, 1)));
    } else if (n == "report-snapshot") {
      node(c, 0).node->report_snapshot(std::stoull(arg(c, 1)), arg(c, 2) == "ok");
    } else if (n == "report-unreachable") {
      node(c, 0).node->report_unreachable(std::stoull(arg(c, 1)));
    } else if (n == "tick") {
      int count = c.args.size() > 1 ? std::stoi(c.args[1]) : 1;
      for (int i = 0; i < count; ++i)
        node(c, 0).node->tick();
    } else if (n == "tick-election") {
      TestNode& t = node(c, 0);
      int count = t.raft().role() == StateRole::kLeader ? t.config().election_timeout_ticks
                                                        : t.raft().randomized_election_timeout();
      for (int i = 0; i < count; ++i)
        t.node->tick();
    } else if (n == "tick-heartbeat") {
      TestNode& t = node(c, 0);
      for (int i = 0; i < t.config().heartbeat_interval_ticks; ++i)
        t.node->tick();
    } else if (n == "process-ready") {
      for (NodeId id : ids_or_all(c))
        process_ready(id, out);
    } else if (n == "deliver-msgs") {
      for (NodeId id : ids_or_all(c))
        deliver(id, out);
    } else if (n == "drop-msgs") {
      for (NodeId id : ids_or_all(c)) {
        for (const auto& m : inbox_[id])
          out << "dropped: " << describe_msg(m) << "\n";
        inbox_[id].clear();
      }
    } else if (n == "stabilize") {
      stabilize(ids_or_all(c), out);
    } else if (n == "partition") {
      std::set<NodeId> group;
      for (const auto& a : c.args)
        group.insert(std::stoull(a));
      for (const auto& [a, na] : nodes_) {
        for (const auto& [b, nb] : nodes_) {
          if (group.count(a) != group.count(b)) cut_.insert({a, b});
        }
      }
    } else if (n == "heal") {
      cut_.clear();
    } else if (n == "compact") {
      TestNode& t = node(c, 0);
      Index idx = std::stoull(arg(c, 1));
      ConfState cs = t.raft().tracker().config().to_conf_state();
      auto snap = t.storage.create_snapshot(idx, &cs, "snap@" + std::to_string(idx));
      if (!snap) throw std::runtime_error("create_snapshot failed");
      if (!t.storage.compact(idx)) throw std::runtime_error("compact failed");
      out << "snapshot " << idx << " term " << snap->metadata.term << " " << describe_conf(cs) << "\n";
      print_log(t, out);
    } else if (n == "restart") {
      node(c, 0).restart();
      inbox_[node(c, 0).id()].clear();
      out << "restarted " << node(c, 0).id() << ": " << describe_state(node(c, 0)) << "\n";
    } else if (n == "raft-log") {
      print_log(node(c, 0), out);
    } else if (n == "raft-state") {
      for (auto& [id, t] : nodes_)
        out << id << ": " << describe_state(*t) << "\n";
    } else if (n == "status") {
      TestNode& t = node(c, 0);
      Status st = t.node->status();
      if (st.progress.empty()) out << t.id() << " is not the leader\n";
      for (const auto& [id, p] : st.progress)
        out << id << ": " << p << "\n";
      if (st.lead_transferee != kNone) out << "transferring leadership to " << st.lead_transferee << "\n";
    } else {
      throw std::runtime_error("unknown command " + n);
    }
    for (auto& [id, t] : nodes_)
      t->raft().check_invariants();
    std::string s = out.str();
    return s.empty() ? "ok\n" : s;
  }

 private:
  static const std::string& arg(const Command& c, size_t i) {
    if (i >= c.args.size()) throw std::runtime_error(c.name + ": missing argument " + std::to_string(i));
    return c.args[i];
  }
  TestNode& node(const Command& c, size_t i) {
    NodeId id = std::stoull(arg(c, i));
    auto it = nodes_.find(id);
    if (it == nodes_.end()) throw std::runtime_error("no node " + std::to_string(id));
    return *it->second;
  }
  std::vector<NodeId> ids_or_all(const Command& c) {
    std::vector<NodeId> ids;
    for (const auto& a : c.args)
      ids.push_back(std::stoull(a));
    if (ids.empty()) {
      for (const auto& [id, t] : nodes_)
        ids.push_back(id);
    }
    return ids;
  }

  static void report(std::ostream& out, const Expected<bool, Error>& r) {
    if (!r.has_value()) out << "error: " << to_string(r.error()) << "\n";
  }

  void add_nodes(const Command& c, std::ostream& out) {
    size_t count = std::stoull(arg(c, 0));
    ConfState cs;
    if (c.kwargs.count("voters")) cs.voters = parse_id_list(c.kwargs.at("voters"));
    if (c.kwargs.count("learners")) cs.learners = parse_id_list(c.kwargs.at("learners"));
    Index index = c.kwargs.count("index") ? std::stoull(c.kwargs.at("index")) : 0;
    auto flag = [&](const char* key, bool def) {
      auto it = c.kwargs.find(key);
      return it == c.kwargs.end() ? def : it->second == "true";
    };
    for (size_t i = 0; i < count; ++i) {
      NodeId id = nodes_.empty() ? 1 : nodes_.rbegin()->first + 1;
      Config cfg = plain_config(id);
      cfg.pre_vote = flag("prevote", false);
      cfg.check_quorum = flag("checkquorum", false);
      cfg.disable_proposal_forwarding = !flag("forwarding", true);
      if (c.kwargs.count("readonly") && c.kwargs.at("readonly") == "lease") {
        cfg.read_only_option = ReadOnlyOption::kLeaseBased;
      }
      if (c.kwargs.count("inflight")) cfg.inflight_msgs_max = std::stoull(c.kwargs.at("inflight"));
      if (c.kwargs.count("maxbytes")) cfg.append_bytes_max = std::stoull(c.kwargs.at("maxbytes"));
      nodes_[id] = std::make_unique<TestNode>(cfg, cs, index);
      out << "node " << id << ": " << describe_conf(cs) << " " << describe_state(*nodes_[id]) << "\n";
    }
  }

  static std::string describe_state(const TestNode& t) {
    const Raft& r = t.raft();
    std::string s = std::string(to_string(r.role())) + " term=" + std::to_string(r.term()) +
                    " vote=" + std::to_string(r.vote()) + " lead=" + std::to_string(r.lead()) +
                    " commit=" + std::to_string(r.log().committed()) +
                    " applied=" + std::to_string(r.log().applied()) +
                    " last=" + std::to_string(r.log().last_index());
    if (r.tracker().config().learners.count(t.id())) s += " (learner)";
    if (!r.tracker().config().contains(t.id())) s += " (not a member)";
    return s;
  }

  static void print_log(const TestNode& t, std::ostream& out) {
    const RaftLog& log = t.raft().log();
    out << "first=" << log.first_index() << " last=" << log.last_index() << " commit=" << log.committed()
        << " applied=" << log.applied() << "\n";
    for (const auto& e : log.all_entries())
      out << "  " << describe(e) << "\n";
  }

  void process_ready(NodeId id, std::ostream& out) {
    TestNode& t = *nodes_.at(id);
    if (!t.node->has_ready()) return;
    size_t confs_before = t.conf_states_applied.size();
    size_t reads_before = t.read_states.size();
    Ready rd = t.handle_ready();
    out << "> " << id << " handling Ready #" << rd.number << "\n";
    if (rd.soft_state) {
      out << "  Lead:" << rd.soft_state->lead << " State:" << to_string(rd.soft_state->role) << "\n";
    }
    if (rd.hard_state) {
      out << "  HardState Term:" << rd.hard_state->term << " Vote:" << rd.hard_state->vote
          << " Commit:" << rd.hard_state->commit << (rd.must_sync ? " (sync)" : "") << "\n";
    }
    if (!rd.snapshot.empty()) {
      out << "  Snapshot Index:" << rd.snapshot.metadata.index << " Term:" << rd.snapshot.metadata.term << " "
          << describe_conf(rd.snapshot.metadata.conf_state) << "\n";
    }
    auto list = [&](const char* title, const auto& items, auto fn) {
      if (items.empty()) return;
      out << "  " << title << ":\n";
      for (const auto& x : items)
        out << "    " << fn(x) << "\n";
    };
    list("Entries", rd.entries, [](const Entry& e) { return describe(e); });
    list("CommittedEntries", rd.committed_entries, [](const Entry& e) { return describe(e); });
    list("Messages", rd.messages, describe_msg);
    list("MessagesAfterPersist", rd.messages_after_persist, describe_msg);
    for (size_t i = reads_before; i < t.read_states.size(); ++i) {
      out << "  ReadState Index:" << t.read_states[i].index << " Ctx:" << t.read_states[i].request_ctx
          << "\n";
    }
    for (size_t i = confs_before; i < t.conf_states_applied.size(); ++i) {
      out << "  applied conf change: " << describe_conf(t.conf_states_applied[i]) << "\n";
    }
    for (auto& m : rd.messages)
      inbox_[m.to].push_back(m);
    for (auto& m : rd.messages_after_persist)
      inbox_[m.to].push_back(m);
  }

  void deliver(NodeId id, std::ostream& out) {
    auto msgs = std::exchange(inbox_[id], {});
    for (auto& m : msgs) {
      if (cut_.count({m.from, m.to}) || !nodes_.count(m.to)) {
        out << "  dropped: " << describe_msg(m) << "\n";
        continue;
      }
      out << "  " << describe_msg(m) << "\n";
      auto r = nodes_.at(id)->node->step(m);
      if (!r.has_value()) out << "    error: " << to_string(r.error()) << "\n";
    }
  }

  void stabilize(const std::vector<NodeId>& ids, std::ostream& out) {
    for (int round = 0; round < 100; ++round) {
      bool busy = false;
      for (NodeId id : ids) {
        if (nodes_.at(id)->node->has_ready()) {
          busy = true;
          process_ready(id, out);
        }
      }
      for (NodeId id : ids) {
        if (inbox_[id].empty()) continue;
        busy = true;
        out << "> " << id << " receiving messages\n";
        deliver(id, out);
      }
      if (!busy) return;
    }
    out << "stabilize: still busy after 100 rounds\n";
  }

  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::map<NodeId, std::vector<Message>> inbox_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

// ---- transcript files ----

struct Block {
  std::vector<std::string> prefix;  // comment and blank lines before the command
  std::string command;
  size_t line = 0;  // 1-based line number of the command
  std::vector<std::string> expected;
};

struct Transcript {
  std::vector<Block> blocks;
  std::vector<std::string> trailer;  // comments after the last block
};

Transcript parse_transcript(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  Transcript t;
  std::vector<std::string> pending;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == '#') {
      pending.push_back(l);
      continue;
    }
    Block b;
    b.prefix = std::exchange(pending, {});
    // The blank line that ends a block is written by the rewriter itself.
    while (!b.prefix.empty() && b.prefix.front().empty())
      b.prefix.erase(b.prefix.begin());
    b.command = l;
    b.line = i + 1;
    if (i + 1 < lines.size() && lines[i + 1] == "----") {
      i += 2;
      for (; i < lines.size() && !lines[i].empty(); ++i)
        b.expected.push_back(lines[i]);
    }
    t.blocks.push_back(std::move(b));
  }
  t.trailer = pending;
  return t;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

// A line diff (longest common subsequence) of expected vs actual.
std::string line_diff(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      out += "  " + a[i++] + "\n";
      ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      out += "+ " + b[j++] + "\n";
    } else {
      out += "- " + a[i++] + "\n";
    }
  }
  return out;
}

std::vector<std::string> transcript_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(CAIRN_RAFT_TESTDATA_DIR)) {
    if (e.path().extension() == ".txt") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Interaction : public ::testing::TestWithParam<std::string> {};

TEST_P(Interaction, Transcript) {
  const std::string path = std::string(CAIRN_RAFT_TESTDATA_DIR) + "/" + GetParam();
  const char* rw = std::getenv("CAIRN_REWRITE");
  const bool rewrite = rw != nullptr && std::string(rw) == "1";
  Transcript t = parse_transcript(path);
  ASSERT_FALSE(t.blocks.empty()) << path << " has no commands";
  Env env;
  std::string rewritten;
  for (const Block& b : t.blocks) {
    std::string actual;
    try {
      actual = env.run(parse_command(b.command));
    } catch (const std::exception& e) {
      FAIL() << path << ":" << b.line << ": " << b.command << ": " << e.what();
    }
    std::vector<std::string> got = split_lines(actual);
    for (const auto& l : b.prefix)
      rewritten += l + "\n";
    rewritten += b.command + "\n----\n";
    for (const auto& l : got)
      rewritten += l + "\n";
    rewritten += "\n";
    if (!rewrite && got != b.expected) {
      ADD_FAILURE() << path << ":" << b.line << ": output of `" << b.command
                    << "` differs (- expected, + actual):\n"
                    << line_diff(b.expected, got)
                    << "(rerun with CAIRN_REWRITE=1 to regenerate, then read the diff)";
    }
  }
  for (const auto& l : t.trailer)
    rewritten += l + "\n";
  while (rewritten.size() >= 2 && rewritten.substr(rewritten.size() - 2) == "\n\n")
    rewritten.pop_back();
  if (rewrite) {
    std::ofstream(path) << rewritten;
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, Interaction, ::testing::ValuesIn(transcript_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace cairn::raft::test
