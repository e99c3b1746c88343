//! Attacks on a local jail from inside it, as code in a local sandbox would make them (`--multi-sandbox
//! --isolate`). The agent runs as root here and in CI, as it does in most dev containers, and as an ordinary user
//! where the machine lets the test make one. Each test fails while the defect it names is there. Skipped, saying
//! so, where bubblewrap cannot make namespaces.

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use crate::support::*;

const JAIL: &[&str] = &["--multi-sandbox", "{dir}", "--isolate"];

fn stdout(reply: &Value) -> String {
    reply["stdout"].as_str().unwrap_or_default().to_string()
}

fn root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn slirp4netns() -> bool {
    Command::new("slirp4netns").arg("--version").output().is_ok()
}

/// Code in a jail has no capability, in any set, and its root is an unprivileged uid of the host: it cannot
/// remount the read-only system, write the host's files, or change its network.
#[tokio::test]
async fn code_in_a_jail_has_no_capability_and_is_no_user_of_the_host() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a
        .run(
            None,
            "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; \
             mount -o remount,bind,rw /etc 2>/dev/null || echo remount-refused; \
             (echo x >> \"$(command -v bwrap)\") 2>/dev/null || echo bwrap-refused; \
             (echo x >> /etc/hostname) 2>/dev/null || echo etc-refused; \
             ip link add pwn0 type dummy 2>&1 | grep -q 'Operation not permitted' && echo net-admin-refused; \
             touch /workspace/made-here; id -u; awk '{print $2}' /proc/self/uid_map",
        )
        .await;
    let out = stdout(&r);
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{cap}:\t0000000000000000")), "{cap} is not empty: {out}");
    }
    for refused in ["remount-refused", "bwrap-refused", "etc-refused", "net-admin-refused"] {
        assert!(out.contains(refused), "{refused} missing: {out}");
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[lines.len() - 2], "0", "the sandbox's code is its own root: {out}");
    let outside: u32 = lines[lines.len() - 1].trim().parse().unwrap();
    let owner = std::fs::metadata(agent.dir.join("box-a/made-here")).unwrap().uid();
    assert_eq!(owner, outside, "a file the sandbox makes belongs to its uid on the host");
    if root() {
        assert_ne!(owner, 0, "the sandbox's root is the host's root");
    }
}

/// The host's environment (a developer's or CI's tokens) does not reach a jail, and neither does the token its
/// own agent answers to.
#[tokio::test]
async fn the_hosts_environment_and_the_jails_token_stay_out() {
    if !jail_available() {
        return;
    }
    let canaries = [("GITHUB_TOKEN", "ghp-canary-1"), ("CLOUDFLARE_API_TOKEN", "cf-canary-2"), ("SSH_AUTH_SOCK", "/x")];
    let agent = Agent::start_with_env(JAIL, &canaries);
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a
        .run(None, "env; for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ; tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null")
        .await;
    let out = stdout(&r);
    for (name, value) in canaries {
        assert!(!out.contains(name) && !out.contains(value), "{name} reached the jail: {out}");
    }
    // (`--token-stdin` is the flag that says where it came from.)
    let tokens = out.match_indices("token-").filter(|(i, _)| !out[*i..].starts_with("token-stdin")).count();
    assert_eq!(tokens, 0, "the jail agent's token is readable in the jail: {out}");
    assert!(!out.contains("SANDBOX_AGENT_TOKEN"), "{out}");
    assert!(out.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), "{out}");
}

/// The host's loopback (where `wrangler dev`, its inspector and the host agent listen) and the host's own
/// addresses are out of a jail's reach: its loopback is its own, and slirp4netns's way to the host's is shut.
#[tokio::test]
async fn a_jail_reaches_neither_the_hosts_loopback_nor_its_addresses() {
    if !jail_available() {
        return;
    }
    // The host's addresses before the jail starts (another test may add one meanwhile, which this jail may reach).
    let hosts: Vec<Ipv4Addr> = nix::ifaddrs::getifaddrs()
        .unwrap()
        .filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
        .filter(|ip| !ip.is_loopback())
        .collect();
    let agent = Agent::start_with(JAIL);
    let loopback = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let everywhere = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    loopback.set_nonblocking(true).unwrap();
    everywhere.set_nonblocking(true).unwrap();
    let (lp, ep) = (loopback.local_addr().unwrap().port(), everywhere.local_addr().unwrap().port());
    let mut targets = vec![
        format!("127.0.0.1 {lp}"),
        format!("127.0.0.1 {}", agent.addr.port()),
        format!("10.0.2.2 {lp}"),
        format!("10.0.2.2 {}", agent.addr.port()),
    ];
    targets.extend(hosts.iter().map(|ip| format!("{ip} {ep}")));
    let script = format!(
        "for t in '{}'; do set -- $t; timeout 3 bash -c \"echo hi > /dev/tcp/$1/$2\" 2>/dev/null && echo \"reached $1:$2\"; done; echo done",
        targets.join("' '")
    );
    let mut a = agent.client().await.for_sandbox("box-a");
    let out = stdout(&a.run(None, &script).await);
    assert_eq!(out, "done", "the jail reached the host: {out}");
    assert!(loopback.accept().is_err() && everywhere.accept().is_err(), "a connection from the jail arrived");
}

/// A jail has a way out to other hosts (here a host of the test's own: a network namespace with a server in it,
/// joined to this one by a veth pair), and its names resolve through slirp4netns's resolver.
#[tokio::test]
async fn a_jail_has_a_way_out_to_other_hosts() {
    if !jail_available() {
        return;
    }
    if !root() || !slirp4netns() {
        eprintln!("skipped: the test's own host needs root and the jail's way out slirp4netns");
        return;
    }
    let host = TestHost::start(Speaks::Hello);
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a.run(None, &format!("cat /etc/resolv.conf; exec 3<>/dev/tcp/{}/{}; cat <&3", host.addr, host.port)).await;
    assert_eq!(stdout(&r), "nameserver 10.0.2.3\nhello from outside", "{r}");
}

/// A jail's start leaves the host's mounts as they were: the mounts of `ip netns`'s namespaces (under a shared
/// `/run/netns`) once vanished whenever a jail's way out started, unmounted by slirp4netns's sandbox through
/// propagation.
#[tokio::test]
async fn a_jails_start_leaves_the_hosts_mounts_alone() {
    if !jail_available() {
        return;
    }
    if !root() || !slirp4netns() {
        eprintln!("skipped: the host's own namespace needs root, and the way out slirp4netns");
        return;
    }
    let host = TestHost::start(Speaks::Hello);
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-m");
    assert_eq!(stdout(&a.run(None, "echo up").await), "up");
    let joined = Command::new("ip").args(["netns", "exec", &host.name, "true"]).output().unwrap();
    assert!(joined.status.success(), "the host's namespace is gone: {}", String::from_utf8_lossy(&joined.stderr));
}

/// What a jail writes to its standard error reaches the host's terminal only cleaned and with the sandbox's id.
#[tokio::test]
async fn what_a_jail_writes_to_its_error_stream_reaches_the_host_cleaned() {
    if !jail_available() {
        return;
    }
    let log = scratch_dir("log").join("stderr");
    let file = std::fs::File::create(&log).unwrap();
    let agent = Agent::start_configured(JAIL, &[("SANDBOX_AGENT_LOG", "info")], |c| {
        c.stderr(file);
    });
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a
        .run(None, "for f in /proc/1/fd/2 /proc/2/fd/2; do printf '\\033]0;PWNED\\007\\033[2Jforged\\n' > $f; done 2>/dev/null; echo ran")
        .await;
    assert_eq!(stdout(&r), "ran");
    // The jail's agent logs the session it made: that line comes through, prefixed.
    let text = || std::fs::read(&log).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || String::from_utf8_lossy(&text()).contains("sandbox box-a| ")).await,
        "{}",
        String::from_utf8_lossy(&text())
    );
    let text = text();
    assert!(!text.contains(&0x1b), "an escape sequence reached the terminal: {}", String::from_utf8_lossy(&text));
    for line in String::from_utf8_lossy(&text).lines().filter(|l| l.contains("forged")) {
        assert!(line.starts_with("sandbox box-a| "), "a line of the jail passes as the host's: {line}");
    }
}

/// Descriptors the agent inherited (a lock file of the shell that started it) are open in no jail.
#[tokio::test]
async fn nothing_the_agent_inherited_reaches_a_jail() {
    if !jail_available() {
        return;
    }
    let marker = scratch_dir("fd").join("inherited-marker");
    let file = std::fs::File::create(&marker).unwrap();
    let raw = file.as_raw_fd();
    let agent = Agent::start_configured(JAIL, &[], move |c| {
        // SAFETY: dup2 only, between fork and exec; the copies are not close-on-exec, as a shell's would be.
        unsafe {
            c.pre_exec(move || {
                libc::dup2(raw, 3);
                libc::dup2(raw, 9);
                Ok(())
            });
        }
    });
    drop(file);
    let mut a = agent.client().await.for_sandbox("box-a");
    // Every process of the jail but its agent (which serves its socket): no inherited file, no socket.
    let r = a
        .run(
            None,
            "for p in /proc/[0-9]*; do [ \"$(readlink $p/exe)\" = /run/sandbox-agent/agent ] || ls -l $p/fd/; \
             done 2>/dev/null > /tmp/fds; grep -c inherited-marker /tmp/fds; grep -c socket: /tmp/fds",
        )
        .await;
    assert_eq!(stdout(&r), "0\n0", "{r}");
}

/// One sandbox's destroy (its kill, then its whole tree removed) does not hold up a call to another.
#[tokio::test]
async fn one_sandboxs_destroy_does_not_hold_up_another() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(JAIL);
    let mut a = agent.client().await.for_sandbox("box-a");
    let mut b = agent.client().await.for_sandbox("box-b");
    let r = a.run(None, "mkdir many && cd many && seq 1 60000 | xargs touch && ls | wc -l").await;
    assert_eq!(stdout(&r), "60000");
    assert_eq!(stdout(&b.run(None, "echo ready").await), "ready");
    let many = agent.dir.join("box-a/many");
    let destroy = tokio::spawn(async move { a.delete("/v1/sandbox").await.status });
    // Once its tree is being removed, box-a's destroy is under way: box-b answers before it ends.
    assert!(eventually(Duration::from_secs(20), || std::fs::read_dir(&many).map_or(true, |d| d.count() < 60000)).await);
    assert_eq!(stdout(&b.run(None, "echo still here").await), "still here");
    assert!(!destroy.is_finished(), "box-a's destroy ended before box-b's call came back: nothing was shown");
    assert_eq!(destroy.await.unwrap(), 200);
}

/// The agent run as an ordinary user jails its sandboxes too: no capability, and their root is that user.
#[tokio::test]
async fn an_agent_run_as_an_ordinary_user_jails_too() {
    if !jail_available() {
        return;
    }
    if !root() {
        eprintln!("skipped: making the agent an ordinary user needs root");
        return;
    }
    const NOBODY: u32 = 65534;
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_sandbox-agent"));
    if !walkable_by_others(binary) {
        eprintln!("skipped: {} is not reachable by other users here", binary.display());
        return;
    }
    let agent = Agent::start_configured(JAIL, &[], |c| {
        c.uid(NOBODY).gid(NOBODY);
    });
    let root_dir = agent.dir.clone();
    std::os::unix::fs::chown(&root_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut a = agent.client().await.for_sandbox("box-a");
    let r = a.run(None, "grep CapEff /proc/self/status; touch made-here; awk '{print $2}' /proc/self/uid_map").await;
    assert_eq!(stdout(&r), format!("CapEff:\t0000000000000000\n{NOBODY}"), "{r}");
    assert_eq!(std::fs::metadata(root_dir.join("box-a/made-here")).unwrap().uid(), NOBODY);
}

/// Whether every folder above `path` lets other users through.
fn walkable_by_others(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors().skip(1).all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// A loop over new ids meets the cap on jails (`--max-sandboxes`) with 429 TOO_MANY_SANDBOXES, naming the limit;
/// a destroyed sandbox makes room.
#[tokio::test]
async fn a_loop_over_new_ids_is_capped() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate", "--max-sandboxes", "2"]);
    let mut a = agent.client().await.for_sandbox("box-a");
    let mut b = agent.client().await.for_sandbox("box-b");
    let mut c = agent.client().await.for_sandbox("box-c");
    assert_eq!(stdout(&a.run(None, "echo a").await), "a");
    assert_eq!(stdout(&b.run(None, "echo b").await), "b");
    let refused = c.post("/v1/exec", json!({"command": "echo c"})).await;
    assert_eq!(refused.status, 429, "{}", String::from_utf8_lossy(&refused.body));
    assert_eq!(refused.json()["code"], "TOO_MANY_SANDBOXES");
    assert!(refused.json()["message"].as_str().unwrap().contains("runs 2 local sandboxes"), "{}", refused.json());
    assert!(!agent.dir.join("box-c").exists(), "a refused sandbox got a folder");
    assert_eq!(a.delete("/v1/sandbox").await.status, 200);
    assert_eq!(stdout(&c.run(None, "echo c").await), "c");
}

/// Reads of sandboxes that do not exist start no jail: lists come back empty, other reads 404, no folder is made
/// and no place among the running is taken.
#[tokio::test]
async fn a_read_of_a_sandbox_that_does_not_exist_starts_nothing() {
    if !jail_available() {
        return;
    }
    let agent = Agent::start_with(&["--multi-sandbox", "{dir}", "--isolate", "--max-sandboxes", "1"]);
    for n in 0..20 {
        let mut ghost = agent.client().await.for_sandbox(&format!("ghost-{n}"));
        let sessions = ghost.get("/v1/sessions").await;
        assert_eq!(sessions.status, 200);
        assert_eq!(sessions.json()["sessions"], json!([]));
        assert_eq!(ghost.get("/v1/processes").await.json()["processes"], json!([]));
        assert_eq!(ghost.get("/v1/processes/web").await.json()["code"], "PROCESS_NOT_FOUND");
        assert_eq!(ghost.get("/v1/sessions/s1").await.json()["code"], "SESSION_NOT_FOUND");
        let metrics = ghost.get("/v1/metrics").await;
        assert_eq!(metrics.status, 404, "{}", String::from_utf8_lossy(&metrics.body));
        assert_eq!(metrics.json()["code"], "NOT_FOUND");
    }
    assert_eq!(std::fs::read_dir(&agent.dir).unwrap().count(), 0, "a read made a sandbox's folder");
    // None of them took the one place: a real sandbox starts.
    let mut real = agent.client().await.for_sandbox("real");
    assert_eq!(stdout(&real.run(None, "echo started").await), "started");
    // Once it exists, its reads are its agent's.
    assert_eq!(real.get("/v1/metrics").await.status, 200);
}
