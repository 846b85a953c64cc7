// Building and shrinking messages in caller-provided buffers: synthesized error answers
// (FORMERR/SERVFAIL/REFUSED/NOTIMP/BADVERS), our OPT RR, the query we send upstream, one
// client's copy of an upstream answer, and fitting an answer to the client's UDP size
// (RFC 1035 §4.2.1, RFC 2181 §9, RFC 6891 §6-7, RFC 3225, RFC 7873 §5.3).
//
// Every answer a client gets is its own: its ID, its question bytes (0x20 casing), its RD/CD,
// an OPT RR iff it sent one (our UDP size, its DO bit, no options), never the options of the
// upstream or of another client that shared the exchange.
//
// Functions write only into `out`/`msg`, return the new length, and return 0 when the result does
// not fit or the input is unusable (`out` may then hold partial bytes). noexcept, allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

struct Query;
struct ResponseInfo;

/// Answers `query` with `rcode`: ID, opcode, RD and CD copied; QR and RA set; the question echoed
/// when the query has exactly one readable question; an OPT RR (our UDP size, the client's DO
/// bit, version 0) when the query carries one — even a malformed, duplicated or unsupported-
/// version one (FORMERR, BADVERS: RFC 6891 §6.1.1, §7) — or the rcode needs it (> 15).
/// @return the length written, or 0 if the query has no readable header or `out` is too small.
size_t buildErrorResponse(std::span<const uint8_t> query, Rcode rcode,
                          std::span<uint8_t> out) noexcept;

/// Appends an OPT RR (root owner, `udp_size`, version 0, DO as given, the upper 8 bits of an
/// extended rcode, no options) at `len` and increments ARCOUNT.
/// @return the new length, or 0 if it does not fit.
size_t appendOpt(std::span<uint8_t> msg, size_t len, bool do_bit,
                 uint16_t udp_size = kAdvertisedUdpSize, uint8_t extended_rcode = 0) noexcept;

/// A query of our own (health probes): `id`, `flags` (e.g. flag::kRd), one question `qname`
/// (text as nameFromText() reads it, trailing dot optional) `qtype` `qclass`, no EDNS.
/// @return the length written, or 0 if the name is invalid or `out` is too small.
size_t buildQuery(uint16_t id, uint16_t flags, std::string_view qname, uint16_t qtype,
                  uint16_t qclass, std::span<uint8_t> out) noexcept;

/// The query we send upstream for the validated client query `q` (parsed from `wire`): its ID
/// and opcode, RD, CD and AD bits, its question as sent, and our own OPT RR (our UDP size, the
/// client's DO bit, no options) — whether or not the client sent EDNS. Client options (COOKIE,
/// padding, ECS, ...) and any other records never leave the node.
/// @return the length written, or 0 if `out` is too small.
size_t buildUpstreamQuery(std::span<const uint8_t> wire, const Query& q,
                          std::span<uint8_t> out) noexcept;

/// Longest buildWaiterQuery() result: header, the longest question, an OPT RR.
inline constexpr size_t kWaiterQueryMax = kHeaderSize + kMaxNameLength + 4 + kOptRrSize;

/// What a query waiting for an upstream answer keeps of the validated client query `q` (parsed
/// from `wire`), everything the answer paths read and no more: the header (ID, flags), its one
/// question as sent, and an OPT RR iff it sent one (its UDP size, version and DO bit, no
/// options); no other record. At most kWaiterQueryMax bytes, whatever the query's size (a TCP
/// query may be 65,535 bytes of padding), and parseQuery() accepts it with the same answers.
/// @return the length written, or 0 if `out` is too small.
size_t buildWaiterQuery(std::span<const uint8_t> wire, const Query& q,
                        std::span<uint8_t> out) noexcept;

/// One client's copy of the upstream answer `upstream` (validated: `info` is its
/// inspectResponse()): the client's ID, question bytes, opcode, RD and CD; QR set; AA, TC, RA and
/// the rcode from upstream; AD only when upstream set it and the client asked with DO or AD
/// (RFC 6840 §5.8). The upstream OPT RR is removed (and additional RRs after it: they may only
/// point backwards, so what stays is valid), and the client's own OPT appended iff it sent one.
/// @return the length written, or 0 if the questions differ in length, `out` is too small, or the
///         rcode needs EDNS (> 15) and the client sent none (the caller answers SERVFAIL).
size_t buildClientAnswer(std::span<const uint8_t> upstream, const ResponseInfo& info,
                         const Query& q, std::span<const uint8_t> wire,
                         std::span<uint8_t> out) noexcept;

/// Shrinks the valid response `msg[0, len)` to at most `limit` bytes (RFC 2181 §9, as CoreDNS's
/// dns.Msg.Truncate does for what it keeps):
///  1. drop the additional section (the OPT RR is kept): no TC;
///  2. drop the authority section too, unless it is required — a negative answer (NXDOMAIN, no
///     answer records, or an SOA) or DNSSEC denial proofs (NSEC/NSEC3): no TC;
///  3. otherwise keep as many whole answer records as fit (none of authority/additional) and set
///     TC, so a client that can retry over TCP does, and one that cannot (musl) still gets
///     addresses. Never a shortened message without TC when it lost a required record.
/// The question always stays; if even question + OPT do not fit, the OPT goes too.
/// @return the new length (== len when it already fits), or 0 if the response is malformed or
///         even header + question do not fit.
size_t truncateToFit(std::span<uint8_t> msg, size_t len, size_t limit) noexcept;

}  // namespace nld::resolver::dns
