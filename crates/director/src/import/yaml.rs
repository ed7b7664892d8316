//! The output document: tables, lists and scalars with comments where they belong,
//! written as block YAML (short lists of scalars in flow style).

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Already written as YAML (quoted where needed).
    Scalar(String),
    List(Vec<Item>),
    Map(Map),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Value(Value),
    Comment(String),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Map {
    items: Vec<Item2>,
}

#[derive(Debug, Clone, PartialEq)]
enum Item2 {
    Entry(String, Value),
    Comment(String),
}

impl Value {
    pub(crate) fn str(text: &str) -> Value {
        Value::Scalar(quote(text))
    }

    pub(crate) fn num(n: impl Into<i64>) -> Value {
        Value::Scalar(n.into().to_string())
    }

    pub(crate) fn bool(b: bool) -> Value {
        Value::Scalar(b.to_string())
    }

    pub(crate) fn strs<S: AsRef<str>>(items: &[S]) -> Value {
        Value::List(items.iter().map(|s| Item::Value(Value::str(s.as_ref()))).collect())
    }
}

impl Map {
    /// Sets `key` (replacing an earlier value, which keeps its place).
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        for item in &mut self.items {
            if let Item2::Entry(k, v) = item {
                if k == key {
                    *v = value;
                    return;
                }
            }
        }
        self.items.push(Item2::Entry(key.to_string(), value));
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        self.items.iter().find_map(|item| match item {
            Item2::Entry(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn comment(&mut self, text: &str) {
        self.items.push(Item2::Comment(text.to_string()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the table has entries (not only comments).
    pub(crate) fn has_entries(&self) -> bool {
        self.items.iter().any(|i| matches!(i, Item2::Entry(..)))
    }

    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        render_map(self, 0, &mut out);
        out
    }
}

fn render_map(map: &Map, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in &map.items {
        match item {
            Item2::Comment(text) => comment(text, &pad, out),
            Item2::Entry(key, value) => {
                let _ = write!(out, "{pad}{}:", quote(key));
                render_value(value, indent, out);
            }
        }
    }
}

/// A value after `key:` or `- ` (which are written already).
fn render_value(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Scalar(text) => {
            let _ = writeln!(out, " {text}");
        }
        // An empty table that holds comments: `{}` keeps it a table, the comments follow.
        Value::Map(map) if !map.has_entries() => {
            out.push_str(" {}\n");
            render_map(map, indent + 2, out);
        }
        Value::Map(map) => {
            out.push('\n');
            render_map(map, indent + 2, out);
        }
        Value::List(items) if items.iter().all(|i| matches!(i, Item::Comment(_))) => {
            out.push_str(" []\n");
            render_list(items, indent + 2, out);
        }
        Value::List(items) => match flow(items) {
            Some(text) => {
                let _ = writeln!(out, " {text}");
            }
            None => {
                out.push('\n');
                render_list(items, indent + 2, out);
            }
        },
    }
}

fn render_list(items: &[Item], indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Item::Comment(text) => comment(text, &pad, out),
            Item::Value(Value::Map(map)) if map.has_entries() => {
                let mut inner = String::new();
                render_map(map, indent + 2, &mut inner);
                // The first entry line takes the dash; comments before it stay above.
                let mut dashed = false;
                for line in inner.lines() {
                    if !dashed && !line.trim_start().starts_with('#') {
                        let _ = writeln!(out, "{pad}- {}", &line[indent + 2..]);
                        dashed = true;
                    } else {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
            Item::Value(value) => {
                let _ = write!(out, "{pad}-");
                render_value(value, indent, out);
            }
        }
    }
}

/// `[a, b]` for a short list of scalars without comments.
fn flow(items: &[Item]) -> Option<String> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Item::Value(Value::Scalar(text)) => parts.push(text.as_str()),
            _ => return None,
        }
    }
    let text = format!("[{}]", parts.join(", "));
    (text.len() <= 72).then_some(text)
}

fn comment(text: &str, pad: &str, out: &mut String) {
    for line in text.lines() {
        let _ = writeln!(out, "{pad}# {line}");
    }
}

/// Plain when YAML reads it back as the same string, double-quoted (JSON escapes, which
/// YAML shares) otherwise: numbers, booleans, `-0`, spaces, `#`, `: ` and the like.
pub(crate) fn quote(text: &str) -> String {
    let safe_chars = text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./@+:-".contains(&b));
    let first_ok =
        text.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b"_/".contains(&b));
    let digits = text.trim_start_matches(['+', '-']);
    let radix = ["0x", "0o", "0b"].iter().any(|p| digits.starts_with(p));
    // YAML 1.1 also reads 1_000 and 1:30 (sexagesimal) as numbers; 200-299 is kept
    // quoted for the reader's sake.
    let number_like = text.parse::<f64>().is_ok()
        || radix
        || text.bytes().all(|b| b.is_ascii_digit() || b"_:-".contains(&b))
        || (text.contains(':') && text.bytes().all(|b| b.is_ascii_digit() || b"_:.".contains(&b)));
    const RESERVED: [&str; 12] =
        ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf", "infinity"];
    let reserved = RESERVED.contains(&text.to_ascii_lowercase().as_str());
    if safe_chars && first_ok && !number_like && !reserved && !text.ends_with(':') {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("{text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_strings_strings() {
        for plain in
            ["eth0", "/usr/bin/killall", "192.0.2.1/24", "eth0:1", "VI_1", "5s", "192.0.2.1"]
        {
            assert_eq!(quote(plain), plain);
        }
        for quoted in
            ["-0", "1111", "yes", "a b", "#x", "", "0x1f", "1e3", "200-299", "a:", "1_000", "1:30"]
        {
            assert!(quote(quoted).starts_with('"'), "{quoted}");
            let back: String = serde_yaml::from_str(&quote(quoted)).unwrap();
            assert_eq!(back, quoted);
        }
    }

    #[test]
    fn renders_nested_tables_lists_and_comments() {
        let mut doc = Map::default();
        doc.comment("top");
        let mut vrrp = Map::default();
        let mut instance = Map::default();
        instance.comment("before");
        instance.set("name", Value::str("VI_1"));
        instance.set("virtual_addresses", Value::strs(&["192.0.2.1/24"]));
        instance.comment("after");
        let mut track = Map::default();
        track.set("scripts", Value::strs(&["chk"]));
        instance.set("track", Value::Map(track));
        vrrp.set(
            "instances",
            Value::List(vec![Item::Value(Value::Map(instance)), Item::Comment("gone".into())]),
        );
        doc.set("vrrp", Value::Map(vrrp));
        doc.set("empty", Value::Map(Map::default()));
        let text = doc.render();
        let want = "# top\nvrrp:\n  instances:\n      # before\n    - name: VI_1\n      \
                    virtual_addresses: [192.0.2.1/24]\n      # after\n      track:\n        \
                    scripts: [chk]\n    # gone\nempty: {}\n";
        assert_eq!(text, want);
        let parsed: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["vrrp"]["instances"][0]["track"]["scripts"][0], "chk");
    }
}
