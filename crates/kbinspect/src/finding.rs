//! Findings: verdicts are data, not errors.

use serde::Serialize;

mod code;

pub use code::{Code, UnknownCode};

/// How bad a finding is. The process exit code comes from the worst one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One observation about a package: `code` is a stable identifier
/// (serialized kebab-case, documented in `docs/`), `subject` names the
/// member/file/component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    pub subject: String,
    pub detail: String,
}

/// `severity [code] subject: detail`, the line every table output prints.
impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] {}: {}",
            self.severity, self.code, self.subject, self.detail
        )
    }
}

impl Finding {
    pub fn new(
        severity: Severity,
        code: Code,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Finding {
            severity,
            code,
            subject: subject.into(),
            detail: detail.into(),
        }
    }
    pub fn error(code: Code, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, subject, detail)
    }
    pub fn warning(code: Code, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, subject, detail)
    }
    pub fn info(code: Code, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, subject, detail)
    }
}

/// Exit code for a set of findings: 1 when any is an error, else 0.
pub fn exit_code(findings: &[Finding]) -> i32 {
    if findings.iter().any(|f| f.severity == Severity::Error) {
        1
    } else {
        0
    }
}
