// Runs f and returns the ef::Error message it threw ("" if nothing was
// thrown): for tests that check what an error message names.
#pragma once

#include <string>

#include "edgeflow/tensor.h"

namespace ef::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace ef::test
