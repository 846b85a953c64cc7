#include "netcfg/rules/rule.h"

#include <cstring>

namespace nld::netcfg {

namespace {

// xtables_save_string() of iptables 1.8.9: bare when only [A-Za-z0-9_-], else double quotes with
// backslash before ", \ and '.
std::string saveString(std::string_view value) {
  constexpr std::string_view kNoQuote =
      "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  if (!value.empty() && value.find_first_not_of(kNoQuote) == std::string_view::npos) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\' || c == '\'') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

// Shell quoting for toArgs(): upstream passes the comment as one argv element.
std::string shellQuote(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

std::string_view protoName(Proto p) noexcept { return p == Proto::kTcp ? "tcp" : "udp"; }

std::string_view targetName(RuleTarget t) noexcept {
  return t == RuleTarget::kNotrack ? "NOTRACK" : "ACCEPT";
}

std::string Rule::toSaveLine() const {
  std::string line = "-A " + chain;
  if (source) {
    line += " -s " + IpPrefix::host(*source).toString();
  }
  if (destination) {
    line += " -d " + IpPrefix::host(*destination).toString();
  }
  std::string p(protoName(proto));
  line += " -p " + p;
  if (source_port || destination_port) {
    line += " -m " + p;  // the binary loads the tcp/udp match only for port options
  }
  if (source_port) {
    line += " --sport " + std::to_string(*source_port);
  }
  if (destination_port) {
    line += " --dport " + std::to_string(*destination_port);
  }
  if (!comment.empty()) {
    line += " -m comment --comment " + saveString(comment);
  }
  line += " -j ";
  line += targetName(target);
  return line;
}

std::vector<std::string> Rule::toArgv() const {
  std::vector<std::string> argv = {"-p", std::string(protoName(proto))};
  if (source) {
    argv.insert(argv.end(), {"-s", source->toString()});
  }
  if (destination) {
    argv.insert(argv.end(), {"-d", destination->toString()});
  }
  if (source_port) {
    argv.insert(argv.end(), {"--sport", std::to_string(*source_port)});
  }
  if (destination_port) {
    argv.insert(argv.end(), {"--dport", std::to_string(*destination_port)});
  }
  argv.insert(argv.end(), {"-j", std::string(targetName(target))});
  if (!comment.empty()) {
    argv.insert(argv.end(), {"-m", "comment", "--comment", comment});
  }
  return argv;
}

std::string Rule::toArgs() const {
  std::string out;
  std::vector<std::string> argv = toArgv();
  for (size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) {
      out += ' ';
    }
    bool is_comment = i > 0 && argv[i - 1] == "--comment";
    out += is_comment ? shellQuote(argv[i]) : argv[i];
  }
  return out;
}

std::string Rule::where() const {
  std::string out(familyName(family));
  out += ' ';
  out += table;
  out += ' ';
  out += chain;
  return out;
}

}  // namespace nld::netcfg
