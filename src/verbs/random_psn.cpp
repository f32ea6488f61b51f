#include "verbs/random_psn.h"

#include <sys/random.h>

#include <cerrno>
#include <random>

namespace ibcm::verbs {

uint32_t random_psn() {
  uint32_t v = 0;
  ssize_t n;
  do {
    n = ::getrandom(&v, sizeof v, 0);
  } while (n < 0 && errno == EINTR);
  // getrandom only fails on kernels before 3.17 (ENOSYS); fall back to the C++ device there.
  if (n != static_cast<ssize_t>(sizeof v)) v = std::random_device{}();
  return v & 0xFFFFFF;
}

}  // namespace ibcm::verbs
