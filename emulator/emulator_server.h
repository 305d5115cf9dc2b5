// EmulatorServer: a local stand-in for login.microsoftonline.com, Microsoft
// Graph, the Power Platform admin API and Dataverse, over real HTTP on
// loopback, seeded from a fixture.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "emulator/cloud_state.h"
#include "emulator/fixture.h"
#include "emulator/journal.h"
#include "emulator/routes.h"
#include "emulator/traffic_policy.h"
#include "httplib.h"

namespace guestflow::emulator {

// Lifecycle: Create, Bind, Run (blocks until Stop from another thread).
// Thread-safe otherwise.
class EmulatorServer {
 public:
  static std::unique_ptr<EmulatorServer> Create(Fixture fixture, int threads = 64);

  // Binds host:port (port 0 picks one); returns the port or an error.
  absl::StatusOr<int> Bind(const std::string& host, int port);
  // Serves until Stop().
  void Run();
  void Stop();

  CloudState& state() { return state_; }
  Journal& journal() { return journal_; }

 private:
  EmulatorServer() = default;
  void Install(int threads);

  CloudState state_;
  Journal journal_;
  EmulatorContext ctx_;
  std::unique_ptr<TrafficPolicy> traffic_;
  httplib::Server server_;
};

}  // namespace guestflow::emulator
