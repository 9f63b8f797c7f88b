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
        scrub.extend(
            values
                .into_iter()
                .filter(|v| v.len() >= 4)
                .map(String::from),
        );
        // Longest first, so a secret containing another is replaced whole.
        scrub.sort_by_key(|v| std::cmp::Reverse(v.len()));
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
        if let Some(m) = e.message.as_mut() {
            for secret in self.0.scrub.lock().unwrap().iter() {
                if m.contains(secret.as_str()) {
                    *m = m.replace(secret.as_str(), "[REDACTED]");
                }
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

fn secs(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn human(e: &Event, verbose: bool, quiet: bool) -> Option<String> {
    let msg = e.message.as_deref().unwrap_or("");
    let failed = e.ok == Some(false);
    if quiet && !(failed || e.level >= Level::Error || e.event == Kind::DeployEnd) {
        return None;
    }
    let target = match (&e.host, &e.role) {
        (Some(h), Some(r)) => format!("{h}/{r}"),
        (Some(h), None) => h.clone(),
        _ => String::new(),
    };
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
            format!("  · {} starting", e.plugin.as_deref().unwrap_or(""))
        }
        Kind::PluginEnd => {
            let p = e.plugin.as_deref().unwrap_or("");
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
            format!("    $ [{}] {msg}", e.host.as_deref().unwrap_or(""))
        }
        Kind::Log => {
            if e.level < Level::Info && !verbose {
                return None;
            }
            let who = e
                .plugin
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
