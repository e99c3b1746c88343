//! Limits and usage as cgroup files, for either version of the kernel's interface. Pure: which file holds what,
//! and what a file's text says.

use sandbox_protocol::Limits;

/// The controllers the agent uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// Its name in `/proc/self/cgroup`, the mount options and `cgroup.controllers`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

/// The scheduler's period for a CPU limit: a limit of `n` CPUs is `n` periods of CPU time in each period.
const CPU_PERIOD_US: u64 = 100_000;

/// The files that set `limits` in a v2 cgroup: (controller, file, value).
pub fn v2_files(limits: &Limits) -> Vec<(Controller, &'static str, String)> {
    let mut files = Vec::new();
    if let Some(bytes) = limits.memory_bytes {
        files.push((Controller::Memory, "memory.max", bytes.to_string()));
        // Past the limit the kernel reclaims to swap first, if the machine has any: a limit means memory.
        files.push((Controller::Memory, "memory.swap.max", "0".to_string()));
    }
    if let Some(pids) = limits.pids {
        files.push((Controller::Pids, "pids.max", pids.to_string()));
    }
    if let Some(millis) = limits.cpu_millis {
        files.push((Controller::Cpu, "cpu.max", format!("{} {CPU_PERIOD_US}", quota_us(millis))));
    }
    files
}

/// The files that set `limits` in v1 hierarchies: (controller, file, value), in the order they must be written.
pub fn v1_files(limits: &Limits) -> Vec<(Controller, &'static str, String)> {
    let mut files = Vec::new();
    if let Some(bytes) = limits.memory_bytes {
        files.push((Controller::Memory, "memory.limit_in_bytes", bytes.to_string()));
        files.push((Controller::Memory, "memory.swappiness", "0".to_string()));
    }
    if let Some(pids) = limits.pids {
        files.push((Controller::Pids, "pids.max", pids.to_string()));
    }
    if let Some(millis) = limits.cpu_millis {
        files.push((Controller::Cpu, "cpu.cfs_period_us", CPU_PERIOD_US.to_string()));
        files.push((Controller::Cpu, "cpu.cfs_quota_us", quota_us(millis).to_string()));
    }
    files
}

fn quota_us(millis: u64) -> u64 {
    (millis * CPU_PERIOD_US / 1000).max(1000)
}

/// The controllers `limits` needs.
pub fn needed(limits: &Limits) -> Vec<Controller> {
    let mut needed = Vec::new();
    if limits.memory_bytes.is_some() {
        needed.push(Controller::Memory);
    }
    if limits.pids.is_some() {
        needed.push(Controller::Pids);
    }
    if limits.cpu_millis.is_some() {
        needed.push(Controller::Cpu);
    }
    needed
}

/// A number file (`memory.current`, `pids.current`, `memory.usage_in_bytes`, `cpuacct.usage`).
pub fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// One key's value in a flat keyed file (`cpu.stat`'s `usage_usec`, `memory.events`'s and v1
/// `memory.oom_control`'s `oom_kill`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory: Option<u64>, pids: Option<u64>, cpu: Option<u64>) -> Limits {
        Limits { memory_bytes: memory, pids, cpu_millis: cpu }
    }

    #[test]
    fn limits_become_the_files_of_each_version() {
        let l = limits(Some(512 << 20), Some(256), Some(500));
        assert_eq!(
            v2_files(&l),
            vec![
                (Controller::Memory, "memory.max", "536870912".into()),
                (Controller::Memory, "memory.swap.max", "0".into()),
                (Controller::Pids, "pids.max", "256".into()),
                (Controller::Cpu, "cpu.max", "50000 100000".into()),
            ]
        );
        assert_eq!(
            v1_files(&l),
            vec![
                (Controller::Memory, "memory.limit_in_bytes", "536870912".into()),
                (Controller::Memory, "memory.swappiness", "0".into()),
                (Controller::Pids, "pids.max", "256".into()),
                (Controller::Cpu, "cpu.cfs_period_us", "100000".into()),
                (Controller::Cpu, "cpu.cfs_quota_us", "50000".into()),
            ]
        );
        assert!(v2_files(&Limits::default()).is_empty() && v1_files(&Limits::default()).is_empty());
        // The scheduler takes no quota under 1 ms.
        assert_eq!(v2_files(&limits(None, None, Some(1)))[0].2, "1000 100000");
        assert_eq!(needed(&limits(Some(1), None, Some(1))), vec![Controller::Memory, Controller::Cpu]);
    }

    #[test]
    fn usage_files_are_read() {
        assert_eq!(number("123456\n"), Some(123456));
        assert_eq!(number("max\n"), None);
        let stat = "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n";
        assert_eq!(keyed(stat, "usage_usec"), Some(1500));
        let events = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(2));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n";
        assert_eq!(keyed(v1, "oom_kill"), Some(1));
        assert_eq!(keyed(v1, "oom"), None);
    }
}
