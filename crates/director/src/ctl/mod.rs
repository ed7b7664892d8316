//! `directorctl` subcommands. Each returns an error for `main` to print; none prints errors.

pub mod check;
pub mod config;
pub mod ipvs;
mod ipvs_json;
pub mod status;

use std::process::ExitCode;

/// A failure of a `directorctl` command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Ipvs(#[from] ::ipvs::Error),
    #[error(transparent)]
    Batch(#[from] ::ipvs::BatchError),
    /// `FILE:LINE[:COLUMN]: message`, as compilers print it.
    #[error("{source_name}:{}: {}", position(err), err.message)]
    Parse { source_name: String, err: ::ipvs::text::save::ParseError },
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The command line asked for something impossible (exit 2, like clap's errors).
    #[error("{0}")]
    Usage(String),
}

fn position(err: &::ipvs::text::save::ParseError) -> String {
    match err.column {
        Some(c) => format!("{}:{c}", err.line),
        None => err.line.to_string(),
    }
}

impl CtlError {
    /// Exit status for `main`: 2 for bad usage, 1 for a failed operation.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CtlError::Usage(_) => ExitCode::from(2),
            _ => ExitCode::from(1),
        }
    }
}
