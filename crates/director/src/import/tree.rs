//! Statements and braces into a tree: a `{` right after a statement (on its line or the
//! next) opens that statement's block, `}` closes the innermost one.

use std::fmt::Write;

use super::lexer::{error, Place, Token, Word};
use super::SourceError;

/// One statement and, if a block followed it, the statements inside.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub at: Place,
    /// At least one: the keyword.
    pub words: Vec<Word>,
    /// The statement's text, for keepalived's second split of scripts.
    pub raw: String,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub(crate) fn keyword(&self) -> &str {
        &self.words[0].text
    }

    pub(crate) fn args(&self) -> &[Word] {
        &self.words[1..]
    }

    /// `real_server 192.0.2.7 80`: how warnings name the block.
    pub(crate) fn label(&self) -> String {
        let mut label = String::new();
        for (i, word) in self.words.iter().enumerate() {
            if i > 0 {
                label.push(' ');
            }
            let _ = write!(label, "{}", word.text);
        }
        label
    }

    pub(crate) fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }
}

/// The top-level statements; unbalanced braces are errors placed at the brace (or, for
/// a block never closed, at the statement that opened it).
pub(crate) fn parse(tokens: Vec<Token>) -> Result<Vec<Node>, SourceError> {
    let mut stack: Vec<Vec<Node>> = vec![Vec::new()];
    // The nodes whose blocks are open, innermost last (parallel to stack[1..]).
    let mut open: Vec<Node> = Vec::new();
    let mut last_was_statement = false;
    for token in tokens {
        match token {
            Token::Statement { at, words, raw } => {
                let level = stack.last_mut().ok_or_else(|| internal(&at))?;
                level.push(Node { at, words, raw, block: None });
                last_was_statement = true;
            }
            Token::Open { at, column } => {
                let level = stack.last_mut().ok_or_else(|| internal(&at))?;
                let owner = match level.pop() {
                    Some(node) if last_was_statement => node,
                    _ => return Err(error(&at, Some(column), "'{' without a keyword before it")),
                };
                open.push(owner);
                stack.push(Vec::new());
                last_was_statement = false;
            }
            Token::Close { at, column } => {
                let (Some(mut owner), Some(children)) = (open.pop(), stack.pop()) else {
                    return Err(error(&at, Some(column), "'}' without a block to close"));
                };
                owner.block = Some(children);
                stack.last_mut().ok_or_else(|| internal(&at))?.push(owner);
                last_was_statement = false;
            }
        }
    }
    if let Some(owner) = open.pop() {
        let message =
            format!("the block of '{}' is never closed (a '}}' is missing)", owner.label());
        return Err(error(&owner.at, Some(owner.words[0].column), &message));
    }
    stack.pop().ok_or_else(|| SourceError {
        file: String::new(),
        line: 0,
        column: None,
        message: "internal: no top level".into(),
    })
}

fn internal(at: &Place) -> SourceError {
    error(at, None, "internal: block stack empty")
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    fn tree(text: &str) -> Result<Vec<Node>, SourceError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.conf");
        std::fs::write(&path, text).unwrap();
        let tokens = super::super::lexer::read(&path, &mut Vec::new()).unwrap();
        parse(tokens)
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| match &n.block {
                Some(children) => format!("{}{{{}}}", n.label(), shape(children)),
                None => n.label(),
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn blocks_open_on_the_same_or_the_next_line() {
        let nodes = tree("a x {\n b 1\n c\n {\n d }\n}\ne { f }\n").unwrap();
        assert_eq!(shape(&nodes), "a x{b 1;c{d}};e{f}");
        assert_eq!(nodes[1].at.line, 7);
        assert!(Rc::clone(&nodes[0].at.file).ends_with("t.conf"));
    }

    #[test]
    fn unbalanced_braces_are_placed() {
        let err = tree("a {\n b\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, Some(1)));
        assert!(err.message.contains("never closed"), "{}", err.message);
        let err = tree("a { }\n}\n").unwrap_err();
        assert_eq!(
            (err.line, err.column, err.message.as_str()),
            (2, Some(1), "'}' without a block to close")
        );
        let err = tree("{\n").unwrap_err();
        assert_eq!(err.line, 1);
        let err = tree("a { } {\n").unwrap_err();
        assert!(err.message.contains("without a keyword"), "{}", err.message);
    }
}
