# node-gyp build of the SAME sources as CMakeLists.txt (`npm run build:native:gyp`; output in
# build/Release/, apart from cmake-js's build/native/). package.json has "gypfile": false so npm never
# runs it at install. ISA flags go only on the per-ISA translation units, via one static library each.
{
  "variables": {
    "mbn_defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"],
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden"],
    "cflags!": ["-fno-exceptions"],
    "xcode_settings": {"GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17"},
    "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}},
    "defines": ["<@(mbn_defines)"],
    "conditions": [
      ["target_arch=='x64'", {"defines": ["MBN_HAVE_AVX2", "MBN_HAVE_AVX512"]}],
      ["target_arch=='arm64'", {"defines": ["MBN_HAVE_NEON"]}],
    ],
  },
  "targets": [
    {
      "target_name": "mobilenet_simd",
      "sources": ["native/addon.cpp", "native/cpu.cpp", "native/executable.cpp", "native/isa/scalar.cpp"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["mbn_avx2", "mbn_avx512"]}],
        ["target_arch=='arm64'", {"sources": ["native/isa/neon.cpp"]}],
      ],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "mbn_avx2",
          "type": "static_library",
          "sources": ["native/isa/avx2.cpp"],
          "cflags_cc": ["-mavx2", "-mfma"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma"]},
          "msvs_settings": {"VCCLCompilerTool": {"EnableEnhancedInstructionSet": 5}},
        },
        {
          "target_name": "mbn_avx512",
          "type": "static_library",
          "sources": ["native/isa/avx512.cpp"],
          "cflags_cc": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
          "xcode_settings": {"OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/arch:AVX512"]}},
        },
      ],
    }],
  ],
}
