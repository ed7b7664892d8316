//! What the kernel says about a process: file limit, CPU time, memory.

use std::fs;
use std::time::Duration;

/// Raises RLIMIT_NOFILE to at least `want` (the hard limit too, which needs root)
/// or to the hard limit when that fails; returns the soft limit now in force.
pub fn raise_nofile(want: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct it is given and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit(NOFILE): {}", std::io::Error::last_os_error()));
    }
    let wanted =
        libc::rlimit { rlim_cur: want.max(lim.rlim_cur), rlim_max: want.max(lim.rlim_max) };
    // SAFETY: setrlimit only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) } == 0 {
        return Ok(wanted.rlim_cur);
    }
    let fallback = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &fallback) } != 0 {
        return Err(format!("setrlimit(NOFILE): {}", std::io::Error::last_os_error()));
    }
    Ok(fallback.rlim_cur)
}

/// CPU time of this process, all threads: (user, system).
pub fn cpu_time_self() -> Result<(Duration, Duration), String> {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(format!("getrusage: {}", std::io::Error::last_os_error()));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Ok((tv(usage.ru_utime), tv(usage.ru_stime)))
}

/// CPU time of process `pid`, (user, system), from /proc/PID/stat (in clock ticks,
/// 10 ms at the usual 100 Hz: fine over a window of seconds).
pub fn cpu_time_of(pid: u32) -> Result<(Duration, Duration), String> {
    let path = format!("/proc/{pid}/stat");
    let stat = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    // The command name is in parentheses and may hold spaces: fields follow the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or(format!("{path}: no ')'"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // proc(5) numbers fields from 1 with the state as field 3: utime is 14, stime 15.
    let field = |n: usize| -> Result<u64, String> {
        let raw = fields.get(n - 3).ok_or(format!("{path}: short"))?;
        raw.parse().map_err(|e| format!("{path}: field {n} {raw:?}: {e}"))
    };
    let (user, system) = (field(14)?, field(15)?);
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&h| h > 0).ok_or("sysconf(_SC_CLK_TCK) failed")?;
    let time = |ticks: u64| Duration::from_nanos(ticks * 1_000_000_000 / hz);
    Ok((time(user), time(system)))
}

/// Resident memory now and at its peak, in KiB (VmRSS, VmHWM); `None` is this process.
pub fn memory_kib(pid: Option<u32>) -> Result<(u64, u64), String> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let get = |key: &str| -> Result<u64, String> {
        let line =
            status.lines().find_map(|l| l.strip_prefix(key)).ok_or(format!("{path}: no {key}"))?;
        let kib = line.trim().trim_end_matches("kB").trim();
        kib.parse().map_err(|e| format!("{path}: {key} {kib:?}: {e}"))
    };
    Ok((get("VmRSS:")?, get("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_figures_are_plausible() {
        let (rss, hwm) = memory_kib(None).expect("own status");
        assert!(rss > 100 && hwm >= rss, "rss {rss} hwm {hwm}");
        let pid = std::process::id();
        assert_eq!(memory_kib(Some(pid)).map(|(_, h)| h > 0), Ok(true));
        // Spin until 50 ms of CPU are charged (on a loaded host that takes longer than
        // 50 ms of wall time); both readings must then show them, within /proc's ticks.
        let spin = std::time::Instant::now();
        let mut user = Duration::ZERO;
        while user < Duration::from_millis(50) && spin.elapsed() < Duration::from_secs(20) {
            user = cpu_time_self().expect("rusage").0;
        }
        assert!(user >= Duration::from_millis(50), "user {user:?} after {:?}", spin.elapsed());
        let (user, _) = cpu_time_of(pid).expect("stat");
        assert!(user >= Duration::from_millis(30), "user {user:?}");
    }
}
