//! `directorctl`: inspect and drive the director. Thin: parsing here, work in `director::ctl`.

use std::io;
use std::process::ExitCode;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use checker::spec::BodyRegex;
use checker::{Digest, StatusCodes};
use clap::{Args, Parser, Subcommand};
use director::ctl::check::{CertCheck, CheckArgs, CheckTarget, HostPort, HttpUrl};
use director::ctl::{self, ipvs::ListArgs, ipvs::RestoreArgs};

#[derive(Debug, Parser)]
#[command(name = "directorctl", version, about = "Control and inspect the IPVS director")]
struct Cli {
    /// The daemon's control socket (as given to `directord --socket`).
    #[arg(long, global = true, value_name = "PATH", default_value = director::config::DEFAULT_CONTROL_SOCKET)]
    socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kernel's IPVS table, without ipvsadm.
    #[command(subcommand)]
    Ipvs(IpvsCommand),
    /// Probe a real server once, as a health check would (exit 0 pass, 1 fail).
    #[command(subcommand)]
    Check(Box<CheckCommand>),
    /// Work with configuration files, offline.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The running daemon's state: VRRP instances and virtual servers (exit 3: not
    /// running, 4: no permission).
    Status {
        /// Machine-readable, the fields of DESIGN.md.
        #[arg(long)]
        json: bool,
    },
    /// Convert a keepalived.conf (and what it includes) to this YAML, on stdout or in
    /// --output. What is not carried over is listed on stderr and commented in the YAML
    /// (exit 0; 1 on errors; 5 with --strict when something was not carried over: 2 is
    /// clap's usage error).
    ImportKeepalived {
        file: PathBuf,
        /// Write the YAML here instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Exit 2 when some keyword was not carried over.
        #[arg(long)]
        strict: bool,
    },
    /// Make the daemon re-read its configuration file; a file that fails validation is
    /// refused with its errors (exit 1) and the running configuration stays.
    Reload {
        /// Print the daemon's answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate FILE without a daemon (exit 0 good, 1 with every error listed).
    Check {
        /// The YAML configuration file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Connect to ADDR:PORT within the timeout.
    Tcp {
        /// HOST:PORT, e.g. 192.0.2.7:80 or [2001:db8::7]:80.
        #[arg(value_parser = ctl::check::parse_host_port)]
        target: HostPort,
        #[command(flatten)]
        common: CommonOpts,
    },
    /// GET a URL and judge status, body MD5 and regex.
    Http {
        #[arg(value_parser = |s: &str| ctl::check::parse_url(s, false))]
        url: HttpUrl,
        #[command(flatten)]
        http: HttpOpts,
        #[command(flatten)]
        common: CommonOpts,
    },
    /// GET a URL over TLS (SNI = the virtual host) and judge it.
    Https {
        #[arg(value_parser = |s: &str| ctl::check::parse_url(s, true))]
        url: HttpUrl,
        #[command(flatten)]
        http: HttpOpts,
        /// Accept any certificate (keepalived's SSL_GET default).
        #[arg(long, short = 'k', conflicts_with = "ca")]
        insecure: bool,
        /// Verify the certificate against this CA file (PEM) instead of the system's roots.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        #[command(flatten)]
        common: CommonOpts,
    },
}

#[derive(Debug, Args)]
struct HttpOpts {
    /// Host header and TLS server name (default: the URL's host).
    #[arg(long, value_name = "HOST")]
    virtualhost: Option<String>,
    /// Accepted statuses: codes and ranges, e.g. 200,301-302 (default 200-299).
    #[arg(long, value_name = "LIST")]
    status: Option<StatusCodes>,
    /// Expected MD5 of the body (hex, any case).
    #[arg(long, value_name = "HEX", value_parser = |s: &str| Digest::parse(s))]
    digest: Option<Digest>,
    /// A regex the body must match.
    #[arg(long, value_name = "REGEX", value_parser = |s: &str| BodyRegex::new(s))]
    regex: Option<BodyRegex>,
}

#[derive(Debug, Args)]
struct CommonOpts {
    /// Connect (and response) timeout: 500ms, 3s, or bare seconds.
    #[arg(long, short = 't', default_value = "5s", value_parser = ctl::check::parse_timeout)]
    timeout: Duration,
    /// Source address of the probe.
    #[arg(long, value_name = "IP")]
    bind_to: Option<IpAddr>,
    /// SO_MARK for the probe socket.
    #[arg(long, value_name = "MARK")]
    fwmark: Option<u32>,
    /// One JSON object instead of a line of text.
    #[arg(long)]
    json: bool,
}

impl CheckCommand {
    fn into_args(self) -> CheckArgs {
        let none = HttpOpts { virtualhost: None, status: None, digest: None, regex: None };
        let (target, http, cert, common) = match self {
            CheckCommand::Tcp { target, common } => {
                (CheckTarget::Tcp(target), none, CertCheck::default(), common)
            }
            CheckCommand::Http { url, http, common } => {
                (CheckTarget::Http(url), http, CertCheck::default(), common)
            }
            CheckCommand::Https { url, http, insecure, ca, common } => {
                let cert = match (insecure, ca) {
                    (true, _) => CertCheck::Insecure,
                    (false, Some(ca)) => CertCheck::Ca(ca),
                    (false, None) => CertCheck::System,
                };
                (CheckTarget::Https(url), http, cert, common)
            }
        };
        CheckArgs {
            target,
            virtualhost: http.virtualhost,
            status: http.status,
            digest: http.digest,
            regex: http.regex,
            timeout: common.timeout,
            cert,
            bind_to: common.bind_to,
            fwmark: common.fwmark,
            json: common.json,
        }
    }
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
        Command::Check(check) => match ctl::check::check(check.into_args(), &mut stdout) {
            Ok(true) => Ok(()),
            // The result line already says why.
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Status { json } => {
            return match ctl::status::run(&cli.socket, json, &mut stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("directorctl: {e}");
                    ExitCode::from(e.exit_code())
                }
            };
        }
        Command::Reload { json } => {
            return match ctl::status::reload(&cli.socket, json, &mut stdout) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("directorctl: {e}");
                    ExitCode::from(e.exit_code())
                }
            };
        }
        Command::ImportKeepalived { file, output, strict } => {
            return import_keepalived(&file, output.as_deref(), strict);
        }
        Command::Config(ConfigCommand::Check { file }) => {
            match ctl::config::check(&file, &mut stdout, &mut io::stderr().lock()) {
                Ok(true) => Ok(()),
                // The errors are printed already.
                Ok(false) => return ExitCode::from(1),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("directorctl: {e}");
            e.exit_code()
        }
    }
}

fn import_keepalived(
    file: &std::path::Path,
    output: Option<&std::path::Path>,
    strict: bool,
) -> ExitCode {
    let conversion = match director::import::convert(file) {
        Ok(conversion) => conversion,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    for warning in &conversion.warnings {
        eprintln!("{warning}");
    }
    let written = match output {
        Some(path) => std::fs::write(path, &conversion.yaml)
            .map_err(|e| format!("directorctl: {}: {e}", path.display())),
        None => io::Write::write_all(&mut io::stdout().lock(), conversion.yaml.as_bytes())
            .map_err(|e| format!("directorctl: writing the YAML: {e}")),
    };
    if let Err(message) = written {
        eprintln!("{message}");
        return ExitCode::from(1);
    }
    if strict && conversion.dropped_anything() {
        return ExitCode::from(5);
    }
    ExitCode::SUCCESS
}
