// This machine's roofs: peak arithmetic per precision and streaming memory
// bandwidth, measured once and cached as a flat JSON file.
#include <cpuinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <time.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "analysis/microkernels.h"
#include "edgeflow/analysis.h"

namespace ef {

namespace {

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Runs fn(t) on `n` threads released together; returns each thread's CPU
// seconds. Rates per CPU second of each thread are what the core does while
// it runs our code: other processes on a shared machine take turns on the
// core but do not lower them (they still compete for memory bandwidth).
// Summed over threads they give the all-threads rate, also with SMT siblings
// sharing one core's units.
template <class F>
std::vector<double> run_threads(int n, F&& fn) {
  std::vector<double> cpu(n);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto body = [&](int t) {
    double c0 = thread_cpu_seconds();
    fn(t);
    cpu[t] = std::max(thread_cpu_seconds() - c0, 1e-9);
  };
  std::vector<std::thread> ts;
  for (int t = 1; t < n; ++t)
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  while (ready.load() < n - 1) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  body(0);
  for (auto& t : ts) t.join();
  return cpu;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return b;
}

size_t last_level_cache_bytes() {
  if (cpuinfo_get_l3_caches_count() > 0) return cpuinfo_get_l3_cache(0)->size;
  if (cpuinfo_get_l2_caches_count() > 0) return cpuinfo_get_l2_cache(0)->size;
  return size_t(32) << 20;
}

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, AlignedFree>;
Buffer alloc_floats(size_t n) {
  void* p = std::aligned_alloc(64, n * sizeof(float));
  if (!p) throw Error("measure-machine: cannot allocate " + human_bytes(double(n * sizeof(float))) + " for the bandwidth test");
  return Buffer(static_cast<float*>(p));
}

constexpr int kRepeats = 5;  // best of: the peak is what the machine can do when nobody interferes
}  // namespace

MachineRoofs measure_machine(int threads, const std::function<void(const std::string&)>& log) {
  auto say = [&](const std::string& s) {
    if (log) log(s);
  };
  const analysis::Isa isa = analysis::detect_isa();
  MachineRoofs m;
  m.threads = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  m.isa = isa.str();
  if (cpuinfo_initialize() && cpuinfo_get_packages_count() > 0) m.cpu = cpuinfo_get_package(0)->name;
  if (m.cpu.empty()) m.cpu = "unknown CPU";
  m.load = load_average();
  m.measured = utc_now();

  // ---- peak arithmetic: size one run to ~0.1 s, best of kRepeats.
  for (const char* prec : {"fp32", "fp16", "bf16", "int8"}) {
    Rate& r = std::string(prec) == "fp32" ? m.fp32 : std::string(prec) == "fp16" ? m.fp16
             : std::string(prec) == "bf16" ? m.bf16 : m.int8;
    const double c0 = thread_cpu_seconds();
    if (analysis::peak_kernel(prec, 20000, isa) == 0) {
      say(std::string(prec) + ": not available on this CPU");
      continue;
    }
    const double s = thread_cpu_seconds() - c0;
    const int64_t iters = std::max<int64_t>(1000, int64_t(20000 * 0.1 / std::max(s, 1e-6)));
    for (int rep = 0; rep < kRepeats; ++rep) {
      double ops = 0;
      auto sec = run_threads(1, [&](int) { ops = analysis::peak_kernel(prec, iters, isa); });
      r.one = std::max(r.one, ops / sec[0] / 1e9);
      std::vector<double> per(m.threads);
      sec = run_threads(m.threads, [&](int t) { per[t] = analysis::peak_kernel(prec, iters, isa); });
      double total = 0;
      for (int t = 0; t < m.threads; ++t) total += per[t] / sec[t] / 1e9;
      r.all = std::max(r.all, total);
    }
    char b[160];
    std::snprintf(b, sizeof b, "%s peak: %.1f G%s/s on 1 thread, %.1f on %d threads", prec, r.one,
                  std::string(prec) == "int8" ? "OP" : "FLOP", r.all, m.threads);
    say(b);
  }

  // ---- streaming bandwidth: each pass touches at least twice the last-level cache.
  size_t per_array = std::clamp<size_t>(last_level_cache_bytes(), size_t(64) << 20, size_t(1) << 30);
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) per_array = std::min(per_array, size_t(pages) * size_t(page) / 12);
  const size_t n = per_array / sizeof(float) / (64 * size_t(m.threads)) * 64 * size_t(m.threads);
  m.buffer_mib = 3.0 * double(n * sizeof(float)) / (1 << 20);
  Buffer a = alloc_floats(n), b = alloc_floats(n), c = alloc_floats(n);
  const size_t chunk = n / size_t(m.threads);
  run_threads(m.threads, [&](int t) {  // first touch by the threads that use the pages
    for (size_t i = t * chunk; i < (t + 1) * chunk; ++i) a.get()[i] = 1.f, b.get()[i] = 2.f, c.get()[i] = 3.f;
  });
  const double bytes = double(n * sizeof(float));
  volatile float sink = 0;
  for (int nt : {1, m.threads}) {
    const size_t ch = n / size_t(nt);
    for (int rep = 0; rep < 3; ++rep) {
      // read a and b (2 arrays), copy b -> a (read + write), triad a = b + s*c (2 reads + 1 write)
      // GB/s summed over threads, each thread's share of the bytes over its CPU time
      auto rate = [&](double bytes_per_thread, const std::vector<double>& sec) {
        double r = 0;
        for (double s : sec) r += bytes_per_thread / s / 1e9;
        return r;
      };
      const double share = bytes / nt;
      std::vector<float> sums(nt);
      double read = rate(2 * share, run_threads(nt, [&](int t) {
        sums[t] = analysis::read_kernel(a.get() + t * ch, ch, isa) + analysis::read_kernel(b.get() + t * ch, ch, isa);
      }));
      sink = sink + sums[0];
      double copy = rate(2 * share, run_threads(nt, [&](int t) {
        analysis::copy_kernel(a.get() + t * ch, b.get() + t * ch, ch);
      }));
      double triad = rate(3 * share, run_threads(nt, [&](int t) {
        analysis::triad_kernel(a.get() + t * ch, b.get() + t * ch, c.get() + t * ch, 0.5f, ch, isa);
      }));
      Rate* rs[] = {&m.read, &m.copy, &m.triad};
      double vs[] = {read, copy, triad};
      for (int k = 0; k < 3; ++k) {
        double& slot = nt == 1 ? rs[k]->one : rs[k]->all;
        slot = std::max(slot, vs[k]);
      }
      if (m.threads == 1) m.read.all = m.read.one, m.copy.all = m.copy.one, m.triad.all = m.triad.one;
    }
    if (m.threads == 1) break;
  }
  // ---- cache: each thread re-reads its own buffer of half the L2
  size_t l2 = cpuinfo_get_l2_caches_count() > 0 ? cpuinfo_get_l2_cache(0)->size : size_t(1) << 20;
  const size_t cn = std::max<size_t>(64, l2 / 2 / sizeof(float) / 64 * 64);
  std::vector<Buffer> cbuf;
  for (int t = 0; t < m.threads; ++t) {
    cbuf.push_back(alloc_floats(cn));
    std::fill(cbuf.back().get(), cbuf.back().get() + cn, 1.f);
  }
  const int passes = int(std::max<size_t>(4, (size_t(256) << 20) / (cn * sizeof(float))));
  for (int nt : {1, m.threads}) {
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<float> sums(nt);
      auto sec = run_threads(nt, [&](int t) {
        for (int p = 0; p < passes; ++p) sums[t] += analysis::read_kernel(cbuf[t].get(), cn, isa);
      });
      sink = sink + sums[0];
      double r = 0;
      for (double s : sec) r += double(passes) * double(cn * sizeof(float)) / s / 1e9;
      double& slot = nt == 1 ? m.cache_read.one : m.cache_read.all;
      slot = std::max(slot, r);
    }
  }
  if (m.threads == 1) m.cache_read.all = m.cache_read.one;

  char buf[200];
  std::snprintf(buf, sizeof buf, "bandwidth (%.0f MiB buffers): read %.1f / copy %.1f / triad %.1f GB/s on 1 thread",
                m.buffer_mib, m.read.one, m.copy.one, m.triad.one);
  say(buf);
  std::snprintf(buf, sizeof buf, "bandwidth: read %.1f / copy %.1f / triad %.1f GB/s on %d threads", m.read.all,
                m.copy.all, m.triad.all, m.threads);
  say(buf);
  std::snprintf(buf, sizeof buf, "L2 read (%.0f KiB per thread): %.1f GB/s on 1 thread, %.1f on %d threads",
                double(cn * sizeof(float)) / 1024, m.cache_read.one, m.cache_read.all, m.threads);
  say(buf);
  return m;
}

namespace {
double at_threads(const Rate& r, int t, int max_threads) {
  if (t <= 1 || max_threads <= 1) return r.one;
  if (t >= max_threads) return r.all;
  return r.one + (r.all - r.one) * double(t - 1) / double(max_threads - 1);
}
}  // namespace

double MachineRoofs::peak_gflops(const std::string& precision, int t) const {
  const Rate* r = &fp32;
  if (precision == "fp16" && fp16.one > 0) r = &fp16;
  if (precision == "bf16" && bf16.one > 0) r = &bf16;
  if (precision == "int8" && int8.one > 0) r = &int8;
  return at_threads(*r, t, threads);
}

double MachineRoofs::bandwidth_gbs(int t) const { return at_threads(triad, t, threads); }
double MachineRoofs::cache_gbs(int t) const { return at_threads(cache_read, t, threads); }

double load_average() {
  double l = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = 0;
    std::fclose(f);
  }
  return l;
}

// ---- JSON: one flat object of numbers and strings.

namespace {
const char* kRateKeys[][2] = {{"fp32_gflops", "fp32"}, {"fp16_gflops", "fp16"}, {"bf16_gflops", "bf16"},
                              {"int8_gops", "int8"},   {"read_gbs", "read"},   {"copy_gbs", "copy"},
                              {"triad_gbs", "triad"},  {"l2_read_gbs", "cache_read"}};
Rate& rate_of(MachineRoofs& m, const std::string& k) {
  if (k == "fp32") return m.fp32;
  if (k == "fp16") return m.fp16;
  if (k == "bf16") return m.bf16;
  if (k == "int8") return m.int8;
  if (k == "read") return m.read;
  if (k == "copy") return m.copy;
  if (k == "cache_read") return m.cache_read;
  return m.triad;
}

std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (c == '\n') o += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o + "\"";
}

struct JsonValue {
  bool is_string = false;
  std::string s;
  double num = 0;
};

// Parses {"key": number|"string", ...}; throws naming `src` and the position.
std::map<std::string, JsonValue> parse_flat_json(const std::string& t, const std::string& src) {
  size_t i = 0;
  auto fail = [&](const std::string& what) -> void {
    throw Error(src + ": not a machine file (" + what + " at byte " + std::to_string(i) + ")");
  };
  auto ws = [&] {
    while (i < t.size() && std::isspace(static_cast<unsigned char>(t[i]))) ++i;
  };
  auto str = [&]() {
    if (t[i] != '"') fail("expected a string");
    std::string s;
    for (++i; i < t.size() && t[i] != '"'; ++i) {
      if (t[i] == '\\') {
        if (++i >= t.size()) break;
        s += t[i] == 'n' ? '\n' : t[i];
      } else {
        s += t[i];
      }
    }
    if (i >= t.size()) fail("unterminated string");
    ++i;
    return s;
  };
  std::map<std::string, JsonValue> m;
  ws();
  if (i >= t.size() || t[i] != '{') fail("expected '{'");
  ++i;
  ws();
  if (i < t.size() && t[i] == '}') return m;
  while (true) {
    ws();
    if (i >= t.size()) fail("unexpected end");
    std::string key = str();
    ws();
    if (i >= t.size() || t[i] != ':') fail("expected ':' after \"" + key + "\"");
    ++i;
    ws();
    if (i >= t.size()) fail("unexpected end");
    JsonValue v;
    if (t[i] == '"') {
      v.is_string = true;
      v.s = str();
    } else {
      const char* b = t.c_str() + i;
      char* e = nullptr;
      v.num = std::strtod(b, &e);
      if (e == b) fail("bad value for \"" + key + "\"");
      i += size_t(e - b);
    }
    m[key] = v;
    ws();
    if (i < t.size() && t[i] == ',') {
      ++i;
      continue;
    }
    if (i < t.size() && t[i] == '}') {
      ++i;
      break;
    }
    fail("expected ',' or '}'");
  }
  ws();
  if (i != t.size()) fail("trailing characters");
  return m;
}
}  // namespace

std::string machine_to_json(const MachineRoofs& m) {
  std::ostringstream o;
  o.precision(6);
  o << "{\n  \"version\": 1,\n  \"cpu\": " << json_string(m.cpu) << ",\n  \"isa\": " << json_string(m.isa)
    << ",\n  \"threads\": " << m.threads << ",\n";
  MachineRoofs& mm = const_cast<MachineRoofs&>(m);
  for (auto& k : kRateKeys) {
    const Rate& r = rate_of(mm, k[1]);
    o << "  \"" << k[0] << "_1t\": " << r.one << ",\n  \"" << k[0] << "_all\": " << r.all << ",\n";
  }
  o << "  \"buffer_mib\": " << m.buffer_mib << ",\n  \"measured\": " << json_string(m.measured)
    << ",\n  \"load\": " << m.load << "\n}\n";
  return o.str();
}

MachineRoofs machine_from_json(const std::string& text, const std::string& src) {
  auto kv = parse_flat_json(text, src);
  auto num = [&](const std::string& k, bool required) -> double {
    auto it = kv.find(k);
    if (it == kv.end()) {
      if (required) throw Error(src + ": machine file lacks \"" + k + "\" (measure again with --measure-machine)");
      return 0;
    }
    if (it->second.is_string || !std::isfinite(it->second.num) || it->second.num < 0)
      throw Error(src + ": \"" + k + "\" must be a non-negative number");
    return it->second.num;
  };
  auto text_of = [&](const std::string& k) {
    auto it = kv.find(k);
    return it != kv.end() && it->second.is_string ? it->second.s : std::string();
  };
  if (num("version", true) != 1) throw Error(src + ": machine file version " + std::to_string(int(num("version", true))) + " is not 1");
  MachineRoofs m;
  m.cpu = text_of("cpu");
  m.isa = text_of("isa");
  double th = num("threads", true);
  if (th < 1 || th != std::floor(th)) throw Error(src + ": \"threads\" must be a whole number >= 1");
  m.threads = int(th);
  for (auto& k : kRateKeys) {
    const bool required = std::string(k[1]) == "fp32" || std::string(k[1]) == "triad";
    Rate& r = rate_of(m, k[1]);
    r.one = num(std::string(k[0]) + "_1t", required);
    r.all = num(std::string(k[0]) + "_all", required);
  }
  if (m.fp32.one <= 0 || m.triad.one <= 0) throw Error(src + ": fp32 peak and triad bandwidth must be positive");
  m.buffer_mib = num("buffer_mib", false);
  m.measured = text_of("measured");
  m.load = num("load", false);
  return m;
}

void save_machine(const MachineRoofs& m, const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << machine_to_json(m);
  f.close();
  if (!f) throw Error(path + ": cannot write the machine file");
}

MachineRoofs load_machine(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read the machine file (measure it with: edgeflow analyze --measure-machine --machine " + path + ")");
  std::stringstream ss;
  ss << f.rdbuf();
  return machine_from_json(ss.str(), path);
}

std::string default_machine_cache() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/edgeflow/machine.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/edgeflow/machine.json";
  return ".cache/edgeflow/machine.json";
}

}  // namespace ef
