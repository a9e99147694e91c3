//! Diagnostics: errors and warnings with file, line and column, printed the
//! way rustc and cargo print them (`team.toml:12:9: error: …`).

use std::fmt;
use std::ops::Range;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The profile is unusable until this is fixed.
    Error,
    /// The profile works, but something deserves attention.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A place in the profile text: 1-based line and column (in characters),
/// and the byte offset it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Byte offset into the file.
    pub offset: usize,
}

impl Location {
    /// The line and column of byte `offset` in `bytes` (clamped to the end).
    ///
    /// Works on any bytes, UTF-8 or not: on invalid UTF-8 each byte that is
    /// not part of a valid character counts as one column.
    pub fn of(bytes: &[u8], offset: usize) -> Location {
        let offset = offset.min(bytes.len());
        let before = &bytes[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Location {
            line,
            column,
            offset,
        }
    }
}

/// A secondary place attached to a diagnostic (e.g. "first used here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where.
    pub location: Location,
    /// What to say there.
    pub message: String,
}

/// One error or warning about a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is.
    pub location: Location,
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong and what is expected.
    pub message: String,
    /// Other places that explain the problem.
    pub notes: Vec<Note>,
}

/// All diagnostics for one profile file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// The file name shown in front of each diagnostic.
    pub file: String,
    /// The diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The file's lines (lossily decoded), for the source excerpts of [`Report::render`].
    lines: Vec<String>,
}

impl Report {
    /// An empty report about `file` whose text is `bytes`.
    pub fn new(file: impl Into<String>, bytes: &[u8]) -> Report {
        // Keep excerpts bounded: a huge file only needs its first lines.
        let shown = &bytes[..bytes.len().min(crate::MAX_PROFILE_SIZE)];
        Report {
            file: file.into(),
            diagnostics: Vec::new(),
            lines: String::from_utf8_lossy(shown)
                .split('\n')
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect(),
        }
    }

    /// Adds a diagnostic at byte range `span` of `bytes`.
    pub(crate) fn push(
        &mut self,
        bytes: &[u8],
        severity: Severity,
        span: Range<usize>,
        message: String,
    ) {
        self.diagnostics.push(Diagnostic {
            severity,
            location: Location::of(bytes, span.start),
            span,
            message,
            notes: Vec::new(),
        });
    }

    /// Sorts the diagnostics by position (stable: same place keeps insertion order).
    pub(crate) fn sort(&mut self) {
        self.diagnostics.sort_by_key(|d| d.span.start);
    }

    /// `true` if at least one diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// The report with source excerpts, like rustc:
    ///
    /// ```text
    /// team.toml:12:9: error: port 0 is out of range (expected 1-65535)
    ///    |
    /// 12 | endpoints = ["verde.example.net:0"]
    ///    |                                 ^
    /// ```
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&format!(
                "{}:{}:{}: {}: {}\n",
                self.file, d.location.line, d.location.column, d.severity, d.message
            ));
            self.excerpt(&mut out, d.location, d.span.len());
            for n in &d.notes {
                out.push_str(&format!(
                    "{}:{}:{}: note: {}\n",
                    self.file, n.location.line, n.location.column, n.message
                ));
                self.excerpt(&mut out, n.location, 1);
            }
        }
        let (e, w) = (self.errors().count(), self.warnings().count());
        if e + w > 0 {
            out.push_str(&format!(
                "{}: {} error{}, {} warning{}\n",
                self.file,
                e,
                plural(e),
                w,
                plural(w)
            ));
        }
        out
    }

    fn excerpt(&self, out: &mut String, at: Location, len: usize) {
        let Some(text) = at.line.checked_sub(1).and_then(|i| self.lines.get(i)) else {
            return;
        };
        if text.chars().count() > 200 {
            return;
        }
        let gutter = " ".repeat(at.line.to_string().len());
        let width = text
            .chars()
            .count()
            .saturating_sub(at.column - 1)
            .clamp(1, len.max(1));
        out.push_str(&format!(
            "{gutter} |\n{} | {text}\n{gutter} | {}{}\n",
            at.line,
            " ".repeat(at.column - 1),
            "^".repeat(width)
        ));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line per diagnostic, `file:line:column: severity: message`, notes on
/// their own lines.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.file, d.location.line, d.location.column, d.severity, d.message
            )?;
            for n in &d.notes {
                write!(
                    f,
                    "\n{}:{}:{}: note: {}",
                    self.file, n.location.line, n.location.column, n.message
                )?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let t = "ab\nçd\n".as_bytes();
        assert_eq!(
            Location::of(t, 0),
            Location {
                line: 1,
                column: 1,
                offset: 0
            }
        );
        assert_eq!(
            Location::of(t, 3),
            Location {
                line: 2,
                column: 1,
                offset: 3
            }
        );
        // 'ç' is two bytes but one column.
        assert_eq!(Location::of(t, 5).column, 2);
        assert_eq!(Location::of(t, 1000).line, 3);
    }
}
