// Unit tests for runtime/ without containers: the state file, the OCI state document, ids,
// signals, capability and rlimit names, prepare_process, and the StateStore on a temp --root.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "container.h"
#include "error.h"
#include "fs.h"
#include "unique_fd.h"
#include "process.h"
#include "state.h"
#include "timestamp.h"
#include "utf8.h"

using namespace ocirun;
using namespace ocirun::runtime;
using Catch::Matchers::Contains;
using nlohmann::json;
namespace stdfs = std::filesystem;

namespace {

// Runs f, requires it to throw ocirun::Error of `kind`, and returns the message.
template <class F>
std::string error_of(ErrorKind kind, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.kind() == kind);
    return e.what();
  }
  FAIL("no ocirun::Error was thrown");
  return "";
}

// A prepared process's five capability sets by name, to check them in one CHECK.
struct Caps {
  uint64_t bounding, effective, permitted, inheritable, ambient;
  bool operator==(const Caps&) const = default;
};

Caps caps_of(const PreparedProcess& p) {
  return {p.caps.bounding, p.caps.effective, p.caps.permitted, p.caps.inheritable, p.caps.ambient};
}

// A fresh directory under /tmp, removed with everything in it at scope exit.
struct TempDir {
  stdfs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ocirun-runtime-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

ContainerState sample_state() {
  ContainerState s;
  s.id = "abc";
  s.pid = 4242;
  s.pid_start_time = 123456789;
  s.bundle = "/bundles/abc";
  s.rootfs = "/bundles/abc/rootfs";
  s.created = "2024-01-02T03:04:05.123456789Z";
  s.owner = "root";
  s.annotations = {{"org.example.key", "value"}, {"other", "x y \"quoted\""}};
  s.has_pid_namespace = true;
  s.started = true;
  s.no_new_keyring = true;
  return s;
}

// A child that has exited and been reaped: its pid is (for a while) free.
pid_t dead_pid() {
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) _exit(0);
  int status;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return pid;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Caps> {
  static std::string convert(const Caps& c) {
    std::ostringstream os;
    os << std::hex << "{bounding 0x" << c.bounding << ", effective 0x" << c.effective << ", permitted 0x"
       << c.permitted << ", inheritable 0x" << c.inheritable << ", ambient 0x" << c.ambient << "}";
    return os.str();
  }
};
}  // namespace Catch

// ---- state file ------------------------------------------------------------------------------

TEST_CASE("state: to_json and state_from_json round trip", "[state]") {
  ContainerState s = sample_state();
  ContainerState back = state_from_json(to_json(s));
  CHECK(back.id == s.id);
  CHECK(back.pid == s.pid);
  CHECK(back.pid_start_time == s.pid_start_time);
  CHECK(back.bundle == s.bundle);
  CHECK(back.rootfs == s.rootfs);
  CHECK(back.created == s.created);
  CHECK(back.owner == s.owner);
  CHECK(back.annotations == s.annotations);
  CHECK(back.has_pid_namespace == s.has_pid_namespace);
  CHECK(back.started == s.started);
  CHECK(back.no_new_keyring == s.no_new_keyring);

  SECTION("defaults survive too") {
    ContainerState empty;
    empty.id = "x";
    empty.bundle = "/b";
    ContainerState b = state_from_json(to_json(empty));
    CHECK(b.id == "x");
    CHECK(b.pid == 0);
    CHECK(b.annotations.empty());
    CHECK_FALSE(b.has_pid_namespace);
    CHECK_FALSE(b.started);
    CHECK_FALSE(b.no_new_keyring);  // a state without the field: exec joins a new keyring
  }
}

TEST_CASE("state: the OCI state has runc's field order, one line unless pretty", "[state]") {
  ContainerState s = sample_state();
  std::string line = oci_state_json(s, Status::Running);
  CHECK(line.find('\n') == std::string::npos);
  std::string pretty = oci_state_json(s, Status::Running, /*pretty=*/true);
  CHECK(pretty.rfind("{\n  \"ociVersion\": ", 0) == 0);
  std::vector<size_t> at;
  for (const char* key : {"\"ociVersion\"", "\"id\"", "\"pid\"", "\"status\"", "\"bundle\"", "\"rootfs\"",
                          "\"created\"", "\"annotations\"", "\"owner\""}) {
    INFO(key << " in " << line);
    REQUIRE(line.find(key) != std::string::npos);
    at.push_back(line.find(key));
  }
  CHECK(std::is_sorted(at.begin(), at.end()));
  CHECK(nlohmann::json::parse(line) == nlohmann::json::parse(pretty));
}

TEST_CASE("state: a corrupt state file is InvalidArgument", "[state]") {
  std::string text = GENERATE(as<std::string>{}, "", "{", "not json", "[]", "null", "{\"id\": \"x\"}",
                              "{\"id\": 1, \"pid\": 1, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"id\": \"x\", \"pid\": \"one\", \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"pid\": 1, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              // Found by fuzz/fuzz_state.cc under UBSan: a float cast to int
                              // (undefined), and integers that used to wrap (4294967296 -> pid 0).
                              "{\"id\": \"a\", \"pid\": 1e300, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"id\": \"a\", \"pid\": 1.5, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"id\": \"a\", \"pid\": 4294967296, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"id\": \"a\", \"pid\": -1, \"pid_start_time\": 1, \"bundle\": \"/b\"}",
                              "{\"id\": \"a\", \"pid\": 1, \"pid_start_time\": -5, \"bundle\": \"/b\"}",
                              "{\"id\": \"a\", \"pid\": 1, \"pid_start_time\": 1, \"bundle\": \"/b\", "
                              "\"poststart\": [{\"path\": \"/x\", \"args\": [], \"env\": [], \"timeout\": 1e30}]}");
  INFO("state file: " << text);
  auto msg = error_of(ErrorKind::InvalidArgument, [&] { state_from_json(text); });
  CHECK_THAT(msg, Contains("corrupt state file"));
}

TEST_CASE("state: a string that is not UTF-8 is refused by name, not by the JSON library", "[state][utf8]") {
  // What each field is called in the error, and how to spoil it.
  using Spoil = std::function<void(ContainerState&)>;
  auto [what, spoil] = GENERATE(table<std::string, Spoil>({
      {"bundle path \"/bundles/a\\xffb\"", [](ContainerState& s) { s.bundle = "/bundles/a\xff" "b"; }},
      {"root filesystem path \"/r/\\xc3\"", [](ContainerState& s) { s.rootfs = "/r/\xc3"; }},
      {"annotation key \"k\\xfe\"", [](ContainerState& s) { s.annotations["k\xfe"] = "v"; }},
      {"annotation org.example.key \"\\xed\\xa0\\x80\"",  // a UTF-16 surrogate, encoded
       [](ContainerState& s) { s.annotations["org.example.key"] = "\xed\xa0\x80"; }},
      {"poststop hook path \"/h\\xc0\\xaf\"",  // an overlong "/"
       [](ContainerState& s) { s.poststop.push_back({"/h\xc0\xaf", {}, {}, std::nullopt}); }},
      {"cgroup path \"/x\\xff\"", [](ContainerState& s) { s.cgroup = cgroups::Saved{"/x\xff", {}, {}, ""}; }},
  }));
  INFO("field: " << what);
  ContainerState s = sample_state();
  spoil(s);
  for (auto* f : {+[](const ContainerState& st) { check_state_strings(st); },
                  +[](const ContainerState& st) { (void)to_json(st); }}) {
    auto msg = error_of(ErrorKind::InvalidArgument, [&] { f(s); });
    CHECK_THAT(msg, Contains(what + " is not valid UTF-8"));
    CHECK_THAT(msg, Contains("is JSON, which holds only UTF-8 text"));
    CHECK(utf8::valid(msg));  // the message itself shows the bytes escaped
  }
}

TEST_CASE("state: UTF-8 that is valid is recorded as it is", "[state][utf8]") {
  ContainerState s = sample_state();
  s.bundle = "/bundles/\xc3\xbc-\xe2\x82\xac-\xf0\x9f\x90\xb3";  // ü € 🐳
  s.annotations["\xe6\x97\xa5"] = "\xf4\x8f\xbf\xbf";        // U+10FFFF, the last code point
  CHECK_NOTHROW(check_state_strings(s));
  ContainerState back = state_from_json(to_json(s));
  CHECK(back.bundle == s.bundle);
  CHECK(back.annotations == s.annotations);
}

TEST_CASE("utf8: valid and escape_invalid", "[utf8]") {
  CHECK(utf8::valid(""));
  CHECK(utf8::valid("plain ascii"));
  CHECK(utf8::valid("\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xef\xbf\xbf \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"));
  for (std::string bad : {"\xff", "\x80", "\xc3", "a\xc3(", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80",
                          "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82"}) {
    INFO("bytes: " << utf8::escape_invalid(bad));
    CHECK_FALSE(utf8::valid(bad));
    CHECK(utf8::valid(utf8::escape_invalid(bad)));
  }
  CHECK(utf8::escape_invalid("a\xff" "b") == "a\\xffb");
  CHECK(utf8::escape_invalid("\xc3\xbc\xc3") == "\xc3\xbc\\xc3");
  CHECK(utf8::escape_invalid("\xed\xa0\x80") == "\\xed\\xa0\\x80");
}

TEST_CASE("now_rfc3339: UTC with nanoseconds, as the OCI state's created and the log's time", "[state]") {
  time_t before = time(nullptr);
  std::string t = now_rfc3339();
  time_t after = time(nullptr);
  INFO(t);
  REQUIRE(t.size() == 30);  // 2024-01-02T03:04:05.123456789Z
  for (size_t i : {size_t{4}, size_t{7}}) CHECK(t[i] == '-');
  CHECK(t[10] == 'T');
  for (size_t i : {size_t{13}, size_t{16}}) CHECK(t[i] == ':');
  CHECK(t[19] == '.');
  CHECK(t[29] == 'Z');
  struct tm parsed {};
  REQUIRE(strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &parsed) == t.c_str() + 19);
  time_t secs = timegm(&parsed);
  CHECK(secs >= before);
  CHECK(secs <= after);
}

// ---- oci_state_json ----------------------------------------------------------------------------

TEST_CASE("oci_state_json: the OCI state document", "[state]") {
  ContainerState s = sample_state();
  json j = json::parse(oci_state_json(s, Status::Running));
  CHECK(j["ociVersion"].is_string());
  CHECK_THAT(j["ociVersion"].get<std::string>(), Contains("1."));
  CHECK(j["id"] == "abc");
  CHECK(j["pid"] == 4242);
  CHECK(j["status"] == "running");
  CHECK(j["bundle"] == "/bundles/abc");
  CHECK(j["rootfs"] == "/bundles/abc/rootfs");
  CHECK(j["created"] == "2024-01-02T03:04:05.123456789Z");
  CHECK(j["owner"] == "root");
  CHECK(j["annotations"] == json{{"org.example.key", "value"}, {"other", "x y \"quoted\""}});
  // Internal bookkeeping stays out of the OCI document.
  CHECK_FALSE(j.contains("pid_start_time"));
  CHECK_FALSE(j.contains("started"));

  SECTION("pid is 0 once stopped") {
    json st = json::parse(oci_state_json(s, Status::Stopped));
    CHECK(st["pid"] == 0);
    CHECK(st["status"] == "stopped");
  }
  SECTION("no annotations key when there are none") {
    s.annotations.clear();
    CHECK_FALSE(json::parse(oci_state_json(s, Status::Created)).contains("annotations"));
  }
  SECTION("a string that is not UTF-8 still makes valid JSON, with U+FFFD as runc writes") {
    s.bundle = "/b\xff";
    s.annotations["k"] = "v\xc3";
    json st = json::parse(oci_state_json(s, Status::Running));
    CHECK(st["bundle"] == "/b\xef\xbf\xbd");
    CHECK(st["annotations"]["k"] == "v\xef\xbf\xbd");
  }
  SECTION("every status string") {
    for (auto [status, name] : std::vector<std::pair<Status, std::string>>{{Status::Creating, "creating"},
                                                                         {Status::Created, "created"},
                                                                         {Status::Running, "running"},
                                                                         {Status::Paused, "paused"},
                                                                         {Status::Stopped, "stopped"}}) {
      CHECK(std::string(to_string(status)) == name);
      CHECK(json::parse(oci_state_json(s, status))["status"] == name);
      if (status != Status::Stopped) CHECK(json::parse(oci_state_json(s, status))["pid"] == 4242);
    }
  }
}

// ---- validate_id -------------------------------------------------------------------------------

TEST_CASE("validate_id accepts runc's id alphabet", "[id]") {
  std::string id = GENERATE(as<std::string>{}, "a", "abc", "a.b_c-d+e", "CamelCase9", "...", ".hidden", "a..b",
                            std::string(64, 'f'), "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                            std::string(255, 'x'));
  INFO("id of " << id.size() << " bytes: " << id.substr(0, 80));
  CHECK_NOTHROW(validate_id(id));
}

TEST_CASE("validate_id refuses ids that are not a plain directory name", "[id]") {
  std::string id = GENERATE(as<std::string>{}, "", ".", "..", "a/b", "../x", "/abs", "a b", " a", "a\tb", "a\nb",
                            std::string("a\0b", 3), std::string(256, 'x'), "a:b", "a*", "ü");
  INFO("id of " << id.size() << " bytes: " << id.substr(0, 80));
  auto msg = error_of(ErrorKind::InvalidArgument, [&] { validate_id(id); });
  CHECK_THAT(msg, Contains("invalid container id"));
}

// ---- parse_signal ------------------------------------------------------------------------------

TEST_CASE("parse_signal: names and numbers", "[signal]") {
  auto [text, want] = GENERATE(table<std::string, int>({
      {"TERM", SIGTERM},
      {"SIGTERM", SIGTERM},
      {"sigterm", SIGTERM},
      {"term", SIGTERM},
      {"15", SIGTERM},
      {"KILL", SIGKILL},
      {"SIGKILL", SIGKILL},
      {"9", SIGKILL},
      {"HUP", SIGHUP},
      {"USR1", SIGUSR1},
      {"SIGUSR2", SIGUSR2},
      {"1", 1},
      {"64", 64},
      {"0", 0},  // kill(2)'s existence check, as runc takes it
      {"00", 0},
  }));
  INFO("signal " << text);
  CHECK(parse_signal(text) == want);
}

TEST_CASE("parse_signal: real-time signals", "[signal]") {
  CHECK(parse_signal("RTMIN+1") == SIGRTMIN + 1);
  CHECK(parse_signal("SIGRTMIN+1") == SIGRTMIN + 1);
  CHECK(parse_signal("RTMAX-1") == SIGRTMAX - 1);
  CHECK(parse_signal(std::to_string(SIGRTMAX)) == SIGRTMAX);
}

TEST_CASE("parse_signal: bad signals are InvalidArgument", "[signal]") {
  std::string text = GENERATE(as<std::string>{}, "SIG0", "sig0", "0000", "65", "-1", "", "SIG", "FOO", "SIGFOO", "9x", "x9", "1.5",
                              "99999999999", "RTMIN+99", "RTMAX-99", "+15", " 15",
                              "\xff", "SIG\xe9", "1\xb2");
  INFO("signal \"" << text << "\"");
  auto msg = error_of(ErrorKind::InvalidArgument, [&] { parse_signal(text); });
  CHECK_THAT(msg, Contains("invalid signal"));
}

// ---- capability and rlimit names ------------------------------------------------------------------

TEST_CASE("capability_from_name", "[caps]") {
  CHECK(capability_from_name("CAP_SYS_ADMIN") == 21);
  CHECK(capability_from_name("CAP_NET_BIND_SERVICE") == 10);
  CHECK(capability_from_name("CAP_CHOWN") == 0);
  CHECK(capability_from_name("CAP_KILL") == 5);
  // Names are matched without regard to case (libcap's names are lower case).
  CHECK(capability_from_name("cap_sys_admin") == 21);
  CHECK(capability_from_name("Cap_Net_Bind_Service") == 10);

  // The whole string must be one name: libcap's cap_from_name stops at the first delimiter, so
  // "CAP_CHOWN,CAP_KILL" would otherwise quietly mean CAP_CHOWN (runc: unknown capability).
  for (std::string bad : {"", "CAP_", "CAP_FOO", "SYS_ADMIN", "NET_BIND_SERVICE", "21", "all", "CAP_SYS_ADMIN ",
                          "CAP_SYS_ADMIN+ep", "CAP_SYS_ADMIN=", "CAP_CHOWN,CAP_KILL", "CAP_SYS_ADMIN\n"}) {
    INFO("capability \"" << bad << "\"");
    CHECK(capability_from_name(bad) == -1);
  }
  CHECK(last_capability() >= 21);
}

TEST_CASE("rlimit_from_name", "[rlimits]") {
  CHECK(rlimit_from_name("RLIMIT_NOFILE") == RLIMIT_NOFILE);
  CHECK(rlimit_from_name("RLIMIT_CORE") == RLIMIT_CORE);
  CHECK(rlimit_from_name("RLIMIT_CPU") == RLIMIT_CPU);
  CHECK(rlimit_from_name("RLIMIT_RTTIME") == RLIMIT_RTTIME);
  CHECK(rlimit_from_name("RLIMIT_NPROC") == RLIMIT_NPROC);
  for (std::string bad : {"", "NOFILE", "nofile", "RLIMIT_FOO", "RLIMIT_", "rlimit_nofile"}) {
    INFO("rlimit \"" << bad << "\"");
    CHECK(rlimit_from_name(bad) == -1);
  }
}

// ---- prepare_process ------------------------------------------------------------------------------

TEST_CASE("prepare_process: names become numbers", "[process]") {
  spec::Process proc;
  proc.args = {"sh", "-c", "true"};
  proc.env = {"PATH=/bin"};
  proc.user.uid = 1000;
  proc.user.gid = 100;
  proc.user.additional_gids = {10, 20};
  proc.no_new_privileges = true;
  proc.oom_score_adj = 500;

  SECTION("one capability in every set") {
    spec::Capabilities caps;
    caps.bounding = caps.effective = caps.permitted = caps.inheritable = caps.ambient = {"CAP_NET_BIND_SERVICE"};
    proc.capabilities = caps;
    CHECK(caps_of(prepare_process(proc)) ==
          Caps{.bounding = 0x400, .effective = 0x400, .permitted = 0x400, .inheritable = 0x400, .ambient = 0x400});
  }
  SECTION("sets are kept apart") {
    spec::Capabilities caps;
    caps.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"};
    caps.permitted = {"CAP_KILL"};
    proc.capabilities = caps;
    CHECK(caps_of(prepare_process(proc)) ==
          Caps{.bounding = 0x200021, .effective = 0, .permitted = 0x20, .inheritable = 0, .ambient = 0});
  }
  SECTION("no capabilities object: all sets empty") {
    CHECK(caps_of(prepare_process(proc)) == Caps{});  // all zero
  }
  SECTION("the rest of the process") {
    proc.rlimits = {{"RLIMIT_NOFILE", 1024, 512}, {"RLIMIT_CORE", 2048, 1024}};
    PreparedProcess p = prepare_process(proc);
    REQUIRE(p.rlimits.size() == 2);
    CHECK(p.rlimits[0].first == RLIMIT_NOFILE);
    CHECK(p.rlimits[0].second.rlim_cur == 512);
    CHECK(p.rlimits[0].second.rlim_max == 1024);
    CHECK(p.rlimits[1].first == RLIMIT_CORE);
    CHECK(p.rlimits[1].second.rlim_cur == 1024);
    CHECK(p.rlimits[1].second.rlim_max == 2048);
    CHECK(p.args == proc.args);
    CHECK(p.env == proc.env);
    CHECK(p.cwd == "/");  // empty cwd
    CHECK(p.uid == 1000);
    CHECK(p.gid == 100);
    CHECK(p.additional_gids == std::vector<gid_t>{10, 20});
    CHECK(p.umask == 022);  // unset umask
    CHECK(p.no_new_privileges);
    CHECK(p.oom_score_adj == 500);
  }
}

TEST_CASE("prepare_process: an unknown capability names its set and index", "[process]") {
  std::string set = GENERATE(as<std::string>{}, "bounding", "effective", "inheritable", "permitted", "ambient");
  spec::Process proc;
  proc.args = {"true"};
  spec::Capabilities caps;
  std::vector<std::string> names = {"CAP_CHOWN", "CAP_NO_SUCH_THING"};
  if (set == "bounding") caps.bounding = names;
  if (set == "effective") caps.effective = names;
  if (set == "inheritable") caps.inheritable = names;
  if (set == "permitted") caps.permitted = names;
  if (set == "ambient") caps.ambient = names;
  proc.capabilities = caps;
  auto msg = error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc); });
  CHECK_THAT(msg, Contains("/process/capabilities/" + set + "/1"));
  CHECK_THAT(msg, Contains("CAP_NO_SUCH_THING"));
}

TEST_CASE("prepare_process: an unknown rlimit names the field", "[process]") {
  spec::Process proc;
  proc.args = {"true"};
  proc.rlimits = {{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_BOGUS", 1, 1}};
  auto msg = error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc); });
  CHECK_THAT(msg, Contains("/process/rlimits/1/type"));
  CHECK_THAT(msg, Contains("RLIMIT_BOGUS"));
}

TEST_CASE("prepare_process: errors name fields as the caller says", "[process]") {
  auto field = [](const std::string& pointer) { return "--process p.json: " + pointer; };
  spec::Process proc;
  proc.args = {"true"};
  proc.capabilities = spec::Capabilities{};
  proc.capabilities->permitted = {"CAP_NOPE"};
  CHECK(error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc, field); }) ==
        "--process p.json: /capabilities/permitted/0: unknown capability \"CAP_NOPE\"");
  CHECK(error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc); }) ==
        "config.json: /process/capabilities/permitted/0: unknown capability \"CAP_NOPE\"");
  proc.capabilities.reset();
  proc.rlimits = {{"RLIMIT_BOGUS", 1, 1}};
  CHECK(error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc, field); }) ==
        "--process p.json: /rlimits/0/type: unknown rlimit \"RLIMIT_BOGUS\"");
  proc.rlimits.clear();
  proc.cwd = "/proc/self/cwd";
  CHECK(error_of(ErrorKind::InvalidSpec, [&] { prepare_process(proc, field); }) ==
        "--process p.json: /cwd: \"/proc/self/cwd\" is inside /proc");
}

// ---- process_start_time --------------------------------------------------------------------------

TEST_CASE("process_start_time", "[state]") {
  auto self = process_start_time(getpid());
  REQUIRE(self.has_value());
  CHECK(process_start_time(getpid()) == self);  // stable
  CHECK_FALSE(process_start_time(0).has_value());
  CHECK_FALSE(process_start_time(-1).has_value());
  CHECK_FALSE(process_start_time(dead_pid()).has_value());

  SECTION("a zombie counts as gone") {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) _exit(0);
    // Wait until it is a zombie without reaping it.
    siginfo_t info{};
    REQUIRE(waitid(P_PID, pid, &info, WEXITED | WNOWAIT) == 0);
    CHECK_FALSE(process_start_time(pid).has_value());
    waitpid(pid, nullptr, 0);
  }
}

// ---- StateStore ----------------------------------------------------------------------------------

TEST_CASE("StateStore: create, open, list, save/load, remove", "[store]") {
  TempDir tmp;
  const std::string root = (tmp.path / "root").string();  // made by create()
  StateStore store(root);
  CHECK(store.root() == root);
  CHECK(store.list_ids().empty());  // a missing root is an empty store

  {
    ContainerDir dir = store.create("second");
    CHECK(dir.id() == "second");
    CHECK(dir.path() == root + "/second");
    CHECK(dir.fd() >= 0);
    CHECK(stdfs::is_directory(dir.path()));
    ContainerState s = sample_state();
    s.id = "second";
    dir.save(s);
    CHECK(stdfs::exists(dir.path() + "/" + kStateFile));
  }
  {
    ContainerDir dir = store.create("first");
    ContainerState s = sample_state();
    s.id = "first";
    dir.save(s);
  }

  SECTION("a second create of the same id") {
    auto msg = error_of(ErrorKind::AlreadyExists, [&] { store.create("first"); });
    CHECK_THAT(msg, Contains("already exists"));
    CHECK_THAT(msg, Contains("first"));
  }
  SECTION("create validates the id") {
    error_of(ErrorKind::InvalidArgument, [&] { store.create("../escape"); });
    CHECK_FALSE(stdfs::exists(tmp.path / "escape"));
  }
  SECTION("open of a missing id") {
    auto msg = error_of(ErrorKind::NotFound, [&] { store.open("missing"); });
    CHECK_THAT(msg, Contains("does not exist"));
    CHECK_THAT(msg, Contains("missing"));
  }
  SECTION("open of a directory without a state file") {
    {
      ContainerDir creating = store.create("half-made");
      CHECK(store.being_created("half-made"));
      auto msg = error_of(ErrorKind::BadState, [&] { store.open("half-made", /*lock=*/false); });
      CHECK_THAT(msg, Contains("is being created"));
    }
    // Its create is gone (the lock released) without writing state.json.
    CHECK(store.abandoned("half-made"));
    auto msg = error_of(ErrorKind::BadState, [&] { store.open("half-made"); });
    CHECK_THAT(msg, Contains("its create did not finish"));
    auto incomplete = store.open_incomplete("half-made");
    REQUIRE(incomplete);
    incomplete->remove();
    CHECK_FALSE(stdfs::exists(stdfs::path(root) / "half-made"));
    CHECK(store.list_ids() == std::vector<std::string>{"first", "second"});
  }
  SECTION("list_ids is sorted") {
    store.create("0-zero");
    store.create("b-middle");
    CHECK(store.list_ids() == std::vector<std::string>{"0-zero", "b-middle", "first", "second"});
  }
  SECTION("save and load round trip") {
    ContainerDir dir = store.open("second");
    ContainerState s = dir.load();
    CHECK(s.id == "second");
    CHECK(s.pid == 4242);
    CHECK(s.bundle == "/bundles/abc");
    CHECK(s.annotations == sample_state().annotations);
    s.pid = 77;
    s.started = false;
    dir.save(s);
    ContainerState again = dir.load();
    CHECK(again.pid == 77);
    CHECK_FALSE(again.started);
    CHECK_FALSE(stdfs::exists(dir.path() + "/" + kStateFile + ".tmp"));  // written atomically
  }
  SECTION("open without the lock reads too") {
    ContainerDir locked = store.open("first");
    ContainerDir unlocked = store.open("first", /*lock=*/false);
    CHECK(unlocked.load().id == "first");
  }
  SECTION("a state file whose id differs is refused") {
    ContainerDir dir = store.open("first");
    ContainerState s = dir.load();
    s.id = "second";
    dir.save(s);
    auto msg = error_of(ErrorKind::InvalidArgument, [&] { dir.load(); });
    CHECK_THAT(msg, Contains("first"));
    CHECK_THAT(msg, Contains("second"));
  }
  SECTION("a corrupt state file") {
    ContainerDir dir = store.open("first");
    std::ofstream(dir.path() + "/" + kStateFile) << "{\"id\": ";
    auto msg = error_of(ErrorKind::InvalidArgument, [&] { dir.load(); });
    CHECK_THAT(msg, Contains("first"));
  }
  SECTION("remove leaves nothing") {
    ContainerDir dir = store.open("first");
    std::ofstream(dir.path() + "/" + kStartSocket) << "";  // any extra file goes too
    dir.remove();
    CHECK_FALSE(stdfs::exists(root + "/first"));
    CHECK(store.list_ids() == std::vector<std::string>{"second"});
    error_of(ErrorKind::NotFound, [&] { store.open("first"); });
    // The id is free again.
    CHECK_NOTHROW(store.create("first"));
  }
}

TEST_CASE("StateStore: the root is private to root", "[store]") {
  TempDir tmp;
  StateStore store((tmp.path / "a" / "b").string());
  ContainerDir dir = store.create("c");
  struct stat st {};
  REQUIRE(stat(dir.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0077) == 0);  // nobody else may even traverse it
}

namespace {
unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  if (lstat(p.c_str(), &st) < 0) return ~0U;
  return st.st_mode & 07777;
}

// Sets the umask for the scope, and puts the old one back.
struct UmaskScope {
  mode_t old;
  explicit UmaskScope(mode_t m) : old(::umask(m)) {}
  ~UmaskScope() { ::umask(old); }
};
}  // namespace

TEST_CASE("StateStore: root, container dirs and state files are 0700/0600 whatever the umask", "[store]") {
  TempDir tmp;
  UmaskScope open_umask(0);
  const stdfs::path root = tmp.path / "root";
  SECTION("a new root") {}
  SECTION("a root an older ocirun made 0711") { stdfs::create_directory(root), stdfs::permissions(root, stdfs::perms(0711)); }
  StateStore store(root.string());
  ContainerDir dir = store.create("c");
  ContainerState s = sample_state();
  s.id = "c";
  dir.save(s);
  dir.save_cgroup({"/ocirun/c", {{"", "/sys/fs/cgroup/ocirun/c"}}, {}, ""});
  CHECK(mode_of(root) == 0700);
  CHECK(mode_of(dir.path()) == 0700);
  CHECK(mode_of(dir.path() + "/" + kStateFile) == 0600);
  CHECK(mode_of(dir.path() + "/" + kCgroupFile) == 0600);
}

TEST_CASE("write_file_atomic_at: never through a symlink at the temp or the final name", "[fs]") {
  TempDir tmp;
  const stdfs::path victim = tmp.path / "victim";
  std::ofstream(victim) << "precious";
  UniqueFd dirfd(::open(tmp.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dirfd);
  auto content = [](const stdfs::path& p) { return ocirun::fs::read_file(p.string()); };
  SECTION("a symlink at the old temp name is left alone") {
    stdfs::create_symlink(victim, tmp.path / "pid.tmp");
    ocirun::fs::write_file_atomic_at(dirfd.get(), "pid", "42", 0644);
    CHECK(content(victim) == "precious");
    CHECK(content(tmp.path / "pid") == "42");
    CHECK(mode_of(tmp.path / "pid") == 0644);
    CHECK(stdfs::is_symlink(tmp.path / "pid.tmp"));
  }
  SECTION("a symlink at the final name is refused, with nothing left behind") {
    stdfs::create_symlink(victim, tmp.path / "pid");
    auto msg = error_of(ErrorKind::InvalidArgument, [&] { ocirun::fs::write_file_atomic_at(dirfd.get(), "pid", "42"); });
    CHECK_THAT(msg, Contains("pid is a symlink"));
    CHECK(content(victim) == "precious");
    CHECK(stdfs::is_symlink(tmp.path / "pid"));
    size_t entries = std::distance(stdfs::directory_iterator(tmp.path), stdfs::directory_iterator());
    CHECK(entries == 2);  // victim, pid: no temp file left
  }
  SECTION("the mode is exact under any umask, 0600 by default") {
    UmaskScope open_umask(0);
    ocirun::fs::write_file_atomic_at(dirfd.get(), "state", "{}");
    CHECK(mode_of(tmp.path / "state") == 0600);
    UmaskScope strict_umask(077);
    ocirun::fs::write_file_atomic_at(dirfd.get(), "pid", "1", 0644);
    CHECK(mode_of(tmp.path / "pid") == 0644);
  }
}

TEST_CASE("StateStore: concurrent creates of one id, one wins", "[store]") {
  TempDir tmp;
  StateStore store((tmp.path / "root").string());
  constexpr int kProcs = 16;
  // Every child waits on the pipe so that they all race at once.
  int go[2];
  REQUIRE(pipe(go) == 0);
  std::vector<pid_t> kids;
  for (int i = 0; i < kProcs; ++i) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(go[1]);
      char c;
      if (read(go[0], &c, 1) < 0) _exit(3);
      int code = 2;
      try {
        ContainerDir dir = store.create("contended");
        code = 0;
      } catch (const Error& e) {
        code = e.kind() == ErrorKind::AlreadyExists ? 1 : 2;
      } catch (...) {
      }
      _exit(code);
    }
    kids.push_back(pid);
  }
  close(go[0]);
  close(go[1]);  // EOF releases every child together
  int won = 0, lost = 0, other = 0;
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    switch (WEXITSTATUS(status)) {
      case 0: ++won; break;
      case 1: ++lost; break;
      default: ++other;
    }
  }
  CHECK(won == 1);
  CHECK(lost == kProcs - 1);
  CHECK(other == 0);
  CHECK(store.list_ids() == std::vector<std::string>{"contended"});
}

TEST_CASE("ContainerDir::status from the state and the start socket", "[store]") {
  TempDir tmp;
  StateStore store((tmp.path / "root").string());
  ContainerDir dir = store.create("c");
  ContainerState s;
  s.id = "c";
  s.bundle = "/b";
  s.pid = getpid();  // a live process stands in for the container's init
  s.pid_start_time = process_start_time(getpid()).value();
  dir.save(s);

  SECTION("start socket present, not started: created") {
    std::ofstream(dir.path() + "/" + kStartSocket) << "";
    // The init bears kInitName until it runs the program.
    char saved[16] = {};
    prctl(PR_GET_NAME, saved, 0, 0, 0);
    prctl(PR_SET_NAME, kInitName, 0, 0, 0);
    Status st = dir.status(s);
    prctl(PR_SET_NAME, saved, 0, 0, 0);
    CHECK(st == Status::Created);
  }
  SECTION("start socket present, but the init runs the program (start killed before removing it): running") {
    std::ofstream(dir.path() + "/" + kStartSocket) << "";
    CHECK(dir.status(s) == Status::Running);
  }
  SECTION("started: running") {
    s.started = true;
    CHECK(dir.status(s) == Status::Running);
  }
  SECTION("pid reused by another process: stopped") {
    s.started = true;
    s.pid_start_time += 1;
    CHECK(dir.status(s) == Status::Stopped);
  }
  SECTION("pid gone: stopped") {
    s.pid = dead_pid();
    CHECK(dir.status(s) == Status::Stopped);
  }
}

TEST_CASE("StateStore::create removes a temporary directory a dead create left under our pid", "[store]") {
  TempDir tmp;
  StateStore store((tmp.path / "root").string());
  stdfs::create_directories(tmp.path / "root" / (".new~" + std::to_string(getpid())));
  ContainerDir dir = store.create("c");
  std::vector<std::string> entries;
  for (const auto& e : stdfs::directory_iterator(tmp.path / "root")) entries.push_back(e.path().filename());
  CHECK(entries == std::vector<std::string>{"c"});
}
