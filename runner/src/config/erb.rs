//! The part of ERB that deploy configs use: `<%= ENV["NAME"] %>`,
//! `<%= ENV.fetch("NAME") %>`, `<%= ENV.fetch("NAME", "default") %>` and
//! `<%# comments %>`. Anything else is an error that names the line, rather
//! than a silent difference from Kamal. The output keeps a map from its lines
//! to the source's, so errors in the rendered YAML name the line the user wrote
//! (a value with newlines, or a tag over several lines, shifts nothing).

/// An ERB tag hoist cannot render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ErbError {
    /// 1-based line of the tag.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Rendered text, and where each of its lines came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The rendered text.
    pub text: String,
    /// `lines[i]`: the source line of rendered line `i + 1`.
    lines: Vec<u64>,
}

impl Rendered {
    /// The source line of rendered line `line` (1-based).
    pub fn source_line(&self, line: u64) -> u64 {
        let i = line.saturating_sub(1) as usize;
        self.lines
            .get(i)
            .or(self.lines.last())
            .copied()
            .unwrap_or(line)
    }
}

/// Renders `text`, reading variables through `env`.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Rendered, ErbError> {
    let mut out = String::with_capacity(text.len());
    let mut lines = vec![1u64];
    let mut rest = text;
    let mut line = 1;
    // Copies `chunk` from source line `from` on, recording the lines.
    let copy = |out: &mut String, lines: &mut Vec<u64>, chunk: &str, from: usize| {
        let mut at = from as u64;
        for c in chunk.chars() {
            out.push(c);
            if c == '\n' {
                at += 1;
                lines.push(at);
            }
        }
    };
    while let Some(start) = rest.find("<%") {
        copy(&mut out, &mut lines, &rest[..start], line);
        line += rest[..start].matches('\n').count();
        let after = &rest[start + 2..];
        let end = after.find("%>").ok_or_else(|| ErbError {
            line,
            message: "unclosed `<%` tag".into(),
        })?;
        let tag = &after[..end];
        let body = tag.trim_end_matches('-');
        let newlines = tag.matches('\n').count();
        if let Some(comment) = body.strip_prefix('#') {
            let _ = comment;
        } else if let Some(expr) = body.strip_prefix('=') {
            let value = eval(expr.trim(), env).map_err(|message| ErbError { line, message })?;
            // Every line of the value comes from the tag's line.
            for c in value.chars() {
                out.push(c);
                if c == '\n' {
                    lines.push(line as u64);
                }
            }
        } else {
            return Err(ErbError {
                line,
                message: format!(
                    "ERB code tag `<%{tag}%>` is not supported; hoist renders only <%= ENV[\"NAME\"] %> and <%= ENV.fetch(\"NAME\"[, \"default\"]) %>"
                ),
            });
        }
        line += newlines;
        rest = &after[end + 2..];
    }
    copy(&mut out, &mut lines, rest, line);
    Ok(Rendered { text: out, lines })
}

fn string_literal(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &s[1..];
    let close = inner.find(quote)?;
    Some((&inner[..close], &inner[close + 1..]))
}

fn eval(expr: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let unsupported = || {
        format!(
            "ERB expression `{expr}` is not supported; hoist renders only ENV[\"NAME\"] and ENV.fetch(\"NAME\"[, \"default\"])"
        )
    };
    if let Some(rest) = expr.strip_prefix("ENV[") {
        let (name, tail) = string_literal(rest).ok_or_else(unsupported)?;
        if tail.trim() != "]" {
            return Err(unsupported());
        }
        return Ok(env(name).unwrap_or_default());
    }
    if let Some(rest) = expr.strip_prefix("ENV.fetch(") {
        let (name, tail) = string_literal(rest).ok_or_else(unsupported)?;
        let tail = tail.trim();
        if tail == ")" {
            return env(name).ok_or_else(|| {
                format!(
                    "environment variable {name} is not set (ENV.fetch(\"{name}\") has no default)"
                )
            });
        }
        let default = tail.strip_prefix(',').ok_or_else(unsupported)?;
        let (default, tail) = string_literal(default).ok_or_else(unsupported)?;
        if tail.trim() != ")" {
            return Err(unsupported());
        }
        return Ok(env(name).unwrap_or_else(|| default.to_string()));
    }
    Err(unsupported())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "web-1".to_string())
    }

    #[test]
    fn renders_env_forms() {
        let t = "a: <%= ENV[\"HOST\"] %>\nb: <%= ENV.fetch('HOST') %>\nc: <%= ENV.fetch(\"NOPE\", \"x\") %>\n<%# note %>d: <%= ENV['NOPE'] %>\n";
        assert_eq!(
            render(t, &env).unwrap().text,
            "a: web-1\nb: web-1\nc: x\nd: \n"
        );
    }

    #[test]
    fn lines_map_back_to_the_source() {
        let env = |_: &str| Some("one\ntwo\nthree".to_string());
        let r = render("a: 1\nb: \"<%= ENV.fetch(\n  'X') %>\"\nc: 3\n", &env).unwrap();
        assert_eq!(r.text, "a: 1\nb: \"one\ntwo\nthree\"\nc: 3\n");
        assert_eq!(r.source_line(1), 1);
        assert_eq!(r.source_line(4), 2);
        assert_eq!(r.source_line(5), 4, "c: is on the source's line 4");
    }

    #[test]
    fn names_the_line_of_unsupported_tags() {
        let e = render("a: 1\nb: <%= `hostname` %>\n", &env).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not supported"));
        let e = render("a: 1\n\n<% if true %>\n", &env).unwrap_err();
        assert_eq!(e.line, 3);
        let e = render("x: <%= ENV.fetch(\"NOPE\") %>", &env).unwrap_err();
        assert!(e.message.contains("NOPE is not set"));
    }
}
