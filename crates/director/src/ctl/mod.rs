//! `directorctl` subcommands. Each returns an error for `main` to print; none prints errors.

pub mod ipvs;
mod ipvs_json;

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
}

fn position(err: &::ipvs::text::save::ParseError) -> String {
    match err.column {
        Some(c) => format!("{}:{c}", err.line),
        None => err.line.to_string(),
    }
}

impl CtlError {
    /// Exit status for `main`: 1 for a failed operation.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}
