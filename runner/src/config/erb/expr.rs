//! The Ruby that hoist's ERB subset evaluates without Ruby: string and number
//! literals (with `"#{...}"` interpolation), `true`/`false`/`nil`, `ENV[...]`,
//! `ENV.fetch(name[, default])` (and its block form), `ENV.key?`, backticks,
//! `||`, `&&`, `!`, `==`, `!=`, `+`, the ternary `c ? a : b`, parentheses,
//! local variables, and the string methods deploy configs use (`to_s`,
//! `strip`, `chomp`, `downcase`, `upcase`, `to_i`, `empty?`, `nil?`,
//! `present?`, `blank?`, `presence`). Code tags may hold `if`/`unless`/
//! `elsif`/`else`/`end` and `name = expr`. Values behave as in Ruby: only
//! `nil` and `false` are false, `ENV[...]` of an unset name is `nil`.

/// A Ruby value the subset knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Bool(bool),
    /// A number, as written (`12`, `1.5`) or computed.
    Num(String),
    Str(String),
    /// The `ENV` object.
    Env,
}

impl Value {
    /// Ruby's truth: all but `nil` and `false`.
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// What `<%= %>` outputs (`to_s`).
    pub fn to_output(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Num(n) | Value::Str(n) => n.clone(),
            Value::Env => "ENV".into(),
        }
    }

    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            Value::Num(_) => "a number",
            Value::Str(_) => "a String",
            Value::Env => "ENV",
        }
    }
}

/// Why an expression could not be evaluated, and where in the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// Character offset in the tag's code.
    pub offset: usize,
    pub message: String,
    /// Outside the subset (Ruby could render it), not a Ruby error.
    pub unsupported: bool,
}

pub(super) fn unsupported(offset: usize, what: impl std::fmt::Display) -> EvalError {
    EvalError {
        offset,
        message: format!("{what} is not in hoist's ERB subset"),
        unsupported: true,
    }
}

pub(super) fn raised(offset: usize, message: impl Into<String>) -> EvalError {
    EvalError {
        offset,
        message: message.into(),
        unsupported: false,
    }
}

/// A code tag's statement.
#[derive(Debug)]
pub enum Stmt {
    If(Expr),
    Unless(Expr),
    Elsif(Expr),
    Else,
    End,
    Assign(String, Expr),
    Expr(Expr),
    /// `stmt if cond` / `stmt unless cond` (the bool: `unless`).
    Guarded(Box<Stmt>, Expr, bool),
}

/// Parses an output tag's code.
pub fn parse_expr(code: &str) -> Result<Expr, EvalError> {
    let mut p = Parser::of(code)?;
    let e = p.expr()?;
    p.finish()?;
    Ok(e)
}

/// Parses a code tag's code.
pub fn parse_stmt(code: &str) -> Result<Stmt, EvalError> {
    let mut p = Parser::of(code)?;
    let stmt = match p.peek().cloned() {
        Some((Tok::Ident(w), _)) if matches!(w.as_str(), "if" | "unless" | "elsif") => {
            p.at += 1;
            let e = p.expr()?;
            if matches!(p.peek(), Some((Tok::Ident(t), _)) if t == "then") {
                p.at += 1;
            }
            match w.as_str() {
                "if" => Stmt::If(e),
                "unless" => Stmt::Unless(e),
                _ => Stmt::Elsif(e),
            }
        }
        Some((Tok::Ident(w), _)) if w == "else" => {
            p.at += 1;
            Stmt::Else
        }
        Some((Tok::Ident(w), _)) if w == "end" => {
            p.at += 1;
            Stmt::End
        }
        Some((Tok::Ident(name), _))
            if matches!(p.tokens.get(1), Some((Tok::P("="), _))) && is_local(&name) =>
        {
            p.at += 2;
            Stmt::Assign(name, p.expr()?)
        }
        _ => Stmt::Expr(p.expr()?),
    };
    let stmt = match p.peek() {
        Some((Tok::Ident(w), _)) if w == "if" || w == "unless" => {
            let unless = w == "unless";
            p.at += 1;
            Stmt::Guarded(Box::new(stmt), p.expr()?, unless)
        }
        _ => stmt,
    };
    p.finish()?;
    Ok(stmt)
}

fn is_local(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    Lit(String),
    Code(Box<Expr>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(super) kind: Box<ExprKind>,
    pub(super) offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum ExprKind {
    Lit(Value),
    Str(Vec<Part>),
    Shell(Vec<Part>),
    Name(String),
    Index(Expr, Expr),
    Call(Expr, String, Vec<Expr>, Option<Expr>),
    Not(Expr),
    Bin(&'static str, Expr, Expr),
    Ternary(Expr, Expr, Expr),
    /// `raise "message"`.
    Raise(Option<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str(Vec<Part>),
    Shell(Vec<Part>),
    Num(String),
    Ident(String),
    P(&'static str),
}

const PUNCT: [&str; 17] = [
    "||", "&&", "==", "!=", "!", "(", ")", "[", "]", ".", ",", "?", ":", "{", "}", "+", "=",
];

/// Splits `code` into tokens; `base` is the offset of `code` in the tag.
fn lex(code: &str, base: usize) -> Result<Vec<(Tok, usize)>, EvalError> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let at = base + i;
        if c.is_whitespace() || c == ';' && i + 1 == chars.len() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '_') {
                i += 1;
            }
            if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let n: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            out.push((Tok::Num(n), at));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let after_dot = matches!(out.last(), Some((Tok::P("."), _)));
            if after_dot && i < chars.len() && (chars[i] == '?' || chars[i] == '!') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let tok = match word.as_str() {
                "or" => Tok::P("||"),
                "and" => Tok::P("&&"),
                "not" => Tok::P("!"),
                _ => Tok::Ident(word),
            };
            out.push((tok, at));
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(raised(at, "unterminated string literal")),
                    Some('\'') => break,
                    Some('\\') if matches!(chars.get(i + 1), Some('\'') | Some('\\')) => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push((Tok::Str(vec![Part::Lit(s)]), at));
        } else if c == '"' || c == '`' {
            let (parts, next) = interpolated(&chars, i + 1, c, base)?;
            i = next;
            out.push((
                if c == '"' {
                    Tok::Str(parts)
                } else {
                    Tok::Shell(parts)
                },
                at,
            ));
        } else if let Some(p) = PUNCT
            .iter()
            .find(|p| chars[i..].starts_with(&p.chars().collect::<Vec<_>>()))
        {
            i += p.chars().count();
            out.push((Tok::P(p), at));
        } else {
            return Err(unsupported(at, format!("`{c}`")));
        }
    }
    Ok(out)
}

/// A `"`- or backtick-quoted string from `i` (after the quote): its parts and
/// the index after the closing quote.
fn interpolated(
    chars: &[char],
    mut i: usize,
    quote: char,
    base: usize,
) -> Result<(Vec<Part>, usize), EvalError> {
    let open = base + i - 1;
    let mut parts = Vec::new();
    let mut lit = String::new();
    loop {
        match chars.get(i) {
            None => return Err(raised(open, "unterminated string literal")),
            Some(&c) if c == quote => return finish_parts(parts, lit, i + 1),
            Some('\\') => {
                let e = chars
                    .get(i + 1)
                    .copied()
                    .ok_or_else(|| raised(open, "unterminated string literal"))?;
                lit.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    's' => ' ',
                    '0' => '\0',
                    'e' => '\u{1b}',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    '\n' => {
                        i += 2;
                        continue;
                    }
                    'u' | 'x' | 'c' | 'C' | 'M' => {
                        return Err(unsupported(base + i, format!("the escape `\\{e}`")));
                    }
                    other => other,
                });
                i += 2;
            }
            Some('#') if chars.get(i + 1) == Some(&'{') => {
                let start = i + 2;
                let end = closing_brace(chars, start)
                    .ok_or_else(|| raised(base + i, "unterminated `#{`"))?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                let code: String = chars[start..end].iter().collect();
                let tokens = lex(&code, base + start)?;
                let mut p = Parser {
                    tokens,
                    at: 0,
                    end: base + end,
                };
                if p.tokens.is_empty() {
                    parts.push(Part::Lit(String::new()));
                } else {
                    let e = p.expr()?;
                    p.finish()?;
                    parts.push(Part::Code(Box::new(e)));
                }
                i = end + 1;
            }
            Some(&c) => {
                lit.push(c);
                i += 1;
            }
        }
    }
}

fn finish_parts(
    mut parts: Vec<Part>,
    lit: String,
    next: usize,
) -> Result<(Vec<Part>, usize), EvalError> {
    if !lit.is_empty() || parts.is_empty() {
        parts.push(Part::Lit(lit));
    }
    Ok((parts, next))
}

/// The `}` closing an interpolation that starts at `i`, skipping nested braces
/// and quoted strings.
fn closing_brace(chars: &[char], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while let Some(&c) = chars.get(i) {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            '"' | '\'' | '`' => {
                i += 1;
                while let Some(&d) = chars.get(i) {
                    if d == '\\' {
                        i += 1;
                    } else if d == c {
                        break;
                    }
                    i += 1;
                }
                chars.get(i)?;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

struct Parser {
    tokens: Vec<(Tok, usize)>,
    at: usize,
    /// Offset just past the code, for "expected ... at the end".
    end: usize,
}

impl Parser {
    /// A parser over the whole of `code`.
    fn of(code: &str) -> Result<Parser, EvalError> {
        Ok(Parser {
            tokens: lex(code, 0)?,
            at: 0,
            end: code.chars().count(),
        })
    }

    fn peek(&self) -> Option<&(Tok, usize)> {
        self.tokens.get(self.at)
    }

    fn offset(&self) -> usize {
        self.peek().map_or(self.end, |t| t.1)
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some((Tok::P(q), _)) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), EvalError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(raised(
                self.offset(),
                format!("syntax error: expected `{p}`"),
            ))
        }
    }

    fn finish(&self) -> Result<(), EvalError> {
        match self.peek() {
            None => Ok(()),
            Some((t, at)) => Err(unsupported(
                *at,
                format!("`{}` after a complete expression", describe(t)),
            )),
        }
    }

    fn expr(&mut self) -> Result<Expr, EvalError> {
        let c = self.binary(0)?;
        if self.eat("?") {
            let a = self.expr()?;
            self.expect(":")?;
            let b = self.expr()?;
            let offset = c.offset;
            return Ok(Expr {
                kind: Box::new(ExprKind::Ternary(c, a, b)),
                offset,
            });
        }
        Ok(c)
    }

    /// Levels: `||`, `&&`, `==`/`!=`, `+`.
    fn binary(&mut self, level: usize) -> Result<Expr, EvalError> {
        const LEVELS: [&[&str]; 4] = [&["||"], &["&&"], &["==", "!="], &["+"]];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let op = match self.peek() {
                Some((Tok::P(p), _)) => LEVELS[level].iter().find(|q| *q == p).copied(),
                _ => None,
            };
            let Some(op) = op else { return Ok(left) };
            let offset = self.offset();
            self.at += 1;
            let right = self.binary(level + 1)?;
            left = Expr {
                kind: Box::new(ExprKind::Bin(op, left, right)),
                offset,
            };
        }
    }

    fn unary(&mut self) -> Result<Expr, EvalError> {
        let offset = self.offset();
        if self.eat("!") {
            let x = self.unary()?;
            return Ok(Expr {
                kind: Box::new(ExprKind::Not(x)),
                offset,
            });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, EvalError> {
        let mut e = self.primary()?;
        loop {
            let offset = self.offset();
            if self.eat("[") {
                let key = self.expr()?;
                self.expect("]")?;
                e = Expr {
                    kind: Box::new(ExprKind::Index(e, key)),
                    offset,
                };
            } else if self.eat(".") {
                let name = match self.peek() {
                    Some((Tok::Ident(n), _)) => n.clone(),
                    _ => {
                        return Err(raised(
                            self.offset(),
                            "syntax error: expected a method name after `.`",
                        ));
                    }
                };
                self.at += 1;
                let mut args = Vec::new();
                if self.eat("(") && !self.eat(")") {
                    loop {
                        args.push(self.expr()?);
                        if self.eat(")") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                let block = if self.eat("{") {
                    let b = self.expr()?;
                    self.expect("}")?;
                    Some(b)
                } else {
                    None
                };
                e = Expr {
                    kind: Box::new(ExprKind::Call(e, name, args, block)),
                    offset,
                };
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, EvalError> {
        let offset = self.offset();
        let Some((tok, _)) = self.peek().cloned() else {
            return Err(raised(offset, "syntax error: expected an expression"));
        };
        self.at += 1;
        let kind = match tok {
            Tok::Str(parts) => ExprKind::Str(parts),
            Tok::Shell(parts) => ExprKind::Shell(parts),
            Tok::Num(n) => ExprKind::Lit(Value::Num(n)),
            Tok::Ident(w) => match w.as_str() {
                "nil" => ExprKind::Lit(Value::Nil),
                "true" => ExprKind::Lit(Value::Bool(true)),
                "false" => ExprKind::Lit(Value::Bool(false)),
                "raise" => {
                    let ends = match self.peek() {
                        None => true,
                        Some((Tok::Ident(w), _)) => w == "if" || w == "unless",
                        Some(_) => false,
                    };
                    ExprKind::Raise(if ends { None } else { Some(self.expr()?) })
                }
                _ if matches!(self.peek(), Some((Tok::P("("), _))) => {
                    return Err(unsupported(offset, format!("calling `{w}`")));
                }
                _ => ExprKind::Name(w),
            },
            Tok::P("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                return Ok(e);
            }
            Tok::P(p) => return Err(raised(offset, format!("syntax error: unexpected `{p}`"))),
        };
        Ok(Expr {
            kind: Box::new(kind),
            offset,
        })
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Str(_) => "a string".into(),
        Tok::Shell(_) => "a command".into(),
        Tok::Num(n) => n.clone(),
        Tok::Ident(w) => w.clone(),
        Tok::P(p) => (*p).into(),
    }
}
