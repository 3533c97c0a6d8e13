//! Client input quoted back: in error messages, bounded so a huge input makes a short message
//! ([`echo`]); in log lines, escaped so it cannot forge one ([`escaped`]).

use std::fmt::{self, Display, Write};

/// At most `max` characters of `input`, with `…` when cut.
pub fn echo(input: &str, max: usize) -> String {
    let mut out: String = input.chars().take(max).collect();
    if input.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// `value` for a log line (`tracing::info!(client = %escaped(&client), …)`): control
/// characters, Unicode line separators and bidirectional overrides are written as escapes
/// (`\n`, `\u{202e}`), and `\` as `\\`, so a claim, client id, header or an error quoting one
/// can neither start a log line of its own nor disguise the one it is in. The JSON log format
/// escapes by itself; the text format writes `%` values as they are.
pub fn escaped<T: Display + ?Sized>(value: &T) -> Escaped<'_, T> {
    Escaped(value)
}

/// See [`escaped`].
pub struct Escaped<'a, T: ?Sized>(&'a T);

impl<T: Display + ?Sized> Display for Escaped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(EscapingWriter(f), "{}", self.0)
    }
}

/// Passes text through to the formatter, escaping what [`needs_escape`] says as it goes.
struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, c) in text.char_indices() {
            if needs_escape(c) {
                self.0.write_str(&text[plain..at])?;
                write!(self.0, "{}", c.escape_default())?;
                plain = at + c.len_utf8();
            }
        }
        self.0.write_str(&text[plain..])
    }
}

fn needs_escape(c: char) -> bool {
    c == '\\'
        || c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::{echo, escaped};

    #[test]
    fn cuts_long_input_only() {
        assert_eq!(echo("short", 8), "short");
        assert_eq!(echo("exactly8", 8), "exactly8");
        assert_eq!(echo("ünïcödé-long", 4), "ünïc…");
    }

    #[test]
    fn log_values_cannot_break_or_disguise_a_line() {
        let forged = "billing\n2026-01-01T00:00:00Z  INFO callsign: admin signed in\r";
        let logged = escaped(forged).to_string();
        assert_eq!(
            logged,
            r"billing\n2026-01-01T00:00:00Z  INFO callsign: admin signed in\r"
        );
        assert!(!logged.contains(['\n', '\r']));
        assert_eq!(
            escaped("tab\tesc\u{1b}[31m nul\0 del\u{7f} c1\u{85}").to_string(),
            r"tab\tesc\u{1b}[31m nul\u{0} del\u{7f} c1\u{85}"
        );
        assert_eq!(
            escaped("ls\u{2028}ps\u{2029}rlo\u{202e}fsi\u{2068}").to_string(),
            r"ls\u{2028}ps\u{2029}rlo\u{202e}fsi\u{2068}"
        );
        // A literal backslash is doubled, so an escape in the log is always one of ours.
        assert_eq!(escaped(r"a\nb").to_string(), r"a\\nb");
        // Printable text, non-ASCII included, is untouched; so is any Display value.
        assert_eq!(escaped("ünïcödé client-1").to_string(), "ünïcödé client-1");
        assert_eq!(escaped(&42).to_string(), "42");
    }
}
