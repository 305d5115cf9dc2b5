// HardenProcess, checked in a child process (it cannot be undone in this
// one): afterwards the process cannot dump core and is not dumpable.
#include "server/common/process_hardening.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace guestflow {
namespace {

TEST(HardenProcessTest, TheProcessIsNotDumpableAndWritesNoCore) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1) << "the test runner starts dumpable";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!HardenProcess().ok()) _exit(10);
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(11);
    rlimit core{};
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) _exit(12);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: failed, 11: still dumpable, 12: core limit not 0";
}

}  // namespace
}  // namespace guestflow
