// Shared XNNPACK plumbing for kernels: one-time init, status checks, an
// owning operator handle.
#pragma once
#include <xnnpack.h>

#include <memory>
#include <string>

#include "edgeflow/tensor.h"

namespace ef {

// Initialise XNNPACK once per process (thread-safe). Returns false if the
// CPU is unsupported (then kernels fall back to their own implementations).
bool xnn_available();

// Throw ef::Error "<what>: XNNPACK <call> failed (<status>)" unless success.
void xnn_check(xnn_status st, const char* call, const std::string& what);

struct XnnOpDeleter {
  void operator()(xnn_operator_t op) const {
    if (op) xnn_delete_operator(op);
  }
};
using XnnOp = std::unique_ptr<xnn_operator, XnnOpDeleter>;

}  // namespace ef
