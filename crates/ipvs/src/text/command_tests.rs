//! Tests of single-line parsing; the file-level behaviour is tested in `save_tests.rs`.
use super::*;

fn op(line: &str) -> Op {
    match parse_line(line) {
        Ok(Some(op)) => op,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn blank_lines_are_nothing() {
    assert_eq!(parse_line(""), Ok(None));
    assert_eq!(parse_line(" \t\r"), Ok(None));
    assert_eq!(parse_line("ipvsadm"), Ok(None));
}

#[test]
fn each_command_gives_its_op() {
    let key = ServiceKey::Addr {
        protocol: Protocol::Udp,
        addr: "10.0.0.1".parse().expect("addr"),
        port: 53,
    };
    assert_eq!(op("-C"), Op::Clear);
    assert_eq!(op("-Z"), Op::Zero(None));
    assert_eq!(op("-D -u 10.0.0.1:53"), Op::DelService(key));
    let addr: IpAddr = "10.0.0.2".parse().expect("addr");
    assert_eq!(op("-d -u 10.0.0.1:53 -r 10.0.0.2"), Op::DelDest(key, (addr, 53)));
    let Op::EditService(s) = op("-E -u 10.0.0.1:53 -p 10") else { panic!("edit") };
    assert_eq!((s.scheduler, s.timeout), (Scheduler::Wlc, 10));
    let Op::EditDest(_, d) = op("-e -u 10.0.0.1:53 -r 10.0.0.2:54 -m") else { panic!("e") };
    assert_eq!((d.port, d.forwarding, d.weight), (54, Forwarding::Masq, 1));
}

#[test]
fn netmask_follows_the_family_read_so_far() {
    let mask = |line| match op(line) {
        Op::AddService(s) => s.netmask,
        other => panic!("{other:?}"),
    };
    assert_eq!(mask("-A -f 1 -M 24"), Netmask::V4("0.0.0.24".parse().expect("mask")));
    assert_eq!(mask("-A -f 1 -M 24 -6"), Netmask::V6Prefix(128));
    assert_eq!(mask("-A -f 1 -6 -M 24"), Netmask::V6Prefix(24));
    assert_eq!(mask("-A -M 255.0.0.0 -t [::1]:80"), Netmask::V6Prefix(128));
}

#[test]
fn real_server_port_defaults_to_the_service_port_read_so_far() {
    let dest = |line| match op(line) {
        Op::AddDest(_, d) => d.port,
        other => panic!("{other:?}"),
    };
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2 -m"), 80);
    assert_eq!(dest("-a -r 10.0.0.2 -m -t 10.0.0.1:80"), 0);
    assert_eq!(dest("-a -t 10.0.0.1:80 -r 10.0.0.2:8080"), 80);
    assert_eq!(dest("-a -f 5 -r 10.0.0.2:8080"), 8080);
}

#[test]
fn other_commands_are_refused_with_their_name() {
    let e = parse_line("-S -n").expect_err("save");
    assert_eq!(e.column, Some(1));
    assert!(e.message.starts_with("-S (save) is not a table command"), "{}", e.message);
    let e = parse_line("--start-daemon master").expect_err("daemon");
    assert!(e.message.contains("(start-daemon)"), "{}", e.message);
}
