#include "runtime/threadpool.h"

#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MINNOW_PAUSE() _mm_pause()
#else
#define MINNOW_PAUSE() std::this_thread::yield()
#endif

namespace minnow::runtime {

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
    epoch_.fetch_add(1);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs; SMT siblings do not add decode bandwidth.
  std::ifstream f("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, phys = "0";
  while (std::getline(f, line)) {
    auto val = [&] { auto p = line.find(':'); return p == std::string::npos ? std::string() : line.substr(p + 2); };
    if (line.rfind("physical id", 0) == 0) phys = val();
    if (line.rfind("core id", 0) == 0) cores.emplace(phys, val());
  }
  int n = static_cast<int>(cores.size());
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}

void ThreadPool::do_chunk(int index) {
  const int64_t blocks = (job_n_ + job_grain_ - 1) / job_grain_;
  const int64_t b0 = blocks * index / n_threads_;
  const int64_t b1 = blocks * (index + 1) / n_threads_;
  const int64_t begin = b0 * job_grain_;
  const int64_t end = std::min(job_n_, b1 * job_grain_);
  if (begin < end) (*job_)(begin, end, index);
}

void ThreadPool::run(int64_t n, RangeFn fn, int64_t grain) {
  if (n <= 0) return;
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain < 1 ? 1 : grain;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lk(mu_);
    epoch_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load() > 0) cv_.notify_all();
  do_chunk(0);
  // Spin briefly (the usual case: workers finish within microseconds), then yield so that a worker
  // the OS has not scheduled yet (other processes on the same cores) can run.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (spins < 4000) MINNOW_PAUSE();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin a while for the next job, then sleep.
    // Spin on the next job for a while (decode issues them back to back), yielding now and then so
    // an oversubscribed machine is not starved, then sleep.
    int spins = 0;
    while (epoch_.load(std::memory_order_acquire) == seen && spins < 100000) {
      if (spins % 1024 == 1023) std::this_thread::yield();
      else MINNOW_PAUSE();
      ++spins;
    }
    if (epoch_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lk(mu_);
      sleepers_.fetch_add(1);
      cv_.wait(lk, [&] { return epoch_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = epoch_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    do_chunk(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace minnow::runtime
