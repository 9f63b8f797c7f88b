//! The part of ERB that deploy configs use: `<%= ENV["NAME"] %>`,
//! `<%= ENV.fetch("NAME") %>`, `<%= ENV.fetch("NAME", "default") %>` and
//! `<%# comments %>`. Anything else is an error that names the line, rather
//! than a silent difference from Kamal. Line numbers are preserved.

/// An ERB tag hoist cannot render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ErbError {
    /// 1-based line of the tag.
    pub line: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Renders `text`, reading variables through `env`.
pub fn render(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ErbError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut line = 1;
    while let Some(start) = rest.find("<%") {
        out.push_str(&rest[..start]);
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
            out.push_str(&eval(expr.trim(), env).map_err(|message| ErbError { line, message })?);
        } else {
            return Err(ErbError {
                line,
                message: format!(
                    "ERB code tag `<%{tag}%>` is not supported; hoist renders only <%= ENV[\"NAME\"] %> and <%= ENV.fetch(\"NAME\"[, \"default\"]) %>"
                ),
            });
        }
        // Keep line numbers stable for later error messages.
        for _ in 0..newlines {
            out.push('\n');
        }
        line += newlines;
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
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
        assert_eq!(render(t, &env).unwrap(), "a: web-1\nb: web-1\nc: x\nd: \n");
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
