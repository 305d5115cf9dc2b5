// guestflow-bench-echo: serves guestflow.bench.Echo (echo_service.h) in plain
// text until SIGTERM or SIGINT; answers inline on the gRPC thread, or with
// --pool-threads from a worker pool like guestflowd's.
//
// The ServerBuilder is set up as guestflowd's is (server/server.cc,
// GuestflowServer::Start): the default health service, the reflection
// plugin, the same maximum receive size; without guestflowd's own services
// and its metrics interceptor, which are part of what bench/rpc measures.
// Keep the two in step by hand.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "load/echo_payload.h"
#include "load/echo_service.h"

namespace {

// guestflowd's kMaxReceiveBytes.
constexpr int kMaxReceiveBytes = 4 << 20;

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

// CLI11 throws only for mistakes in the option set-up below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  size_t response_bytes = 0;
  int pool_threads = 0;
  CLI::App app{"guestflow-bench-echo: the bare gRPC server of bench/rpc"};
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks one)");
  app.add_option("--port-file", port_file, "write the bound port here once serving");
  app.add_option("--response-bytes", response_bytes,
                 "serialized size of every EchoResponse (not 1)");
  app.add_option("--pool-threads", pool_threads,
                 "answer from a worker pool of this many threads, as guestflowd does (its API "
                 "pool: 4); 0: inline on the gRPC thread")
      ->check(CLI::Range(0, 256));
  CLI11_PARSE(app, argc, argv);
  // As guestflowd does (server/main.cc): Debian's Abseil is built without
  // NDEBUG, and its deadlock detection would cost this server what it does
  // not cost guestflowd.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<guestflow::bench::EchoResponse> response =
      guestflow::bench::SizedEchoResponse(response_bytes);
  if (!response.ok()) {
    std::fprintf(stderr, "guestflow-bench-echo: --response-bytes: %s\n",
                 std::string(response.status().message()).c_str());
    return 64;
  }

  // Signals are taken by sigwait on this thread only: blocked before any
  // thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // guestflowd's API pool queue (server/server.cc kApiQueue).
  constexpr size_t kPoolQueue = 4096;
  std::unique_ptr<guestflow::WorkerPool> pool;
  if (pool_threads > 0) {
    pool = std::make_unique<guestflow::WorkerPool>("echo", pool_threads, kPoolQueue);
  }
  guestflow::bench::EchoService service(*std::move(response), pool.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "guestflow-bench-echo: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  if (!port_file.empty() && !WritePortFile(port_file, port)) {
    std::fprintf(stderr, "guestflow-bench-echo: cannot write %s\n", port_file.c_str());
    return 1;
  }
  std::fprintf(stderr, "guestflow-bench-echo listening on %s:%d, %zu-byte responses, %s\n",
               listen.substr(0, listen.rfind(':')).c_str(), port, response_bytes,
               pool != nullptr ? "answered from a worker pool" : "answered inline");
  int sig = 0;
  sigwait(&signals, &sig);
  server->Shutdown();
  if (pool != nullptr) pool->Shutdown();
  server->Wait();
  return 0;
}
