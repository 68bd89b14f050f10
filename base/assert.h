// Assertions that stay on in release builds: a state that cannot happen stops the process with the
// condition and location rather than continuing on corrupt state.
#pragma once

#include <cstdio>
#include <cstdlib>

#define CAIRN_ASSERT(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

#define CAIRN_ASSERT_MSG(cond, msg)                                                               \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "%s:%d: assertion failed: %s (%s)\n", __FILE__, __LINE__, #cond, msg); \
      std::abort();                                                                               \
    }                                                                                             \
  } while (0)
