// Building and shrinking responses in caller-provided buffers: synthesized error answers
// (FORMERR/SERVFAIL/REFUSED/NOTIMP/BADVERS), our OPT RR, and fitting an answer to the client's
// UDP size (RFC 1035 §4.2.1, RFC 6891 §7, users-and-perf item 32).
//
// Functions write only into `out`/`msg`, return the new length, and return 0 when the result does
// not fit or the input is unusable (`out` may then hold partial bytes). noexcept, allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "resolver/dns/types.h"

namespace nld::resolver::dns {

/// Answers `query` with `rcode`: ID, opcode, RD and CD copied; QR and RA set; the question echoed
/// when the query has exactly one readable question; an OPT RR (our UDP size, the client's DO
/// bit) when the query had a valid one or the rcode needs it (BADVERS).
/// @return the length written, or 0 if the query has no readable header or `out` is too small.
size_t buildErrorResponse(std::span<const uint8_t> query, Rcode rcode,
                          std::span<uint8_t> out) noexcept;

/// Appends an OPT RR (root owner, `udp_size`, version 0, DO as given, no options) at `len` and
/// increments ARCOUNT. @return the new length, or 0 if it does not fit.
size_t appendOpt(std::span<uint8_t> msg, size_t len, bool do_bit,
                 uint16_t udp_size = kAdvertisedUdpSize) noexcept;

/// Shrinks the valid response `msg[0, len)` to at most `limit` bytes, in this order: drop the
/// additional section (the OPT RR is kept), then the authority section, then empty the answer and
/// set TC (a client that can retry over TCP will). The question always stays.
/// @return the new length (== len when it already fits), or 0 if the response is malformed or
///         even header + question do not fit.
size_t truncateToFit(std::span<uint8_t> msg, size_t len, size_t limit) noexcept;

}  // namespace nld::resolver::dns
