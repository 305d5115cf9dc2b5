// FailingGraph: a stand-in Graph on a loopback port that answers every
// request with one status, an error body and, if given, Retry-After: what a
// throttled or failing Microsoft Graph looks like to a plugin. Header-only
// (cpp-httplib). Serves on its own thread from construction; the destructor
// stops it.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "httplib.h"

namespace guestflow::testing {

class FailingGraph {
 public:
  FailingGraph(int status, const std::string& retry_after,
               const std::string& error_body =
                   R"({"error":{"code":"serviceUnavailable","message":"Service unavailable"}})") {
    auto handler = [this, status, retry_after, error_body](const httplib::Request&,
                                                           httplib::Response& res) {
      ++requests_;
      if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
      res.status = status;
      res.set_content(error_body, "application/json");
    };
    // One request per connection: stopping the server then waits for no
    // idle keep-alive connection.
    server_.set_keep_alive_max_count(1);
    server_.Get(".*", handler);
    server_.Post(".*", handler);
    server_.Patch(".*", handler);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FailingGraph() {
    server_.stop();
    thread_.join();
  }
  FailingGraph(const FailingGraph&) = delete;
  FailingGraph& operator=(const FailingGraph&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

}  // namespace guestflow::testing
