// A persistent thread pool. parallel_for splits [0, n) into one contiguous range per thread; the
// calling thread takes part. Workers spin briefly between jobs (decode issues hundreds of small jobs per
// token), then sleep, so an idle pool costs no CPU.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace minnow::runtime {

// Non-owning callable reference: no allocation per job.
class RangeFn {
 public:
  template <typename F>
  RangeFn(F& f) : obj_(&f), call_([](void* o, int64_t b, int64_t e, int t) { (*static_cast<F*>(o))(b, e, t); }) {}
  void operator()(int64_t b, int64_t e, int t) const { call_(obj_, b, e, t); }

 private:
  void* obj_;
  void (*call_)(void*, int64_t, int64_t, int);
};

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  int size() const { return n_threads_; }
  // fn(begin, end, thread_index) for disjoint ranges covering [0, n). `grain`: ranges are multiples of it.
  template <typename F>
  void parallel_for(int64_t n, F&& f, int64_t grain = 1) {
    auto& ref = f;
    run(n, RangeFn(ref), grain);
  }

  static int default_threads();  // physical cores

 private:
  void run(int64_t n, RangeFn fn, int64_t grain);
  void worker(int index);
  void do_chunk(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> sleepers_{0};
  // current job
  RangeFn* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
};

}  // namespace minnow::runtime
