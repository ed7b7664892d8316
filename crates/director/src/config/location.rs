//! Where each key and value of a YAML document is, by key path (`vrrp.instances[0].vrid`).
//!
//! serde_yaml locates its own syntax and type errors, but the semantic checks run on the
//! deserialized structs, which have no positions. This index is built from a second pass
//! over the text with yaml-rust2's event parser, whose events carry line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    const START: Position = Position { line: 1, column: 1 };
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the key is, for a mapping entry.
    key: Option<Position>,
    /// Where the value starts (for a collection: its first token).
    value: Position,
}

/// Key path to position, for the first document of a YAML text.
#[derive(Debug, Default)]
pub struct PathIndex {
    entries: HashMap<String, Entry>,
}

enum Frame {
    Mapping { path: String, key: Option<(String, Position)> },
    Sequence { path: String, next: usize },
}

impl PathIndex {
    /// Indexes as much of `text` as parses; a syntax error stops the walk, and serde_yaml
    /// reports that error with its own position.
    pub fn build(text: &str) -> PathIndex {
        let mut index = PathIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        let mut skipping = 0usize;
        let mut seen_root = false;
        while let Ok((event, marker)) = parser.next_token() {
            // yaml-rust2 counts lines from 1 and columns from 0.
            let at = Position { line: marker.line(), column: marker.col() + 1 };
            let starts = matches!(
                event,
                Event::Scalar(..)
                    | Event::Alias(_)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
            );
            let opens = matches!(event, Event::MappingStart(..) | Event::SequenceStart(..));
            match event {
                Event::StreamEnd | Event::DocumentEnd => break,
                Event::MappingEnd | Event::SequenceEnd => {
                    if skipping > 0 {
                        skipping -= 1;
                    } else {
                        stack.pop();
                    }
                    continue;
                }
                _ if !starts => continue,
                _ => {}
            }
            if skipping > 0 {
                skipping += usize::from(opens);
                continue;
            }
            let path = match stack.last_mut() {
                None if seen_root => break,
                None => {
                    seen_root = true;
                    index.entries.insert(String::new(), Entry { key: None, value: at });
                    String::new()
                }
                Some(Frame::Mapping { path, key }) => match key.take() {
                    None => {
                        // A complex or aliased key is named `?`; nothing inside it is
                        // addressable, so its events are skipped.
                        let name = match &event {
                            Event::Scalar(text, ..) => text.clone(),
                            _ => "?".to_string(),
                        };
                        // A block mapping's start event is marked after its first key
                        // (`- name: x` at `x`); the mapping starts at that key.
                        if let Some(entry) = index.entries.get_mut(path.as_str()) {
                            if (at.line, at.column) < (entry.value.line, entry.value.column) {
                                entry.value = at;
                            }
                        }
                        *key = Some((name, at));
                        skipping = usize::from(opens);
                        continue;
                    }
                    Some((name, key_at)) => {
                        let child = join_key(path, &name);
                        index.entries.insert(child.clone(), Entry { key: Some(key_at), value: at });
                        child
                    }
                },
                Some(Frame::Sequence { path, next }) => {
                    let child = format!("{path}[{next}]");
                    *next += 1;
                    index.entries.insert(child.clone(), Entry { key: None, value: at });
                    child
                }
            };
            match event {
                Event::MappingStart(..) => stack.push(Frame::Mapping { path, key: None }),
                Event::SequenceStart(..) => stack.push(Frame::Sequence { path, next: 0 }),
                _ => {}
            }
        }
        index
    }

    /// Where the value at `path` starts, or its nearest indexed ancestor (a defaulted key
    /// is not in the text: the error then points at the table that lacks it).
    pub fn value(&self, path: &str) -> Position {
        self.nearest(path).map_or(Position::START, |e| e.value)
    }

    /// Where the key of `path` is (for "this key is not allowed here"), else as
    /// [`PathIndex::value`].
    pub fn key(&self, path: &str) -> Position {
        self.nearest(path).map_or(Position::START, |e| e.key.unwrap_or(e.value))
    }

    fn nearest(&self, path: &str) -> Option<&Entry> {
        let mut path = path;
        loop {
            if let Some(entry) = self.entries.get(path) {
                return Some(entry);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(path);
        }
    }
}

/// `parent.key`, or `key` at the top.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn parent(path: &str) -> &str {
    if path.ends_with(']') {
        if let Some(open) = path.rfind('[') {
            return &path[..open];
        }
    }
    path.rfind('.').map_or("", |dot| &path[..dot])
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
director:
  id: lb01
vrrp:
  instances:
    - name: a
      vrid: 300
      track: {scripts: [chk, {name: other, weight: -5}]}
    - name: b
";

    fn pos(line: usize, column: usize) -> Position {
        Position { line, column }
    }

    #[test]
    fn block_and_flow_values_have_their_positions() {
        let index = PathIndex::build(DOC);
        assert_eq!(index.value("director.id"), pos(2, 7));
        assert_eq!(index.key("director.id"), pos(2, 3));
        assert_eq!(index.value("vrrp.instances[0].vrid"), pos(6, 13));
        assert_eq!(index.key("vrrp.instances[0].vrid"), pos(6, 7));
        assert_eq!(index.value("vrrp.instances[0].track.scripts[0]"), pos(7, 25));
        assert_eq!(index.value("vrrp.instances[0].track"), pos(7, 14));
        assert_eq!(index.value("vrrp.instances[0]"), pos(5, 7));
        assert_eq!(index.value("director"), pos(2, 3));
        assert_eq!(index.value(""), pos(1, 1));
        assert_eq!(index.value("vrrp.instances[0].track.scripts[1].weight"), pos(7, 52));
        assert_eq!(index.value("vrrp.instances[1].name"), pos(8, 13));
    }

    #[test]
    fn a_missing_key_falls_back_to_its_nearest_ancestor() {
        let index = PathIndex::build(DOC);
        assert_eq!(index.value("vrrp.instances[1].vrid"), pos(8, 7));
        assert_eq!(index.value("vrrp.instances[1].unicast.peers"), pos(8, 7));
        assert_eq!(index.value("vrrp.instances[7]"), index.value("vrrp.instances"));
        assert_eq!(index.value("nothing.at.all"), pos(1, 1));
    }

    #[test]
    fn complex_keys_and_aliases_do_not_shift_later_paths() {
        let text = "a: &x {k: 1}\n? [1, 2]\n: {deep: 3}\nb: *x\nc: 4\n";
        let index = PathIndex::build(text);
        assert_eq!(index.value("a.k"), pos(1, 11));
        assert_eq!(index.value("b"), pos(4, 4));
        assert_eq!(index.value("c"), pos(5, 4));
    }

    #[test]
    fn a_syntax_error_keeps_what_came_before() {
        let index = PathIndex::build("a: 1\nb: [\n");
        assert_eq!(index.value("a"), pos(1, 4));
    }

    #[test]
    fn parents() {
        assert_eq!(parent("a.b[3]"), "a.b");
        assert_eq!(parent("a.b"), "a");
        assert_eq!(parent("a"), "");
        assert_eq!(parent("a[0][1]"), "a[0]");
    }
}
