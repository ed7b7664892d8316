//! The file names an `include` pattern stands for, as keepalived's glob(3) with
//! GLOB_BRACE finds them: `{a,b}` alternatives, then `*`, `?` and `[...]` per path
//! component; matches sorted, directories skipped.

use std::path::{Path, PathBuf};

/// Whether `pattern` has anything glob expands (so that no match is not an error).
pub(crate) fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The regular files `pattern` matches, each brace alternative's sorted in turn.
pub(crate) fn expand(pattern: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for alternative in braces(pattern) {
        let mut matched = Vec::new();
        let absolute = alternative.starts_with('/');
        let start = if absolute { PathBuf::from("/") } else { PathBuf::new() };
        let parts: Vec<&str> = alternative.split('/').filter(|p| !p.is_empty()).collect();
        walk(&start, &parts, &mut matched);
        matched.sort();
        files.extend(matched.into_iter().filter(|p| p.is_file()));
    }
    files
}

fn walk(dir: &Path, parts: &[&str], out: &mut Vec<PathBuf>) {
    let Some((first, rest)) = parts.split_first() else {
        out.push(dir.to_path_buf());
        return;
    };
    if !has_wildcards(first) {
        let next = dir.join(first);
        if next.exists() {
            walk(&next, rest, out);
        }
        return;
    }
    let listing = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let Ok(entries) = std::fs::read_dir(listing) else { return };
    let mut names: Vec<String> =
        entries.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    for name in names {
        // As glob: a leading dot is matched only by a leading dot in the pattern.
        if name.starts_with('.') && !first.starts_with('.') {
            continue;
        }
        if matches(first.as_bytes(), name.as_bytes()) {
            walk(&dir.join(&name), rest, out);
        }
    }
}

/// `a{b,c{d,e}}f` -> `abf acdf acef`; text without a balanced brace stays as it is.
fn braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else { return vec![pattern.to_string()] };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else { return vec![pattern.to_string()] };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for pair in bounds.windows(2) {
        let choice = &pattern[pair[0] + 1..pair[1]];
        out.extend(braces(&format!("{head}{choice}{tail}")));
    }
    out
}

/// fnmatch without flags beyond the slash rule (components never hold a slash).
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| matches(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && matches(rest, &name[1..]),
        Some((b'[', rest)) => match (class(rest, name.first().copied()), name.is_empty()) {
            (Some((true, after)), false) => matches(after, &name[1..]),
            (None, false) => name[0] == b'[' && matches(rest, &name[1..]),
            _ => false,
        },
        Some((c, rest)) => name.first() == Some(c) && matches(rest, &name[1..]),
    }
}

/// A `[...]` class after its `[`: whether `c` is in it, and the pattern after `]`; None
/// when the class is not closed (then `[` is literal).
fn class(pattern: &[u8], c: Option<u8>) -> Option<(bool, &[u8])> {
    let (negate, mut i) = match pattern.first() {
        Some(b'!' | b'^') => (true, 1),
        _ => (false, 0),
    };
    let mut found = false;
    let mut first = true;
    while i < pattern.len() {
        let lo = pattern[i];
        if lo == b']' && !first {
            return Some((found != negate, &pattern[i + 1..]));
        }
        first = false;
        if pattern.get(i + 1) == Some(&b'-') && pattern.get(i + 2).is_some_and(|h| *h != b']') {
            let hi = pattern[i + 2];
            found |= c.is_some_and(|c| (lo..=hi).contains(&c));
            i += 3;
        } else {
            found |= c == Some(lo);
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_alternatives_nest() {
        assert_eq!(braces("a{b,c{d,e}}f"), ["abf", "acdf", "acef"]);
        assert_eq!(braces("x{y"), ["x{y"]);
    }

    #[test]
    fn wildcards_match_like_fnmatch() {
        let m = |p: &str, n: &str| matches(p.as_bytes(), n.as_bytes());
        assert!(m("*.conf", "a.conf") && !m("*.conf", "a.confx"));
        assert!(m("vs?.conf", "vs1.conf") && !m("vs?.conf", "vs10.conf"));
        assert!(m("[a-c]x", "bx") && !m("[!a-c]x", "bx") && m("[]]", "]"));
    }

    #[test]
    fn expands_against_the_file_system() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "a.conf", ".hidden.conf", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.conf")).unwrap();
        let base = dir.path().display();
        let names = |pattern: String| -> Vec<String> {
            expand(&pattern)
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(format!("{base}/*.conf")), ["a.conf", "b.conf"]);
        assert_eq!(names(format!("{base}/{{c.txt,a.conf}}")), ["c.txt", "a.conf"]);
        assert!(names(format!("{base}/*.none")).is_empty());
    }
}
