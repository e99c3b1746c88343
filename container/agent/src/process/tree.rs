//! Finding the processes a shell started, from `/proc` (`kill::Scan` kills what these choose).
//!
//! A session's bash leads its own process group, and everything it starts stays in that group unless it moves
//! itself. A command's processes are those of the group, or descended from the shell, that started after the
//! command did; killing them leaves earlier background jobs alone.

use nix::time::{clock_gettime, ClockId};
use std::collections::{HashMap, HashSet};
use std::fs;

/// What `/proc/<pid>/stat` tells about a process, as far as killing trees needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
    /// Its session (a terminal's shell leads one, and job control puts each job in a group of its own inside it).
    pub sid: i32,
    /// Clock ticks after boot.
    pub start_ticks: u64,
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let pid = line[..open].trim().parse().ok()?;
    let rest: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); starttime is field 22.
    Some(ProcStat {
        pid,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgid: rest.get(2)?.parse().ok()?,
        sid: rest.get(3)?.parse().ok()?,
        start_ticks: rest.get(19)?.parse().ok()?,
    })
}

/// Every live (not zombie) process on the machine.
pub fn snapshot() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|entry| stat_of(entry.ok()?.file_name().to_str()?.parse().ok()?)).collect()
}

/// What `/proc` says of the process `pid`, when it is there and not a zombie.
pub fn stat_of(pid: i32) -> Option<ProcStat> {
    let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&line).filter(|p| p.state != 'Z' && p.state != 'X')
}

/// Now, in the clock ticks that `/proc/<pid>/stat` counts start times in.
pub fn now_ticks() -> u64 {
    let hz = match unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) } {
        n if n > 0 => n as u64,
        _ => 100,
    };
    match clock_gettime(ClockId::CLOCK_BOOTTIME) {
        Ok(t) => t.tv_sec() as u64 * hz + t.tv_nsec() as u64 * hz / 1_000_000_000,
        Err(_) => 0,
    }
}

/// A shell by its process id, and whether the reaper has collected its exit. Until then the pid is the shell's
/// and nobody else's. After, the number is free for the kernel to give out again; the shell's process group is
/// still ours while it has members (the kernel reuses no pid that names a live group), so a reaped shell's
/// number is trusted only as long as no process bears it: if one does, the number has been reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellRef {
    pub pid: i32,
    pub reaped: bool,
}

impl ShellRef {
    /// Whether, in this snapshot, `pid` as a process group (and, before the reap, as a process) is still ours.
    fn trusted(self, all: &[ProcStat]) -> bool {
        !self.reaped || !all.iter().any(|p| p.pid == self.pid)
    }
}

/// The processes of `shell`'s command that started at or after `since`: members of the shell's process group and
/// descendants of the shell, the shell itself excluded. Nothing when the shell's number was reused. Pure: works on
/// a snapshot.
pub fn command_processes(all: &[ProcStat], shell: ShellRef, since: u64) -> Vec<i32> {
    if !shell.trusted(all) {
        return Vec::new();
    }
    let shell = shell.pid;
    let mut chosen: HashSet<i32> =
        all.iter().filter(|p| p.pid != shell && p.pgid == shell && p.start_ticks >= since).map(|p| p.pid).collect();
    chosen.extend(
        descendants(all, &[shell])
            .into_iter()
            .filter(|pid| all.iter().any(|p| p.pid == *pid && p.start_ticks >= since)),
    );
    let mut out: Vec<i32> = chosen.into_iter().collect();
    // Whatever descends from a chosen process belongs to the command too.
    out.extend(descendants(all, &out));
    out.sort_unstable();
    out.dedup();
    out
}

/// The processes of `shell`'s command among the members of the shell's cgroup (which holds everything the shell
/// started, however it left the shell's group or tree): those that were not members when the command began
/// (`before`: each by its number and start time, so a number reused since is not mistaken for an old member), less
/// those descended from an old member (an earlier command's background job starting processes of its own). The
/// shell itself is spared. Pure.
pub fn command_members(members: &[ProcStat], shell: i32, before: &HashSet<(i32, u64)>) -> Vec<i32> {
    let by_pid: HashMap<i32, &ProcStat> = members.iter().map(|p| (p.pid, p)).collect();
    let old = |p: &ProcStat| before.contains(&(p.pid, p.start_ticks));
    let mut out: Vec<i32> = members
        .iter()
        .filter(|p| p.pid != shell && !old(p))
        .filter(|p| {
            // Up the parents while they are members other than the shell: an old one means an old job.
            let mut parent = p.ppid;
            let mut steps = 0;
            while let Some(up) = by_pid.get(&parent).filter(|up| up.pid != shell) {
                if old(up) || steps > members.len() {
                    return false;
                }
                parent = up.ppid;
                steps += 1;
            }
            true
        })
        .map(|p| p.pid)
        .collect();
    out.sort_unstable();
    out
}

/// Every process of a session: its shells that are not yet reaped, the process groups of all its shells whose
/// numbers were not reused, and their descendants. Pure.
pub fn session_processes(all: &[ProcStat], shells: &[ShellRef]) -> Vec<i32> {
    let groups: HashSet<i32> = shells.iter().filter(|s| s.trusted(all)).map(|s| s.pid).collect();
    let live: HashSet<i32> = shells.iter().filter(|s| !s.reaped).map(|s| s.pid).collect();
    let mut out: Vec<i32> =
        all.iter().filter(|p| groups.contains(&p.pgid) || live.contains(&p.pid)).map(|p| p.pid).collect();
    out.extend(descendants(all, &out));
    out.sort_unstable();
    out.dedup();
    out
}

/// All processes below `pid` by parent links. Pure.
pub fn descendants_of(all: &[ProcStat], pid: i32) -> Vec<i32> {
    descendants(all, &[pid])
}

/// All processes below `roots` by parent links, the roots excluded.
fn descendants(all: &[ProcStat], roots: &[i32]) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for p in all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut out = Vec::new();
    let mut stack: Vec<i32> = roots.to_vec();
    let mut seen: HashSet<i32> = roots.iter().copied().collect();
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(child) {
                out.push(child);
                stack.push(child);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgid: i32, start: u64) -> ProcStat {
        ProcStat { pid, state: 'S', ppid, pgid, sid: pgid, start_ticks: start }
    }

    #[test]
    fn parses_names_with_spaces_and_parentheses() {
        let line = "4242 (my (odd) name) S 10 4242 4000 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 50";
        let s = parse_stat(line).unwrap();
        assert_eq!((s.pid, s.state, s.ppid, s.pgid, s.sid, s.start_ticks), (4242, 'S', 10, 4242, 4000, 98765));
    }

    #[test]
    fn command_processes_skip_older_background_jobs_and_the_shell() {
        let shell = 100;
        let all = [
            p(1, 0, 1, 0),
            p(shell, 1, shell, 10),
            p(101, shell, shell, 20), // `sleep 100 &` from an earlier command
            p(102, shell, shell, 50), // the running command
            p(103, 102, shell, 51),   // its child
            p(104, 1, shell, 52),     // an orphan of the command, reparented
            p(105, 102, 105, 53),     // a child that made its own group
            p(200, 1, 200, 60),       // someone else
        ];
        assert_eq!(command_processes(&all, ShellRef { pid: shell, reaped: false }, 50), vec![102, 103, 104, 105]);
    }

    #[test]
    fn a_commands_members_are_those_it_started_wherever_they_went() {
        let shell = 100;
        let members = [
            p(shell, 1, shell, 10),
            p(101, shell, shell, 20), // `while :; do sleep 1; done &` from an earlier command
            p(110, 101, shell, 50),   // ... and the `sleep` it started during this one, in the same tick
            p(102, shell, shell, 50), // the running command
            p(103, 102, shell, 51),   // its child
            p(104, 1, 104, 52),       // `setsid` after a double fork: another group, another parent
            p(105, 104, 104, 53),     // and its child
            p(106, 1, 106, 49),       // a daemon an earlier command left
        ];
        let before: HashSet<(i32, u64)> = [(shell, 10), (101, 20), (106, 49), (102, 12)].into();
        // 102 bears the number of a process that was there before, but not its start time: a number reused.
        assert_eq!(command_members(&members, shell, &before), vec![102, 103, 104, 105]);
        assert!(command_members(&members[..1], shell, &HashSet::new()).is_empty(), "the shell is spared");
    }

    #[test]
    fn a_reaped_shells_number_is_trusted_only_while_nobody_bears_it() {
        // Shell 100 died and was reaped; its background job 101 lives on in group 100.
        let gone = ShellRef { pid: 100, reaped: true };
        let all = [p(1, 0, 1, 0), p(101, 1, 100, 2), p(200, 1, 200, 3)];
        assert_eq!(session_processes(&all, &[gone]), vec![101]);
        // Later the number 100 went to a stranger that leads a group of its own (with a child): nothing of it is
        // ours, though its group bears our old number.
        let reused = [p(1, 0, 1, 0), p(100, 1, 100, 90), p(150, 100, 100, 91)];
        assert!(session_processes(&reused, &[gone]).is_empty());
        assert!(command_processes(&reused, gone, 0).is_empty());
        // Before the reap, the pid is ours even though it is present.
        assert_eq!(session_processes(&reused, &[ShellRef { pid: 100, reaped: false }]), vec![100, 150]);
    }

    #[test]
    fn session_processes_take_whole_groups_and_trees() {
        let all = [
            p(1, 0, 1, 0),
            p(100, 1, 100, 1),
            p(101, 100, 100, 2),
            p(102, 101, 102, 3),
            p(300, 1, 90, 4),
            p(301, 1, 301, 5),
        ];
        let shells = [ShellRef { pid: 100, reaped: false }, ShellRef { pid: 90, reaped: true }];
        assert_eq!(session_processes(&all, &shells), vec![100, 101, 102, 300]);
    }
}
