// The CI twin of libFuzzer's main(): links with a fuzz target's LLVMFuzzerTestOneInput in the normal
// (GCC, ASan+UBSan) build, so every target runs in CTest without a second, clang build of the project.
//
//   fuzz_<target> [--mutations=N] [--seed=S] [--max-len=BYTES] PATH...
//
// Each PATH is a file or a directory of files (the target's seed corpus and the crash inputs kept as
// regression tests). Every input is run once as it is; then N inputs are derived from them with a fixed
// seed (bit flips, byte overwrites with boundary values, inserted, erased and duplicated ranges, splices of
// two inputs), so a CI run is deterministic and replays exactly. Real coverage-guided fuzzing is
// scripts/fuzz, which builds the same target files against libFuzzer. A crash aborts the process (ASan,
// UBSan or an assertion), failing the test; the input that caused it is written to
// fuzz-crash-<target>.bin in the working directory first.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Options {
  std::uint64_t mutations = 2000;
  std::uint64_t seed = 1;
  std::size_t max_len_bytes = 64 * 1024;
  std::vector<std::string> paths;
};

std::string g_crash_file = "fuzz-crash.bin";

bool read_file(const std::filesystem::path& p, Bytes* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// Saved before each derived input runs, so the input that crashed survives the abort.
void save_current(const Bytes& b) {
  std::ofstream out(g_crash_file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<Bytes> load_corpus(const std::vector<std::string>& paths) {
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file()) files.push_back(e.path());
    } else if (std::filesystem::exists(p)) {
      files.emplace_back(p);
    }
  }
  std::sort(files.begin(), files.end());  // directory order is not deterministic
  std::vector<Bytes> corpus;
  for (const auto& f : files) {
    Bytes b;
    if (read_file(f, &b)) corpus.push_back(std::move(b));
  }
  return corpus;
}

class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : rng_(seed) {}

  Bytes derive(const std::vector<Bytes>& corpus, std::size_t max_len) {
    Bytes b = corpus.empty() ? Bytes{} : corpus[below(corpus.size())];
    std::size_t steps = 1 + below(4);
    for (std::size_t i = 0; i < steps; ++i)
      mutate_once(b, corpus);
    if (b.size() > max_len) b.resize(max_len);
    return b;
  }

 private:
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(rng_() % n); }
  std::uint8_t byte() { return static_cast<std::uint8_t>(rng_()); }

  void mutate_once(Bytes& b, const std::vector<Bytes>& corpus) {
    static constexpr std::uint8_t kBoundary[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20};
    switch (below(b.empty() ? 1 : 7)) {
      case 0: {  // insert a few random bytes
        std::size_t at = below(b.size() + 1), n = 1 + below(8);
        Bytes ins(n);
        for (auto& c : ins)
          c = byte();
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
        break;
      }
      case 1:
        b[below(b.size())] ^= static_cast<std::uint8_t>(1u << below(8));
        break;
      case 2:
        b[below(b.size())] = kBoundary[below(std::size(kBoundary))];
        break;
      case 3:
        b[below(b.size())] = byte();
        break;
      case 4: {  // erase a range
        std::size_t at = below(b.size()), n = 1 + below(std::min<std::size_t>(16, b.size() - at));
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + n));
        break;
      }
      case 5: {  // duplicate a range
        std::size_t at = below(b.size()), n = 1 + below(std::min<std::size_t>(64, b.size() - at));
        Bytes piece(b.begin() + static_cast<std::ptrdiff_t>(at),
                    b.begin() + static_cast<std::ptrdiff_t>(at + n));
        std::size_t to = below(b.size() + 1);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(to), piece.begin(), piece.end());
        break;
      }
      default: {  // splice: our prefix, another input's suffix
        const Bytes& other = corpus[below(corpus.size())];
        std::size_t cut = below(b.size() + 1), from = below(other.size() + 1);
        b.resize(cut);
        b.insert(b.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
    }
  }

  std::mt19937_64 rng_;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* prefix) { return a.substr(std::strlen(prefix)); };
    if (a.rfind("--mutations=", 0) == 0) {
      o.mutations = std::stoull(value("--mutations="));
    } else if (a.rfind("--seed=", 0) == 0) {
      o.seed = std::stoull(value("--seed="));
    } else if (a.rfind("--max-len=", 0) == 0) {
      o.max_len_bytes = std::stoull(value("--max-len="));
    } else {
      o.paths.push_back(a);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  g_crash_file = "fuzz-crash-" + std::filesystem::path(argv[0]).filename().string() + ".bin";
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  auto start = std::chrono::steady_clock::now();
  std::vector<Bytes> corpus = load_corpus(opt.paths);
  if (corpus.empty()) {
    std::fprintf(stderr, "no inputs found in the given paths\n");
    return 2;
  }
  for (const Bytes& b : corpus) {
    save_current(b);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  Mutator m(opt.seed);
  for (std::uint64_t i = 0; i < opt.mutations; ++i) {
    Bytes b = m.derive(corpus, opt.max_len_bytes);
    save_current(b);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  std::remove(g_crash_file.c_str());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("%zu corpus inputs and %llu derived inputs ran without a crash in %lld ms\n", corpus.size(),
              static_cast<unsigned long long>(opt.mutations), static_cast<long long>(ms.count()));
  return 0;
}
