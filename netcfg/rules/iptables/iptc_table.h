// IptcTable: one read-modify-commit session on one (family, table) through libip4tc/libip6tc.
//
// Internal to nld_netcfg_rules (rules.h is the public face). open() reads the whole table from the
// kernel; listChain() decodes a chain into Rules (foreign entries are std::nullopt); insert() and
// erase() change the in-memory copy; std::move(t).commit() replaces the table in the kernel
// atomically. Destroying the object without commit frees the copy: nothing changes (rollback).
// The caller holds the xtables lock around open..commit. Errors carry iptc_strerror() text,
// captured right after the failing call. Not thread-safe; one session per thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/ip.h"
#include "base/result.h"
#include "netcfg/rules/rule.h"
#include "netcfg/rules/rule_plan.h"

namespace nld::netcfg {

namespace detail {

/// One libiptc back end (IPv4 in iptc4.cc, IPv6 in iptc6.cc: their C headers cannot share a TU).
class IptcBackend {
 public:
  virtual ~IptcBackend() = default;
  virtual Result<ObservedChain> listChain(const std::string& chain) = 0;
  virtual std::vector<std::string> chainNames() = 0;
  virtual Result<void> insert(const std::string& chain, const Rule& rule, unsigned index) = 0;
  virtual Result<void> erase(const std::string& chain, unsigned index) = 0;
  virtual Result<void> commit() = 0;
};

Result<std::unique_ptr<IptcBackend>> openIptc4(const std::string& table);
Result<std::unique_ptr<IptcBackend>> openIptc6(const std::string& table);

/// Error with libiptc's text for `err` (iptc_strerror / ip6tc_strerror) and a code from errno.
Error iptcError(int err, std::string_view what, const char* text);

}  // namespace detail

class IptcTable {
 public:
  /// Reads `table` of `family` ("raw", "filter"). Fails when the table does not exist, the
  /// process lacks CAP_NET_ADMIN/CAP_NET_RAW (kPermissionDenied), or the kernel has no legacy
  /// x_tables.
  static Result<IptcTable> open(Family family, const std::string& table);

  IptcTable(IptcTable&&) noexcept = default;
  IptcTable& operator=(IptcTable&&) noexcept = default;
  ~IptcTable() = default;  // frees without commit = rollback

  Family family() const noexcept { return family_; }
  const std::string& table() const noexcept { return table_; }
  /// True once insert() or erase() changed the in-memory copy.
  bool dirty() const noexcept { return dirty_; }

  /// Every chain of the table, built-in ones first, as iptables-save lists them.
  std::vector<std::string> chainNames() { return backend_->chainNames(); }
  /// The chain's entries top to bottom; rules not of our shape are std::nullopt.
  Result<ObservedChain> listChain(const std::string& chain);
  /// Inserts `rule` at 0-based `index` of `chain` (index == size appends).
  Result<void> insert(const std::string& chain, const Rule& rule, unsigned index);
  /// Deletes the entry at 0-based `index` of `chain`.
  Result<void> erase(const std::string& chain, unsigned index);
  /// Applies a plan's operations in order.
  Result<void> apply(const std::string& chain, const ChainPlan& plan);
  /// Replaces the table in the kernel with the modified copy (one atomic setsockopt).
  Result<void> commit() &&;

 private:
  IptcTable(Family family, std::string table, std::unique_ptr<detail::IptcBackend> backend)
      : family_(family), table_(std::move(table)), backend_(std::move(backend)) {}

  std::string label() const;

  Family family_;
  std::string table_;
  std::unique_ptr<detail::IptcBackend> backend_;
  bool dirty_ = false;
};

}  // namespace nld::netcfg
