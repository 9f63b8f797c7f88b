//! Where a key is in a YAML text: the resolve steps work on the merged
//! config (no spans), so their errors name a key path (`proxy.ssl`,
//! `servers.web.hosts[1]`); this finds its line and column in the file that
//! set it, or the nearest enclosing key that is there (for a missing key),
//! so every config error names file:line:col.

use granit_parser::{Event, Parser};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// `a.b[2].c` as segments. Keys holding dots cannot be told apart from
/// nesting; a path that does not resolve falls back to its longest prefix.
fn segments(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name.to_string()));
        }
        // `[N]` groups; anything else between them is not an index.
        while let Some(open) = rest.find('[') {
            let Some(len) = rest[open..].find(']') else {
                break;
            };
            if let Ok(i) = rest[open + 1..open + len].parse() {
                out.push(Segment::Index(i));
            }
            rest = &rest[open + len + 1..];
        }
    }
    out
}

/// A container being walked.
enum Frame {
    /// A mapping; `key` is the pending key (waiting for its value).
    Map { key: Option<String> },
    /// A sequence; the index of the next item.
    Seq { next: usize },
}

/// How many segments of `path` matched, and the 1-based (line, column) of
/// the deepest part of `path` present in `text` (the key itself, or the
/// nearest enclosing key); `None` when not even its first key is there, or
/// the text is not YAML.
pub fn locate(text: &str, path: &str) -> Option<(usize, u64, u64)> {
    let want = segments(path);
    if want.is_empty() {
        return None;
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut at: Vec<Segment> = Vec::new();
    let mut best: Option<(usize, (u64, u64))> = None;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let pos = (span.start.line() as u64, span.start.col() as u64 + 1);
        // A node in value position gets the segment that leads to it.
        let value_position = |stack: &mut Vec<Frame>, at: &mut Vec<Segment>| -> bool {
            match stack.last_mut() {
                Some(Frame::Map { key }) => match key.take() {
                    Some(k) => {
                        at.push(Segment::Key(k));
                        true
                    }
                    None => false,
                },
                Some(Frame::Seq { next }) => {
                    at.push(Segment::Index(*next));
                    *next += 1;
                    true
                }
                None => false,
            }
        };
        match event {
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map { key }) = stack.last_mut()
                    && key.is_none()
                {
                    // A key: note how far it matches.
                    *key = Some(value.to_string());
                    let mut path = at.clone();
                    path.push(Segment::Key(value.to_string()));
                    let depth = path.len();
                    if want.starts_with(&path) && best.is_none_or(|(d, _)| depth > d) {
                        best = Some((depth, pos));
                    }
                    continue;
                }
                if value_position(&mut stack, &mut at) {
                    let depth = at.len();
                    if want.starts_with(&at) && best.is_none_or(|(d, _)| depth > d) {
                        best = Some((depth, pos));
                    }
                    at.pop();
                }
            }
            Event::Alias(_) => {
                if let Some(Frame::Map { key }) = stack.last_mut()
                    && key.is_none()
                {
                    *key = Some(String::new());
                    continue;
                }
                if value_position(&mut stack, &mut at) {
                    at.pop();
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if let Some(Frame::Map { key }) = stack.last_mut()
                    && key.is_none()
                {
                    // A complex key: walk it under a name nothing matches.
                    *key = Some(String::new());
                    at.push(Segment::Key("\0complex".into()));
                } else {
                    value_position(&mut stack, &mut at);
                }
                stack.push(if is_map {
                    Frame::Map { key: None }
                } else {
                    Frame::Seq { next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                if !stack.is_empty() {
                    at.pop();
                }
            }
            Event::DocumentEnd => break,
            _ => {}
        }
    }
    best.map(|(depth, (line, column))| (depth, line, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "service: s\nservers:\n  web:\n    hosts:\n      - a\n      - b\nproxy:\n  ssl: true\n  hosts: [x, y]\n";

    #[test]
    fn finds_keys_items_and_the_nearest_parent() {
        assert_eq!(locate(YAML, "service"), Some((1, 1, 1)));
        assert_eq!(locate(YAML, "proxy.ssl"), Some((2, 8, 3)));
        assert_eq!(locate(YAML, "servers.web.hosts[1]"), Some((4, 6, 9)));
        assert_eq!(locate(YAML, "proxy.hosts[1]"), Some((3, 9, 14)));
        // Missing: the nearest enclosing key.
        assert_eq!(locate(YAML, "servers.web.cmd"), Some((2, 3, 3)));
        assert_eq!(locate(YAML, "image"), None);
        assert_eq!(locate("a: [", "a"), None);
        // Key paths with brackets that are not indexes (a key can hold any text).
        assert_eq!(
            segments("a[x]é[2]]"),
            [Segment::Key("a".into()), Segment::Index(2)]
        );
        assert_eq!(segments("a]é[[1"), [Segment::Key("a]é".into())]);
    }
}
