// Tests for spec/: parse, load, to_json, validate, default_spec.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "error.h"
#include "parse.h"

using namespace ocirun;
using namespace ocirun::spec;

namespace {

std::string data_file(const std::string& name) {
  auto path = std::filesystem::path(__FILE__).parent_path() / "data" / name;
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The message of the InvalidSpec error that parse() throws for `json`.
std::string parse_error(const std::string& json) {
  try {
    parse(json);
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::InvalidSpec);
    return e.what();
  }
  FAIL("parse accepted: " << json);
  return "";
}

bool has_problem(const std::vector<Problem>& problems, const std::string& field, const std::string& message_part) {
  for (const auto& p : problems)
    if (p.field == field && p.message.find(message_part) != std::string::npos) return true;
  return false;
}

std::string dump(const std::vector<Problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += p.field + ": " + p.message + "\n";
  return out;
}

// A small spec that passes validate(): the base for the validate tests.
Spec valid_spec() {
  return parse(R"({
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs"},
    "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/", "env": ["A=1"]},
    "hostname": "h",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
  })");
}

}  // namespace

TEST_CASE("full config parses into the expected values", "[spec][parse]") {
  Spec s = parse(data_file("full.json"));

  CHECK(s.oci_version == "1.2.0");
  CHECK(s.root.path == "rootfs");
  CHECK(s.root.readonly);
  CHECK(s.hostname == "box");
  CHECK(s.domainname == "example.org");
  CHECK(s.annotations.at("io.kubernetes.cri/container-type") == "container");

  SECTION("process") {
    REQUIRE(s.process);
    const Process& p = *s.process;
    CHECK(p.terminal);
    REQUIRE(p.console_size);
    CHECK(p.console_size->height == 25);
    CHECK(p.console_size->width == 80);
    CHECK(p.user.uid == 1000);
    CHECK(p.user.gid == 1001);
    CHECK(p.user.umask == 18u);
    CHECK(p.user.additional_gids == std::vector<uint32_t>{5, 6});
    CHECK(p.user.username == "someone");
    CHECK(p.args == std::vector<std::string>{"/bin/sh", "-c", "echo hi"});
    CHECK(p.command_line == "sh -c \"echo hi\"");
    CHECK(p.env.size() == 3);
    CHECK(p.cwd == "/work");
    REQUIRE(p.capabilities);
    CHECK(p.capabilities->bounding == std::vector<std::string>{"CAP_AUDIT_WRITE", "CAP_KILL"});
    CHECK(p.capabilities->effective == std::vector<std::string>{"CAP_KILL"});
    CHECK(p.capabilities->inheritable == std::vector<std::string>{"CAP_NET_RAW"});
    CHECK(p.capabilities->permitted.size() == 2);
    CHECK(p.capabilities->ambient == std::vector<std::string>{"CAP_CHOWN"});
    REQUIRE(p.rlimits.size() == 2);
    CHECK(p.rlimits[0].type == "RLIMIT_NOFILE");
    CHECK(p.rlimits[0].hard == 4096);
    CHECK(p.rlimits[0].soft == 1024);
    CHECK(p.rlimits[1].hard == UINT64_MAX);
    CHECK(p.no_new_privileges);
    CHECK(p.apparmor_profile == "acme_secure_profile");
    CHECK(p.oom_score_adj == -500);
    CHECK(p.selinux_label == "system_u:system_r:svirt_lxc_net_t:s0:c124,c675");
    REQUIRE(p.io_priority);
    CHECK(p.io_priority->klass == "IOPRIO_CLASS_BE");
    CHECK(p.io_priority->priority == 4);
    REQUIRE(p.scheduler);
    CHECK(p.scheduler->policy == "SCHED_DEADLINE");
    CHECK(p.scheduler->nice == -5);
    CHECK(p.scheduler->priority == 3);
    CHECK(p.scheduler->flags == std::vector<std::string>{"SCHED_FLAG_RESET_ON_FORK"});
    CHECK(p.scheduler->runtime == 10000000);
    CHECK(p.scheduler->deadline == 20000000);
    CHECK(p.scheduler->period == 30000000);
  }

  SECTION("mounts") {
    REQUIRE(s.mounts.size() == 3);
    CHECK(s.mounts[0].destination == "/proc");
    CHECK(s.mounts[0].options.empty());
    const Mount& m = s.mounts[1];
    CHECK(m.destination == "/data");
    CHECK(m.type == "bind");
    CHECK(m.source == "/srv/data");
    CHECK(m.options == std::vector<std::string>{"rbind", "ro"});
    REQUIRE(m.uid_mappings.size() == 1);
    CHECK(m.uid_mappings[0].container_id == 0);
    CHECK(m.uid_mappings[0].host_id == 100000);
    CHECK(m.uid_mappings[0].size == 65536);
    REQUIRE(m.gid_mappings.size() == 1);
    CHECK(m.gid_mappings[0].host_id == 200000);
    CHECK(s.mounts[2].source.empty());
  }

  SECTION("hooks") {
    REQUIRE(s.hooks);
    const Hooks& h = *s.hooks;
    REQUIRE(h.prestart.size() == 1);
    CHECK(h.prestart[0].path == "/usr/bin/fix-mounts");
    CHECK(h.prestart[0].args == std::vector<std::string>{"fix-mounts", "arg1"});
    CHECK(h.prestart[0].env == std::vector<std::string>{"key1=value1"});
    CHECK_FALSE(h.prestart[0].timeout);
    REQUIRE(h.create_runtime.size() == 1);
    CHECK(h.create_runtime[0].timeout == 5);
    CHECK(h.create_container.at(0).path == "/usr/bin/mount-hook");
    CHECK(h.start_container.at(0).path == "/usr/bin/refresh-ldcache");
    CHECK(h.poststart.at(0).timeout == 10);
    CHECK(h.poststop.at(0).args.size() == 2);
  }

  SECTION("linux") {
    REQUIRE(s.linux);
    const Linux& l = *s.linux;
    REQUIRE(l.namespaces.size() == 8);
    CHECK(l.namespaces[1].type == "network");
    CHECK(l.namespaces[1].path == "/var/run/netns/neta");
    REQUIRE(l.find_namespace("time"));
    CHECK(l.find_namespace("time")->path.empty());
    CHECK(l.uid_mappings.at(0).size == 32000);
    CHECK(l.gid_mappings.at(0).host_id == 1000);
    CHECK(l.time_offsets.at("monotonic").secs == -86400);
    CHECK(l.time_offsets.at("monotonic").nanosecs == 500);
    CHECK(l.time_offsets.at("boottime").secs == 3600);
    CHECK(l.time_offsets.at("boottime").nanosecs == 0);

    REQUIRE(l.devices.size() == 3);
    CHECK(l.devices[0].path == "/dev/fuse");
    CHECK(l.devices[0].type == "c");
    CHECK(l.devices[0].major == 10);
    CHECK(l.devices[0].minor == 229);
    CHECK(l.devices[0].file_mode == 0666u);
    CHECK(l.devices[0].uid == 0u);
    CHECK(l.devices[1].file_mode == 0660u);
    CHECK_FALSE(l.devices[1].uid);
    CHECK(l.devices[2].type == "p");

    CHECK(l.cgroups_path == "/myRuntime/myContainer");
    CHECK(l.rootfs_propagation == "rslave");
    CHECK(l.sysctl.at("net.ipv4.ip_forward") == "1");
    CHECK(l.masked_paths == std::vector<std::string>{"/proc/kcore", "/proc/keys"});
    CHECK(l.readonly_paths.size() == 2);
    CHECK(l.mount_label == "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811");
    REQUIRE(l.intel_rdt);
    CHECK(l.intel_rdt->clos_id == "guaranteed_group");
    CHECK(l.intel_rdt->l3_cache_schema == "L3:0=7f0;1=1f");
    CHECK(l.intel_rdt->mem_bw_schema == "MB:0=20;1=70");
    CHECK(l.intel_rdt->enable_cmt);
    CHECK(l.intel_rdt->enable_mbm);
    REQUIRE(l.personality);
    CHECK(l.personality->domain == "LINUX32");
    CHECK(l.personality->flags.empty());
  }

  SECTION("resources") {
    REQUIRE(s.linux);
    REQUIRE(s.linux->resources);
    const Resources& r = *s.linux->resources;
    REQUIRE(r.devices.size() == 3);
    CHECK_FALSE(r.devices[0].allow);
    CHECK(r.devices[0].type.empty());
    CHECK_FALSE(r.devices[0].major);
    CHECK(r.devices[0].access == "rwm");
    CHECK(r.devices[1].allow);
    CHECK(r.devices[1].major == 10);
    CHECK(r.devices[1].minor == 229);
    CHECK_FALSE(r.devices[2].minor);

    REQUIRE(r.memory);
    CHECK(r.memory->limit == 536870912);
    CHECK(r.memory->reservation == 536870912);
    CHECK(r.memory->swap == 536870912);
    CHECK(r.memory->kernel == -1);
    CHECK(r.memory->kernel_tcp == -1);
    CHECK(r.memory->swappiness == 0u);  // set to 0, not unset
    CHECK(r.memory->disable_oom_killer == false);
    CHECK(r.memory->use_hierarchy == true);
    CHECK(r.memory->check_before_update == true);

    REQUIRE(r.cpu);
    CHECK(r.cpu->shares == 1024u);
    CHECK(r.cpu->quota == 1000000);
    CHECK(r.cpu->burst == 1000000u);
    CHECK(r.cpu->period == 500000u);
    CHECK(r.cpu->realtime_runtime == 950000);
    CHECK(r.cpu->realtime_period == 1000000u);
    CHECK(r.cpu->cpus == "2-3");
    CHECK(r.cpu->mems == "0-7");
    CHECK(r.cpu->idle == 0);

    REQUIRE(r.pids);
    CHECK(r.pids->limit == 32771);

    REQUIRE(r.block_io);
    CHECK(r.block_io->weight == 10);
    CHECK(r.block_io->leaf_weight == 10);
    REQUIRE(r.block_io->weight_device.size() == 2);
    CHECK(r.block_io->weight_device[0].major == 8);
    CHECK(r.block_io->weight_device[0].weight == 500);
    CHECK(r.block_io->weight_device[0].leaf_weight == 300);
    CHECK_FALSE(r.block_io->weight_device[1].leaf_weight);
    CHECK(r.block_io->throttle_read_bps.at(0).rate == 600);
    CHECK(r.block_io->throttle_write_bps.at(0).minor == 16);
    CHECK(r.block_io->throttle_read_iops.at(0).rate == 800);
    CHECK(r.block_io->throttle_write_iops.at(0).minor == 48);

    REQUIRE(r.hugepage_limits.size() == 2);
    CHECK(r.hugepage_limits[0].page_size == "2MB");
    CHECK(r.hugepage_limits[0].limit == 209715200);

    REQUIRE(r.network);
    CHECK(r.network->class_id == 1048577u);
    REQUIRE(r.network->priorities.size() == 2);
    CHECK(r.network->priorities[1].name == "eth1");
    CHECK(r.network->priorities[1].priority == 1000);

    CHECK(r.rdma.at("mlx5_1").hca_handles == 3u);
    CHECK(r.rdma.at("mlx5_1").hca_objects == 10000u);
    CHECK_FALSE(r.rdma.at("mlx4_0").hca_handles);
    CHECK(r.unified.at("io.weight") == "default 100");
  }

  SECTION("seccomp") {
    REQUIRE(s.linux);
    REQUIRE(s.linux->seccomp);
    const Seccomp& sc = *s.linux->seccomp;
    CHECK(sc.default_action == "SCMP_ACT_ERRNO");
    CHECK(sc.default_errno_ret == 1u);
    CHECK(sc.architectures == std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"});
    CHECK(sc.flags == std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
    CHECK(sc.listener_path == "/run/seccomp-agent.socket");
    CHECK(sc.listener_metadata == "metadata");
    REQUIRE(sc.syscalls.size() == 2);
    CHECK(sc.syscalls[0].names == std::vector<std::string>{"read", "write"});
    CHECK(sc.syscalls[0].action == "SCMP_ACT_ALLOW");
    CHECK_FALSE(sc.syscalls[0].errno_ret);
    CHECK(sc.syscalls[1].errno_ret == 38u);
    REQUIRE(sc.syscalls[1].args.size() == 2);
    CHECK(sc.syscalls[1].args[0].index == 0);
    CHECK(sc.syscalls[1].args[0].value == 8);
    CHECK(sc.syscalls[1].args[0].value_two == 0);
    CHECK(sc.syscalls[1].args[0].op == "SCMP_CMP_EQ");
    CHECK(sc.syscalls[1].args[1].index == 1);
    CHECK(sc.syscalls[1].args[1].value == 255);
    CHECK(sc.syscalls[1].args[1].value_two == 4);
    CHECK(sc.syscalls[1].args[1].op == "SCMP_CMP_MASKED_EQ");
  }
}

TEST_CASE("full config passes validate", "[spec][validate]") {
  auto problems = validate(parse(data_file("full.json")), true);
  INFO(dump(problems));
  CHECK(problems.empty());
}

TEST_CASE("absent optional fields stay unset", "[spec][parse]") {
  Spec s = parse(R"({"ociVersion": "1.0.0"})");
  CHECK(s.oci_version == "1.0.0");
  CHECK(s.root.path.empty());
  CHECK_FALSE(s.root.readonly);
  CHECK_FALSE(s.process);
  CHECK_FALSE(s.hooks);
  CHECK_FALSE(s.linux);
  CHECK(s.mounts.empty());
  CHECK(s.annotations.empty());

  Spec p = parse(R"({"process": {"args": ["a"], "cwd": "/"}, "linux": {"resources": {"memory": {}}}})");
  REQUIRE(p.process);
  CHECK(p.process->user.uid == 0);  // runc takes a missing uid/gid as 0
  CHECK_FALSE(p.process->user.umask);
  CHECK_FALSE(p.process->capabilities);
  CHECK_FALSE(p.process->oom_score_adj);
  CHECK_FALSE(p.process->console_size);
  CHECK_FALSE(p.process->io_priority);
  CHECK_FALSE(p.process->scheduler);
  REQUIRE(p.linux);
  REQUIRE(p.linux->resources);
  REQUIRE(p.linux->resources->memory);
  CHECK_FALSE(p.linux->resources->memory->limit);
  CHECK_FALSE(p.linux->resources->memory->swappiness);
  CHECK_FALSE(p.linux->resources->cpu);
  CHECK_FALSE(p.linux->seccomp);
}

TEST_CASE("unknown fields and nulls are ignored", "[spec][parse]") {
  Spec s = parse(R"({
    "ociVersion": "1.2.0",
    "futureField": {"a": [1, "x"]},
    "process": {"args": ["sh"], "cwd": "/", "somethingNew": 5, "oomScoreAdj": null},
    "linux": {"namespaces": [{"type": "pid", "extra": true}], "windowsThing": null, "seccomp": null}
  })");
  REQUIRE(s.process);
  CHECK(s.process->args == std::vector<std::string>{"sh"});
  CHECK_FALSE(s.process->oom_score_adj);
  REQUIRE(s.linux);
  CHECK(s.linux->namespaces.at(0).type == "pid");
  CHECK_FALSE(s.linux->seccomp);
}

TEST_CASE("syntax errors and empty documents", "[spec][parse]") {
  SECTION("empty") {
    CHECK(parse_error("") == "config.json: empty document");
    CHECK(parse_error(" \n\t ") == "config.json: empty document");
  }
  SECTION("not JSON") {
    std::string msg = parse_error("ociVersion: 1.0");
    CHECK_THAT(msg, Catch::StartsWith("config.json: not valid JSON: "));
    CHECK_THAT(msg, Catch::Contains("byte 1"));
    CHECK_THAT(msg, Catch::Contains("line 1"));
    CHECK_THAT(msg, !Catch::Contains("json.exception"));
  }
  SECTION("truncated") {
    std::string msg = parse_error(R"({"ociVersion": "1.2.0", "process": {"args": ["sh")");
    CHECK_THAT(msg, Catch::StartsWith("config.json: not valid JSON: "));
    CHECK_THAT(msg, Catch::Contains("end of input"));
    CHECK_THAT(msg, Catch::Contains("byte "));
  }
  SECTION("trailing garbage") {
    CHECK_THAT(parse_error(R"({"ociVersion": "1.2.0"} x)"), Catch::StartsWith("config.json: not valid JSON: "));
  }
  SECTION("comments are not JSON") {
    CHECK_THAT(parse_error("{\"ociVersion\": \"1.2.0\" // c\n}"), Catch::Contains("not valid JSON"));
  }
  SECTION("invalid UTF-8 in a string") {
    std::string msg = parse_error("{\"hostname\": \"\xff\"}");
    CHECK_THAT(msg, Catch::Contains("not valid JSON"));
    CHECK_THAT(msg, Catch::Contains("\\xff"));  // the bad byte is shown escaped, not raw
    CHECK(msg.find('\xff') == std::string::npos);
  }
  SECTION("the message stays short whatever the input") {
    std::string msg = parse_error("{\"hostname\": \"" + std::string(100000, 'a'));
    CHECK_THAT(msg, Catch::StartsWith("config.json: not valid JSON: "));
    CHECK(msg.size() < 400);
  }
  SECTION("a number beyond a double") {
    // Found by fuzz/fuzz_spec.cc and fuzz/fuzz_seccomp.cc: the JSON library reports this
    // as out_of_range, not parse_error, and it escaped parse() as a raw exception.
    for (const char* doc : {R"({"linux": {"resources": {"memory": {"limit": 1e999}}}})",
                            R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": -1e400}}})",
                            "[1e999]"}) {
      INFO(doc);
      std::string msg = parse_error(doc);
      CHECK_THAT(msg, Catch::StartsWith("config.json: not valid JSON: "));
      CHECK_THAT(msg, Catch::Contains("number overflow"));
      CHECK_THAT(msg, !Catch::Contains("json.exception"));
    }
  }
  SECTION("top level not an object") {
    CHECK(parse_error("[1, 2]") == "config.json: top level: expected object, got array");
    CHECK(parse_error("\"str\"") == "config.json: top level: expected object, got string");
  }
}

TEST_CASE("parse_process: a Process document, its errors naming the document and the path inside it", "[spec][parse]") {
  Process p = parse_process(R"({"args": ["sh", "-c", "true"], "cwd": "/x", "user": {"uid": 7}})", "--process p.json");
  CHECK(p.args == std::vector<std::string>{"sh", "-c", "true"});
  CHECK(p.cwd == "/x");
  CHECK(p.user.uid == 7u);
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"args": [1]})", "--process p.json: /args/0: expected string, got number"},
      {R"({"user": {"uid": -1}})", "--process p.json: /user/uid: value -1 out of range (0..4294967295)"},
      {R"({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]})", "--process p.json: /rlimits/0/hard: missing required field"},
      {R"([1])", "--process p.json: top level: expected object, got array"},
      {"  ", "--process p.json: empty document"},
      {R"({"args": )", "--process p.json: not valid JSON: syntax error while parsing value - unexpected end of input; "
                       "expected '[', '{', or a literal (at line 1, column 10, byte 10)"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    try {
      parse_process(c.json, "--process p.json");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::InvalidSpec);
      CHECK(std::string(e.what()) == c.message);
    }
  }
}

TEST_CASE("wrong types are reported with their JSON path", "[spec][parse]") {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {R"({"ociVersion": 1})", "config.json: /ociVersion: expected string, got number"},
      {R"({"process": {"args": [1]}})", "config.json: /process/args/0: expected string, got number"},
      {R"({"process": {"args": ["sh", true]}})", "config.json: /process/args/1: expected string, got boolean"},
      {R"({"process": {"args": "sh"}})", "config.json: /process/args: expected array, got string"},
      {R"({"process": []})", "config.json: /process: expected object, got array"},
      {R"({"process": {"terminal": "yes"}})", "config.json: /process/terminal: expected boolean, got string"},
      {R"({"process": {"terminal": 1}})", "config.json: /process/terminal: expected boolean, got number"},
      {R"({"process": {"user": {"uid": "0"}}})", "config.json: /process/user/uid: expected integer, got string"},
      {R"({"process": {"user": {"uid": 1.5}}})", "config.json: /process/user/uid: expected integer, got 1.5"},
      {R"({"process": {"user": {"additionalGids": [1, "2"]}}})",
       "config.json: /process/user/additionalGids/1: expected integer, got string"},
      {R"({"root": {"readonly": "true"}})", "config.json: /root/readonly: expected boolean, got string"},
      {R"({"mounts": [{"destination": "/a"}, {"destination": "/b", "options": [null]}]})",
       "config.json: /mounts/1/options/0: expected string, got null"},
      {R"({"mounts": [{"destination": "/a", "uidMappings": [{"containerID": 0, "hostID": -1, "size": 1}]}]})",
       "config.json: /mounts/0/uidMappings/0/hostID: value -1 out of range"},
      {R"({"hooks": {"poststop": [{"path": "/x", "timeout": "5"}]}})",
       "config.json: /hooks/poststop/0/timeout: expected integer, got string"},
      {R"({"annotations": {"a": 1}})", "config.json: /annotations/a: expected string, got number"},
      {R"({"annotations": {"io.k8s/x": {}}})", "config.json: /annotations/io.k8s~1x: expected string, got object"},
      {R"({"linux": {"namespaces": [{"type": "pid"}, {"type": 7}]}})",
       "config.json: /linux/namespaces/1/type: expected string, got number"},
      {R"({"linux": {"sysctl": {"net.x": 1}}})", "config.json: /linux/sysctl/net.x: expected string, got number"},
      {R"({"linux": {"timeOffsets": {"monotonic": {"secs": "1"}}}})",
       "config.json: /linux/timeOffsets/monotonic/secs: expected integer, got string"},
      {R"({"linux": {"resources": {"memory": {"limit": "1G"}}}})",
       "config.json: /linux/resources/memory/limit: expected integer, got string"},
      {R"({"linux": {"resources": {"memory": {"disableOOMKiller": 0}}}})",
       "config.json: /linux/resources/memory/disableOOMKiller: expected boolean, got number"},
      {R"({"linux": {"resources": {"cpu": {"cpus": 3}}}})",
       "config.json: /linux/resources/cpu/cpus: expected string, got number"},
      {R"({"linux": {"resources": {"cpu": {"shares": -2}}}})",
       "config.json: /linux/resources/cpu/shares: value -2 out of range"},
      {R"({"linux": {"resources": {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 70000}]}}}})",
       "config.json: /linux/resources/blockIO/weightDevice/0/weight: value 70000 out of range (0..65535)"},
      {R"({"linux": {"resources": {"rdma": {"mlx": {"hcaHandles": -1}}}}})",
       "config.json: /linux/resources/rdma/mlx/hcaHandles: value -1 out of range"},
      {R"({"linux": {"resources": {"unified": {"memory.max": 5}}}})",
       "config.json: /linux/resources/unified/memory.max: expected string, got number"},
      {R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["x"], "action": "a",
          "args": [{"index": 0, "value": 1, "valueTwo": -3, "op": "SCMP_CMP_EQ"}]}]}}})",
       "config.json: /linux/seccomp/syscalls/0/args/0/valueTwo: value -3 out of range"},
      {R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "read"}]}}})",
       "config.json: /linux/seccomp/syscalls/0/names: expected array, got string"},
      {R"({"linux": {"devices": [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3, "fileMode": "0666"}]}})",
       "config.json: /linux/devices/0/fileMode: expected integer, got string"},
      {R"({"linux": {"intelRdt": {"enableCMT": "yes"}}})",
       "config.json: /linux/intelRdt/enableCMT: expected boolean, got string"},
      {R"({"linux": {"personality": {"domain": "LINUX", "flags": [1]}}})",
       "config.json: /linux/personality/flags/0: expected string, got number"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    CHECK_THAT(parse_error(c.json), Catch::StartsWith(c.message));
  }
}

TEST_CASE("numbers out of range of the target type are errors", "[spec][parse]") {
  CHECK_THAT(parse_error(R"({"process": {"user": {"uid": -1}}})"),
             Catch::StartsWith("config.json: /process/user/uid: value -1 out of range (0..4294967295)"));
  CHECK_THAT(parse_error(R"({"process": {"user": {"gid": 4294967296}}})"),
             Catch::StartsWith("config.json: /process/user/gid: value 4294967296 out of range"));
  CHECK_THAT(parse_error(R"({"process": {"oomScoreAdj": 2147483648}})"),
             Catch::StartsWith("config.json: /process/oomScoreAdj: value 2147483648 out of range"));
  CHECK_THAT(parse_error(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "hard": -1, "soft": 0}]}})"),
             Catch::StartsWith("config.json: /process/rlimits/0/hard: value -1 out of range"));
  // Beyond 64 bits: the JSON library holds it as a float.
  CHECK_THAT(parse_error(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551616,
                         "soft": 0}]}})"),
             Catch::StartsWith("config.json: /process/rlimits/0/hard: value") && Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"linux": {"resources": {"memory": {"limit": 1e30}}}})"),
             Catch::StartsWith("config.json: /linux/resources/memory/limit: value") && Catch::Contains("out of range"));
  CHECK_THAT(parse_error(R"({"linux": {"resources": {"memory": {"limit": 1.0}}}})"),
             Catch::StartsWith("config.json: /linux/resources/memory/limit: expected integer"));
  // Extremes that fit are fine.
  Spec s = parse(R"({"process": {"user": {"uid": 4294967295}, "oomScoreAdj": -2147483648},
                     "linux": {"resources": {"memory": {"limit": -9223372036854775808}}}})");
  CHECK(s.process->user.uid == 4294967295u);
  CHECK(s.process->oom_score_adj == INT32_MIN);
  CHECK(s.linux->resources->memory->limit == INT64_MIN);
}

TEST_CASE("missing required fields that have no 'unset' value are parse errors", "[spec][parse]") {
  CHECK(parse_error(R"({"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1}]}})") ==
        "config.json: /process/rlimits/0/hard: missing required field");
  CHECK(parse_error(R"({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000}]}})") ==
        "config.json: /linux/uidMappings/0/size: missing required field");
  CHECK(parse_error(R"({"linux": {"devices": [{"path": "/dev/null", "type": "c", "minor": 3}]}})") ==
        "config.json: /linux/devices/0/major: missing required field");
  CHECK(parse_error(R"({"linux": {"resources": {"devices": [{"access": "rwm"}]}}})") ==
        "config.json: /linux/resources/devices/0/allow: missing required field");
  CHECK(parse_error(R"({"linux": {"resources": {"pids": {}}}})") ==
        "config.json: /linux/resources/pids/limit: missing required field");
  // A fifo needs no device numbers.
  Spec s = parse(R"({"linux": {"devices": [{"path": "/dev/f", "type": "p"}]}})");
  CHECK(s.linux->devices.at(0).major == 0);
}

TEST_CASE("to_json round-trips", "[spec][to_json]") {
  Spec a = parse(data_file("full.json"));
  std::string once = to_json(a);
  Spec b = parse(once);
  CHECK(to_json(b) == once);

  // Key fields survive.
  CHECK(b.oci_version == a.oci_version);
  CHECK(b.process->args == a.process->args);
  CHECK(b.process->user.umask == a.process->user.umask);
  CHECK(b.process->rlimits.at(1).hard == UINT64_MAX);
  CHECK(b.mounts.size() == a.mounts.size());
  CHECK(b.mounts[1].uid_mappings.at(0).host_id == 100000);
  CHECK(b.hooks->create_runtime.at(0).timeout == 5);
  CHECK(b.linux->namespaces.size() == 8);
  CHECK(b.linux->resources->memory->swappiness == 0u);  // set zero stays set
  CHECK(b.linux->resources->memory->disable_oom_killer == false);
  CHECK(b.linux->resources->cpu->idle == 0);
  CHECK(b.linux->seccomp->syscalls.at(1).args.at(1).value_two == 4);
  CHECK(b.linux->time_offsets.at("monotonic").secs == -86400);
  CHECK(b.linux->intel_rdt->enable_mbm);
  CHECK(b.linux->personality->domain == "LINUX32");
  CHECK(b.annotations == a.annotations);
  CHECK(b.linux->sysctl == a.linux->sysctl);
  CHECK(b.linux->resources->rdma.size() == 2);
}

TEST_CASE("to_json uses the spec's names and leaves unset fields out", "[spec][to_json]") {
  std::string full = to_json(parse(data_file("full.json")));
  for (const char* name : {"\"additionalGids\"", "\"containerID\"", "\"hostID\"", "\"fileMode\"",
                           "\"throttleReadBpsDevice\"", "\"throttleWriteIOPSDevice\"", "\"weightDevice\"",
                           "\"leafWeight\"", "\"realtimeRuntime\"", "\"disableOOMKiller\"", "\"checkBeforeUpdate\"",
                           "\"kernelTCP\"", "\"useHierarchy\"", "\"classID\"", "\"hcaHandles\"", "\"l3CacheSchema\"",
                           "\"memBwSchema\"", "\"closID\"", "\"valueTwo\"", "\"createRuntime\"", "\"timeOffsets\"",
                           "\"consoleSize\"", "\"ioPriority\"", "\"class\"", "\"defaultErrnoRet\"",
                           "\"listenerPath\"", "\"rootfsPropagation\"", "\"enableCMT\""})
    CHECK_THAT(full, Catch::Contains(name));
  CHECK_THAT(full, !Catch::Contains("futureField"));
  CHECK_THAT(full, !Catch::Contains("windows"));

  std::string minimal = to_json(parse(R"({"ociVersion": "1.2.0", "process": {"args": ["a"], "cwd": "/"}})"));
  CHECK_THAT(minimal, Catch::Contains("\"ociVersion\""));
  CHECK_THAT(minimal, Catch::Contains("\"user\""));  // REQUIRED in process
  for (const char* absent : {"\"linux\"", "\"hooks\"", "\"mounts\"", "\"root\"", "\"hostname\"", "\"terminal\"",
                             "\"capabilities\"", "\"oomScoreAdj\"", "\"umask\"", "\"env\"", "\"annotations\""})
    CHECK_THAT(minimal, !Catch::Contains(absent));
}

TEST_CASE("load reads bundle/config.json", "[spec][load]") {
  char tmpl[] = "/tmp/ocirun-spec-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;

  SECTION("missing file names the path and errno") {
    try {
      load(dir);
      FAIL("load succeeded");
    } catch (const Error& e) {
      CHECK(std::string(e.what()) == "open " + dir + "/config.json: No such file or directory");
      CHECK(e.sys_errno() == ENOENT);
    }
  }
  SECTION("present file is parsed") {
    std::ofstream(dir + "/config.json") << R"({"ociVersion": "1.2.0", "hostname": "x"})";
    CHECK(load(dir).hostname == "x");
    CHECK(load(dir + "/").hostname == "x");
  }
  SECTION("broken file gives InvalidSpec") {
    std::ofstream(dir + "/config.json") << R"({"ociVersion": 1.2})";
    try {
      load(dir);
      FAIL("load succeeded");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::InvalidSpec);
      CHECK_THAT(e.what(), Catch::Contains("/ociVersion"));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("validate accepts a good spec", "[spec][validate]") {
  auto problems = validate(valid_spec(), true);
  INFO(dump(problems));
  CHECK(problems.empty());
  CHECK_NOTHROW(validate_or_throw(valid_spec(), true));
}

TEST_CASE("validate finds each kind of problem at its field", "[spec][validate]") {
  struct Case {
    const char* name;
    std::function<void(Spec&)> change;
    const char* field;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no version", [](Spec& s) { s.oci_version.clear(); }, "/ociVersion", "is required"},
      {"version 2", [](Spec& s) { s.oci_version = "2.0.0"; }, "/ociVersion", "want 1.x"},
      {"no root", [](Spec& s) { s.root.path.clear(); }, "/root/path", "is required"},
      {"no process", [](Spec& s) { s.process.reset(); }, "/process", "is required"},
      {"no args", [](Spec& s) { s.process->args.clear(); }, "/process/args", "must not be empty"},
      {"relative cwd", [](Spec& s) { s.process->cwd = "work"; }, "/process/cwd", "absolute"},
      {"empty cwd", [](Spec& s) { s.process->cwd = ""; }, "/process/cwd", "absolute"},
      {"env without =", [](Spec& s) { s.process->env.push_back("NOEQUALS"); }, "/process/env/1", "KEY=VALUE"},
      {"env with empty key", [](Spec& s) { s.process->env.push_back("=x"); }, "/process/env/1", "KEY=VALUE"},
      {"bad capability",
       [](Spec& s) { s.process->capabilities = Capabilities{.effective = {"CAP_KILL", "cap_chown"}}; },
       "/process/capabilities/effective/1", "invalid capability name \"cap_chown\""},
      {"bare CAP_", [](Spec& s) { s.process->capabilities = Capabilities{.ambient = {"CAP_"}}; },
       "/process/capabilities/ambient/0", "invalid capability"},
      {"unknown rlimit", [](Spec& s) { s.process->rlimits = {{"RLIMIT_FOO", 1, 1}}; }, "/process/rlimits/0/type",
       "unknown rlimit type \"RLIMIT_FOO\""},
      {"soft > hard", [](Spec& s) { s.process->rlimits = {{"RLIMIT_NOFILE", 10, 20}}; }, "/process/rlimits/0/soft",
       "exceeds hard limit"},
      {"duplicate rlimit",
       [](Spec& s) { s.process->rlimits = {{"RLIMIT_NOFILE", 10, 10}, {"RLIMIT_CORE", 0, 0}, {"RLIMIT_NOFILE", 5, 5}}; },
       "/process/rlimits/2/type", "duplicate rlimit"},
      {"oomScoreAdj", [](Spec& s) { s.process->oom_score_adj = 1001; }, "/process/oomScoreAdj", "-1000 and 1000"},
      {"ioPriority class", [](Spec& s) { s.process->io_priority = IoPriority{"IOPRIO_CLASS_X", 0}; },
       "/process/ioPriority/class", "unknown class"},
      {"empty mount destination", [](Spec& s) { s.mounts.push_back({.destination = "", .type = "tmpfs"}); },
       "/mounts/1/destination", "is required"},
      {"unknown namespace", [](Spec& s) { s.linux->namespaces.push_back({"foo"}); }, "/linux/namespaces/3/type",
       "unknown namespace type \"foo\""},
      {"duplicate namespace", [](Spec& s) { s.linux->namespaces.push_back({"pid", "/proc/1/ns/pid"}); },
       "/linux/namespaces/3/type", "duplicate namespace type \"pid\""},
      {"relative namespace path", [](Spec& s) { s.linux->namespaces.push_back({"ipc", "proc/1/ns/ipc"}); },
       "/linux/namespaces/3/path", "absolute"},
      {"mappings without userns", [](Spec& s) { s.linux->uid_mappings = {{0, 1000, 1}}; }, "/linux/uidMappings",
       "needs a new user namespace"},
      {"mappings with joined userns",
       [](Spec& s) {
         s.linux->namespaces.push_back({"user", "/proc/1/ns/user"});
         s.linux->gid_mappings = {{0, 1000, 1}};
       },
       "/linux/gidMappings", "needs a new user namespace"},
      {"new userns without mappings", [](Spec& s) { s.linux->namespaces.push_back({"user"}); }, "/linux/uidMappings",
       "is required with a new user namespace"},
      {"zero-size mapping",
       [](Spec& s) {
         s.linux->namespaces.push_back({"user"});
         s.linux->uid_mappings = {{0, 1000, 0}};
         s.linux->gid_mappings = {{0, 1000, 1}};
       },
       "/linux/uidMappings/0/size", "must be positive"},
      {"timeOffsets without time ns", [](Spec& s) { s.linux->time_offsets["monotonic"] = {1, 0}; },
       "/linux/timeOffsets", "needs a new time namespace"},
      {"timeOffsets unknown clock",
       [](Spec& s) {
         s.linux->namespaces.push_back({"time"});
         s.linux->time_offsets["realtime"] = {1, 0};
       },
       "/linux/timeOffsets/realtime", "unknown clock"},
      {"rootfsPropagation", [](Spec& s) { s.linux->rootfs_propagation = "sideways"; }, "/linux/rootfsPropagation",
       "unknown propagation \"sideways\""},
      {"empty sysctl key", [](Spec& s) { s.linux->sysctl[""] = "1"; }, "/linux/sysctl/", "must not be empty"},
      {"device type", [](Spec& s) { s.linux->devices.push_back({.type = "x", .path = "/dev/x"}); },
       "/linux/devices/0/type", "unknown device type \"x\""},
      {"device path", [](Spec& s) { s.linux->devices.push_back({.type = "c", .path = "dev/null", .major = 1}); },
       "/linux/devices/0/path", "absolute"},
      {"hostname without uts",
       [](Spec& s) {
         s.linux->namespaces.pop_back();  // uts
       },
       "/hostname", "needs a uts namespace"},
      {"domainname without uts",
       [](Spec& s) {
         s.hostname.clear();
         s.domainname = "d";
         s.linux->namespaces.pop_back();
       },
       "/domainname", "needs a uts namespace"},
      {"relative hook path", [](Spec& s) { s.hooks = Hooks{.poststop = {{.path = "cleanup.sh"}}}; },
       "/hooks/poststop/0/path", "absolute"},
      {"createRuntime hook path", [](Spec& s) { s.hooks = Hooks{.create_runtime = {{}, {.path = "x"}}}; },
       "/hooks/createRuntime/1/path", "absolute"},
      {"hook timeout", [](Spec& s) { s.hooks = Hooks{.prestart = {{.path = "/x", .timeout = 0}}}; },
       "/hooks/prestart/0/timeout", "must be positive"},
      {"device rule access",
       [](Spec& s) { s.linux->resources = Resources{.devices = {{.allow = true, .access = "rwx"}}}; },
       "/linux/resources/devices/0/access", "r, w and m"},
      {"seccomp without defaultAction", [](Spec& s) { s.linux->seccomp = Seccomp{}; },
       "/linux/seccomp/defaultAction", "is required"},
      {"seccomp arg op",
       [](Spec& s) {
         s.linux->seccomp = Seccomp{.default_action = "SCMP_ACT_ALLOW",
                                    .syscalls = {{.names = {"x"}, .action = "SCMP_ACT_ERRNO", .args = {{.op = "EQ"}}}}};
       },
       "/linux/seccomp/syscalls/0/args/0/op", "unknown operator"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    Spec s = valid_spec();
    c.change(s);
    auto problems = validate(s, true);
    INFO(dump(problems));
    CHECK(has_problem(problems, c.field, c.message));
  }
}

TEST_CASE("validate: process optional unless asked for, relative mounts allowed", "[spec][validate]") {
  Spec s = valid_spec();
  s.process.reset();
  CHECK(validate(s, false).empty());
  CHECK_FALSE(validate(s, true).empty());

  Spec r = valid_spec();
  r.mounts.push_back({.destination = "relative/path", .type = "tmpfs"});
  CHECK(validate(r, true).empty());
}

TEST_CASE("validate_or_throw reports the first problem", "[spec][validate]") {
  Spec s = valid_spec();
  s.process->cwd = "rel";
  s.linux->rootfs_propagation = "bad";
  try {
    validate_or_throw(s, true);
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::InvalidSpec);
    CHECK(std::string(e.what()) == "config.json: /process/cwd: must be an absolute path");
  }
}

TEST_CASE("default_spec matches runc spec", "[spec][default]") {
  Spec s = default_spec(false, true);
  CHECK(s.oci_version == "1.2.0");
  CHECK(s.root.path == "rootfs");
  CHECK(s.root.readonly);
  CHECK(s.hostname == "ocirun");
  REQUIRE(s.process);
  CHECK(s.process->terminal);
  CHECK(s.process->user.uid == 0);
  CHECK(s.process->user.gid == 0);
  CHECK(s.process->args == std::vector<std::string>{"sh"});
  CHECK(s.process->env == std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                                    "TERM=xterm"});
  CHECK(s.process->cwd == "/");
  CHECK(s.process->no_new_privileges);
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  REQUIRE(s.process->capabilities);
  CHECK(s.process->capabilities->bounding == caps);
  CHECK(s.process->capabilities->effective == caps);
  CHECK(s.process->capabilities->permitted == caps);
  CHECK(s.process->capabilities->inheritable.empty());
  REQUIRE(s.process->rlimits.size() == 1);
  CHECK(s.process->rlimits[0].type == "RLIMIT_NOFILE");
  CHECK(s.process->rlimits[0].hard == 1024);
  CHECK(s.process->rlimits[0].soft == 1024);

  REQUIRE(s.mounts.size() == 7);
  std::vector<std::string> dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  CHECK(dests == std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                          "/sys/fs/cgroup"});
  CHECK(s.mounts[2].options ==
        std::vector<std::string>{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"});
  CHECK(s.mounts[5].type == "sysfs");

  REQUIRE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  CHECK(ns == std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"});
  CHECK(s.linux->uid_mappings.empty());
  CHECK(s.linux->masked_paths.size() == 11);
  CHECK(s.linux->readonly_paths.size() == 5);
  REQUIRE(s.linux->resources);
  REQUIRE(s.linux->resources->devices.size() == 1);
  CHECK_FALSE(s.linux->resources->devices[0].allow);

  auto problems = validate(s, true);
  INFO(dump(problems));
  CHECK(problems.empty());
  std::string json = to_json(s);
  CHECK(to_json(parse(json)) == json);
}

TEST_CASE("default_spec: a cgroup namespace only when asked (runc: pure cgroup v2 hosts)", "[spec][default]") {
  for (bool rootless : {false, true}) {
    const Spec s = default_spec(rootless, false);
    std::vector<std::string> ns;
    for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
    CHECK(std::find(ns.begin(), ns.end(), "cgroup") == ns.end());
    CHECK(std::find(ns.begin(), ns.end(), "mount") != ns.end());
  }
}

TEST_CASE("default_spec(rootless) matches runc spec --rootless", "[spec][default]") {
  Spec s = default_spec(true, true);
  REQUIRE(s.linux);
  std::vector<std::string> ns;
  for (const auto& n : s.linux->namespaces) ns.push_back(n.type);
  CHECK(ns == std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "user"});
  REQUIRE(s.linux->uid_mappings.size() == 1);
  CHECK(s.linux->uid_mappings[0].container_id == 0);
  CHECK(s.linux->uid_mappings[0].host_id == ::geteuid());
  CHECK(s.linux->uid_mappings[0].size == 1);
  REQUIRE(s.linux->gid_mappings.size() == 1);
  CHECK(s.linux->gid_mappings[0].host_id == ::getegid());
  CHECK_FALSE(s.linux->resources);

  const Mount* sys = nullptr;
  const Mount* pts = nullptr;
  for (const auto& m : s.mounts) {
    if (m.destination == "/sys") sys = &m;
    if (m.destination == "/dev/pts") pts = &m;
  }
  REQUIRE(sys);
  CHECK(sys->type == "none");
  CHECK(sys->source == "/sys");
  CHECK(sys->options == std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"});
  REQUIRE(pts);
  CHECK(pts->options == std::vector<std::string>{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"});
  CHECK(s.mounts.back().destination == "/sys/fs/cgroup");
  CHECK(s.mounts.back().options == std::vector<std::string>{"nosuid", "noexec", "nodev", "relatime", "ro"});

  auto problems = validate(s, true);
  INFO(dump(problems));
  CHECK(problems.empty());
  std::string json = to_json(s);
  CHECK(to_json(parse(json)) == json);
}
