#pragma once
#include <utility>

namespace ocirun {

// Runs a rollback action at scope exit unless dismiss()ed once the work has succeeded.
template <class F>
class ScopeGuard {
 public:
  explicit ScopeGuard(F f) : f_(std::move(f)) {}
  ScopeGuard(const ScopeGuard&) = delete;
  ScopeGuard& operator=(const ScopeGuard&) = delete;
  ~ScopeGuard() {
    if (active_) {
      try {
        f_();
      } catch (...) {
      }
    }
  }
  void dismiss() { active_ = false; }

 private:
  F f_;
  bool active_ = true;
};

}  // namespace ocirun
