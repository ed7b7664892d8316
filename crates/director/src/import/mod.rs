//! `directorctl import-keepalived`: keepalived.conf into this project's YAML.
//!
//! Reading is keepalived's own ([`lexer`]: comments, quotes, braces, includes; [`tree`]:
//! blocks). Each section maps on its own ([`vrrp`]: global_defs, vrrp_script,
//! vrrp_instance, vrrp_sync_group; [`lvs`]: virtual_server and real_server; [`checks`]:
//! the health checkers) into a [`yaml`] document that keeps a comment wherever something
//! was not carried over. Every such keyword is also a [`Warning`]; nothing is dropped
//! silently. The result is checked with [`crate::config::Config`] before it is returned,
//! so what comes out passes `directorctl config check`.

mod checks;
mod include;
mod instance;
mod lexer;
mod lvs;
mod tree;
mod values;
mod vrrp;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::{one_per_line, Config, ConfigError};

/// A converted file: the YAML and what did not come across unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    pub yaml: String,
    pub warnings: Vec<Warning>,
}

impl Conversion {
    /// Whether some keyword was not carried over at all.
    pub fn dropped_anything(&self) -> bool {
        self.warnings.iter().any(|w| w.kind == WarningKind::NotCarried)
    }
}

/// A keyword of the keepalived file that the YAML does not carry (or carries differently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file as displayed (an included file: joined to its includer's directory).
    pub file: String,
    /// 1-based.
    pub line: usize,
    pub keyword: String,
    /// The enclosing block as written (`vrrp_instance VI_1`), or `top level`.
    pub block: String,
    pub kind: WarningKind,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// Left out of the YAML.
    NotCarried,
    /// In the YAML, in a form that differs from keepalived's (the reason says how).
    Changed,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            WarningKind::NotCarried => "not carried over",
            WarningKind::Changed => "carried over with a difference",
        };
        write!(
            f,
            "{}:{}: keyword '{}' in {}: {what} ({})",
            self.file, self.line, self.keyword, self.block, self.reason
        )
    }
}

/// A problem in the keepalived file: `FILE:LINE[:COLUMN]: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub file: String,
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(f, "{column}:")?;
        }
        write!(f, " {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file named on the command line could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Syntax and value errors, in file order, one per line.
    #[error("{}", one_per_line(.0))]
    Invalid(Vec<SourceError>),
    /// The YAML made does not load: a value keepalived takes that this project refuses.
    #[error("the converted configuration does not pass the config check:\n{0}")]
    Output(#[source] ConfigError),
}

impl ImportError {
    fn one(error: SourceError) -> Self {
        ImportError::Invalid(vec![error])
    }

    /// The errors placed in the keepalived file (none for a read or output error).
    pub fn errors(&self) -> &[SourceError] {
        match self {
            ImportError::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

/// Converts the keepalived configuration at `path` (and what it includes).
pub fn convert(path: &Path) -> Result<Conversion, ImportError> {
    let mut ctx = values::Ctx::default();
    let tokens = lexer::read(path, &mut ctx.warnings)?;
    let nodes = tree::parse(tokens).map_err(ImportError::one)?;
    let document = vrrp::document(&nodes, &mut ctx);
    if !ctx.errors.is_empty() {
        return Err(ImportError::Invalid(ctx.errors));
    }
    let mut yaml = format!(
        "# Converted from {} by directorctl import-keepalived.\n# Check it with: \
         directorctl config check FILE\n",
        path.display()
    );
    yaml.push_str(&document.render());
    Config::from_yaml(&yaml, "the converted YAML").map_err(ImportError::Output)?;
    Ok(Conversion { yaml, warnings: ctx.warnings })
}
