#include "server/api/batch_service.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/alarm.h"
#include "server/api/grpc_status.h"
#include "server/api/proto_convert.h"
#include "server/api/rpc_executor.h"
#include "server/common/status_macros.h"
#include "server/engine/batch_import.h"

namespace guestflow {
namespace {

constexpr int kDefaultBatchPageSize = 100;
constexpr int kMaxBatchPageSize = 1000;

// What the batch stores answer for an id they do not hold, word for word:
// the answer for another tenant's batch too.
absl::Status BatchNotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("batch ", id, " not found"));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void ToProto(const BatchItemRecord& in, v1::BatchItem* out) {
  out->set_line(in.line);
  out->set_email(in.email);
  if (!in.onboarding_id.empty()) {
    out->set_onboarding(absl::StrCat("onboardings/", in.onboarding_id));
  }
  if (in.state.has_value()) out->set_state(ToProto(*in.state));
  if (in.failed_step.has_value()) out->set_failed_step(ToProto(*in.failed_step));
  out->set_error(!in.error.empty() ? in.error : in.onboarding_error);
}

// Imports one CreateBatch stream; see batch_service.h.
class CreateBatchReactor : public grpc::ServerReadReactor<v1::CreateBatchRequest> {
 public:
  CreateBatchReactor(Engine* engine, BatchStore* batches, Clock* clock, WorkerPool* pool,
                     Caller caller, grpc::CallbackServerContext* context, v1::Batch* response)
      : engine_(engine),
        batches_(batches),
        clock_(clock),
        pool_(pool),
        caller_(std::move(caller)),
        context_(context),
        response_(response) {
    StartRead(&message_);
  }

  void OnReadDone(bool ok) override {
    const bool queued = pool_->TrySubmit([this, ok] {
      const absl::Status status = ok ? Take() : End();
      if (ok && status.ok()) {
        StartRead(&message_);
      } else {
        Finish(ToGrpcStatus(status));
      }
    });
    if (!queued) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the server is busy; send the file again with the same request_id"));
    }
  }

  void OnDone() override { delete this; }

 private:
  absl::Status Take() {
    if (import_ == nullptr) {
      if (!message_.has_header()) {
        return absl::InvalidArgumentError(
            "the first CreateBatch message must carry the header (tenant, request_id)");
      }
      const v1::BatchHeader& h = message_.header();
      if (!h.tenant().empty() && !caller_.MayUse(h.tenant())) {
        return TenantNotFound(caller_, h.tenant());
      }
      BatchHeader header;
      header.tenant = h.tenant();
      header.request_id = h.request_id();
      header.validate_only = h.validate_only();
      header.options = FromProto(h.options());
      header.usage_location = h.usage_location();
      header.requested_by = caller_.name;
      header.check_tenant = [caller = caller_](absl::string_view tenant) {
        return caller.MayUse(tenant) ? absl::OkStatus() : TenantNotFound(caller, tenant);
      };
      GF_ASSIGN_OR_RETURN(import_, BatchImport::Begin(engine_, batches_, clock_, header));
      return absl::OkStatus();
    }
    if (message_.has_header()) {
      return absl::InvalidArgumentError("only the first CreateBatch message carries a header");
    }
    return import_->Feed(message_.csv_chunk());
  }

  absl::Status End() {
    if (context_->IsCancelled()) return absl::CancelledError("the client went away");
    if (import_ == nullptr) return absl::InvalidArgumentError("no header and no rows were sent");
    GF_ASSIGN_OR_RETURN(BatchImportResult result, import_->Finish());
    if (result.batch.id.empty()) {  // validate_only
      response_->set_tenant(message_.has_header() ? message_.header().tenant() : "");
      response_->set_rows_total(result.rows_read);
      response_->set_rows_invalid(result.rows_invalid);
      response_->set_input_complete(true);
    } else {
      GF_RETURN_IF_ERROR(FillBatch(batches_, clock_, caller_, result.batch.id, response_));
    }
    for (const BatchItemRecord& item : result.rejected) ToProto(item, response_->add_rejected());
    return absl::OkStatus();
  }

  Engine* const engine_;
  BatchStore* const batches_;
  Clock* const clock_;
  WorkerPool* const pool_;
  const Caller caller_;
  grpc::CallbackServerContext* const context_;
  v1::Batch* const response_;
  v1::CreateBatchRequest message_;
  std::unique_ptr<BatchImport> import_;
};

// Streams a batch's progress: a snapshot now, then one after the changes
// the feed announces, until the batch is done. A snapshot summarizes the
// whole batch, so changes are coalesced: a snapshot starts at most once per
// `interval`; changes that come sooner, or while a snapshot is being made or
// written, are folded into the next one, made once the interval has passed
// (a grpc::Alarm wakes the reactor then). A change announced while a
// snapshot is being made is always followed by another snapshot, even when
// that one showed nothing new: it may have been read before the change.
// At most one fetch, one write and one alarm are in flight; StartWrite,
// Finish and the alarm's Set and Cancel are never called with `mu_` held.
class WatchBatchReactor : public grpc::ServerWriteReactor<v1::Batch> {
 public:
  WatchBatchReactor(Engine* engine, BatchStore* batches, Clock* clock, WorkerPool* pool,
                    Caller caller, std::string id, absl::Duration interval)
      : engine_(engine),
        batches_(batches),
        clock_(clock),
        pool_(pool),
        caller_(std::move(caller)),
        id_(std::move(id)),
        interval_(interval) {
    token_ = engine_->feed()->Subscribe(BatchFeedKey(id_), [this] { Poke(); });
    Poke();
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        finish = grpc::Status(grpc::StatusCode::CANCELLED, "stream closed");
      } else if (done_) {
        finish = grpc::Status::OK;
      }
      if (finish.has_value()) finished_ = true;
    }
    if (finish.has_value()) {
      Finish(*finish);
    } else {
      Schedule();
    }
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (!finished_ && !writing_ && !fetching_) finish = finished_ = true;
      cancelled_ = true;
    }
    if (finish) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  }

  void OnDone() override {
    engine_->feed()->Unsubscribe(token_);
    {
      // A pending alarm then fires at once, and gives its reference back.
      absl::MutexLock lock(&alarm_mu_);
      if (alarm_ != nullptr) alarm_->Cancel();
    }
    Release();
  }

 private:
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  void Poke() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      dirty_ = true;
    }
    Schedule();
  }

  // With a change to show and nothing in flight: fetches now if the last
  // fetch started `interval_` ago or more, else sets the alarm for then.
  void Schedule() {
    absl::Time at;
    bool fetch = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || !dirty_ || fetching_ || writing_ || alarm_set_) return;
      const absl::Time now = absl::Now();
      at = last_fetch_ + interval_;
      if (now >= at) {
        BeginFetch(now);
        fetch = true;
      } else {
        alarm_set_ = true;
        refs_.fetch_add(1);  // the alarm's
      }
    }
    if (fetch) {
      StartFetch();
      return;
    }
    // A new alarm each time: the last one's callback may still be returning.
    absl::MutexLock lock(&alarm_mu_);
    alarm_ = std::make_unique<grpc::Alarm>();
    alarm_->Set(absl::ToChronoTime(at), [this](bool /*fired, or cancelled*/) { OnAlarm(); });
  }

  void OnAlarm() {
    {
      absl::MutexLock lock(&mu_);
      alarm_set_ = false;
    }
    Schedule();  // the interval has passed: fetches if anything waits
    Release();
  }

  void BeginFetch(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    dirty_ = false;
    fetching_ = true;
    last_fetch_ = now;
  }

  void StartFetch() {
    refs_.fetch_add(1);
    if (!pool_->TrySubmit([this] { Fetch(); })) {
      bool finish = false;
      {
        absl::MutexLock lock(&mu_);
        fetching_ = false;
        if (!finished_) finish = finished_ = true;
      }
      if (finish) {
        Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "the server is busy; watch again later"));
      }
      Release();
    }
  }

  void Fetch() {
    v1::Batch snapshot;
    const absl::Status status = FillBatch(batches_, clock_, caller_, id_, &snapshot);
    std::optional<grpc::Status> finish;
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      if (finished_) {
        // OnCancel came meanwhile and left the finish to us.
      } else if (cancelled_) {
        finish = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
      } else if (!status.ok()) {
        finish = ToGrpcStatus(status);
      } else {
        std::string bytes = snapshot.SerializeAsString();
        if (bytes != last_sent_) {
          last_sent_ = std::move(bytes);
          out_ = std::move(snapshot);
          done_ = out_.done();
          writing_ = write = true;
        }
      }
      if (finish.has_value()) finished_ = true;
    }
    if (finish.has_value()) Finish(*finish);
    if (write) {
      StartWrite(&out_);
    } else {
      Schedule();  // a change announced during the fetch
    }
    Release();
  }

  Engine* const engine_;
  BatchStore* const batches_;
  Clock* const clock_;
  WorkerPool* const pool_;
  const Caller caller_;
  const std::string id_;
  const absl::Duration interval_;
  int64_t token_ = 0;
  // gRPC's (released in OnDone), one per fetch and one for a pending alarm.
  std::atomic<int> refs_{1};
  absl::Mutex mu_;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;  // a change not fetched yet
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_fetch_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string last_sent_ ABSL_GUARDED_BY(mu_);
  v1::Batch out_;  // owned by the write in flight
  absl::Mutex alarm_mu_;
  std::unique_ptr<grpc::Alarm> alarm_ ABSL_GUARDED_BY(alarm_mu_);
};

}  // namespace

absl::Status FillBatch(BatchStore* batches, Clock* clock, const Caller& caller,
                       absl::string_view id, v1::Batch* out) {
  GF_ASSIGN_OR_RETURN(BatchRecord batch, batches->GetBatch(id));
  if (!caller.MayUse(batch.tenant)) return BatchNotFound(id);
  GF_ASSIGN_OR_RETURN(BatchSummary summary, batches->Summarize(id));
  out->set_name(absl::StrCat("batches/", batch.id));
  out->set_tenant(batch.tenant);
  out->set_request_id(batch.request_id);
  out->set_rows_total(summary.rows_total);
  out->set_rows_invalid(summary.rows_invalid);
  out->set_input_complete(batch.input_complete);
  int64_t finished = 0;
  int64_t open = 0;
  for (const auto& [state, count] : summary.counts) {
    (*out->mutable_counts())[v1::OnboardingState_Name(ToProto(state))] = count;
    (IsTerminal(state) ? finished : open) += count;
  }
  *out->mutable_create_time() = ToTimestamp(batch.create_time);
  const bool done = batch.input_complete && open == 0;
  out->set_done(done);
  if (done && summary.last_finish_time.has_value()) {
    *out->mutable_finish_time() = ToTimestamp(*summary.last_finish_time);
  }
  const absl::Time until =
      done && summary.last_finish_time.has_value() ? *summary.last_finish_time : clock->Now();
  const double seconds = absl::ToDoubleSeconds(until - batch.create_time);
  out->set_guests_per_second(seconds > 0 ? static_cast<double>(finished) / seconds : 0.0);
  return absl::OkStatus();
}

grpc::ServerReadReactor<v1::CreateBatchRequest>* BatchServiceImpl::CreateBatch(
    grpc::CallbackServerContext* context, v1::Batch* response) {
  absl::StatusOr<Caller> caller = access_->Admit(*context, CallerRole::kOperator, "CreateBatch");
  if (!caller.ok()) {
    return new RefusedReadReactor<v1::CreateBatchRequest>(ToGrpcStatus(caller.status()));
  }
  return new CreateBatchReactor(engine_, batches_, clock_, pool_, *std::move(caller), context,
                                response);
}

grpc::ServerUnaryReactor* BatchServiceImpl::GetBatch(grpc::CallbackServerContext* context,
                                                     const v1::GetBatchRequest* request,
                                                     v1::Batch* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller, access_->Admit(*context, CallerRole::kReader, "GetBatch"));
    GF_ASSIGN_OR_RETURN(std::string id, ParseBatchName(request->name(), "name"));
    return FillBatch(batches_, clock_, caller, id, response);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::Batch>* BatchServiceImpl::WatchBatch(
    grpc::CallbackServerContext* context, const v1::WatchBatchRequest* request) {
  absl::StatusOr<Caller> caller = access_->Admit(*context, CallerRole::kReader, "WatchBatch");
  if (!caller.ok()) return new RefusedWriteReactor<v1::Batch>(ToGrpcStatus(caller.status()));
  absl::StatusOr<std::string> id = ParseBatchName(request->name(), "name");
  if (!id.ok()) {
    return new RefusedWriteReactor<v1::Batch>(ToGrpcStatus(id.status()));
  }
  return new WatchBatchReactor(engine_, batches_, clock_, pool_, *std::move(caller), *std::move(id),
                               watch_interval_);
}

grpc::ServerUnaryReactor* BatchServiceImpl::ListBatchItems(grpc::CallbackServerContext* context,
                                                           const v1::ListBatchItemsRequest* request,
                                                           v1::ListBatchItemsResponse* response) {
  auto* reactor = context->DefaultReactor();
  RunAndFinish(pool_, context, reactor, [this, context, request, response]() -> absl::Status {
    GF_ASSIGN_OR_RETURN(Caller caller,
                        access_->Admit(*context, CallerRole::kReader, "ListBatchItems"));
    GF_ASSIGN_OR_RETURN(std::string id, ParseBatchName(request->parent(), "parent"));
    GF_ASSIGN_OR_RETURN(BatchRecord batch, batches_->GetBatch(id));
    if (!caller.MayUse(batch.tenant)) return BatchNotFound(id);
    BatchItemQuery query;
    query.batch_id = id;
    query.state = FromProto(request->state());
    query.invalid_only = request->invalid();
    if (request->page_size() < 0) {
      return absl::InvalidArgumentError("page_size: must not be negative");
    }
    query.page_size = request->page_size() == 0 ? kDefaultBatchPageSize
                                                : std::min(request->page_size(), kMaxBatchPageSize);
    query.page_token = request->page_token();
    GF_ASSIGN_OR_RETURN(BatchItemPage page, batches_->ListItems(query));
    for (const BatchItemRecord& item : page.items) {
      // A row the batch's caller started in another tenant is not this
      // caller's to see.
      if (!item.tenant.empty() && !caller.MayUse(item.tenant)) continue;
      ToProto(item, response->add_items());
    }
    response->set_next_page_token(page.next_page_token);
    return absl::OkStatus();
  });
  return reactor;
}

}  // namespace guestflow
