//! Deserializers the derive cannot express: durations as operators write them, entries
//! that are a name or a table, and name-keyed tables that keep their order.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Unexpected, Visitor};

use crate::duration;

/// `500ms`, `1s`, `2m`, or a bare number of seconds (YAML gives those as numbers).
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_any(DurationVisitor)
}

/// For `Option<Duration>` fields, which also need `#[serde(default)]`.
pub(crate) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 500ms, 1s or 2m, or bare seconds, at most a year")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        duration::bounded(Duration::from_secs(v))
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        u64::try_from(v)
            .ok()
            .and_then(|v| duration::bounded(Duration::from_secs(v)))
            .ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(v)
            .ok()
            .and_then(duration::bounded)
            .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        duration::parse(v).map_err(E::custom)
    }
}

/// A scalar kept as its text, whether YAML read it as a string or a number: a netmask
/// (`255.255.255.0` or a prefix length `64`), a status code (`200` or `301-302`).
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(TextVisitor).map(Some)
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// `status_code: 200`, `status_code: 301-302` or `status_code: [200, 301-302]`: the items
/// as text, parsed by the checks so that each bad item is placed at its own key path.
#[derive(Debug)]
pub(crate) struct TextList {
    pub items: Vec<String>,
    /// Written as a list: the items' paths are `key[N]`, otherwise the key itself.
    pub list: bool,
}

impl TextList {
    pub(crate) fn item_path(&self, path: &str, index: usize) -> String {
        if self.list {
            format!("{path}[{index}]")
        } else {
            path.to_string()
        }
    }
}

impl<'de> Deserialize<'de> for TextList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextListVisitor)
    }
}

struct TextListVisitor;

/// One item of a [`TextList`].
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor).map(Text)
    }
}

impl<'de> Visitor<'de> for TextListVisitor {
    type Value = TextList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a code, a range such as 301-302, or a list of them")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TextList, E> {
        Ok(TextList { items: vec![v.to_string()], list: false })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TextList, E> {
        Ok(TextList { items: vec![v.to_string()], list: false })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TextList, E> {
        Ok(TextList { items: vec![v.to_string()], list: false })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<TextList, A::Error> {
        let mut items = Vec::new();
        while let Some(Text(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(TextList { items, list: true })
    }
}

/// A table that may also be written as just its name (or address): `check_web` for
/// `{name: check_web}`, `192.0.2.1/24` for `{address: 192.0.2.1/24}`.
pub(crate) trait ShortForm: Sized {
    /// What the short form is, for errors: `a script name`.
    const SHORT: &'static str;
    fn from_short(text: String) -> Self;
}

/// Deserializes a [`ShortForm`] type from a string or from its table (whose derive
/// still rejects unknown keys).
#[derive(Debug)]
pub(crate) struct ShortOrTable<T> {
    pub value: T,
    /// Written as a string: errors about its main key name the entry itself, since
    /// `[0].name` is not in the text.
    pub short: bool,
}

impl<T> ShortOrTable<T> {
    /// The key path of the main key (`name`, `address`) of the entry at `path`.
    pub(crate) fn main_key_path(&self, path: &str, key: &str) -> String {
        if self.short {
            path.to_string()
        } else {
            format!("{path}.{key}")
        }
    }
}

impl<'de, T: ShortForm + Deserialize<'de>> Deserialize<'de> for ShortOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShortOrTableVisitor(PhantomData))
    }
}

struct ShortOrTableVisitor<T>(PhantomData<T>);

impl<'de, T: ShortForm + Deserialize<'de>> Visitor<'de> for ShortOrTableVisitor<T> {
    type Value = ShortOrTable<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} or a table", T::SHORT)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(ShortOrTable { value: T::from_short(v.to_string()), short: true })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = T::deserialize(MapAccessDeserializer::new(map))?;
        Ok(ShortOrTable { value, short: false })
    }
}

/// A table keyed by name (`scripts: {check_web: {...}}`), in file order and keeping a
/// name given twice, which a plain map would drop silently: the checks report it
/// (serde_yaml would place an error raised here at the table, not at the key).
#[derive(Debug)]
pub(crate) struct Named<T>(pub Vec<(String, T)>);

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(NamedVisitor(PhantomData))
    }
}

struct NamedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NamedVisitor<T> {
    type Value = Named<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of name: settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<T>, A::Error> {
        let mut entries = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            entries.push((name, map.next_value()?));
        }
        Ok(Named(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Timed {
        #[serde(deserialize_with = "duration")]
        every: Duration,
    }

    fn every(text: &str) -> Result<Duration, String> {
        serde_yaml::from_str::<Timed>(&format!("every: {text}"))
            .map(|t| t.every)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn durations_with_units_and_bare_seconds() {
        assert_eq!(every("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(every("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(every("3"), Ok(Duration::from_secs(3)));
        assert_eq!(every("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(every("\"4\""), Ok(Duration::from_secs(4)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(every("-1").unwrap_err().contains("a duration such as"));
        assert!(every("5 parsecs").unwrap_err().contains("bad duration \"5 parsecs\""));
        assert!(every("[1]").unwrap_err().contains("invalid type: sequence"));
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        weight: i64,
    }

    impl ShortForm for Item {
        const SHORT: &'static str = "a name";
        fn from_short(name: String) -> Self {
            Item { name, weight: 0 }
        }
    }

    fn items(text: &str) -> Result<Vec<Item>, String> {
        serde_yaml::from_str::<Vec<ShortOrTable<Item>>>(text)
            .map(|v| v.into_iter().map(|i| i.value).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn short_or_table() {
        let got = items("[a, {name: b, weight: -3}]").unwrap();
        assert_eq!(
            got,
            [Item { name: "a".into(), weight: 0 }, Item { name: "b".into(), weight: -3 }]
        );
        let err = items("[{name: b, wieght: 1}]").unwrap_err();
        assert!(err.contains("unknown field `wieght`"), "{err}");
        // serde_yaml's path through the table form still names the entry.
        assert!(err.starts_with(".[0]: "), "{err}");
        let err = items("[[x]]").unwrap_err();
        assert!(err.contains("expected a name or a table"), "{err}");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Codes {
        codes: TextList,
        #[serde(default, deserialize_with = "opt_text")]
        mask: Option<String>,
    }

    #[test]
    fn text_lists_take_one_item_or_a_list_of_numbers_and_strings() {
        let got: Codes = serde_yaml::from_str("codes: [200, 301-302]\nmask: 64").unwrap();
        assert_eq!((got.codes.items, got.codes.list), (vec!["200".into(), "301-302".into()], true));
        assert_eq!(got.mask.as_deref(), Some("64"));
        let got: Codes = serde_yaml::from_str("codes: 204\nmask: 255.255.0.0").unwrap();
        assert_eq!(got.codes.item_path("c", 0), "c");
        assert_eq!((got.codes.items, got.codes.list), (vec!["204".into()], false));
        assert_eq!(got.mask.as_deref(), Some("255.255.0.0"));
        let err = serde_yaml::from_str::<Codes>("codes: [[200]]").unwrap_err().to_string();
        assert!(err.contains("expected a number or a string"), "{err}");
    }

    #[test]
    fn named_keeps_order_and_duplicates() {
        let got: Named<u8> = serde_yaml::from_str("z: 1\na: 2\nz: 3\n").unwrap();
        let want = [("z", 1), ("a", 2), ("z", 3)].map(|(k, v)| (k.to_string(), v));
        assert_eq!(got.0, want);
    }
}
