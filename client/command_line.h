// The `guestflow` command line, parsed into plain structs. main.cc dispatches
// on CommandLine::verb; the commands never see CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "guestflow/v1/onboarding.pb.h"

namespace guestflow::cli {

enum class Verb {
  kOnboard,
  kGet,
  kList,
  kWatch,
  kImport,
  kRetry,
  kCancel,
  kTenants,
  kPlugins,
  kDoctor,
  kCalls,
};

struct GlobalOptions {
  // `host:port` (or any gRPC target) of guestflowd: --server, else
  // $GUESTFLOW_SERVER, else 127.0.0.1:50051.
  std::string server = "127.0.0.1:50051";
  // --json: print response messages as JSON, one object per line.
  bool json = false;
  // --timeout: the deadline of each unary RPC; zero means none.
  absl::Duration timeout = absl::Seconds(30);
  // Whether --timeout was given. Only then does it bound `watch` and
  // `onboard --wait`, which otherwise follow an onboarding for as long as it
  // takes.
  bool timeout_given = false;
  // The transport: TLS unless --plaintext ($GUESTFLOW_PLAINTEXT=1). --tls-ca,
  // --tls-server-name, --tls-cert, --tls-key (else $GUESTFLOW_TLS_CA, ...).
  bool plaintext = false;
  std::string tls_ca;
  std::string tls_server_name;
  std::string tls_cert;
  std::string tls_key;
  // The caller's token: --token-file, else $GUESTFLOW_TOKEN_FILE, else the
  // token itself in $GUESTFLOW_TOKEN (never a flag: `ps` would show it).
  std::string token_file;
};

// The per-guest options shared by `onboard` and `import`. Unset optionals
// leave the choice to the tenant's configuration.
struct GuestOptionFlags {
  std::vector<std::string> roles;               // --role, repeatable
  std::optional<bool> send_invitation_message;  // --send-invitation / --no-send-invitation
  std::string invitation_message;               // --message
  std::optional<bool> update_dynamics_email;    // --update-dynamics-email / --no-...
};

struct OnboardArgs {
  std::string tenant;
  std::string email;
  std::string first_name;
  std::string last_name;
  std::string usage_location;
  std::string display_name;
  GuestOptionFlags options;
  std::string request_id;  // empty: the command generates a UUID v4
  bool validate_only = false;
  bool wait = false;
};

struct ListArgs {
  std::string tenant;
  v1::OnboardingState state = v1::ONBOARDING_STATE_UNSPECIFIED;  // UNSPECIFIED: any
  std::string batch;                                             // normalized `batches/x`
  int32_t limit = 0;                                             // page size; 0: server default
  std::string page_token;
  bool all = false;  // follow next_page_token to the end
};

struct ImportArgs {
  std::string path;  // `-` reads standard input
  std::string tenant;
  std::string request_id;  // empty: the command generates a UUID v4
  // --dry-run (alias --validate-only): validate every row, start nothing.
  bool validate_only = false;
  // --wait: follow the batch until every onboarding it started has ended.
  // Never set together with `validate_only`.
  bool wait = false;
  // --report FILE: write one record per input row there; the parser checks
  // that it ends in .csv or .json. Empty: no report.
  std::string report_path;
  // --usage-location CC: for rows without one.
  std::string usage_location;
  GuestOptionFlags options;
};

struct CommandLine {
  GlobalOptions global;
  Verb verb = Verb::kList;
  OnboardArgs onboard;
  ListArgs list;
  ImportArgs import;
  // `get`, `watch`, `retry`, `cancel`: normalized `onboardings/x`.
  std::string name;
  // `doctor`.
  std::string tenant;
  // `calls`: normalized `onboardings/x` or `tenants/x`.
  std::string parent;
};

struct ParseOutcome {
  // Set when a verb should run; unset when parsing ended the program
  // (--help, --version, or a usage error already printed).
  std::optional<CommandLine> command_line;
  // The exit code when `command_line` is unset: 0 after --help/--version,
  // kExitUsage after a usage error.
  int exit_code = 0;
};

// Parses argv. --help and --version print to `out`; usage errors print
// CLI11's message to `err`. Reads $GUESTFLOW_SERVER. Not thread-safe (getenv).
ParseOutcome ParseCommandLine(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err);

}  // namespace guestflow::cli
