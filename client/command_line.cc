#include "client/command_line.h"

#include <cstdlib>
#include <functional>
#include <utility>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/batch_report.h"
#include "client/duration_text.h"
#include "client/exit_codes.h"
#include "client/names.h"

#ifndef GUESTFLOW_VERSION
#define GUESTFLOW_VERSION "0.0.0"
#endif

namespace guestflow::cli {
namespace {

constexpr char kDefaultServer[] = "127.0.0.1:50051";

constexpr char kMainFooter[] = R"(Examples:
  guestflow onboard --tenant contoso --email ada@example.com --first-name Ada \
      --last-name Lovelace --usage-location GB --role Salesperson --wait
  guestflow get 7f3c2a                      (same as: guestflow get onboardings/7f3c2a)
  guestflow list --tenant contoso --state failed --all
  guestflow watch 7f3c2a
  guestflow import guests.csv --tenant contoso
  guestflow retry 7f3c2a
  guestflow cancel 7f3c2a
  guestflow tenants
  guestflow plugins --json
  guestflow doctor contoso
  guestflow calls 7f3c2a                    (or: guestflow calls tenants/contoso)

Connection and credentials (docs/security.md):
  --plaintext            no TLS: for a guestflowd with server.plaintext (loopback)
  --tls-ca FILE          the CAs of the server's certificate (default: the system's)
  --tls-server-name NAME the name the server's certificate carries (default: the host)
  --tls-cert FILE --tls-key FILE   a client certificate, for callers known by one
  --token-file FILE      the caller's bearer token (a file only you may read)

Environment:
  GUESTFLOW_SERVER      the default of --server (127.0.0.1:50051 when unset)
  GUESTFLOW_PLAINTEXT   1 or true: the default of --plaintext
  GUESTFLOW_TLS_CA, GUESTFLOW_TLS_SERVER_NAME, GUESTFLOW_TLS_CERT, GUESTFLOW_TLS_KEY,
  GUESTFLOW_TOKEN_FILE  the defaults of the flags above
  GUESTFLOW_TOKEN       the token itself, when no token file is given

Exit codes:
  0   success
  1   an RPC failed (stderr: "error: CODE: message"), the server could not be
      reached, or a local file could not be read
  2   the server answered but the outcome is not a success: the onboarding
      ended FAILED or CANCELLED (watch, onboard --wait), a doctor check failed,
      an import refused a row or one of its onboardings ended FAILED or
      CANCELLED
  64  usage error (bad or missing arguments)

--json prints every response message in the proto3 JSON mapping, one object
per line (streams print one line per message). Times are UTC, ISO 8601.)";

// CLI11 validators that also rewrite the value, so the structs hold the
// canonical form and the commands never parse text again.
CLI::Validator Normalized(std::function<absl::StatusOr<std::string>(absl::string_view)> normalize) {
  return CLI::Validator(
      [normalize = std::move(normalize)](std::string& value) -> std::string {
        absl::StatusOr<std::string> name = normalize(value);
        if (!name.ok()) return std::string(name.status().message());
        value = *std::move(name);
        return "";
      },
      "");
}

CLI::Validator ResourceName(const std::string& collection) {
  return Normalized(
      [collection](absl::string_view text) { return NormalizeResourceName(collection, text); });
}

CLI::Validator StateWord() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::StatusOr<v1::OnboardingState> state = ParseOnboardingState(value);
        if (!state.ok()) return std::string(state.status().message());
        value = v1::OnboardingState_Name(*state);
        return "";
      },
      "");
}

CLI::Validator DurationText() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::StatusOr<absl::Duration> duration = ParseDurationText(value);
        return duration.ok() ? "" : std::string(duration.status().message());
      },
      "");
}

CLI::Validator NotBlank() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return absl::StripAsciiWhitespace(value).empty() ? "must not be empty" : "";
      },
      "");
}

CLI::Validator ReportPath() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::StatusOr<ReportFormat> format = ReportFormatForPath(value);
        return format.ok() ? "" : std::string(format.status().message());
      },
      "");
}

// The yes/no flags whose absence means "the tenant's default".
class TriStateFlag {
 public:
  TriStateFlag(CLI::App* app, const std::string& name, const std::string& yes_help,
               const std::string& no_help) {
    yes_ = app->add_flag("--" + name, yes_value_, yes_help);
    no_ = app->add_flag("--no-" + name, no_value_, no_help);
    yes_->excludes(no_);
  }
  std::optional<bool> value() const {
    if (yes_value_) return true;
    if (no_value_) return false;
    return std::nullopt;
  }

 private:
  bool yes_value_ = false;
  bool no_value_ = false;
  CLI::Option* yes_ = nullptr;
  CLI::Option* no_ = nullptr;
};

struct GuestOptionBindings {
  std::unique_ptr<TriStateFlag> send_invitation;
  std::unique_ptr<TriStateFlag> update_dynamics_email;
};

GuestOptionBindings AddGuestOptionFlags(CLI::App* app, GuestOptionFlags* flags) {
  app->add_option("--role", flags->roles,
                  "Dynamics security role to assign, repeatable (default: the tenant's roles)")
      ->type_name("ROLE")
      ->allow_extra_args(false);
  GuestOptionBindings bindings;
  bindings.send_invitation = std::make_unique<TriStateFlag>(
      app, "send-invitation", "Have Microsoft send its invitation email",
      "Do not have Microsoft send its invitation email (default: the tenant's choice)");
  app->add_option("--message", flags->invitation_message,
                  "Text added to Microsoft's invitation email")
      ->type_name("TEXT");
  bindings.update_dynamics_email = std::make_unique<TriStateFlag>(
      app, "update-dynamics-email",
      "Also write the email to the Dynamics user (instances before 9.0)",
      "Do not write the email to the Dynamics user (default: the tenant's choice)");
  return bindings;
}

void ReadGuestOptionBindings(const GuestOptionBindings& bindings, GuestOptionFlags* flags) {
  flags->send_invitation_message = bindings.send_invitation->value();
  flags->update_dynamics_email = bindings.update_dynamics_email->value();
}

CLI::App* AddVerb(CLI::App& app, const std::string& name, const std::string& description,
                  const std::string& footer) {
  CLI::App* verb = app.add_subcommand(name, description);
  verb->footer(footer +
               "\n\nGlobal options, before or after the verb: --server HOST:PORT, --json, "
               "--timeout DURATION, --plaintext, --tls-*, --token-file FILE\n(see guestflow "
               "--help, which also lists the exit codes).");
  return verb;
}

}  // namespace

ParseOutcome ParseCommandLine(int argc, const char* const* argv, std::ostream& out,
                              std::ostream& err) {
  CommandLine line;
  const char* env_server = std::getenv("GUESTFLOW_SERVER");
  line.global.server = (env_server != nullptr && *env_server != '\0') ? env_server : kDefaultServer;
  const auto env = [](const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
  };
  const std::string env_plaintext = env("GUESTFLOW_PLAINTEXT");
  line.global.plaintext = env_plaintext == "1" || env_plaintext == "true";
  line.global.tls_ca = env("GUESTFLOW_TLS_CA");
  line.global.tls_server_name = env("GUESTFLOW_TLS_SERVER_NAME");
  line.global.tls_cert = env("GUESTFLOW_TLS_CERT");
  line.global.tls_key = env("GUESTFLOW_TLS_KEY");
  line.global.token_file = env("GUESTFLOW_TOKEN_FILE");

  CLI::App app("guestflow: onboard B2B guest users into Dynamics 365 through guestflowd.",
               "guestflow");
  app.footer(kMainFooter);
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the verb: `guestflow list --json`
  app.set_version_flag("--version", std::string("guestflow ") + GUESTFLOW_VERSION);

  app.add_option("--server", line.global.server,
                 "guestflowd address HOST:PORT (default: $GUESTFLOW_SERVER, else " +
                     std::string(kDefaultServer) + ")")
      ->type_name("HOST:PORT")
      ->check(NotBlank());
  app.add_flag("--json", line.global.json,
               "Print the response message(s) as JSON, one object per line");
  app.add_flag("--plaintext", line.global.plaintext,
               "No TLS (a guestflowd with server.plaintext, on loopback); default: "
               "$GUESTFLOW_PLAINTEXT");
  app.add_option("--tls-ca", line.global.tls_ca,
                 "PEM file of the CAs that sign the server's certificate (default: "
                 "$GUESTFLOW_TLS_CA, else the system's)")
      ->type_name("FILE");
  app.add_option("--tls-server-name", line.global.tls_server_name,
                 "The name the server's certificate must carry (default: the host of --server)")
      ->type_name("NAME");
  app.add_option("--tls-cert", line.global.tls_cert,
                 "PEM client certificate, for a caller known by certificate")
      ->type_name("FILE");
  app.add_option("--tls-key", line.global.tls_key, "PEM key of --tls-cert")->type_name("FILE");
  app.add_option("--token-file", line.global.token_file,
                 "File holding the caller's bearer token (default: $GUESTFLOW_TOKEN_FILE, else "
                 "the token in $GUESTFLOW_TOKEN)")
      ->type_name("FILE");
  std::string timeout_text = "30s";
  CLI::Option* timeout_option =
      app.add_option("--timeout", timeout_text,
                     "Deadline of each RPC, e.g. 30s, 2m, 0 for none (default 30s; bounds "
                     "watch, onboard --wait and import --wait only when given)")
          ->type_name("DURATION")
          ->check(DurationText());

  std::vector<std::pair<CLI::App*, Verb>> verbs;

  // onboard
  CLI::App* onboard =
      AddVerb(app, "onboard", "Start onboarding a guest; print its name and state",
              "Example:\n"
              "  guestflow onboard --tenant contoso --email ada@example.com --first-name Ada \\\n"
              "      --last-name Lovelace --usage-location GB --role Salesperson --wait\n\n"
              "Without --request-id a random UUID is sent, so the CLI's own retries never\n"
              "start a second onboarding. With --wait the exit code is that of `watch`.");
  verbs.emplace_back(onboard, Verb::kOnboard);
  OnboardArgs& ob = line.onboard;
  onboard->add_option("--tenant", ob.tenant, "Tenant id from the server configuration")
      ->required()
      ->check(NotBlank());
  onboard->add_option("--email", ob.email, "The guest's email address")->required();
  onboard->add_option("--first-name", ob.first_name, "The guest's first name")->required();
  onboard->add_option("--last-name", ob.last_name, "The guest's last name")->required();
  onboard
      ->add_option("--usage-location", ob.usage_location,
                   "ISO 3166-1 alpha-2 country code, e.g. GB, US (not UK)")
      ->required()
      ->type_name("CC");
  onboard->add_option("--display-name", ob.display_name, "Display name (default: \"FIRST LAST\")");
  const GuestOptionBindings onboard_bindings = AddGuestOptionFlags(onboard, &ob.options);
  onboard->add_option("--request-id", ob.request_id, "Idempotency key (default: a random UUID v4)")
      ->type_name("ID");
  CLI::Option* validate_only = onboard->add_flag(
      "--validate-only", ob.validate_only, "Validate the request on the server; store nothing");
  onboard->add_flag("--wait", ob.wait, "Follow the onboarding to its end, like `watch`")
      ->excludes(validate_only);

  // get
  CLI::App* get =
      AddVerb(app, "get", "Show an onboarding: state, error, times, steps and their outputs",
              "Example:\n  guestflow get 7f3c2a\n  guestflow get onboardings/7f3c2a --json");
  verbs.emplace_back(get, Verb::kGet);
  get->add_option("name", line.name, "onboardings/ID or ID")
      ->type_name("NAME")
      ->required()
      ->transform(ResourceName("onboardings"));

  // list
  CLI::App* list = AddVerb(app, "list", "List onboardings, newest first",
                           "Example:\n  guestflow list --tenant contoso --state failed --all\n"
                           "  guestflow list --limit 20 --page-token TOKEN");
  verbs.emplace_back(list, Verb::kList);
  ListArgs& la = line.list;
  list->add_option("--tenant", la.tenant, "Only this tenant's onboardings");
  std::string state_text;
  list->add_option("--state", state_text,
                   "Only onboardings in this state: " + OnboardingStateWords())
      ->type_name("STATE")
      ->transform(StateWord());
  list->add_option("--batch", la.batch, "Only onboardings of this batch (batches/ID or ID)")
      ->type_name("BATCH")
      ->transform(ResourceName("batches"));
  list->add_option("--limit", la.limit, "At most N per page (server default 50, at most 1000)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000));
  CLI::Option* page_token =
      list->add_option("--page-token", la.page_token, "Continue from a previous page")
          ->type_name("TOKEN");
  list->add_flag("--all", la.all, "Follow every page to the end")->excludes(page_token);

  // watch
  CLI::App* watch =
      AddVerb(app, "watch", "Print an onboarding's events as they happen, until it ends",
              "Example:\n  guestflow watch 7f3c2a\n\n"
              "Exit code: 0 if the onboarding SUCCEEDED, 2 if it ended FAILED or CANCELLED,\n"
              "1 on an RPC error. No deadline unless --timeout is given.");
  verbs.emplace_back(watch, Verb::kWatch);
  watch->add_option("name", line.name, "onboardings/ID or ID")
      ->type_name("NAME")
      ->required()
      ->transform(ResourceName("onboardings"));

  // import
  CLI::App* import = AddVerb(
      app, "import", "Onboard every row of a CSV file (Microsoft bulk-invite columns)",
      "Examples:\n"
      "  guestflow import guests.csv --tenant contoso\n"
      "  guestflow import - --tenant contoso < guests.csv    # standard input\n"
      "  guestflow import guests.csv --tenant contoso --dry-run\n"
      "      # check every row, start nothing; exit 2 if one is refused\n"
      "  guestflow import guests.csv --tenant contoso --wait\n"
      "      # follow the batch to its end with a progress bar\n"
      "  guestflow import guests.csv --tenant contoso --wait --report result.csv\n"
      "      # then write every row's outcome to result.csv\n"
      "  guestflow import guests.csv --tenant contoso --dry-run --report refused.json\n"
      "  guestflow import guests.csv --tenant contoso --request-id march-guests\n"
      "      # re-running this after a failure starts no row twice\n"
      "  guestflow import guests.csv --tenant contoso --role Salesperson --no-send-invitation\n"
      "  guestflow --json --timeout 2h import guests.csv --tenant contoso --wait\n"
      "      # only the final batch as JSON; give up after 2 hours\n\n"
      "Columns (header names case-insensitive): Name, InvitedUserEmailAddress or\n"
      "inviteeEmail, inviteRedirectURL, sendEmail, customizedMessageBody, FirstName,\n"
      "LastName, UsageLocation, Roles, Tenant.\n\n"
      "Refused rows are printed as `line N  email  reason` (at most 20 on a terminal;\n"
      "--report has them all). --wait draws a progress bar on a terminal, prints a line\n"
      "at most every 2 s otherwise, and with --json prints only the final batch. A\n"
      "broken watch is re-opened with back-off (1 s doubling to 30 s) until --timeout\n"
      "runs out; without --timeout it gives up after 10 attempts in a row that bring no\n"
      "progress.\n\n"
      "--report FILE.csv|FILE.json: one record per input row (line, email, state,\n"
      "onboarding, failed_step, reason), written after the import (after --wait if given)\n"
      "to FILE.tmp, then renamed to FILE. CSV per RFC 4180 with a header row; cells that\n"
      "start with = + - @ are prefixed with ' so spreadsheets do not run them. With\n"
      "--dry-run the report holds the refused rows only.\n\n"
      "Exit code: 0 when no row was refused and (with --wait) every onboarding\n"
      "SUCCEEDED; 2 when a row was refused (also in a dry run) or an onboarding ended\n"
      "FAILED or CANCELLED; 1 on an RPC error, an unreadable file or a report that\n"
      "could not be written.");
  verbs.emplace_back(import, Verb::kImport);
  ImportArgs& ia = line.import;
  import->add_option("file", ia.path, "CSV file, or - for standard input")
      ->required()
      ->type_name("FILE.csv");
  import->add_option("--tenant", ia.tenant, "Tenant of the rows that have no Tenant column")
      ->required()
      ->check(NotBlank());
  import
      ->add_option("--request-id", ia.request_id,
                   "Idempotency key: re-sending the file with it starts nothing twice "
                   "(default: a random UUID v4)")
      ->type_name("ID");
  CLI::Option* dry_run = import->add_flag(
      "--dry-run,--validate-only", ia.validate_only,
      "Validate every row and print the verdict; start nothing (exit 2 if a row is refused)");
  import
      ->add_flag("--wait", ia.wait,
                 "Follow the batch until every onboarding has ended, showing progress")
      ->excludes(dry_run);
  import
      ->add_option("--report", ia.report_path, "Write every row's outcome to FILE (.csv or .json)")
      ->type_name("FILE")
      ->check(ReportPath());
  import
      ->add_option("--usage-location", ia.usage_location,
                   "Usage location (ISO 3166-1 alpha-2, e.g. GB) of rows without one, or of\n"
                   "every row of a file with no UsageLocation column (Microsoft's sample)")
      ->type_name("CC");
  const GuestOptionBindings import_bindings = AddGuestOptionFlags(import, &ia.options);

  // retry, cancel
  CLI::App* retry = AddVerb(app, "retry", "Resume a FAILED or CANCELLED onboarding",
                            "Example:\n  guestflow retry 7f3c2a");
  verbs.emplace_back(retry, Verb::kRetry);
  CLI::App* cancel = AddVerb(app, "cancel", "Cancel an onboarding that has not finished",
                             "Example:\n  guestflow cancel 7f3c2a");
  verbs.emplace_back(cancel, Verb::kCancel);
  for (CLI::App* verb : {retry, cancel}) {
    verb->add_option("name", line.name, "onboardings/ID or ID")
        ->type_name("NAME")
        ->required()
        ->transform(ResourceName("onboardings"));
  }

  // tenants, plugins, doctor
  verbs.emplace_back(
      AddVerb(app, "tenants", "List the configured tenants", "Example:\n  guestflow tenants"),
      Verb::kTenants);
  verbs.emplace_back(
      AddVerb(app, "plugins", "List the loaded plugin libraries", "Example:\n  guestflow plugins"),
      Verb::kPlugins);
  CLI::App* doctor = AddVerb(app, "doctor", "Check a tenant's setup; exit 0 only if all is well",
                             "Example:\n  guestflow doctor contoso");
  verbs.emplace_back(doctor, Verb::kDoctor);
  doctor->add_option("tenant", line.tenant, "Tenant id")
      ->type_name("TENANT")
      ->required()
      ->check(NotBlank());

  // calls
  CLI::App* calls =
      AddVerb(app, "calls", "List the calls with side effects sent to the cloud, oldest first",
              "Examples:\n  guestflow calls 7f3c2a\n  guestflow calls tenants/contoso --json\n\n"
              "The audit trail of an onboarding or of a whole tenant: every call with a side\n"
              "effect that a step sent (reads are not kept), with its HTTP status (or the\n"
              "transport error when no answer came) and the cloud's request id to quote to\n"
              "Microsoft support. A tenant's calls also name their onboarding. Every page is\n"
              "fetched; --json prints one ListCloudCallsResponse holding them all.\n\n"
              "Exit code: 0, even when there are no calls; 1 on an RPC error (NOT_FOUND for\n"
              "an unknown onboarding); 64 for a PARENT of another form.");
  verbs.emplace_back(calls, Verb::kCalls);
  calls->add_option("parent", line.parent, "onboardings/ID, ID or tenants/TENANT")
      ->type_name("PARENT")
      ->required()
      ->transform(Normalized(NormalizeCloudCallParent));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return ParseOutcome{std::nullopt, code == 0 ? kExitOk : kExitUsage};
  }

  for (const auto& [verb_app, verb] : verbs) {
    if (verb_app->parsed()) line.verb = verb;
  }
  // The validators above accepted these texts, so parsing them again cannot
  // fail.
  line.global.timeout = ParseDurationText(timeout_text).value();
  line.global.timeout_given = timeout_option->count() > 0;
  if (!state_text.empty()) la.state = ParseOnboardingState(state_text).value();
  ReadGuestOptionBindings(onboard_bindings, &ob.options);
  ReadGuestOptionBindings(import_bindings, &ia.options);
  return ParseOutcome{std::move(line), kExitOk};
}

}  // namespace guestflow::cli
