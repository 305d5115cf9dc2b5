#include "load/load_runner.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace guestflow::bench {
namespace {

using Clock = std::chrono::steady_clock;

// One slot of the closed loop: the call in flight on it. `reader` is
// declared after `context` so that it is destroyed before it (it is
// allocated in the call's arena, which the context's call owns).
struct Slot {
  grpc::GenericStub* stub = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  grpc::ByteBuffer response;
  grpc::Status status;
  Clock::time_point start;
  bool measured = false;
};

// What one thread saw; merged when the threads are done.
struct Tally {
  LoadResult result;
  Clock::time_point last_end{};
};

// Shared by the threads; everything but `tickets` is read-only once they run.
struct Plan {
  const LoadOptions* options = nullptr;
  CallKind* kind = nullptr;
  std::string authorization;
  Clock::time_point measure_from;
  Clock::time_point stop_at;  // Clock::time_point::max() with `requests`
  std::atomic<int64_t> tickets{0};
};

void Count(std::map<std::string, ErrorTally>* errors, const std::string& code,
           absl::string_view message) {
  ErrorTally& e = (*errors)[code];
  if (e.count++ == 0) e.sample = std::string(message);
}

// Starts the next call on `slot`; false when the run wants no more calls.
bool Begin(Plan* plan, Slot* slot, grpc::CompletionQueue* cq) {
  const Clock::time_point now = Clock::now();
  if (now >= plan->stop_at) return false;
  slot->measured = now >= plan->measure_from;
  if (slot->measured && plan->options->requests > 0 &&
      plan->tickets.fetch_add(1, std::memory_order_relaxed) >= plan->options->requests) {
    return false;
  }
  // A ClientContext serves one call only. The reader lives in the memory of
  // the call the old context holds: it goes first.
  slot->reader.reset();
  slot->context = std::make_unique<grpc::ClientContext>();
  if (!plan->authorization.empty()) {
    slot->context->AddMetadata("authorization", plan->authorization);
  }
  slot->context->set_deadline(std::chrono::system_clock::now() +
                              absl::ToChronoMicroseconds(plan->options->deadline));
  slot->response.Clear();
  slot->status = grpc::Status();
  slot->start = Clock::now();
  slot->reader = slot->stub->PrepareUnaryCall(slot->context.get(), plan->kind->method(),
                                              plan->kind->NextRequest(), cq);
  slot->reader->StartCall();
  slot->reader->Finish(&slot->response, &slot->status, slot);
  return true;
}

// The check runs for warmup calls too: `start` acks every onboarding the
// server stored, counted or not.
void Account(Plan* plan, Slot* slot, Clock::time_point end, Tally* tally) {
  LoadResult& r = tally->result;
  const size_t size = slot->response.Length();
  std::string failure_code;
  std::string failure_message;
  if (slot->status.ok()) {
    absl::Status checked = plan->kind->CheckResponse(&slot->response);
    if (!checked.ok()) {
      failure_code = "BAD_RESPONSE";
      failure_message = std::string(checked.message());
    }
  } else {
    failure_code = StatusCodeName(slot->status.error_code());
    failure_message = slot->status.error_message();
  }
  if (!slot->measured) {
    ++r.warmup_calls;
    if (!failure_code.empty()) ++r.warmup_errors;
    return;
  }
  ++r.calls;
  r.latency_us.Record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(end - slot->start).count()));
  tally->last_end = std::max(tally->last_end, end);
  if (failure_code.empty()) {
    ++r.ok;
    if (r.response_bytes == 0) r.response_bytes = size;
  } else {
    Count(&r.errors, failure_code, failure_message);
  }
}

void Drive(Plan* plan, std::vector<Slot>* slots, Tally* tally) {
  grpc::CompletionQueue cq;
  size_t active = 0;
  for (Slot& slot : *slots) active += Begin(plan, &slot, &cq) ? 1 : 0;
  while (active > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    const Clock::time_point end = Clock::now();
    auto* slot = static_cast<Slot*>(tag);
    Account(plan, slot, end, tally);
    if (!Begin(plan, slot, &cq)) --active;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

// K channels must be K connections. By default gRPC keeps subchannels in a
// process-wide pool, where channels with equal arguments to the same address
// share one subchannel and so one connection; a local pool gives each channel
// its own, and an argument unique to each channel keeps them apart in any
// pool.
std::shared_ptr<grpc::Channel> NewChannel(const LoadOptions& options, int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("guestflow.bench.connection", index);
  // One attempt per call: a failure is counted, not retried away.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetMaxReceiveMessageSize(-1);
  return grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options, CallKind* kind) {
  if (options.connections < 1 || options.concurrency < 1 || options.threads < 1) {
    return absl::InvalidArgumentError("--connections, --concurrency and --threads must be >= 1");
  }
  if (options.requests < 0 || options.duration <= absl::ZeroDuration() ||
      options.warmup < absl::ZeroDuration() || options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--requests >= 0, --duration > 0, --warmup >= 0 and --deadline > 0, please");
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  const auto connect_by =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options.connect_timeout);
  for (int i = 0; i < options.connections; ++i) {
    channels.push_back(NewChannel(options, i));
    if (!channels.back()->WaitForConnected(connect_by)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target,
                                                 " (connection ", i + 1, " of ",
                                                 options.connections, ")"));
    }
    stubs.push_back(std::make_unique<grpc::GenericStub>(channels.back()));
  }

  const int threads = std::min(options.threads, options.concurrency);
  // Slot i goes on channel i % K and thread (i / K) % T: every thread uses
  // every channel once there are K x T slots.
  std::vector<std::vector<Slot>> slots(threads);
  for (int i = 0; i < options.concurrency; ++i) {
    Slot slot;
    slot.stub = stubs[i % options.connections].get();
    slots[(i / options.connections) % threads].push_back(std::move(slot));
  }

  Plan plan;
  plan.options = &options;
  plan.kind = kind;
  if (!options.token.empty()) plan.authorization = absl::StrCat("Bearer ", options.token);
  const Clock::time_point begin = Clock::now();
  plan.measure_from = begin + absl::ToChronoMicroseconds(options.warmup);
  plan.stop_at = options.requests > 0
                     ? Clock::time_point::max()
                     : plan.measure_from + absl::ToChronoMicroseconds(options.duration);

  LoadResult result;
  result.request_bytes = kind->NextRequest().Length();
  std::vector<Tally> tallies(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&plan, &slots, &tallies, t] { Drive(&plan, &slots[t], &tallies[t]); });
  }
  for (std::thread& w : workers) w.join();

  Clock::time_point last_end = plan.measure_from;
  for (const Tally& tally : tallies) {
    const LoadResult& r = tally.result;
    result.calls += r.calls;
    result.ok += r.ok;
    result.warmup_calls += r.warmup_calls;
    result.warmup_errors += r.warmup_errors;
    for (const auto& [code, e] : r.errors) {
      ErrorTally& into = result.errors[code];
      if (into.count == 0) into.sample = e.sample;
      into.count += e.count;
    }
    result.latency_us.Merge(r.latency_us);
    if (result.response_bytes == 0) result.response_bytes = r.response_bytes;
    last_end = std::max(last_end, tally.last_end);
  }
  result.elapsed_seconds = std::chrono::duration<double>(last_end - plan.measure_from).count();
  return result;
}

}  // namespace guestflow::bench
