//! `directorctl config check FILE`: the daemon's own loader, run offline. Nothing here
//! looks at the host, so a file for another director checks the same anywhere.

use std::io::Write;
use std::path::Path;

use crate::config::Config;

use super::CtlError;

/// Checks `file`: a summary line on `out` when it is good, every problem (one per line,
/// `FILE:LINE:COLUMN: key.path: message`) on `errors` when not. Says whether it is good.
pub fn check(file: &Path, out: &mut impl Write, errors: &mut impl Write) -> Result<bool, CtlError> {
    match Config::load(file) {
        Ok(config) => {
            for warning in config.warnings() {
                writeln!(errors, "{}: warning: {warning}", file.display())
                    .map_err(|err| CtlError::Io { what: "writing the warnings".into(), err })?;
            }
            let instances = config.vrrp.instances.len();
            let services = config.virtual_servers.len();
            let real_servers: usize =
                config.virtual_servers.iter().map(|vs| vs.real_servers.len()).sum();
            let mut summary = count(instances, "vrrp instance");
            if services > 0 {
                summary.push_str(&format!(
                    ", {}, {}",
                    count(services, "virtual server"),
                    count(real_servers, "real server")
                ));
            }
            writeln!(out, "{}: ok ({summary})", file.display())
                .map_err(|err| CtlError::Io { what: "writing the result".into(), err })?;
            Ok(true)
        }
        Err(problems) => {
            writeln!(errors, "{problems}")
                .map_err(|err| CtlError::Io { what: "writing the errors".into(), err })?;
            Ok(false)
        }
    }
}

/// `1 real server`, `3 real servers`.
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (bool, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("d.yaml");
        std::fs::write(&file, text).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let ok = check(&file, &mut out, &mut err).unwrap();
        let shown =
            |b: Vec<u8>| String::from_utf8(b).unwrap().replace(&*file.to_string_lossy(), "F");
        (ok, shown(out), shown(err))
    }

    #[test]
    fn good_file_prints_a_summary() {
        let text = "vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 1}\n";
        assert_eq!(run(text), (true, "F: ok (1 vrrp instance)\n".into(), String::new()));
    }

    #[test]
    fn a_master_with_nopreempt_checks_ok_with_a_warning() {
        let text = "vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 1, \
                    initial_state: master, preempt: false}\n";
        let (ok, out, err) = run(text);
        assert!(ok);
        assert_eq!(out, "F: ok (1 vrrp instance)\n");
        assert!(
            err.starts_with("F: warning: vrrp.instances[0].initial_state: master preempts"),
            "{err}"
        );
    }

    #[test]
    fn bad_file_prints_every_error_on_its_own_line() {
        let text =
            "vrrp:\n  instances:\n    - {name: a, interface: eth0, vrid: 0, priority: 256}\n";
        let (ok, out, err) = run(text);
        assert!(!ok);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "F:3:40: vrrp.instances[0].vrid: expected 1-255, got 0\n\
             F:3:53: vrrp.instances[0].priority: expected 1-255, got 256\n"
        );
    }

    #[test]
    fn unreadable_file_is_named() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let ok = check(Path::new("/nonexistent/d.yaml"), &mut out, &mut err).unwrap();
        assert!(!ok);
        let err = String::from_utf8(err).unwrap();
        assert!(err.starts_with("/nonexistent/d.yaml: "), "{err}");
    }
}
