//! Reloads that parse only what changed (issue 5, benchmark P2).
//!
//! serde_yaml spends almost all of a large file's load time in `virtual_servers:`, and a
//! reload usually changes one item of it. So the block sequence is cut into its items
//! textually, each item is parsed alone and kept by its exact text in a [`ConfigCache`];
//! the next load parses only the items whose text is new, the rest of the document
//! (director, vrrp) as usual, and runs the semantic checks over the assembled whole.
//!
//! The result is always what [`Config::from_yaml`] gives: the splitter accepts only a
//! plain subset of YAML where an item's meaning cannot depend on its neighbours (no
//! anchors, aliases, tags, block scalars, multi-line quotes or flow collections, tabs,
//! CR, directives or document markers); anything else, and any error at all, goes to the
//! full parse, whose error messages and positions are the ones reported.

use std::collections::HashMap;
use std::path::Path;

use super::model::{RawConfig, RawVirtualServer};
use super::{Config, ConfigError};

/// Below this many items to parse, threads cost more than they save.
const PARALLEL_MIN_ITEMS: usize = 64;

/// The `virtual_servers:` items of the last load, parsed, by their exact text.
#[derive(Debug)]
pub struct ConfigCache {
    items: HashMap<Box<str>, RawVirtualServer>,
    /// Items being parsed on a thread of their own ([`ConfigCache::primed`]).
    pending: Option<std::thread::JoinHandle<ConfigCache>>,
    threads: usize,
    last: LoadStats,
}

/// How the last load went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadStats {
    /// Items of `virtual_servers:` found by the splitter (0 after a fallback before it).
    pub items: usize,
    /// Items taken from the cache.
    pub reused: usize,
    /// Items parsed because their text was new.
    pub parsed: usize,
    /// Why the full parse ran instead (`None`: the result came from the items).
    pub fallback: Option<&'static str>,
}

impl Default for ConfigCache {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        ConfigCache { items: HashMap::new(), pending: None, threads, last: LoadStats::default() }
    }
}

impl ConfigCache {
    /// A cache that fills with `path`'s items on a thread of its own, so that the first
    /// reload after start is already incremental while the start is not delayed (the
    /// first load waits for the thread). Stays empty if `path` cannot be read or split.
    pub fn primed(path: &Path) -> ConfigCache {
        let path = path.to_path_buf();
        let filling = std::thread::Builder::new().name("config-cache".into()).spawn(move || {
            let mut cache = ConfigCache::default();
            if let Ok(text) = std::fs::read_to_string(path) {
                cache.fill(&text);
            }
            cache
        });
        ConfigCache { pending: filling.ok(), ..ConfigCache::default() }
    }

    /// Takes over what [`ConfigCache::primed`]'s thread parsed, once it is done.
    fn settle(&mut self) {
        if let Some(filling) = self.pending.take() {
            if let Ok(filled) = filling.join() {
                self.items = filled.items;
            }
        }
    }

    /// Parses `text`'s new items into the cache, without checking the document.
    pub fn fill(&mut self, text: &str) {
        self.settle();
        if let Ok(split) = split(text) {
            let (keys, slots, _) = self.take_or_parse(&split.items);
            self.keep(keys, slots);
        }
    }

    /// Threads for parsing new items (default: the available parallelism; 1: none).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    pub fn last_load(&self) -> LoadStats {
        self.last
    }

    /// The config from the cached items, or why the full parse must decide.
    fn incremental(&mut self, text: &str, origin: &str) -> Result<Config, &'static str> {
        self.last = LoadStats::default();
        self.settle();
        let split = split(text)?;
        let (keys, slots, parsed) = self.take_or_parse(&split.items);
        self.last.items = split.items.len();
        self.last.reused = split.items.len() - parsed;
        self.last.parsed = parsed;
        if slots.iter().any(Option::is_none) {
            self.keep(keys, slots);
            return Err("an item does not parse alone");
        }
        let items: Vec<RawVirtualServer> = slots.into_iter().flatten().collect();
        let mut raw = match serde_yaml::from_str::<RawConfig>(&split.rest) {
            Ok(raw) if raw.virtual_servers.is_empty() => raw,
            _ => {
                self.keep(keys, items.into_iter().map(Some).collect());
                return Err("the rest of the document does not parse");
            }
        };
        raw.virtual_servers = items;
        // Errors go to the full parse, which reports them exactly as `from_yaml` does.
        let checked = Config::check(&raw, origin, text).ok();
        self.keep(keys, raw.virtual_servers.into_iter().map(Some).collect());
        checked.ok_or("the semantic checks found errors")
    }

    /// Each item from the cache if its text is there, else parsed (in parallel when
    /// there are many): the items' texts as keys, the items (`None` where one does not
    /// parse alone), and how many were parsed.
    fn take_or_parse(&mut self, items: &[&str]) -> (Vec<Box<str>>, Vec<Slot>, usize) {
        let mut keys = Vec::with_capacity(items.len());
        let mut slots: Vec<Slot> = Vec::with_capacity(items.len());
        let mut misses = Vec::new();
        for (i, &text) in items.iter().enumerate() {
            match self.items.remove_entry(text) {
                Some((key, raw)) => {
                    keys.push(key);
                    slots.push(Some(raw));
                }
                None => {
                    keys.push(Box::from(text));
                    slots.push(None);
                    misses.push(i);
                }
            }
        }
        let threads = self.threads.min(misses.len() / PARALLEL_MIN_ITEMS).max(1);
        if threads == 1 {
            for &i in &misses {
                slots[i] = parse_item(items[i]);
            }
        } else {
            let chunk = misses.len().div_ceil(threads);
            let parsed: Vec<Vec<(usize, Slot)>> = std::thread::scope(|scope| {
                let workers: Vec<_> = misses
                    .chunks(chunk)
                    .map(|chunk| {
                        scope.spawn(move || {
                            chunk.iter().map(|&i| (i, parse_item(items[i]))).collect()
                        })
                    })
                    .collect();
                // A worker that panicked leaves its items unparsed: the full parse runs.
                workers.into_iter().map(|w| w.join().unwrap_or_default()).collect()
            });
            for (i, raw) in parsed.into_iter().flatten() {
                slots[i] = raw;
            }
        }
        (keys, slots, misses.len())
    }

    /// Replaces the cache with these items (what the next load most likely reuses).
    fn keep(&mut self, keys: Vec<Box<str>>, slots: Vec<Slot>) {
        self.items = keys.into_iter().zip(slots).filter_map(|(k, raw)| Some((k, raw?))).collect();
    }
}

/// An item, parsed or not.
type Slot = Option<RawVirtualServer>;

impl Config {
    /// [`Config::load`] through `cache`: the same result, parsing only new items.
    pub fn load_cached(path: &Path, cache: &mut ConfigCache) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_yaml_cached(&text, &path.display().to_string(), cache)
    }

    /// [`Config::from_yaml`] through `cache`: the same result, parsing only new items;
    /// on any error the full parse runs, so errors are exactly `from_yaml`'s.
    pub fn from_yaml_cached(
        text: &str,
        origin: &str,
        cache: &mut ConfigCache,
    ) -> Result<Config, ConfigError> {
        match cache.incremental(text, origin) {
            Ok(config) => Ok(config),
            Err(reason) => {
                cache.last.fallback = Some(reason);
                Config::from_yaml(text, origin)
            }
        }
    }
}

/// One item alone: its text shifted left to column 0 and read as a one-item sequence.
fn parse_item(item: &str) -> Option<RawVirtualServer> {
    let indent = item.len() - item.trim_start_matches(' ').len();
    let mut shifted = String::with_capacity(item.len());
    for line in item.split_inclusive('\n') {
        let spaces = line.len() - line.trim_start_matches(' ').len();
        shifted.push_str(&line[spaces.min(indent)..]);
    }
    let mut parsed: Vec<RawVirtualServer> = serde_yaml::from_str(&shifted).ok()?;
    if parsed.len() == 1 {
        parsed.pop()
    } else {
        None
    }
}

/// A document cut at its `virtual_servers:` block sequence.
#[derive(Debug)]
struct Split<'t> {
    /// The document with the block replaced by `virtual_servers: []`.
    rest: String,
    /// Each item's text as written, from its `- ` line to the next item's.
    items: Vec<&'t str>,
}

const KEY: &str = "virtual_servers:";

/// Cuts `text`, or says why it will not: the YAML is outside the plain subset.
fn split(text: &str) -> Result<Split<'_>, &'static str> {
    if text.contains(['\t', '\r', '\u{feff}', '\u{85}', '\u{2028}', '\u{2029}']) {
        return Err("tab, CR, BOM or a Unicode line break");
    }
    let mut key_line: Option<(usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        check_line(line)?;
        if is_key_line(line) {
            if key_line.is_some() {
                return Err("virtual_servers given twice");
            }
            key_line = Some((offset, offset + line.len()));
        }
        offset += line.len();
    }
    let (key_start, block_start) = key_line.ok_or("no block virtual_servers: key")?;
    let (items, block_end) = items(text, block_start)?;
    let (before, after) = (&text[..key_start], &text[block_end..]);
    let mentions = |part: &str| {
        part.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("virtual_servers"))
    };
    if mentions(before) || mentions(after) {
        return Err("virtual_servers named outside its block");
    }
    let mut rest = String::with_capacity(before.len() + after.len() + KEY.len() + 4);
    rest.push_str(before);
    rest.push_str(KEY);
    rest.push_str(" []\n");
    rest.push_str(after);
    Ok(Split { rest, items })
}

/// `virtual_servers:` at column 0, then only spaces and perhaps a comment.
fn is_key_line(line: &str) -> bool {
    line.strip_prefix(KEY).is_some_and(|tail| {
        let trimmed = tail.trim_start_matches(' ');
        // A comment needs a space before it: `virtual_servers:#x` is one plain scalar.
        trimmed.is_empty() || trimmed == "\n" || (trimmed.starts_with('#') && trimmed != tail)
    })
}

/// The items of the block sequence starting at `start`, and where the block ends.
fn items(text: &str, start: usize) -> Result<(Vec<&str>, usize), &'static str> {
    let mut items = Vec::new();
    let mut sequence_indent = None;
    let mut item_start = None;
    let mut offset = start;
    let mut end = text.len();
    for line in text[start..].split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let spaces = line.len() - content.len();
        let blank = content.trim_end_matches('\n').is_empty() || content.starts_with('#');
        if !blank {
            let entry = content.starts_with("- ") || content.trim_end_matches('\n') == "-";
            let indent = *sequence_indent.get_or_insert(spaces);
            if spaces == indent && entry {
                if let Some(begun) = item_start.replace(offset) {
                    items.push(&text[begun..offset]);
                }
            } else if item_start.is_none() {
                return Err("virtual_servers: is not a block sequence");
            } else if spaces == 0 {
                end = offset;
                break;
            } else if spaces <= indent {
                return Err("a line indented less than its item");
            }
        }
        offset += line.len();
    }
    let begun = item_start.ok_or("virtual_servers: has no items")?;
    items.push(&text[begun..end]);
    Ok((items, end))
}

/// Refuses a line with anything the splitter cannot vouch for: a directive or document
/// marker, an anchor, alias, tag, block scalar or complex key where a node starts, a
/// quoted scalar or flow collection left open at the end of the line.
fn check_line(line: &str) -> Result<(), &'static str> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
        return Err("a directive or document marker");
    }
    let bytes = line.as_bytes();
    // At a node's first character: a quote there opens a quoted scalar, and `&*!|>?`
    // are indicators. Anywhere else they belong to a plain scalar.
    let mut node_start = true;
    let mut flow_depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let after_space = i == 0 || bytes[i - 1] == b' ';
        match b {
            b' ' => {
                i += 1;
                continue;
            }
            b'#' if after_space => break,
            b'"' | b'\'' if node_start => {
                i = closing_quote(bytes, i).ok_or("a quoted scalar spans lines")?;
                // `"key":value` in a flow collection: the value starts at once.
                node_start = bytes.get(i + 1) == Some(&b':') && flow_depth > 0;
                if node_start {
                    i += 1;
                }
            }
            b'&' | b'*' | b'!' | b'|' | b'>' | b'?' | b'%' | b'@' | b'`' if node_start => {
                return Err("an anchor, alias, tag, block scalar or complex key");
            }
            b'[' | b'{' if node_start || flow_depth > 0 => {
                flow_depth += 1;
                node_start = true;
            }
            b']' | b'}' if flow_depth > 0 => {
                flow_depth -= 1;
                node_start = false;
            }
            b',' if flow_depth > 0 => node_start = true,
            b'-' | b':' if node_start || b == b':' => {
                // An indicator only when followed by a space or the end of the line.
                let indicator = bytes.get(i + 1).is_none_or(|&next| next == b' ');
                node_start = indicator;
            }
            _ => node_start = false,
        }
        i += 1;
    }
    if flow_depth > 0 {
        return Err("a flow collection spans lines");
    }
    Ok(())
}

/// The index of the quote closing the one at `open`, on the same line.
fn closing_quote(bytes: &[u8], open: usize) -> Option<usize> {
    let quote = bytes[open];
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}
