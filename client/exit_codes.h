// The exit codes of the `guestflow` command, as `guestflow --help` documents
// them. Scripts rely on them: change them only with a major version.
#pragma once

namespace guestflow::cli {

// The command did what was asked, and the outcome is a success.
inline constexpr int kExitOk = 0;
// An RPC failed (the server's code and message are on stderr), the server
// could not be reached, or a local file could not be read.
inline constexpr int kExitError = 1;
// The server answered, but the outcome is not a success: the onboarding ended
// FAILED or CANCELLED (`watch`, `onboard --wait`), or a `doctor` check failed.
inline constexpr int kExitNotSucceeded = 2;
// The command line is wrong (EX_USAGE from <sysexits.h>).
inline constexpr int kExitUsage = 64;

}  // namespace guestflow::cli
