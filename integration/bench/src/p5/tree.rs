//! A daemon's whole process tree from /proc: keepalived is a parent with checker (and
//! VRRP) children, directord one process with threads; both are measured the same way.

use std::fs;
use std::time::Duration;

use crate::p3::sys;

/// Fields of /proc/PID/stat after the command name: ppid, and CPU in clock ticks.
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime: its own and its reaped children's CPU.
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields follow the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    // proc(5) numbers from 1 with the state as field 3: ppid 4, utime 14 .. cstime 17.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = field(14)? + field(15)? + field(16)? + field(17)?;
    Some(Stat { ppid: u32::try_from(field(4)?).ok()?, ticks })
}

/// `root` and every process below it, root first.
pub fn pids(root: u32) -> Vec<u32> {
    let all: Vec<(u32, u32)> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|(_, ppid)| *ppid == parent).map(|(pid, _)| *pid));
        i += 1;
    }
    tree
}

/// CPU time of the processes `pids`, children they reaped included.
pub fn cpu(pids: &[u32]) -> Result<Duration, String> {
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).ok_or("sysconf(_SC_CLK_TCK) failed")?;
    let mut ticks = 0;
    for &pid in pids {
        ticks += stat(pid).ok_or(format!("/proc/{pid}/stat: gone or unreadable"))?.ticks;
    }
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Memory of a set of processes, in KiB, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    pub rss: u64,
    pub hwm: u64,
    /// Proportional set size: pages shared between the processes (keepalived's children
    /// are forks of its parent) counted once in all, so the sum is what the tree costs.
    pub pss: u64,
}

pub fn memory(pids: &[u32]) -> Result<Memory, String> {
    let mut m = Memory::default();
    for &pid in pids {
        let (rss, hwm) = sys::memory_kib(Some(pid))?;
        m.rss += rss;
        m.hwm += hwm;
        m.pss += pss_kib(pid)?;
    }
    Ok(m)
}

fn pss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let line =
        text.lines().find_map(|l| l.strip_prefix("Pss:")).ok_or(format!("{path}: no Pss"))?;
    let kib = line.trim().trim_end_matches("kB").trim();
    kib.parse().map_err(|e| format!("{path}: Pss {kib:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_part_of_its_parents_tree_and_counted() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let me = std::process::id();
        let tree = pids(me);
        assert_eq!(tree[0], me);
        assert!(tree.contains(&child.id()), "{tree:?}");
        let m = memory(&tree).expect("memory");
        assert!(m.rss > 0 && m.hwm >= m.rss && m.pss > 0 && m.pss <= m.rss, "{m:?}");
        // Spin until the kernel has charged 60 ms of CPU (wall time says nothing on a
        // loaded machine), then /proc must show at least that less a tick or two.
        let own = || {
            let (user, system) = sys::cpu_time_self().expect("rusage");
            user + system
        };
        let start = own();
        while own() - start < Duration::from_millis(60) {}
        assert!(cpu(&tree).expect("cpu") >= start + Duration::from_millis(40));
        let _ = child.kill();
        let _ = child.wait();
    }
}
