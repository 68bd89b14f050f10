// storage_tests entry point: GoogleTest plus the transcript `--rewrite` flag (also CAIRN_REWRITE=1).
#include <gtest/gtest.h>

#include <cstring>

#include "tests/storage/transcript.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rewrite") == 0) cairn::storage::testing::set_rewrite(true);
  }
  return RUN_ALL_TESTS();
}
