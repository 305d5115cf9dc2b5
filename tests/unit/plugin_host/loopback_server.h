// A cpp-httplib server on 127.0.0.1, on a port the kernel picks, for HTTP
// client tests. Register handlers on server() before Start().
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "httplib.h"

namespace guestflow {

class LoopbackServer {
 public:
  LoopbackServer() = default;
  ~LoopbackServer() { Stop(); }

  httplib::Server& server() { return server_; }

  // Binds 127.0.0.1:0 and serves on a thread. Returns false when it cannot.
  bool Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) return false;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return server_.is_running();
  }

  void Stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  int port() const { return port_; }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace guestflow
