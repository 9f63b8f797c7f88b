//! Rendering with Ruby's own ERB, as Kamal does.
//!
//! The text goes to `ruby` on standard input with a marker at the start of
//! each source line (inside literal text only, where ERB copies it verbatim),
//! so the output's lines map back to the source's whatever the tags print.
//! Output tags inside a YAML comment are wrapped so an exception in them
//! renders nothing instead of failing the load.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::scan::{self, Kind, Piece};
use super::{Context, ErbError, Rendered};

const START: char = '\u{2}';
const STOP: char = '\u{3}';
/// Before an output tag's value; after it comes `VALUE_END` index `STOP`.
const VALUE: char = '\u{4}';
const VALUE_END: char = '\u{5}';

/// Renders the template on stdin as Kamal does (`ERB.new(text).result`), with
/// ActiveSupport's `blank?`/`present?`/`presence` (Kamal loads ActiveSupport)
/// when the gem is not installed. On an exception: exit 3, the source line
/// on stderr's first line and the message after it.
const SCRIPT: &str = r##"
require "erb"
begin
  require "active_support/core_ext/object/blank"
rescue LoadError
  class Object
    def blank?; respond_to?(:empty?) ? !!empty? : !self; end
    def present?; !blank?; end
    def presence; self if present?; end
  end
  class String
    def blank?; strip.empty?; end
  end
end
path = ARGV[0]
src = STDIN.binmode.read.force_encoding(Encoding::UTF_8)
begin
  erb = ERB.new(src)
  erb.filename = path
  erb.lineno = 0 # ERB's source opens with a magic comment line
  STDOUT.binmode.write(erb.result)
rescue Exception => e
  where = ([e.message] + (e.backtrace || [])).map { |l| l.to_s[/\A#{Regexp.escape(path)}:(\d+)/, 1] }.compact.first
  STDERR.write("#{where || 0}\n#{e.class}: #{e.message.to_s.sub(/\A#{Regexp.escape(path)}:\d+: /, "")}")
  STDERR.flush
  exit! 3
end
"##;

/// Whether `ruby` is on PATH (looked up once).
pub fn available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| {
                let f = dir.join("ruby");
                std::fs::metadata(&f).is_ok_and(|m| m.is_file())
            })
        })
    })
}

/// Renders `source` with Ruby.
pub fn render(source: &str, cx: &Context<'_>) -> Result<Rendered, ErbError> {
    let d = cx.destination.unwrap_or_default();
    let vars: &[(&str, &str)] = if cx.destination.is_some() {
        &[("KAMAL_DESTINATION", d), ("HOIST_DESTINATION", d)]
    } else {
        &[]
    };
    render_env(source, cx, vars)
}

/// [`render`] with `vars` set in Ruby's environment.
pub fn render_env(
    source: &str,
    cx: &Context<'_>,
    vars: &[(&str, &str)],
) -> Result<Rendered, ErbError> {
    let at = |line: usize, message: String| ErbError {
        line: line.max(1),
        column: 1,
        message,
    };
    let pieces = scan::scan(source)?;
    let (marked, outputs) = marked(&pieces);
    let name = cx.path.display().to_string();
    let mut cmd = Command::new("ruby");
    cmd.arg("-e")
        .arg(SCRIPT)
        .arg(&name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Kamal sets `ENV["KAMAL_DESTINATION"] = destination` before it
    // renders, which clears one inherited from the shell when there is no
    // `-d`; the subset sees the same (only `-d` sets it).
    for name in ["KAMAL_DESTINATION", "HOIST_DESTINATION"] {
        cmd.env_remove(name);
    }
    cmd.envs(vars.iter().copied());
    let mut child = cmd.spawn().map_err(|e| {
        at(
            1,
            format!(
                "could not run `ruby` to render ERB: {e}; set HOIST_ERB=subset to use hoist's own"
            ),
        )
    })?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(marked.as_bytes());
    });
    let out = child
        .wait_with_output()
        .map_err(|e| at(1, format!("`ruby` failed: {e}")))?;
    let _ = writer.join();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(3)
            && let Some((line, message)) = err.split_once('\n')
        {
            let line = line.trim().parse().unwrap_or(1);
            let message = message.replace([START, STOP], "");
            return Err(at(line, format!("Ruby's ERB raised {message}")));
        }
        return Err(at(
            1,
            format!(
                "`ruby` exited with {} rendering ERB: {}",
                out.status,
                err.trim()
            ),
        ));
    }
    Ok(unmark(&String::from_utf8_lossy(&out.stdout), &outputs))
}

/// The source again, with line markers in literal text, output tags
/// bracketed (to tell which rendered empty) and comment tags made harmless;
/// and the bracketed tags as written.
fn marked(pieces: &[Piece]) -> (String, Vec<String>) {
    let mut s = String::new();
    let mut outputs = Vec::new();
    let mut line = 1u64;
    for piece in pieces {
        match piece {
            Piece::Text(t) => {
                for c in t.chars() {
                    s.push(c);
                    if c == '%' && s.ends_with("<%") {
                        s.push('%');
                    }
                    if c == '\n' {
                        line += 1;
                        s.push_str(&format!("{START}{line}{STOP}"));
                    }
                }
            }
            Piece::Tag(tag) => {
                line += tag.source.matches('\n').count() as u64;
                if tag.kind == Kind::Output && tag.in_comment {
                    let hex: String = tag.code.bytes().map(|b| format!("{b:02x}")).collect();
                    // Newlines kept, so Ruby's line numbers stay right.
                    let newlines = "\n".repeat(tag.code.matches('\n').count());
                    s.push_str(&format!(
                        "<%= (begin; eval(['{hex}'].pack('H*'), binding).to_s; rescue Exception; ''; end){newlines} %>"
                    ));
                } else if tag.kind == Kind::Output {
                    s.push(VALUE);
                    s.push_str(&tag.source);
                    s.push_str(&format!("{VALUE_END}{}{STOP}", outputs.len()));
                    outputs.push(tag.source.clone());
                } else {
                    s.push_str(&tag.source);
                }
            }
        }
    }
    (s, outputs)
}

/// The output without markers, and its line map.
fn unmark(out: &str, outputs: &[String]) -> Rendered {
    let mut text = String::with_capacity(out.len());
    let mut lines = vec![1u64];
    let mut empties = Vec::new();
    let mut value_start = None;
    let mut current = 1u64;
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == VALUE {
            value_start = Some(text.len());
            continue;
        }
        if c == VALUE_END {
            let mut n = String::new();
            for d in chars.by_ref() {
                if d == STOP {
                    break;
                }
                n.push(d);
            }
            if let (Some(start), Some(tag)) = (
                value_start.take(),
                n.parse::<usize>().ok().and_then(|i| outputs.get(i)),
            ) && start == text.len()
            {
                {
                    empties.push((lines.len() as u64, tag.clone()));
                }
            }
            continue;
        }
        if c == START {
            let mut n = String::new();
            while let Some(&d) = chars.peek() {
                chars.next();
                if d == STOP {
                    break;
                }
                n.push(d);
            }
            if let Ok(n) = n.parse() {
                current = n;
                // A marker right after a newline names that new line.
                if text.ends_with('\n') || text.is_empty() {
                    *lines.last_mut().expect("never empty") = current;
                }
            }
            continue;
        }
        text.push(c);
        if c == '\n' {
            lines.push(current);
        }
    }
    Rendered {
        text,
        lines,
        empties,
    }
}
