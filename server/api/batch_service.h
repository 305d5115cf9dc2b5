// guestflow.v1.BatchService over BatchImport and the BatchStore. Like the
// other services, no handler blocks a gRPC thread: reads, imports and store
// calls run on the API worker pool.
//
// CreateBatch reads one message at a time: the next read starts only when
// the previous chunk has been imported, so a client streaming a big file is
// held back by HTTP/2 flow control instead of filling the server's memory.
#pragma once

#include "guestflow/v1/batch_service.grpc.pb.h"
#include "server/api/access.h"
#include "server/common/clock.h"
#include "server/engine/engine.h"
#include "server/engine/worker_pool.h"
#include "server/store/batch_store.h"

namespace guestflow {

// Access (access.h): operators import, readers get, watch and list items. A
// batch belongs to the tenant of its header: a caller not granted it gets
// NOT_FOUND, as for a batch that does not exist. An import's rows may name
// only tenants its caller is granted; another tenant is that row's error.
//
// WatchBatch sends a snapshot of the batch at once, then at most one per
// `watch_interval` while it changes (every change folded into the next
// snapshot; a snapshot equal to the last one sent is not sent), and the
// snapshot that shows it done last.
//
// Thread-safe. Borrows everything, which must outlive the gRPC server.
class BatchServiceImpl final : public v1::BatchService::CallbackService {
 public:
  // A snapshot summarizes the whole batch: one per change would cost
  // O(batch) per change, O(batch^2) over an import.
  static constexpr absl::Duration kDefaultWatchInterval = absl::Milliseconds(250);

  BatchServiceImpl(Engine* engine, BatchStore* batches, Clock* clock, WorkerPool* pool,
                   const Access* access, absl::Duration watch_interval = kDefaultWatchInterval)
      : engine_(engine),
        batches_(batches),
        clock_(clock),
        pool_(pool),
        access_(access),
        watch_interval_(watch_interval) {}

  grpc::ServerReadReactor<v1::CreateBatchRequest>* CreateBatch(grpc::CallbackServerContext* context,
                                                               v1::Batch* response) override;
  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* context,
                                     const v1::GetBatchRequest* request,
                                     v1::Batch* response) override;
  grpc::ServerWriteReactor<v1::Batch>* WatchBatch(grpc::CallbackServerContext* context,
                                                  const v1::WatchBatchRequest* request) override;
  grpc::ServerUnaryReactor* ListBatchItems(grpc::CallbackServerContext* context,
                                           const v1::ListBatchItemsRequest* request,
                                           v1::ListBatchItemsResponse* response) override;

 private:
  Engine* const engine_;
  BatchStore* const batches_;
  Clock* const clock_;
  WorkerPool* const pool_;
  const Access* const access_;
  const absl::Duration watch_interval_;
};

// The batch as the API shows it to `caller`: counts, rates and whether it is
// done. NOT_FOUND (the store's words) when the caller may not see its tenant.
absl::Status FillBatch(BatchStore* batches, Clock* clock, const Caller& caller,
                       absl::string_view id, v1::Batch* out);

}  // namespace guestflow
