// A persistent fork-join thread pool for one Executable: the caller and the workers claim a job's tasks
// from one atomic counter. Workers spin briefly after each job (steps follow each other within
// microseconds), then sleep on a condition variable so an idle model costs no CPU. One thread = no pool.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
    for (int i = 1; i < threads_; i++) workers_.emplace_back([this] { loop(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lk(mutex_);
      stop_ = true;
      state_.fetch_add(kGenerationOne);
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // Runs fn(ctx, task) for every task in [0, ntasks) and returns when all are done. Tasks are claimed
  // dynamically (the caller claims too), so a worker the OS has not scheduled yet delays nothing:
  // on a busy machine the caller simply runs more of the tasks itself.
  void run(int ntasks, void (*fn)(void*, int), void* ctx) {
    if (ntasks <= 1 || threads_ == 1) {
      for (int t = 0; t < ntasks; t++) fn(ctx, t);
      return;
    }
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    ntasks_.store(ntasks, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    // new generation, next task 0: publishes the job (release) and is seq_cst before the sleepers check
    uint64_t gen = (state_.load(std::memory_order_relaxed) >> 32) + 1;
    state_.store(gen << 32);
    if (sleepers_.load() > 0) {
      std::lock_guard<std::mutex> lk(mutex_);
      cv_.notify_all();
    }
    work(gen);
    for (int spins = 0; done_.load(std::memory_order_acquire) != ntasks; spins++) {
      if (spins < 4096) MBN_PAUSE();
      else std::this_thread::yield();  // a claimed task's thread may share our core
    }
  }

 private:
  static constexpr uint64_t kGenerationOne = uint64_t(1) << 32;

  // Claims and runs tasks of generation `gen` until none are left or the generation moved on.
  void work(uint64_t gen) {
    for (;;) {
      uint64_t s = state_.load(std::memory_order_acquire);
      if ((s >> 32) != gen) return;
      uint32_t next = (uint32_t)s;
      // read before the claim; a successful claim proves the job (and these values) is still `gen`'s
      int ntasks = ntasks_.load(std::memory_order_relaxed);
      if ((int)next >= ntasks) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
      fn_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), (int)next);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      uint64_t gen = wait_new_generation(seen);
      if (stop_) return;
      seen = gen;
      work(gen);
    }
  }

  uint64_t wait_new_generation(uint64_t seen) {
    auto start = std::chrono::steady_clock::now();
    for (int spins = 0;; spins++) {
      uint64_t g = state_.load(std::memory_order_acquire) >> 32;
      if (g != seen) return g;
      MBN_PAUSE();
      if ((spins & 255) == 255 &&
          std::chrono::steady_clock::now() - start > std::chrono::microseconds(kSpinMicros))
        break;
    }
    std::unique_lock<std::mutex> lk(mutex_);
    sleepers_.fetch_add(1);
    cv_.wait(lk, [&] { return (state_.load() >> 32) != seen || stop_; });
    sleepers_.fetch_sub(1);
    return state_.load() >> 32;
  }

  static constexpr int kSpinMicros = 300;
  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<uint64_t> state_{0};  // generation << 32 | next unclaimed task
  std::atomic<int> done_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::atomic<void (*)(void*, int)> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<int> ntasks_{0};
};

}  // namespace mbn
