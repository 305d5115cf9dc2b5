// WorkerPool: a fixed set of threads running tasks from a bounded queue. The
// engine runs every blocking thing (plugins, the store) here, never on a gRPC
// thread.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace guestflow {

// Thread-safe. Lifecycle: construct (threads start), Submit* any number of
// times, Shutdown (or destroy) once: queued tasks still run, then the threads
// join.
class WorkerPool {
 public:
  WorkerPool(std::string name, int threads, size_t max_queue);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (task dropped) when the queue is full or the pool is
  // shutting down.
  [[nodiscard]] bool TrySubmit(std::function<void()> task);

  // Tasks queued or running.
  size_t Pending() const;

  // Stops accepting tasks, runs those queued, joins the threads. Idempotent.
  void Shutdown();

 private:
  void Loop();

  const std::string name_;
  const size_t max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace guestflow
