// The N-API surface (context-aware: one instance per Node environment, worker_threads included):
// contract(), cpu(), compile(program, constants, threads, isa) -> Model with run/profile/dispose.
// Each run is one AsyncWorker: the whole inference happens off the JS thread.
#include <napi.h>

#include <chrono>
#include <memory>
#include <string>

#include "contract.h"
#include "cpu.h"
#include "executable.h"

namespace mbn {
namespace {

// How JS prints a non-finite number, so the message matches the JS-side check's word for word.
std::string finite_text(float v) { return v != v ? "NaN" : v > 0 ? "Infinity" : "-Infinity"; }

Napi::Error native_error(Napi::Env env, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, "E_NATIVE"));
  return e;
}

// What a model and its running worker share. The worker holds its own reference, so it never touches the
// Model object: when a worker_thread is terminated mid-run, the environment's teardown may finalize the
// Model before the run's completion callback fires.
struct Slot {
  std::shared_ptr<Executable> exe;
  bool busy = false;
  bool dispose_after_run = false;
};

// Runs one inference (optionally timing each step) on a worker thread of the libuv pool. The JS thread
// copies the input into the arena before queueing: queued first, the woken pool thread would spin on
// the copy, and on two cores the scheduler often runs it on the JS thread's own core, stalling the copy
// it waits for (measured: Queue() returned after 120-440 us on average instead of the copy's 30).
class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, std::shared_ptr<Slot> slot, int batch, bool profile);
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

 private:
  void finish();
  void settle(bool ok);
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Slot> slot_;
  int batch_;
  bool profile_;
  std::vector<double> step_ms_;
  std::string error_message_;
  std::shared_ptr<Executable> exe_;
};

class Model : public Napi::ObjectWrap<Model> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {InstanceMethod<&Model::Run>("run"), InstanceMethod<&Model::Profile>("profile"),
                        InstanceMethod<&Model::Dispose>("dispose"), InstanceAccessor<&Model::Isa>("isa"),
                        InstanceAccessor<&Model::Threads>("threads"),
                        InstanceAccessor<&Model::Steps>("steps"),
                        InstanceAccessor<&Model::FusedBlocks>("fusedBlocks"),
                        InstanceAccessor<&Model::AbsorbedAdds>("absorbedAdds"),
                        InstanceAccessor<&Model::FusedPairs>("fusedPairs")});
  }
  explicit Model(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Model>(info), slot(std::make_shared<Slot>()) {}

  // shared with the running RunWorker: if the environment is torn down mid-run (worker_threads
  // terminate), the finalizer drops this reference but the executable lives until Execute is done
  std::shared_ptr<Slot> slot;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info, bool profile) {
    Napi::Env env = info.Env();
    if (!slot->exe) throw native_error(env, "Expected a live model, received a disposed one. Compile the plan again.");
    if (slot->busy)
      throw native_error(env, "Expected runs on one model to be serialized, received a run while another is in progress. Await the previous run (Model queues them for you).");
    if (info.Length() < 2 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !info[1].IsNumber())
      throw Napi::TypeError::New(env, "Expected run(input: Float32Array, batch: number).");
    Napi::Float32Array input = info[0].As<Napi::Float32Array>();
    double b = info[1].As<Napi::Number>().DoubleValue();
    if (!(b >= 1 && b <= 65536 && b == (int)b))
      throw Napi::RangeError::New(env, "Expected batch to be an integer in [1, 65536], received " + std::to_string(b) + ".");
    int batch = (int)b;
    if (input.ElementLength() < slot->exe->input_floats() * (size_t)batch)
      throw Napi::RangeError::New(env, "Expected an input of " + std::to_string(slot->exe->input_floats() * batch) +
                                           " floats (batch x H x W x C), received " + std::to_string(input.ElementLength()) + ".");
    std::string error;
    if (!slot->exe->reserve(batch, error)) throw native_error(env, error);
    try {
      const long long bad = slot->exe->load_input(batch, input.Data());
      if (bad >= 0) {
        // the user's input, not the addon: lib/backends/native.ts maps this code to MobileNetError E_INPUT;
        // the same message the JS-side check gives
        Napi::Error e = Napi::RangeError::New(env, "Expected finite input values, received " +
                                                       finite_text(input.Data()[bad]) + " at index " +
                                                       std::to_string(bad) + ". Check the preprocessing.");
        e.Set("code", Napi::String::New(env, "E_INPUT"));
        return rejected(env, e);
      }
    } catch (...) {
      return rejected(env, native_error(env, "Expected memory to copy the input, received an allocation failure. Free memory and retry."));
    }
    auto* w = new RunWorker(env, slot, batch, profile);
    slot->busy = true;
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }
  static Napi::Value rejected(Napi::Env env, const Napi::Error& e) {
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    d.Reject(e.Value());
    return d.Promise();
  }
  Napi::Value Run(const Napi::CallbackInfo& info) { return Start(info, false); }
  Napi::Value Profile(const Napi::CallbackInfo& info) { return Start(info, true); }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (slot->busy) slot->dispose_after_run = true;  // the worker still uses the arena: free it when it finishes
    else slot->exe.reset();
    return info.Env().Undefined();
  }
  Napi::Value Isa(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::String::New(info.Env(), slot->exe->isa()) : info.Env().Undefined();
  }
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::Number::New(info.Env(), slot->exe->threads()) : info.Env().Undefined();
  }
  Napi::Value FusedPairs(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::Number::New(info.Env(), slot->exe->fused_pairs()) : info.Env().Undefined();
  }
  Napi::Value AbsorbedAdds(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::Number::New(info.Env(), slot->exe->absorbed_adds()) : info.Env().Undefined();
  }
  Napi::Value FusedBlocks(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::Number::New(info.Env(), slot->exe->fused_blocks()) : info.Env().Undefined();
  }
  Napi::Value Steps(const Napi::CallbackInfo& info) {
    return slot->exe ? Napi::Number::New(info.Env(), (double)slot->exe->step_count()) : info.Env().Undefined();
  }
};

RunWorker::RunWorker(Napi::Env env, std::shared_ptr<Slot> slot, int batch, bool profile)
    : Napi::AsyncWorker(env, "mobilenet_simd:run"),
      deferred_(Napi::Promise::Deferred::New(env)),
      slot_(std::move(slot)),
      batch_(batch),
      profile_(profile),
      exe_(slot_->exe) {
  if (profile_) step_ms_.resize(exe_->step_count());
}

void RunWorker::Execute() { exe_->run(batch_, nullptr, profile_ ? step_ms_.data() : nullptr); }

void RunWorker::finish() {
  slot_->busy = false;
  if (slot_->dispose_after_run) slot_->exe.reset();
}

// Builds the outputs and resolves (or rejects) the promise. When the environment is being torn down
// (worker.terminate() while this run was on the pool), every N-API call fails and node-addon-api throws;
// nobody is left to receive the result, so the run ends quietly instead of letting the exception escape
// the completion callback (std::terminate: the whole process aborted).
void RunWorker::settle(bool ok) {
  finish();
  try {
    Napi::Env env = Env();
    if (!ok) {
      deferred_.Reject(native_error(env, error_message_).Value());
      return;
    }
    Executable& exe = *exe_;
    Napi::Array outputs = Napi::Array::New(env, exe.output_count());
    for (int k = 0; k < exe.output_count(); k++) {
      size_t n = exe.output_floats(k, batch_);
      Napi::Float32Array a = Napi::Float32Array::New(env, n);
      std::memcpy(a.Data(), exe.output(k, batch_), n * sizeof(float));
      outputs.Set((uint32_t)k, a);
    }
    Napi::Value result = outputs;
    if (profile_) {
      Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, step_ms_.size() * sizeof(double));
      std::memcpy(buf.Data(), step_ms_.data(), step_ms_.size() * sizeof(double));
      Napi::Object o = Napi::Object::New(env);
      o.Set("outputs", outputs);
      o.Set("stepMs", Napi::Float64Array::New(env, step_ms_.size(), buf, 0));
      result = o;
    }
    deferred_.Resolve(result);
  } catch (...) {
  }
}

void RunWorker::OnOK() { settle(true); }

void RunWorker::OnError(const Napi::Error& e) {
  try {
    error_message_ = e.Message();
  } catch (...) {
  }
  settle(false);
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    model_ctor_ = Napi::Persistent(Model::Define(env));
    DefineAddon(exports, {InstanceMethod<&Addon::Contract>("contract"), InstanceMethod<&Addon::Cpu>("cpu"),
                          InstanceMethod<&Addon::Compile>("compile"),
                          InstanceMethod<&Addon::Peak>("peak")});
  }

 private:
  Napi::FunctionReference model_ctor_;

  Napi::Value Contract(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto group = [&](const char* name, std::initializer_list<std::pair<const char*, int>> items) {
      Napi::Object g = Napi::Object::New(env);
      for (auto& it : items) g.Set(it.first, it.second);
      o.Set(name, g);
    };
    group("Op", {{"conv2d", OP_conv2d}, {"dwconv", OP_dwconv}, {"pwconv", OP_pwconv}, {"add", OP_add},
                 {"gavgpool", OP_gavgpool}, {"scale", OP_scale}, {"softmax", OP_softmax}, {"affine", OP_affine},
                 {"lookup", OP_lookup}});
    group("Act", {{"none", ACT_none}, {"hswish", ACT_hswish}, {"hsigmoid", ACT_hsigmoid}, {"sigmoid", ACT_sigmoid}});
    group("Header", {{"magic", H_magic}, {"version", H_version}, {"stepCount", H_stepCount},
                     {"arenaFloatsPerImage", H_arenaFloatsPerImage}, {"inputOffset", H_inputOffset},
                     {"inputFloatsPerImage", H_inputFloatsPerImage}, {"outputCount", H_outputCount},
                     {"outputs", H_outputs}});
    group("Param", {{"op", P_op}, {"act", P_act}, {"in0", P_in0}, {"in1", P_in1}, {"out", P_out}, {"inH", P_inH},
                    {"inW", P_inW}, {"inC", P_inC}, {"outH", P_outH}, {"outW", P_outW}, {"outC", P_outC},
                    {"kH", P_kH}, {"kW", P_kW}, {"strideH", P_strideH}, {"strideW", P_strideW},
                    {"padTop", P_padTop}, {"padLeft", P_padLeft}, {"weights", P_weights}, {"bias", P_bias},
                    {"paramLen", P_paramLen}, {"min", P_min}, {"max", P_max}, {"beta", P_beta},
                    {"reserved", P_reserved}});
    group("constants", {{"MAX_OUTPUTS", MAX_OUTPUTS}, {"HEADER_WORDS", HEADER_WORDS}, {"STEP_WORDS", STEP_WORDS},
                        {"PROGRAM_MAGIC", PROGRAM_MAGIC}, {"PROGRAM_VERSION", PROGRAM_VERSION},
                        {"CONSTANT_ALIGN_FLOATS", CONSTANT_ALIGN_FLOATS}, {"ARENA_ALIGN_FLOATS", ARENA_ALIGN_FLOATS}});
    return o;
  }

  // { isas: [{name, available, reason}], best } in preference order.
  Napi::Value Cpu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = Napi::Array::New(env);
    std::string best;
    uint32_t i = 0;
    for (const IsaEntry& e : isa_entries()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", e.name);
      o.Set("available", e.cpu_ok);
      if (!e.cpu_ok) o.Set("reason", e.why_not);
      list.Set(i++, o);
      if (e.cpu_ok && best.empty()) best = e.name;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("isas", list);
    r.Set("best", best);
    return r;
  }

  // compile(program: Int32Array, constants: Float32Array, threads: number, isa: string, fuse?: 'auto'|'all'|'off')
  // peak(isa, iters) -> GFLOP/s of one thread running the ISA's FMA probe (the caller repeats and takes the best).
  Napi::Value Peak(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
      throw Napi::TypeError::New(env, "Expected peak(isa: string, iterations: number).");
    std::string error;
    const KernelTable* table = find_isa(info[0].As<Napi::String>().Utf8Value(), error);
    if (!table) throw native_error(env, error);
    double iters = info[1].As<Napi::Number>().DoubleValue();
    if (!(iters >= 1 && iters <= 1e10)) throw Napi::RangeError::New(env, "Expected iterations in [1, 1e10].");
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = table->peak((long)iters);
    (void)sink;
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return Napi::Number::New(env, iters * 16.0 * table->lanes * 2.0 / seconds / 1e9);
  }

  Napi::Value Compile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
        !info[3].IsString() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw Napi::TypeError::New(env, "Expected compile(program: Int32Array, constants: Float32Array, threads: number, isa: string).");
    Napi::Int32Array program = info[0].As<Napi::Int32Array>();
    Napi::Float32Array constants = info[1].As<Napi::Float32Array>();
    double t = info[2].As<Napi::Number>().DoubleValue();
    std::string isa = info[3].As<Napi::String>().Utf8Value();
    if (!(t >= 1 && t <= 256 && t == (int)t))
      throw Napi::RangeError::New(env, "Expected threads to be an integer in [1, 256], received " + std::to_string(t) + ".");
    std::string error;
    const KernelTable* table = find_isa(isa, error);
    if (!table) throw native_error(env, error);
    std::string fuse = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "auto";
    std::unique_ptr<Executable> exe = Executable::compile(program.Data(), program.ElementLength(), constants.Data(),
                                                          constants.ElementLength(), table, (int)t, error, fuse.c_str());
    if (!exe) throw native_error(env, "Invalid program: " + error + ". The plan is corrupt or from another version; re-plan the graph.");
    Napi::Object obj = model_ctor_.New({});
    Model::Unwrap(obj)->slot->exe = std::move(exe);
    return obj;
  }
};

}  // namespace
}  // namespace mbn

using MobilenetSimdAddon = mbn::Addon;
NODE_API_ADDON(MobilenetSimdAddon)
