//! Programs directord runs as root (tracked scripts, notify programs) must not be
//! replaceable by anyone else: a script, or a directory on its path, writable by a
//! non-root user is a way to root. keepalived refuses such scripts only with
//! `enable_script_security`; directord says so at start, naming the file and why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vrrp::driver::{DriverConfig, Notify};

use crate::config::TrackScriptRun;

/// Every program the VRRP side may run: track scripts and notify programs.
pub fn programs(config: &DriverConfig, scripts: &[TrackScriptRun]) -> Vec<PathBuf> {
    let notify = |n: &Notify| {
        [&n.master, &n.backup, &n.fault, &n.stop, &n.any]
            .into_iter()
            .flatten()
            .filter_map(|argv| argv.first().map(PathBuf::from))
            .collect::<Vec<_>>()
    };
    let mut all: Vec<PathBuf> =
        scripts.iter().filter_map(|s| s.argv.first().map(PathBuf::from)).collect();
    for io in &config.instances {
        all.extend(notify(&io.notify));
    }
    for group in &config.sync_groups {
        all.extend(notify(group));
    }
    all.sort();
    all.dedup();
    all
}

/// What is unsafe about running `program` as root, if anything.
pub fn problem(program: &Path) -> Option<String> {
    let meta = match std::fs::metadata(program) {
        Ok(meta) => meta,
        Err(e) => return Some(format!("{}: {e}", program.display())),
    };
    if !meta.is_file() {
        return Some(format!("{}: not a regular file", program.display()));
    }
    if meta.mode() & 0o111 == 0 {
        return Some(format!("{}: not executable", program.display()));
    }
    // The file and every directory above it: whoever can write one can swap the program.
    let mut path = Some(program);
    while let Some(p) = path {
        if let Ok(meta) = std::fs::metadata(p) {
            let sticky_dir = meta.is_dir() && meta.mode() & 0o1000 != 0;
            if meta.uid() != 0 {
                return Some(format!(
                    "{}: {} is owned by uid {}, not root",
                    program.display(),
                    p.display(),
                    meta.uid()
                ));
            }
            // A sticky directory (/tmp) lets others create files, not replace ours.
            if meta.mode() & 0o022 != 0 && !sticky_dir {
                return Some(format!(
                    "{}: {} is writable by group or others (mode {:o})",
                    program.display(),
                    p.display(),
                    meta.mode() & 0o7777
                ));
            }
        }
        path = p.parent().filter(|d| !d.as_os_str().is_empty());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join("check.sh");
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn running_as_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }

    #[test]
    fn a_root_owned_script_in_a_safe_directory_is_fine() {
        if !running_as_root() {
            return; // files we create are not root's otherwise
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(problem(&script(dir.path(), 0o755)), None);
    }

    #[test]
    fn writable_scripts_and_directories_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let writable = script(dir.path(), 0o777);
        let why = problem(&writable).unwrap();
        assert!(why.contains("writable by group or others") || why.contains("not root"), "{why}");

        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = problem(&writable).unwrap();
        assert!(why.contains(&dir.path().display().to_string()), "{why}");
    }

    #[test]
    fn missing_and_non_executable_programs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.sh");
        assert!(problem(&missing).unwrap().contains("nope.sh"));
        let plain = script(dir.path(), 0o644);
        assert!(problem(&plain).unwrap().contains("not executable"));
    }
}
