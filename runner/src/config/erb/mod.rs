//! ERB over a config file, as Kamal renders it (`ERB.new(File.read(f)).result`).
//!
//! With `ruby` on PATH the file goes through Ruby's own ERB ([`ruby`]), so any
//! Ruby a Kamal config holds renders as Kamal renders it. Without Ruby, hoist
//! evaluates a subset itself ([`expr`]): literals, `ENV[...]`, `ENV.fetch`,
//! backticks, `||`, `&&`, `==`, ternaries, interpolation, `if`/`else`/`end`
//! code tags. `HOIST_ERB=ruby|subset` picks one. Either way, a tag inside a
//! YAML comment never fails the load (its output lands in the comment), and
//! the output keeps a map from its lines to the source's, so errors in the
//! rendered YAML name the line the user wrote.

mod eval;
mod expr;
mod ruby;
mod scan;

use std::path::Path;

pub use scan::yaml_comment_before;

/// An ERB tag hoist cannot render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ErbError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl From<scan::Unclosed> for ErbError {
    fn from(u: scan::Unclosed) -> ErbError {
        ErbError {
            line: u.line,
            column: u.column,
            message: "this `<%` tag is never closed with `%>`".into(),
        }
    }
}

/// Which ERB renders the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// `HOIST_ERB` if set, else Ruby when `ruby` is on PATH, else the subset.
    #[default]
    Auto,
    /// Ruby's ERB; an error when there is no `ruby`.
    Ruby,
    /// hoist's subset.
    Subset,
    /// hoist's subset with backticks refused (the fuzz targets).
    Sealed,
}

impl Engine {
    /// `Auto` made concrete.
    fn pick(self) -> Result<Engine, String> {
        if self != Engine::Auto {
            return Ok(self);
        }
        match std::env::var("HOIST_ERB").ok().as_deref() {
            Some("ruby") => Ok(Engine::Ruby),
            Some("subset") => Ok(Engine::Subset),
            Some("") | None => Ok(if ruby::available() {
                Engine::Ruby
            } else {
                Engine::Subset
            }),
            Some(other) => Err(format!(
                "HOIST_ERB is `{other}`; set it to `ruby` or `subset`, or unset it"
            )),
        }
    }
}

/// Rendered text, and where each of its lines came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The rendered text.
    pub text: String,
    /// `lines[i]`: the source line of rendered line `i + 1`.
    lines: Vec<u64>,
    /// Output tags that rendered empty: (rendered line, the tag as written).
    empties: Vec<(u64, String)>,
}

impl Rendered {
    /// Text that had no ERB.
    pub fn plain(text: &str) -> Rendered {
        let mut lines = vec![1u64];
        lines.extend((2..).take(text.matches('\n').count()));
        Rendered {
            text: text.to_string(),
            lines,
            empties: Vec::new(),
        }
    }

    /// The source line of rendered line `line` (1-based).
    pub fn source_line(&self, line: u64) -> u64 {
        let i = line.saturating_sub(1) as usize;
        self.lines
            .get(i)
            .or(self.lines.last())
            .copied()
            .unwrap_or(line)
    }

    /// The tags on rendered line `line` that rendered empty, as written.
    pub fn empty_tags_on(&self, line: u64) -> Vec<&str> {
        self.empties
            .iter()
            .filter(|(l, _)| *l == line)
            .map(|(_, t)| t.as_str())
            .collect()
    }
}

/// What a file's ERB sees.
pub struct Context<'a> {
    /// The file, for Ruby's backtraces.
    pub path: &'a Path,
    /// `-d`, set as `KAMAL_DESTINATION` (and `HOIST_DESTINATION`).
    pub destination: Option<&'a str>,
    /// Which ERB.
    pub engine: Engine,
}

/// Renders a config file's text.
pub fn render_file(source: &str, cx: &Context<'_>) -> Result<Rendered, ErbError> {
    if !source.contains("<%") {
        return Ok(Rendered::plain(source));
    }
    let engine = cx.engine.pick().map_err(|message| ErbError {
        line: 1,
        column: 1,
        message,
    })?;
    let env = |name: &str| -> Option<String> {
        if name == "KAMAL_DESTINATION" || name == "HOIST_DESTINATION" {
            return cx.destination.map(String::from);
        }
        std::env::var(name).ok()
    };
    match engine {
        Engine::Ruby => ruby::render(source, cx),
        Engine::Sealed => render_with(source, &env, &|cmd| {
            Err(format!("backticks are not run here (`{cmd}`)"))
        }),
        _ => render_with(source, &env, &run_shell),
    }
}

/// Renders `text` with hoist's subset, reading variables through `env` and
/// running backticks with `sh`.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Rendered, ErbError> {
    render_with(text, env, &run_shell)
}

/// A backtick command, as Ruby runs it: `sh -c`, standard output captured,
/// standard error passed through.
fn run_shell(cmd: &str) -> Result<String, String> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run `{cmd}`: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

const SUBSET_HINT: &str = "install Ruby (with `ruby` on PATH hoist renders the file with Ruby's ERB, as Kamal does), or use only the subset in the README";

/// One level of `if`/`unless`.
struct Branch {
    /// Output is on in the enclosing level.
    outer: bool,
    /// A branch of this `if` has been taken.
    taken: bool,
    /// Output is on now.
    on: bool,
}

/// [`render`] with the backtick runner given.
pub fn render_with(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    shell: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Rendered, ErbError> {
    let pieces = scan::scan(text)?;
    let mut scope = eval::Scope {
        env,
        shell,
        vars: Default::default(),
    };
    let mut out = String::with_capacity(text.len());
    let mut lines = vec![1u64];
    let mut empties = Vec::new();
    let mut branches: Vec<Branch> = Vec::new();
    let mut line = 1u64;
    for piece in &pieces {
        let on = branches.last().is_none_or(|b| b.on);
        let tag = match piece {
            scan::Piece::Text(t) => {
                for c in t.chars() {
                    if c == '\n' {
                        line += 1;
                    }
                    if on {
                        out.push(c);
                        if c == '\n' {
                            lines.push(line);
                        }
                    }
                }
                continue;
            }
            scan::Piece::Tag(tag) => tag,
        };
        line += tag.source.matches('\n').count() as u64;
        let fail = |e: expr::EvalError| {
            let (l, c) = position(tag, e.offset);
            let mut message = format!("in `{}`: {}", tag.source, e.message);
            if e.unsupported {
                message.push_str("; ");
                message.push_str(SUBSET_HINT);
            }
            ErbError {
                line: l,
                column: c,
                message,
            }
        };
        match tag.kind {
            scan::Kind::Comment => {}
            scan::Kind::Output if !on => {}
            scan::Kind::Output => {
                let value = expr::parse_expr(&tag.code).and_then(|e| scope.eval(&e));
                let value = match value {
                    Ok(v) => v.to_output(),
                    Err(_) if tag.in_comment => String::new(),
                    Err(e) => return Err(fail(e)),
                };
                if value.is_empty() {
                    empties.push((lines.len() as u64, tag.source.clone()));
                }
                for c in value.chars() {
                    out.push(c);
                    if c == '\n' {
                        lines.push(tag.line as u64);
                    }
                }
            }
            scan::Kind::Code => {
                let stmt = match expr::parse_stmt(&tag.code) {
                    Ok(s) => s,
                    Err(_) if tag.in_comment => continue,
                    Err(e) => return Err(fail(e)),
                };
                let mut test = |e: &expr::Expr, on: bool| -> Result<bool, ErbError> {
                    if !on {
                        return Ok(false);
                    }
                    match scope.eval(e) {
                        Ok(v) => Ok(v.truthy()),
                        Err(_) if tag.in_comment => Ok(false),
                        Err(e) => Err(fail(e)),
                    }
                };
                match stmt {
                    expr::Stmt::If(ref e) | expr::Stmt::Unless(ref e) => {
                        let unless = matches!(stmt, expr::Stmt::Unless(_));
                        let t = test(e, on)? != unless && on;
                        branches.push(Branch {
                            outer: on,
                            taken: t,
                            on: t,
                        });
                    }
                    expr::Stmt::Elsif(e) => {
                        let Some(b) = branches.last() else {
                            return Err(fail(stray(&tag.code)));
                        };
                        let (outer, taken) = (b.outer, b.taken);
                        let t = !taken && test(&e, outer)?;
                        let b = branches.last_mut().expect("checked above");
                        b.on = t;
                        b.taken |= t;
                    }
                    expr::Stmt::Else => {
                        let Some(b) = branches.last_mut() else {
                            return Err(fail(stray(&tag.code)));
                        };
                        b.on = b.outer && !b.taken;
                        b.taken = true;
                    }
                    expr::Stmt::End => {
                        if branches.pop().is_none() {
                            return Err(fail(stray(&tag.code)));
                        }
                    }
                    expr::Stmt::Guarded(ref inner, ref cond, unless)
                        if on && test(cond, on)? == unless =>
                    {
                        // Ruby declares the variable even when the assignment does not run.
                        if let expr::Stmt::Assign(name, _) = &**inner {
                            scope.vars.entry(name.clone()).or_insert(expr::Value::Nil);
                        }
                    }
                    expr::Stmt::Guarded(inner, ..) if on => match scope.run(*inner) {
                        Err(e) if !tag.in_comment => return Err(fail(e)),
                        _ => {}
                    },
                    expr::Stmt::Guarded(..) => {}
                    stmt @ (expr::Stmt::Assign(..) | expr::Stmt::Expr(_)) if on => {
                        match scope.run(stmt) {
                            Err(e) if !tag.in_comment => return Err(fail(e)),
                            _ => {}
                        }
                    }
                    expr::Stmt::Assign(..) | expr::Stmt::Expr(_) => {}
                }
            }
        }
    }
    if !branches.is_empty() {
        return Err(ErbError {
            line: line as usize,
            column: 1,
            message: "an `<% if %>` is never closed with `<% end %>`".into(),
        });
    }
    Ok(Rendered {
        text: out,
        lines,
        empties,
    })
}

fn stray(code: &str) -> expr::EvalError {
    expr::EvalError {
        offset: code.len() - code.trim_start().len(),
        message: format!("syntax error: `{}` without an `if`", code.trim()),
        unsupported: false,
    }
}

/// The source line and column of character `offset` in `tag`'s code.
fn position(tag: &scan::Tag, offset: usize) -> (usize, usize) {
    let (mut line, mut column) = (tag.line, tag.code_column);
    for c in tag.code.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
mod tests;
