#include "resolver/net/clock.h"

namespace nld::resolver::net {
namespace {

class SystemClock final : public Clock {
 public:
  MonoTime now() const noexcept override { return MonoClock::now(); }
};

}  // namespace

Clock& systemClock() noexcept {
  static SystemClock clock;
  return clock;
}

}  // namespace nld::resolver::net
