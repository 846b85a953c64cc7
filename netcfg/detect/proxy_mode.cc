// kube-proxy mode detection: a tiny HTTP/1.0 client for /proxyMode, then netlink / libiptc probes
// for the artifacts each mode leaves (see proxy_mode.h for the order and why).
//
// nftables is probed with a raw NETLINK_NETFILTER request (NFT_MSG_GETTABLE / GETCHAIN) instead of
// libnftables or the `nft` binary: one message and its ack, no extra library or binary on the node.
#include "netcfg/detect/proxy_mode.h"

#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/ip.h"
#include "base/strings.h"
#include "netcfg/link/link.h"
#include "netcfg/netlink/netfilter_socket.h"
#include "netcfg/netlink/request.h"
#include "netcfg/rules/iptables/iptables_rules.h"

namespace nld::netcfg {

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kDefaultMetricsPort = 10249;
constexpr size_t kMaxHttpResponse = size_t{64} * 1024;
// NFPROTO_IPV4 (<linux/netfilter.h> clashes with <netinet/in.h>, which base/ip.h includes).
constexpr uint8_t kNfprotoIpv4 = AF_INET;

// ---- /proxyMode ------------------------------------------------------------------------------

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::strchr(" \t\r\n", s[b]) != nullptr) {
    ++b;
  }
  while (e > b && std::strchr(" \t\r\n", s[e - 1]) != nullptr) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

// What the endpoint said: nullopt = nobody answered (fall through, `*why` says why);
// a value = the HTTP status and the body.
struct HttpAnswer {
  int status = 0;
  std::string body;
};

// True once the headers and a Content-Length body have arrived (otherwise we read to EOF).
bool complete(std::string_view resp) {
  size_t head_end = resp.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    return false;
  }
  std::string head(resp.substr(0, head_end));
  for (char& c : head) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  size_t at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) {
    return false;
  }
  size_t length = 0;
  bool digits = false;
  for (size_t i = at + 17; i < head.size() && head[i] != '\r'; ++i) {
    if (head[i] >= '0' && head[i] <= '9') {
      length = length * 10 + static_cast<size_t>(head[i] - '0');
      digits = true;
      if (length > kMaxHttpResponse) {
        return false;
      }
    } else if (head[i] != ' ' && head[i] != '\t') {
      return false;
    }
  }
  return digits && resp.size() - (head_end + 4) >= length;
}

// Accepts what an operator may type for kube-proxy's metricsBindAddress: "IP[:port]",
// "[v6]:port", "localhost[:port]", optionally with "http://" in front and a trailing "/".
Result<SocketAddress> parseMetricsAddress(std::string_view text) {
  std::string_view t = text;
  if (t.rfind("http://", 0) == 0) {
    t.remove_prefix(7);
  }
  if (!t.empty() && t.back() == '/') {
    t.remove_suffix(1);
  }
  std::string host_port(t);
  if (t == "localhost" || t.rfind("localhost:", 0) == 0) {
    host_port = "127.0.0.1" + std::string(t.substr(9));
  }
  auto a = SocketAddress::parse(host_port, kDefaultMetricsPort);
  if (!a) {
    return fail(Errc::kInvalidArgument, "invalid kube-proxy metrics address '" + std::string(text) +
                                            "': " + a.error().message());
  }
  return a;
}

// Connects the non-blocking `fd` to `ss` by `deadline`; false (and `*why`) when it cannot.
bool connectBy(const Fd& fd, const sockaddr_storage& ss, socklen_t sslen,
               Clock::time_point deadline, std::chrono::milliseconds timeout, std::string* why) {
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), sslen) != 0) {
    if (errno != EINPROGRESS) {
      *why = errnoText(errno);
      return false;
    }
    pollfd p{fd.get(), POLLOUT, 0};
    int r = ::poll(&p, 1, remainingMs(deadline));
    if (r == 0) {
      *why = "no connection within " + std::to_string(timeout.count()) + " ms";
      return false;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (r < 0 || ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
      err = errno;
    }
    if (err != 0) {
      *why = errnoText(err);
      return false;
    }
  }
  return true;
}

// Sends all of `req` by `deadline`; false (and `*why`) when it cannot.
bool sendAllBy(const Fd& fd, const std::string& req, Clock::time_point deadline, std::string* why) {
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      pollfd p{fd.get(), POLLOUT, 0};
      if (::poll(&p, 1, remainingMs(deadline)) <= 0) {
        *why = "timed out sending the request";
        return false;
      }
      continue;
    }
    *why = std::string("send: ") + errnoText(errno);
    return false;
  }
  return true;
}

// Reads the answer until EOF or a complete Content-Length body, bounded by kMaxHttpResponse and
// `deadline`; nullopt (and `*why`, `*malformed` for an oversized one) when it cannot.
std::optional<std::string> receiveBy(const Fd& fd, Clock::time_point deadline,
                                     std::chrono::milliseconds timeout, std::string* why,
                                     bool* malformed) {
  std::string resp;
  std::array<char, 4096> buf;
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      resp.append(buf.data(), static_cast<size_t>(n));
      if (resp.size() > kMaxHttpResponse) {
        *malformed = true;
        *why = "response larger than 64 KiB";
        return std::nullopt;
      }
      if (complete(resp)) {
        break;  // a server that keeps the connection open despite HTTP/1.0 + close
      }
      continue;
    }
    if (n == 0) {
      break;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN) {
      pollfd p{fd.get(), POLLIN, 0};
      int r = ::poll(&p, 1, remainingMs(deadline));
      if (r <= 0) {
        *why = "no complete answer within " + std::to_string(timeout.count()) + " ms";
        return std::nullopt;
      }
      continue;
    }
    *why = std::string("recv: ") + errnoText(errno);
    return std::nullopt;
  }
  return resp;
}

// "HTTP/1.x NNN reason\r\n headers \r\n\r\n body" → status and body; nullopt and `*malformed`
// when it is not that.
std::optional<HttpAnswer> parseAnswer(const std::string& resp, std::string* why, bool* malformed) {
  size_t head_end = resp.find("\r\n\r\n");
  size_t body_at = head_end == std::string::npos ? std::string::npos : head_end + 4;
  if (head_end == std::string::npos) {
    head_end = resp.find("\n\n");
    body_at = head_end == std::string::npos ? std::string::npos : head_end + 2;
  }
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.size() < 12 || body_at == std::string::npos) {
    *malformed = true;
    *why = resp.empty() ? "closed the connection without an answer" : "not an HTTP response";
    return std::nullopt;
  }
  HttpAnswer a;
  for (size_t i = 9; i < 12; ++i) {
    if (resp[i] < '0' || resp[i] > '9') {
      *malformed = true;
      *why = "not an HTTP response";
      return std::nullopt;
    }
    a.status = a.status * 10 + (resp[i] - '0');
  }
  a.body = resp.substr(body_at);
  return a;
}

std::optional<HttpAnswer> httpGet(const SocketAddress& to, std::string_view path,
                                  std::chrono::milliseconds timeout, std::string* why,
                                  bool* malformed) {
  auto deadline = Clock::now() + timeout;
  sockaddr_storage ss{};
  socklen_t sslen = to.toSockaddr(ss);
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    *why = std::string("socket: ") + errnoText(errno);
    return std::nullopt;
  }
  if (!connectBy(fd, ss, sslen, deadline, timeout, why)) {
    return std::nullopt;
  }
  std::string req = "GET " + std::string(path) + " HTTP/1.0\r\nHost: " + to.toString() +
                    "\r\nUser-Agent: nodelocaldns\r\nAccept: text/plain\r\nConnection: "
                    "close\r\n\r\n";
  if (!sendAllBy(fd, req, deadline, why)) {
    return std::nullopt;
  }
  auto resp = receiveBy(fd, deadline, timeout, why, malformed);
  if (!resp) {
    return std::nullopt;
  }
  return parseAnswer(*resp, why, malformed);
}

// ---- nftables over NETLINK_NETFILTER -------------------------------------------------------

// Asks nf_tables for one object (a table, or a chain in a table). true = exists, false = the
// kernel said ENOENT; an error when the question could not be asked.
Result<bool> nftExists(uint16_t nft_msg, uint8_t family,
                       const std::vector<std::pair<uint16_t, std::string>>& attrs,
                       const std::string& what) {
  auto fd = openNetfilterSocket(what);
  if (!fd) {
    return fail(std::move(fd).error());
  }
  timeval tv{1, 0};
  ::setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  nfgenmsg g{};
  g.nfgen_family = family;
  g.version = NFNETLINK_V0;
  g.res_id = 0;
  netlink::Request req(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | nft_msg),
                       NLM_F_REQUEST | NLM_F_ACK, 1, &g, sizeof(g));
  for (const auto& [type, value] : attrs) {
    req.putString(type, value);
  }
  bool found = false;
  auto answer = netlink::exchange(
      fd->get(), req,
      [&](const nlmsghdr&) {
        found = true;  // NFT_MSG_NEWTABLE / NEWCHAIN: the object
        return netlink::Next::kRead;
      },
      what);
  if (!answer) {
    if (answer.error().sysErrno() == ENOENT) {
      return false;
    }
    return fail(std::move(answer).error());
  }
  return found;
}

}  // namespace

std::string_view toString(ProxyMode mode) {
  switch (mode) {
    case ProxyMode::kIptables:
      return "iptables";
    case ProxyMode::kIpvs:
      return "ipvs";
    case ProxyMode::kNftables:
      return "nftables";
  }
  return "iptables";
}

Result<ProxyMode> parseProxyMode(std::string_view text) {
  for (ProxyMode m : {ProxyMode::kIptables, ProxyMode::kIpvs, ProxyMode::kNftables}) {
    if (text == toString(m)) {
      return m;
    }
  }
  return fail(Errc::kInvalidArgument,
              "invalid kube-proxy mode " + quoted(text) + ": expected iptables, ipvs or nftables");
}

Result<ProxyModeDetection> detectProxyMode(const ProxyModeOptions& options) {
  auto endpoint = parseMetricsAddress(options.metrics_address);
  if (!endpoint) {
    return fail(std::move(endpoint.error()));
  }
  std::vector<std::string> absent;  // why each probe found nothing, for the default's text

  // 1. /proxyMode: authoritative when it answers.
  const std::string where = "kube-proxy /proxyMode at " + endpoint->toString();
  std::string why;
  bool malformed = false;
  auto answer = httpGet(*endpoint, "/proxyMode", options.timeout, &why, &malformed);
  if (malformed) {
    return fail(Errc::kParse, where + ": " + why + "; pass the mode explicitly");
  }
  if (answer) {
    std::string body = trim(answer->body);
    if (answer->status != 200) {
      return fail(Errc::kParse, where + " answered HTTP " + std::to_string(answer->status) +
                                    "; pass the mode explicitly");
    }
    auto mode = parseProxyMode(body);
    if (!mode) {
      if (body.size() > 64) {
        body = body.substr(0, 64) + "...";
      }
      return fail(Errc::kParse, where + " answered '" + body +
                                    "', expected iptables, ipvs or nftables; pass the mode "
                                    "explicitly");
    }
    return ProxyModeDetection{*mode, where + " answered '" + body + "'"};
  }
  absent.push_back(where + ": " + why);

  // 2. kube-ipvs0: ipvs mode holds every ClusterIP on it.
  auto ipvs = observeLink(options.ipvs_link);
  if (ipvs && ipvs->has_value()) {
    std::string kind = (*ipvs)->kind.empty() ? "" : " (kind " + (*ipvs)->kind + ")";
    return ProxyModeDetection{ProxyMode::kIpvs, "link '" + options.ipvs_link + "' exists" + kind};
  }
  absent.push_back(ipvs ? "no link '" + options.ipvs_link + "'" : ipvs.error().message());

  // 3. nftables mode's table.
  auto table = nftExists(NFT_MSG_GETTABLE, kNfprotoIpv4, {{NFTA_TABLE_NAME, "kube-proxy"}},
                         "look up nftables table 'ip kube-proxy'");
  if (table && *table) {
    return ProxyModeDetection{ProxyMode::kNftables, "nftables table 'ip kube-proxy' exists"};
  }
  absent.push_back(table ? "no nftables table 'ip kube-proxy'" : table.error().message());

  // 4. iptables mode's KUBE-SERVICES chain: legacy x_tables first, then iptables-nft's table.
  // Through the rules code's libiptc session (its mutex; an absent nat table is not created).
  auto legacy = legacyChainExists(Family::kV4, "nat", "KUBE-SERVICES");
  if (legacy && *legacy) {
    return ProxyModeDetection{ProxyMode::kIptables,
                              "chain KUBE-SERVICES exists in the legacy iptables nat table"};
  }
  absent.push_back(legacy ? "no chain KUBE-SERVICES in the legacy nat table"
                          : legacy.error().message());
  auto nft_chain = nftExists(NFT_MSG_GETCHAIN, kNfprotoIpv4,
                             {{NFTA_CHAIN_TABLE, "nat"}, {NFTA_CHAIN_NAME, "KUBE-SERVICES"}},
                             "look up nftables chain 'ip nat KUBE-SERVICES'");
  if (nft_chain && *nft_chain) {
    return ProxyModeDetection{ProxyMode::kIptables,
                              "chain KUBE-SERVICES exists in nftables table 'ip nat' "
                              "(iptables-nft)"};
  }
  absent.push_back(nft_chain ? "no chain KUBE-SERVICES in nftables table 'ip nat'"
                             : nft_chain.error().message());

  std::string text = "default: no kube-proxy signal found (";
  for (size_t i = 0; i < absent.size(); ++i) {
    text += (i == 0 ? "" : "; ") + absent[i];
  }
  text += ")";
  return ProxyModeDetection{ProxyMode::kIptables, std::move(text)};
}

}  // namespace nld::netcfg
