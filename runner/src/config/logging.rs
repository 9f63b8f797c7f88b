//! `logging` (Docker log driver) and `output` (where command output goes).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `logging` (root or role): Docker logging driver and options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// `driver`: Docker log driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// `options`: `--log-opt` values (Kamal default `max-size: 10m`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
}

/// `output`: where command output logs go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// `file`: one local log file per command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<OutputFile>,
    /// `otel`: ship logs to an OTLP/HTTP endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otel: Option<OutputOtel>,
}

/// `output.file`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    /// `path`: directory for the log files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `output.otel`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputOtel {
    /// `endpoint`: OTLP/HTTP base URL (logs go to `<endpoint>/v1/logs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}
