//! `directorctl ipvs list|save|restore`: the kernel table without ipvsadm.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use ipvs::text::{list, save};
use ipvs::{diff, Client, Table};

use super::CtlError;

/// Options of `directorctl ipvs list`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListArgs {
    pub json: bool,
    pub stats: bool,
    pub rate: bool,
}

/// Prints the kernel table as `ipvsadm -Ln` (or `--stats`, `--rate`) does, or as JSON.
pub fn list(args: ListArgs, out: &mut dyn Write) -> Result<(), CtlError> {
    let mut client = Client::connect()?;
    let info = client.info()?;
    let services = client.list()?;
    let text = if args.json {
        serde_json::to_string_pretty(&super::ipvs_json::listing(&info, &services))? + "\n"
    } else {
        list::render(&info, &services, list::ListOptions { stats: args.stats, rate: args.rate })
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

/// What a restore did, and where its time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSummary {
    pub ops: usize,
    pub requests: u64,
    pub parse: Duration,
    pub read_table: Duration,
    pub diff: Duration,
    pub apply: Duration,
}

/// Reads `ipvsadm -Sn` text and makes the kernel table equal to it, sending only the
/// difference. Nothing is applied when the input does not parse.
pub fn restore(
    args: RestoreArgs,
    input: &mut dyn Read,
    source_name: &str,
    out: &mut dyn Write,
) -> Result<RestoreSummary, CtlError> {
    let started = Instant::now();
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|err| CtlError::Io { what: format!("reading {source_name}"), err })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + good.iter().filter(|&&b| b == b'\n').count();
        // Columns count characters; everything before the bad byte is valid UTF-8.
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = 1 + std::str::from_utf8(&good[line_start..]).map_or(0, |t| t.chars().count());
        let message = "not valid UTF-8 text".to_string();
        let err = save::ParseError { line, column: Some(column), message };
        CtlError::Parse { source_name: source_name.to_string(), err }
    })?;
    let desired = save::parse(&text)
        .map_err(|err| CtlError::Parse { source_name: source_name.to_string(), err })?
        .normalized();
    let parse = started.elapsed();

    let started = Instant::now();
    let mut client = Client::connect()?;
    // With --flush the current table does not matter: everything is added afresh.
    let current = if args.flush { Table::default() } else { client.table()? };
    let read_table = started.elapsed();

    let started = Instant::now();
    let ops = diff::diff(&desired, &current);
    let diff = started.elapsed();

    let mut summary = RestoreSummary {
        ops: ops.len(),
        requests: 0,
        parse,
        read_table,
        diff,
        apply: Duration::ZERO,
    };
    if args.dry_run {
        if args.flush {
            write_out(out, "flush the IPVS table\n")?;
        }
        for op in &ops {
            write_out(out, &format!("{op}\n"))?;
        }
        return Ok(summary);
    }
    let started = Instant::now();
    if args.flush {
        client.flush()?;
    }
    let before = client.requests_sent();
    client.apply(&ops)?;
    summary.requests = client.requests_sent() - before;
    summary.apply = started.elapsed();
    if args.verbose {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let report = format!(
            "restore: {} operation(s) applied in {} netlink request(s) \
             (parse {:.1} ms, read table {:.1} ms, diff {:.1} ms, apply {:.1} ms)\n",
            summary.ops,
            summary.requests,
            ms(summary.parse),
            ms(summary.read_table),
            ms(summary.diff),
            ms(summary.apply)
        );
        write_out(out, &report)?;
    }
    Ok(summary)
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<(), CtlError> {
    out.write_all(text.as_bytes())
        .map_err(|err| CtlError::Io { what: "writing output".into(), err })
}
