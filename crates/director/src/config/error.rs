//! Config errors as compilers print them: `FILE:LINE:COLUMN: key.path: message`.

use std::cell::OnceCell;
use std::fmt;
use std::path::PathBuf;

use super::location::PathIndex;

/// One problem in a config file: where it is, which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file name as the user gave it (or another name for in-memory text).
    pub origin: String,
    /// 1-based.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    /// Key path such as `vrrp.instances[0].vrid`; empty for the document itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found, in file order; displayed one per line.
    #[error("{}", lines(.0))]
    Invalid(Vec<Located>),
}

impl ConfigError {
    /// The located problems (none for a read error).
    pub fn errors(&self) -> &[Located] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(errors) => errors,
        }
    }
}

/// One error per line (also the import's errors).
pub(crate) fn lines<E: std::fmt::Display>(errors: &[E]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// Turns a serde_yaml error into a [`Located`]. serde_yaml's text is
/// `PATH: MESSAGE at line L column C`; the position and path become fields so that
/// every error reads the same.
pub(crate) fn from_serde(origin: &str, err: &serde_yaml::Error) -> Located {
    let text = err.to_string();
    let (line, column, text) = match err.location() {
        Some(at) => {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            (at.line(), at.column(), text.replacen(&suffix, "", 1))
        }
        None => (1, 1, text),
    };
    let (path, message) = split_path(&text);
    Located { origin: origin.to_string(), line, column, path, message }
}

/// serde_yaml prefixes the key path when it knows one; a path has no spaces, while
/// every message's first words do (`invalid type`, `unknown field`, `missing field`).
fn split_path(text: &str) -> (String, String) {
    match text.split_once(": ") {
        Some((path, message)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            (path.to_string(), message.to_string())
        }
        _ => (String::new(), text.to_string()),
    }
}

/// Collects the semantic errors of one document, each placed through the path index.
/// The index is built at the first error: a good file (the common case, and the one a
/// reload of thousands of services waits for) never pays for it.
#[derive(Debug)]
pub(crate) struct Report<'a> {
    origin: &'a str,
    text: &'a str,
    index: OnceCell<PathIndex>,
    errors: Vec<Located>,
}

impl<'a> Report<'a> {
    pub(crate) fn new(origin: &'a str, text: &'a str) -> Self {
        Report { origin, text, index: OnceCell::new(), errors: Vec::new() }
    }

    fn index(&self) -> &PathIndex {
        self.index.get_or_init(|| PathIndex::build(self.text))
    }

    /// An error about the value at `path`.
    pub(crate) fn value(&mut self, path: &str, message: impl Into<String>) {
        let at = self.index().value(path);
        self.push(at.line, at.column, path, message.into());
    }

    /// An error about the key at `path` being there at all.
    pub(crate) fn key(&mut self, path: &str, message: impl Into<String>) {
        let at = self.index().key(path);
        self.push(at.line, at.column, path, message.into());
    }

    /// `expected EXPECTED, got GOT` about the value at `path`.
    pub(crate) fn expected(
        &mut self,
        path: &str,
        expected: impl fmt::Display,
        got: impl fmt::Display,
    ) {
        self.value(path, format!("expected {expected}, got {got}"));
    }

    /// The line of `path`, for messages that point back at an earlier definition.
    pub(crate) fn line_of(&self, path: &str) -> usize {
        self.index().value(path).line
    }

    fn push(&mut self, line: usize, column: usize, path: &str, message: String) {
        let origin = self.origin.to_string();
        self.errors.push(Located { origin, line, column, path: path.to_string(), message });
    }

    /// How many errors so far: a check that grew it found a problem.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// The errors in file order (checks run section by section, not line by line).
    pub(crate) fn finish(mut self) -> Vec<Located> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_path_message() {
        let e = Located {
            origin: "director.yaml".into(),
            line: 12,
            column: 13,
            path: "vrrp.instances[0].vrid".into(),
            message: "expected 1-255, got 300".into(),
        };
        assert_eq!(
            e.to_string(),
            "director.yaml:12:13: vrrp.instances[0].vrid: expected 1-255, got 300"
        );
        let bare = Located { path: String::new(), ..e };
        assert_eq!(bare.to_string(), "director.yaml:12:13: expected 1-255, got 300");
    }

    #[test]
    fn invalid_lists_one_error_per_line() {
        let one = |line| Located {
            origin: "f".into(),
            line,
            column: 1,
            path: "p".into(),
            message: "m".into(),
        };
        let err = ConfigError::Invalid(vec![one(1), one(2)]);
        assert_eq!(err.to_string(), "f:1:1: p: m\nf:2:1: p: m");
        assert_eq!(err.errors().len(), 2);
    }

    #[test]
    fn serde_errors_lose_their_suffix_and_keep_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            n: u8,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            inner: Inner,
        }
        let err = serde_yaml::from_str::<Outer>("inner:\n  n: nope\n").unwrap_err();
        let located = from_serde("x.yaml", &err);
        assert_eq!((located.line, located.column), (2, 6));
        assert_eq!(located.path, "inner.n");
        assert!(located.message.starts_with("invalid type: string \"nope\""), "{located:?}");
        assert!(!located.message.contains("line"), "{located:?}");
    }

    #[test]
    fn syntax_errors_have_no_path() {
        let err = serde_yaml::from_str::<serde_yaml::Value>("a: [1,\n").unwrap_err();
        let located = from_serde("x.yaml", &err);
        assert_eq!(located.path, "");
        assert!(located.line >= 1);
    }
}
