//! `director-bench`: the benchmark program behind `make bench`.
//!
//! * `p1` (inside the VM, as root): cold apply of a large IPVS table, against ipvsadm.
//! * `p2` (inside the VM, as root): directord's reload of a 2,284-service site with one
//!   weight changed, against keepalived's SIGHUP and ipvsadm.
//! * `p3` (on the host): 10,000 TCP checks at delay_loop 1 s against loopback listeners,
//!   CPU, memory and scheduling drift, against keepalived's checker where it can run.
//! * `p4` (on the host, as root): VRRP failover time in network namespaces, directord
//!   and keepalived as both routers.
//! * `p5` (inside the VM, as root): directord's CPU and memory with 1,000 × 10 checked
//!   real servers, against keepalived.
//!
//! `p3-listen` and `p3-run` are P3's child processes, `p2-listen` P2's and P5's listeners
//! (the bench re-executes itself), so the listeners' CPU and each measured runtime's
//! memory stay apart.

mod p1;
mod p2;
mod p3;
mod p4;
mod p5;

use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: director-bench p1 [--services N] [--dests N] [--runs N] \
    [--directorctl PATH] [--ipvsadm PATH]\n       director-bench p3 [--checks N] \
    [--ports-per-address N] [--seconds N] [--warmup N] [--runtime current_thread|multi_thread|both] \
    [--keepalived PATH|none]\n       director-bench p4 [--runs N] [--runs-v3 N] \
    [--daemons both|directord|keepalived] [--modes both|v2|v3] [--directord PATH] \
    [--directorctl PATH] [--keepalived PATH]\n       director-bench p2 [--services N] \
    [--real-servers N] [--runs N] [--keepalived-runs N] [--ipvsadm-runs N] [--delay-loop SECS] [--warmup SECS] [--settle SECS] \
    [--directord PATH|none] [--directorctl PATH] [--keepalived PATH|none] [--ipvsadm PATH] [--write-configs DIR]\n       \
    director-bench p5 [--services N] [--dests N] [--delay-loop SECS] [--seconds N] \
    [--warmup SECS] [--directord PATH|none] [--keepalived PATH|none]";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let result = match args.next().as_deref() {
        Some("p1") => p1::main(args),
        Some("p3") => p3::main(args),
        Some("p3-listen") => p3::listen::main(args),
        Some("p3-run") => p3::ours::main(args),
        Some("p4") => p4::main(args),
        Some("p2") => p2::main(args),
        Some("p2-listen") => p2::lab::listen_main(args),
        Some("p5") => p5::main(args),
        _ => Err(USAGE.into()),
    };
    let _ = std::io::stdout().flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("director-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--flag value` pairs, in order.
fn flag_pairs(args: impl Iterator<Item = String>) -> Result<Vec<(String, String)>, String> {
    let mut it = args;
    let mut pairs = Vec::new();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        pairs.push((flag, value));
    }
    Ok(pairs)
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{flag} {value}: {e}"))
}
