//! The dotenv format as Kamal reads secrets files: a port of the Ruby
//! `dotenv` gem's parser (3.x, `Dotenv::Parser`), since no Rust crate has
//! its command substitution or its order of substitutions. The gem scans
//! the whole text with one `LINE` pattern, so:
//!
//! - `KEY=value`, `export KEY=value`, `KEY: value`; a bare `KEY` sets `""`;
//!   `export KEY` alone needs `KEY` set earlier;
//! - comments: lines starting with `#`, and `#` after an unquoted value
//!   (which ends at the first `#`); nothing in a comment ever runs;
//! - `'single'` quotes: literal; `"double"` quotes and unquoted values:
//!   a backslash escapes the next character (`\n` stays a backslash and
//!   `n`, unless `DOTENV_LINEBREAK_MODE=legacy`), then `$VAR`/`${VAR}` expand
//!   (from keys earlier in the same file, then the process environment, else
//!   empty; `\$` is a literal `$`), then `$(command)`s run, so a command's
//!   output is never expanded again;
//! - quoted values may span lines.
//!
//! Lines that match nothing are ignored by the gem; here they are returned
//! so the caller can say so. Unlike the gem, a command that fails is an
//! error (an empty password must never deploy silently).

use std::sync::OnceLock;

use regex::Regex;

/// One `KEY=value` read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value, quotes removed and substitutions made.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// What a file held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Entries in file order (a later one for the same key wins).
    pub entries: Vec<Entry>,
    /// 1-based lines that are neither comments, blank, nor entries.
    pub ignored: Vec<usize>,
}

/// A line the format rejects, or a command that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct DotenvError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Where `$(command)`s run: the command text (variables expanded) to its
/// output, or why it failed.
pub type RunCommand<'a> = dyn FnMut(&str) -> Result<String, String> + 'a;
/// Where `$VAR` looks after the file's own earlier keys.
pub type LookupEnv<'a> = dyn Fn(&str) -> Option<String> + 'a;

fn line_pattern() -> &'static Regex {
    static LINE: OnceLock<Regex> = OnceLock::new();
    LINE.get_or_init(|| {
        // The gem's LINE, with Ruby's ASCII `\s`/`\w`.
        Regex::new(concat!(
            r#"(?m)(?:^|\A)[ \t\r\n\f\v]*(export[ \t\r\n\f\v]+)?([A-Za-z0-9_.]+)"#,
            r#"(?:(?:[ \t\r\n\f\v]*=[ \t\r\n\f\v]*?|:[ \t\r\n\f\v]+?)"#,
            r#"([ \t\r\n\f\v]*'(?:\\'|[^'])*'|[ \t\r\n\f\v]*"(?:\\"|[^"])*"|[^#\n]+)?)?"#,
            r#"[ \t\r\n\f\v]*(?:#.*)?(?:$|\z)"#
        ))
        .expect("the LINE pattern compiles")
    })
}

/// Parses `text`.
pub fn parse(
    text: &str,
    env: &LookupEnv<'_>,
    run: &mut RunCommand<'_>,
) -> Result<Parsed, DotenvError> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut parser = Parser {
        entries: Vec::new(),
        env,
    };
    let mut covered = vec![false; text.lines().count() + 1];
    for caps in line_pattern().captures_iter(text) {
        let whole = caps.get(0).expect("group 0");
        let key = caps.get(2).expect("the key group");
        let line = line_of(text, key.start());
        let (first, last) = (
            line_of(text, whole.start()),
            line_of(
                text,
                whole.start() + whole.as_str().trim_end_matches('\n').len(),
            ),
        );
        for l in first..=last.min(covered.len() - 1) {
            covered[l] = true;
        }
        let value = caps.get(3);
        if caps.get(1).is_some() && value.is_none() {
            if !parser.has(key.as_str()) {
                return Err(DotenvError {
                    line,
                    column: column_of(text, whole.start()),
                    message: format!(
                        "`{}` exports `{}`, which no earlier line sets",
                        whole.as_str().trim(),
                        key.as_str()
                    ),
                });
            }
            continue;
        }
        let raw = value.map(|m| m.as_str()).unwrap_or("");
        let value = parser.value(raw, run).map_err(|message| DotenvError {
            line,
            column: column_of(text, value.map_or(key.start(), |m| m.start())),
            message,
        })?;
        parser.entries.push(Entry {
            key: key.as_str().to_string(),
            value,
            line,
        });
    }
    let ignored = text
        .lines()
        .enumerate()
        .filter(|(i, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#') && !covered.get(i + 1).copied().unwrap_or(false)
        })
        .map(|(i, _)| i + 1)
        .collect();
    Ok(Parsed {
        entries: parser.entries,
        ignored,
    })
}

/// `byte`, moved back to the start of the character it is in.
fn boundary(text: &str, byte: usize) -> usize {
    let mut b = byte.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    b
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..boundary(text, byte)].matches('\n').count() + 1
}

fn column_of(text: &str, byte: usize) -> usize {
    let byte = boundary(text, byte);
    let start = text[..byte].rfind('\n').map_or(0, |i| i + 1);
    text[start..byte].chars().count() + 1
}

struct Parser<'a> {
    entries: Vec<Entry>,
    env: &'a LookupEnv<'a>,
}

impl Parser<'_> {
    fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|e| e.key == key)
    }

    fn lookup(&self, key: &str) -> String {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
            .or_else(|| (self.env)(key))
            .unwrap_or_default()
    }

    /// The gem's `parse_value`.
    fn value(&self, raw: &str, run: &mut RunCommand<'_>) -> Result<String, String> {
        let stripped = raw.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        let (inner, quote) = match stripped.as_bytes() {
            [q @ (b'\'' | b'"'), .., last] if stripped.len() >= 2 && last == q => {
                (&stripped[1..stripped.len() - 1], Some(*q))
            }
            _ => (stripped, None),
        };
        if quote == Some(b'\'') {
            return Ok(inner.to_string());
        }
        let mut value = inner.to_string();
        if quote == Some(b'"') {
            value = if self.lookup("DOTENV_LINEBREAK_MODE") == "legacy" {
                value.replace("\\n", "\n").replace("\\r", "\r")
            } else {
                value.replace("\\n", "\\\\n").replace("\\r", "\\\\r")
            };
        }
        let value = unescape(&value);
        let value = self.variables(&value);
        self.commands(&value, run)
    }

    /// `$(command)`s, balanced parentheses, `\$(...)` kept literally.
    fn commands(&self, value: &str, run: &mut RunCommand<'_>) -> Result<String, String> {
        let b = value.as_bytes();
        let mut out = String::with_capacity(value.len());
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            let (dollar, escaped) = dollar_at(b, i);
            if b[dollar] != b'$' || b.get(dollar + 1) != Some(&b'(') {
                i += 1;
                continue;
            }
            let Some(close) = balanced(b, dollar + 1) else {
                i += 1;
                continue;
            };
            out.push_str(&value[copied..i]);
            if escaped {
                out.push_str(&value[dollar..=close]);
            } else {
                let command = &value[dollar + 2..close];
                let mut output = run(command).map_err(|e| format!("`$({command})` {e}"))?;
                if output.ends_with("\r\n") {
                    output.truncate(output.len() - 2);
                } else if output.ends_with('\n') || output.ends_with('\r') {
                    output.pop();
                }
                out.push_str(&output);
            }
            i = close + 1;
            copied = i;
        }
        out.push_str(&value[copied..]);
        Ok(out)
    }

    /// The gem's `VARIABLE`: `(\\)?(\$)(?!\()\{?([A-Z0-9_]+)?\}?`, case-insensitive.
    fn variables(&self, value: &str) -> String {
        let b = value.as_bytes();
        let mut out = String::with_capacity(value.len());
        let mut i = 0;
        let mut copied = 0;
        while i < b.len() {
            let (dollar, escaped) = dollar_at(b, i);
            if b[dollar] != b'$' || b.get(dollar + 1) == Some(&b'(') {
                i += 1;
                continue;
            }
            let mut j = dollar + 1;
            if b.get(j) == Some(&b'{') {
                j += 1;
            }
            let name_start = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            let name = &value[name_start..j];
            if b.get(j) == Some(&b'}') {
                j += 1;
            }
            out.push_str(&value[copied..i]);
            if escaped {
                out.push_str(&value[dollar..j]);
            } else if !name.is_empty() {
                out.push_str(&self.lookup(name));
            } else {
                out.push_str(&value[i..j]);
            }
            i = j;
            copied = j;
        }
        out.push_str(&value[copied..]);
        out
    }
}

/// Where a `$` at `i` is, and whether a backslash before it escapes it
/// (`\$` at `i`): both substitutions' patterns start `(\\)?\$`.
fn dollar_at(b: &[u8], i: usize) -> (usize, bool) {
    let escaped = b[i] == b'\\' && b.get(i + 1) == Some(&b'$');
    (if escaped { i + 1 } else { i }, escaped)
}

/// The gem's `unescape_characters`: a backslash before anything but `$`
/// goes.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(&next)) if next != '$' => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// The index of the `)` closing the `(` at `open`, when there is one and
/// the group is not empty.
fn balanced(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, &c) in b.iter().enumerate().skip(open) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return (j > open + 1).then_some(j);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        let env = |k: &str| (k == "FROM_ENV").then(|| "env-value".to_string());
        let mut run = |c: &str| Ok(format!("<{c}>\n"));
        parse(text, &env, &mut run)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    fn get(text: &str, key: &str) -> String {
        values(text)
            .into_iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key} not set by {text:?}"))
    }

    #[test]
    fn the_gems_rules() {
        assert_eq!(get("A=1", "A"), "1");
        assert_eq!(get("export A=two words # trailing", "A"), "two words");
        assert_eq!(get("A=abc#def", "A"), "abc");
        assert_eq!(get("A: colon", "A"), "colon");
        assert_eq!(get("A.B=dot", "A.B"), "dot");
        assert_eq!(get("A", "A"), "");
        assert_eq!(get("A=", "A"), "");
        assert_eq!(get("A='sq \\n $X'", "A"), "sq \\n $X");
        assert_eq!(get("A=\"dq \\n x \\\"q\\\"\"", "A"), "dq \\n x \"q\"");
        assert_eq!(
            get("DOTENV_LINEBREAK_MODE=legacy\nA=\"1\\n2\"", "A"),
            "1\n2"
        );
        assert_eq!(get("A=\"a\\\\b\"", "A"), "a\\b");
        assert_eq!(get("A=\"line 1\nline 2\"", "A"), "line 1\nline 2");
        assert_eq!(
            get("A='multi\n# not a comment\nline'", "A"),
            "multi\n# not a comment\nline"
        );
        assert_eq!(get("A=1\r\nB=2\r\n", "B"), "2");
        assert_eq!(get("\u{feff}A=bom", "A"), "bom");
    }

    #[test]
    fn variables_see_earlier_lines_then_the_environment() {
        let t = "A=1\nB=${A}-$A-${NOPE}-$FROM_ENV\nC=\\$A\nD=$ alone\nE=${}\nA=2\nF=$A";
        assert_eq!(get(t, "B"), "1-1--env-value");
        assert_eq!(get(t, "C"), "$A");
        assert_eq!(get(t, "D"), "$ alone");
        assert_eq!(get(t, "E"), "${}");
        assert_eq!(get(t, "F"), "2");
        // A later line cannot be seen earlier.
        assert_eq!(get("A=$B\nB=1", "A"), "");
    }

    #[test]
    fn commands_run_after_their_variables_and_never_in_comments() {
        let t = "S=x y\n# C=$(never)\nA=$(extract A $S)\nB=\"$(outer (inner))\"\nC='$(literal)'\nD=\\$(escaped)\nE=$()\nF=$(unbalanced";
        assert_eq!(get(t, "A"), "<extract A x y>");
        // A command's output is not expanded again (variables go first).
        assert_eq!(get("A=1\nB=$(echo \\$A)-$A", "B"), "<echo $A>-1");
        assert_eq!(get(t, "B"), "<outer (inner)>");
        assert_eq!(get(t, "C"), "$(literal)");
        assert_eq!(get(t, "D"), "$(escaped)");
        assert_eq!(get(t, "E"), "$()");
        assert_eq!(get(t, "F"), "$(unbalanced");
        let mut ran = Vec::new();
        let env = |_: &str| None;
        parse(t, &env, &mut |c: &str| {
            ran.push(c.to_string());
            Ok(String::new())
        })
        .unwrap();
        assert_eq!(ran, ["extract A x y", "outer (inner)"]);
    }

    #[test]
    fn errors_and_ignored_lines_name_their_line() {
        let env = |_: &str| None;
        let mut ok = |_: &str| Ok(String::new());
        let e = parse("A=1\n\nexport B\n", &env, &mut ok).unwrap_err();
        assert_eq!((e.line, e.column), (3, 1), "{e}");
        assert!(e.to_string().contains("exports `B`"), "{e}");
        let p = parse(
            "A=1\nexport A\nnot valid here\n# fine\n\nB='x\ny'\n",
            &env,
            &mut ok,
        )
        .unwrap();
        assert_eq!(p.ignored, [3]);
        let mut fail = |_: &str| Err("failed (exit status: 3)".to_string());
        let e = parse("A=1\n  B=pre-$(op read x)", &env, &mut fail).unwrap_err();
        assert_eq!((e.line, e.column), (2, 5), "{e}");
        assert!(e.message.contains("`$(op read x)` failed"), "{e}");
    }
}
