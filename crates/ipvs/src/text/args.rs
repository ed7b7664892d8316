//! Splitting one line of an `ipvsadm -R` stream into options, the way ipvsadm 1.31 does:
//! `config_stream_read` cuts the line into blank-separated words (dropping every word that
//! is exactly `ipvsadm`), then popt reads them against ipvsadm's option table.

/// One word of a line, with its 1-based column (in characters) for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub text: &'a str,
    pub column: usize,
}

impl<'a> Token<'a> {
    /// The part of this word from byte `at` on, with its own column.
    fn tail(&self, at: usize) -> Token<'a> {
        Token { text: &self.text[at..], column: self.column + self.text[..at].chars().count() }
    }
}

/// config_stream: words are separated by space, tab and CR; no quoting, no escapes.
/// A word that is exactly `ipvsadm` is dropped wherever it stands, so lines may be written
/// as full `ipvsadm -A ...` commands.
pub(crate) fn tokenize(line: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    let mut column = 0;
    for (i, c) in line.char_indices() {
        column += 1;
        let blank = matches!(c, ' ' | '\t' | '\r');
        match (blank, start) {
            (true, Some((s, col))) => {
                out.push(Token { text: &line[s..i], column: col });
                start = None;
            }
            (false, None) => start = Some((i, column)),
            _ => {}
        }
    }
    if let Some((s, col)) = start {
        out.push(Token { text: &line[s..], column: col });
    }
    out.retain(|t| t.text != "ipvsadm");
    out
}

/// ipvsadm's commands (`CMD_*`), with the names its messages use (`cmdnames[]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
    Help,
    Version,
}

impl Cmd {
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add-service",
            Cmd::Edit => "edit-service",
            Cmd::Del => "delete-service",
            Cmd::Flush => "flush",
            Cmd::List => "list",
            Cmd::AddDest => "add-server",
            Cmd::DelDest => "delete-server",
            Cmd::EditDest => "edit-server",
            Cmd::Timeout => "set",
            Cmd::StartDaemon => "start-daemon",
            Cmd::StopDaemon => "stop-daemon",
            Cmd::Restore => "restore",
            Cmd::Save => "save",
            Cmd::Zero => "zero",
            Cmd::Help => "help",
            Cmd::Version => "version",
        }
    }
}

/// What an option does (popt's `val` in ipvsadm's `options_table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tag {
    Command(Cmd),
    Tcp,
    Udp,
    Sctp,
    Fwmark,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masq,
    Ipip,
    Gate,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    Ops,
    Pe,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNocsum,
    TunCsum,
    TunRemcsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgKind {
    None,
    Required,
    /// `POPT_ARGFLAG_OPTIONAL` (only `-p`): the next word is taken unless it starts with `-`.
    Optional,
}

struct Spec {
    long: &'static str,
    short: Option<char>,
    arg: ArgKind,
    tag: Tag,
}

const fn spec(long: &'static str, short: Option<char>, arg: ArgKind, tag: Tag) -> Spec {
    Spec { long, short, arg, tag }
}

use ArgKind::{None as N, Optional as O, Required as R};

/// ipvsadm 1.31 `parse_options` option table.
const SPECS: &[Spec] = &[
    spec("add-service", Some('A'), N, Tag::Command(Cmd::Add)),
    spec("edit-service", Some('E'), N, Tag::Command(Cmd::Edit)),
    spec("delete-service", Some('D'), N, Tag::Command(Cmd::Del)),
    spec("clear", Some('C'), N, Tag::Command(Cmd::Flush)),
    spec("list", Some('L'), N, Tag::Command(Cmd::List)),
    spec("list", Some('l'), N, Tag::Command(Cmd::List)),
    spec("zero", Some('Z'), N, Tag::Command(Cmd::Zero)),
    spec("add-server", Some('a'), N, Tag::Command(Cmd::AddDest)),
    spec("edit-server", Some('e'), N, Tag::Command(Cmd::EditDest)),
    spec("delete-server", Some('d'), N, Tag::Command(Cmd::DelDest)),
    spec("set", None, N, Tag::Command(Cmd::Timeout)),
    spec("help", Some('h'), N, Tag::Command(Cmd::Help)),
    spec("version", Some('v'), N, Tag::Command(Cmd::Version)),
    spec("restore", Some('R'), N, Tag::Command(Cmd::Restore)),
    spec("save", Some('S'), N, Tag::Command(Cmd::Save)),
    spec("start-daemon", None, R, Tag::Command(Cmd::StartDaemon)),
    spec("stop-daemon", None, R, Tag::Command(Cmd::StopDaemon)),
    spec("tcp-service", Some('t'), R, Tag::Tcp),
    spec("udp-service", Some('u'), R, Tag::Udp),
    spec("sctp-service", None, R, Tag::Sctp),
    spec("fwmark-service", Some('f'), R, Tag::Fwmark),
    spec("scheduler", Some('s'), R, Tag::Scheduler),
    spec("persistent", Some('p'), O, Tag::Persistent),
    spec("netmask", Some('M'), R, Tag::Netmask),
    spec("real-server", Some('r'), R, Tag::RealServer),
    spec("masquerading", Some('m'), N, Tag::Masq),
    spec("ipip", Some('i'), N, Tag::Ipip),
    spec("gatewaying", Some('g'), N, Tag::Gate),
    spec("weight", Some('w'), R, Tag::Weight),
    spec("u-threshold", Some('x'), R, Tag::UThreshold),
    spec("l-threshold", Some('y'), R, Tag::LThreshold),
    spec("numeric", Some('n'), N, Tag::Numeric),
    spec("connection", Some('c'), N, Tag::Connection),
    spec("mcast-interface", None, R, Tag::McastInterface),
    spec("syncid", None, R, Tag::SyncId),
    spec("timeout", None, N, Tag::Timeout),
    spec("daemon", None, N, Tag::Daemon),
    spec("stats", None, N, Tag::Stats),
    spec("rate", None, N, Tag::Rate),
    spec("thresholds", None, N, Tag::Thresholds),
    spec("persistent-conn", None, N, Tag::PersistentConn),
    spec("nosort", None, N, Tag::NoSort),
    spec("sort", None, N, Tag::Sort),
    spec("exact", Some('X'), N, Tag::Exact),
    spec("ipv6", Some('6'), N, Tag::Ipv6),
    spec("ops", Some('o'), N, Tag::Ops),
    spec("pe", None, R, Tag::Pe),
    spec("sched-flags", Some('b'), R, Tag::SchedFlags),
    spec("mcast-group", None, R, Tag::McastGroup),
    spec("mcast-port", None, R, Tag::McastPort),
    spec("mcast-ttl", None, R, Tag::McastTtl),
    spec("sync-maxlen", None, R, Tag::SyncMaxlen),
    spec("tun-info", None, N, Tag::TunInfo),
    spec("tun-type", None, R, Tag::TunType),
    spec("tun-port", None, R, Tag::TunPort),
    spec("tun-nocsum", None, N, Tag::TunNocsum),
    spec("tun-csum", None, N, Tag::TunCsum),
    spec("tun-remcsum", None, N, Tag::TunRemcsum),
];

/// How an option was written, kept without allocating (every line has several).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelled<'a> {
    /// `-c`, alone or inside a cluster such as `-At`.
    Short(char),
    /// `--name`, as written (without any `=value`).
    Long(&'a str),
}

impl std::fmt::Display for Spelled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Spelled::Short(c) => write!(f, "-{c}"),
            Spelled::Long(s) => f.write_str(s),
        }
    }
}

/// One option as written on the line.
#[derive(Debug, Clone)]
pub(crate) struct Opt<'a> {
    pub tag: Tag,
    /// The option as the user spelled it (`-t`, `--tcp-service`), for messages.
    pub spelled: Spelled<'a>,
    pub column: usize,
    pub value: Option<Token<'a>>,
}

/// A line read by popt: the options in order, the words that were not options, and the
/// error that stopped reading, if any (options before it still count, as in popt).
#[derive(Debug, Default)]
pub(crate) struct Scanned<'a> {
    pub opts: Vec<Opt<'a>>,
    pub args: Vec<Token<'a>>,
    pub error: Option<(usize, String)>,
}

/// Reads the words of one line as popt reads ipvsadm's argv.
pub(crate) fn scan<'a>(words: &[Token<'a>]) -> Scanned<'a> {
    let mut out = Scanned::default();
    let mut i = 0;
    let mut only_args = false;
    while i < words.len() {
        let word = words[i];
        i += 1;
        let t = word.text;
        if only_args || t == "-" || !t.starts_with('-') {
            out.args.push(word);
            continue;
        }
        if t == "--" {
            only_args = true;
            continue;
        }
        let result = if let Some(body) = t.strip_prefix("--") {
            scan_long(word, body, words, &mut i, &mut out.opts)
        } else {
            scan_short(word, words, &mut i, &mut out.opts)
        };
        if let Err(e) = result {
            out.error = Some(e);
            break;
        }
    }
    out
}

/// Takes the argument of an option that needs one and has none attached.
fn next_value<'a>(
    arg: ArgKind,
    words: &[Token<'a>],
    i: &mut usize,
) -> Result<Option<Token<'a>>, ()> {
    match (arg, words.get(*i)) {
        (ArgKind::None, _) => Ok(None),
        (ArgKind::Required, Some(w)) => {
            *i += 1;
            Ok(Some(*w))
        }
        (ArgKind::Required, None) => Err(()),
        (ArgKind::Optional, Some(w)) if !w.text.starts_with('-') => {
            *i += 1;
            Ok(Some(*w))
        }
        (ArgKind::Optional, _) => Ok(None),
    }
}

fn scan_long<'a>(
    word: Token<'a>,
    body: &'a str,
    words: &[Token<'a>],
    i: &mut usize,
    opts: &mut Vec<Opt<'a>>,
) -> Result<(), (usize, String)> {
    let (name, inline) = match body.find('=') {
        Some(eq) => (&body[..eq], Some(word.tail(2 + eq + 1))),
        None => (body, None),
    };
    let spelled = Spelled::Long(&word.text[..2 + name.len()]);
    let Some(spec) = SPECS.iter().find(|s| s.long == name) else {
        return Err((word.column, format!("unknown option {spelled}")));
    };
    let value = match (spec.arg, inline) {
        (ArgKind::None, Some(_)) => {
            return Err((word.column, format!("option {spelled} does not take an argument")))
        }
        (_, Some(v)) => Some(v),
        (arg, None) => next_value(arg, words, i)
            .map_err(|()| (word.column, format!("option {spelled} requires an argument")))?,
    };
    opts.push(Opt { tag: spec.tag, spelled, column: word.column, value });
    Ok(())
}

/// A cluster of short options (`-Ln`); an option that takes an argument takes the rest of
/// the cluster (`-w3`) or else the next word.
fn scan_short<'a>(
    word: Token<'a>,
    words: &[Token<'a>],
    i: &mut usize,
    opts: &mut Vec<Opt<'a>>,
) -> Result<(), (usize, String)> {
    let t = word.text;
    for (at, c) in t.char_indices().skip(1) {
        // The first option of a word is placed at its dash, later ones at their letter.
        let here = if at == 1 { word } else { word.tail(at) };
        let spelled_end = at + c.len_utf8();
        let Some(spec) = SPECS.iter().find(|s| s.short == Some(c)) else {
            return Err((here.column, format!("unknown option -{c}")));
        };
        // Named by its short form in messages, even inside a cluster.
        let spelled = Spelled::Short(c);
        if spec.arg == ArgKind::None {
            opts.push(Opt { tag: spec.tag, spelled, column: here.column, value: None });
            continue;
        }
        let value = if spelled_end < t.len() {
            Some(word.tail(spelled_end))
        } else {
            next_value(spec.arg, words, i)
                .map_err(|()| (here.column, format!("option -{c} requires an argument")))?
        };
        opts.push(Opt { tag: spec.tag, spelled, column: here.column, value });
        return Ok(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(ts: &[Token<'a>]) -> Vec<&'a str> {
        ts.iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokenize_splits_on_blanks_and_drops_ipvsadm() {
        let t = tokenize("ipvsadm  -A\t-t 10.0.0.1:80 \r");
        assert_eq!(texts(&t), ["-A", "-t", "10.0.0.1:80"]);
        assert_eq!(t[0].column, 10);
        assert_eq!(t[2].column, 16);
        assert!(tokenize("   ").is_empty());
    }

    #[test]
    fn scan_reads_long_short_clustered_and_attached_forms() {
        let words = tokenize("-At 1.2.3.4:80 --scheduler=rr -p -w3 --pe sip x");
        let s = scan(&words);
        assert!(s.error.is_none());
        let tags: Vec<Tag> = s.opts.iter().map(|o| o.tag).collect();
        assert_eq!(
            tags,
            [
                Tag::Command(Cmd::Add),
                Tag::Tcp,
                Tag::Scheduler,
                Tag::Persistent,
                Tag::Weight,
                Tag::Pe
            ]
        );
        let values: Vec<Option<&str>> = s.opts.iter().map(|o| o.value.map(|v| v.text)).collect();
        assert_eq!(values, [None, Some("1.2.3.4:80"), Some("rr"), None, Some("3"), Some("sip")]);
        assert_eq!(s.opts[1].spelled.to_string(), "-t");
        assert_eq!(s.opts[2].value.map(|v| v.column), Some(28));
        assert_eq!(texts(&s.args), ["x"]);
    }

    #[test]
    fn optional_argument_is_taken_unless_it_looks_like_an_option() {
        let s = scan(&tokenize("-A -p 600 -t 1.2.3.4:80"));
        assert_eq!(s.opts[1].value.map(|v| v.text), Some("600"));
        let s = scan(&tokenize("-A -p -t 1.2.3.4:80"));
        assert_eq!(s.opts[1].value, None);
        assert_eq!(s.opts[2].tag, Tag::Tcp);
    }

    #[test]
    fn scan_errors_name_the_option() {
        let s = scan(&tokenize("-A --foo"));
        assert_eq!(s.error, Some((4, "unknown option --foo".to_string())));
        assert_eq!(s.opts.len(), 1);
        let s = scan(&tokenize("-A -t"));
        assert_eq!(s.error, Some((4, "option -t requires an argument".to_string())));
        let s = scan(&tokenize("-a --ipip=1"));
        assert_eq!(s.error, Some((4, "option --ipip does not take an argument".to_string())));
        let s = scan(&tokenize("-Aq"));
        assert_eq!(s.error, Some((3, "unknown option -q".to_string())));
    }
}
