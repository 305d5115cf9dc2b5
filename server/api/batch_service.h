// guestflow.v1.BatchService over BatchImport and the BatchStore. Like the
// other services, no handler blocks a gRPC thread: reads, imports and store
// calls run on the API worker pool.
//
// CreateBatch reads one message at a time: the next read starts only when
// the previous chunk has been imported, so a client streaming a big file is
// held back by HTTP/2 flow control instead of filling the server's memory.
#pragma once

#include "guestflow/v1/batch_service.grpc.pb.h"
#include "server/common/clock.h"
#include "server/engine/engine.h"
#include "server/engine/worker_pool.h"
#include "server/store/batch_store.h"

namespace guestflow {

// Thread-safe. Borrows everything, which must outlive the gRPC server.
class BatchServiceImpl final : public v1::BatchService::CallbackService {
 public:
  BatchServiceImpl(Engine* engine, BatchStore* batches, Clock* clock, WorkerPool* pool)
      : engine_(engine), batches_(batches), clock_(clock), pool_(pool) {}

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
};

// The batch as the API shows it: counts, rates and whether it is done.
absl::Status FillBatch(BatchStore* batches, Clock* clock, absl::string_view id, v1::Batch* out);

}  // namespace guestflow
