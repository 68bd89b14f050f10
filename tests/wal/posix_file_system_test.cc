// The POSIX file system against a real temporary directory: the calls the WAL relies on.
#include "wal/posix_file_system.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace cairn::wal {
namespace {

class PosixFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-posix-fs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  PosixFileSystem fs_;
  std::string root_;
};

TEST_F(PosixFileSystemTest, WriteReadAllocateTruncate) {
  auto f = fs_.open_file(root_ + "/f", true);
  ASSERT_TRUE(f.has_value());
  File& file = **f;
  ASSERT_TRUE(file.write_at(0, "hello").is_ok());
  ASSERT_TRUE(file.write_at(10, "world").is_ok());  // the gap reads as zeros
  EXPECT_EQ(file.read_at(0, 100).value(), std::string("hello\0\0\0\0\0world", 15));
  ASSERT_TRUE(file.allocate(4096).is_ok());
  EXPECT_EQ(file.size().value(), 4096u);
  EXPECT_EQ(file.read_at(4090, 100).value(), std::string(6, '\0'));
  ASSERT_TRUE(file.truncate(5).is_ok());
  ASSERT_TRUE(file.sync().is_ok());
  EXPECT_EQ(fs_.read_file(root_ + "/f").value(), "hello");
}

TEST_F(PosixFileSystemTest, DirectoryOperations) {
  ASSERT_TRUE(fs_.create_dir(root_ + "/d").is_ok());
  ASSERT_TRUE(fs_.create_dir(root_ + "/d").is_ok());  // already there is fine
  ASSERT_TRUE(fs_.open_file(root_ + "/d/b", true).has_value());
  ASSERT_TRUE(fs_.open_file(root_ + "/d/a", true).has_value());
  EXPECT_EQ(fs_.list_dir(root_ + "/d").value(), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(fs_.rename(root_ + "/d/a", root_ + "/d/c").is_ok());
  ASSERT_TRUE(fs_.remove(root_ + "/d/b").is_ok());
  ASSERT_TRUE(fs_.sync_dir(root_ + "/d").is_ok());
  EXPECT_EQ(fs_.list_dir(root_ + "/d").value(), std::vector<std::string>{"c"});
  EXPECT_TRUE(fs_.exists(root_ + "/d/c"));
  EXPECT_FALSE(fs_.exists(root_ + "/d/a"));
}

TEST_F(PosixFileSystemTest, ErrorsAreValuesNamingThePath) {
  auto missing = fs_.open_file(root_ + "/nope", false);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_NE(missing.error().message().find(root_ + "/nope"), std::string::npos);
  EXPECT_EQ(fs_.remove(root_ + "/nope").code(), Code::kNotFound);
  EXPECT_FALSE(fs_.list_dir(root_ + "/nope").has_value());
}

}  // namespace
}  // namespace cairn::wal
