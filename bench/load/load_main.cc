// guestflow-bench-load: parses flags into LoadOptions and a CallKind, runs the
// load (load_runner.h) and prints one JSON object on stdout (load_report.h).
// Exit status: 0 when the run completed, whatever its calls answered; 1 when
// it could not run (no connection, an ack file that cannot be written); 64
// for a usage error.
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "load/call_kind.h"
#include "load/load_report.h"
#include "load/load_runner.h"

namespace {

constexpr int kExitBroken = 1;
constexpr int kExitUsage = 64;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "guestflow-bench-load: %s\n", std::string(status.message()).c_str());
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitBroken;
}

}  // namespace

// CLI11 throws only for mistakes in the option set-up below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  guestflow::bench::LoadOptions options;
  std::string call;
  double duration_s = 10;
  double warmup_s = 0;
  double deadline_s = 10;
  std::string names_file;
  uint64_t seed = 1;
  int page_size = 0;
  std::string tenant;
  size_t request_bytes = 0;
  int64_t response_bytes = -1;
  std::string ack_file;

  CLI::App app{
      "guestflow-bench-load: a closed-loop gRPC load generator for guestflowd and "
      "guestflow-bench-echo (bench/README.md)"};
  app.add_option("--target", options.target, "HOST:PORT of the server (plain text)")->required();
  app.add_option("--token", options.token,
                 "sent as `authorization: Bearer TOKEN` on every call (any server)");
  app.add_option("--connections", options.connections, "channels, one connection each")
      ->check(CLI::Range(1, 1024));
  app.add_option("--concurrency", options.concurrency, "calls outstanding in total")
      ->check(CLI::Range(1, 100000));
  app.add_option("--threads", options.threads, "threads, each with its completion queue")
      ->check(CLI::Range(1, 256));
  CLI::Option* duration =
      app.add_option("--duration", duration_s, "seconds measured")->check(CLI::PositiveNumber);
  app.add_option("--requests", options.requests, "measure this many calls instead of --duration")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->excludes(duration);
  app.add_option("--warmup", warmup_s, "seconds of calls before measuring (not counted)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--deadline", deadline_s, "each call's deadline, seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--call", call, "get, list, echo or start")
      ->required()
      ->check(CLI::IsMember({"get", "list", "echo", "start"}));
  app.add_option("--names-file", names_file, "get: onboarding names, one a line");
  app.add_option("--seed", seed, "get: the seed of the names' order");
  app.add_option("--page-size", page_size, "list: page_size (0: the server's default)");
  app.add_option("--tenant", tenant, "list: only this tenant; start: the tenant (required)");
  app.add_option("--request-bytes", request_bytes, "echo: serialized request size");
  app.add_option("--response-bytes", response_bytes,
                 "get, echo: the serialized response size to expect (checked; -1: any)");
  std::string check = "parse";
  app.add_option("--check", check,
                 "get, echo: parse each answer (parse), or only compare its size with "
                 "--response-bytes (size: the client's work is then the same whatever the method)")
      ->check(CLI::IsMember({"parse", "size"}));
  app.add_option("--ack-file", ack_file,
                 "start: append each onboarding answered OK here, one name a line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  options.duration = absl::Seconds(duration_s);
  options.warmup = absl::Seconds(warmup_s);
  options.deadline = absl::Seconds(deadline_s);

  absl::StatusOr<std::unique_ptr<guestflow::bench::CallKind>> kind;
  if (call == "get") {
    if (names_file.empty()) {
      return Fail(absl::InvalidArgumentError("--call get needs --names-file"));
    }
    kind = guestflow::bench::NewGetCall(names_file, seed, check == "size", response_bytes);
  } else if (call == "list") {
    kind = guestflow::bench::NewListCall(page_size, tenant);
  } else if (call == "echo") {
    kind = guestflow::bench::NewEchoCall(request_bytes, response_bytes, check == "size");
  } else {
    kind = guestflow::bench::NewStartCall(tenant, ack_file);
  }
  if (!kind.ok()) return Fail(kind.status());

  absl::StatusOr<guestflow::bench::LoadResult> result =
      guestflow::bench::RunLoad(options, kind->get());
  // Acks are flushed before the result is printed, and also when the run
  // itself failed: what the server answered OK stays acked.
  const absl::Status finished = (*kind)->Finish();
  if (!result.ok()) return Fail(result.status());
  if (!finished.ok()) return Fail(finished);
  std::cout << guestflow::bench::LoadReport(call, (*kind)->method(), options, *result, CpuSeconds())
                   .dump()
            << std::endl;
  return 0;
}
