// guestflow-emulator: parses flags, loads the fixture, serves until SIGTERM or
// SIGINT.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "emulator/emulator_server.h"
#include "emulator/fixture.h"

// CLI11 throws only for mistakes in the option set-up below.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  std::string fixture_path;
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  int threads = 64;
  CLI::App app{
      "guestflow-emulator: a local stand-in for Entra ID, Microsoft Graph, the Power "
      "Platform admin API and Dataverse"};
  app.add_option("--fixture", fixture_path, "YAML fixture with tenants, SKUs, roles, knobs")
      ->required();
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks one)");
  app.add_option("--port-file", port_file, "write the bound port here once listening");
  app.add_option("--threads", threads, "request threads")->check(CLI::Range(1, 1024));
  CLI11_PARSE(app, argc, argv);

  auto fixture = guestflow::emulator::LoadFixtureFile(fixture_path);
  if (!fixture.ok()) {
    std::fprintf(stderr, "guestflow-emulator: %s\n",
                 std::string(fixture.status().message()).c_str());
    return 1;
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "guestflow-emulator: --listen wants HOST:PORT, got %s\n", listen.c_str());
    return 64;
  }
  const std::string host = listen.substr(0, colon);
  const int port = std::atoi(listen.c_str() + colon + 1);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = guestflow::emulator::EmulatorServer::Create(*std::move(fixture), threads);
  auto bound = server->Bind(host, port);
  if (!bound.ok()) {
    std::fprintf(stderr, "guestflow-emulator: %s\n", std::string(bound.status().message()).c_str());
    return 1;
  }
  std::thread serving([&] { server->Run(); });
  if (!port_file.empty()) {
    const std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << *bound << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::fprintf(stderr, "guestflow-emulator listening on http://%s:%d\n", host.c_str(), *bound);
  int sig = 0;
  sigwait(&signals, &sig);
  server->Stop();
  serving.join();
  return 0;
}
