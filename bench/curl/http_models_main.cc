// guestflow-bench-http: the CPU one HTTP request costs the process that sends
// it, carried three ways (bench/http runs it; bench/README.md):
//
//   threads  each of --workers threads sends its request itself with
//            curl_easy_perform on a pooled handle, as guestflowd's workers do
//            (server/http/curl_http_client.cc);
//   handoff  the same threads hand each request to one thread that drives a
//            curl multi handle, and sleep until it is answered: an event loop
//            behind the plugin ABI's blocking call;
//   loop     one thread drives every request on a curl multi handle and no
//            other thread exists: what a fully asynchronous engine would pay.
//
// Every model keeps --workers requests' worth of "workers": each sends a GET
// to --url, waits for the answer, thinks for --think-ms (a step's other work,
// the cloud's latency elsewhere) and sends the next, --requests times. The
// same libcurl options for all three (those of CurlHttpClient that matter on
// plain HTTP). Prints one JSON line: the process's CPU time (getrusage) and
// context switches over the whole run, per request.
#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string url;
  std::string model = "threads";
  int workers = 64;
  int requests = 60;
  int think_ms = 80;
};

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

// A multi handle that keeps a connection for each worker, as each of the
// threads' handles does (libcurl's default keeps fewer and reconnects).
CURLM* NewMulti(const Options& options) {
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(options.workers));
  return multi;
}

// The request every model sends, on a handle that was reset.
curl_slist* Prepare(CURL* curl, const Options& options) {
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");
  headers = curl_slist_append(headers, "Content-Type:");
  curl_easy_setopt(curl, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "identity");
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "guestflowd");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Discard);
  curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  return headers;
}

[[noreturn]] void Fail(CURLcode code) {
  std::fprintf(stderr, "guestflow-bench-http: request failed: %s\n", curl_easy_strerror(code));
  std::exit(1);
}

void Think(const Options& options) {
  std::this_thread::sleep_for(std::chrono::milliseconds(options.think_ms));
}

// Handles shared by the threads, as CurlHttpClient pools them.
class HandlePool {
 public:
  ~HandlePool() {
    for (CURL* c : idle_) curl_easy_cleanup(c);
  }
  CURL* Take() {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.empty()) return curl_easy_init();
    CURL* c = idle_.back();
    idle_.pop_back();
    return c;
  }
  void Give(CURL* c) {
    curl_easy_reset(c);
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(c);
  }

 private:
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

void RunThreads(const Options& options) {
  HandlePool pool;
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < options.requests; ++i) {
        CURL* curl = pool.Take();
        curl_slist* headers = Prepare(curl, options);
        const CURLcode code = curl_easy_perform(curl);
        if (code != CURLE_OK) Fail(code);
        curl_slist_free_all(headers);
        pool.Give(curl);
        Think(options);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

// One request handed to the loop thread, and its answer.
struct Transfer {
  CURL* curl = nullptr;
  std::mutex mu;
  std::condition_variable answered;
  bool done = false;
  CURLcode code = CURLE_OK;
};

void RunHandoff(const Options& options) {
  CURLM* multi = NewMulti(options);
  std::mutex queue_mu;
  std::deque<Transfer*> queue;
  bool stopping = false;
  std::thread loop([&] {
    int running = 0;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(queue_mu);
        if (stopping && queue.empty() && running == 0) break;
        for (Transfer* t : queue) {
          curl_easy_setopt(t->curl, CURLOPT_PRIVATE, t);
          curl_multi_add_handle(multi, t->curl);
        }
        queue.clear();
      }
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
        const CURLcode code = m->data.result;
        curl_multi_remove_handle(multi, m->easy_handle);
        {
          std::lock_guard<std::mutex> lock(t->mu);
          t->code = code;
          t->done = true;
        }
        t->answered.notify_one();
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
  });
  HandlePool pool;
  std::vector<std::thread> threads;
  for (int w = 0; w < options.workers; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < options.requests; ++i) {
        Transfer t;
        t.curl = pool.Take();
        curl_slist* headers = Prepare(t.curl, options);
        {
          std::lock_guard<std::mutex> lock(queue_mu);
          queue.push_back(&t);
        }
        curl_multi_wakeup(multi);
        {
          std::unique_lock<std::mutex> lock(t.mu);
          t.answered.wait(lock, [&] { return t.done; });
        }
        if (t.code != CURLE_OK) Fail(t.code);
        curl_slist_free_all(headers);
        pool.Give(t.curl);
        Think(options);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(queue_mu);
    stopping = true;
  }
  curl_multi_wakeup(multi);
  loop.join();
  curl_multi_cleanup(multi);
}

void RunLoop(const Options& options) {
  struct Worker {
    CURL* curl = nullptr;
    curl_slist* headers = nullptr;
    Clock::time_point next;
    int sent = 0;
    bool busy = false;
  };
  CURLM* multi = NewMulti(options);
  std::vector<Worker> workers(static_cast<size_t>(options.workers));
  for (Worker& w : workers) w.curl = curl_easy_init();
  const int total = options.workers * options.requests;
  int answered = 0;
  while (answered < total) {
    const Clock::time_point now = Clock::now();
    for (size_t i = 0; i < workers.size(); ++i) {
      Worker& w = workers[i];
      if (w.busy || w.sent == options.requests || w.next > now) continue;
      curl_easy_reset(w.curl);
      w.headers = Prepare(w.curl, options);
      curl_easy_setopt(w.curl, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
      curl_multi_add_handle(multi, w.curl);
      w.busy = true;
      ++w.sent;
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      if (m->data.result != CURLE_OK) Fail(m->data.result);
      char* index = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &index);
      Worker& w = workers[reinterpret_cast<uintptr_t>(index)];
      curl_multi_remove_handle(multi, w.curl);
      curl_slist_free_all(w.headers);
      w.busy = false;
      w.next = Clock::now() + std::chrono::milliseconds(options.think_ms);
      ++answered;
    }
    // Sleep until a worker is due to send or a transfer needs the loop.
    Clock::time_point wake = Clock::now() + std::chrono::seconds(1);
    for (const Worker& w : workers) {
      if (!w.busy && w.sent < options.requests && w.next < wake) wake = w.next;
    }
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(wake - Clock::now()).count();
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(std::max<int64_t>(0, (us + 999) / 1000)),
                    nullptr);
  }
  for (Worker& w : workers) curl_easy_cleanup(w.curl);
  curl_multi_cleanup(multi);
}

double Micros(const timeval& from, const timeval& to) {
  return static_cast<double>(to.tv_sec - from.tv_sec) * 1e6 +
         static_cast<double>(to.tv_usec - from.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"guestflow-bench-http: the CPU an HTTP request costs, carried three ways"};
  app.add_option("--url", options.url, "what every request GETs")->required();
  app.add_option("--model", options.model, "threads, handoff or loop")
      ->check(CLI::IsMember({"threads", "handoff", "loop"}));
  app.add_option("--workers", options.workers, "requests in flight at most")
      ->check(CLI::Range(1, 1024));
  app.add_option("--requests", options.requests, "requests each worker sends")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--think-ms", options.think_ms, "pause between a worker's requests")
      ->check(CLI::Range(0, 60000));
  CLI11_PARSE(app, argc, argv);

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "guestflow-bench-http: libcurl initialisation failed\n");
    return 1;
  }
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const Clock::time_point start = Clock::now();
  if (options.model == "threads") {
    RunThreads(options);
  } else if (options.model == "handoff") {
    RunHandoff(options);
  } else {
    RunLoop(options);
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  const double n = static_cast<double>(options.workers) * options.requests;
  const long switches = (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw);
  std::printf(
      "{\"model\": \"%s\", \"requests\": %.0f, \"wall_s\": %.2f, \"user_us\": %.2f, "
      "\"sys_us\": %.2f, \"context_switches\": %.2f}\n",
      options.model.c_str(), n, wall, Micros(before.ru_utime, after.ru_utime) / n,
      Micros(before.ru_stime, after.ru_stime) / n, static_cast<double>(switches) / n);
  curl_global_cleanup();
  return 0;
}
