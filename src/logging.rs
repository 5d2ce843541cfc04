//! Log output: human text at a terminal, `<N>`-prefixed lines without timestamps under systemd
//! (journald adds its own time and maps the prefix to a priority), or one JSON object per line
//! for log shippers. Chosen with `--log-format` / `log_format`; `auto` picks journald when the
//! journal is attached (`JOURNAL_STREAM`), text otherwise. Verbosity: `SCIMD_LOG`.
//!
//! Every field value is written through [`escape`] in the text and journald formats (JSON
//! escapes by itself): a newline or an ANSI escape in a username can neither forge a log line nor
//! repaint the terminal. Unauthenticated input is also capped ([`field`]) before it is logged or
//! recorded, so a 200,000-character username costs one short line.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// journald when `JOURNAL_STREAM` is set, text otherwise.
    #[default]
    Auto,
    /// Human-readable lines with timestamps.
    Text,
    /// One JSON object per line.
    Json,
    /// `<priority>` prefix, no timestamp.
    Journald,
}

impl LogFormat {
    /// Parse `auto`, `text`, `json`, `journald`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            "journald" => Some(Self::Journald),
            _ => None,
        }
    }

    /// The name, as accepted by [`LogFormat::parse`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Text => "text",
            Self::Json => "json",
            Self::Journald => "journald",
        }
    }
}

/// `s` with control characters (C0, DEL, C1), bidi controls and other invisible format
/// characters written as `\u{..}` (and `\n`, `\r`, `\t`, `\\`), so one value stays on one line
/// and reads as what it is.
pub fn escape(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` is escaped by [`escape`].
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(u32::from(c),
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF | 0xFFA0
            | 0xFFF9..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE007F)
}

/// An unauthenticated value for the log or the record: at most `max` characters (the rest
/// counted, not kept), then [`escape`]d.
pub fn field(s: &str, max: usize) -> String {
    escape(&cap(s, max))
}

/// At most `max` characters of `s`, the rest counted, not kept (for a log field: the formatter
/// escapes it).
pub fn cap(s: &str, max: usize) -> String {
    let total = s.chars().count();
    if total <= max {
        return s.to_owned();
    }
    let kept: String = s.chars().take(max).collect();
    format!("{kept}… ({} more characters)", total - max)
}

/// Writes every field as `name=value` with the value [`escape`]d (the message without its name).
struct EscapedFields;

impl<'w> FormatFields<'w> for EscapedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: Writer<'w>,
        fields: R,
    ) -> fmt::Result {
        let mut v = EscapingVisitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct EscapingVisitor<'w> {
    writer: Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl tracing::field::Visit for EscapingVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

impl EscapingVisitor<'_> {
    fn write(&mut self, field: &tracing::field::Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let value = escape(value);
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{value}")
        } else {
            write!(self.writer, "{sep}{}={value}", field.name())
        };
    }
}

/// syslog priority of a level, as journald reads it from a `<N>` prefix.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// `<6>scimd::app: message key=value`.
struct Journald;

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        write!(w, "<{}>{}: ", priority(meta.level()), meta.target())?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

/// Install the global subscriber.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIMD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = match format {
        LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Journald => builder
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .event_format(Journald)
            .init(),
        LogFormat::Text | LogFormat::Auto => builder
            // Colours only for a person at a terminal, never into files.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .fmt_fields(EscapedFields)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_unauthenticated_ones_capped() {
        assert_eq!(escape("plain admin@contoso.com"), "plain admin@contoso.com");
        assert_eq!(
            escape("a\nINFO forged line\r\t\u{1b}[31m"),
            "a\\nINFO forged line\\r\\t\\u{001b}[31m"
        );
        assert_eq!(
            escape("admin\u{202e}gnp.exe\u{200b}"),
            "admin\\u{202e}gnp.exe\\u{200b}"
        );
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        let long = "x".repeat(200_000);
        let capped = field(&long, 64);
        assert!(capped.len() < 120, "{capped}");
        assert!(capped.ends_with("(199936 more characters)"), "{capped}");
        assert_eq!(field("short\n", 64), "short\\n");
    }

    #[test]
    fn the_text_format_writes_a_newline_in_a_field_as_an_escape() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::fmt()
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .with_writer(move || w.clone())
            .finish();
        tracing::subscriber::with_default(sub, || {
            let username = "x\n2026-12-01T00:00:00Z  INFO console sign-in username=admin";
            tracing::warn!(%username, other = ?"q\u{7}", "failed console sign-in");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("username=x\\n2026"), "{text}");
        assert!(text.contains("failed console sign-in"), "{text}");
        assert!(!text.contains('\u{7}'), "{text}");
    }

    #[test]
    fn formats_parse_and_levels_map_to_syslog_priorities() {
        assert_eq!(LogFormat::parse("JSON"), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("syslog"), None);
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
    }
}
