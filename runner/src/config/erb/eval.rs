//! Evaluating the subset's expressions ([`super::expr`]) as Ruby would.

use std::collections::HashMap;

use super::expr::{EvalError, Expr, ExprKind, Part, Stmt, Value, raised, unsupported};

/// What evaluation reads and runs.
pub struct Scope<'a> {
    /// `ENV[name]`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Runs a backtick command, returning its standard output.
    pub shell: &'a dyn Fn(&str) -> Result<String, String>,
    /// Local variables set by `<% name = expr %>`.
    pub vars: HashMap<String, Value>,
}

impl Scope<'_> {
    /// Runs a simple statement (`name = expr` or `expr`), as a code tag or
    /// after an `if`/`unless` modifier.
    pub fn run(&mut self, stmt: Stmt) -> Result<(), EvalError> {
        match stmt {
            Stmt::Assign(name, e) => {
                let v = self.eval(&e)?;
                self.vars.insert(name, v);
                Ok(())
            }
            Stmt::Expr(e) => self.eval(&e).map(|_| ()),
            _ => Err(EvalError {
                offset: 0,
                message: "`if`/`unless` as a modifier only follows a simple statement".into(),
                unsupported: true,
            }),
        }
    }

    /// Evaluates `e`.
    pub fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        let at = e.offset;
        Ok(match &*e.kind {
            ExprKind::Lit(v) => v.clone(),
            ExprKind::Str(parts) => Value::Str(self.parts(parts)?),
            ExprKind::Shell(parts) => {
                let cmd = self.parts(parts)?;
                Value::Str((self.shell)(&cmd).map_err(|m| raised(at, m))?)
            }
            ExprKind::Name(n) if n == "ENV" => Value::Env,
            ExprKind::Name(n) => match self.vars.get(n) {
                Some(v) => v.clone(),
                None => return Err(unsupported(at, format!("`{n}`"))),
            },
            ExprKind::Index(recv, key) => {
                let recv = self.eval(recv)?;
                let key = self.eval(key)?;
                match (recv, key) {
                    (Value::Env, Value::Str(k)) => (self.env)(&k).map_or(Value::Nil, Value::Str),
                    (Value::Env, k) => {
                        return Err(raised(
                            at,
                            format!("no implicit conversion of {} into String", k.type_name()),
                        ));
                    }
                    (v, _) => return Err(unsupported(at, format!("`[]` on {}", v.type_name()))),
                }
            }
            ExprKind::Call(recv, name, args, block) => {
                let recv = self.eval(recv)?;
                self.call(at, recv, name, args, block.as_ref())?
            }
            ExprKind::Not(x) => Value::Bool(!self.eval(x)?.truthy()),
            ExprKind::Bin("||", a, b) => {
                let a = self.eval(a)?;
                if a.truthy() { a } else { self.eval(b)? }
            }
            ExprKind::Bin("&&", a, b) => {
                let a = self.eval(a)?;
                if a.truthy() { self.eval(b)? } else { a }
            }
            ExprKind::Bin(op, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                match *op {
                    "==" => Value::Bool(a == b),
                    "!=" => Value::Bool(a != b),
                    _ => add(at, a, b)?,
                }
            }
            ExprKind::Raise(message) => {
                let message = match message {
                    Some(m) => self.eval(m)?.to_output(),
                    None => "unhandled exception".into(),
                };
                return Err(raised(at, format!("raised RuntimeError: {message}")));
            }
            ExprKind::Ternary(c, a, b) => {
                if self.eval(c)?.truthy() {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
        })
    }

    fn parts(&mut self, parts: &[Part]) -> Result<String, EvalError> {
        let mut s = String::new();
        for p in parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Code(e) => s.push_str(&self.eval(e)?.to_output()),
            }
        }
        Ok(s)
    }

    fn call(
        &mut self,
        at: usize,
        recv: Value,
        name: &str,
        args: &[Expr],
        block: Option<&Expr>,
    ) -> Result<Value, EvalError> {
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        let arity = |n: usize| -> Result<(), EvalError> {
            if values.len() == n {
                Ok(())
            } else {
                Err(raised(
                    at,
                    format!(
                        "wrong number of arguments to `{name}` (given {}, expected {n})",
                        values.len()
                    ),
                ))
            }
        };
        if let Value::Env = recv {
            let key = match values.first() {
                Some(Value::Str(k)) => k.clone(),
                Some(v) => {
                    return Err(raised(
                        at,
                        format!("no implicit conversion of {} into String", v.type_name()),
                    ));
                }
                None => return Err(unsupported(at, format!("`ENV.{name}`"))),
            };
            return match name {
                "fetch" if values.len() == 1 => match ((self.env)(&key), block) {
                    (Some(v), _) => Ok(Value::Str(v)),
                    (None, Some(b)) => self.eval(b),
                    (None, None) => Err(raised(
                        at,
                        format!(
                            "environment variable {key} is not set (ENV.fetch(\"{key}\") has no default); set it, or give a default: ENV.fetch(\"{key}\", \"...\")"
                        ),
                    )),
                },
                "fetch" if values.len() == 2 => {
                    Ok((self.env)(&key).map_or_else(|| values[1].clone(), Value::Str))
                }
                "[]" => {
                    arity(1)?;
                    Ok((self.env)(&key).map_or(Value::Nil, Value::Str))
                }
                "key?" | "has_key?" | "include?" | "member?" => {
                    arity(1)?;
                    Ok(Value::Bool((self.env)(&key).is_some()))
                }
                _ => Err(unsupported(at, format!("`ENV.{name}`"))),
            };
        }
        let blank = match &recv {
            Value::Nil | Value::Bool(false) => true,
            Value::Str(s) => s.trim().is_empty(),
            _ => false,
        };
        match name {
            "to_s" => return arity(0).map(|_| Value::Str(recv.to_output())),
            "nil?" => return arity(0).map(|_| Value::Bool(recv == Value::Nil)),
            "blank?" => return arity(0).map(|_| Value::Bool(blank)),
            "present?" => return arity(0).map(|_| Value::Bool(!blank)),
            "presence" => return arity(0).map(|_| if blank { Value::Nil } else { recv.clone() }),
            _ => {}
        }
        let s = match &recv {
            Value::Str(s) => s.clone(),
            Value::Num(n) if name == "to_i" => return arity(0).map(|_| Value::Num(to_i(n))),
            v => {
                return Err(raised(
                    at,
                    format!("undefined method `{name}' for {}", v.type_name()),
                ));
            }
        };
        arity(0)?;
        Ok(match name {
            "strip" => Value::Str(
                s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0')
                    .to_string(),
            ),
            "chomp" => Value::Str(
                s.strip_suffix("\r\n")
                    .or_else(|| s.strip_suffix('\n'))
                    .or_else(|| s.strip_suffix('\r'))
                    .unwrap_or(&s)
                    .to_string(),
            ),
            "downcase" => Value::Str(s.to_lowercase()),
            "upcase" => Value::Str(s.to_uppercase()),
            "to_i" => Value::Num(to_i(&s)),
            "to_str" => Value::Str(s),
            "empty?" => Value::Bool(s.is_empty()),
            _ => return Err(unsupported(at, format!("the method `{name}`"))),
        })
    }
}

/// Ruby's `String#to_i`: the leading integer, else 0.
fn to_i(s: &str) -> String {
    let t = s.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let n: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    let n = n.trim_start_matches('0');
    if n.is_empty() {
        "0".into()
    } else {
        format!("{sign}{n}")
    }
}

fn add(at: usize, a: Value, b: Value) -> Result<Value, EvalError> {
    match (a, b) {
        (Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + &b)),
        (Value::Num(a), Value::Num(b)) => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) => a
                .checked_add(b)
                .map(|n| Value::Num(n.to_string()))
                .ok_or_else(|| unsupported(at, "a number this large")),
            _ => Err(unsupported(at, "arithmetic on fractions")),
        },
        (Value::Str(_), b) => Err(raised(
            at,
            format!("no implicit conversion of {} into String", b.type_name()),
        )),
        (a, _) => Err(raised(
            at,
            format!("undefined method `+' for {}", a.type_name()),
        )),
    }
}
