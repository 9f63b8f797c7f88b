//! Everything a run reports goes through one [`Reporter`] as [`Event`]s:
//! printed for people, or one JSON object per line with `--json`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::stage::Stage;

/// Severity of a log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Only with `-v`.
    Trace,
    /// Only with `-v`.
    Debug,
    /// Normal output.
    Info,
    /// Something to look at.
    Warn,
    /// Something failed.
    Error,
}

/// Kinds of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The deploy starts (message: what is deployed where).
    DeployStart,
    /// A stage starts.
    StageStart,
    /// A stage ends (`ok`, `ms`).
    StageEnd,
    /// A plugin call starts.
    PluginStart,
    /// A plugin call ends (`ok`, `ms`).
    PluginEnd,
    /// A rollout step on one target ends (`ok`, `ms`).
    Step,
    /// A Docker operation (shown with `-v` and in dry runs).
    Op,
    /// A log line (from hoist or a plugin).
    Log,
    /// The deploy ends (`ok`, `ms`).
    DeployEnd,
}

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// What kind of event.
    pub event: Kind,
    /// The stage it belongs to.
    pub stage: Option<Stage>,
    /// The host, when it concerns one.
    pub host: Option<String>,
    /// The role, when it concerns one.
    pub role: Option<String>,
    /// The plugin, when one is involved.
    pub plugin: Option<String>,
    /// Success, for events that end something.
    pub ok: Option<bool>,
    /// Duration in milliseconds, for events that end something.
    pub ms: Option<u64>,
    /// Severity (log events).
    pub level: Level,
    /// Text for people.
    pub message: Option<String>,
    /// Milliseconds since the run started.
    pub t: u64,
}

impl Event {
    /// A new event of `kind` at `stage`.
    pub fn new(kind: Kind, stage: Option<Stage>) -> Event {
        Event {
            event: kind,
            stage,
            host: None,
            role: None,
            plugin: None,
            ok: None,
            ms: None,
            level: Level::Info,
            message: None,
            t: 0,
        }
    }
    /// Sets the host.
    pub fn host(mut self, h: impl Into<String>) -> Self {
        self.host = Some(h.into());
        self
    }
    /// Sets the role.
    pub fn role(mut self, r: impl Into<String>) -> Self {
        self.role = Some(r.into());
        self
    }
    /// Sets the plugin.
    pub fn plugin(mut self, p: impl Into<String>) -> Self {
        self.plugin = Some(p.into());
        self
    }
    /// Sets the outcome and duration.
    pub fn done(mut self, ok: bool, ms: u64) -> Self {
        self.ok = Some(ok);
        self.ms = Some(ms);
        self
    }
    /// Sets the level.
    pub fn level(mut self, l: Level) -> Self {
        self.level = l;
        self
    }
    /// Sets the message.
    pub fn message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }
}

/// How events are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lines for people; `verbose` adds debug lines and Docker operations,
    /// `quiet` keeps only errors and the final line.
    Human { verbose: bool, quiet: bool },
    /// One JSON object per line on stdout.
    Json,
}

struct Inner {
    mode: Mode,
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
    /// Errors in human mode go here (stderr); JSON goes to `out` only.
    err: Option<Mutex<Box<dyn Write + Send>>>,
    seen: Mutex<Vec<Event>>,
    record: bool,
    stage: Mutex<Option<Stage>>,
    /// Secret values replaced by `[REDACTED]` in every message.
    scrub: Mutex<Vec<String>>,
}

/// Where events go. Cheap to clone.
#[derive(Clone)]
pub struct Reporter(Arc<Inner>);

impl Reporter {
    /// Prints to stdout; in human mode errors go to stderr.
    pub fn stdout(mode: Mode) -> Reporter {
        let mut r = Reporter::new(mode, Box::new(std::io::stdout()), false);
        if let Some(inner) = Arc::get_mut(&mut r.0) {
            inner.err = Some(Mutex::new(Box::new(std::io::stderr())));
        }
        r
    }

    /// Writes to `out`; with `record`, keeps every event for [`Reporter::events`].
    pub fn new(mode: Mode, out: Box<dyn Write + Send>, record: bool) -> Reporter {
        Reporter(Arc::new(Inner {
            mode,
            start: Instant::now(),
            out: Mutex::new(out),
            err: None,
            seen: Mutex::new(Vec::new()),
            record,
            stage: Mutex::new(None),
            scrub: Mutex::new(Vec::new()),
        }))
    }

    /// A reporter that only records (tests).
    pub fn recording() -> Reporter {
        Reporter::new(Mode::Json, Box::new(std::io::sink()), true)
    }

    /// The events seen so far (when recording).
    pub fn events(&self) -> Vec<Event> {
        self.0.seen.lock().unwrap().clone()
    }

    /// Milliseconds since the run started.
    pub fn elapsed_ms(&self) -> u64 {
        self.0.start.elapsed().as_millis() as u64
    }

    /// Never show these values: any message containing one (a container's
    /// output, a plugin's log line) gets `[REDACTED]` instead. Values shorter
    /// than 4 characters are too common to scrub and are ignored.
    pub fn add_secrets<'a>(&self, values: impl IntoIterator<Item = &'a str>) {
        let mut scrub = self.0.scrub.lock().unwrap();
        for v in values {
            // A multi-line secret (a PEM key) is also scrubbed line by line,
            // so output that splits it into lines still hides each one.
            let lines = v.lines().map(str::trim).filter(|l| l.len() != v.len());
            for piece in std::iter::once(v).chain(lines) {
                if piece.len() >= 4 && !scrub.iter().any(|s| s == piece) {
                    scrub.push(piece.to_string());
                }
            }
        }
        // Longest first, so a secret containing another is replaced whole.
        scrub.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// `text` with every secret value replaced by `[REDACTED]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.0.scrub.lock().unwrap().iter() {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[REDACTED]");
            }
        }
        out
    }

    /// Sets the stage that log and op events without one belong to.
    pub fn set_stage(&self, stage: Option<Stage>) {
        *self.0.stage.lock().unwrap() = stage;
    }

    /// The stage running now.
    pub fn stage(&self) -> Option<Stage> {
        *self.0.stage.lock().unwrap()
    }

    /// Reports an event.
    pub fn emit(&self, mut e: Event) {
        e.t = self.elapsed_ms();
        if e.stage.is_none() && matches!(e.event, Kind::Log | Kind::Op | Kind::Step) {
            e.stage = *self.0.stage.lock().unwrap();
        }
        for field in [&mut e.message, &mut e.host, &mut e.role, &mut e.plugin] {
            if let Some(text) = field.as_mut() {
                *text = self.scrub(text);
            }
        }
        let line = match self.0.mode {
            Mode::Json => serde_json::to_string(&e).ok(),
            Mode::Human { verbose, quiet } => human(&e, verbose, quiet),
        };
        if let Some(line) = line {
            let to_err = e.level >= Level::Error && !matches!(self.0.mode, Mode::Json);
            let mut out = match (&self.0.err, to_err) {
                (Some(err), true) => err.lock().unwrap(),
                _ => self.0.out.lock().unwrap(),
            };
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        if self.0.record {
            self.0.seen.lock().unwrap().push(e);
        }
    }

    /// Logs a line from hoist itself.
    pub fn log(&self, level: Level, stage: Option<Stage>, message: impl Into<String>) {
        self.emit(Event::new(Kind::Log, stage).level(level).message(message));
    }
}

/// `text` with control characters written out (`\n`, `\r`, `\x1b`...), so
/// text from plugins and containers is one line on the terminal and cannot
/// move the cursor, change colours or forge a line of hoist's. Tabs stay.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\t')
            // Bidirectional overrides reorder what the terminal shows.
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(bad) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if bad(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn secs(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// What a human line shows of `text`: one line, control characters
/// escaped; where `lines` (a final or failure message, which may carry a
/// backtrace), each line escaped and continued indented, so nothing in it
/// starts a line of hoist's own.
fn shown(text: &str, lines: bool) -> String {
    if lines {
        text.split('\n')
            .map(|l| escape_controls(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n      ")
    } else {
        escape_controls(text).into_owned()
    }
}

fn human(e: &Event, verbose: bool, quiet: bool) -> Option<String> {
    let multi = !matches!(e.event, Kind::Log | Kind::Op | Kind::Step);
    let msg = shown(e.message.as_deref().unwrap_or(""), multi);
    let msg = msg.as_str();
    let failed = e.ok == Some(false);
    if quiet && !(failed || e.level >= Level::Error || e.event == Kind::DeployEnd) {
        return None;
    }
    let target = match (&e.host, &e.role) {
        (Some(h), Some(r)) => format!("{}/{}", shown(h, false), shown(r, false)),
        (Some(h), None) => shown(h, false),
        _ => String::new(),
    };
    let plugin = e.plugin.as_deref().map(|p| shown(p, false));
    let host = e
        .host
        .as_deref()
        .map(|h| shown(h, false))
        .unwrap_or_default();
    Some(match e.event {
        Kind::DeployStart | Kind::DeployEnd => msg.to_string(),
        Kind::StageStart => format!("▸ {}", e.stage.map(Stage::name).unwrap_or("")),
        Kind::StageEnd => {
            let took = secs(e.ms.unwrap_or(0));
            let stage = e.stage.map(Stage::name).unwrap_or("");
            if failed {
                // The reason is on the final line (and the plugin's line).
                format!("✗ {stage} failed after {took}")
            } else if msg.is_empty() {
                format!("  {stage} done in {took}")
            } else {
                format!("  {stage} done in {took}: {msg}")
            }
        }
        Kind::PluginStart => {
            if !verbose {
                return None;
            }
            format!("  · {} starting", plugin.as_deref().unwrap_or(""))
        }
        Kind::PluginEnd => {
            let p = plugin.as_deref().unwrap_or("");
            if failed {
                format!("  ✗ {p} failed after {}: {msg}", secs(e.ms.unwrap_or(0)))
            } else {
                format!("  ✓ {p} ({})", secs(e.ms.unwrap_or(0)))
            }
        }
        Kind::Step => {
            if failed {
                format!("  ✗ {target}: {msg}")
            } else {
                format!("  {target}: {msg}")
            }
        }
        Kind::Op => {
            if !verbose && e.level < Level::Info {
                return None;
            }
            format!("    $ [{host}] {msg}")
        }
        Kind::Log => {
            if e.level < Level::Info && !verbose {
                return None;
            }
            let who = plugin
                .as_deref()
                .map(|p| format!("[{p}] "))
                .unwrap_or_default();
            let tgt = if target.is_empty() {
                String::new()
            } else {
                format!("{target}: ")
            };
            let tag = match e.level {
                Level::Warn => "warning: ",
                Level::Error => "error: ",
                _ => "",
            };
            format!("    {who}{tgt}{tag}{msg}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_every_field() {
        let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
        struct W(Arc<Mutex<Vec<u8>>>);
        impl Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let r = Reporter::new(Mode::Json, Box::new(W(buf.clone())), false);
        r.emit(
            Event::new(Kind::PluginEnd, Some(Stage::PreDeploy))
                .plugin("preflight")
                .done(true, 12),
        );
        let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        for k in ["event", "stage", "host", "role", "plugin", "ok", "ms"] {
            assert!(v.get(k).is_some(), "missing {k} in {v}");
        }
        assert_eq!(v["event"], "plugin_end");
        assert_eq!(v["stage"], "pre-deploy");
        assert_eq!(v["ms"], 12);
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        let r = Reporter::recording();
        r.add_secrets(["hunter2", "abc", "hunter22"]);
        r.log(
            Level::Error,
            None,
            "env: PASS=hunter22 OTHER=hunter2 short=abc",
        );
        assert_eq!(
            r.events()[0].message.as_deref(),
            Some("env: PASS=[REDACTED] OTHER=[REDACTED] short=abc")
        );
    }

    #[test]
    fn human_lines() {
        let e = Event::new(Kind::StageEnd, Some(Stage::Build))
            .done(false, 1500)
            .message("boom");
        assert_eq!(
            human(&e, false, false).unwrap(),
            "✗ build failed after 1.5s"
        );
        let op = Event::new(Kind::Op, Some(Stage::Rollout))
            .host("local")
            .level(Level::Debug)
            .message("docker stop x");
        assert!(human(&op, false, false).is_none());
        assert!(human(&op, true, false).is_some());
        let info = Event::new(Kind::Log, None).message("hi");
        assert!(human(&info, false, true).is_none(), "quiet hides info");
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_a_line_or_move_the_cursor() {
        let forged = "ok\n\x1b[2K\rFinished deploying v9 \u{202e}txt";
        let e = Event::new(Kind::Log, Some(Stage::PreDeploy))
            .plugin("evil\x1b[31m")
            .message(forged);
        let line = human(&e, false, false).unwrap();
        assert!(!line.contains('\n') && !line.contains('\x1b') && !line.contains('\r'));
        assert!(!line.contains('\u{202e}'));
        assert_eq!(
            line,
            "    [evil\\x1b[31m] ok\\n\\x1b[2K\\rFinished deploying v9 \\u{202e}txt"
        );
        // A final message keeps its lines, each indented under it.
        let end = Event::new(Kind::DeployEnd, None).message("failed: x\nFinished deploying");
        assert_eq!(
            human(&end, false, false).unwrap(),
            "failed: x\n      Finished deploying"
        );
    }

    #[test]
    fn multi_line_secrets_are_scrubbed_line_by_line_in_every_field() {
        let r = Reporter::recording();
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----";
        r.add_secrets([pem, "s3cr3t-host"]);
        r.emit(
            Event::new(Kind::Log, None)
                .host("s3cr3t-host")
                .role("web")
                .message("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),
        );
        let e = &r.events()[0];
        assert_eq!(e.message.as_deref(), Some("line: [REDACTED]"));
        assert_eq!(e.host.as_deref(), Some("[REDACTED]"));
        assert_eq!(r.scrub(pem), "[REDACTED]");
    }
}
