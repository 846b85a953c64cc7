#include "netcfg/rules/iptables/iptc_table.h"

namespace nld::netcfg {

namespace detail {

Error iptcError(int err, std::string_view what, const char* text) {
  Errc code = Error::sys(err, "").code();
  std::string msg(what);
  msg += ": ";
  msg += text != nullptr ? text : "unknown error";
  return Error(code, std::move(msg), err);
}

}  // namespace detail

std::string IptcTable::label() const {
  return std::string(family_ == Family::kV4 ? "iptables" : "ip6tables") + " table '" + table_ + "'";
}

Result<IptcTable> IptcTable::open(Family family, const std::string& table) {
  auto backend = family == Family::kV4 ? detail::openIptc4(table) : detail::openIptc6(table);
  IptcTable t(family, table, nullptr);
  if (!backend) {
    return fail(std::move(backend).error().withContext(t.label()));
  }
  t.backend_ = std::move(*backend);
  return t;
}

Result<ObservedChain> IptcTable::listChain(const std::string& chain) {
  auto r = backend_->listChain(chain);
  if (!r) {
    return fail(std::move(r).error().withContext(label()));
  }
  for (auto& rule : *r) {
    if (rule) {
      rule->family = family_;
      rule->table = table_;
      rule->chain = chain;
    }
  }
  return r;
}

Result<void> IptcTable::insert(const std::string& chain, const Rule& rule, unsigned index) {
  auto r = backend_->insert(chain, rule, index);
  if (!r) {
    return fail(std::move(r).error().withContext(label()));
  }
  dirty_ = true;
  return {};
}

Result<void> IptcTable::erase(const std::string& chain, unsigned index) {
  auto r = backend_->erase(chain, index);
  if (!r) {
    return fail(std::move(r).error().withContext(label()));
  }
  dirty_ = true;
  return {};
}

Result<void> IptcTable::apply(const std::string& chain, const ChainPlan& plan) {
  for (const RuleOp& op : plan.ops) {
    auto r = op.kind == RuleOp::Kind::kInsert ? insert(chain, op.rule, op.index)
                                              : erase(chain, op.index);
    if (!r) {
      return r;
    }
  }
  return {};
}

Result<void> IptcTable::commit() && {
  auto r = backend_->commit();
  if (!r) {
    return fail(std::move(r).error().withContext(label()));
  }
  dirty_ = false;
  return {};
}

}  // namespace nld::netcfg
