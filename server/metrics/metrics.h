// Prometheus metrics, in the style of TensorFlow's monitoring library: each
// metric is a process-wide object declared where it is used, registered by
// name in one Registry, and rendered in the Prometheus text exposition format
// (version 0.0.4) by Registry::Render, which the /metrics endpoint serves.
//
// Written here rather than taken from a library: Debian 12 packages no C++
// Prometheus client (prometheus-cpp is not in bookworm), and what guestflowd
// needs is small: counters, gauges and histograms with labels.
//
//   static Counter* const requests = Counter::New(
//       "guestflow_rpc_requests_total", "RPCs handled.", {"method", "code"});
//   requests->Add({"StartOnboarding", "OK"});
//
// Thread-safe throughout. Label values are given in the order the metric
// declared its label names.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace guestflow::metrics {

using Labels = std::vector<std::string>;

class Metric {
 public:
  virtual ~Metric() = default;
  const std::string& name() const { return name_; }
  // Appends this metric's HELP, TYPE and samples.
  virtual void Render(std::string* out) const = 0;

 protected:
  Metric(std::string name, std::string help, Labels label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}
  void RenderHeader(const char* type, std::string* out) const;
  // `{a="x",b="y"}` for these values (and an extra label, e.g. `le`).
  std::string LabelText(const Labels& values, const std::string& extra_name = "",
                        const std::string& extra_value = "") const;

  const std::string name_;
  const std::string help_;
  const Labels label_names_;
};

// All metrics of the process, by name. Render() sorts them by name.
class Registry {
 public:
  static Registry& Default();
  // Takes ownership; a second metric of one name is a programming error
  // (aborts), as two definitions of one name would be.
  template <typename M>
  M* Add(std::unique_ptr<M> metric) {
    M* raw = metric.get();
    AddMetric(std::move(metric));
    return raw;
  }
  std::string Render() const;

 private:
  void AddMetric(std::unique_ptr<Metric> metric);
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Metric>> metrics_ ABSL_GUARDED_BY(mu_);
};

// A value that only goes up (resets with the process).
class Counter : public Metric {
 public:
  // The sample of one set of label values. A hot path binds it once
  // (Bind) and then adds to it with one atomic add: no lock, no look-up, no
  // allocation. It lives as long as its counter.
  class Series {
   public:
    void Add(double amount = 1);
    double Value() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> value_{0};
  };

  static Counter* New(std::string name, std::string help, Labels label_names = {},
                      Registry& registry = Registry::Default());
  // The series of `values`, created at its first use; the same pointer for
  // the same values every time.
  Series* Bind(const Labels& values);
  void Add(const Labels& values, double amount = 1) { Bind(values)->Add(amount); }
  double Value(const Labels& values) const;
  void Render(std::string* out) const override;

 private:
  using Metric::Metric;
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<Series>> values_ ABSL_GUARDED_BY(mu_);
};

// A value that goes up and down; or, with SetCallback, one computed at each
// scrape (e.g. counted in the store), one sample per returned label set.
class Gauge : public Metric {
 public:
  using Callback = std::function<std::map<Labels, double>()>;
  static Gauge* New(std::string name, std::string help, Labels label_names = {},
                    Registry& registry = Registry::Default());
  void Set(const Labels& values, double value);
  void Add(const Labels& values, double amount);
  double Value(const Labels& values) const;
  // Replaces the stored values; nullptr removes the callback.
  void SetCallback(Callback callback);
  void Render(std::string* out) const override;

 private:
  using Metric::Metric;
  mutable absl::Mutex mu_;
  std::map<Labels, double> values_ ABSL_GUARDED_BY(mu_);
  Callback callback_ ABSL_GUARDED_BY(mu_);
};

// Observations counted into cumulative buckets (upper bounds `le`), with
// their sum and count.
class Histogram : public Metric {
 public:
  // Seconds, for latencies from 1 ms to a minute.
  static std::vector<double> LatencyBuckets();
  static Histogram* New(std::string name, std::string help, Labels label_names,
                        std::vector<double> bounds, Registry& registry = Registry::Default());
  // The series of one set of label values, as Counter::Series: a hot path
  // binds it once, and each Observe is a few atomic adds.
  class Series {
   public:
    explicit Series(const std::vector<double>& bounds);
    void Observe(double value);

   private:
    friend class Histogram;
    const std::vector<double>& bounds_;
    // One per bound, not cumulative, and a last one for the values above
    // every bound: their total is the count, so that a scrape during an
    // Observe still gives a +Inf bucket equal to the count.
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
    std::atomic<double> sum_{0};
  };

  Series* Bind(const Labels& values);
  void Observe(const Labels& values, double value) { Bind(values)->Observe(value); }
  uint64_t Count(const Labels& values) const;
  void Render(std::string* out) const override;

 private:
  Histogram(std::string name, std::string help, Labels label_names, std::vector<double> bounds)
      : Metric(std::move(name), std::move(help), std::move(label_names)),
        bounds_(std::move(bounds)) {}
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<Labels, std::unique_ptr<Series>> series_ ABSL_GUARDED_BY(mu_);
};

// A number as Prometheus writes it: integers without a fraction, +Inf,
// -Inf, NaN, otherwise the shortest round-trip form.
std::string FormatValue(double value);

// A label value with \, " and newline escaped.
std::string EscapeLabelValue(const std::string& value);

}  // namespace guestflow::metrics
