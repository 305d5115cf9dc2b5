// guestflow-bench-fill: fills a store with finished onboardings
// (finished_onboarding.h), through the Store interface guestflowd uses, from
// many threads at once (so that SQLite's group commit batches them, as it
// would concurrent StartOnboarding calls). Prints one JSON object: what it
// stored, how long it took, and the names of a sample of the onboardings
// (for the read benchmarks) in --names-out.
//
//   guestflow-bench-fill --sqlite /tmp/x/guestflow.db --count 1000000
//       --names-out /tmp/x/names.txt --names-sample 10000
//   GUESTFLOW_PG_DSN=... guestflow-bench-fill --postgres-dsn-env GUESTFLOW_PG_DSN ...
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "finished_onboarding.h"
#include "nlohmann/json.hpp"
#include "server/store/pg_connection.h"
#include "server/store/pg_store.h"
#include "server/store/sqlite_store.h"

namespace guestflow::bench {
namespace {

struct Options {
  std::string sqlite_path;
  std::string postgres_dsn_env;
  int pg_pool_size = 16;
  int64_t start = 0;
  int64_t count = 10000;
  int threads = 64;
  std::string names_out;
  int64_t names_sample = 10000;
  FillShape shape;
};

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const Options& options) {
  if (!options.sqlite_path.empty()) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options.sqlite_path);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(*std::move(store));
  }
  const char* dsn = std::getenv(options.postgres_dsn_env.c_str());
  if (dsn == nullptr || *dsn == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("environment variable ", options.postgres_dsn_env, " is not set"));
  }
  PgPoolOptions pool_options;
  pool_options.size = options.pg_pool_size;
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(dsn, pool_options);
  if (!pool.ok()) return pool.status();
  absl::StatusOr<std::unique_ptr<PgStore>> store =
      PgStore::Open(std::shared_ptr<PgPool>(*std::move(pool)), "bench-fill");
  if (!store.ok()) return store.status();
  return std::unique_ptr<Store>(*std::move(store));
}

int Run(const Options& options) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenStore(options);
  if (!store.ok()) {
    std::cerr << "guestflow-bench-fill: cannot open the store: " << store.status() << "\n";
    return 1;
  }
  const int64_t end = options.start + options.count;
  const int64_t stride =
      std::max<int64_t>(1, options.count / std::max<int64_t>(1, options.names_sample));
  std::atomic<int64_t> next{options.start};
  absl::Mutex mu;
  std::vector<std::string> names;
  absl::Status failure;
  const absl::Time began = absl::Now();
  std::vector<std::thread> threads;
  for (int t = 0; t < options.threads; ++t) {
    threads.emplace_back([&] {
      while (true) {
        const int64_t n = next.fetch_add(1);
        if (n >= end) return;
        const Onboarding o = FinishedOnboarding(n, options.shape);
        absl::StatusOr<CreateResult> created = (*store)->CreateOnboarding(o, CreatedEvent(o));
        absl::MutexLock lock(&mu);
        if (!created.ok() || !created->created) {
          if (failure.ok()) {
            failure = created.ok() ? absl::AlreadyExistsError(absl::StrCat(
                                         "fill-", n, " is in the store already (--start?)"))
                                   : created.status();
          }
          next.store(end);
          return;
        }
        if ((n - options.start) % stride == 0) names.push_back(absl::StrCat("onboardings/", o.id));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - began);
  if (!failure.ok()) {
    std::cerr << "guestflow-bench-fill: " << failure << "\n";
    return 1;
  }
  if (!options.names_out.empty()) {
    std::ofstream out(options.names_out, std::ios::app);
    for (const std::string& name : names) out << name << "\n";
    if (!out.flush()) {
      std::cerr << "guestflow-bench-fill: cannot write " << options.names_out << "\n";
      return 1;
    }
  }
  nlohmann::json report = {{"stored", options.count},
                           {"from", options.start},
                           {"seconds", seconds},
                           {"per_second", seconds > 0 ? options.count / seconds : 0.0},
                           {"names_written", names.size()}};
  std::cout << report.dump() << std::endl;
  return 0;
}

}  // namespace
}  // namespace guestflow::bench

int main(int argc, char** argv) {
  guestflow::bench::Options options;
  CLI::App app("Fills a guestflow store with finished onboardings (bench/README.md).");
  auto* sqlite =
      app.add_option("--sqlite", options.sqlite_path, "SQLite file (created if missing)");
  auto* pg = app.add_option("--postgres-dsn-env", options.postgres_dsn_env,
                            "environment variable holding a PostgreSQL connection string");
  sqlite->excludes(pg);
  app.add_option("--pg-pool-size", options.pg_pool_size, "PostgreSQL connections")
      ->check(CLI::Range(1, 256));
  app.add_option("--start", options.start, "number of the first onboarding (to extend a fill)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--count", options.count, "onboardings to store")->check(CLI::PositiveNumber);
  app.add_option("--threads", options.threads, "concurrent creates")->check(CLI::Range(1, 1024));
  app.add_option("--names-out", options.names_out,
                 "append the names of a sample of the stored onboardings here");
  app.add_option("--names-sample", options.names_sample, "how many names to write")
      ->check(CLI::PositiveNumber);
  app.add_option("--tenants", options.shape.tenants, "tenants: tenant-0 ...")
      ->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  if (options.sqlite_path.empty() && options.postgres_dsn_env.empty()) {
    std::cerr << "guestflow-bench-fill: give --sqlite FILE or --postgres-dsn-env VAR\n";
    return 2;
  }
  return guestflow::bench::Run(options);
}
