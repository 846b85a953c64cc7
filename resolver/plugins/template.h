// The `template` plugin (CoreDNS plugin/template): answers built from Go templates of zone-file
// records for the queries its CLASS, TYPE, ZONES and `match` regexes select. All `template`
// directives of a block form one handler, tried in Corefile order (CoreDNS template.go):
//   - a name under none of their zones goes to the next plugin;
//   - a template whose zone, class or type does not fit is skipped (a query of type or class ANY
//     fits every template); the first whose regex matches answers: `rcode SERVFAIL` is a SERVFAIL,
//     else an authoritative message with that rcode and the templated answer, authority and
//     additional records (a template or record that fails → SERVFAIL);
//   - a fitting template whose regexes all miss: next template under `fallthrough [ZONES]`, else
//     NXDOMAIN (CoreDNS returns the NXDOMAIN code without writing a message, so the client gets
//     no answer at all; we send the NXDOMAIN it names);
//   - no template answered: the next plugin.
// `.Name` is the lower-cased query name, as in CoreDNS; records are written as the template
// says. Record types: A AAAA CNAME NS PTR MX TXT SRV SOA (others → SERVFAIL); names without a
// trailing dot are taken as absolute (miekg/dns NewRR with origin "."), TTL defaults to 3600.
#pragma once

#include <memory>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "resolver/config/config.h"
#include "resolver/config/go_template.h"
#include "resolver/plugins/plugin.h"

namespace nld::resolver::dns {
struct Query;
}

namespace nld::resolver::plugins {

/// Zone-file text of one record ("a.example. 60 IN A 10.0.0.1") appended to `out` as wire.
/// Errors name what did not parse.
Result<void> appendRecordText(std::string_view text, std::vector<uint8_t>& out);

class Templates {
 public:
  static Result<std::shared_ptr<Templates>> create(const std::vector<config::TemplateConfig>& cfg);

  Outcome serve(const dns::Query& q, std::span<const uint8_t> wire, const uint8_t* name_lower,
                size_t name_length, std::span<uint8_t> out) const noexcept;

 private:
  struct Regex {
    std::regex re;
    std::vector<std::string> names;
  };
  struct Compiled {
    const config::TemplateConfig* config = nullptr;
    std::vector<std::vector<uint8_t>> zones, fall_zones;
    std::vector<Regex> regexes;
    std::vector<config::GoTemplate> answer, authority, additional;
  };
  Outcome build(const Compiled& t, const dns::Query& q, std::span<const uint8_t> wire,
                const std::string& name, size_t zone_index, const std::smatch& m, const Regex& re,
                std::span<uint8_t> out) const;

  std::vector<config::TemplateConfig> config_;
  std::vector<Compiled> templates_;
  std::vector<std::vector<uint8_t>> all_zones_;
};

}  // namespace nld::resolver::plugins
