// A persistent fork-join thread pool for one Executable: task 0 runs on the calling thread, task i on
// worker i-1. Workers spin briefly after each job (steps follow each other within microseconds), then
// sleep on a condition variable so an idle model costs no CPU. One thread = no pool at all.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define MBN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define MBN_PAUSE() __asm__ __volatile__("yield")
#else
#define MBN_PAUSE() std::this_thread::yield()
#endif

namespace mbn {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
    for (int i = 1; i < threads_; i++) workers_.emplace_back([this, i] { loop(i); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_ = true;
    }
    generation_.fetch_add(1);
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // Runs fn(ctx, task) for task in [0, ntasks), ntasks <= threads(); returns when all are done.
  void run(int ntasks, void (*fn)(void*, int), void* ctx) {
    if (ntasks <= 1 || threads_ == 1) {
      for (int t = 0; t < ntasks; t++) fn(ctx, t);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    ntasks_ = ntasks;
    pending_.store(threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: publishes the job, ordered before the sleepers check
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(mutex_);
      cv_.notify_all();
    }
    fn(ctx, 0);
    while (pending_.load(std::memory_order_acquire) != 0) MBN_PAUSE();
  }

 private:
  void loop(int index) {
    unsigned seen = 0;
    for (;;) {
      unsigned g = wait_new_generation(seen);
      if (stop_) return;
      seen = g;
      if (index < ntasks_) fn_(ctx_, index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  unsigned wait_new_generation(unsigned seen) {
    auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; spins++) {
      unsigned g = generation_.load(std::memory_order_acquire);
      if (g != seen) return g;
      MBN_PAUSE();
      if ((spins & 255) == 255 &&
          std::chrono::steady_clock::now() - start > std::chrono::microseconds(kSpinMicros))
        break;
    }
    std::unique_lock<std::mutex> lk(mutex_);
    sleepers_.fetch_add(1);
    cv_.wait(lk, [&] { return generation_.load() != seen || stop_; });
    sleepers_.fetch_sub(1);
    return generation_.load();
  }

  static constexpr int kSpinMicros = 300;
  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int ntasks_ = 0;
};

}  // namespace mbn
