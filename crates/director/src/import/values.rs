//! What every section's mapping shares: warnings and errors placed at their keyword,
//! and keepalived's values (numbers, seconds, addresses, scripts) read with errors.

use std::net::IpAddr;
use std::time::Duration;

use super::lexer::split_script;
use super::tree::Node;
use super::yaml::Map;
use super::{SourceError, Warning, WarningKind};

#[derive(Debug, Default)]
pub(crate) struct Ctx {
    pub warnings: Vec<Warning>,
    pub errors: Vec<SourceError>,
}

/// Blocks whose heads carry values read with [`Ctx::arg`].
const BLOCK_WITH_VALUES: [&str; 2] = ["virtual_server", "real_server"];

/// Keywords followed by exactly one value.
const SINGLE_VALUE: [&str; 36] = [
    "router_id",
    "interval",
    "timeout",
    "rise",
    "fall",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "version",
    "state",
    "preempt_delay",
    "auth_type",
    "auth_pass",
    "delay_loop",
    "connect_timeout",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "warmup",
    "virtualhost",
    "lb_algo",
    "lvs_sched",
    "protocol",
    "quorum",
    "hysteresis",
    "uthreshold",
    "lthreshold",
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_to",
    "path",
    "digest",
    "misc_timeout",
    "regex",
];

/// keepalived's largest timer (TIMER_MAX_SEC is a day and more; the YAML takes a year).
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

impl Ctx {
    /// Reports `keyword` of the statement `node` (in `block`) as not carried over, and
    /// writes the same line as a comment into `out`.
    pub(crate) fn skip_word(
        &mut self,
        out: &mut Map,
        node: &Node,
        keyword: &str,
        block: &str,
        reason: &str,
    ) {
        let warning = self.warning(node, keyword, block, WarningKind::NotCarried, reason);
        out.comment(&warning);
    }

    /// [`Ctx::skip_word`] for the statement's own keyword.
    pub(crate) fn skip(&mut self, out: &mut Map, node: &Node, block: &str, reason: &str) {
        self.skip_word(out, node, node.keyword(), block, reason);
    }

    /// The comment text of a skipped keyword, for a list rather than a table.
    pub(crate) fn skip_text(
        &mut self,
        node: &Node,
        keyword: &str,
        block: &str,
        reason: &str,
    ) -> String {
        self.warning(node, keyword, block, WarningKind::NotCarried, reason)
    }

    /// Carried over, but not exactly as keepalived does it.
    pub(crate) fn changed(&mut self, out: &mut Map, node: &Node, block: &str, reason: &str) {
        let warning = self.warning(node, node.keyword(), block, WarningKind::Changed, reason);
        out.comment(&warning);
    }

    fn warning(
        &mut self,
        node: &Node,
        keyword: &str,
        block: &str,
        kind: WarningKind,
        reason: &str,
    ) -> String {
        let warning = Warning {
            file: node.at.file.to_string(),
            line: node.at.line,
            keyword: keyword.to_string(),
            block: block.to_string(),
            kind,
            reason: reason.to_string(),
        };
        let text = warning.to_string();
        self.warnings.push(warning);
        text
    }

    /// An error at the statement's word `index` (its keyword when 0).
    pub(crate) fn error(&mut self, node: &Node, index: usize, message: String) {
        let column = node.words.get(index).or(node.words.last()).map(|w| w.column);
        self.errors.push(SourceError {
            file: node.at.file.to_string(),
            line: node.at.line,
            column,
            message,
        });
    }

    /// Argument `index` (1 is the first after the keyword), or an error that it is missing.
    pub(crate) fn arg<'a>(&mut self, node: &'a Node, index: usize) -> Option<&'a str> {
        // keepalived reads one statement per line piece: `weight 2 TCP_CHECK {` makes
        // the block weight's, and words after a single value are ignored. Neither is
        // passed over in silence here.
        if node.block.is_some() && !BLOCK_WITH_VALUES.contains(&node.keyword()) {
            let message =
                format!("'{}' takes no block (a keyword missing a line break?)", node.keyword());
            self.error(node, 0, message);
            return None;
        }
        if index == 1 && SINGLE_VALUE.contains(&node.keyword()) && node.words.len() > 2 {
            let message = format!(
                "'{}' takes one value, got {} (a keyword missing a line break?)",
                node.keyword(),
                node.words.len() - 1
            );
            self.error(node, 2, message);
            return None;
        }
        match node.words.get(index) {
            Some(word) => Some(&word.text),
            None => {
                let message = format!("'{}' is missing its value", node.keyword());
                self.error(node, node.words.len() - 1, message);
                None
            }
        }
    }

    /// An integer argument in `lo..=hi`.
    pub(crate) fn int(&mut self, node: &Node, index: usize, lo: i64, hi: i64) -> Option<i64> {
        let text = self.arg(node, index)?;
        match text.parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Some(n),
            Ok(n) => {
                let message = format!("'{}' must be {lo} to {hi}, got {n}", node.keyword());
                self.error(node, index, message);
                None
            }
            Err(_) => {
                let message = format!("'{}' needs a whole number, got {text:?}", node.keyword());
                self.error(node, index, message);
                None
            }
        }
    }

    /// keepalived's TIMER: seconds, fractions allowed.
    pub(crate) fn seconds(&mut self, node: &Node, index: usize) -> Option<Duration> {
        let text = self.arg(node, index)?;
        match text.parse::<f64>() {
            Ok(s) if (0.0..=MAX_SECONDS).contains(&s) => {
                // Microseconds, keepalived's resolution.
                Some(Duration::from_micros((s * 1e6).round() as u64))
            }
            _ => {
                let message =
                    format!("'{}' needs seconds (such as 3 or 0.5), got {text:?}", node.keyword());
                self.error(node, index, message);
                None
            }
        }
    }

    pub(crate) fn ip(&mut self, node: &Node, index: usize) -> Option<IpAddr> {
        let text = self.arg(node, index)?;
        match text.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let message = format!("'{}' needs an IP address, got {text:?}", node.keyword());
                self.error(node, index, message);
                None
            }
        }
    }

    /// A script statement (`notify_master "/x.sh MASTER" [user [group]]`) as argv, the
    /// way keepalived splits it. A program without a path is looked up in PATH by
    /// keepalived; here it runs through /usr/bin/env, which looks it up the same way.
    pub(crate) fn script(
        &mut self,
        out: &mut Map,
        node: &Node,
        block: &str,
    ) -> Option<Vec<String>> {
        let words = match split_script(&node.raw) {
            Ok(words) => words,
            Err(why) => {
                self.error(node, 1, format!("'{}': {why}", node.keyword()));
                return None;
            }
        };
        let Some(script) = words.get(1) else {
            self.arg(node, 1);
            return None;
        };
        let mut argv = match split_script(script) {
            Ok(argv) if !argv.is_empty() => argv,
            Ok(_) => {
                self.error(node, 1, format!("'{}' names no program", node.keyword()));
                return None;
            }
            Err(why) => {
                self.error(node, 1, format!("'{}': {why}", node.keyword()));
                return None;
            }
        };
        if words.len() > 2 {
            let reason = format!(
                "runs as user {:?} in keepalived; director runs it as directord's own user",
                words[2..].join(" ")
            );
            self.skip_word(out, node, "user", block, &reason);
        }
        if !argv[0].starts_with('/') {
            let reason = format!(
                "{:?} has no path: run as [/usr/bin/env, {}, ...] so that PATH finds it, as \
                 keepalived does",
                argv[0], argv[0]
            );
            self.changed(out, node, block, &reason);
            argv.insert(0, "/usr/bin/env".to_string());
        }
        Some(argv)
    }

    /// An optional on/off argument (keepalived's <BOOL>; no argument means on).
    pub(crate) fn flag(&mut self, node: &Node) -> Option<bool> {
        if node.block.is_some() || node.words.len() > 2 {
            let message = format!("'{}' takes at most one word and no block", node.keyword());
            self.error(node, 0, message);
            return None;
        }
        match node.words.get(1).map(|w| w.text.to_ascii_lowercase()) {
            None => Some(true),
            Some(text) => match text.as_str() {
                "on" | "true" | "yes" => Some(true),
                "off" | "false" | "no" => Some(false),
                _ => {
                    let message = format!(
                        "'{}' takes on|off|true|false|yes|no, got {text:?}",
                        node.keyword()
                    );
                    self.error(node, 1, message);
                    None
                }
            },
        }
    }
}
