// Runs every testdata/*.txt MVCC transcript on both engines; the same file must pass on each.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tests/storage/transcript.h"

namespace cairn::storage::testing {
namespace {

std::vector<std::string> transcript_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(CAIRN_STORAGE_TESTDATA)) {
    if (e.path().extension() == ".txt") files.push_back(e.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class TranscriptTest : public ::testing::TestWithParam<std::tuple<std::string, EngineKind>> {};

TEST_P(TranscriptTest, MatchesExpectedOutput) {
  const auto& [file, kind] = GetParam();
  // Rewriting from the RocksDB run too would race with the memory run; the memory engine owns it.
  if (rewrite_enabled() && kind != EngineKind::kMemory) GTEST_SKIP() << "rewrite runs on the memory engine";
  const std::string mismatch = run_transcript(std::string(CAIRN_STORAGE_TESTDATA) + "/" + file, kind);
  EXPECT_EQ(mismatch, "");
}

INSTANTIATE_TEST_SUITE_P(Files, TranscriptTest,
                         ::testing::Combine(::testing::ValuesIn(transcript_files()),
                                            ::testing::Values(EngineKind::kMemory, EngineKind::kRocks)),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param);
                           name = name.substr(0, name.size() - 4);
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return name + "_" + engine_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace cairn::storage::testing
