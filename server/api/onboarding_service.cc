#include "server/api/onboarding_service.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "grpc/slice.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "server/api/proto_convert.h"
#include "server/api/rpc_executor.h"
#include "server/common/status_macros.h"

namespace guestflow {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultCloudCallPageSize = 100;
constexpr int kWatchBatch = 100;

// What the store answers for an id it does not hold, word for word: the
// answer for another tenant's onboarding too.
absl::Status OnboardingNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("onboarding ", id, " not found"));
}

// Whether `caller` may see onboarding `id` of `tenant`: if not, it does not
// exist for them.
absl::Status CheckVisible(const Caller& caller, absl::string_view id, absl::string_view tenant) {
  return caller.MayUse(tenant) ? absl::OkStatus() : OnboardingNotFound(id);
}

// `message` serialized once, into a slice that an answer (and the cache)
// share.
grpc::Slice SerializeToSlice(const google::protobuf::MessageLite& message) {
  const size_t size = message.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  message.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(slice));
  return grpc::Slice(slice, grpc::Slice::STEAL_REF);
}

// `bytes` parsed as gRPC parses the request of a typed method (INTERNAL when
// it does not parse); a request in one slice, as a small one is, in place.
template <typename Message>
grpc::Status ParseRequest(const grpc::ByteBuffer& bytes, Message* out) {
  grpc::Slice slice;
  if (bytes.TrySingleSlice(&slice).ok() &&
      out->ParseFromArray(slice.begin(), static_cast<int>(slice.size()))) {
    return grpc::Status::OK;
  }
  grpc::ByteBuffer copy(bytes);  // Deserialize consumes it; the copy shares the slices
  return grpc::SerializationTraits<Message>::Deserialize(&copy, out);
}

// Answers `bytes` (no copy: the buffer refers to the slice).
void SetAnswer(const grpc::Slice& bytes, grpc::ByteBuffer* response) {
  grpc::ByteBuffer answer(&bytes, 1);
  response->Swap(&answer);
}

// Streams an onboarding's events. Fetches run on the API pool; a fetch is
// started by the first request and by every change the feed announces; at
// most one fetch and one write are in flight at a time. gRPC may run a
// reaction inline inside StartWrite or Finish, so neither is ever called with
// `mu_` held. The reactor deletes itself when gRPC is done with it and no
// fetch still refers to it (reference count).
class WatchReactor : public grpc::ServerWriteReactor<v1::WatchOnboardingResponse> {
 public:
  WatchReactor(Engine* engine, WorkerPool* pool, Caller caller, std::string id,
               int64_t after_sequence)
      : engine_(engine),
        pool_(pool),
        caller_(std::move(caller)),
        id_(std::move(id)),
        last_fetched_(after_sequence) {
    token_ = engine_->feed()->Subscribe(id_, [this] { Poke(); });
    Poke();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      outbox_.pop_front();
      if (!ok && !pending_finish_.has_value()) {
        pending_finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
      }
    }
    Drive();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      if (!pending_finish_.has_value()) {
        pending_finish_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      }
    }
    Drive();
  }

  void OnDone() override {
    engine_->feed()->Unsubscribe(token_);
    Release();
  }

 private:
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  // Something changed: fetch now, or again after the fetch in flight.
  void Poke() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || pending_finish_.has_value()) return;
      if (fetching_) {
        refetch_ = true;
        return;
      }
      fetching_ = true;
      refetch_ = false;
    }
    StartFetch();
  }

  void StartFetch() {
    refs_.fetch_add(1);
    if (!pool_->TrySubmit([this] { Fetch(); })) {
      {
        absl::MutexLock lock(&mu_);
        fetching_ = false;
        if (!pending_finish_.has_value()) {
          pending_finish_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                         "the server is busy; watch again later");
        }
      }
      Drive();
      Release();
    }
  }

  void Fetch() {
    int64_t after;
    {
      absl::MutexLock lock(&mu_);
      after = last_fetched_;
    }
    // The first fetch reads the onboarding first: its tenant (which never
    // changes) says whether the caller may see it at all.
    if (!tenant_checked_) {
      absl::StatusOr<Onboarding> first = engine_->Get(id_);
      absl::Status visible = first.status();
      if (first.ok() && !caller_.MayUse(first->tenant)) visible = OnboardingNotFound(id_);
      if (!visible.ok()) {
        {
          absl::MutexLock lock(&mu_);
          fetching_ = false;
          if (!pending_finish_.has_value()) pending_finish_ = ToGrpcStatus(visible);
        }
        Drive();
        Release();
        return;
      }
      tenant_checked_ = true;
    }
    // Events, then the onboarding: the state shown with the events is never
    // older than they are.
    absl::StatusOr<std::vector<OnboardingEvent>> events = engine_->Events(id_, after, kWatchBatch);
    absl::StatusOr<Onboarding> onboarding =
        events.ok() ? engine_->Get(id_) : absl::StatusOr<Onboarding>(events.status());
    bool again = false;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (!onboarding.ok()) {
        if (!pending_finish_.has_value()) pending_finish_ = ToGrpcStatus(onboarding.status());
      } else {
        for (const OnboardingEvent& e : *events) {
          v1::WatchOnboardingResponse response;
          ToProto(e, response.mutable_event());
          ToProto(*onboarding, response.mutable_onboarding());
          outbox_.push_back(std::move(response));
          last_fetched_ = std::max(last_fetched_, e.sequence);
        }
        // More history than one batch, or the feed rang meanwhile: again.
        caught_up_ = events->size() < static_cast<size_t>(kWatchBatch);
        terminal_ = IsTerminal(onboarding->state);
        if ((!caught_up_ || refetch_) && !pending_finish_.has_value()) {
          fetching_ = true;
          refetch_ = false;
          again = true;
        }
      }
    }
    if (again) StartFetch();
    Drive();
    Release();
  }

  // Starts the next write, or finishes the stream when there is nothing left
  // to say.
  void Drive() {
    const v1::WatchOnboardingResponse* next = nullptr;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_) return;
      if (pending_finish_.has_value()) {
        finish = *pending_finish_;
      } else if (!outbox_.empty()) {
        writing_ = true;
        next = &outbox_.front();  // deque: stays put while we push_back
      } else if (terminal_ && caught_up_ && !fetching_) {
        finish = grpc::Status::OK;
      }
      if (finish.has_value()) finished_ = true;
    }
    if (next != nullptr) {
      StartWrite(next);
    } else if (finish.has_value()) {
      Finish(*finish);
    }
  }

  Engine* const engine_;
  WorkerPool* const pool_;
  const Caller caller_;
  const std::string id_;
  int64_t token_ = 0;
  bool tenant_checked_ = false;  // fetches run one at a time
  // One reference for gRPC (released in OnDone), one per fetch in flight.
  std::atomic<int> refs_{1};

  absl::Mutex mu_;
  std::deque<v1::WatchOnboardingResponse> outbox_ ABSL_GUARDED_BY(mu_);
  int64_t last_fetched_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool refetch_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool caught_up_ ABSL_GUARDED_BY(mu_) = false;
  bool terminal_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<Onboarding> OnboardingServiceImpl::Visible(const Caller& caller,
                                                          const std::string& name) {
  GF_ASSIGN_OR_RETURN(std::string id, ParseOnboardingName(name, "name"));
  GF_ASSIGN_OR_RETURN(Onboarding o, engine_->Get(id));
  GF_RETURN_IF_ERROR(CheckVisible(caller, id, o.tenant));
  return o;
}

absl::StatusOr<grpc::Slice> OnboardingServiceImpl::ReadSerialized(const Caller& caller,
                                                                  const std::string& id) {
  // Taken before the read: a write that lands after it moves it, and the
  // insert below is refused (onboarding_cache.h).
  const uint64_t generation = cache_ != nullptr ? cache_->Generation(id) : 0;
  GF_ASSIGN_OR_RETURN(Onboarding o, engine_->Get(id));
  GF_RETURN_IF_ERROR(CheckVisible(caller, id, o.tenant));
  v1::Onboarding proto;
  ToProto(o, &proto);
  grpc::Slice bytes = SerializeToSlice(proto);
  if (cache_ != nullptr) cache_->InsertIfUnchanged(id, generation, o.tenant, bytes);
  return bytes;
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::StartOnboarding(
    grpc::CallbackServerContext* context, const v1::StartOnboardingRequest* request,
    v1::Onboarding* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kOperator, "StartOnboarding"));
    if (!request->tenant().empty() && !caller.MayUse(request->tenant())) {
      return TenantNotFound(caller, request->tenant());
    }
    StartRequest r;
    r.requested_by = caller.name;
    r.tenant = request->tenant();
    r.guest = FromProto(request->guest());
    r.options = FromProto(request->options());
    r.approve_mailbox = request->options().approve_mailbox();
    r.enable_server_side_sync = request->options().enable_server_side_sync();
    r.request_id = request->request_id();
    r.validate_only = request->validate_only();
    GF_ASSIGN_OR_RETURN(CreateResult result, engine_->Start(r));
    ToProto(result.onboarding, response);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::GetOnboarding(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  auto* reactor = context->DefaultReactor();
  // As for a typed method, a request that does not parse is answered by
  // gRPC's own status, before anything else.
  v1::GetOnboardingRequest parsed;
  if (grpc::Status s = ParseRequest(*request, &parsed); !s.ok()) {
    reactor->Finish(s);
    return reactor;
  }
  // Here on the gRPC thread: nothing below blocks.
  absl::StatusOr<Caller> caller = access_->Admit(*context, CallerRole::kReader, "GetOnboarding");
  absl::StatusOr<std::string> id =
      caller.ok() ? ParseOnboardingName(parsed.name(), "name") : caller.status();
  if (!id.ok()) {
    reactor->Finish(ToGrpcStatus(id.status()));
    return reactor;
  }
  if (cache_ != nullptr) {
    if (std::optional<OnboardingCache::Entry> hit = cache_->Lookup(*id)) {
      const absl::Status visible = CheckVisible(*caller, *id, hit->tenant);
      if (visible.ok()) SetAnswer(hit->bytes, response);
      reactor->Finish(ToGrpcStatus(visible));
      return reactor;
    }
  }
  RunAndFinish(
      pool_, context, reactor,
      [this, response, caller = *std::move(caller), id = *std::move(id)]() -> absl::Status {
        GF_ASSIGN_OR_RETURN(grpc::Slice bytes, ReadSerialized(caller, id));
        SetAnswer(bytes, response);
        return absl::OkStatus();
      });
  return reactor;
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::ListOnboardings(
    grpc::CallbackServerContext* context, const v1::ListOnboardingsRequest* request,
    v1::ListOnboardingsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kReader, "ListOnboardings"));
    if (request->page_size() < 0) {
      return absl::InvalidArgumentError("page_size: must not be negative");
    }
    ListOnboardingsQuery q;
    q.tenant = request->tenant();
    if (!caller.all_tenants) q.tenant_in = caller.tenants;
    if (request->state() != v1::ONBOARDING_STATE_UNSPECIFIED) {
      q.state = FromProto(request->state());
      if (!q.state.has_value()) return absl::InvalidArgumentError("state: unknown value");
    }
    GF_ASSIGN_OR_RETURN(q.batch_id, ParseBatchName(request->batch(), "batch"));
    q.page_size =
        request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
    q.page_token = request->page_token();
    GF_ASSIGN_OR_RETURN(OnboardingPage page, engine_->List(q));
    for (const Onboarding& o : page.onboardings) ToProto(o, response->add_onboardings());
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::ListCloudCalls(
    grpc::CallbackServerContext* context, const v1::ListCloudCallsRequest* request,
    v1::ListCloudCallsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kReader, "ListCloudCalls"));
    if (request->page_size() < 0) {
      return absl::InvalidArgumentError("page_size: must not be negative");
    }
    CloudCallQuery q;
    constexpr absl::string_view kTenants = "tenants/";
    if (absl::StartsWith(request->parent(), kTenants) &&
        request->parent().size() > kTenants.size()) {
      q.tenant = request->parent().substr(kTenants.size());
      // Another tenant's trail reads as an empty one.
      if (!caller.MayUse(q.tenant)) return absl::OkStatus();
    } else if (absl::StartsWith(request->parent(), "onboardings/")) {
      GF_ASSIGN_OR_RETURN(q.onboarding_id, ParseOnboardingName(request->parent(), "parent"));
      GF_ASSIGN_OR_RETURN(Onboarding o, engine_->Get(q.onboarding_id));
      if (!caller.MayUse(o.tenant)) return OnboardingNotFound(o.id);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("parent: expected onboardings/{onboarding} or tenants/{tenant}, got \"",
                       request->parent(), "\""));
    }
    q.page_size = request->page_size() == 0 ? kDefaultCloudCallPageSize
                                            : std::min(request->page_size(), kMaxPageSize);
    q.page_token = request->page_token();
    GF_ASSIGN_OR_RETURN(CloudCallPage page, engine_->ListCloudCalls(q));
    for (const CloudCall& c : page.calls) ToProto(c, response->add_cloud_calls());
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::WatchOnboardingResponse>* OnboardingServiceImpl::WatchOnboarding(
    grpc::CallbackServerContext* context, const v1::WatchOnboardingRequest* request) {
  absl::StatusOr<Caller> caller = access_->Admit(*context, CallerRole::kReader, "WatchOnboarding");
  if (!caller.ok()) {
    return new RefusedWriteReactor<v1::WatchOnboardingResponse>(ToGrpcStatus(caller.status()));
  }
  absl::StatusOr<std::string> id = ParseOnboardingName(request->name(), "name");
  if (!id.ok() || request->after_sequence() < 0) {
    return new RefusedWriteReactor<v1::WatchOnboardingResponse>(
        !id.ok() ? ToGrpcStatus(id.status())
                 : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "after_sequence: must not be negative"));
  }
  return new WatchReactor(engine_, pool_, *std::move(caller), *id, request->after_sequence());
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::CancelOnboarding(
    grpc::CallbackServerContext* context, const v1::CancelOnboardingRequest* request,
    v1::Onboarding* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kOperator, "CancelOnboarding"));
    GF_ASSIGN_OR_RETURN(Onboarding visible, Visible(caller, request->name()));
    GF_ASSIGN_OR_RETURN(Onboarding o, engine_->Cancel(visible.id));
    ToProto(o, response);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* OnboardingServiceImpl::RetryOnboarding(
    grpc::CallbackServerContext* context, const v1::RetryOnboardingRequest* request,
    v1::Onboarding* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kOperator, "RetryOnboarding"));
    GF_ASSIGN_OR_RETURN(Onboarding visible, Visible(caller, request->name()));
    GF_ASSIGN_OR_RETURN(Onboarding o, engine_->Retry(visible.id));
    ToProto(o, response);
    return absl::OkStatus();
  });
  return reactor;
}

}  // namespace guestflow
