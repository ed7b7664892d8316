//! `directorctl ipvs list|save|restore`: the kernel table without ipvsadm.

use std::io::{Read, Write};

use ipvs::text::{list, save};
use ipvs::{diff, Client, Table};
use serde::Serialize;

use super::CtlError;

/// Options of `directorctl ipvs list`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListArgs {
    pub json: bool,
    pub stats: bool,
    pub rate: bool,
}

#[derive(Serialize)]
struct JsonListing<'a> {
    version: String,
    conn_tab_size: u32,
    services: &'a [ipvs::ListedService],
}

/// Prints the kernel table as `ipvsadm -Ln` (or `--stats`, `--rate`) does, or as JSON.
pub fn list(args: ListArgs, out: &mut dyn Write) -> Result<(), CtlError> {
    let mut client = Client::connect()?;
    let info = client.info()?;
    let services = client.list()?;
    let text = if args.json {
        let listing = JsonListing {
            version: info.version_string(),
            conn_tab_size: info.conn_tab_size,
            services: &services,
        };
        serde_json::to_string_pretty(&listing)? + "\n"
    } else {
        list::render(
            &info,
            &services,
            list::ListOptions {
                stats: args.stats,
                rate: args.rate,
            },
        )
    };
    write_out(out, &text)
}

/// Prints the kernel table in `ipvsadm -Sn` format.
pub fn save(out: &mut dyn Write) -> Result<(), CtlError> {
    let table = Client::connect()?.table()?;
    write_out(out, &save::render(&table))
}

/// Options of `directorctl ipvs restore`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreArgs {
    /// Empty the table first, then add everything (a cold apply).
    pub flush: bool,
    /// Print the operations instead of applying them.
    pub dry_run: bool,
    /// Report how many operations and netlink requests were sent.
    pub verbose: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSummary {
    pub ops: usize,
    pub requests: u64,
}

/// Reads `ipvsadm -Sn` text and makes the kernel table equal to it, sending only the
/// difference. Nothing is applied when the input does not parse.
pub fn restore(
    args: RestoreArgs,
    input: &mut dyn Read,
    source_name: &str,
    out: &mut dyn Write,
) -> Result<RestoreSummary, CtlError> {
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|err| CtlError::Io {
            what: format!("reading {source_name}"),
            err,
        })?;
    let desired = save::parse(&text)
        .map_err(|err| CtlError::Parse {
            source_name: source_name.to_string(),
            err,
        })?
        .normalized();
    let mut client = Client::connect()?;
    let current = if args.flush && !args.dry_run {
        Table::default()
    } else {
        client.table()?
    };
    let ops = if args.flush && args.dry_run {
        diff::diff(&desired, &Table::default())
    } else {
        diff::diff(&desired, &current)
    };
    if args.dry_run {
        if args.flush {
            write_out(out, "flush the IPVS table\n")?;
        }
        for op in &ops {
            write_out(out, &format!("{op}\n"))?;
        }
        return Ok(RestoreSummary {
            ops: ops.len(),
            requests: client.requests_sent(),
        });
    }
    if args.flush {
        client.flush()?;
    }
    let before = client.requests_sent();
    client.apply(&ops)?;
    let summary = RestoreSummary {
        ops: ops.len(),
        requests: client.requests_sent() - before,
    };
    if args.verbose {
        write_out(
            out,
            &format!(
                "restore: {} operation(s) applied in {} netlink request(s)\n",
                summary.ops, summary.requests
            ),
        )?;
    }
    Ok(summary)
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), CtlError> {
    out.write_all(text.as_bytes()).map_err(|err| CtlError::Io {
        what: "writing output".into(),
        err,
    })
}
