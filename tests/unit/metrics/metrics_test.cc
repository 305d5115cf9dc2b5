// The metrics library renders the Prometheus text format exactly, and an
// independent parser (tests/support/check_prometheus_text.py, Debian's
// python3-prometheus-client) accepts what it renders.
#include "server/metrics/metrics.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "server/metrics/metrics_server.h"

namespace guestflow::metrics {
namespace {

using ::testing::HasSubstr;

// Runs the independent checker on `text`; its exit status and output.
std::pair<int, std::string> CheckWithParser(const std::string& text) {
  char path[] = "/tmp/gf-metrics-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string command = std::string(CHECK_PROMETHEUS_TEXT) + " " + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  std::remove(path);
  return {WEXITSTATUS(status), out};
}

TEST(MetricsTest, CountersAndGaugesRenderTheirSamples) {
  Registry registry;
  Counter* c = Counter::New("test_requests_total", "Requests.", {"method", "code"}, registry);
  Gauge* g = Gauge::New("test_depth", "Depth.", {}, registry);
  c->Add({"Get", "OK"});
  c->Add({"Get", "OK"}, 2);
  c->Add({"Start", "NOT_FOUND"});
  c->Add({"Start", "NOT_FOUND"}, -5);  // ignored: counters only go up
  g->Set({}, 7);
  g->Add({}, -2.5);
  EXPECT_EQ(c->Value({"Get", "OK"}), 3);
  EXPECT_EQ(registry.Render(),
            "# HELP test_depth Depth.\n"
            "# TYPE test_depth gauge\n"
            "test_depth 4.5\n"
            "# HELP test_requests_total Requests.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"Get\",code=\"OK\"} 3\n"
            "test_requests_total{method=\"Start\",code=\"NOT_FOUND\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  Histogram* h = Histogram::New("test_seconds", "Latency.", {"step"}, {0.1, 1, 0.5}, registry);
  for (double v : {0.05, 0.1, 0.3, 0.7, 5.0}) h->Observe({"invite"}, v);
  EXPECT_EQ(h->Count({"invite"}), 5u);
  EXPECT_EQ(registry.Render(),
            "# HELP test_seconds Latency.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{step=\"invite\",le=\"0.1\"} 2\n"
            "test_seconds_bucket{step=\"invite\",le=\"0.5\"} 3\n"
            "test_seconds_bucket{step=\"invite\",le=\"1\"} 4\n"
            "test_seconds_bucket{step=\"invite\",le=\"+Inf\"} 5\n"
            "test_seconds_sum{step=\"invite\"} 6.15\n"
            "test_seconds_count{step=\"invite\"} 5\n");
}

TEST(MetricsTest, ABoundSeriesIsTheSampleItsLabelsName) {
  Registry registry;
  Counter* c = Counter::New("test_requests_total", "Requests.", {"method", "code"}, registry);
  Histogram* h = Histogram::New("test_seconds", "Latency.", {"method"}, {0.1, 1}, registry);
  Counter::Series* ok = c->Bind({"Get", "OK"});
  EXPECT_EQ(c->Bind({"Get", "OK"}), ok);
  EXPECT_NE(c->Bind({"Get", "NOT_FOUND"}), ok);
  ok->Add();
  ok->Add(-1);  // ignored: counters only go up
  c->Add({"Get", "OK"}, 2);
  EXPECT_EQ(ok->Value(), 3);
  EXPECT_EQ(c->Value({"Get", "OK"}), 3);
  Histogram::Series* get = h->Bind({"Get"});
  EXPECT_EQ(h->Bind({"Get"}), get);
  get->Observe(0.05);
  get->Observe(7);
  h->Observe({"Get"}, 0.5);
  EXPECT_EQ(h->Count({"Get"}), 3u);
  EXPECT_THAT(registry.Render(),
              HasSubstr("test_requests_total{method=\"Get\",code=\"NOT_FOUND\"} 0\n"
                        "test_requests_total{method=\"Get\",code=\"OK\"} 3\n"));
  EXPECT_THAT(registry.Render(), HasSubstr("test_seconds_bucket{method=\"Get\",le=\"0.1\"} 1\n"
                                           "test_seconds_bucket{method=\"Get\",le=\"1\"} 2\n"
                                           "test_seconds_bucket{method=\"Get\",le=\"+Inf\"} 3\n"
                                           "test_seconds_sum{method=\"Get\"} 7.55\n"
                                           "test_seconds_count{method=\"Get\"} 3\n"));
}

// Bound series are added to without a lock: from many threads at once, no
// addition is lost, and a scrape meanwhile sees a +Inf bucket equal to the
// count.
TEST(MetricsTest, BoundSeriesLoseNothingUnderConcurrentUse) {
  Registry registry;
  Counter* c = Counter::New("test_total", "Calls.", {}, registry);
  Histogram* h = Histogram::New("test_seconds", "Latency.", {}, {1}, registry);
  Counter::Series* calls = c->Bind({});
  Histogram::Series* latency = h->Bind({});
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string text = registry.Render();
      const size_t inf = text.find("le=\"+Inf\"} ");
      const size_t count = text.find("test_seconds_count ");
      ASSERT_NE(inf, std::string::npos);
      ASSERT_NE(count, std::string::npos);
      EXPECT_EQ(std::stoull(text.substr(inf + 10)), std::stoull(text.substr(count + 19)));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        calls->Add();
        latency->Observe(i % 2 == 0 ? 0.5 : 2.0 + t);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(c->Value({}), kThreads * kEach);
  EXPECT_EQ(h->Count({}), static_cast<uint64_t>(kThreads * kEach));
  EXPECT_THAT(registry.Render(), HasSubstr(absl::StrCat("test_seconds_bucket{le=\"1\"} ",
                                                        kThreads * kEach / 2, "\n")));
  // 0.5 and 2 to 5 are exact in binary, and so is every partial sum.
  EXPECT_THAT(registry.Render(), HasSubstr("test_seconds_sum 160000\n"));
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry registry;
  Counter* c = Counter::New("test_total", "Back\\slash and\nnewline.", {"v"}, registry);
  c->Add({"a\"b\\c\nd"});
  EXPECT_EQ(registry.Render(),
            "# HELP test_total Back\\\\slash and\\nnewline.\n"
            "# TYPE test_total counter\n"
            "test_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
  const auto [status, out] = CheckWithParser(registry.Render());
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr(R"("labels": {"v": "a\"b\\c\nd"})"));
}

TEST(MetricsTest, ValuesAreWrittenAsPrometheusReadsThem) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(-2), "-2");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ACallbackGaugeIsCountedAtEachScrape) {
  Registry registry;
  Gauge* g = Gauge::New("test_onboardings", "By state.", {"tenant", "state"}, registry);
  int scrapes = 0;
  g->SetCallback([&scrapes] {
    ++scrapes;
    return std::map<Labels, double>{{{"contoso", "QUEUED"}, double(scrapes)}};
  });
  EXPECT_THAT(registry.Render(),
              HasSubstr("test_onboardings{tenant=\"contoso\",state=\"QUEUED\"} 1\n"));
  EXPECT_THAT(registry.Render(),
              HasSubstr("test_onboardings{tenant=\"contoso\",state=\"QUEUED\"} 2\n"));
  g->SetCallback(nullptr);
  g->Set({"fabrikam", "FAILED"}, 4);
  EXPECT_THAT(registry.Render(),
              HasSubstr("test_onboardings{tenant=\"fabrikam\",state=\"FAILED\"} 4\n"));
}

TEST(MetricsTest, TheIndependentParserAcceptsEveryKindAndRejectsBrokenText) {
  Registry registry;
  Counter::New("test_total", "C.", {"a"}, registry)->Add({"x"}, 2);
  Gauge::New("test_gauge", "G.", {}, registry)->Set({}, -1.5);
  Histogram::New("test_seconds", "H.", {"a"}, Histogram::LatencyBuckets(), registry)
      ->Observe({"x"}, 0.2);
  Gauge::New("test_empty", "No samples yet.", {"a"}, registry);
  const auto [status, out] = CheckWithParser(registry.Render());
  EXPECT_EQ(status, 0) << out;
  EXPECT_THAT(out, HasSubstr(R"({"name": "test_total", "labels": {"a": "x"}, "value": 2.0})"));
  EXPECT_THAT(out, HasSubstr(R"({"name": "test_gauge", "labels": {}, "value": -1.5})"));
  // The checker does fail: a sample without its TYPE, and non-cumulative buckets.
  EXPECT_EQ(CheckWithParser("orphan_total 1\n").first, 1);
  EXPECT_EQ(CheckWithParser("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n"
                            "h_sum 1\nh_count 2\n")
                .first,
            1);
  EXPECT_EQ(CheckWithParser("# TYPE g gauge\ng{a=\"unterminated} 1\n").first, 1);
}

TEST(MetricsServerTest, ServesTheRegistryAtSlashMetricsOnly) {
  Registry registry;
  Counter::New("test_total", "C.", {}, registry)->Add({}, 1);
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(res->body, HasSubstr("test_total 1\n"));
  auto other = client.Get("/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  // A taken port is an error, not a silent second server.
  absl::StatusOr<std::unique_ptr<MetricsServer>> second =
      MetricsServer::Start("127.0.0.1:" + std::to_string((*server)->port()), registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(MetricsServer::Start("nonsense", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsDeathTest, TwoMetricsOfOneNameAbort) {
  Registry registry;
  Counter::New("test_twice_total", "Once.", {}, registry);
  EXPECT_DEATH(Counter::New("test_twice_total", "Twice.", {}, registry), "defined twice");
}

}  // namespace
}  // namespace guestflow::metrics
