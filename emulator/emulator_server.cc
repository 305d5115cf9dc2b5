#include "emulator/emulator_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/http_util.h"

namespace guestflow::emulator {
namespace {

constexpr size_t kJournalBodyBytes = 4096;

// Per-request facts the journal needs; same thread as the handler.
thread_local absl::Time t_request_start;
thread_local std::string t_service;

std::string RedactTokenRequest(std::string body) {
  // client_secret=...& -> client_secret=[REDACTED]&
  const std::string key = "client_secret=";
  size_t pos = body.find(key);
  if (pos == std::string::npos) return body;
  size_t end = body.find('&', pos);
  body.replace(pos + key.size(), (end == std::string::npos ? body.size() : end) - pos - key.size(),
               "[REDACTED]");
  return body;
}

}  // namespace

std::unique_ptr<EmulatorServer> EmulatorServer::Create(Fixture fixture, int threads) {
  std::unique_ptr<EmulatorServer> s(new EmulatorServer());
  s->state_.Locked([&](CloudState& st) {
    st.tenants = std::move(fixture.tenants);
    st.knobs = fixture.knobs;
    return 0;
  });
  s->Install(threads);
  return s;
}

void EmulatorServer::Install(int threads) {
  ctx_.state = &state_;
  ctx_.journal = &journal_;
  traffic_ = std::make_unique<TrafficPolicy>(&state_);
  server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_.set_keep_alive_max_count(1000);
  // Without it, an answer written in two segments on a kept-alive connection
  // waits for the client's delayed ACK (about 40 ms) under Nagle's algorithm.
  server_.set_tcp_nodelay(true);
  // Idle kept-alive connections hold a worker and delay stop(); clients
  // reconnect cheaply on loopback.
  server_.set_keep_alive_timeout(2);

  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request_start = absl::Now();
    t_service = ServiceOf(req.path);
    const std::string id = NewGuid();
    SetCurrentRequestId(id);
    res.set_header("request-id", id);
    res.set_header("client-request-id", id);
    if (t_service == "control" || t_service.empty()) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    return traffic_->Before(req, res, t_service) ? httplib::Server::HandlerResponse::Handled
                                                 : httplib::Server::HandlerResponse::Unhandled;
  });

  // Journal from the post-routing hook, which runs before the answer is
  // written: a client that has its answer can already read the entry.
  server_.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (t_service == "control") return;
    JournalEntry e;
    e.time = t_request_start;
    e.service = t_service;
    e.method = req.method;
    e.path = req.target.empty() ? req.path : req.target;
    e.body = t_service == "token" ? RedactTokenRequest(req.body) : req.body;
    if (e.body.size() > kJournalBodyBytes) e.body.resize(kJournalBodyBytes);
    e.status = res.status;
    e.request_id = CurrentRequestId(req);
    e.latency_ms = absl::ToInt64Milliseconds(absl::Now() - t_request_start);
    state_.Locked([&](CloudState& s) {
      ++s.counters.status_codes[std::to_string(res.status)];
      return 0;
    });
    journal_.Add(std::move(e));
  });

  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      SendGraphError(req, res, 404, "NotFound",
                     absl::StrCat("The emulator has no route for ", req.method, " ", req.path));
    }
  });

  RegisterTokenRoutes(server_, ctx_);
  RegisterGraphRoutes(server_, ctx_);
  RegisterAdminRoutes(server_, ctx_);
  RegisterDataverseRoutes(server_, ctx_);
  RegisterControlRoutes(server_, ctx_);
}

absl::StatusOr<int> EmulatorServer::Bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = server_.bind_to_any_port(host.c_str());
    if (bound <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", host));
    return bound;
  }
  if (!server_.bind_to_port(host.c_str(), port)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", host, ":", port));
  }
  return port;
}

void EmulatorServer::Run() { server_.listen_after_bind(); }

void EmulatorServer::Stop() { server_.stop(); }

}  // namespace guestflow::emulator
