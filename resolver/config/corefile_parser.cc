// Corefile → Config. Two steps: a structural pass over the tokens (server blocks, directives,
// their arguments and option blocks, as caddy v1 groups them), then one function per directive
// that applies CoreDNS's setup() semantics and defaults. Forward targets are resolved last, when
// every block's bind addresses and ports are known (loop avoidance needs them).
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <unordered_set>

#include "base/atomic_file.h"
#include "resolver/config/config.h"
#include "resolver/config/corefile_lexer.h"
#include "resolver/config/go_syntax.h"
#include "resolver/config/go_template.h"

namespace nld::resolver::config {

namespace {

using detail::Token;

constexpr size_t kMaxUpstreams = 15;  // CoreDNS forward's `max`
constexpr size_t kCacheShards = 256;  // CoreDNS cache: capacity = shards × per-shard size
constexpr size_t kMinPerShard = 4;
constexpr uint32_t kMaxTtl = 0x7fffffff;  // RFC 2181 §8

struct Directive {
  Token name;
  std::vector<Token> args;
  bool has_block = false;
  std::vector<std::vector<Token>> lines;  // option lines inside `{ }`, first token = option name
};

struct RawBlock {
  std::vector<Token> keys;
  std::vector<Directive> directives;
};

struct PendingUpstream {
  SocketAddress addr;
  std::string source;  // resolv.conf path it came from, "" if given directly
};

struct PendingForward {
  size_t block = 0;
  Token where;
  std::vector<PendingUpstream> upstreams;
  std::vector<std::string> sources;  // files read, for messages
};

class Parser {
 public:
  Parser(std::string_view filename, const ParseOptions& options)
      : file_(filename), options_(options) {
    read_ = options.read_file ? options.read_file
                              : [](const std::string& p) { return nld::readFile(p); };
  }

  Result<Config> run(std::string_view text);

 private:
  // Errors ----------------------------------------------------------------------------------
  tl::unexpected<Error> err(int line, const std::string& msg) const {
    return fail(Errc::kParse, file_ + ":" + std::to_string(line) + ": " + msg);
  }
  tl::unexpected<Error> err(const Token& t, const std::string& msg) const {
    return err(t.line, msg);
  }
  tl::unexpected<Error> argErr(const Token& t, const std::string& directive) const {
    return err(
        t, directive + ": wrong argument count or unexpected line ending after '" + t.text + "'");
  }

  // Structure -------------------------------------------------------------------------------
  Result<std::vector<RawBlock>> structure(std::vector<Token> tokens);
  Result<Directive> directive(const std::vector<Token>& t, size_t& i, bool braced);

  // Semantics -------------------------------------------------------------------------------
  Result<ServerBlock> block(const RawBlock& raw, size_t index);
  Result<void> keys(const RawBlock& raw, ServerBlock& out);
  Result<void> cache(const Directive& d, const ServerBlock& sb, CacheConfig& out);
  Result<void> forward(const Directive& d, size_t index, ForwardConfig& out);
  Result<void> resolveForwards(Config& config);
  Result<void> hosts(const Directive& d, const ServerBlock& sb, HostsConfig& out);
  Result<void> templateDirective(const Directive& d, const ServerBlock& sb, TemplateConfig& out);
  Result<Fallthrough> fallthrough(const std::vector<Token>& line, const std::string& directive);
  Result<SocketAddress> listenAddress(const Token& t, const std::string& directive);
  Result<std::chrono::nanoseconds> duration(const Token& t, const std::string& directive);
  Result<int64_t> integer(const Token& t, const std::string& directive);
  Result<std::vector<std::string>> zones(const std::vector<Token>& args, size_t from,
                                         const std::string& directive);
  /// zones(), or the server block's zones when the directive names none (hosts, template).
  Result<std::vector<std::string>> zonesOrBlock(const std::vector<Token>& args, size_t from,
                                                const std::string& directive,
                                                const ServerBlock& sb);

  std::string file_;
  const ParseOptions& options_;
  std::function<Result<std::string>(const std::string&)> read_;
  std::vector<PendingForward> pending_;
};

bool isBrace(const Token& t, char c) { return !t.quoted && t.text.size() == 1 && t.text[0] == c; }

template <typename D>
std::chrono::seconds ceilSeconds(D d) {
  return std::chrono::ceil<std::chrono::seconds>(d);
}

// Structure ---------------------------------------------------------------------------------

Result<std::vector<RawBlock>> Parser::structure(std::vector<Token> t) {
  detail::EnvLookup env = options_.getenv;
  if (!env) {
    env = [](const std::string& name) -> std::optional<std::string> {
      const char* v = std::getenv(name.c_str());
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
  }
  for (auto& tok : t) {
    tok.text = detail::replaceEnvVars(tok.text, env);
  }
  std::vector<RawBlock> blocks;
  size_t i = 0;
  while (i < t.size()) {
    RawBlock rb;
    // Keys: until '{' or the end of the line (a trailing comma continues on the next line).
    bool expecting_another = false;
    while (i < t.size()) {
      if (isBrace(t[i], '{')) {
        if (expecting_another) {
          return err(t[i], "expected another server block key but found '{' (extra comma?)");
        }
        break;
      }
      if (isBrace(t[i], '}')) {
        return err(t[i], "unexpected '}' (no matching '{')");
      }
      std::string key = t[i].text;
      expecting_another = !key.empty() && key.back() == ',';
      if (expecting_another) {
        key.pop_back();
      }
      // "a,b" in one word is two keys in caddy only with spaces; keep it simple: split on ','.
      size_t start = 0;
      while (start <= key.size()) {
        size_t comma = key.find(',', start);
        std::string part = key.substr(start, comma == std::string::npos ? comma : comma - start);
        if (!part.empty()) {
          Token k = t[i];
          k.text = part;
          rb.keys.push_back(std::move(k));
        }
        if (comma == std::string::npos) {
          break;
        }
        start = comma + 1;
      }
      ++i;
      if (i < t.size() && !expecting_another && t[i].line != t[i - 1].line) {
        break;
      }
    }
    if (expecting_another && i == t.size()) {
      return err(t.back(), "unexpected end of file after ',' in server block keys");
    }
    if (rb.keys.empty()) {
      return err(i < t.size() ? t[i] : t.back(), "server block without a zone before '{'");
    }
    const int start_line = rb.keys.front().line;
    bool braced = i < t.size() && isBrace(t[i], '{');
    if (braced) {
      ++i;
    }
    bool closed = false;
    while (i < t.size()) {
      if (isBrace(t[i], '}')) {
        if (!braced) {
          return err(t[i], "unexpected '}' (no matching '{')");
        }
        ++i;
        closed = true;
        break;
      }
      auto d = directive(t, i, braced);
      if (!d) {
        return fail(std::move(d.error()));
      }
      rb.directives.push_back(std::move(*d));
    }
    if (braced && !closed) {
      return err(start_line, "unexpected end of file: server block '" + rb.keys.front().text +
                                 "' has no closing '}'");
    }
    blocks.push_back(std::move(rb));
  }
  return blocks;
}

Result<Directive> Parser::directive(const std::vector<Token>& t, size_t& i, bool braced) {
  Directive d;
  d.name = t[i++];
  if (isBrace(d.name, '{')) {
    return err(d.name, "unexpected '{'");
  }
  while (i < t.size() && t[i].line == d.name.line) {
    if (isBrace(t[i], '}')) {
      if (braced) {
        return err(t[i], "unexpected '}' on the line of '" + d.name.text +
                             "' (put the closing brace on its own line)");
      }
      return err(t[i], "unexpected '}' (no matching '{')");
    }
    if (isBrace(t[i], '{')) {
      break;
    }
    d.args.push_back(t[i++]);
  }
  if (i < t.size() && isBrace(t[i], '{') && t[i].line == d.name.line) {
    const int open_line = t[i].line;
    d.has_block = true;
    ++i;
    bool closed = false;
    while (i < t.size()) {
      if (isBrace(t[i], '}')) {
        ++i;
        closed = true;
        break;
      }
      if (isBrace(t[i], '{')) {
        return err(t[i], d.name.text + ": unexpected '{' (nested option blocks are not supported)");
      }
      if (d.lines.empty() || d.lines.back().back().line != t[i].line) {
        d.lines.emplace_back();
      }
      d.lines.back().push_back(t[i++]);
    }
    if (!closed) {
      return err(open_line, d.name.text + ": unexpected end of file, missing '}'");
    }
  }
  return d;
}

// Helpers -----------------------------------------------------------------------------------

Result<std::chrono::nanoseconds> Parser::duration(const Token& t, const std::string& directive) {
  auto d = detail::parseGoDuration(t.text);
  if (!d) {
    return err(t, directive + ": " + d.error().message());
  }
  return *d;
}

Result<int64_t> Parser::integer(const Token& t, const std::string& directive) {
  auto v = detail::parseGoInt(t.text);
  if (!v) {
    return err(t, directive + ": '" + t.text + "' is not an integer");
  }
  return *v;
}

Result<SocketAddress> Parser::listenAddress(const Token& t, const std::string& directive) {
  auto a = detail::parseListenAddress(t.text);
  if (!a) {
    return err(t, directive + ": " + a.error().message());
  }
  return *a;
}

Result<std::vector<std::string>> Parser::zones(const std::vector<Token>& args, size_t from,
                                               const std::string& directive) {
  std::vector<std::string> out;
  for (size_t k = from; k < args.size(); ++k) {
    auto z = detail::normalizeZones(args[k].text);
    if (!z) {
      return err(args[k], directive + ": " + z.error().message());
    }
    out.insert(out.end(), z->begin(), z->end());
  }
  return out;
}

Result<std::vector<std::string>> Parser::zonesOrBlock(const std::vector<Token>& args, size_t from,
                                                      const std::string& directive,
                                                      const ServerBlock& sb) {
  auto z = zones(args, from, directive);
  if (z && z->empty()) {
    return sb.zones;
  }
  return z;
}

// Server block keys -------------------------------------------------------------------------

Result<void> Parser::keys(const RawBlock& raw, ServerBlock& out) {
  std::optional<uint16_t> port;
  std::unordered_set<std::string> seen;
  for (const auto& k : raw.keys) {
    std::string_view key = k.text;
    if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
      std::string_view proto = key.substr(0, scheme);
      if (proto != "dns") {
        return err(k, "server block '" + k.text + "': transport '" + std::string(proto) +
                          "' is not supported (only dns://)");
      }
      key.remove_prefix(scheme + 3);
    }
    std::string host(key);
    uint16_t key_port = options_.default_port;
    if (auto hp = detail::splitHostPort(key)) {
      host = hp->host;
      auto p = parsePort(hp->port);
      if (!p) {
        return err(k, "server block '" + k.text + "': invalid port '" + hp->port + "'");
      }
      key_port = *p;
    }
    if (port && *port != key_port) {
      return err(k, "server block keys use different ports (" + std::to_string(*port) + " and " +
                        std::to_string(key_port) + "): split them into separate blocks");
    }
    port = key_port;
    auto z = detail::normalizeZones(host);
    if (!z) {
      return err(k, "server block '" + k.text + "': " + z.error().message());
    }
    for (auto& zone : *z) {
      if (seen.insert(zone).second) {
        out.zones.push_back(std::move(zone));
      }
    }
  }
  out.port = port.value_or(options_.default_port);
  return {};
}

// cache ---------------------------------------------------------------------------------------

Result<void> Parser::cache(const Directive& d, const ServerBlock& sb, CacheConfig& c) {
  (void)sb;
  const std::string name = "cache";
  auto capacity = [](int64_t requested) {
    int64_t shards = requested / static_cast<int64_t>(kCacheShards);
    size_t per =
        shards < static_cast<int64_t>(kMinPerShard) ? kMinPerShard : static_cast<size_t>(shards);
    return per * kCacheShards;
  };
  auto ttl = [&](const Token& t, bool allow_zero) -> Result<uint32_t> {
    auto v = integer(t, name);
    if (!v) {
      return fail(std::move(v.error()));
    }
    if (*v < 0 || (*v == 0 && !allow_zero)) {
      return err(t, allow_zero ? "cache: min TTL can not be negative: " + t.text
                               : "cache: TTL can not be zero or negative: " + t.text);
    }
    if (*v > kMaxTtl) {
      return err(t, "cache: TTL " + t.text + " is out of range");
    }
    return static_cast<uint32_t>(*v);
  };
  size_t first_zone = 0;
  if (!d.args.empty()) {
    if (auto v = detail::parseGoInt(d.args[0].text)) {
      auto t = ttl(d.args[0], false);
      if (!t) {
        return fail(std::move(t.error()));
      }
      c.success_max_ttl = *t;
      c.denial_max_ttl = *t;
      first_zone = 1;
    }
    auto z = zones(d.args, first_zone, name);
    if (!z) {
      return fail(std::move(z.error()));
    }
    c.zones = std::move(*z);
  }
  for (const auto& line : d.lines) {
    const Token& opt = line.front();
    const std::vector<Token> args(line.begin() + 1, line.end());
    const std::string& o = opt.text;
    if (o == "success" || o == "denial") {
      if (args.empty() || args.size() > 3) {
        return argErr(opt, "cache " + o);
      }
      auto cap = integer(args[0], "cache " + o);
      if (!cap) {
        return fail(std::move(cap.error()));
      }
      size_t& capacity_out = o == "success" ? c.success_capacity : c.denial_capacity;
      uint32_t& max_out = o == "success" ? c.success_max_ttl : c.denial_max_ttl;
      uint32_t& min_out = o == "success" ? c.success_min_ttl : c.denial_min_ttl;
      capacity_out = capacity(*cap);
      if (args.size() > 1) {
        auto t = ttl(args[1], false);
        if (!t) {
          return fail(std::move(t.error()));
        }
        max_out = *t;
      }
      if (args.size() > 2) {
        auto t = ttl(args[2], true);
        if (!t) {
          return fail(std::move(t.error()));
        }
        min_out = *t;
      }
    } else if (o == "prefetch") {
      if (args.empty() || args.size() > 3) {
        return argErr(opt, "cache prefetch");
      }
      auto amount = integer(args[0], "cache prefetch");
      if (!amount) {
        return fail(std::move(amount.error()));
      }
      if (*amount < 0 || *amount > 0xffffffff) {
        return err(args[0], "cache prefetch: amount should be positive: " + args[0].text);
      }
      c.prefetch = *amount > 0;
      c.prefetch_amount = static_cast<unsigned>(*amount);
      if (args.size() > 1) {
        auto dur = duration(args[1], "cache prefetch");
        if (!dur) {
          return fail(std::move(dur.error()));
        }
        if (dur->count() < 0) {
          return err(args[1], "cache prefetch: duration can not be negative");
        }
        c.prefetch_duration = ceilSeconds(*dur);
      }
      if (args.size() > 2) {
        std::string_view pct = args[2].text;
        if (pct.empty() || pct.back() != '%') {
          return err(args[2], "cache prefetch: last character of percentage should be '%', in '" +
                                  args[2].text + "'");
        }
        auto num = detail::parseGoInt(pct.substr(0, pct.size() - 1));
        if (!num) {
          return err(args[2], "cache prefetch: '" + args[2].text + "' is not a percentage");
        }
        if (*num < 10 || *num > 90) {
          return err(args[2], "cache prefetch: percentage should fall in range [10, 90]: " +
                                  std::to_string(*num));
        }
        c.prefetch_percentage = static_cast<unsigned>(*num);
      }
    } else if (o == "serve_stale") {
      if (args.size() > 2) {
        return argErr(opt, "cache serve_stale");
      }
      c.serve_stale = true;
      c.stale_duration = std::chrono::hours(1);
      c.stale_verify = false;
      if (!args.empty()) {
        auto dur = duration(args[0], "cache serve_stale");
        if (!dur) {
          return fail(std::move(dur.error()));
        }
        if (dur->count() < 0) {
          return err(args[0], "cache serve_stale: invalid negative duration");
        }
        c.stale_duration = ceilSeconds(*dur);
      }
      if (args.size() > 1) {
        std::string mode = detail::fqdnLower(args[1].text);
        mode.pop_back();
        if (mode != "immediate" && mode != "verify") {
          return err(args[1], "cache serve_stale: invalid refresh mode '" + args[1].text +
                                  "' (immediate or verify)");
        }
        c.stale_verify = mode == "verify";
      }
    } else if (o == "servfail") {
      if (args.size() != 1) {
        return argErr(opt, "cache servfail");
      }
      auto dur = duration(args[0], "cache servfail");
      if (!dur) {
        return fail(std::move(dur.error()));
      }
      if (dur->count() < 0) {
        return err(args[0], "cache servfail: invalid negative duration");
      }
      if (*dur > std::chrono::minutes(5)) {
        return err(args[0],
                   "cache servfail: caching SERVFAIL responses over 5 minutes is not "
                   "permitted");
      }
      c.servfail_ttl = ceilSeconds(*dur);
    } else if (o == "disable") {
      if (args.empty()) {
        return argErr(opt, "cache disable");
      }
      std::vector<std::string> zs = c.zones;
      if (args.size() > 1) {
        auto z = zones(args, 1, "cache disable");
        if (!z) {
          return fail(std::move(z.error()));
        }
        zs = std::move(*z);
      }
      if (zs.empty()) {
        zs = sb.zones;  // CoreDNS: the cache's zones, which default to the server block's
      }
      if (args[0].text == "success") {
        c.success_disabled_zones = std::move(zs);
      } else if (args[0].text == "denial") {
        c.denial_disabled_zones = std::move(zs);
      } else {
        return err(args[0],
                   "cache disable: type must be 'success' or 'denial', not '" + args[0].text + "'");
      }
    } else if (o == "keepttl") {
      if (!args.empty()) {
        return argErr(opt, "cache keepttl");
      }
      c.keepttl = true;
    } else {
      return err(opt, "cache: unknown option '" + o + "'");
    }
  }
  return {};
}

// forward -------------------------------------------------------------------------------------

Result<void> Parser::forward(const Directive& d, size_t index, ForwardConfig& f) {
  const std::string name = "forward";
  if (d.args.size() < 2) {
    return err(d.name, "forward: need FROM and at least one TO (forward . 10.96.0.10)");
  }
  auto from = detail::normalizeZones(d.args[0].text);
  if (!from) {
    return err(d.args[0], "forward: " + from.error().message());
  }
  f.from = from->front();  // CoreDNS also uses only the first zone of a non-octet CIDR
  PendingForward pending{.block = index, .where = d.name, .upstreams = {}, .sources = {}};
  for (size_t k = 1; k < d.args.size(); ++k) {
    const Token& t = d.args[k];
    std::string_view to = t.text;
    if (auto scheme = to.find("://"); scheme != std::string_view::npos) {
      std::string proto(to.substr(0, scheme));
      if (proto == "tls") {
        return err(t, "forward: DNS-over-TLS upstream '" + t.text + "' is not supported");
      }
      if (proto != "dns") {
        return err(t, "forward: '" + proto + "' is not supported as a destination protocol: '" +
                          t.text + "'");
      }
      to.remove_prefix(scheme + 3);
    }
    if (to.empty()) {
      return err(t, "forward: invalid address '" + t.text + "'");
    }
    std::string_view host = to;
    std::optional<std::string> port_text;
    if (auto hp = detail::splitHostPort(to)) {
      host = to.substr(to.front() == '[' ? 1 : 0, hp->host.size());
      port_text = hp->port;
    }
    auto ip = IpAddress::parse(detail::stripZone(host));
    if (ip && detail::isV6LinkLocal(*ip)) {
      f.notes.push_back("dropped " + t.text +
                        ": IPv6 link-local upstreams need an interface scope (not supported)");
      continue;
    }
    if (ip) {
      uint16_t port = 53;
      if (port_text) {
        auto p = parsePort(*port_text);
        if (!p) {
          return err(t, "forward: invalid port in '" + t.text + "'");
        }
        port = *p;
      }
      pending.upstreams.push_back({SocketAddress{*ip, port}, ""});
      continue;
    }
    // Not an address: a resolv.conf-style file (CoreDNS parse.HostPortOrFile).
    std::string path(to);
    auto content = read_(path);
    if (!content) {
      return err(t, "forward: '" + t.text + "' is not an IP address or a readable file (" +
                        content.error().message() + ")");
    }
    auto rc = parseResolvConf(*content);
    for (auto& note : rc.notes) {
      f.notes.push_back(path + ": " + note);
    }
    for (auto& ns : rc.nameservers) {
      pending.upstreams.push_back({ns, path});
    }
    pending.sources.push_back(path);
  }
  for (const auto& line : d.lines) {
    const Token& opt = line.front();
    const std::vector<Token> args(line.begin() + 1, line.end());
    const std::string& o = opt.text;
    auto oneArg = [&]() -> Result<void> {
      if (args.size() != 1) {
        return argErr(opt, "forward " + o);
      }
      return {};
    };
    if (o == "force_tcp" || o == "prefer_udp") {
      if (!args.empty()) {
        return argErr(opt, "forward " + o);
      }
      (o == "force_tcp" ? f.force_tcp : f.prefer_udp) = true;
    } else if (o == "except") {
      if (args.empty()) {
        return argErr(opt, "forward except");
      }
      auto z = zones(args, 0, "forward except");
      if (!z) {
        return fail(std::move(z.error()));
      }
      f.except.insert(f.except.end(), z->begin(), z->end());
    } else if (o == "max_fails") {
      if (auto r = oneArg(); !r) {
        return r;
      }
      auto v = detail::parseGoInt(args[0].text);
      if (!v || *v < 0 || *v > 0xffffffff || args[0].text.front() == '-' ||
          args[0].text.front() == '+') {
        return err(args[0],
                   "forward max_fails: '" + args[0].text + "' is not a non-negative integer");
      }
      f.max_fails = static_cast<unsigned>(*v);
    } else if (o == "health_check") {
      if (args.empty()) {
        return argErr(opt, "forward health_check");
      }
      auto dur = duration(args[0], "forward health_check");
      if (!dur) {
        return fail(std::move(dur.error()));
      }
      if (dur->count() < 0) {
        return err(args[0], "forward health_check: can't be negative: " + args[0].text);
      }
      f.health_check = std::chrono::duration_cast<std::chrono::milliseconds>(*dur);
      for (size_t k = 1; k < args.size(); ++k) {
        if (args[k].text == "no_rec") {
          f.health_check_recursion = false;
        } else if (args[k].text == "domain") {
          if (k + 1 >= args.size()) {
            return argErr(args[k], "forward health_check");
          }
          std::string dom = detail::fqdnLower(args[k + 1].text);
          if (!detail::isValidDomainName(dom)) {
            return err(args[k + 1],
                       "forward health_check: invalid domain name '" + args[k + 1].text + "'");
          }
          f.health_check_domain = dom;
          ++k;
        } else {
          return err(args[k], "forward health_check: unknown option '" + args[k].text + "'");
        }
      }
    } else if (o == "expire") {
      if (auto r = oneArg(); !r) {
        return r;
      }
      auto dur = duration(args[0], "forward expire");
      if (!dur) {
        return fail(std::move(dur.error()));
      }
      if (dur->count() < 0) {
        return err(args[0], "forward expire: can't be negative: " + args[0].text);
      }
      f.expire = ceilSeconds(*dur);
    } else if (o == "policy") {
      if (auto r = oneArg(); !r) {
        return r;
      }
      const std::string& p = args[0].text;
      if (p == "random") {
        f.policy = Policy::kRandom;
      } else if (p == "round_robin") {
        f.policy = Policy::kRoundRobin;
      } else if (p == "sequential") {
        f.policy = Policy::kSequential;
      } else {
        return err(args[0], "forward policy: unknown policy '" + p + "'");
      }
    } else if (o == "max_concurrent") {
      if (auto r = oneArg(); !r) {
        return r;
      }
      auto v = integer(args[0], "forward max_concurrent");
      if (!v) {
        return fail(std::move(v.error()));
      }
      if (*v < 0 || *v > 0xffffffff) {
        return err(args[0], "forward max_concurrent: can't be negative: " + args[0].text);
      }
      f.max_concurrent = static_cast<unsigned>(*v);
    } else if (o == "timeout") {
      // Ours: per-attempt and overall deadlines (CoreDNS: fixed 2s / 5s).
      if (args.empty() || args.size() > 2) {
        return argErr(opt, "forward timeout");
      }
      auto attempt = duration(args[0], "forward timeout");
      if (!attempt) {
        return fail(std::move(attempt.error()));
      }
      auto overall = args.size() > 1
                         ? duration(args[1], "forward timeout")
                         : Result<std::chrono::nanoseconds>(
                               std::max<std::chrono::nanoseconds>(*attempt, f.overall_timeout));
      if (!overall) {
        return fail(std::move(overall.error()));
      }
      if (*attempt < std::chrono::milliseconds(1) || *overall < *attempt) {
        return err(opt, "forward timeout: need 0 < ATTEMPT <= OVERALL, got '" + args[0].text +
                            (args.size() > 1 ? "' '" + args[1].text : std::string()) + "'");
      }
      f.attempt_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*attempt);
      f.overall_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*overall);
    } else if (o == "tls" || o == "tls_servername") {
      return err(opt, "forward " + o + ": DNS-over-TLS is not supported");
    } else {
      return err(opt, "forward: unknown property '" + o + "'");
    }
  }
  pending_.push_back(std::move(pending));
  return {};
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "'" : ", '") + s + "'";
  }
  return out;
}

}  // namespace

bool isForwardingLoop(const SocketAddress& upstream, const std::vector<IpAddress>& own,
                      const std::vector<uint16_t>& served_ports) {
  return std::find(own.begin(), own.end(), upstream.ip) != own.end() &&
         std::find(served_ports.begin(), served_ports.end(), upstream.port) != served_ports.end();
}

namespace {

Result<void> Parser::resolveForwards(Config& config) {
  std::vector<IpAddress> ours = options_.own_addresses;
  std::vector<uint16_t> ports;
  for (const auto& b : config.blocks) {
    ours.insert(ours.end(), b.bind.begin(), b.bind.end());
    ports.push_back(b.port);
  }
  const IpAddress stub = *IpAddress::parse(kSystemdStub);
  std::optional<std::vector<SocketAddress>> systemd;  // read once, on first need
  std::string systemd_error;
  for (auto& p : pending_) {
    ForwardConfig& f = *config.blocks[p.block].forward;
    auto isOurs = [&](const SocketAddress& a) { return isForwardingLoop(a, ours, ports); };
    std::vector<SocketAddress> out;
    auto add = [&](const SocketAddress& a) {
      if (std::find(out.begin(), out.end(), a) == out.end()) {
        out.push_back(a);
      }
    };
    for (const auto& u : p.upstreams) {
      const std::string origin = u.source.empty() ? "" : " (from " + u.source + ")";
      if (u.addr.ip == stub) {
        if (!systemd && systemd_error.empty()) {
          auto text = read_(std::string(kSystemdResolvConf));
          if (text) {
            systemd = parseResolvConf(*text).nameservers;
          } else {
            systemd_error = text.error().message();
          }
        }
        if (systemd) {
          f.notes.push_back("dropped " + u.addr.toString() + origin +
                            ": systemd-resolved stub would loop, using the upstreams in " +
                            std::string(kSystemdResolvConf));
          for (const auto& s : *systemd) {
            if (s.ip != stub && !isOurs(s)) {
              add(s);
            }
          }
        } else {
          f.notes.push_back(
              "dropped " + u.addr.toString() + origin + ": systemd-resolved stub would loop, and " +
              std::string(kSystemdResolvConf) + " is unusable (" + systemd_error + ")");
        }
        continue;
      }
      if (isOurs(u.addr)) {
        f.notes.push_back("dropped " + u.addr.toString() + origin +
                          ": it is one of our own addresses (forwarding loop)");
        continue;
      }
      out.push_back(u.addr);
    }
    if (out.empty()) {
      std::string what = p.sources.empty() ? "the listed upstreams" : joined(p.sources);
      std::string why;
      for (const auto& n : f.notes) {
        why += "; " + n;
      }
      return err(p.where, "forward: no usable upstream in " + what +
                              (why.empty() ? std::string(" (no nameserver lines)") : why));
    }
    if (out.size() > kMaxUpstreams) {
      return err(p.where, "forward: more than " + std::to_string(kMaxUpstreams) +
                              " upstreams configured: " + std::to_string(out.size()));
    }
    f.to = std::move(out);
  }
  return {};
}

// hosts ----------------------------------------------------------------------------------

Result<Fallthrough> Parser::fallthrough(const std::vector<Token>& line,
                                        const std::string& directive) {
  Fallthrough f;
  f.enabled = true;
  auto z = zones(line, 1, directive + " fallthrough");
  if (!z) {
    return fail(std::move(z.error()));
  }
  f.zones = z->empty() ? std::vector<std::string>{"."} : std::move(*z);
  return f;
}

Result<void> Parser::hosts(const Directive& d, const ServerBlock& sb, HostsConfig& h) {
  // CoreDNS plugin/hosts setup.go: [FILE [ZONES...]], then option lines; any other line before
  // `fallthrough` is an inline hosts(5) entry.
  h.line = d.name.line;
  if (!d.args.empty()) {
    h.path = d.args[0].text;
  }
  auto z = zonesOrBlock(d.args, 1, "hosts", sb);
  if (!z) {
    return fail(std::move(z.error()));
  }
  h.zones = std::move(*z);
  for (const auto& line : d.lines) {
    const std::string& o = line.front().text;
    if (o == "fallthrough") {
      auto f = fallthrough(line, "hosts");
      if (!f) {
        return fail(std::move(f.error()));
      }
      h.fallthrough = std::move(*f);
    } else if (o == "no_reverse") {
      if (line.size() != 1) {
        return argErr(line.back(), "hosts no_reverse");
      }
      h.reverse = false;
    } else if (o == "ttl") {
      if (line.size() != 2) {
        return err(line.front(), "hosts: ttl needs a time in seconds");
      }
      auto v = integer(line[1], "hosts ttl");
      if (!v) {
        return fail(std::move(v.error()));
      }
      if (*v <= 0 || *v > 65535) {
        return err(line[1], "hosts: ttl provided is invalid (1..65535): " + line[1].text);
      }
      h.ttl = static_cast<uint32_t>(*v);
    } else if (o == "reload") {
      if (line.size() != 2) {
        return err(line.front(), "hosts: reload needs a duration (zero seconds to disable)");
      }
      auto dur = duration(line[1], "hosts reload");
      if (!dur) {
        return fail(std::move(dur.error()));
      }
      if (dur->count() < 0) {
        return err(line[1], "hosts: invalid negative duration for reload: " + line[1].text);
      }
      h.reload = std::chrono::duration_cast<std::chrono::milliseconds>(*dur);
    } else if (!h.fallthrough.enabled) {
      std::string text;
      for (const auto& t : line) {
        text += (text.empty() ? "" : " ") + t.text;
      }
      h.inline_lines.push_back(std::move(text));
    } else {
      return err(line.front(), "hosts: unknown property '" + o + "'");
    }
  }
  return {};
}

// template -------------------------------------------------------------------------------

std::optional<uint16_t> classCode(std::string_view s) {
  static const std::pair<std::string_view, uint16_t> k[] = {{"IN", 1}, {"CS", 2},     {"CH", 3},
                                                            {"HS", 4}, {"NONE", 254}, {"ANY", 255}};
  for (const auto& [n, v] : k) {
    if (s == n) {
      return v;
    }
  }
  return std::nullopt;
}

std::optional<uint16_t> typeCode(std::string_view s) {
  static const std::pair<std::string_view, uint16_t> k[] = {
      {"A", 1},      {"NS", 2},     {"CNAME", 5},  {"SOA", 6},   {"PTR", 12},
      {"HINFO", 13}, {"MX", 15},    {"TXT", 16},   {"AAAA", 28}, {"SRV", 33},
      {"NAPTR", 35}, {"DS", 43},    {"RRSIG", 46}, {"NSEC", 47}, {"DNSKEY", 48},
      {"SVCB", 64},  {"HTTPS", 65}, {"CAA", 257},  {"ANY", 255}};
  for (const auto& [n, v] : k) {
    if (s == n) {
      return v;
    }
  }
  if (s.size() > 4 && s.substr(0, 4) == "TYPE") {
    auto v = detail::parseGoInt(s.substr(4));
    if (v && *v >= 0 && *v <= 65535) {
      return static_cast<uint16_t>(*v);
    }
  }
  return std::nullopt;
}

std::optional<uint8_t> rcodeCode(std::string_view s) {
  // miekg/dns StringToRcode (CoreDNS template setup.go), plus SUCCESS = NOERROR.
  static const std::pair<std::string_view, uint8_t> k[] = {
      {"NOERROR", 0},  {"SUCCESS", 0}, {"FORMERR", 1}, {"SERVFAIL", 2},
      {"NXDOMAIN", 3}, {"NOTIMP", 4},  {"REFUSED", 5}, {"YXDOMAIN", 6},
      {"YXRRSET", 7},  {"NXRRSET", 8}, {"NOTAUTH", 9}, {"NOTZONE", 10}};
  for (const auto& [n, v] : k) {
    if (s == n) {
      return v;
    }
  }
  return std::nullopt;
}

Result<void> Parser::templateDirective(const Directive& d, const ServerBlock& sb,
                                       TemplateConfig& t) {
  // CoreDNS plugin/template setup.go.
  t.line = d.name.line;
  if (d.args.size() < 2) {
    return err(d.name, "template: needs CLASS TYPE [ZONE...]");
  }
  auto cls = classCode(d.args[0].text);
  if (!cls) {
    return err(d.args[0], "template: invalid query class " + d.args[0].text);
  }
  auto type = typeCode(d.args[1].text);
  if (!type) {
    return err(d.args[1], "template: invalid RR class " + d.args[1].text);
  }
  t.qclass = *cls;
  t.qtype = *type;
  auto z = zonesOrBlock(d.args, 2, "template", sb);
  if (!z) {
    return fail(std::move(z.error()));
  }
  t.zones = std::move(*z);
  bool has_rcode = false;
  for (const auto& line : d.lines) {
    const std::string& o = line.front().text;
    if (o == "match") {
      if (line.size() < 2) {
        return argErr(line.front(), "template match");
      }
      for (size_t k = 1; k < line.size(); ++k) {
        auto re = translateGoRegex(line[k].text);
        if (!re) {
          return err(line[k], "template: " + re.error().message());
        }
        t.match.push_back(line[k].text);
      }
    } else if (o == "answer" || o == "additional" || o == "authority") {
      if (line.size() < 2) {
        return argErr(line.front(), "template " + o);
      }
      auto& dest = o == "answer" ? t.answer : o == "additional" ? t.additional : t.authority;
      for (size_t k = 1; k < line.size(); ++k) {
        auto tmpl = GoTemplate::parse(line[k].text);
        if (!tmpl) {
          return err(line[k], tmpl.error().message());
        }
        dest.push_back(line[k].text);
      }
    } else if (o == "rcode") {
      if (line.size() != 2) {
        return argErr(line.front(), "template rcode");
      }
      auto rc = rcodeCode(line[1].text);
      if (!rc) {
        return err(line[1], "template: unknown rcode " + line[1].text);
      }
      t.rcode = *rc;
      has_rcode = true;
    } else if (o == "fallthrough") {
      auto f = fallthrough(line, "template");
      if (!f) {
        return fail(std::move(f.error()));
      }
      t.fallthrough = std::move(*f);
    } else if (o == "upstream" || o == "edns") {
      return err(line.front(), "template: '" + o +
                                   "' is not supported by nodelocaldns (refusing rather than "
                                   "answering differently)");
    } else {
      return err(line.front(), "template: unknown property '" + o + "'");
    }
  }
  if (t.answer.empty() && t.additional.empty() && t.authority.empty() && !has_rcode) {
    return err(d.name, "template: no answer section for template found");
  }
  return {};
}

// Server block --------------------------------------------------------------------------------

const std::set<std::string, std::less<>>& ignoredDirectives() {
  // Compiled into node-cache, and ignoring them leaves every answer valid.
  static const std::set<std::string, std::less<>> k = {"debug",   "pprof",       "trace",
                                                       "bufsize", "loadbalance", "timeouts"};
  return k;
}

const std::set<std::string, std::less<>>& answerChangingDirectives() {
  // Compiled into node-cache, but they change answers: refusing is safer than ignoring.
  static const std::set<std::string, std::less<>> k = {"whoami", "rewrite", "dns64"};
  return k;
}

Result<ServerBlock> Parser::block(const RawBlock& raw, size_t index) {
  ServerBlock sb;
  sb.file = file_;
  sb.line = raw.keys.front().line;
  if (auto r = keys(raw, sb); !r) {
    return fail(std::move(r.error()));
  }
  std::set<std::string> seen;
  for (const auto& d : raw.directives) {
    const std::string& n = d.name.text;
    auto once = [&]() -> Result<void> {
      if (!seen.insert(n).second) {
        return err(d.name, "'" + n + "' can only be used once per server block");
      }
      return {};
    };
    auto noBlock = [&]() -> Result<void> {
      if (d.has_block) {
        return err(d.name, n + ": takes no option block");
      }
      return {};
    };
    Result<void> r;
    if (n == "errors") {
      r = once();
      if (r && (d.args.size() > 1 || (d.args.size() == 1 && d.args[0].text != "stdout"))) {
        r = d.args.size() > 1 ? argErr(d.name, n)
                              : err(d.args[0], "errors: invalid log file '" + d.args[0].text + "'");
      }
      for (const auto& line : d.lines) {
        if (!r) {
          break;
        }
        if (line.front().text == "stacktrace" && line.size() == 1) {
          continue;
        }
        if (line.front().text == "consolidate" && (line.size() == 3 || line.size() == 4)) {
          auto dur = duration(line[1], "errors consolidate");
          if (!dur) {
            r = fail(std::move(dur.error()));
            continue;
          }
          ErrorsConsolidate c;
          c.period = *dur;
          c.pattern = line[2].text;
          if (auto bad = detail::regexError(c.pattern)) {
            r = err(line[2], "errors consolidate: invalid regexp '" + c.pattern + "': " + *bad);
            continue;
          }
          if (line.size() == 4) {
            c.level = line[3].text;
            if (c.level != "warning" && c.level != "error" && c.level != "info" &&
                c.level != "debug") {
              r = err(line[3], "errors: unknown log level argument in consolidate: " + c.level);
              continue;
            }
          }
          sb.errors_consolidate.push_back(std::move(c));
          continue;
        }
        r = err(line.front(),
                "errors: unknown option or wrong arguments '" + line.front().text + "'");
      }
      sb.errors = true;
    } else if (n == "log") {
      // CoreDNS setup.go: no argument = ".", one = NAMES, more = NAMES... FORMAT.
      LogRule rule;
      size_t names_end = d.args.size() > 1 ? d.args.size() - 1 : d.args.size();
      if (names_end > 0) {
        auto z = zones(std::vector<Token>(d.args.begin(),
                                          d.args.begin() + static_cast<std::ptrdiff_t>(names_end)),
                       0, "log");
        if (!z) {
          r = fail(std::move(z.error()));
        } else {
          rule.zones = std::move(*z);
        }
      }
      if (d.args.size() > 1) {
        const std::string& format = d.args.back().text;
        if (format == "{combined}") {
          rule.combined = true;
        } else if (format != "{common}") {
          sb.notes.push_back("log: custom format '" + format +
                             "' is not supported, using the common log format");
        }
      }
      bool classes_given = false;
      for (const auto& line : d.lines) {
        if (!r) {
          break;
        }
        if (line.front().text != "class" || line.size() < 2) {
          r = err(line.front(),
                  "log: unknown option or wrong arguments '" + line.front().text + "'");
          break;
        }
        if (!classes_given) {
          rule.classes = 0;
          classes_given = true;
        }
        for (size_t k = 1; k < line.size(); ++k) {
          const auto& cls = line[k].text;
          if (cls == "all") {
            rule.classes |= LogRule::kAll;
          } else if (cls == "success") {
            rule.classes |= LogRule::kSuccess;
          } else if (cls == "denial") {
            rule.classes |= LogRule::kDenial;
          } else if (cls == "error") {
            rule.classes |= LogRule::kError;
          } else {
            r = err(line[k], "log: invalid class '" + cls + "'");
            break;
          }
        }
      }
      sb.log_rules.push_back(std::move(rule));
      sb.log = true;
    } else if (n == "reload") {
      r = once();
      if (r) {
        r = noBlock();
      }
      if (r && d.args.size() > 2) {
        r = argErr(d.name, n);
      }
      std::chrono::nanoseconds interval = std::chrono::seconds(30),
                               jitter = std::chrono::seconds(15);
      if (r && !d.args.empty()) {
        auto v = duration(d.args[0], n);
        if (!v) {
          r = fail(std::move(v.error()));
        } else if (*v < std::chrono::seconds(2)) {
          r = err(d.args[0], "reload: interval value must be greater or equal to 2s");
        } else {
          interval = *v;
        }
      }
      if (r && d.args.size() > 1) {
        auto v = duration(d.args[1], n);
        if (!v) {
          r = fail(std::move(v.error()));
        } else if (*v < std::chrono::seconds(1)) {
          r = err(d.args[1], "reload: jitter value must be greater or equal to 1s");
        } else {
          jitter = *v;
        }
      }
      if (jitter > interval / 2) {
        jitter = interval / 2;
      }
      sb.reload = true;
      sb.reload_interval = std::chrono::duration_cast<std::chrono::milliseconds>(interval);
      sb.reload_jitter = std::chrono::duration_cast<std::chrono::milliseconds>(jitter);
    } else if (n == "loop") {
      r = once();
      if (r && !d.args.empty()) {
        r = argErr(d.name, n);
      }
      if (r) {
        r = noBlock();
      }
      sb.loop = true;
    } else if (n == "bind") {
      r = noBlock();
      if (r && d.args.empty()) {
        r = argErr(d.name, n);
      }
      for (const auto& a : d.args) {
        if (!r) {
          break;
        }
        auto ip = IpAddress::parse(a.text);
        if (!ip) {
          r = err(
              a, "bind: '" + a.text + "' is not an IP address (interface names are not supported)");
        } else if (std::find(sb.bind.begin(), sb.bind.end(), *ip) == sb.bind.end()) {
          sb.bind.push_back(*ip);
        }
      }
    } else if (n == "cache") {
      r = once();
      CacheConfig c;
      if (r) {
        r = cache(d, sb, c);
      }
      sb.cache = std::move(c);
    } else if (n == "forward") {
      r = once();
      ForwardConfig f;
      if (r) {
        r = forward(d, index, f);
      }
      sb.forward = std::move(f);
    } else if (n == "prometheus") {
      r = once();
      if (r) {
        r = noBlock();
      }
      if (r && d.args.size() > 1) {
        r = argErr(d.name, n);
      }
      sb.prometheus = SocketAddress{*IpAddress::parse("127.0.0.1"), 9153};
      if (r && d.args.size() == 1) {
        auto a = listenAddress(d.args[0], n);
        r = a ? Result<void>() : Result<void>(fail(std::move(a.error())));
        if (a) {
          sb.prometheus = *a;
        }
      }
    } else if (n == "health") {
      r = once();
      if (r && d.args.size() > 1) {
        r = argErr(d.name, n);
      }
      sb.health = SocketAddress{IpAddress(), 8080};
      if (r && d.args.size() == 1) {
        auto a = listenAddress(d.args[0], n);
        r = a ? Result<void>() : Result<void>(fail(std::move(a.error())));
        if (a) {
          sb.health = *a;
        }
      }
      for (const auto& line : d.lines) {
        if (!r) {
          break;
        }
        if (line.front().text != "lameduck" || line.size() != 2) {
          r = err(line.front(),
                  "health: unknown option or wrong arguments '" + line.front().text + "'");
          break;
        }
        auto dur = duration(line[1], "health lameduck");
        if (!dur) {
          r = fail(std::move(dur.error()));
        } else {
          sb.health_lameduck = std::chrono::duration_cast<std::chrono::milliseconds>(*dur);
        }
      }
    } else if (n == "hosts") {
      r = once();
      if (r) {
        sb.hosts.emplace();
        r = hosts(d, sb, *sb.hosts);
      }
    } else if (n == "template") {
      TemplateConfig t;
      r = templateDirective(d, sb, t);
      if (r) {
        sb.templates.push_back(std::move(t));
      }
    } else if (ignoredDirectives().count(n) > 0) {
      sb.notes.push_back(file_ + ":" + std::to_string(d.name.line) + ": directive '" + n +
                         "' has no effect in nodelocaldns, ignoring");
    } else if (answerChangingDirectives().count(n) > 0) {
      r = err(d.name,
              "directive '" + n + "' is not supported by nodelocaldns (it changes answers)");
    } else {
      r = err(d.name, "unknown directive '" + n + "'");
    }
    if (!r) {
      return fail(std::move(r.error()));
    }
  }
  return sb;
}

Result<Config> Parser::run(std::string_view text) {
  auto tokens = detail::lexCorefile(text, file_);
  if (!tokens) {
    return fail(std::move(tokens.error()));
  }
  auto raw = structure(std::move(*tokens));
  if (!raw) {
    return fail(std::move(raw.error()));
  }
  Config config;
  if (raw->empty()) {
    return fail(Errc::kParse, file_ + ": no server blocks");
  }
  for (size_t i = 0; i < raw->size(); ++i) {
    auto sb = block((*raw)[i], i);
    if (!sb) {
      return fail(std::move(sb.error()));
    }
    config.blocks.push_back(std::move(*sb));
  }
  // Two blocks may not serve the same zone on the same port and address (CoreDNS: "cannot serve
  // dns://zone:port - it is already defined").
  std::map<std::pair<uint16_t, std::string_view>, std::vector<size_t>> served;
  for (size_t a = 0; a < config.blocks.size(); ++a) {
    const auto& x = config.blocks[a];
    for (const auto& z : x.zones) {
      auto& users = served[{x.port, z}];
      for (size_t b : users) {
        const auto& y = config.blocks[b];
        bool overlap = x.bind.empty() || y.bind.empty() ||
                       std::any_of(x.bind.begin(), x.bind.end(), [&](const IpAddress& ip) {
                         return std::find(y.bind.begin(), y.bind.end(), ip) != y.bind.end();
                       });
        if (overlap) {
          return err(x.line, "cannot serve zone '" + z + "' on port " + std::to_string(x.port) +
                                 ": already defined at line " + std::to_string(y.line));
        }
      }
      users.push_back(a);
    }
  }
  if (auto r = resolveForwards(config); !r) {
    return fail(std::move(r.error()));
  }
  return config;
}

// True if qname (lower-case, trailing dot optional) is `zone` (FQDN) or below it.
bool inZone(std::string_view qname, std::string_view zone) {
  if (zone == ".") {
    return true;
  }
  if (!qname.empty() && qname.back() == '.') {
    qname.remove_suffix(1);
  }
  zone.remove_suffix(1);
  if (qname.size() < zone.size() || qname.substr(qname.size() - zone.size()) != zone) {
    return false;
  }
  return qname.size() == zone.size() || qname[qname.size() - zone.size() - 1] == '.';
}

}  // namespace

Result<Config> parseCorefile(std::string_view text, std::string_view filename,
                             const ParseOptions& options) {
  Parser p(filename, options);
  return p.run(text);
}

std::vector<std::string> Config::notes() const {
  std::vector<std::string> out;
  for (const auto& b : blocks) {
    // Directive notes already carry their own file:line.
    out.insert(out.end(), b.notes.begin(), b.notes.end());
    if (b.forward) {
      for (const auto& n : b.forward->notes) {
        out.push_back(b.file + ":" + std::to_string(b.line) + ": " +
                      (b.zones.empty() ? std::string(".") : b.zones.front()) + ": forward: " + n);
      }
    }
  }
  return out;
}

const ServerBlock* Config::route(std::string_view qname_lower, IpAddress local,
                                 uint16_t port) const {
  // A block bound to `local` takes the query; blocks without bind (wildcard listeners) only get
  // what no specific listener on that port claims — as the kernel delivers it to CoreDNS.
  bool specific = false;
  for (const auto& b : blocks) {
    if (b.port == port && std::find(b.bind.begin(), b.bind.end(), local) != b.bind.end()) {
      specific = true;
      break;
    }
  }
  const ServerBlock* best = nullptr;
  size_t best_len = 0;
  for (const auto& b : blocks) {
    if (b.port != port) {
      continue;
    }
    bool bound = std::find(b.bind.begin(), b.bind.end(), local) != b.bind.end();
    if (specific ? !bound : !b.bind.empty()) {
      continue;
    }
    for (const auto& z : b.zones) {
      if ((best == nullptr || z.size() > best_len) && inZone(qname_lower, z)) {
        best = &b;
        best_len = z.size();
      }
    }
  }
  return best;
}

}  // namespace nld::resolver::config
