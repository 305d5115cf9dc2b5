// What guestflowd does to itself before it reads a secret: no core dumps
// (they would hold client secrets and tokens) and no ptrace attach by other
// processes of the same user (PR_SET_DUMPABLE 0 also forbids that).
#pragma once

#include "absl/status/status.h"

namespace guestflow {

// prctl(PR_SET_DUMPABLE, 0) and RLIMIT_CORE 0. INTERNAL (with errno's text)
// if either fails.
absl::Status HardenProcess();

}  // namespace guestflow
