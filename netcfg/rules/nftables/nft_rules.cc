// nftables backend over libnftables: text commands in, JSON out (see nft_rules.h).
#include "netcfg/rules/nftables/nft_rules.h"

#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "base/c_handle.h"
#include "base/fd.h"
#include "base/json.h"
#include "netcfg/netlink/netfilter_socket.h"

namespace nld::netcfg {

namespace {

using NftCtx = CHandle<nft_ctx, nft_ctx_free>;

struct ChainDef {
  const char* table;  // iptables table the chain stands for
  const char* chain;  // iptables chain
  const char* name;   // our nft chain
  const char* hook;
  const char* priority_name;
  int64_t priority;
};

// Raw priority (-300) runs before conntrack (-200), so notrack takes effect; filter is 0.
constexpr ChainDef kChains[] = {
    {"raw", "PREROUTING", "raw-prerouting", "prerouting", "raw", -300},
    {"raw", "OUTPUT", "raw-output", "output", "raw", -300},
    {"filter", "INPUT", "filter-input", "input", "filter", 0},
    {"filter", "OUTPUT", "filter-output", "output", "filter", 0},
};

const ChainDef* chainFor(std::string_view table, std::string_view chain) {
  for (const ChainDef& c : kChains) {
    if (table == c.table && chain == c.chain) {
      return &c;
    }
  }
  return nullptr;
}

const ChainDef* chainNamed(std::string_view name) {
  for (const ChainDef& c : kChains) {
    if (name == c.name) {
      return &c;
    }
  }
  return nullptr;
}

// An nft string literal (not nld::quoted, which is for messages).
std::string nftString(std::string_view s) {
  // Our comments are fixed ASCII without quotes; escape defensively anyway.
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out + "\"";
}

std::string tableRef() { return std::string(kNftFamily) + " " + std::string(kNftTable); }

// libnftables keeps parser and cache state per context but also some process-wide state (e.g.
// the gmp allocator hooks); one call at a time per process.
std::mutex& nftMutex() {
  static std::mutex m;
  return m;
}

std::string firstLine(std::string_view text) {
  while (!text.empty() && (text.front() == '\n' || text.front() == ' ')) {
    text.remove_prefix(1);
  }
  return std::string(text.substr(0, text.find('\n')));
}

Errc codeOf(std::string_view err) {
  if (err.find("Operation not permitted") != std::string_view::npos ||
      err.find("Permission denied") != std::string_view::npos) {
    return Errc::kPermissionDenied;
  }
  if (err.find("No such file or directory") != std::string_view::npos) {
    return Errc::kNotFound;
  }
  if (err.find("File exists") != std::string_view::npos) {
    return Errc::kAlreadyExists;
  }
  if (err.find("Device or resource busy") != std::string_view::npos) {
    return Errc::kBusy;
  }
  return Errc::kSystem;
}

// Runs nft commands; `json` selects JSON output. Returns the output buffer.
Result<std::string> nftRun(const std::string& commands, bool json, std::string_view what) {
  std::lock_guard<std::mutex> guard(nftMutex());
  // libnftables (1.0.x) calls exit() when it cannot open its netlink socket (no nf_tables in the
  // kernel or sandbox, fds exhausted): probe the socket ourselves first so that becomes an error
  // we can report, not the end of the daemon with its NOTRACK rules left behind.
  if (auto probe = openNetfilterSocket(what); !probe) {
    return fail(std::move(probe).error());
  }
  NftCtx ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) {
    return fail(Errc::kSystem, std::string(what) + ": nft_ctx_new failed");
  }
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return fail(Errc::kSystem, std::string(what) + ": cannot buffer libnftables output");
  }
  if (json) {
    nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  }
  int rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
  if (rc != 0) {
    const char* e = nft_ctx_get_error_buffer(ctx.get());
    std::string err = e != nullptr ? e : "";
    std::string line = firstLine(err);
    if (line.rfind("Error: ", 0) == 0) {
      line.erase(0, 7);
    }
    return fail(codeOf(err), std::string(what) + ": " + (line.empty() ? "failed" : line));
  }
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  return std::string(out != nullptr ? out : "");
}

std::vector<Rule> rulesOfChain(const std::vector<Rule>& all, const ChainDef& c) {
  std::vector<Rule> out;
  for (const Rule& r : all) {
    if (r.table == c.table && r.chain == c.chain) {
      out.push_back(r);
    }
  }
  return out;
}

// One `match` expression of our shape: {"match": {"op": "==", "left": {"payload": {"protocol":
// P, "field": F}}, "right": V}}.
struct Match {
  std::string protocol;
  std::string field;
  const JsonValue* right = nullptr;
};

std::optional<Match> decodeMatch(const JsonValue& expr) {
  const JsonValue* m = expr.get("match");
  if (m == nullptr || m->getString("op") != "==") {
    return std::nullopt;
  }
  const JsonValue* left = m->get("left");
  const JsonValue* payload = left != nullptr ? left->get("payload") : nullptr;
  const JsonValue* right = m->get("right");
  if (payload == nullptr || right == nullptr) {
    return std::nullopt;
  }
  auto proto = payload->getString("protocol");
  auto field = payload->getString("field");
  if (!proto || !field) {
    return std::nullopt;
  }
  return Match{std::string(*proto), std::string(*field), right};
}

// Decodes one rule object into a Rule of our shape, or std::nullopt.
std::optional<Rule> decodeRule(const JsonValue& rule, const ChainDef& chain) {
  const JsonValue* exprs = rule.get("expr");
  if (exprs == nullptr || exprs->array() == nullptr || exprs->array()->size() != 3) {
    return std::nullopt;
  }
  const auto& e = *exprs->array();
  auto addr = decodeMatch(e[0]);
  auto port = decodeMatch(e[1]);
  if (!addr || !port || addr->right->string() == nullptr || !port->right->integer()) {
    return std::nullopt;
  }
  Rule r;
  r.table = chain.table;
  r.chain = chain.chain;
  if (addr->protocol == "ip") {
    r.family = Family::kV4;
  } else if (addr->protocol == "ip6") {
    r.family = Family::kV6;
  } else {
    return std::nullopt;
  }
  auto ip = IpAddress::parse(*addr->right->string());
  if (!ip || ip->family() != r.family) {
    return std::nullopt;
  }
  if (addr->field == "saddr") {
    r.source = *ip;
  } else if (addr->field == "daddr") {
    r.destination = *ip;
  } else {
    return std::nullopt;
  }
  if (port->protocol == "tcp") {
    r.proto = Proto::kTcp;
  } else if (port->protocol == "udp") {
    r.proto = Proto::kUdp;
  } else {
    return std::nullopt;
  }
  int64_t p = *port->right->integer();
  if (p < 0 || p > 65535) {
    return std::nullopt;
  }
  if (port->field == "sport") {
    r.source_port = static_cast<uint16_t>(p);
  } else if (port->field == "dport") {
    r.destination_port = static_cast<uint16_t>(p);
  } else {
    return std::nullopt;
  }
  if (e[2].get("notrack") != nullptr) {
    r.target = RuleTarget::kNotrack;
  } else if (e[2].get("accept") != nullptr) {
    r.target = RuleTarget::kAccept;
  } else {
    return std::nullopt;
  }
  auto comment = rule.getString("comment");
  r.comment = comment ? std::string(*comment) : "";
  return r;
}

}  // namespace

std::string nftChainName(const Rule& rule) {
  const ChainDef* c = chainFor(rule.table, rule.chain);
  return c != nullptr ? c->name : rule.table + "-" + rule.chain;
}

std::string nftRuleText(const Rule& r) {
  std::string l3 = r.family == Family::kV4 ? "ip" : "ip6";
  std::string out;
  if (r.source) {
    out += l3 + " saddr " + r.source->toString() + " ";
  }
  if (r.destination) {
    out += l3 + " daddr " + r.destination->toString() + " ";
  }
  std::string l4(protoName(r.proto));
  if (r.source_port) {
    out += l4 + " sport " + std::to_string(*r.source_port) + " ";
  }
  if (r.destination_port) {
    out += l4 + " dport " + std::to_string(*r.destination_port) + " ";
  }
  out += r.target == RuleTarget::kNotrack ? "notrack" : "accept";
  if (!r.comment.empty()) {
    out += " comment " + nftString(r.comment);
  }
  return out;
}

std::string nftTableText(const RuleSpec& spec) {
  std::vector<Rule> all = nodeLocalDnsRules(spec);
  std::string out = "table " + tableRef() + " {\n";
  bool first = true;
  for (const ChainDef& c : kChains) {
    out += first ? "" : "\n";
    first = false;
    out += std::string("\tchain ") + c.name + " {\n";
    out += std::string("\t\ttype filter hook ") + c.hook + " priority " + c.priority_name +
           "; policy accept;\n";
    for (const Rule& r : rulesOfChain(all, c)) {
      out += "\t\t" + nftRuleText(r) + "\n";
    }
    out += "\t}\n";
  }
  return out + "}\n";
}

std::string nftTransactionText(const RuleSpec& spec) {
  // `add` makes the `delete` valid when the table is absent; the three are one transaction.
  return "add table " + tableRef() + "\ndelete table " + tableRef() + "\n" + nftTableText(spec);
}

Result<NftTableState> decodeNftTable(std::string_view json) {
  auto doc = parseJson(json);
  if (!doc) {
    return fail(std::move(doc).error().withContext("decode nft table"));
  }
  const JsonValue* items = doc->get("nftables");
  if (items == nullptr || items->array() == nullptr) {
    return fail(Errc::kParse, "decode nft table: no \"nftables\" array");
  }
  NftTableState state;
  for (const JsonValue& item : *items->array()) {
    if (const JsonValue* t = item.get("table")) {
      if (t->getString("family") == kNftFamily && t->getString("name") == kNftTable) {
        state.present = true;
      }
    } else if (const JsonValue* c = item.get("chain")) {
      if (c->getString("family") != kNftFamily || c->getString("table") != kNftTable) {
        continue;
      }
      NftChain chain;
      chain.name = std::string(c->getString("name").value_or(""));
      chain.type = std::string(c->getString("type").value_or(""));
      chain.hook = std::string(c->getString("hook").value_or(""));
      chain.priority = c->getInt("prio").value_or(0);
      chain.policy = std::string(c->getString("policy").value_or(""));
      state.chains.push_back(std::move(chain));
    } else if (const JsonValue* r = item.get("rule")) {
      if (r->getString("family") != kNftFamily || r->getString("table") != kNftTable) {
        continue;
      }
      NftObservedRule o;
      o.chain = std::string(r->getString("chain").value_or(""));
      if (const ChainDef* def = chainNamed(o.chain)) {
        o.rule = decodeRule(*r, *def);
      }
      state.rules.push_back(std::move(o));
    }
  }
  return state;
}

bool nftTableMatches(const NftTableState& observed, const RuleSpec& spec) {
  if (!observed.present || observed.chains.size() != std::size(kChains)) {
    return false;
  }
  std::vector<Rule> all = nodeLocalDnsRules(spec);
  size_t expected_rules = 0;
  for (const ChainDef& c : kChains) {
    NftChain want{c.name, "filter", c.hook, c.priority, "accept"};
    if (std::find(observed.chains.begin(), observed.chains.end(), want) == observed.chains.end()) {
      return false;
    }
    std::vector<Rule> wanted = rulesOfChain(all, c);
    expected_rules += wanted.size();
    size_t i = 0;
    for (const NftObservedRule& o : observed.rules) {
      if (o.chain != c.name) {
        continue;
      }
      if (i >= wanted.size() || !o.rule || !(*o.rule == wanted[i])) {
        return false;
      }
      ++i;
    }
    if (i != wanted.size()) {
      return false;
    }
  }
  return observed.rules.size() == expected_rules;
}

Result<NftTableState> readNftTable() {
  auto out = nftRun("list table " + tableRef(), true, "nft list table " + tableRef());
  if (!out) {
    if (out.error().code() == Errc::kNotFound) {
      return NftTableState{};
    }
    return fail(std::move(out).error());
  }
  return decodeNftTable(*out);
}

namespace {

// Copies of `r` in our table as read back.
int copiesIn(const NftTableState& state, const Rule& r) {
  const std::string chain = nftChainName(r);
  return static_cast<int>(std::count_if(state.rules.begin(), state.rules.end(), [&](const auto& o) {
    return o.chain == chain && o.rule && *o.rule == r;
  }));
}

}  // namespace

Result<std::vector<RuleStatus>> checkNftRules(const RuleSpec& spec) {
  auto state = readNftTable();
  if (!state) {
    return fail(std::move(state).error().withContext("check rules"));
  }
  std::vector<RuleStatus> out;
  for (const Rule& r : nodeLocalDnsRules(spec)) {
    out.push_back(RuleStatus{r, copiesIn(*state, r)});
  }
  return out;
}

Result<RulesReport> ensureNftRules(const RuleSpec& spec) {
  // Two attempts: the first apply uses `create table`, which fails if another writer (install and
  // the daemon it started ensure at about the same time) created the table since our read; then
  // we read again and rewrite if needed.
  constexpr int kAttempts = 2;
  for (int attempt = 1;; ++attempt) {
    auto state = readNftTable();
    if (!state) {
      return fail(std::move(state).error().withContext("ensure rules"));
    }
    RulesReport report;
    for (const Rule& r : nodeLocalDnsRules(spec)) {
      ++(copiesIn(*state, r) > 0 ? report.already_present : report.inserted);
    }
    if (nftTableMatches(*state, spec)) {
      return report;
    }
    // One copy of each wanted rule survives the rewrite; everything else in our table goes.
    report.duplicates_removed =
        std::max(0, static_cast<int>(state->rules.size()) - report.already_present);
    // Absent table: create and define it, nothing to delete (a table delete costs the kernel an
    // RCU grace period, ~10 ms here). Present: add, delete, define, in one transaction.
    const std::string commands = state->present
                                     ? nftTransactionText(spec)
                                     : "create table " + tableRef() + "\n" + nftTableText(spec);
    auto r = nftRun(commands, false, "nft apply table " + tableRef());
    if (!r) {
      if (!state->present && r.error().code() == Errc::kAlreadyExists && attempt < kAttempts) {
        continue;
      }
      return fail(std::move(r).error().withContext("ensure rules"));
    }
    report.tables_rewritten = 1;
    return report;
  }
}

Result<RulesReport> removeNftRules() {
  auto state = readNftTable();
  if (!state) {
    return fail(std::move(state).error().withContext("remove rules"));
  }
  RulesReport report;
  if (!state->present) {
    return report;
  }
  auto r = nftRun("add table " + tableRef() + "\ndelete table " + tableRef(), false,
                  "nft delete table " + tableRef());
  if (!r) {
    return fail(std::move(r).error().withContext("remove rules"));
  }
  report.removed = static_cast<int>(state->rules.size());
  return report;
}

Result<std::vector<NftChainId>> listNftChains() {
  // `list chains`, not `list tables`: nft 1.0.6 fetches every rule for the latter (100 ms with
  // 10,000 rules on the host), not for the former (2 ms). A table without chains is not seen;
  // kube-proxy's and ours always have chains.
  auto text = nftRun("list chains", true, "nft list chains");
  if (!text) {
    return fail(std::move(text).error());
  }
  auto doc = parseJson(*text);
  if (!doc) {
    return fail(std::move(doc).error().withContext("decode nft chains"));
  }
  std::vector<NftChainId> out;
  const JsonValue* items = doc->get("nftables");
  if (items == nullptr || items->array() == nullptr) {
    return out;
  }
  for (const JsonValue& item : *items->array()) {
    if (const JsonValue* c = item.get("chain")) {
      out.push_back({std::string(c->getString("family").value_or("")),
                     std::string(c->getString("table").value_or("")),
                     std::string(c->getString("name").value_or(""))});
    }
  }
  return out;
}

}  // namespace nld::netcfg
