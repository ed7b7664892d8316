//! `directorctl` subcommands. Each returns an error for `main` to print; none prints errors.

pub mod ipvs;

use std::process::ExitCode;

/// A failure of a `directorctl` command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error(transparent)]
    Ipvs(#[from] ::ipvs::Error),
    #[error(transparent)]
    Batch(#[from] ::ipvs::BatchError),
    #[error("{source_name}:{err}")]
    Parse {
        source_name: String,
        err: ::ipvs::text::save::ParseError,
    },
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl CtlError {
    /// Exit status for `main`: 1 for a failed operation.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(1)
    }
}
