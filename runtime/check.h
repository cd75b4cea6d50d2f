// `ocirun check`: what this host offers a container runtime, and what needs it.
#pragma once
#include <string>
#include <vector>

namespace ocirun::runtime {

struct HostCheck {
  std::string name;     // "user namespace"
  bool ok = false;
  std::string detail;   // what was found: "max_user_namespaces=63404"
  std::string needed_by;  // "linux.namespaces type user, rootless containers"
  bool required = false;  // ocirun cannot run containers at all without it
};

std::vector<HostCheck> check_host();

}  // namespace ocirun::runtime
