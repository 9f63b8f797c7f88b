//! Splits an ERB template into text and tags the way Ruby's ERB scanner does
//! (no trim mode, as Kamal renders): `<%%` is a literal `<%`, and inside a tag
//! `%%>` is a literal `%>`. Each tag knows where it starts and whether it sits
//! in a YAML comment.

/// What a tag does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<%= expr %>`: its value is output.
    Output,
    /// `<%# ... %>`: nothing.
    Comment,
    /// `<% code %>`: runs, outputs nothing.
    Code,
}

/// One piece of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (with `<%%` already turned into `<%`).
    Text(String),
    /// A tag.
    Tag(Tag),
}

/// An ERB tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// What it does.
    pub kind: Kind,
    /// The Ruby code between the markers (`%%>` already turned into `%>`).
    pub code: String,
    /// The tag exactly as written, `<%` to `%>`.
    pub source: String,
    /// 1-based line of its `<%`.
    pub line: usize,
    /// 1-based column (in characters) of its `<%`.
    pub column: usize,
    /// 1-based column of the first character of `code`.
    pub code_column: usize,
    /// The tag starts after a YAML comment's `#` on its line.
    pub in_comment: bool,
}

/// A tag that never closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unclosed {
    /// 1-based line of the `<%`.
    pub line: usize,
    /// 1-based column of the `<%`.
    pub column: usize,
}

/// Splits `text` into pieces.
pub fn scan(text: &str) -> Result<Vec<Piece>, Unclosed> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    // The current source line as written so far, for the comment check.
    let mut this_line = String::new();
    let (mut line, mut column) = (1usize, 1usize);
    let mut rest = text;
    while let Some(start) = rest.find("<%") {
        advance(&rest[..start], &mut line, &mut column, &mut this_line);
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(after) = after.strip_prefix('%') {
            literal.push_str("<%");
            advance("<%%", &mut line, &mut column, &mut this_line);
            rest = after;
            continue;
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut literal)));
        }
        let (tag_line, tag_column) = (line, column);
        let in_comment = yaml_comment_before(&this_line);
        let (kind, body) = match after.chars().next() {
            Some('=') => (Kind::Output, &after[1..]),
            Some('#') => (Kind::Comment, &after[1..]),
            _ => (Kind::Code, after),
        };
        let mut code = String::new();
        let mut inner = body;
        let end = loop {
            let Some(i) = inner.find("%>") else {
                return Err(Unclosed {
                    line: tag_line,
                    column: tag_column,
                });
            };
            if inner[..i].ends_with('%') {
                code.push_str(&inner[..i - 1]);
                code.push_str("%>");
                inner = &inner[i + 2..];
                continue;
            }
            code.push_str(&inner[..i]);
            break body.len() - inner.len() + i;
        };
        let consumed = 2 + (after.len() - body.len()) + end + 2;
        let source = &rest[start..start + consumed];
        let code_column = tag_column + 2 + (after.len() - body.len());
        advance(source, &mut line, &mut column, &mut this_line);
        pieces.push(Piece::Tag(Tag {
            kind,
            code,
            source: source.to_string(),
            line: tag_line,
            column: tag_column,
            code_column,
            in_comment,
        }));
        rest = &rest[start + consumed..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// Moves the position over `s`.
fn advance(s: &str, line: &mut usize, column: &mut usize, this_line: &mut String) {
    for c in s.chars() {
        if c == '\n' {
            *line += 1;
            *column = 1;
            this_line.clear();
        } else {
            *column += 1;
            this_line.push(c);
        }
    }
}

/// Whether `prefix` (a line up to some point) has begun a YAML comment: a `#`
/// at the start or after a blank, outside a quoted scalar.
pub fn yaml_comment_before(prefix: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut chars = prefix.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some('\'') if c == '\'' => {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some('"') if c == '"' => quote = None,
            Some(_) => {}
            None if c == '#' && (prev == ' ' || prev == '\t') => return true,
            None if (c == '"' || c == '\'') && " \t:[{,-".contains(prev) => quote = Some(c),
            None => {}
        }
        prev = c;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(text: &str) -> Vec<Tag> {
        scan(text)
            .unwrap()
            .into_iter()
            .filter_map(|p| match p {
                Piece::Tag(t) => Some(t),
                Piece::Text(_) => None,
            })
            .collect()
    }

    #[test]
    fn tags_know_kind_place_and_comment() {
        let t = tags("a: <%= x %>\n  # b: <%= y %>\nc: \"#<%# z %>\" # <% w %>\n");
        assert_eq!(t.len(), 4);
        assert_eq!(
            (t[0].kind, t[0].line, t[0].column, t[0].code_column),
            (Kind::Output, 1, 4, 7)
        );
        assert!(!t[0].in_comment);
        assert_eq!((t[1].line, t[1].column), (2, 8));
        assert!(t[1].in_comment);
        assert_eq!(t[2].kind, Kind::Comment);
        assert!(!t[2].in_comment, "a # inside quotes is not a comment");
        assert_eq!(t[3].kind, Kind::Code);
        assert!(t[3].in_comment);
    }

    #[test]
    fn escapes_as_ruby() {
        let p = scan("a <%% b <%= \"%%>\" %> c").unwrap();
        assert_eq!(p[0], Piece::Text("a <% b ".into()));
        let Piece::Tag(t) = &p[1] else { panic!() };
        assert_eq!(t.code, " \"%>\" ");
        assert_eq!(t.source, "<%= \"%%>\" %>");
        assert_eq!(p[2], Piece::Text(" c".into()));
    }

    #[test]
    fn unclosed_names_its_place() {
        assert_eq!(
            scan("a: 1\n  b: <%= x").unwrap_err(),
            Unclosed { line: 2, column: 6 }
        );
    }

    #[test]
    fn hash_in_plain_scalar_is_not_a_comment() {
        assert!(!yaml_comment_before("url: http://x/#frag"));
        assert!(yaml_comment_before("# RUBY_VERSION: "));
        assert!(yaml_comment_before("key: it's # "));
    }
}
