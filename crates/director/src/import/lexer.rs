//! keepalived.conf as keepalived reads it: lines, comments, quoted words, braces as
//! tokens of their own, and `include` expanded in place (globs, relative to the
//! including file, nested).
//!
//! keepalived's reader (lib/parser.c) works a line at a time: `!` and `#` start a comment
//! anywhere outside double quotes (`\!` and `\#` are the characters themselves); a line
//! is cut at every `{` and `}` outside quotes, so `virtual_ipaddress { 192.0.2.1 }` is
//! three statements and a brace may stand on the next line; a double-quoted string is one
//! word without its quotes. An `include FILE` line (exactly two words) is replaced by the
//! files it names.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::include;
use super::{ImportError, SourceError, Warning, WarningKind};

/// One word of a statement: its text (quotes removed) and 1-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub column: usize,
}

/// Where a token is: the file as displayed and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Place {
    pub file: Rc<str>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// Words of one statement, and its raw text (for scripts, which keepalived splits
    /// again with its quoting rules).
    Statement {
        at: Place,
        words: Vec<Word>,
        raw: String,
    },
    Open {
        at: Place,
        column: usize,
    },
    Close {
        at: Place,
        column: usize,
    },
}

/// Include depth past which a loop is assumed (keepalived itself would recurse forever).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Every token of `path` and the files it includes, in reading order.
pub(crate) fn read(path: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<Token>, ImportError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ImportError::Read { path: path.to_path_buf(), source })?;
    let mut tokens = Vec::new();
    let name: Rc<str> = Rc::from(path.display().to_string());
    lex_file(&name, path, &text, 0, &mut tokens, warnings).map_err(ImportError::one)?;
    Ok(tokens)
}

fn lex_file(
    name: &Rc<str>,
    path: &Path,
    text: &str,
    depth: usize,
    tokens: &mut Vec<Token>,
    warnings: &mut Vec<Warning>,
) -> Result<(), SourceError> {
    for (index, line) in text.lines().enumerate() {
        let at = Place { file: name.clone(), line: index + 1 };
        let line = decomment(line, &at)?;
        let words = words(&line, 0, &at)?;
        if words.first().is_some_and(|w| w.text == "include") {
            if words.len() != 2 {
                return Err(error(&at, Some(words[0].column), "include takes one file name"));
            }
            include_files(path, &words[1].text, &at, depth, tokens, warnings)?;
            continue;
        }
        segments(&line, &at, tokens)?;
    }
    Ok(())
}

fn include_files(
    including: &Path,
    pattern: &str,
    at: &Place,
    depth: usize,
    tokens: &mut Vec<Token>,
    warnings: &mut Vec<Warning>,
) -> Result<(), SourceError> {
    if depth >= MAX_INCLUDE_DEPTH {
        let message = format!("include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)");
        return Err(error(at, None, &message));
    }
    let base = including.parent().map(Path::to_path_buf).unwrap_or_default();
    let full =
        if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base.join(pattern) };
    let files = include::expand(&full.to_string_lossy());
    if files.is_empty() {
        if !include::has_wildcards(pattern) {
            let message = format!("included file {} does not exist", full.display());
            return Err(error(at, None, &message));
        }
        warnings.push(Warning {
            file: at.file.to_string(),
            line: at.line,
            keyword: "include".into(),
            block: "top level".into(),
            kind: WarningKind::NotCarried,
            reason: format!("no file matches {pattern:?}"),
        });
        return Ok(());
    }
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            error(at, None, &format!("cannot read included file {}: {e}", file.display()))
        })?;
        let name: Rc<str> = Rc::from(file.display().to_string());
        lex_file(&name, &file, &text, depth + 1, tokens, warnings)?;
    }
    Ok(())
}

pub(crate) fn error(at: &Place, column: Option<usize>, message: &str) -> SourceError {
    SourceError { file: at.file.to_string(), line: at.line, column, message: message.into() }
}

/// The line without its comment: `!` or `#` outside double quotes ends it; `\!` and
/// `\#` outside quotes are the characters (columns after such an escape are one less
/// than in the file).
fn decomment(line: &str, at: &Place) -> Result<String, SourceError> {
    let mut out = String::with_capacity(line.len());
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    let mut quote_column = 0;
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                quote_column = i + 1;
                out.push(c);
            }
            '\\' if !quoted && matches!(chars.peek(), Some((_, '!' | '#'))) => {
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            '\\' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                }
            }
            '!' | '#' if !quoted => break,
            _ => out.push(c),
        }
    }
    if quoted {
        return Err(error(at, Some(quote_column), "unterminated quote"));
    }
    Ok(out.trim_end().to_string())
}

/// Cuts a decommented line at braces outside quotes; each piece between them is a
/// statement, each brace a token.
fn segments(line: &str, at: &Place, tokens: &mut Vec<Token>) -> Result<(), SourceError> {
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' | '}' if !quoted => {
                statement(&line[start..i], start, at, tokens)?;
                let place = at.clone();
                tokens.push(if c == '{' {
                    Token::Open { at: place, column: i + 1 }
                } else {
                    Token::Close { at: place, column: i + 1 }
                });
                start = i + 1;
            }
            _ => {}
        }
    }
    statement(&line[start..], start, at, tokens)
}

fn statement(
    text: &str,
    offset: usize,
    at: &Place,
    tokens: &mut Vec<Token>,
) -> Result<(), SourceError> {
    let words = words(text, offset, at)?;
    if !words.is_empty() {
        let raw = text.trim().to_string();
        tokens.push(Token::Statement { at: at.clone(), words, raw });
    }
    Ok(())
}

/// keepalived's outer split: whitespace separates words, a double-quoted string is one
/// word without its quotes (nothing is escaped in it).
fn words(text: &str, offset: usize, at: &Place) -> Result<Vec<Word>, SourceError> {
    let mut words = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let column = offset + i + 1;
        let mut word = String::new();
        if c == '"' {
            chars.next();
            let mut closed = false;
            for (_, c) in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                word.push(c);
            }
            if !closed {
                return Err(error(at, Some(column), "unterminated quote"));
            }
        } else {
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(Word { text: word, column });
    }
    Ok(words)
}

/// keepalived's split of a script line (alloc_strvec_quoted_escaped): words separated by
/// whitespace; `"` and `'` quote (the quotes go, the spaces inside stay); a backslash
/// escapes, with the C escapes \a \b \E \f \n \r \t \v, \xHH, \NNN (octal) and \cC.
pub(crate) fn split_script(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => word.push(escape(&mut chars).ok_or("a backslash at the end")?),
                '"' | '\'' if quote.is_none() => quote = Some(c),
                c if Some(c) == quote => quote = None,
                c if quote.is_none() && c.is_whitespace() => break,
                c => word.push(c),
            }
        }
        if let Some(q) = quote {
            return Err(format!("missing terminating {q}"));
        }
        words.push(word);
    }
}

fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    let c = chars.next()?;
    let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>, radix, max, first| {
        let mut value: u32 = first;
        for _ in 0..max {
            match chars.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    value = value * radix + d;
                    chars.next();
                }
                None => break,
            }
        }
        char::from_u32(value & 0xff)
    };
    Some(match c {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'E' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        'x' if chars.peek().is_some_and(char::is_ascii_hexdigit) => digits(chars, 16, 2, 0)?,
        'c' if chars.peek().is_some() => char::from_u32(u32::from(chars.next()?) & 0x1f)?,
        '0'..='7' => digits(chars, 8, 2, c.to_digit(8)?)?,
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Result<Vec<String>, SourceError> {
        let name: Rc<str> = Rc::from("t.conf");
        let mut out = Vec::new();
        lex_file(&name, Path::new("t.conf"), text, 0, &mut out, &mut Vec::new())?;
        Ok(out
            .iter()
            .map(|t| match t {
                Token::Statement { at, words, .. } => {
                    let w: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
                    format!("{}:{}", at.line, w.join("|"))
                }
                Token::Open { at, column } => format!("{}:{{@{column}", at.line),
                Token::Close { at, column } => format!("{}:}}@{column}", at.line),
            })
            .collect())
    }

    #[test]
    fn braces_split_lines_and_comments_end_them() {
        let got = tokens("a { b 1 } ! note\n# all comment\nc \"x # y\" # z\n  {\n}").unwrap();
        assert_eq!(got, ["1:a", "1:{@3", "1:b|1", "1:}@9", "3:c|x # y", "4:{@3", "5:}@1"]);
        assert_eq!(tokens(r"a\#b \!").unwrap(), ["1:a#b|!"]);
        assert_eq!(tokens("x \"a{b}\"").unwrap(), ["1:x|a{b}"]);
    }

    #[test]
    fn an_unterminated_quote_is_placed() {
        let err = tokens("ok\n  script \"/bin/true\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, Some(10)));
        assert_eq!(err.message, "unterminated quote");
    }

    #[test]
    fn scripts_split_like_keepalived() {
        let split = |s| split_script(s).unwrap();
        assert_eq!(split("/usr/bin/killall -0 nginx"), ["/usr/bin/killall", "-0", "nginx"]);
        assert_eq!(split(r#"/x 'a b' "c 'd'" e\ f"#), ["/x", "a b", "c 'd'", "e f"]);
        assert_eq!(split(r"/x \x41\101\t"), ["/x", "AA\t"]);
        assert_eq!(split("  "), Vec::<String>::new());
        assert_eq!(split_script("/x 'open"), Err("missing terminating '".to_string()));
    }
}
