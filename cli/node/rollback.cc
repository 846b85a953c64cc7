#include "cli/node/rollback.h"

#include <ctime>

#include "base/strings.h"

namespace nld::cli {

HeldSignals::HeldSignals() {
  sigemptyset(&set_);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) {
    sigaddset(&set_, s);
  }
  ::pthread_sigmask(SIG_BLOCK, &set_, &old_);
}

HeldSignals::~HeldSignals() {
  while (take() != 0) {
  }
  ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

int HeldSignals::take() {
  timespec zero{};
  int s = ::sigtimedwait(&set_, nullptr, &zero);
  return s > 0 ? s : 0;
}

void Rollback::add(std::string what, std::function<Result<void>()> undo) {
  std::string failed = what + " failed: ";
  steps_.push_back({std::move(what), std::move(failed), std::move(undo)});
}

void Rollback::addFinal(std::string what, std::string failed, std::function<Result<void>()> undo) {
  finals_.push_back({std::move(what), std::move(failed), std::move(undo)});
}

void Rollback::dismiss() {
  steps_.clear();
  finals_.clear();
}

std::string Rollback::run() {
  std::vector<std::string> done;
  auto undo = [&](const Step& step) {
    if (auto r = step.undo(); r) {
      done.push_back(step.what);
    } else {
      left_.push_back(step.failed + r.error().message());
    }
  };
  for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
    undo(*it);
  }
  for (const auto& step : finals_) {
    undo(step);
  }
  dismiss();
  std::string out = "; rolled back: " + (done.empty() ? std::string("nothing") : join(done, ", "));
  out += "; left: " + (left_.empty() ? std::string("nothing") : join(left_, ", "));
  return out;
}

}  // namespace nld::cli
