#include "server/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace guestflow::metrics {
namespace {

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  // The shortest form that reads back as the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return buffer;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void Metric::RenderHeader(const char* type, std::string* out) const {
  absl::StrAppend(out, "# HELP ", name_, " ", EscapeHelp(help_), "\n", "# TYPE ", name_, " ", type,
                  "\n");
}

std::string Metric::LabelText(const Labels& values, const std::string& extra_name,
                              const std::string& extra_value) const {
  std::string out;
  for (size_t i = 0; i < label_names_.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", label_names_[i], "=\"",
                    EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : ",", extra_name, "=\"", extra_value, "\"");
  }
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

Registry& Registry::Default() {
  static Registry* const registry = new Registry();
  return *registry;
}

void Registry::AddMetric(std::unique_ptr<Metric> metric) {
  absl::MutexLock lock(&mu_);
  const std::string name = metric->name();
  if (!metrics_.emplace(name, std::move(metric)).second) {
    std::fprintf(stderr, "metric %s is defined twice\n", name.c_str());
    std::abort();
  }
}

std::string Registry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, metric] : metrics_) metric->Render(&out);
  return out;
}

Counter* Counter::New(std::string name, std::string help, Labels label_names, Registry& registry) {
  return registry.Add(std::unique_ptr<Counter>(
      new Counter(std::move(name), std::move(help), std::move(label_names))));
}

void Counter::Series::Add(double amount) {
  if (!(amount >= 0)) return;  // a counter never goes down (NaN neither)
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Counter::Series* Counter::Bind(const Labels& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Series>& series = values_[values];
  if (series == nullptr) series = std::make_unique<Series>();
  return series.get();
}

double Counter::Value(const Labels& values) const {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(values);
  return it == values_.end() ? 0 : it->second->Value();
}

void Counter::Render(std::string* out) const {
  RenderHeader("counter", out);
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : values_) {
    absl::StrAppend(out, name_, LabelText(labels), " ", FormatValue(series->Value()), "\n");
  }
}

Gauge* Gauge::New(std::string name, std::string help, Labels label_names, Registry& registry) {
  return registry.Add(
      std::unique_ptr<Gauge>(new Gauge(std::move(name), std::move(help), std::move(label_names))));
}

void Gauge::Set(const Labels& values, double value) {
  absl::MutexLock lock(&mu_);
  values_[values] = value;
}

void Gauge::Add(const Labels& values, double amount) {
  absl::MutexLock lock(&mu_);
  values_[values] += amount;
}

double Gauge::Value(const Labels& values) const {
  absl::MutexLock lock(&mu_);
  auto it = values_.find(values);
  return it == values_.end() ? 0 : it->second;
}

void Gauge::SetCallback(Callback callback) {
  absl::MutexLock lock(&mu_);
  callback_ = std::move(callback);
}

void Gauge::Render(std::string* out) const {
  RenderHeader("gauge", out);
  Callback callback;
  std::map<Labels, double> values;
  {
    absl::MutexLock lock(&mu_);
    callback = callback_;
    values = values_;
  }
  if (callback) values = callback();  // outside the lock: it may be slow
  for (const auto& [labels, value] : values) {
    absl::StrAppend(out, name_, LabelText(labels), " ", FormatValue(value), "\n");
  }
}

std::vector<double> Histogram::LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

Histogram* Histogram::New(std::string name, std::string help, Labels label_names,
                          std::vector<double> bounds, Registry& registry) {
  std::sort(bounds.begin(), bounds.end());
  return registry.Add(std::unique_ptr<Histogram>(
      new Histogram(std::move(name), std::move(help), std::move(label_names), std::move(bounds))));
}

Histogram::Series::Series(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Series::Observe(double value) {
  // The first bound >= value; bounds_.size() (the last bucket) if none is.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  buckets_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Series* Histogram::Bind(const Labels& values) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Series>& series = series_[values];
  if (series == nullptr) series = std::make_unique<Series>(bounds_);
  return series.get();
}

uint64_t Histogram::Count(const Labels& values) const {
  absl::MutexLock lock(&mu_);
  auto it = series_.find(values);
  if (it == series_.end()) return 0;
  uint64_t count = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    count += it->second->buckets_[i].load(std::memory_order_relaxed);
  }
  return count;
}

void Histogram::Render(std::string* out) const {
  RenderHeader("histogram", out);
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, s] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += s->buckets_[i].load(std::memory_order_relaxed);
      absl::StrAppend(out, name_, "_bucket", LabelText(labels, "le", FormatValue(bounds_[i])), " ",
                      cumulative, "\n");
    }
    cumulative += s->buckets_[bounds_.size()].load(std::memory_order_relaxed);
    absl::StrAppend(out, name_, "_bucket", LabelText(labels, "le", "+Inf"), " ", cumulative, "\n");
    absl::StrAppend(out, name_, "_sum", LabelText(labels), " ",
                    FormatValue(s->sum_.load(std::memory_order_relaxed)), "\n");
    absl::StrAppend(out, name_, "_count", LabelText(labels), " ", cumulative, "\n");
  }
}

}  // namespace guestflow::metrics
