//! ipvsadm 1.31's text formats, byte for byte.
//!
//! - [`save`]: `ipvsadm -Sn` output ([`save::render`]) and the command stream
//!   `ipvsadm -R` reads ([`save::parse`]).
//! - [`list`]: `ipvsadm -Ln`, `-Ln --stats` and `-Ln --rate` ([`list::render`]).
//!
//! Every rule here comes from ipvsadm.c / libipvs (function names are cited next to the code)
//! and is written anew; where ipvsadm leans on libc (`inet_ntop`, `inet_aton`, `strtol`,
//! `qsort`) the libc behaviour is reproduced too, since it shows in the bytes.

mod args;
mod cfmt;
mod command;
pub mod list;
mod optc;
mod order;
pub mod save;
mod values;

#[cfg(test)]
mod fixtures;

/// A rules file that ipvsadm would refuse, or whose commands cannot apply in order
/// (a duplicate service, a server for a missing service).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) of the offending word, when one is to blame.
    pub column: Option<usize>,
    pub message: String,
}
