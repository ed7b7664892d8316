//! `lab-demo LB1.yaml LB2.yaml`: the story of `make demo` (see lab_tests::demo), run
//! inside the IPVS VM by integration/vm/demo.sh.

use std::path::Path;
use std::process::ExitCode;

use lab_tests::demo::{run, Plan};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [lb1, lb2] = &args[..] else {
        eprintln!("usage: lab-demo LB1.yaml LB2.yaml");
        return ExitCode::from(2);
    };
    if !lab_tests::in_vm() {
        eprintln!("lab-demo: runs inside the IPVS VM only (IN_VM=1): use `make demo`");
        return ExitCode::from(2);
    }
    let plan = match Plan::load(Path::new(lb1), Path::new(lb2)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("lab-demo: {e}");
            return ExitCode::from(1);
        }
    };
    match run(plan) {
        Ok(()) => {
            println!("\ndemo: done, every step happened within its bound.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nlab-demo: {e}");
            ExitCode::from(1)
        }
    }
}
