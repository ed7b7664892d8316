//! `directorctl`: inspect and drive the director. Thin: parsing here, work in `director::ctl`.

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use director::ctl::{self, ipvs::ListArgs, ipvs::RestoreArgs};

#[derive(Debug, Parser)]
#[command(name = "directorctl", version, about = "Control and inspect the IPVS director")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kernel's IPVS table, without ipvsadm.
    #[command(subcommand)]
    Ipvs(IpvsCommand),
}

#[derive(Debug, Subcommand)]
enum IpvsCommand {
    /// Print the table as `ipvsadm -Ln` does.
    List {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Counters (conns, packets, bytes), as `ipvsadm -Ln --stats`.
        #[arg(long, conflicts_with = "rate")]
        stats: bool,
        /// Rates, as `ipvsadm -Ln --rate`.
        #[arg(long)]
        rate: bool,
    },
    /// Print the table in `ipvsadm -Sn` format.
    Save,
    /// Read `ipvsadm -Sn` format on stdin and make the table equal to it (only changes are sent).
    Restore {
        /// Flush the table first, then add everything.
        #[arg(long)]
        flush: bool,
        /// Print the operations that would be sent, send nothing.
        #[arg(long, short = 'n')]
        dry_run: bool,
        /// Report how many operations and netlink requests were sent.
        #[arg(long, short = 'v')]
        verbose: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = io::stdout().lock();
    let result = match cli.command {
        Command::Ipvs(IpvsCommand::List { json, stats, rate }) => {
            ctl::ipvs::list(ListArgs { json, stats, rate }, &mut stdout)
        }
        Command::Ipvs(IpvsCommand::Save) => ctl::ipvs::save(&mut stdout),
        Command::Ipvs(IpvsCommand::Restore { flush, dry_run, verbose }) => ctl::ipvs::restore(
            RestoreArgs { flush, dry_run, verbose },
            &mut io::stdin().lock(),
            "<stdin>",
            &mut stdout,
        )
        .map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("directorctl: {e}");
            e.exit_code()
        }
    }
}
